// Stress tests of what rampart-milter's threads share, for the TSan build (scripts/test.sh, label tsan):
// libmilter calls back on one thread per connection while main.cpp swaps in a new Runtime on SIGHUP,
// the suppression Follower refreshes the index every runtime looks up in, the KeyStore loads "%" keys
// on first use and the Stats are counted by every connection and read by the logging thread.
// Each test runs a bounded number of iterations (a few seconds under TSan). Catch2 v2 assertions are
// not thread-safe, so worker threads count problems in atomics and the test thread asserts on them.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "config/config.h"
#include "dkim/tables.h"
#include "milter/key_store.h"
#include "milter/runtime.h"
#include "milter/stats.h"
#include "suppression/follower.h"
#include "temp_dir.h"

using namespace rampart;
using namespace rampart::milter;

namespace {

constexpr int64_t kNow = 1'800'000'000;

// A private copy of a golden key, owned by us and readable only by us (dkim_require_safe_keys).
void copyKey(const std::string& name, const std::string& to) {
    std::filesystem::copy_file(std::string(RAMPART_SOURCE_DIR) + "/tests/golden/dkim/keys/" + name, to,
                               std::filesystem::copy_options::overwrite_existing);
    REQUIRE(::chmod(to.c_str(), 0600) == 0);
}

void writeFile(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

util::Account me() {
    return util::Account{"test", ::getuid(), ::getgid()};
}

std::unique_ptr<suppress::Store> openStore(const std::string& path) {
    auto s = suppress::Store::open(path, false);
    INFO((s ? std::string() : s.error()));
    REQUIRE(s);
    return std::move(s).value();
}

bool addEntry(suppress::Store& store, const std::string& target) {
    suppress::Entry e;
    e.target = target;
    e.reason = suppress::Reason::HardBounce;
    e.source = "test";
    e.created = kNow;
    return store.add(e, "test", "stress test").ok();
}

bool suppressed(const suppress::Index& index, const std::string& address) {
    return index.lookup(address, suppress::LookupContext{}, suppress::Index::kAll, kNow).has_value();
}

// Raises `a` to at least `v`.
void raiseTo(std::atomic<size_t>& a, size_t v) {
    size_t cur = a.load();
    while (cur < v && !a.compare_exchange_weak(cur, v)) {
    }
}

}  // namespace

TEST_CASE("threads: messages run through the runtime they took while SIGHUP swaps in new ones", "[threads]") {
    test::TempDir dir("threads-runtime");
    copyKey("ed25519.pem", dir / "ed.pem");
    copyKey("rsa2048.pem", dir / "rsa.pem");
    // Two generations that differ in the selector they sign with: a message must be signed with the
    // selector of the runtime it took, whatever the writer publishes meanwhile.
    writeFile(dir / "keys-a.table", "k example.com:a:" + (dir / "ed.pem") + "\n");
    writeFile(dir / "keys-b.table", "k example.com:b:" + (dir / "rsa.pem") + "\n");
    writeFile(dir / "signing.table", "example.com k\n");
    auto configFor = [&](char which) {
        auto r = config::parseConfigText("dkim_key_table = file:" + (dir / std::string("keys-") + which + ".table") +
                                             "\ndkim_signing_table = file:" + (dir / "signing.table") + "\n",
                                         "rampart.conf");
        return r;
    };

    // The suppression index every generation looks up in, kept current by a follower (as main.cpp).
    auto writer = openStore(dir / "s.db");
    REQUIRE(addEntry(*writer, "blocked@remote.test"));
    suppress::Follower follower(dir / "s.db", suppress::NormalizeOptions{}, std::chrono::milliseconds(2));
    follower.poll();
    REQUIRE(follower.loaded());

    BuildOptions opts;
    opts.keyOwner = me();
    opts.clock = std::make_shared<util::FakeClock>(util::SystemTime(std::chrono::seconds(kNow)));
    opts.suppression = follower.shared();
    auto build = [&](char which, config::Diagnostics& diags) {
        auto loaded = configFor(which);
        diags.append(loaded.diagnostics);
        return buildRuntime(std::make_shared<const config::Config>(std::move(loaded.config)), opts, diags);
    };
    config::Diagnostics diags;
    auto first = build('a', diags);
    INFO(diags.str());
    REQUIRE(first);
    RuntimeHolder holder;
    holder.set(first);
    Stats stats;
    follower.start();

    constexpr int kReaders = 3, kMessages = 40, kReloads = 20;
    std::atomic<bool> done{false};
    std::atomic<uint64_t> lastGeneration{first->generation};
    std::atomic<int> wrong{0}, buildFailures{0}, backwards{0}, notRefused{0};
    std::mutex firstWrongMu;
    std::string firstWrong;
    auto fail = [&](std::string what) {
        if (wrong++ == 0) {
            std::lock_guard lock(firstWrongMu);
            firstWrong = std::move(what);
        }
    };

    std::vector<std::thread> threads;
    for (int t = 0; t < kReaders; ++t) {
        threads.emplace_back([&, t] {
            uint64_t seen = 0;
            for (int i = 0; i < kMessages; ++i) {
                std::shared_ptr<const Runtime> rt = holder.get();  // as the adapter at MAIL FROM
                if (rt->generation < seen) backwards++;
                seen = rt->generation;
                Message m;
                m.envelope.clientAddress = "127.0.0.1";
                m.envelope.sender = "alice@example.com";
                rt->eligibility.classify(m.envelope);
                if (!m.envelope.ours) fail("not ours: " + m.envelope.oursReason);
                Notes notes;
                for (std::string rcpt : {"bob@remote.test", "blocked@remote.test"}) {
                    Verdict v = rt->pipeline->onRecipient(m.envelope, rcpt, notes);
                    if (v.proceeds()) {
                        m.envelope.recipients.push_back(rcpt);
                    } else if (rcpt == "bob@remote.test") {
                        fail("bob refused: " + v.text);
                    }
                }
                if (m.envelope.recipients.size() != 1) notRefused++;
                m.addReceivedHeader("From", " Alice <alice@example.com>");
                m.addReceivedHeader("To", " bob@remote.test");
                m.addReceivedHeader("Subject", " message " + std::to_string(t) + "." + std::to_string(i));
                m.addReceivedHeader("Date", " Fri, 15 Jan 2027 08:00:00 +0000");
                m.addReceivedHeader("Message-ID", " <" + std::to_string(t) + "." + std::to_string(i) + "@example.com>");
                MessageRun run = rt->pipeline->start(m.envelope);
                if (run.needsBody()) run.onBody("Hello\r\n");
                Verdict v = rt->pipeline->onEndOfMessage(m, run, notes);
                stats.count("messages");
                if (!v.proceeds()) {
                    fail("refused: " + v.text);
                    continue;
                }
                stats.count("signed", notes.signedDomains);
                const std::string& keys = rt->config->table("dkim_key_table").path;
                std::string selector = keys.find("keys-a") != std::string::npos ? "a" : "b";
                size_t at = m.find("DKIM-Signature");
                if (m.count("DKIM-Signature") != 1 || at >= m.headers().size()) {
                    fail("not signed once: " + notes.joined());
                    continue;
                }
                const std::string& sig = m.headers()[at].value;
                if (sig.find(" s=" + selector + ";") == std::string::npos) {
                    fail("generation " + std::to_string(rt->generation) + " (" + keys + ") signed as " + sig);
                }
            }
        });
    }
    // SIGHUP: build, validate, swap (main.cpp's Control::reload), alternating the two configurations.
    threads.emplace_back([&] {
        for (int i = 0; i < kReloads; ++i) {
            config::Diagnostics d;
            auto rt = build(i % 2 == 0 ? 'b' : 'a', d);
            if (!rt) {
                buildFailures++;
                continue;
            }
            lastGeneration = rt->generation;
            holder.set(rt);
        }
    });
    // The signal thread's periodic stats line.
    std::thread logger([&] {
        while (!done) {
            (void)stats.line();
            (void)holder.get()->statsInterval;
            std::this_thread::yield();
        }
    });
    for (auto& th : threads)
        th.join();
    done = true;
    logger.join();
    follower.stop();

    INFO(firstWrong);
    CHECK(wrong == 0);
    CHECK(buildFailures == 0);
    CHECK(backwards == 0);
    CHECK(notRefused == 0);
    CHECK(holder.get()->generation == lastGeneration);
    CHECK(stats.total("messages") == uint64_t(kReaders * kMessages));
    CHECK(stats.total("signed") == uint64_t(kReaders * kMessages));
    CHECK(stats.line().find("example.com signed=" + std::to_string(kReaders * kMessages)) != std::string::npos);
}

TEST_CASE("threads: concurrent signing-key lookups while a reload builds a new key store", "[threads]") {
    test::TempDir dir("threads-keys");
    const std::vector<std::string> domains = {"one.test", "two.test", "three.test", "four.test"};
    for (const auto& d : domains)
        copyKey("ed25519.pem", dir / (d + ".pem"));
    copyKey("rsa2048.pem", dir / "lit.pem");
    config::Diagnostics diags;
    dkim::KeyTable table = dkim::KeyTable::parse(
        "any %:p:" + (dir / "%.pem") + "\nlit example.com:l:" + (dir / "lit.pem") + "\n", "key.table", diags);
    REQUIRE_FALSE(diags.hasErrors());
    const dkim::KeyTableEntry* any = table.find("any");
    const dkim::KeyTableEntry* lit = table.find("lit");
    REQUIRE(any);
    REQUIRE(lit);
    dkim::KeyFileOptions kfo;
    kfo.allowedUid = ::getuid();
    kfo.allowedGid = ::getgid();
    auto makeStore = [&](config::Diagnostics& d) {
        auto s = std::make_shared<KeyStore>(kfo);
        s->loadAll(table, d);
        return std::shared_ptr<const KeyStore>(std::move(s));
    };

    std::mutex mu;  // publishes the current generation's store, as RuntimeHolder does
    std::shared_ptr<const KeyStore> current = makeStore(diags);
    REQUIRE_FALSE(diags.hasErrors());
    auto get = [&] {
        std::lock_guard lock(mu);
        return current;
    };

    constexpr int kReaders = 4, kRounds = 150, kReloads = 30;
    std::atomic<int> missing{0}, unexpected{0}, twice{0}, reloadErrors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kReaders; ++t) {
        threads.emplace_back([&, t] {
            // Per store generation: the key each domain got first; it must never be parsed again.
            std::map<std::pair<const KeyStore*, std::string>, const dkim::PrivateKey*> first;
            std::vector<std::shared_ptr<const KeyStore>> keep;  // keeps the addresses above unique
            for (int i = 0; i < kRounds; ++i) {
                auto store = get();
                if (keep.empty() || keep.back() != store) keep.push_back(store);
                const std::string& domain = domains[size_t(i + t) % domains.size()];
                auto key = store->get(*any, domain);
                if (!key) {
                    missing++;
                    continue;
                }
                auto [it, added] = first.emplace(std::pair{store.get(), domain}, key->get());
                if (!added && it->second != key->get()) twice++;
                if (!store->get(*lit, "example.com")) missing++;
                if (store->get(*any, "absent.test")) unexpected++;
            }
        });
    }
    threads.emplace_back([&] {
        for (int i = 0; i < kReloads; ++i) {
            config::Diagnostics d;
            auto next = makeStore(d);
            if (d.hasErrors()) reloadErrors++;
            std::lock_guard lock(mu);
            current = std::move(next);
        }
    });
    for (auto& th : threads)
        th.join();
    CHECK(missing == 0);
    CHECK(unexpected == 0);
    CHECK(twice == 0);
    CHECK(reloadErrors == 0);
}

