// Suppression lists, the in-memory index: scope masks, addresses and whole domains, following another
// handle's writes, reloading a replaced database, lookups during refreshes.
#include "suppression/index.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "suppression/helpers.h"

using namespace rampart;
using namespace rampart::suppress;
using namespace rampart::test::suppression;
namespace fs = std::filesystem;

// ------------------------------------------------------------------------------ index

TEST_CASE("index: lookups by scope mask, address and whole domain", "[suppression]") {
    TempDir dir;
    auto w = openStore(dir / "s.db");
    add(*w, entry("bobsmith@gmail.com", Reason::HardBounce));
    add(*w, entry("@blocked.example", Reason::Legal));
    add(*w, entry("carol@example.com", Reason::Unsubscribe, tenant("acme")));
    add(*w, entry("@competitor.example", Reason::Manual, tenant("acme")));
    add(*w, entry("dave@example.com", Reason::Complaint, fromDomain("acme-mail.com")));
    add(*w, entry("erin@example.com", Reason::SoftBounce, {}, kNow, kNow + kDay));

    auto r = openStore(dir / "s.db", true);
    Index idx(kDefault);
    auto loaded = idx.load(*r);
    REQUIRE(loaded.ok());
    CHECK(*loaded == 6);
    CHECK(idx.size() == 6);
    CHECK(idx.lastAuditId() == 6);
    CHECK(idx.memoryBytes() >= 6 * 16);

    const LookupContext none;
    const LookupContext acme{"acme", ""};
    const LookupContext acmeMail{"ACME", "acme-mail.com"};

    // The recipient is normalized by the lookup: Gmail dots and tags, case.
    auto h = idx.lookup("Bob.Smith+promo@googlemail.com", none, Index::kAll, kNow);
    REQUIRE(h);
    CHECK(h->target == "bobsmith@gmail.com");
    CHECK(h->scope == Scope{});
    CHECK(h->reason == Reason::HardBounce);
    // A whole domain.
    h = idx.lookup("anyone@Blocked.example", none, Index::kAll, kNow);
    REQUIRE(h);
    CHECK(h->target == "@blocked.example");
    CHECK(h->reason == Reason::Legal);
    CHECK_FALSE(idx.lookup("anyone@sub.blocked.example", none, Index::kAll, kNow));  // not subdomains
    // Tenant scope: only with the tenant, and only when the mask allows.
    CHECK_FALSE(idx.lookup("carol@example.com", none, Index::kAll, kNow));
    CHECK_FALSE(idx.lookup("carol@example.com", LookupContext{"other", ""}, Index::kAll, kNow));
    h = idx.lookup("carol@example.com", acme, Index::kAll, kNow);
    REQUIRE(h);
    CHECK(h->scope == tenant("acme"));
    CHECK(h->reason == Reason::Unsubscribe);
    CHECK_FALSE(idx.lookup("carol@example.com", acme, Index::kGlobal | Index::kFromDomain, kNow));
    h = idx.lookup("x@competitor.example", acmeMail, Index::kTenant, kNow);  // tenant compared case-insensitively
    REQUIRE(h);
    CHECK(h->target == "@competitor.example");
    // From domain scope.
    CHECK_FALSE(idx.lookup("dave@example.com", acme, Index::kAll, kNow));
    h = idx.lookup("dave@example.com", acmeMail, Index::kAll, kNow);
    REQUIRE(h);
    CHECK(h->scope == fromDomain("acme-mail.com"));
    CHECK(h->reason == Reason::Complaint);
    CHECK_FALSE(idx.lookup("dave@example.com", acmeMail, Index::kGlobal | Index::kTenant, kNow));
    // Expired entries do not match.
    CHECK(idx.lookup("erin@example.com", none, Index::kAll, kNow + kDay - 1));
    CHECK_FALSE(idx.lookup("erin@example.com", none, Index::kAll, kNow + kDay));
    // Not suppressed, and not an address.
    CHECK_FALSE(idx.lookup("frank@example.com", acmeMail, Index::kAll, kNow));
    CHECK_FALSE(idx.lookup("not an address", acmeMail, Index::kAll, kNow));
    CHECK_FALSE(idx.lookup("", acmeMail, Index::kAll, kNow));

    // The store's matches() checks the same keys in the same order.
    auto m = r->matches("Bob.Smith@gmail.com", acmeMail, Index::kAll, kNow, kDefault);
    REQUIRE(m.ok());
    REQUIRE(m->size() == 1);
    CHECK(m->front().target == "bobsmith@gmail.com");

    // An address suppressed in several scopes: global is reported first, address before domain.
    add(*w, entry("carol@example.com", Reason::Manual));
    refresh(idx, *r);
    h = idx.lookup("carol@example.com", acme, Index::kAll, kNow);
    REQUIRE(h);
    CHECK(h->scope == Scope{});
    CHECK(h->reason == Reason::Manual);
}

