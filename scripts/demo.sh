#!/bin/sh
# The README's main command: installs what is missing, builds Rampart, and runs the demo on a
# private loopback Postfix (its own config and queue under a temp dir; /etc/postfix is not touched).
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
exec /usr/bin/python3 scripts/demo.py "$@"
