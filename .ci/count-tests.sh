#!/bin/sh
# SPDX-License-Identifier: MIT
# Prints "N passed, N failed, N skipped" counted over the test cases of the
# last `make check` in BUILD_DIR: cmocka cases from each program's summary,
# "ok"/"not ok" lines of the shell tests, and one case for a test program
# that ended without a summary (a crash counts as a failure).
build=${1:-build}
passed=0 failed=0 skipped=0
for trs in $(find "$build/tests" -name '*.trs' | sort); do
    log=${trs%.trs}.log
    result=$(sed -n 's/^:test-result: //p' "$trs" | head -1)
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
    if [ -n "$p$f$s" ]; then
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        skipped=$((skipped + ${s:-0}))
        continue
    fi
    ok=$(grep -c '^ok ' "$log")
    nok=$(grep -c '^not ok ' "$log")
    sk=$(grep -c '^skip ' "$log")
    if [ $((ok + nok + sk)) -gt 0 ]; then
        passed=$((passed + ok))
        failed=$((failed + nok))
        skipped=$((skipped + sk))
        # a script that failed without reporting a failed case still failed
        [ "$result" = FAIL ] && [ "$nok" = 0 ] && failed=$((failed + 1))
        continue
    fi
    case "$result" in
    PASS) passed=$((passed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)) ;;
    esac
done
echo "$passed passed, $failed failed, $skipped skipped"
