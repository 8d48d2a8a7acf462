#!/usr/bin/env bash
# run-policy.sh - rampart-policyd against postfwd2 1.35 and policyd-rate-limit 1.0.1 (SQLite and in
# memory), side by side in one run, with the shared policy load client (../shared/bench/policyload,
# --eom: each accepted recipient is reserved at RCPT and committed at END-OF-MESSAGE, as Postfix does).
# Every peer enforces "10 per hour and 50 per day per sender"; policyload checks that each sender got
# exactly min(10, its requests) accepts. Not part of CI.
#
# Workloads, at concurrency 1, 8 and 32:
#   mixed      2,000 senders x 15 requests: a third of the requests are over the cap
#   under-cap  every request from a fresh sender: every decision is a durable commit
#   race       32 connections hammer one sender: exactly 10 may pass
# Then rampart-policyd alone: RSS with 100,000 active scope keys.
#
# usage: bench/run-policy.sh [--quick]     env: RAMPART_SHARED_BENCH, REQS (default 30000)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
SHARED=${RAMPART_SHARED_BENCH:-$TOP/../shared/bench}
[ -x "$SHARED/policyload" ] || make -s -C "$SHARED" >/dev/null 2>&1 || true
[ -x "$SHARED/policyload" ] || { echo "run-policy.sh: no policyload at $SHARED (set RAMPART_SHARED_BENCH)" >&2; exit 2; }
PL=$(cd "$SHARED" && pwd)/policyload
REQS=${REQS:-30000}; CONCS=${CONCS:-"1 8 32"}; REPS=${REPS:-2}
[ "${1:-}" = --quick ] && { REQS=6000; REPS=1; }
PEERS=${PEERS:-"rampart postfwd prl-sqlite prl-memory"}   # a subset continues an interrupted run (RAW=file)
want() { case " $PEERS " in *" $1 "*) return 0 ;; esac; return 1; }

"$TOP/scripts/setup.sh" >/dev/null
for p in postfwd policyd-rate-limit; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$p" >/dev/null
done
# The Debian packages start system instances; stop them, we run our own.
for s in postfwd policyd-rate-limit; do service "$s" stop >/dev/null 2>&1 || true; done

BUILD=$TOP/build-bench
cmake -S "$TOP" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRAMPART_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target rampart-policyd rampartctl >/dev/null

STAMP=$(date +%Y%m%d-%H%M%S)
W=$HERE/run/policy; rm -rf "$W"; mkdir -p "$W"; chmod 755 "$HERE/run" "$W"
RAW=${RAW:-$HERE/results/policy-$STAMP.raw}; OUT=${RAW%.raw}.md; touch "$RAW"
HZ=$(getconf CLK_TCK)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
tree() { local p=$1 c; echo "$p"; for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do tree "$c"; done; }
cpu() { local t=0 p v; for p in $(tree "$1"); do v=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null) || continue; t=$((t+v)); done; echo $t; }
waitport() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

run() {   # peer workload conc pid socket policyload-args...
    local peer=$1 wl=$2 c=$3 pid=$4 sock=$5; shift 5
    local c0 c1 out res
    c0=$(cpu "$pid")
    out=$("$PL" -s "$sock" -c "$c" --eom "$@" 2>&1) || true
    c1=$(cpu "$pid")
    res=$(echo "$out" | grep '^RESULT' | sed 's/^RESULT //')
    [ -n "$res" ] || { echo "no RESULT for $peer $wl c=$c: $(echo "$out" | tail -3)" >&2; return 0; }
    echo "peer=$peer workload=$wl conc=$c server_ticks=$((c1-c0)) hz=$HZ $res" >> "$RAW"
    echo "$peer $wl c=$c: $(echo "$res" | grep -oE '(rate|p50_ms|p99_ms|mismatched_senders|errors)=[^ ]+' | tr '\n' ' ') server_cpu=$(( (c1-c0)*1000/HZ ))ms" >&2
}

suite() {   # peer pid socket
    local peer=$1 pid=$2 sock=$3 c rep
    for c in $CONCS; do
        for rep in $(seq 1 "$REPS"); do
            run "$peer" mixed "$c" "$pid" "$sock" -n "$REQS" -t 60 --senders $((REQS / 15)) --expect-limit 10 \
                --sender-prefix "m$STAMP.$peer.$c.$rep."
            run "$peer" under-cap "$c" "$pid" "$sock" -n "$REQS" -t 60 --senders "$REQS" --expect-limit 10 \
                --sender-prefix "u$STAMP.$peer.$c.$rep."
        done
    done
    run "$peer" race 32 "$pid" "$sock" -n 400 -t 30 --senders 1 --expect-limit 10 --sender-prefix "r$STAMP.$peer."
}

# ---- rampart-policyd
mkdir -p "$W/rampart"
cat > "$W/rampart/limits.conf" <<'L'
# The peers' limit: 10 per hour (a token bucket of 10 that refills one every 6 minutes) and 50 per
# calendar day, per envelope sender.
[hourly]
scope = sender
rate  = 10/h burst 10
[daily]
scope = sender
cap   = 50/day
L
cat > "$W/rampart/rampart.conf" <<C
policyd_listen = unix:$W/rampart/policy.sock, inet:127.0.0.1:25099
policyd_control_socket = unix:$W/rampart/control.sock
policyd_limits = $W/rampart/limits.conf
policyd_store = journal:$W/rampart/state
policyd_pid_file =
log_level = warning
C
"$BUILD/policyd/rampart-policyd" -c "$W/rampart/rampart.conf" --foreground 2>> "$W/rampart/log" &
RP=$!; PIDS+=($RP); waitport 25099
want rampart && suite rampart-policyd "$RP" "unix:$W/rampart/policy.sock"

