#!/bin/sh
# The end-to-end ESP tests, on a kernel that can do ESP (the host, or the
# VM of netns/vm.sh): brings up the netns/topology.sh namespaces with a
# prefix unique to this run, runs each e2e program with the namespace names
# as arguments (through tests/run.sh, each under a timeout), then checks
# that the tests left no SA or policy in either gateway, takes the topology
# down (also on failure or interrupt: trap) and checks that no namespace
# with the prefix is left. Prints every program's output, then the summed
# "N passed, N failed" line.
#
# usage: tests/e2e/run.sh [BUILD [SANBUILD]]   (from the tree's root, as
#        root). SANBUILD: a sanitizer tree (build/asan) whose daemon tests
#        (test_daemon*) run again after BUILD's programs, with
#        ASAN_OPTIONS/UBSAN_OPTIONS that make any report fatal; their
#        logs go to LOGDIR/sanitizer. E2E_SAN_SKIP: programs left out of
#        that pass (default test_daemon_erasure).
# Before the programs, site1 must reach site2 in the clear (a check of the
# topology itself, counted as one test).
#
# environment: E2E_LOG_DIR (default BUILD/test-logs/e2e), writable
#              E2E_PROG_TIMEOUT seconds per program (default 600)
set -u
build=${1:-build}
sanbuild=${2:-}
logdir=${E2E_LOG_DIR:-$build/test-logs/e2e}
ptmo=${E2E_PROG_TIMEOUT:-600}
p=ep$$-
s1=${p}site1 g1=${p}gw1 g2=${p}gw2 s2=${p}site2
mkdir -p "$logdir"
rm -f "$logdir/.rc" "$logdir/.done"

down_done=0
teardown() {
	[ "$down_done" = 1 ] && return 0
	down_done=1
	netns/topology.sh down "$p"
}
trap 'teardown >/dev/null 2>&1' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "e2e: kernel $(uname -r), namespaces ${p}{site1,gw1,gw2,site2}"
t0=$(date +%s)
if ! netns/topology.sh up "$p"; then
	echo "FAIL e2e: topology up $p"
	echo "0 passed, 1 failed"
	echo 1 >"$logdir/.rc"; : >"$logdir/.done"
	exit 1
fi
echo "e2e: topology up in $(($(date +%s) - t0)) s"
# The harness itself: site1 reaches site2 in the clear before any test
# installs IPsec (so a failing test is not a broken topology).
topo_ok=1
for dst in 203.0.113.2 2001:db8:2::2; do
	if ! ip netns exec "$s1" ping -n -q -c 1 -W 10 "$dst" >/dev/null; then
		echo "FAIL topology: $s1 cannot reach $dst without IPsec"
		topo_ok=0
	fi
done

# One pass: every built BUILD/tests/e2e/PATTERN that still has its source
# (but the programs named in SKIP, a space-separated list)
# (args: site1 gw1 gw2 site2), through tests/run.sh with logs in LOGDIR;
# prints each program's output and the runner's lines and adds the
# runner's total to tp, tf, ts.
tp=0 tf=0 ts=
run_pass() {
	pb=$1 plog=$2 pat=$3 skip=${4:-}
	mkdir -p "$plog"
	cmds=
	n=0
	for b in "$pb"/tests/e2e/$pat; do
		[ -x "$b" ] && [ -f "tests/e2e/$(basename "$b").c" ] || continue
		case " $skip " in *" $(basename "$b") "*) continue ;; esac
		n=$((n + 1))
		cmds="$cmds$b
