#!/bin/sh
# Regenerates the documents derived from the key registry (common/config/registry.cpp):
# docs/configuration.md, man/rampart.conf.5 and conf/rampart.conf. A unit test fails when the
# committed copies are stale.
set -eu
cd "$(dirname "$0")/.."
CTL=${CTL:-build/ctl/rampartctl}
[ -x "$CTL" ] || { echo "build rampartctl first (cmake --build build)" >&2; exit 1; }
"$CTL" config reference > docs/configuration.md
"$CTL" config man > man/rampart.conf.5
"$CTL" config example > conf/rampart.conf
echo "regenerated docs/configuration.md man/rampart.conf.5 conf/rampart.conf"
