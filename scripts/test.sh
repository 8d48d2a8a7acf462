#!/bin/sh
# The whole test suite from a fresh clone: installs what is missing (scripts/setup.sh), then builds
# and runs every test twice: a normal build (build/) and an ASan+UBSan build (build-asan/), because
# the milter is threaded and parses untrusted input. Then a TSan build (build-tsan/) of the unit tests
# alone runs the milter's unit tests and the stress test of what its threads share (ctest label tsan;
# Debian's libmilter is not instrumented, so there is no TSan end-to-end run). Ends with the test
# runner's summary lines.
# Benchmarks are not part of this (see bench/README.md).
set -eu
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

scripts/setup.sh

summary=""
status=0
run_suite() {   # name build-dir "build-args" "ctest-args" cmake-args...  (the quoted args may be "")
    name=$1; dir=$2; build_args=$3; ctest_args=$4; shift 4
    echo "=== $name build ($dir)"
    cmake -S . -B "$dir" -DRAMPART_WERROR=ON "$@" >/dev/null
    # shellcheck disable=SC2086 # build_args and ctest_args are word lists
    cmake --build "$dir" -j "$JOBS" $build_args
    echo "=== $name tests"
    # shellcheck disable=SC2086
    if ctest --test-dir "$dir" -j "$JOBS" $ctest_args --output-on-failure --timeout 900 2>&1 | tee "$dir/ctest.log"; then :; else status=1; fi
    line=$(grep -E '% tests passed' "$dir/ctest.log" | tail -1)
    summary="$summary
$name: ${line:-no summary (build or ctest failed)}"
    grep -q '100% tests passed' "$dir/ctest.log" || status=1
}

run_suite "normal" build "" "" -DCMAKE_BUILD_TYPE=RelWithDebInfo
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
run_suite "asan+ubsan" build-asan "" "" -DCMAKE_BUILD_TYPE=Debug -DRAMPART_SANITIZE_ADDRESS=ON
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
run_suite "tsan" build-tsan "--target rampart_unit_tests" "-L tsan" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAMPART_SANITIZE_THREAD=ON

echo "=== summary$summary"
exit $status
