#!/bin/sh
# Runs spin on tests/model/tunnel.pml (docs/state-machine.md "Model"):
# each configuration must verify exhaustively (no assertion fails: the
# properties and the row table; every path ends settled), each known-bad
# variant must give a counterexample, and the rows the configurations take
# together must be exactly the table's M_YES rows (daemon/tunnel_rows.def).
# Prints the states explored per run and ends with "N passed, N failed".
# Usage: check.sh [workdir]  (a workdir given is kept; make model)
set -u
here=$(cd "$(dirname "$0")" && pwd)
def=$here/../../daemon/tunnel_rows.def
work=${1:-${TMPDIR:-/tmp}/epochd-model.$$}
pass=0 fail=0
mkdir -p "$work"
: >"$work/rows-seen"

run() { # name expect(ok|bad) flags...
	name=$1 expect=$2
	shift 2
	d=$work/$name
	mkdir -p "$d"
	if ! (cd "$d" && spin -a "$@" "$here/tunnel.pml" >spin.log 2>&1 &&
	      cc -O0 -w -DCOLLAPSE -DSAFETY -o pan pan.c >cc.log 2>&1); then
		echo "FAIL model $name: does not build (see $d)"
		fail=$((fail + 1))
		return
	fi
	t0=$(date +%s)
	(cd "$d" && ./pan -m3000000 -w26 >pan.log 2>&1)
	t1=$(date +%s)
	states=$(awk '/states, stored/ {print $1; exit}' "$d/pan.log")
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$d/pan.log" | head -1)
	what=$(grep -m1 'assertion violated' "$d/pan.log" | cut -c1-100)
	if [ "$expect" = ok ] && [ "${errors:-1}" = 0 ] &&
	   ! grep -q 'Search not completed' "$d/pan.log"; then
		echo "ok   model $name ($*): verified, $states states, $((t1 - t0)) s"
		pass=$((pass + 1))
		sed -n 's/^ROWSEEN \([0-9][0-9]*\)$/\1/p' "$d/pan.log" \
			>>"$work/rows-seen"
	elif [ "$expect" = bad ] && [ "${errors:-0}" != 0 ]; then
		echo "ok   model $name ($*): counterexample as it must: $what"
		pass=$((pass + 1))
	else
		echo "FAIL model $name ($*): errors=${errors:-?} states=${states:-?} $what"
		fail=$((fail + 1))
	fi
}

if ! command -v spin >/dev/null; then
	echo "FAIL model: spin is not installed (make deps)"
	echo "0 passed, 1 failed"
	exit 1
fi
run rekeys ok -DREKEYS=2 -DLOSS=1 -DDUPS=1
run losses ok -DREKEYS=1 -DLOSS=2 -DDUPS=0
run crash ok -DREKEYS=1 -DCRASHES=1
run crash-twice ok -DREKEYS=1 -DCRASHES=2 -DDUPS=0
run crash-window ok -DREKEYS=1 -DCRASHES=1 -DCRASH_WIN=1
run lost-file ok -DREKEYS=1 -DCRASHES=1 -DLOST_FILES=1
run down-dpd ok -DREKEYS=1 -DDOWNS=1 -DSPURIOUS_DPD=1
run bad-switch-early bad -DBAD_SWITCH_EARLY
run bad-both-win bad -DBAD_BOTH_WIN
run bad-no-dup-ack bad -DBAD_NO_DUP_ACK
run bad-no-rearm bad -DREKEYS=1 -DCRASHES=1 -DBAD_NO_REARM

# The rows the model takes are the table's M_YES rows, both ways.
sort -un "$work/rows-seen" >"$work/seen"
sed -n 's/^TROW(\([0-9]*\),.*M_YES)$/\1/p' "$def" | sort -un >"$work/table"
if cmp -s "$work/seen" "$work/table"; then
	echo "ok   model rows: the model takes all $(wc -l <"$work/table") rows the table gives it"
	pass=$((pass + 1))
else
	echo "FAIL model rows: in the table, not taken: $(comm -13 "$work/seen" "$work/table" | tr '\n' ' ')taken, not in the table: $(comm -23 "$work/seen" "$work/table" | tr '\n' ' ')"
	fail=$((fail + 1))
fi
[ $# -ge 1 ] || rm -rf "$work"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
