#!/bin/sh
# make check-e2e: runs tests/e2e/run.sh where ESP works. If the running
# kernel can install an ESP SA (netns/probe-esp.sh), directly; else inside
# the qemu VM (netns/vm.sh, assets from netns/vm-build.sh). Prints the
# tests' output and ends with the summed "N passed, N failed" line; a VM
# that fails to report (no marker, timeout) is counted as one more failure.
#
# usage: tests/e2e/check-e2e.sh [BUILD [SANBUILD]]   (run from the tree's
#        root, as root). SANBUILD (make check: build/asan): its daemon
#        tests run after BUILD's programs in the same run (tests/e2e/run.sh).
# environment: E2E_VM=1 forces the VM, E2E_TIMEOUT (seconds, default 1800,
#              2700 with SANBUILD)
set -u
build=${1:-build}
sanbuild=${2:-}
tmo=${E2E_TIMEOUT:-$([ -n "$sanbuild" ] && echo 2700 || echo 1800)}
logdir=$(pwd)/$build/test-logs/e2e
out=$(pwd)/$build/test-logs/e2e-console.log

if [ "$(id -u)" != 0 ]; then
	echo "FAIL check-e2e: needs root (network namespaces, XFRM)"
	echo "0 passed, 1 failed"
	exit 1
fi
rm -rf "$logdir"
mkdir -p "$logdir"
start=$(date +%s)
if [ "${E2E_VM:-0}" != 1 ] && netns/probe-esp.sh -v; then
	echo "check-e2e: the running kernel does ESP; running here"
	E2E_LOG_DIR=$logdir timeout -k 10 "$tmo" \
		tests/e2e/run.sh "$build" $sanbuild \
		2>&1 | tee "$out"
	rc=$(cat "$logdir/.rc" 2>/dev/null || echo 1)
	where=host
else
	echo "check-e2e: the running kernel cannot do ESP; running in a VM"
	if ! netns/vm-build.sh "$build/vm"; then
		echo "FAIL check-e2e: building the VM assets failed"
		echo "0 passed, 1 failed"
		exit 1
	fi
	E2E_LOG_DIR=$logdir VM_ENV="E2E_LOG_DIR TEST_VERBOSE" \
		VM_TIMEOUT=$tmo netns/vm.sh -o "$logdir" \
		"$(pwd)/tests/e2e/run.sh" "$build" $sanbuild 2>&1 | tee "$out"
	rc=$(cat "$logdir/.rc" 2>/dev/null || echo 1)
	where="VM ($(cat "$build/vm/kernel-version" 2>/dev/null))"
fi
echo "check-e2e: $where, $(($(date +%s) - start)) s wall"
# run.sh's last summary line is the result; if it did not finish (or the VM
# died), count one failure on top.
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
p=$(printf '%s' "$line" | grep -oE '^[0-9]+' || echo 0)
f=$(printf '%s' "$line" | grep -oE '[0-9]+ failed' | cut -d' ' -f1)
s=$(printf '%s' "$line" | grep -oE '[0-9]+ skipped' | cut -d' ' -f1)
p=${p:-0}; f=${f:-0}
if [ -z "$line" ] || [ ! -f "$logdir/.done" ] ||
   { [ "$rc" != 0 ] && [ "$f" = 0 ]; }; then
	echo "FAIL check-e2e: run.sh did not complete (status $rc; console" \
		"in $out)"
	f=$((f + 1))
fi
if [ -n "$s" ]; then
	echo "$p passed, $f failed, $s skipped"
else
	echo "$p passed, $f failed"
fi
[ "$f" = 0 ]
