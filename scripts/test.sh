#!/bin/sh
# The whole test suite from a fresh clone: installs what is missing (scripts/setup.sh), then builds
# and runs every test twice: a normal build (build/) and an ASan+UBSan build (build-asan/), because
# the milter is threaded and parses untrusted input. Ends with the test runner's summary lines.
# Benchmarks are not part of this (see bench/README.md).
set -eu
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

scripts/setup.sh

summary=""
status=0
run_suite() {   # name build-dir cmake-args...
    name=$1; dir=$2; shift 2
    echo "=== $name build ($dir)"
    cmake -S . -B "$dir" -DRAMPART_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$JOBS"
    echo "=== $name tests"
    if ctest --test-dir "$dir" -j "$JOBS" --output-on-failure --timeout 900 2>&1 | tee "$dir/ctest.log"; then :; else status=1; fi
    line=$(grep -E '% tests passed' "$dir/ctest.log" | tail -1)
    summary="$summary
$name: ${line:-no summary (build or ctest failed)}"
    grep -q '100% tests passed' "$dir/ctest.log" || status=1
}

run_suite "normal" build -DCMAKE_BUILD_TYPE=RelWithDebInfo
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
run_suite "asan+ubsan" build-asan -DCMAKE_BUILD_TYPE=Debug -DRAMPART_SANITIZE_ADDRESS=ON

echo "=== summary$summary"
exit $status
