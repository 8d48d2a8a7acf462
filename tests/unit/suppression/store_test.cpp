// Suppression lists, the SQLite store: update rules, invalid entries, sticky reasons and the audit
// trail, expiry, transactions and filters, opening errors, file mode and WAL.
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
#include "suppression/sqlite_store.h"

using namespace rampart;
using namespace rampart::suppress;
using namespace rampart::test::suppression;
namespace fs = std::filesystem;

// ------------------------------------------------------------------------------ store

TEST_CASE("store: add, stronger reasons replace weaker ones, later expiries win", "[suppression]") {
    TempDir dir;
    auto s = openStore(dir / "s.db");
    const std::string bob = "bob@example.com";

    CHECK(add(*s, entry(bob, Reason::SoftBounce, {}, kNow, kNow + 5 * kDay)) == AddOutcome::Added);
    // Weaker or equal reason, no later expiry: nothing to do.
    CHECK(add(*s, entry(bob, Reason::SoftBounce, {}, kNow + 1, kNow + 2 * kDay)) == AddOutcome::AlreadyThere);
    // Same reason, later expiry: the expiry moves.
    CHECK(add(*s, entry(bob, Reason::SoftBounce, {}, kNow + 2, kNow + 9 * kDay)) == AddOutcome::Updated);
    CHECK(find(*s, bob)->expires == kNow + 9 * kDay);
    CHECK(find(*s, bob)->created == kNow);
    // Stronger reason: replaces it (and its creation time); the expiry stays the later one.
    Entry hard = entry(bob, Reason::HardBounce, {}, kNow + 3, kNow + 3 * kDay);
    hard.note = "550 5.1.1 no such user";
    hard.source = "dsn";
    CHECK(add(*s, hard) == AddOutcome::Updated);
    auto e = find(*s, bob);
    REQUIRE(e);
    CHECK(e->reason == Reason::HardBounce);
    CHECK(e->created == kNow + 3);
    CHECK(e->expires == kNow + 9 * kDay);
    CHECK(e->source == "dsn");
    CHECK(e->note == "550 5.1.1 no such user");
    // A complaint without expiry: sticky, and for ever.
    CHECK(add(*s, entry(bob, Reason::Complaint, {}, kNow + 4)) == AddOutcome::Updated);
    CHECK(find(*s, bob)->reason == Reason::Complaint);
    CHECK_FALSE(find(*s, bob)->expires.has_value());
    // A sticky reason is never replaced by a non-sticky one.
    CHECK(add(*s, entry(bob, Reason::HardBounce, {}, kNow + 5)) == AddOutcome::AlreadyThere);
    CHECK(add(*s, entry(bob, Reason::Manual, {}, kNow + 5)) == AddOutcome::AlreadyThere);
    CHECK(add(*s, entry(bob, Reason::Unsubscribe, {}, kNow + 5)) == AddOutcome::AlreadyThere);
    CHECK(find(*s, bob)->reason == Reason::Complaint);
    CHECK(add(*s, entry(bob, Reason::Legal, {}, kNow + 6)) == AddOutcome::Updated);
    CHECK(find(*s, bob)->reason == Reason::Legal);

    // The same target in other scopes is another entry.
    CHECK(add(*s, entry(bob, Reason::Manual, tenant("acme"))) == AddOutcome::Added);
    CHECK(add(*s, entry(bob, Reason::Manual, fromDomain("acme-mail.com"))) == AddOutcome::Added);
    // Tenant names are case-insensitive.
    CHECK(add(*s, entry(bob, Reason::Manual, tenant("ACME"))) == AddOutcome::AlreadyThere);
    CHECK(find(*s, bob, tenant("Acme")).has_value());
    REQUIRE(s->count().ok());
    CHECK(*s->count() == 3);
}

TEST_CASE("store: invalid entries are refused", "[suppression]") {
    TempDir dir;
    auto s = openStore(dir / "s.db");
    CHECK(s->add(entry("", Reason::Manual), "t", "").error().find("invalid suppression target") != std::string::npos);
    CHECK(s->add(entry("bob", Reason::Manual), "t", "").error().find("expected user@domain or @domain") !=
          std::string::npos);
    CHECK(s->add(entry("a b@example.com", Reason::Manual), "t", "").error().find("not normalized") !=
          std::string::npos);
    CHECK(s->add(entry("bob@example.com", Reason::Manual, tenant("")), "t", "").error() == "empty tenant name");
    CHECK(s->add(entry("bob@example.com", Reason::Manual, {}, kNow, kNow - 1), "t", "").error().find("is not after") !=
          std::string::npos);
    Entry longNote = entry("bob@example.com", Reason::Manual);
    longNote.note = std::string(10000, 'x');
    REQUIRE(s->add(longNote, "t", "").ok());
    CHECK(find(*s, "bob@example.com")->note.size() == 4096);
    CHECK(*s->count() == 1);
}

