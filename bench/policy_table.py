#!/usr/bin/python3
"""Turns bench/run-policy.sh's raw lines into the markdown table of bench/README.md: medians per peer,
workload and concurrency; server CPU per request; the ratio to policyd-rate-limit in the same run."""
import collections
import statistics
import sys

rows = collections.defaultdict(list)
rss = []
paced = []
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    if line.startswith("rss "):
        rss.append(f)
        continue
    if line.startswith("paced "):
        paced.append(f)
        continue
    rows[(f["peer"], f["workload"], int(f["conc"]))].append(f)

def med(rs, k):
    return statistics.median(float(r[k]) for r in rs)

peers = ["rampart-policyd", "postfwd2", "policyd-rate-limit-sqlite", "policyd-rate-limit-memory"]
print("| peer | workload | conc | decisions/s | x prl-sqlite | x prl-memory | server CPU µs/decision | p50 ms | p99 ms | exact? |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
for wl in ("mixed", "under-cap", "race"):
    for conc in (1, 8, 32):
        for p in peers:
            rs = rows.get((p, wl, conc))
            if not rs:
                continue
            rate = med(rs, "rate")
            def ratio(ref):
                rr = rows.get((ref, wl, conc))
                return f"{rate / med(rr, 'rate'):.1f}" if rr else "-"
            n = med(rs, "msgs") if "msgs" in rs[0] else med(rs, "reqs") if "reqs" in rs[0] else None
            ticks = med(rs, "server_ticks")
            hz = float(rs[0]["hz"])
            secs = med(rs, "secs")
            cpu_us = ticks / hz * 1e6 / (rate * secs) if rate and secs else float("nan")
            mism = max(int(r.get("mismatched_senders", "0")) for r in rs)
            errs = max(int(r.get("errors", "0")) for r in rs)
            ok = "yes" if mism == 0 and errs == 0 else f"NO ({mism} senders off, {errs} errors)"
            print(f"| {p} | {wl} | {conc} | {rate:,.0f} | {ratio('policyd-rate-limit-sqlite')} | "
                  f"{ratio('policyd-rate-limit-memory')} | {cpu_us:.1f} | {med(rs, 'p50_ms'):.2f} | {med(rs, 'p99_ms'):.2f} | {ok} |")
for r in rss:
    print(f"\nrampart-policyd with {r['scopes']} scope keys: VmRSS {int(r['vmrss_kb']) / 1024:.1f} MB, peak {int(r['vmhwm_kb']) / 1024:.1f} MB")
for p in paced:
    print(f"\nrampart-policyd paced at {p['target']} decisions/s (half the peak) on {p['conns']} connections: "
          f"p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, max {p['max_ms']} ms ({p['late_sends']} sends late by the client)")