# ---- postfwd2 (fixed windows per sender, in memory)
if want postfwd; then
mkdir -p "$W/postfwd"; chown nobody:nogroup "$W/postfwd"
cat > "$W/postfwd/postfwd.cf" <<'P'
id=RATE_HOUR; protocol_state==RCPT; sender=~.+
	action=rate(sender/10/3600/450 4.7.1 hourly sending limit reached for $$sender)
id=RATE_DAY; protocol_state==RCPT; sender=~.+
	action=rate(sender/50/86400/450 4.7.1 daily sending limit reached for $$sender)
P
chmod 644 "$W/postfwd/postfwd.cf"
( cd "$W/postfwd" && postfwd2 --daemon -f "$W/postfwd/postfwd.cf" -i 127.0.0.1 -p 25040 -u nobody -g nogroup \
    --pidfile "$W/postfwd/pid" --cache_proto unix --cache_port "$W/postfwd/cache.sock" \
    --summary=600 --cache=600 --cache-rdomain-only --cache-no-size >/dev/null 2>&1 )
waitport 25040; sleep 1
PF=$(cat "$W/postfwd/pid")
suite postfwd2 "$PF" "inet:127.0.0.1:25040"
postfwd2 --kill --pidfile "$W/postfwd/pid" -f "$W/postfwd/postfwd.cf" --cache_proto unix --cache_port "$W/postfwd/cache.sock" >/dev/null 2>&1 || true
for p in $(tree "$PF"); do kill "$p" 2>/dev/null || true; done
fi

# ---- policyd-rate-limit (sliding window in SQLite, or in memory)
prl() {   # name port database
    local d=$W/$1
    mkdir -p "$d/pid" "$d/db"; chown policyd-rate-limit:policyd-rate-limit "$d/pid" "$d/db"; chmod 755 "$d"
    cat > "$d/prl.yaml" <<Y
debug: False
user: "policyd-rate-limit"
group: "policyd-rate-limit"
pidfile: "$d/pid/prl.pid"
sqlite_config:
    database: "$3"
backend: 0
SOCKET: ["127.0.0.1", $2]
socket_permission: 0666
limits:
    - [10, 3600]
    - [50, 86400]
limits_by_id: {}
limit_by_sasl: True
limit_by_sender: True
limit_by_ip: False
limited_networks: []
success_action: "dunno"
fail_action: "defer_if_permit Rate limit reach, retry later"
db_error_action: "dunno"
report: False
delay_to_close: 300
Y
    chmod 644 "$d/prl.yaml"
    if [ "$3" = ":memory:" ]; then
        runuser -u policyd-rate-limit -- policyd-rate-limit -f "$d/prl.yaml" > "$d/out" 2>&1 &
    else
        policyd-rate-limit -f "$d/prl.yaml" > "$d/out" 2>&1 &
    fi
    local pid=$!; PIDS+=($pid); waitport "$2"; sleep 0.5
    local spid; spid=$(ps -o pid= --ppid "$pid" | head -1 | tr -d ' ' || true); [ -n "$spid" ] || spid=$pid
    suite "$1" "$pid" "inet:127.0.0.1:$2"
    kill -USR1 "$spid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true
}
want prl-sqlite && prl policyd-rate-limit-sqlite 25041 "$W/policyd-rate-limit-sqlite/db/db.sqlite3"
want prl-memory && prl policyd-rate-limit-memory 25042 ":memory:"

# ---- rampart-policyd alone, fresh state: memory with 100,000 active scope keys (50,000 senders x
# 2 limits), then latency at concurrency 32 paced at half the peak rate measured above.
if want rampart; then
kill "$RP"; wait "$RP" 2>/dev/null || true
rm -rf "$W/rampart/state"
"$BUILD/policyd/rampart-policyd" -c "$W/rampart/rampart.conf" --foreground 2>> "$W/rampart/log" &
RP=$!; PIDS+=($RP); waitport 25099
"$PL" -s "unix:$W/rampart/policy.sock" -c 8 --eom -n 50000 -t 120 --senders 50000 --sender-prefix "k$STAMP." > "$W/keys.out" 2>&1 || true
SCOPES=$(python3 -c '
import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"stats\n")
print(s.makefile().read().split("scopes=")[1].split()[0])' "$W/rampart/control.sock" 2>/dev/null || echo "?")
RSS=$(awk '/VmRSS/{print $2}' /proc/$RP/status); HWM=$(awk '/VmHWM/{print $2}' /proc/$RP/status)
echo "rss peer=rampart-policyd scopes=$SCOPES vmrss_kb=$RSS vmhwm_kb=$HWM" >> "$RAW"
g++ -O2 -std=c++20 -pthread -o "$W/pacedload" "$HERE/pacedload.cpp"
PEAK=$(awk '/peer=rampart-policyd workload=under-cap conc=32 /{for(i=1;i<=NF;i++) if($i ~ /^rate=/){split($i,a,"="); if(a[2]>m) m=a[2]}} END{printf "%d", m}' "$RAW")
[ "${PEAK:-0}" -gt 0 ] || PEAK=20000
"$W/pacedload" "unix:$W/rampart/policy.sock" $((PEAK / 2)) 10 32 | sed 's/^PACED /paced peer=rampart-policyd /' >> "$RAW"
fi

/usr/bin/python3 "$HERE/policy_table.py" "$RAW" | tee "$OUT"
echo "results: $OUT (raw: $RAW)"
