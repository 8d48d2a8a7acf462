#!/usr/bin/env bash
# run-milter.sh - rampart-milter against OpenDKIM 2.11, side by side in one run, with the shared load
# clients (../shared/bench: milterload, run-peers.sh, run-postfix-e2e.sh). Not part of CI.
#
#   1. openssl speed rsa2048 ed25519        (the physical limit of one core)
#   2. milterload at concurrency 1, 4, 16, 64, ~4 KB messages, RSA-2048 and Ed25519:
#      opendkim vs rampart-milter, msgs/s and server CPU per message; every signature verified
#   3. rampart-milter RSS with 64 concurrent connections
#   4. Postfix end to end (smtp-source -> Postfix -> smtp-sink): no milter, opendkim, rampart
#
# usage: bench/run-milter.sh [--quick] [--no-e2e]
# env:   RAMPART_SHARED_BENCH=/path/to/shared/bench  REPS=3  MILTER_CONCS="1 4 16 64"
# Needs root (installs opendkim if missing; Postfix). Results: bench/results/milter-<stamp>.md
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
SHARED=${RAMPART_SHARED_BENCH:-$TOP/../shared/bench}
[ -x "$SHARED/run-peers.sh" ] || { echo "run-milter.sh: the shared load clients are not at $SHARED (set RAMPART_SHARED_BENCH)" >&2; exit 2; }
SHARED=$(cd "$SHARED" && pwd)
QUICK="" E2E=1
for a in "$@"; do case "$a" in --quick) QUICK=--quick ;; --no-e2e) E2E=0 ;; *) echo "unknown argument $a" >&2; exit 2 ;; esac; done

"$TOP/scripts/setup.sh" >/dev/null
command -v opendkim >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q opendkim opendkim-tools >/dev/null
BUILD=$TOP/build-bench
cmake -S "$TOP" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRAMPART_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target rampart-milter rampartctl >/dev/null
make -s -C "$SHARED" >/dev/null

STAMP=$(date +%Y%m%d-%H%M%S)
W=$HERE/run/milter; rm -rf "$W"; mkdir -p "$W/keys" "$W/sock"; chmod 755 "$HERE/run" "$W" "$W/sock"
OUT=$HERE/results/milter-$STAMP.md; RAW=$HERE/results/milter-$STAMP.raw; : > "$RAW"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Keys and one rampart-milter per algorithm, signing *@example.com (what the load clients send).
for alg in rsa ed25519; do
    sel=rampart-$alg
    "$BUILD/ctl/rampartctl" dkim keygen example.com "$sel" --type "$alg" --output "$W/keys/$sel.private" --owner rampart >/dev/null
    "$BUILD/ctl/rampartctl" dkim record "$W/keys/$sel.private" > "$W/$sel.txt"
    echo "$sel example.com:$sel:$W/keys/$sel.private" > "$W/$alg.keytable"
    echo "*@example.com $sel" > "$W/$alg.signingtable"
    cat > "$W/$alg.conf" <<CONF
milter_listen = unix:$W/sock/$sel.sock
milter_pid_file =
dkim_key_table = file:$W/$alg.keytable
dkim_signing_table = refile:$W/$alg.signingtable
dkim_key_dns_check = off
log_level = warning
CONF
    "$BUILD/milter/rampart-milter" -c "$W/$alg.conf" --foreground >> "$W/$sel.log" 2>&1 &
    PIDS+=($!); echo $! > "$W/$sel.pid"
done
for alg in rsa ed25519; do
    for _ in $(seq 1 50); do [ -S "$W/sock/rampart-$alg.sock" ] && break; sleep 0.1; done
done
PRSA=$(cat "$W/rampart-rsa.pid"); PED=$(cat "$W/rampart-ed25519.pid")

{
echo "# rampart-milter benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(openssl version)"
echo
echo "## openssl speed (one core)"
echo
echo '```'
openssl speed -seconds 3 rsa2048 ed25519 2>/dev/null | grep -E '^ *(rsa|253|sign|[0-9]+ bits? (rsa|ed25519))' | grep -vE '^(Doing|\+)'
echo '```'
} | tee "$OUT"

# 2. Side by side with OpenDKIM (the shared harness verifies every signature it gets back).
WORK=$HERE/run/peers "$SHARED/run-peers.sh" $QUICK --only dkim-rsa,dkim-ed25519 \
    --milter "rampart-rsa2048=unix:$W/sock/rampart-rsa.sock" --pid "rampart-rsa2048=$PRSA" \
    --verify-key "rampart-rsa2048=rampart-rsa._domainkey.example.com=$W/rampart-rsa.txt" \
    --milter "rampart-ed25519=unix:$W/sock/rampart-ed25519.sock" --pid "rampart-ed25519=$PED" \
    --verify-key "rampart-ed25519=rampart-ed25519._domainkey.example.com=$W/rampart-ed25519.txt" \
    2> "$W/peers.log" | tee -a "$RAW"
{ echo; echo "## milterload, side by side (from run-peers.sh)"; echo; cat "$RAW"; } >> "$OUT"

# 3. Memory with 64 concurrent connections (each keeps its connection for many messages).
{
echo; echo "## rampart-milter memory at 64 connections"; echo
for alg in rsa ed25519; do
    p=$(cat "$W/rampart-$alg.pid")
    "$SHARED/milterload" -s "unix:$W/sock/rampart-$alg.sock" -c 64 -k 0 -t 10 -n 1000000 >/dev/null 2>&1 &
    lp=$!; sleep 6
    echo "- $alg: VmRSS during load $(awk '/VmRSS/{print $2, $3}' /proc/$p/status), peak VmHWM $(awk '/VmHWM/{print $2, $3}' /proc/$p/status), threads $(ls /proc/$p/task | wc -l)"
    wait $lp || true
done
} | tee -a "$OUT"

# 4. Postfix end to end.
if [ "$E2E" = 1 ]; then
    WORK=$HERE/run/e2e "$SHARED/run-postfix-e2e.sh" $QUICK \
        --milter "rampart-rsa2048=unix:$W/sock/rampart-rsa.sock" --pid "rampart-rsa2048=$PRSA" \
        --verify-key "rampart-rsa2048=rampart-rsa._domainkey.example.com=$W/rampart-rsa.txt" \
        --milter "rampart-ed25519=unix:$W/sock/rampart-ed25519.sock" --pid "rampart-ed25519=$PED" \
        --verify-key "rampart-ed25519=rampart-ed25519._domainkey.example.com=$W/rampart-ed25519.txt" \
        2> "$W/e2e.log" > "$W/e2e.md" || true
    { echo; echo "## Postfix end to end (run-postfix-e2e.sh)"; echo; cat "$W/e2e.md"; } | tee -a "$OUT"
fi
echo; echo "results: $OUT"