"
	done
	res=$(mktemp "$logdir/.runner.XXXXXX")
	{
		if [ "$n" = 0 ]; then
			echo "FAIL e2e: no test programs in $pb/tests/e2e"
			echo "0 passed, 1 failed"
		else
			# One argument per program; newline-separated list
			# above.
			old_ifs=$IFS; IFS='
'
			set -- $cmds
			IFS=$old_ifs
			args=
			for b in "$@"; do
				args="$args 'timeout -k 5 $ptmo $b"
				args="$args $s1 $g1 $g2 $s2'"
			done
			eval "E2E_LOG_DIR=\"\$plog\"" \
			     "TEST_LOG_DIR=\"\$plog\" tests/run.sh $args"
		fi
	} >"$res" 2>&1

	# Each program's whole output, then the runner's lines. (tests/run.sh
	# names log N after the command's first word, here "timeout".)
	i=0
	for b in $cmds; do
		i=$((i + 1))
		echo "---- $(basename "$b") ($plog/$i-timeout.log)"
		cat "$plog/$i-timeout.log" 2>/dev/null
	done
	echo "----"
	grep -vE '^[0-9]+ passed, [0-9]+ failed' "$res"
	tot=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$res" | tail -n 1)
	rm -f "$res"
	pp=$(printf '%s' "$tot" | grep -oE '^[0-9]+' || echo 0)
	pf=$(printf '%s' "$tot" | grep -oE '[0-9]+ failed' | cut -d' ' -f1)
	ps=$(printf '%s' "$tot" | grep -oE '[0-9]+ skipped' | cut -d' ' -f1)
	tp=$((tp + ${pp:-0}))
	tf=$((tf + ${pf:-1}))
	[ -z "$ps" ] || ts=$((${ts:-0} + ps))
}

run_pass "$build" "$logdir" 'test_*'
if [ -n "$sanbuild" ]; then
	# The daemon tests again with the sanitizer tree's epochd, epochctl
	# and programs (make check: build/asan, ASan+UBSan). Any report
	# aborts the process (the harness finds the report in the daemon's
	# log and fails); epochd's leaks are reported when it exits on
	# SIGTERM (a non-zero exit the harness checks). The options only
	# matter to sanitizer binaries.
	ts0=$(date +%s)
	echo "e2e: sanitizer pass: $sanbuild/tests/e2e/test_daemon*"
	o=halt_on_error=1:abort_on_error=1
	export ASAN_OPTIONS="$o:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	o=$o:print_stacktrace=1
	export UBSAN_OPTIONS="$o${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
	# The same code paths with fewer iterations (the tests' own knobs,
	# a fifth to a half of their defaults; values set by the caller
	# win): the long runs' figures come from the first pass. (10 link
	# rekeys were too few for test_daemon_netem's check that netem
	# dropped something.)
	export REKEY_ALTERNATE="${REKEY_ALTERNATE:-40}"
	export REKEY_BOTH="${REKEY_BOTH:-10}"
	export NETEM_REKEYS="${NETEM_REKEYS:-25}"
	export PORT_REKEYS="${PORT_REKEYS:-20}"
	export RESTARTS="${RESTARTS:-8}"
	# Not there: test_daemon_erasure (it needs the keyscan build of
	# epochd next to its tree and scans core dumps, which ASan's shadow
	# memory makes huge).
	skip=${E2E_SAN_SKIP-test_daemon_erasure}
	echo "e2e: sanitizer pass skips: ${skip:-nothing}"
	run_pass "$sanbuild" "$logdir/sanitizer" 'test_daemon*' "$skip"
	echo "e2e: sanitizer pass $(($(date +%s) - ts0)) s"
fi
if [ "$topo_ok" = 1 ]; then
	echo "ok   topology: site1 reaches site2 over IPv4 and IPv6"
	tp=$((tp + 1))
else
	tf=$((tf + 1))
fi

# Cleanup checks: the tests removed their SAs and policies (xfrm_flush),
# then taking the topology down leaves no namespace behind.
for g in "$g1" "$g2"; do
	st=$(ip -n "$g" xfrm state list 2>&1)
	po=$(ip -n "$g" xfrm policy list 2>&1)
	if [ -z "$st$po" ]; then
		echo "ok   cleanup: no SA or policy left in $g"
		tp=$((tp + 1))
	else
		echo "FAIL cleanup: left in $g:"
		printf '%s\n%s\n' "$st" "$po" | sed 's/^/    /' | head -n 40
		tf=$((tf + 1))
	fi
done
if teardown; then
	echo "ok   cleanup: topology down, no namespace ${p}* left"
	tp=$((tp + 1))
else
	echo "FAIL cleanup: namespaces left after topology down"
	tf=$((tf + 1))
fi
echo "e2e: $(($(date +%s) - t0)) s"
if [ -n "$ts" ]; then
	echo "$tp passed, $tf failed, $ts skipped"
else
	echo "$tp passed, $tf failed"
fi
rc=0; [ "$tf" = 0 ] || rc=1
echo "$rc" >"$logdir/.rc"; : >"$logdir/.done"
exit "$rc"
