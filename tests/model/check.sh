#!/bin/sh
# Runs spin on tests/model/tunnel.pml: each configuration must verify
# (no assertion fails, every path ends settled), each known-bad variant
# must give a counterexample. Prints the states explored per run and ends
# with "N passed, N failed". Usage: check.sh [workdir]
# (Work in progress, issue 8: not yet part of `make check`; see
# docs/state-machine.md "Model".)
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-${TMPDIR:-/tmp}/epochd-model.$$}
pass=0 fail=0

run() { # name expect(ok|bad) flags...
	name=$1 expect=$2
	shift 2
	d=$work/$name
	mkdir -p "$d"
	if ! (cd "$d" && spin -a "$@" "$here/tunnel.pml" >spin.log 2>&1 &&
	      cc -O0 -DCOLLAPSE -DSAFETY -o pan pan.c >cc.log 2>&1); then
		echo "FAIL model $name: does not build (see $d)"
		fail=$((fail + 1))
		return
	fi
	(cd "$d" && ./pan -m3000000 -w26 >pan.log 2>&1)
	states=$(awk '/states, stored/ {print $1; exit}' "$d/pan.log")
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$d/pan.log" | head -1)
	what=$(grep -m1 'assertion violated' "$d/pan.log" | cut -c1-120)
	if [ "$expect" = ok ] && [ "${errors:-1}" = 0 ]; then
		echo "ok   model $name: verified, $states states"
		pass=$((pass + 1))
	elif [ "$expect" = bad ] && [ "${errors:-0}" != 0 ]; then
		echo "ok   model $name: counterexample found as it must ($what)"
		pass=$((pass + 1))
	else
		echo "FAIL model $name: errors=${errors:-?} states=$states $what"
		fail=$((fail + 1))
	fi
}

command -v spin >/dev/null || { echo "FAIL spin not installed (make deps)"; echo "0 passed, 1 failed"; exit 1; }
run rekeys ok -DREKEYS=2 -DLOSS=1 -DDUPS=1
run crash ok -DREKEYS=1 -DCRASHES=1
run bad-switch-early bad -DBAD_SWITCH_EARLY
run bad-both-win bad -DBAD_BOTH_WIN
run bad-no-dup-ack bad -DBAD_NO_DUP_ACK
[ $# -ge 1 ] || rm -rf "$work"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