TEST_CASE("store: sticky entries are removed only with force; the audit trail has everything", "[suppression]") {
    TempDir dir;
    auto s = openStore(dir / "s.db");
    const std::string alice = "alice@example.com";
    const std::string carol = "carol@example.com";
    add(*s, entry(alice, Reason::Unsubscribe), "one-click", "List-Unsubscribe-Post");
    add(*s, entry(carol, Reason::HardBounce, tenant("acme")), "dsn", "550 5.1.1");

    CHECK(removeEntry(*s, alice, {}, false) == RemoveOutcome::NeedsForce);
    CHECK(find(*s, alice).has_value());
    CHECK(removeEntry(*s, alice, tenant("acme"), false) == RemoveOutcome::NotFound);
    CHECK(removeEntry(*s, carol, {}, false) == RemoveOutcome::NotFound);
    CHECK(removeEntry(*s, carol, tenant("ACME"), false) == RemoveOutcome::Removed);  // not sticky
    CHECK(removeEntry(*s, alice, {}, true) == RemoveOutcome::Removed);
    CHECK_FALSE(find(*s, alice).has_value());
    CHECK(*s->count() == 0);

    auto a = audit(*s);
    REQUIRE(a.size() == 4);  // refused and not-found removals leave no trace: nothing changed
    CHECK(a[0].id < a[1].id);
    CHECK(a[0].action == "add");
    CHECK(a[0].entry.target == alice);
    CHECK(a[0].entry.reason == Reason::Unsubscribe);
    CHECK(a[0].entry.scope == Scope{});
    CHECK(a[0].who == "one-click");
    CHECK(a[0].why == "List-Unsubscribe-Post");
    CHECK(a[0].entry.created == kNow);
    CHECK(a[1].action == "add");
    CHECK(a[1].entry.scope == tenant("acme"));
    CHECK(a[1].who == "dsn");
    CHECK(a[2].action == "remove");
    CHECK(a[2].entry.target == carol);
    CHECK(a[2].entry.reason == Reason::HardBounce);
    CHECK(a[2].who == "tester");
    CHECK(a[2].why == "asked");
    CHECK(a[3].action == "remove");
    CHECK(a[3].entry.target == alice);
    CHECK(a[3].entry.reason == Reason::Unsubscribe);
    const int64_t wall =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    CHECK(a[3].at >= wall - 60);
    CHECK(a[3].at <= wall + 1);
    REQUIRE(s->lastAuditId().ok());
    CHECK(*s->lastAuditId() == a[3].id);

    auto since = s->auditSince(a[1].id, 1);
    REQUIRE(since.ok());
    REQUIRE(since->size() == 1);
    CHECK(since->front().id == a[2].id);
    auto tail = s->auditTail(alice, 0);
    REQUIRE(tail.ok());
    REQUIRE(tail->size() == 2);
    CHECK(tail->front().action == "add");
    CHECK(tail->back().action == "remove");
    auto last = s->auditTail("", 1);
    REQUIRE(last.ok());
    REQUIRE(last->size() == 1);
    CHECK(last->front().id == a[3].id);

    // An update is audited with the entry as it is after it.
    add(*s, entry(carol, Reason::SoftBounce));
    add(*s, entry(carol, Reason::HardBounce), "dsn", "second bounce");
    auto b = audit(*s);
    REQUIRE(b.size() == 6);
    CHECK(b[5].action == "update");
    CHECK(b[5].entry.reason == Reason::HardBounce);
    CHECK(b[5].why == "second bounce");
}

TEST_CASE("store: expiry", "[suppression]") {
    TempDir dir;
    auto s = openStore(dir / "s.db");
    add(*s, entry("soft@example.com", Reason::SoftBounce, {}, kNow, kNow + kDay));
    add(*s, entry("hard@example.com", Reason::HardBounce, {}, kNow, kNow + 10 * kDay));
    add(*s, entry("never@example.com", Reason::Manual));

    auto m = s->matches("Soft@Example.com", {}, Index::kAll, kNow + kDay - 1, kDefault);
    REQUIRE(m.ok());
    REQUIRE(m->size() == 1);
    CHECK(m->front().target == "soft@example.com");
    m = s->matches("soft@example.com", {}, Index::kAll, kNow + kDay, kDefault);
    REQUIRE(m.ok());
    CHECK(m->empty());

    // An expired entry that expire() has not removed yet counts as absent: a new add takes its place.
    CHECK(add(*s, entry("soft@example.com", Reason::Manual, {}, kNow + 2 * kDay)) == AddOutcome::Added);
    CHECK(find(*s, "soft@example.com")->reason == Reason::Manual);
    CHECK_FALSE(find(*s, "soft@example.com")->expires.has_value());

    auto n = s->expire(kNow + 5 * kDay);
    REQUIRE(n.ok());
    CHECK(*n == 0);
    n = s->expire(kNow + 10 * kDay);
    REQUIRE(n.ok());
    CHECK(*n == 1);
    CHECK_FALSE(find(*s, "hard@example.com").has_value());
    CHECK(*s->count() == 2);
    auto a = audit(*s);
    REQUIRE(a.back().action == "expire");
    CHECK(a.back().entry.target == "hard@example.com");
    CHECK(a.back().entry.reason == Reason::HardBounce);
    CHECK(a.back().entry.expires == kNow + 10 * kDay);
    CHECK(a.back().why == "expired at " + formatTime(kNow + 10 * kDay));
}

