// suppression_bench: how the daemons' suppression index behaves at scale.
//
//   1. writes N synthetic entries into a fresh SQLite store in one transaction (Store::add, the
//      path imports take): 90% global addresses, 5% tenant-scoped, 3% from_domain-scoped, 2% whole
//      domains; a fifth with an expiry; every reason;
//   2. Index::load from a read-only handle: wall time, and RSS (VmRSS) before and after, once with
//      the file in the page cache and once after dropping it (posix_fadvise DONTNEED, no root needed);
//   3. M lookups (half hits of every kind, half misses) with a tenant and a From domain in the
//      context, so every lookup probes all six keys; each timed with steady_clock; p50/p99/p99.9/max;
//   4. refresh() after 1,000 changes by another handle (adds, updates, removes); then lookups on
//      two threads, alone and while changes are committed one by one (500/s) and refresh() runs
//      every 0.5 s (the daemons' situation).
//
// usage: suppression_bench [--entries N] [--lookups M] [--dir DIR] [--keep | --generate-only]
//        suppression_bench --db FILE --entries N [--lookups M]    (measure a kept store)
// Prints a human summary and one "RESULT key=value ..." line.
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "suppression/suppression.h"

using namespace rampart;
using namespace rampart::suppress;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kYear = 365 * 86400;

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

// CPU time of the calling thread: on a shared machine, what the work costs whatever else runs.
double threadCpu() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

long rssKb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return -1;
}

// Concatenation by appending (g++ 12 -O2 warns falsely, -Wrestrict, on "literal" + std::string&&).
template <typename... Parts>
std::string cat(const Parts&... parts) {
    std::string out;
    ((out += parts), ...);
    return out;
}

// Entry i of the synthetic list. Deterministic, so lookups can name hits without keeping the list.
struct Synthetic {
    std::string target;
    Scope scope;
    Reason reason;
    std::optional<int64_t> expires;
};

const Reason kReasons[] = {Reason::HardBounce, Reason::HardBounce, Reason::HardBounce, Reason::Unsubscribe,
                           Reason::Complaint,  Reason::Manual,     Reason::SoftBounce, Reason::Legal};

std::string tenantOf(uint64_t i) {
    return cat("t", std::to_string(i % 1000));
}
std::string brandOf(uint64_t i) {
    return cat("brand", std::to_string(i % 500), ".example");
}

Synthetic synthetic(uint64_t i) {
    Synthetic s;
    const uint64_t kind = i % 100;
    // Spread the addresses over 200,000 domains, with local parts of realistic length.
    if (kind < 2) {
        s.target = cat("@whole", std::to_string(i), ".example");
    } else {
        s.target = cat("user", std::to_string(i), ".", std::to_string((i * 2654435761u) % 9973), "@d",
                       std::to_string(i % 200000), ".example");
    }
    if (kind >= 2 && kind < 7) {
        s.scope = Scope{Scope::Kind::Tenant, tenantOf(i)};
    } else if (kind >= 7 && kind < 10) {
        s.scope = Scope{Scope::Kind::FromDomain, brandOf(i)};
    }
    s.reason = kReasons[i % 8];
    if (i % 5 == 0) s.expires = kNow + kYear;
    return s;
}

struct Percentiles {
    double p50 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};

Percentiles percentiles(std::vector<uint32_t>& ns) {
    Percentiles p;
    if (ns.empty()) return p;
    std::sort(ns.begin(), ns.end());
    auto at = [&](double q) {
        return ns[std::min(ns.size() - 1, static_cast<size_t>(q * static_cast<double>(ns.size())))] / 1000.0;
    };
    p.p50 = at(0.50);
    p.p99 = at(0.99);
    p.p999 = at(0.999);
    p.max = ns.back() / 1000.0;
    double sum = 0;
    for (uint32_t v : ns)
        sum += v;
    p.mean = sum / static_cast<double>(ns.size()) / 1000.0;
    return p;
}

struct Query {
    std::string recipient;
    LookupContext ctx;
    bool expectHit;
};

