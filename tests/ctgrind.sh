#!/bin/sh
# Constant-time check ("ctgrind") of ML-KEM-768 and X-Wing.
#
# Runs each operation of build/tests/ct_mlkem (tests/ct/ct_mlkem.c) as its
# own valgrind memcheck invocation. The program marks the secret inputs
# undefined, so memcheck reports every branch or memory index that depends
# on them. A case passes when valgrind reports nothing and the operation
# gave the right result. The negative control (an early-exit comparison on
# a secret) passes only if valgrind DOES flag it: otherwise the check
# itself is broken and the run fails.
#
# valgrind does not see variable-time instructions (division), so one more
# case checks statically that the ML-KEM object code has no div/idiv
# (KyberSlash).
#
# tests/ctgrind.supp lists the few reports known to be harmless, each with
# its reason.
#
# Environment: BUILD (default build), CTGRIND_LOG_DIR (default
# $BUILD/test-logs/ctgrind). Prints "ctgrind: N passed, N failed" last.
set -u
build=${BUILD:-build}
bin=$build/tests/ct_mlkem
obj=$build/obj/proto/mlkem.o
logdir=${CTGRIND_LOG_DIR:-$build/test-logs/ctgrind}
vg_err=97
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
supp=$here/ctgrind.supp

if ! command -v valgrind >/dev/null 2>&1; then
	echo "SKIP ctgrind: valgrind not installed"
	echo "ctgrind: 0 passed, 0 failed, 1 skipped"
	exit 0
fi
if [ ! -x "$bin" ]; then
	echo "FAIL ctgrind: $bin not built (run make)"
	echo "ctgrind: 0 passed, 1 failed"
	exit 1
fi
mkdir -p "$logdir"

pass=0
fail=0
skip=0

# run_case NAME EXPECT: EXPECT is "clean" or "flagged".
run_case() {
	name=$1
	expect=$2
	log=$logdir/$name.log
	valgrind --tool=memcheck --error-exitcode=$vg_err --track-origins=yes \
		--num-callers=30 --suppressions="$supp" "$bin" "$name" \
		>"$log" 2>&1
	rc=$?
	errors=$(grep -c 'depends on uninitialised\|Use of uninitialised' "$log")
	if [ "$expect" = clean ]; then
		if [ "$rc" -eq 0 ]; then
			echo "ok   ctgrind $name: no secret-dependent branch or index"
			pass=$((pass + 1))
			return
		fi
		if [ "$rc" -eq "$vg_err" ]; then
			echo "FAIL ctgrind $name: valgrind reports $errors use(s) of secret data (see $log)"
		else
			echo "FAIL ctgrind $name: exit $rc (see $log)"
		fi
		grep -A 12 'uninitialised' "$log" | head -n 40 | sed 's/^/    /'
		fail=$((fail + 1))
	else
		if [ "$rc" -eq "$vg_err" ] && [ "$errors" -gt 0 ]; then
			echo "ok   ctgrind $name: valgrind flagged the secret-dependent branch, as it must"
			pass=$((pass + 1))
		else
			echo "FAIL ctgrind $name: valgrind did NOT flag a secret-dependent branch (exit $rc): the check is not working (see $log)"
			fail=$((fail + 1))
		fi
	fi
}

for op in $("$bin"); do
	case $op in
	negative-control) run_case "$op" flagged ;;
	*) run_case "$op" clean ;;
	esac
done

# No division instructions in the ML-KEM code at all (its only divisions
# by constants must have become shifts or multiplications).
if command -v objdump >/dev/null 2>&1 && [ -f "$obj" ]; then
	divs=$(objdump -d --no-show-raw-insn "$obj" |
		grep -E '^[[:space:]]*[0-9a-f]+:[[:space:]]+i?div' || true)
	if [ -z "$divs" ]; then
		echo "ok   ctgrind no-division: $obj has no div/idiv"
		pass=$((pass + 1))
	else
		echo "FAIL ctgrind no-division: $obj contains division instructions:"
		printf '%s\n' "$divs" | head -n 10 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
else
	echo "SKIP ctgrind no-division: objdump or $obj missing"
	skip=$((skip + 1))
fi

if [ "$skip" -ne 0 ]; then
	echo "ctgrind: $pass passed, $fail failed, $skip skipped"
else
	echo "ctgrind: $pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
