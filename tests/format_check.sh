#!/bin/sh
# Every C and C++ source follows .clang-format (column limit 120): clang-format 14 --dry-run -Werror
# over the project's own sources. Fix with: scripts/format.sh
set -eu
SRC=$1
cd "$SRC"
command -v clang-format >/dev/null 2>&1 || { echo "FAIL: clang-format is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
files=$(find common milter policyd ctl tests bench -name build -prune -o \( -name '*.cpp' -o -name '*.h' -o -name '*.c' \) -print | sort)
[ -n "$files" ] || { echo "FAIL: no sources found under $SRC" >&2; exit 1; }
n=$(echo "$files" | wc -l)
# shellcheck disable=SC2086
if clang-format --dry-run -Werror $files; then
    echo "format: $n files follow .clang-format"
else
    echo "FAIL: the files above do not follow .clang-format; run scripts/format.sh" >&2
    exit 1
fi
