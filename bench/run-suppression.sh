#!/usr/bin/env bash
# run-suppression.sh - the suppression list index at 1M and 10M entries (bench/suppression/): index
# load time (file in the page cache and dropped from it), RSS, lookup latency (p50/p99/p99.9, every
# lookup probing all six keys: address and domain, globally, for a tenant and for a From domain),
# refresh() after 1,000 changes, and lookups on two threads, alone and while changes are committed
# one by one (500/s) and refresh() runs every 0.5 s. Not part of CI.
#
# Targets: 10M entries in < 1.5 GB RSS, lookup p99 < 10 us, load < 10 s.
#
# usage: bench/run-suppression.sh [--quick]      (--quick: 1M only)
#   env: SIZES (default "1000000 10000000"), LOOKUPS (default 1000000),
#        BENCH_TMP (default /var/tmp; the 10M store is about 2 GB and is deleted afterwards)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
SIZES=${SIZES:-"1000000 10000000"}
[ "${1:-}" = --quick ] && SIZES=1000000
LOOKUPS=${LOOKUPS:-1000000}
TMPDIR_BENCH=${BENCH_TMP:-/var/tmp}

BUILD=$TOP/build-bench-suppression
cmake -S "$HERE/suppression" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target suppression_bench >/dev/null

STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$HERE/results"
RAW=$HERE/results/suppression-$STAMP.raw
OUT=${RAW%.raw}.md
WORK=$(mktemp -d "$TMPDIR_BENCH/rampart-suppression-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

{
    echo "# host: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "# $(uname -srm); $(g++ --version | head -1); SQLite $(pkg-config --modversion sqlite3)"
} > "$RAW"

for n in $SIZES; do
    echo "== $n entries" >&2
    # Generation and measurement in separate processes: the measuring one starts with nothing
    # allocated, like a daemon, so its RSS shows what the index costs.
    "$BUILD/suppression_bench" --entries "$n" --dir "$WORK" --generate-only | tee "$WORK/gen.out" >&2
    db=$(awk '/^entries/ {print $4}' "$WORK/gen.out")
    gen=$(grep '^RESULT' "$WORK/gen.out" | grep -oE 'gen_s=[^ ]+ gen_cpu_s=[^ ]+ db_mb=[^ ]+')
    "$BUILD/suppression_bench" --entries "$n" --lookups "$LOOKUPS" --db "$db" | tee "$WORK/run.out" >&2
    res=$(grep '^RESULT' "$WORK/run.out" | sed 's/^RESULT //; s/gen_s=[^ ]* gen_cpu_s=[^ ]* db_mb=[^ ]* //')
    echo "$gen $res" >> "$RAW"
    rm -f "$db" "$db-wal" "$db-shm"
done

# importCsv of a million generic CSV lines, as `rampartctl suppress import` runs it.
"$BUILD/suppression_bench" --csv 1000000 --dir "$WORK" | tee "$WORK/csv.out" >&2
grep '^RESULT' "$WORK/csv.out" | sed 's/^RESULT /# import: /' >> "$RAW"

# One markdown table from the raw lines.
awk '
function v(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "-" }
/^#/ { print "- " substr($0, 3); next }
{
    if (!hdr) {
        print ""
        print "| entries | generate s (CPU s) | DB MB | load s: cached (CPU) / uncached | RSS MB before -> after (table) | 1 thread: p50 / p99 / p99.9 / max us | refresh after 1,000 changes ms | 2 threads: p50 / p99 / p99.9 / max us | 2 threads, 500 commits/s, refresh every 0.5 s: p50 / p99 / p99.9 / max us (slowest refresh ms) |"
        print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        hdr = 1
    }
    printf "| %s | %s (%s) | %s | %s (%s) / %s | %s -> %s (%s) | %s / %s / %s / %s | %s | %s / %s / %s / %s | %s / %s / %s / %s (%s) |\n",
        v("entries"), v("gen_s"), v("gen_cpu_s"), v("db_mb"), v("load_warm_s"), v("load_warm_cpu_s"), v("load_cold_s"),
        v("rss_before_mb"), v("rss_after_mb"), v("table_mb"), v("p50_us"), v("p99_us"), v("p999_us"), v("max_us"),
        v("refresh_1000_ms"), v("two_p50_us"), v("two_p99_us"), v("two_p999_us"), v("two_max_us"),
        v("conc_p50_us"), v("conc_p99_us"), v("conc_p999_us"), v("conc_max_us"), v("conc_refresh_max_ms")
}' "$RAW" > "$OUT"
echo >&2
cat "$OUT"
echo "raw: $RAW, table: $OUT" >&2