TEST_CASE("threads: lookups in the follower's index while another process suppresses addresses", "[threads]") {
    test::TempDir dir("threads-follower");
    auto writer = openStore(dir / "s.db");
    suppress::Follower follower(dir / "s.db", suppress::NormalizeOptions{}, std::chrono::milliseconds(1));
    follower.poll();
    REQUIRE(follower.loaded());
    follower.start();
    const suppress::Index& index = follower.index();
    auto address = [](size_t i) { return "user" + std::to_string(i) + "@remote.test"; };

    constexpr size_t kEntries = 120;
    constexpr int kReaders = 3;
    std::atomic<size_t> written{0};  // entries 0..written-1 are committed
    std::atomic<size_t> visible{0};  // the readers saw entry visible-1, so all before it too
    std::atomic<bool> done{false};
    std::atomic<int> writeErrors{0}, lost{0}, phantom{0};
    std::vector<std::thread> threads;
    threads.emplace_back([&] {
        for (size_t i = 0; i < kEntries; ++i) {
            if (!addEntry(*writer, address(i))) writeErrors++;
            written = i + 1;
        }
    });
    for (int t = 0; t < kReaders; ++t) {
        threads.emplace_back([&, t] {
            size_t n = 0;
            while (!done) {
                // The audit trail is applied in order: once an entry is seen, every earlier one is.
                if (size_t v = visible.load(); v > 0 && !suppressed(index, address((n * 7 + size_t(t)) % v))) lost++;
                if (size_t w = written.load(); w > 0 && suppressed(index, address(w - 1))) raiseTo(visible, w);
                if (suppressed(index, "nobody@remote.test")) phantom++;
                (void)index.size();
                ++n;
            }
        });
    }
    threads.front().join();
    // A committed entry is seen within a few polls; give TSan's slowness plenty of room.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (visible < kEntries && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    done = true;
    for (size_t i = 1; i < threads.size(); ++i)
        threads[i].join();
    follower.stop();
    CHECK(writeErrors == 0);
    CHECK(visible == kEntries);
    CHECK(lost == 0);
    CHECK(phantom == 0);
    CHECK(index.size() == kEntries);
    for (size_t i = 0; i < kEntries; ++i)
        CHECK(suppressed(index, address(i)));
}

