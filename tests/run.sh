#!/bin/sh
# Runs test commands (one shell command per argument), sums the
# "N passed, N failed[, N skipped]" line each prints last, and prints the
# total in the same form. A command that exits non-zero or prints no
# summary counts as one failure on top of what it reported.
# Environment: TEST_LOG_DIR (default build/test-logs) keeps each output.
set -u
logdir=${TEST_LOG_DIR:-build/test-logs}
mkdir -p "$logdir"
tp=0; tf=0; ts=0; n=0
for cmd in "$@"; do
	n=$((n + 1))
	name=$(printf '%s' "$cmd" | sed 's/ .*//; s#.*/##')
	log="$logdir/$n-$name.log"
	sh -c "$cmd" >"$log" 2>&1
	rc=$?
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(printf '%s' "$line" | grep -oE '[0-9]+ passed' | tail -n 1 | cut -d' ' -f1)
	f=$(printf '%s' "$line" | grep -oE '[0-9]+ failed' | tail -n 1 | cut -d' ' -f1)
	s=$(printf '%s' "$line" | grep -oE '[0-9]+ skipped' | tail -n 1 | cut -d' ' -f1)
	p=${p:-0}; f=${f:-0}; s=${s:-0}
	if [ -z "$line" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
		f=$((f + 1))
		echo "FAIL $cmd (exit $rc, no failure reported; see $log)"
		tail -n 20 "$log" | sed 's/^/    /'
	elif [ "$f" -ne 0 ]; then
		echo "FAIL $cmd: $line (see $log)"
		grep -E '^(FAIL|not ok)' "$log" | head -n 20 | sed 's/^/    /'
	else
		echo "ok   $cmd: $line"
	fi
	# Show skip reasons: a skip is never silent.
	grep -E '^SKIP' "$log" | head -n 10 | sed 's/^/    /'
	tp=$((tp + p)); tf=$((tf + f)); ts=$((ts + s))
done
if [ "$ts" -ne 0 ]; then
	echo "$tp passed, $tf failed, $ts skipped"
else
	echo "$tp passed, $tf failed"
fi
[ "$tf" -eq 0 ]
