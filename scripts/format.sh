#!/bin/sh
# Rewrites the project's C and C++ sources in place to follow .clang-format (what
# tests/format_check.sh, run by scripts/test.sh, checks).
set -eu
cd "$(dirname "$0")/.."
find common milter policyd ctl tests bench -name build -prune -o \( -name '*.cpp' -o -name '*.h' -o -name '*.c' \) -print |
    xargs clang-format -i