TEST_CASE("index: refresh follows another handle's writes", "[suppression]") {
    TempDir dir;
    auto w = openStore(dir / "s.db");
    auto r = openStore(dir / "s.db", true);
    Index idx(kDefault);
    REQUIRE(idx.load(*r).ok());
    CHECK(idx.size() == 0);
    CHECK(refresh(idx, *r) == 0);

    add(*w, entry("a@example.com", Reason::HardBounce));
    add(*w, entry("b@example.com", Reason::SoftBounce));
    CHECK_FALSE(idx.lookup("a@example.com", {}, Index::kAll, kNow));  // not yet refreshed
    CHECK(refresh(idx, *r) == 2);
    CHECK(idx.size() == 2);
    CHECK(idx.lastAuditId() == *w->lastAuditId());
    REQUIRE(idx.lookup("a@example.com", {}, Index::kAll, kNow));
    CHECK(idx.lookup("b@example.com", {}, Index::kAll, kNow)->reason == Reason::SoftBounce);

    // An update changes the reason; a removal and an expiry take entries out.
    add(*w, entry("b@example.com", Reason::Complaint));
    add(*w, entry("c@example.com", Reason::Manual, {}, kNow, kNow + kDay));
    CHECK(removeEntry(*w, "a@example.com", {}, false) == RemoveOutcome::Removed);
    CHECK(refresh(idx, *r) == 3);
    CHECK_FALSE(idx.lookup("a@example.com", {}, Index::kAll, kNow));
    CHECK(idx.lookup("b@example.com", {}, Index::kAll, kNow)->reason == Reason::Complaint);
    REQUIRE(idx.lookup("c@example.com", {}, Index::kAll, kNow));
    REQUIRE(w->expire(kNow + kDay).ok());
    CHECK(refresh(idx, *r) == 1);
    CHECK(idx.size() == 1);
    CHECK_FALSE(idx.lookup("c@example.com", {}, Index::kAll, kNow));

    // Many changes at once: the table grows under refresh, lookups keep working.
    auto tx = w->transaction([&] {
        for (int i = 0; i < 5000; ++i)
            add(*w, entry("user" + std::to_string(i) + "@bulk.example", Reason::HardBounce));
        return true;
    });
    REQUIRE(tx.ok());
    CHECK(refresh(idx, *r) == 5000);
    CHECK(idx.size() == 5001);
    for (int i = 0; i < 5000; i += 499)
        CHECK(idx.lookup("user" + std::to_string(i) + "@bulk.example", {}, Index::kAll, kNow));
    CHECK_FALSE(idx.lookup("user5000@bulk.example", {}, Index::kAll, kNow));
    // Removing most of them (backward-shift deletion) keeps the rest findable.
    auto tx2 = w->transaction([&] {
        for (int i = 0; i < 5000; ++i) {
            if (i % 10 != 0) removeEntry(*w, "user" + std::to_string(i) + "@bulk.example", {}, false);
        }
        return true;
    });
    REQUIRE(tx2.ok());
    CHECK(refresh(idx, *r) == 4500);
    CHECK(idx.size() == 501);
    for (int i = 0; i < 5000; ++i) {
        bool expected = i % 10 == 0;
        if (idx.lookup("user" + std::to_string(i) + "@bulk.example", {}, Index::kAll, kNow).has_value() != expected) {
            FAIL("lookup of user" << i << " should be " << expected);
        }
    }

    // A fresh index loaded now agrees.
    Index again(kDefault);
    REQUIRE(again.load(*r).ok());
    CHECK(again.size() == idx.size());
    CHECK(again.lastAuditId() == idx.lastAuditId());
}

TEST_CASE("index: a replaced database is reloaded whole", "[suppression]") {
    TempDir dir;
    {
        auto w = openStore(dir / "s.db");
        for (int i = 0; i < 5; ++i)
            add(*w, entry("old" + std::to_string(i) + "@example.com", Reason::Manual));
    }
    Index idx(kDefault);
    {
        auto r = openStore(dir / "s.db", true);
        REQUIRE(idx.load(*r).ok());
    }
    CHECK(idx.size() == 5);
    // Restored from an older backup: fewer audit records than the index has seen.
    fs::remove(dir / "s.db");
    fs::remove(dir / "s.db-wal");
    fs::remove(dir / "s.db-shm");
    auto w = openStore(dir / "s.db");
    add(*w, entry("new@example.com", Reason::Manual));
    auto r = openStore(dir / "s.db", true);
    CHECK(refresh(idx, *r) == 1);
    CHECK(idx.size() == 1);
    CHECK(idx.lastAuditId() == 1);
    CHECK(idx.lookup("new@example.com", {}, Index::kAll, kNow));
    CHECK_FALSE(idx.lookup("old0@example.com", {}, Index::kAll, kNow));
}

TEST_CASE("index: lookups run while refresh applies changes", "[suppression]") {
    TempDir dir;
    auto w = openStore(dir / "s.db");
    add(*w, entry("steady@example.com", Reason::Legal));
    auto r = openStore(dir / "s.db", true);
    Index idx(kDefault);
    REQUIRE(idx.load(*r).ok());
    std::atomic<bool> stop{false};
    std::atomic<size_t> misses{0};
    std::thread reader([&] {
        while (!stop.load()) {
            if (!idx.lookup("steady@example.com", {}, Index::kAll, kNow)) ++misses;
            idx.lookup("user1@bulk.example", {}, Index::kAll, kNow);
        }
    });
    for (int round = 0; round < 5; ++round) {
        auto tx = w->transaction([&] {
            for (int i = 0; i < 2000; ++i) {
                add(*w, entry("user" + std::to_string(round * 2000 + i) + "@bulk.example", Reason::Manual));
            }
            return true;
        });
        REQUIRE(tx.ok());
        refresh(idx, *r);
    }
    stop = true;
    reader.join();
    CHECK(misses.load() == 0);
    CHECK(idx.size() == 10001);
}
