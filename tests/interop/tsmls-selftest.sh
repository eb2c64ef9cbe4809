#!/bin/sh
# ts-mls peer self-test: two tests/interop/tsmls_peer.mjs processes run a
# handshake and 20 epochs against each other (suite 1 and X-Wing suite 83),
# with GREASE on and off. Needs `make deps-npm`. Prints
# "tsmls-selftest: N passed, N failed" last (summed over both runs).
set -u
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
if [ ! -d "$here/node_modules/ts-mls" ]; then
	echo "FAIL ts-mls not installed (make deps-npm)"
	echo "tsmls-selftest: 0 passed, 1 failed"
	exit 1
fi
tp=0; tf=0
for g in off on; do
	out=$(node "$here/tsmls_selftest.mjs" --suites 1,83 --epochs 20 --grease $g 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed "s/^tsmls-selftest:/grease $g:/"
	line=$(printf '%s\n' "$out" | grep -E '^tsmls-selftest: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
	p=$(printf '%s' "$line" | sed -n 's/.*: \([0-9]*\) passed.*/\1/p')
	f=$(printf '%s' "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	p=${p:-0}; f=${f:-0}
	if [ -z "$line" ] || { [ $rc -ne 0 ] && [ "$f" -eq 0 ]; }; then
		echo "FAIL tsmls_selftest.mjs --grease $g exited $rc without a failure count"
		f=$((f + 1))
	fi
	tp=$((tp + p)); tf=$((tf + f))
done
echo "tsmls-selftest: $tp passed, $tf failed"
[ "$tf" -eq 0 ]
