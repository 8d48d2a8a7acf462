#!/usr/bin/env bash
# run-milter-stages.sh - what hygiene, suppression and the stamps cost on top of DKIM signing.
# Two rampart-milter instances with the same key, one with only the signer (every hygiene rule off,
# no suppression list, no stamps), one with everything on (default hygiene rules, a suppression list
# of SUPPRESSED entries, tenant map, one-click List-Unsubscribe and X-Rampart-Ref tokens), loaded in
# turn by the shared milterload (~4 KB messages, one connection per message, RCPT sent). Not in CI.
#
# usage: bench/run-milter-stages.sh          env: RAMPART_SHARED_BENCH, REPS=3, SECONDS_PER=15,
#                                                 CONC=16, SUPPRESSED=1000000, ALGS="rsa ed25519"
# Results: bench/results/milter-stages-<stamp>.md
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
SHARED=${RAMPART_SHARED_BENCH:-$TOP/../shared/bench}
[ -f "$SHARED/milterload.c" ] || { echo "run-milter-stages.sh: the shared load clients are not at $SHARED (set RAMPART_SHARED_BENCH)" >&2; exit 2; }
SHARED=$(cd "$SHARED" && pwd)
REPS=${REPS:-3} SECS=${SECONDS_PER:-15} CONC=${CONC:-16} SUPPRESSED=${SUPPRESSED:-1000000} ALGS=${ALGS:-"rsa ed25519"}

"$TOP/scripts/setup.sh" >/dev/null
BUILD=$TOP/build-bench
cmake -S "$TOP" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRAMPART_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target rampart-milter rampartctl >/dev/null
make -s -C "$SHARED" milterload >/dev/null

STAMP=$(date +%Y%m%d-%H%M%S)
W=$HERE/run/stages; rm -rf "$W"; mkdir -p "$W/keys" "$W/sock" "$W/lib"; chmod 755 "$HERE/run" "$W" "$W/sock"
chown rampart: "$W/lib"
OUT=$HERE/results/milter-stages-$STAMP.md
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

ALLOFF=$(printf '%s=off, ' from from-mailbox date message-id message-id-internal duplicate-headers line-length \
         header-size 8bit-headers strip-headers private-received forged-auth mime-version); ALLOFF=${ALLOFF%, }

# The suppression list: SUPPRESSED synthetic addresses (none of them a milterload recipient, the
# usual case: most recipients are not suppressed), imported as root like a sysadmin would.
echo "suppression list: $SUPPRESSED entries" >&2
awk -v n="$SUPPRESSED" 'BEGIN { print "email,reason"; for (i = 0; i < n; i++) printf "user%d@suppressed%d.example,BOUNCE\n", i, i % 5000 }' > "$W/list.csv"
cat > "$W/import.conf" <<CONF
suppression_list = sqlite:$W/lib/suppression.db
CONF
/usr/bin/time -f "%e s, %M KB max RSS" "$BUILD/ctl/rampartctl" -c "$W/import.conf" suppress import "$W/list.csv" --format ses 2>&1 | tail -2 >&2
chown rampart: "$W/lib/"*
echo "*@example.com customer-a" > "$W/tenants"

for alg in $ALGS; do
    sel=stages-$alg
    "$BUILD/ctl/rampartctl" dkim keygen example.com "$sel" --type "$alg" --output "$W/keys/$sel.private" --owner rampart >/dev/null
    echo "$sel example.com:$sel:$W/keys/$sel.private" > "$W/$alg.keytable"
    echo "*@example.com $sel" > "$W/$alg.signingtable"
    for mode in off on; do
        {
            echo "milter_listen = unix:$W/sock/$alg-$mode.sock"
            echo "milter_pid_file ="
            echo "milter_refund_socket ="
            echo "dkim_key_table = file:$W/$alg.keytable"
            echo "dkim_signing_table = refile:$W/$alg.signingtable"
            echo "dkim_key_dns_check = off"
            echo "log_level = warning"
            if [ "$mode" = off ]; then
                echo "hygiene_rules = $ALLOFF"
                echo "suppression_list ="
                echo "reference_header ="
            else
                echo "suppression_list = sqlite:$W/lib/suppression.db"
                echo "tenant_map = file:$W/tenants"
                echo "unsubscribe_secret = bench-secret-0123456789abcdef"
                echo "unsubscribe_url = https://unsub.example.com/u/"
                echo "unsubscribe_mailto = unsubscribe@example.com"
            fi
        } > "$W/$alg-$mode.conf"
        "$BUILD/milter/rampart-milter" -c "$W/$alg-$mode.conf" --foreground >> "$W/$alg-$mode.log" 2>&1 &
        PIDS+=($!); echo $! > "$W/$alg-$mode.pid"
        for _ in $(seq 1 300); do [ -S "$W/sock/$alg-$mode.sock" ] && break; sleep 0.1; done
    done
done
sleep 2  # the "on" instances load the suppression index

rate() {  # socket -> messages/s; the RESULT line goes to the raw log (rejects, tempfails, headers added)
    local line
    line=$("$SHARED/milterload" -s "unix:$1" -c "$CONC" -k 1 -t "$SECS" -n 100000000 --count-header List-Unsubscribe 2>&1 | grep '^RESULT')
    echo "$1 $line" >> "$W/raw.log"
    echo "$line" | sed 's/.* rate=\([0-9.]*\).*/\1/'
}

{
echo "# Hygiene + suppression + stamps vs. signing alone, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "Machine: $(nproc) cores; milterload -c $CONC -k 1 (one connection per message), ${SECS}s per run, $REPS runs"
echo "alternating off/on; suppression list of $SUPPRESSED entries; Release build."
echo
echo "| key | run | signing only (msgs/s) | all stages (msgs/s) | cost |"
echo "|---|---|---|---|---|"
} | tee "$OUT"
for alg in $ALGS; do
    offs=() ons=()
    for r in $(seq 1 "$REPS"); do
        off=$(rate "$W/sock/$alg-off.sock"); on=$(rate "$W/sock/$alg-on.sock")
        offs+=("$off"); ons+=("$on")
        echo "| $alg | $r | $off | $on | $(awk -v a="$off" -v b="$on" 'BEGIN { printf "%.1f%%", (a - b) * 100 / a }') |" | tee -a "$OUT"
    done
    med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
    mo=$(med "${offs[@]}"); mn=$(med "${ons[@]}")
    echo "| $alg | median | $mo | $mn | $(awk -v a="$mo" -v b="$mn" 'BEGIN { printf "%.1f%%", (a - b) * 100 / a }') |" | tee -a "$OUT"
done
{
echo
echo "milterload RESULT lines (reject/tempfail must be 0; hdr_match counts List-Unsubscribe added by 'on'):"
echo '```'
sed "s|$W/sock/||" "$W/raw.log"
echo '```'
echo
echo "RSS of the 'on' instances (suppression index of $SUPPRESSED entries loaded):"
for alg in $ALGS; do echo "- $alg: $(awk '/VmRSS/{print $2, $3}' /proc/$(cat "$W/$alg-on.pid")/status)"; done
echo
grep -h "entries loaded" "$W"/*-on.log | head -2 | sed 's/^/    /'
} | tee -a "$OUT"
echo; echo "results: $OUT"