TEST_CASE("threads: counters from many connections add up while the stats line is read", "[threads]") {
    Stats stats;
    constexpr int kThreads = 4, kCounts = 3000;
    std::atomic<bool> done{false};
    std::atomic<int> decreased{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::vector<std::string> domains = {"d" + std::to_string(t) + ".test", "shared.test"};
            for (int i = 0; i < kCounts; ++i) {
                stats.count("messages");
                stats.count(i % 3 == 0 ? "unsigned" : "signed", domains);
            }
        });
    }
    std::thread reader([&] {
        uint64_t last = 0;
        while (!done) {
            uint64_t now = stats.total("messages");
            if (now < last) decreased++;
            last = now;
            (void)stats.line();
        }
    });
    for (auto& th : threads)
        th.join();
    done = true;
    reader.join();
    constexpr int kUnsigned = (kCounts + 2) / 3;
    CHECK(decreased == 0);
    CHECK(stats.total("messages") == uint64_t(kThreads * kCounts));
    CHECK(stats.total("unsigned") == uint64_t(kThreads * kUnsigned));
    CHECK(stats.total("signed") == uint64_t(kThreads * (kCounts - kUnsigned)));
    std::string line = stats.line();
    INFO(line);
    CHECK(line.find(" messages=" + std::to_string(kThreads * kCounts) + " ") != std::string::npos);
    CHECK(line.find("shared.test signed=" + std::to_string(kThreads * (kCounts - kUnsigned)) +
                    " unsigned=" + std::to_string(kThreads * kUnsigned)) != std::string::npos);
    CHECK(line.find("d0.test signed=" + std::to_string(kCounts - kUnsigned)) != std::string::npos);
}