TEST_CASE("store: transactions commit, roll back, and list and scan filter", "[suppression]") {
    TempDir dir;
    auto s = openStore(dir / "s.db");
    auto rolledBack = s->transaction([&] {
        add(*s, entry("a@example.com", Reason::Manual));
        return false;
    });
    REQUIRE(rolledBack.ok());
    CHECK_FALSE(*rolledBack);
    CHECK(*s->count() == 0);
    CHECK(*s->lastAuditId() == 0);

    auto committed = s->transaction([&] {
        add(*s, entry("b@example.com", Reason::Manual));
        add(*s, entry("a@example.com", Reason::HardBounce));
        add(*s, entry("@example.net", Reason::Legal, tenant("acme")));
        add(*s, entry("c@example.org", Reason::HardBounce, fromDomain("acme-mail.com")));
        return true;
    });
    REQUIRE(committed.ok());
    CHECK(*committed);
    CHECK(*s->count() == 4);
    std::string nested;
    auto outer = s->transaction([&] {
        auto inner = s->transaction([] { return true; });
        nested = inner ? std::string() : inner.error();
        return true;
    });
    CHECK(outer.ok());
    CHECK(nested.find("transactions do not nest") != std::string::npos);

    auto all = s->list(std::nullopt, std::nullopt, "", 0);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 4);
    CHECK((*all)[0].target == "@example.net");  // target order
    CHECK((*all)[1].target == "a@example.com");
    CHECK((*all)[3].target == "c@example.org");
    auto hard = s->list(std::nullopt, Reason::HardBounce, "", 0);
    REQUIRE(hard.ok());
    CHECK(hard->size() == 2);
    auto acme = s->list(tenant("acme"), std::nullopt, "", 0);
    REQUIRE(acme.ok());
    REQUIRE(acme->size() == 1);
    CHECK(acme->front().reason == Reason::Legal);
    auto prefixed = s->list(std::nullopt, std::nullopt, "a", 0);
    REQUIRE(prefixed.ok());
    REQUIRE(prefixed->size() == 1);
    CHECK(prefixed->front().target == "a@example.com");
    auto limited = s->list(std::nullopt, std::nullopt, "", 2);
    REQUIRE(limited.ok());
    CHECK(limited->size() == 2);

    size_t seen = 0;
    auto snapshot = s->forEach([&](const Entry&) { ++seen; });
    REQUIRE(snapshot.ok());
    CHECK(seen == 4);
    CHECK(*snapshot == *s->lastAuditId());
}

TEST_CASE("store: opening errors say what is wrong", "[suppression]") {
    TempDir dir;
    auto missing = Store::open(dir / "missing.db", true);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error() ==
          "suppression list " + (dir / "missing.db") +
              " does not exist (the first write, e.g. rampartctl suppress add or import, creates it)");
    auto noDir = Store::open(dir / "no/such/dir.db", false);
    REQUIRE_FALSE(noDir.ok());
    CHECK(noDir.error().find("create the directory first") != std::string::npos);

    std::ofstream(dir / "text.db") << "this is not a database, just some text that is long enough to have a header\n";
    auto text = Store::open(dir / "text.db", false);
    REQUIRE_FALSE(text.ok());
    CHECK(text.error().find("not a database") != std::string::npos);

    // An empty file (or one a writer has just created) is not a list for a reader.
    std::ofstream(dir / "empty.db").close();
    auto empty = Store::open(dir / "empty.db", true);
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().find("is empty") != std::string::npos);

    // Somebody else's SQLite database.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir / "other.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    auto other = Store::open(dir / "other.db", false);
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().find("not a Rampart suppression list") != std::string::npos);

    // A list written by a newer version.
    { openStore(dir / "new.db"); }
    REQUIRE(sqlite3_open((dir / "new.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    auto newer = Store::open(dir / "new.db", true);
    REQUIRE_FALSE(newer.ok());
    CHECK(newer.error().find("schema version 99, newer than this program's (1)") != std::string::npos);

    // A read-only handle does not write.
    { openStore(dir / "ro.db"); }
    auto ro = openStore(dir / "ro.db", true);
    CHECK(ro->add(entry("bob@example.com", Reason::Manual), "t", "").error().find("open read-only") !=
          std::string::npos);
    CHECK(ro->expire(kNow).error().find("open read-only") != std::string::npos);
}

TEST_CASE("store: the file is created mode 0640 in WAL mode", "[suppression]") {
    TempDir dir;
    const mode_t old = ::umask(077);
    { openStore(dir / "s.db"); }
    ::umask(old);
    struct stat st {};
    REQUIRE(::stat((dir / "s.db").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2((dir / "s.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(q, 0))) == "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
}