std::vector<Query> makeQueries(uint64_t entries, size_t count, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<Query> qs;
    qs.reserve(count);
    for (size_t k = 0; k < count; ++k) {
        Query q;
        const uint64_t i = rng() % entries;
        // Every lookup carries a tenant and a From domain: all six keys are probed.
        q.ctx.tenant = tenantOf(i);
        q.ctx.fromDomain = brandOf(i);
        if (k % 2 == 0) {
            Synthetic s = synthetic(i);
            q.recipient = s.target.front() == '@' ? cat("someone", s.target) : s.target;
            // A few in mixed case, as they arrive from Postfix.
            if (k % 10 == 0)
                std::transform(q.recipient.begin(), q.recipient.begin() + 4, q.recipient.begin(), ::toupper);
            q.expectHit = true;
        } else {
            q.recipient =
                cat("nobody", std::to_string(rng() % 1000000000), "@d", std::to_string(i % 200000), ".example");
            q.expectHit = false;
        }
        qs.push_back(std::move(q));
    }
    return qs;
}

void dropFromPageCache(const std::string& path) {
    for (const std::string& f : {path, cat(path, "-wal")}) {
        int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ::fdatasync(fd);
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ::close(fd);
    }
}

[[noreturn]] void die(const std::string& what) {
    std::cerr << "suppression_bench: " << what << "\n";
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t entries = 1'000'000;
    size_t lookups = 1'000'000;
    std::string dir = "/var/tmp";
    std::string existing;
    bool keep = false;
    bool generateOnly = false;
    uint64_t csvRows = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--entries" && i + 1 < argc) {
            entries = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--lookups" && i + 1 < argc) {
            lookups = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--dir" && i + 1 < argc) {
            dir = argv[++i];
        } else if (a == "--db" && i + 1 < argc) {
            existing = argv[++i];
        } else if (a == "--keep") {
            keep = true;
        } else if (a == "--csv" && i + 1 < argc) {
            csvRows = std::strtoull(argv[++i], nullptr, 10);
        } else if (a == "--generate-only") {
            generateOnly = keep = true;
        } else {
            std::cerr
                << "usage: suppression_bench [--entries N] [--lookups M] [--dir DIR] [--keep | --generate-only]\n"
                   "       suppression_bench --db FILE --entries N ...   (a store kept by --keep: no generation)\n"
                   "       suppression_bench --csv N [--dir DIR]         (importCsv of N generic lines)\n";
            return 2;
        }
    }
    if (csvRows > 0) {
        // importCsv as `rampartctl suppress import` runs it: parse, normalize, one transaction.
        std::string text = "address,reason,scope,expires\n";
        for (uint64_t i = 0; i < csvRows; ++i) {
            Synthetic s = synthetic(i);
            text += s.target;
            text += ',';
            text += reasonName(s.reason);
            text += ',';
            text += s.scope.str();
            text += s.expires ? ",2027-06-01\n" : ",\n";
        }
        const std::string file = cat(dir, "/rampart-suppression-csv-", std::to_string(::getpid()), ".db");
        auto w = Store::open(file, false);
        if (!w) die(w.error());
        std::istringstream in(text);
        auto t = Clock::now();
        const double c = threadCpu();
        ImportReport rep =
            importCsv(**w, in, "bench.csv", CsvFormat::Generic, Scope{}, NormalizeOptions{}, "bench", kNow);
        const double took = seconds(Clock::now() - t), cpu = threadCpu() - c;
        w = util::err("closed");
        for (const char* suffix : {"", "-wal", "-shm"})
            ::unlink(cat(file, suffix).c_str());
        if (!rep.errors.empty()) die(rep.errors.front());
        std::printf("import: %zu rows in %.1f s, %.1f s CPU (%.0f rows/s of CPU)\n", rep.added, took, cpu,
                    static_cast<double>(rep.added) / cpu);
        std::printf("RESULT csv_rows=%zu import_s=%.1f import_cpu_s=%.1f\n", rep.added, took, cpu);
        return 0;
    }
    if (entries < 1000) die("--entries must be at least 1000");
    const std::string path =
        existing.empty() ? cat(dir, "/rampart-suppression-bench-", std::to_string(::getpid()), ".db") : existing;
    if (!existing.empty()) keep = true;
    auto cleanup = [&] {
        if (keep) return;
        for (const char* suffix : {"", "-wal", "-shm"})
            ::unlink(cat(path, suffix).c_str());
    };

    // ---- 1. generate
    std::cout << "entries " << entries << ", store " << path << "\n";
    double genS = 0, genCpu = 0;
    if (existing.empty()) {
        auto t0 = Clock::now();
        const double c0 = threadCpu();
        auto w = Store::open(path, false);
        if (!w) die(w.error());
        Store& store = **w;
        std::string failure;
        auto tx = store.transaction([&] {
            Entry e;
            e.source = "bench";
            e.created = kNow;
            for (uint64_t i = 0; i < entries; ++i) {
                Synthetic s = synthetic(i);
                e.target = std::move(s.target);
                e.scope = std::move(s.scope);
                e.reason = s.reason;
                e.expires = s.expires;
                auto r = store.add(e, "bench", "");
                if (!r) {
                    failure = r.error();
                    return false;
                }
            }
            return true;
        });
        if (!tx || !*tx) die(!tx ? tx.error() : failure);
        genS = seconds(Clock::now() - t0);
        genCpu = threadCpu() - c0;
    }
    struct stat st {};
    ::stat(path.c_str(), &st);
    const double dbMb = static_cast<double>(st.st_size) / 1048576.0;
    std::printf("generate: %.1f s, %.1f s CPU (%.0f entries/s of CPU), database %.0f MB (entries and audit trail)\n",
                genS, genCpu, genCpu > 0 ? static_cast<double>(entries) / genCpu : 0.0, dbMb);
    if (generateOnly) {
        std::printf("RESULT entries=%llu gen_s=%.1f gen_cpu_s=%.1f db_mb=%.0f\n",
                    static_cast<unsigned long long>(entries), genS, genCpu, dbMb);
        return 0;
    }

    // ---- 2. load: first with the file dropped from the page cache (and RSS before and after, in a
    // process that has not held a table yet), then again with it cached.
    auto r = Store::open(path, true);
    if (!r) die(r.error());
    Store& reader = **r;
    double loadWarm = 0, loadCold = 0, loadWarmCpu = 0;
    long rssBefore = 0, rssAfter = 0;
    size_t tableBytes = 0;
    dropFromPageCache(path);
    Index index(NormalizeOptions{});
    ::malloc_trim(0);  // what the generation freed goes back to the system: the baseline is a daemon's
    rssBefore = rssKb();
    {
        auto t = Clock::now();
        auto n = index.load(reader);
        loadCold = seconds(Clock::now() - t);
        if (!n) die(n.error());
        if (existing.empty() && *n != entries)
            die(cat("loaded ", std::to_string(*n), " entries, expected ", std::to_string(entries)));
    }
    rssAfter = rssKb();
    tableBytes = index.memoryBytes();
    {
        Index warm(NormalizeOptions{});
        auto t = Clock::now();
        const double c = threadCpu();
        auto n = warm.load(reader);
        loadWarm = seconds(Clock::now() - t);
        loadWarmCpu = threadCpu() - c;
        if (!n) die(n.error());
    }
    std::printf("load: %.2f s (%.2f s CPU) with the file in the page cache, %.2f s dropped from the page cache first\n",
                loadWarm, loadWarmCpu, loadCold);
    std::printf("RSS: %.0f MB before load, %.0f MB after: +%.0f MB (table %.0f MB, %.1f bytes/entry)\n",
                static_cast<double>(rssBefore) / 1024.0, static_cast<double>(rssAfter) / 1024.0,
                static_cast<double>(rssAfter - rssBefore) / 1024.0, static_cast<double>(tableBytes) / 1048576.0,
                static_cast<double>(rssAfter - rssBefore) * 1024.0 / static_cast<double>(entries));

    // ---- 3. lookups, one thread
    std::vector<Query> qs = makeQueries(entries, lookups, 42);
    std::vector<uint32_t> ns(qs.size());
    size_t hits = 0, wrong = 0;
    auto tl = Clock::now();
    for (size_t k = 0; k < qs.size(); ++k) {
        auto a = Clock::now();
        auto h = index.lookup(qs[k].recipient, qs[k].ctx, Index::kAll, kNow);
        auto b = Clock::now();
        ns[k] = static_cast<uint32_t>(
            std::min<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count(), UINT32_MAX));
        hits += h ? size_t{1} : size_t{0};
        wrong += h.has_value() != qs[k].expectHit ? size_t{1} : size_t{0};
    }
    const double lookupS = seconds(Clock::now() - tl);
    Percentiles p1 = percentiles(ns);
    std::printf(
        "lookups (1 thread): %zu in %.2f s (%.0f/s), %zu hits, %zu wrong answers; latency us: p50 %.2f, "
        "p99 %.2f, p99.9 %.2f, max %.1f, mean %.2f\n",
        qs.size(), lookupS, static_cast<double>(qs.size()) / lookupS, hits, wrong, p1.p50, p1.p99, p1.p999, p1.max,
        p1.mean);
    // A kept store (--db) has had changes made by earlier runs: some expected hits are gone.
    if (wrong != 0 && existing.empty()) die("wrong answers");

    // ---- 4a. refresh after 1,000 changes in one transaction
    auto w = Store::open(path, false);
    if (!w) die(w.error());
    Store& writer = **w;
    auto change = [&](uint64_t j, Entry& e) -> bool {
        // 600 adds of new addresses, 200 updates (stronger reason), 200 removals of non-sticky entries.
        if (j % 5 < 3) {
            e.target = cat("fresh", std::to_string(j), "@new.example");
            e.scope = Scope{};
            e.reason = Reason::HardBounce;
            return writer.add(e, "bench", "").ok();
        }
        uint64_t i = (j * 7919) % entries;
        Synthetic s = synthetic(i);
        if (j % 5 == 3) {
            e.target = s.target;
            e.scope = s.scope;
            e.reason = Reason::Legal;
            return writer.add(e, "bench", "").ok();
        }
        while (sticky(synthetic(i).reason))
            ++i;
        s = synthetic(i);
        return writer.remove(s.target, s.scope, "bench", "", false).ok();
    };
    {
        Entry e;
        e.source = "bench";
        e.created = kNow;
        auto tx = writer.transaction([&] {
            for (uint64_t j = 0; j < 1000; ++j) {
                if (!change(j, e)) return false;
            }
            return true;
        });
        if (!tx || !*tx) die("writing 1,000 changes failed");
    }
    auto tr = Clock::now();
    auto applied = index.refresh(reader);
    const double refreshMs = seconds(Clock::now() - tr) * 1000.0;
    if (!applied) die(applied.error());
    std::printf("refresh after 1,000 changes: %.2f ms (%zu audit records applied)\n", refreshMs, *applied);
    if (!index.lookup("fresh0@new.example", {}, Index::kAll, kNow)) die("an added entry is not visible after refresh");

    // ---- 4b. lookups on two threads for 5 s: alone, then while changes are committed one at a
    // time (500 a second, far more than bounces and unsubscribes bring) and refresh() runs every
    // 0.5 s, as in the daemons.
    struct Concurrent {
        Percentiles p;
        size_t lookups = 0;
        uint64_t changes = 0;
        size_t refreshes = 0;
        double worstRefreshMs = 0;
    };
    uint64_t nextChange = 1000;
    auto concurrent = [&](bool writing) {
        Concurrent c;
        std::atomic<bool> stop{false};
        std::vector<std::vector<uint32_t>> perThread(2);
        std::vector<std::thread> threads;
        for (size_t t = 0; t < 2; ++t) {
            threads.emplace_back([&, t] {
                std::vector<Query> mine = makeQueries(entries, 200000, 1000 + t);
                auto& out = perThread[t];
                out.reserve(4'000'000);
                for (size_t k = 0; !stop.load(std::memory_order_relaxed); k = (k + 1) % mine.size()) {
                    auto a = Clock::now();
                    auto h = index.lookup(mine[k].recipient, mine[k].ctx, Index::kAll, kNow);
                    auto b = Clock::now();
                    (void)h;
                    if (out.size() < 4'000'000) {
                        out.push_back(static_cast<uint32_t>(std::min<int64_t>(
                            std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count(), UINT32_MAX)));
                    }
                }
            });
        }
        Entry e;
        e.source = "bench";
        e.created = kNow;
        const auto start = Clock::now();
        auto nextRefresh = start + std::chrono::milliseconds(500);
        auto nextWrite = start;
        while (Clock::now() - start < std::chrono::seconds(5)) {
            if (!writing) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                continue;
            }
            if (!change(nextChange++, e)) die("a change failed");
            ++c.changes;
            if (Clock::now() >= nextRefresh) {
                auto a = Clock::now();
                if (!index.refresh(reader)) die("refresh failed");
                c.worstRefreshMs = std::max(c.worstRefreshMs, seconds(Clock::now() - a) * 1000.0);
                ++c.refreshes;
                nextRefresh += std::chrono::milliseconds(500);
            }
            nextWrite += std::chrono::milliseconds(2);
            std::this_thread::sleep_until(nextWrite);
        }
        stop = true;
        for (auto& t : threads)
            t.join();
        std::vector<uint32_t> all;
        for (auto& v : perThread)
            all.insert(all.end(), v.begin(), v.end());
        c.lookups = all.size();
        c.p = percentiles(all);
        return c;
    };
    Concurrent alone = concurrent(false);
    std::printf("lookups (2 threads): %zu; latency us: p50 %.2f, p99 %.2f, p99.9 %.2f, max %.1f\n", alone.lookups,
                alone.p.p50, alone.p.p99, alone.p.p999, alone.p.max);
    Concurrent busy = concurrent(true);
    std::printf(
        "lookups (2 threads, %llu changes committed one by one, %zu refreshes, slowest %.2f ms): %zu; latency "
        "us: p50 %.2f, p99 %.2f, p99.9 %.2f, max %.1f\n",
        static_cast<unsigned long long>(busy.changes), busy.refreshes, busy.worstRefreshMs, busy.lookups, busy.p.p50,
        busy.p.p99, busy.p.p999, busy.p.max);

    std::printf(
        "RESULT entries=%llu gen_s=%.1f gen_cpu_s=%.1f db_mb=%.0f load_warm_s=%.2f load_warm_cpu_s=%.2f "
        "load_cold_s=%.2f rss_before_mb=%.0f rss_after_mb=%.0f rss_delta_mb=%.0f table_mb=%.0f lookups=%zu "
        "p50_us=%.2f p99_us=%.2f p999_us=%.2f max_us=%.1f refresh_1000_ms=%.2f two_p50_us=%.2f "
        "two_p99_us=%.2f two_p999_us=%.2f two_max_us=%.1f conc_changes=%llu conc_p50_us=%.2f "
        "conc_p99_us=%.2f conc_p999_us=%.2f conc_max_us=%.1f conc_refresh_max_ms=%.2f\n",
        static_cast<unsigned long long>(entries), genS, genCpu, dbMb, loadWarm, loadWarmCpu, loadCold,
        static_cast<double>(rssBefore) / 1024.0, static_cast<double>(rssAfter) / 1024.0,
        static_cast<double>(rssAfter - rssBefore) / 1024.0, static_cast<double>(tableBytes) / 1048576.0, qs.size(),
        p1.p50, p1.p99, p1.p999, p1.max, refreshMs, alone.p.p50, alone.p.p99, alone.p.p999, alone.p.max,
        static_cast<unsigned long long>(busy.changes), busy.p.p50, busy.p.p99, busy.p.p999, busy.p.max,
        busy.worstRefreshMs);
    w = util::err("closed");
    r = util::err("closed");
    cleanup();
    return 0;
}
