#!/bin/sh
# Runs one libFuzzer target for a fixed time (make fuzz, make check).
# Usage: run-target.sh NAME BUILD_DIR SECONDS [CORPUS_DIR]
# Runs BUILD_DIR/fuzz/fuzz_NAME over BUILD_DIR/fuzz/corpus/NAME/, which is
# seeded from tests/fuzz/corpus/NAME/ and keeps what libFuzzer adds, or
# over CORPUS_DIR, emptied first and seeded the same way (make check's
# smoke runs: the committed corpus only); crash
# inputs go to BUILD_DIR/fuzz/artifacts/NAME/. Prints libFuzzer's output,
# then one line "fuzz_NAME: 1 passed, 0 failed (figures)" or "... 0 passed,
# 1 failed ...": a target passes when libFuzzer stops at the time limit
# without a crash. FUZZ_TIMEOUT (seconds, default 10) is libFuzzer's limit
# for one input; raise it on a crowded machine (a starved run is not a
# hang).
set -u
[ $# -eq 3 ] || [ $# -eq 4 ] ||
	{ echo "usage: $0 NAME BUILD_DIR SECONDS [CORPUS_DIR]" >&2; exit 2; }
name=fuzz_$1 secs=$3
bin=$2/fuzz/$name seeds=tests/fuzz/corpus/$1
corpus=${4:-$2/fuzz/corpus/$1} artifacts=$2/fuzz/artifacts/$1
[ $# -eq 3 ] || rm -rf "$corpus"
mkdir -p "$corpus" "$artifacts" || exit 1
if [ -d "$seeds" ]; then
	for f in "$seeds"/*; do
		[ -f "$f" ] && cp -n "$f" "$corpus"/ 2>/dev/null
	done
fi
log="$artifacts/last-run${4:+-smoke}.log"
"$bin" -max_total_time="$secs" -print_final_stats=1 \
	-timeout="${FUZZ_TIMEOUT:-10}" \
	-rss_limit_mb=2048 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
rc=$?
cat "$log"
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
units=$(find "$corpus" -type f | wc -l)
figures="${execs:-?} execs in ${secs} s, ${rate:-?} execs/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${units} files"
if [ "$rc" -eq 0 ]; then
	echo "$name: 1 passed, 0 failed ($figures)"
else
	echo "FAIL $name: libFuzzer exit $rc; crash input in $artifacts/"
	echo "$name: 0 passed, 1 failed ($figures)"
fi
exit "$rc"
