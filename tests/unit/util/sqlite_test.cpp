// The SQLite RAII helper (util/sqlite.h): a transaction guard rolls back unless committed, a prepared
// statement is reused across Queries, and failures (bad SQL, a file that cannot be opened, a failed
// step) come back as Result errors carrying SQLite's message.
#include "util/sqlite.h"

#include <catch2/catch.hpp>
#include <string>

#include "temp_dir.h"

using namespace rampart;

namespace {

struct TempDir : test::TempDir {
    TempDir() : test::TempDir("sqlite") {}
};

sqlite::Db openDb(const std::string& path) {
    auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
    INFO((db ? std::string() : db.error()));
    REQUIRE(db.ok());
    return std::move(db).value();
}

int64_t countRows(const sqlite::Db& db) {
    auto st = db.prepare("SELECT count(*) FROM t");
    REQUIRE(st.ok());
    sqlite::Query q(*st);
    REQUIRE(q.step() == SQLITE_ROW);
    return q.colI64(0);
}

}  // namespace

TEST_CASE("sqlite: a transaction guard rolls back on destruction unless committed", "[sqlite]") {
    TempDir dir;
    auto db = openDb(dir / "t.db");
    REQUIRE(db.exec("CREATE TABLE t (x INTEGER)").ok());

    {
        auto tx = sqlite::Transaction::begin(db);
        REQUIRE(tx.ok());
        CHECK(tx->active());
        CHECK_FALSE(db.autocommit());
        REQUIRE(db.exec("INSERT INTO t VALUES (1)").ok());
        CHECK(countRows(db) == 1);
    }  // no commit: rolled back
    CHECK(db.autocommit());
    CHECK(countRows(db) == 0);

    {
        auto tx = sqlite::Transaction::begin(db, sqlite::Transaction::Mode::Deferred);
        REQUIRE(tx.ok());
        REQUIRE(db.exec("INSERT INTO t VALUES (2)").ok());
        auto c = tx.value().commit();
        REQUIRE(c.ok());
        CHECK_FALSE(tx->active());
    }
    CHECK(countRows(db) == 1);

    {
        auto tx = sqlite::Transaction::begin(db);
        REQUIRE(tx.ok());
        REQUIRE(db.exec("INSERT INTO t VALUES (3)").ok());
        tx.value().rollback();
        CHECK(db.autocommit());
    }
    CHECK(countRows(db) == 1);

    // A transaction cannot begin inside another: the error is SQLite's.
    auto outer = sqlite::Transaction::begin(db);
    REQUIRE(outer.ok());
    auto inner = sqlite::Transaction::begin(db);
    REQUIRE_FALSE(inner.ok());
    CHECK(inner.error().find("within a transaction") != std::string::npos);
}

TEST_CASE("sqlite: a prepared statement is reused, each Query resetting it", "[sqlite]") {
    TempDir dir;
    auto db = openDb(dir / "t.db");
    REQUIRE(db.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER, e INTEGER)").ok());
    auto ins = db.prepare("INSERT INTO t (k, v, e) VALUES (?1, ?2, ?3)", SQLITE_PREPARE_PERSISTENT);
    REQUIRE(ins.ok());
    const std::string kept = "b";
    for (int i = 0; i < 3; ++i) {
        sqlite::Query q(*ins);
        if (i == 1) {
            q.ref(1, kept);
        } else {
            q.text(1, std::string(1, static_cast<char>('a' + i)));
        }
        q.i64(2, 10 * i).opt(3, i == 2 ? std::optional<int64_t>(7) : std::nullopt);
        REQUIRE(q.step() == SQLITE_DONE);
        CHECK(db.changes() == 1);
    }

    auto sel = db.prepare("SELECT v, e FROM t WHERE k = ?1");
    REQUIRE(sel.ok());
    for (const char* k : {"a", "c", "b"}) {
        sqlite::Query q(*sel);
        q.text(1, k);
        REQUIRE(q.step() == SQLITE_ROW);
        const int64_t v = q.colI64(0);
        CHECK(v == (k[0] - 'a') * 10);
        CHECK(q.colOpt(1) == (k[0] == 'c' ? std::optional<int64_t>(7) : std::nullopt));
        CHECK(q.step() == SQLITE_DONE);
    }
    // After a Query the statement holds no bindings: an unbound parameter is NULL.
    {
        sqlite::Query q(*sel);
        CHECK(q.step() == SQLITE_DONE);
    }
    // A duplicate key fails at step; the statement still works afterwards.
    {
        sqlite::Query q(*ins);
        q.text(1, "a").i64(2, 0).opt(3, std::nullopt);
        CHECK((q.step() & 0xFF) == SQLITE_CONSTRAINT);
        CHECK(db.errmsg().find("UNIQUE") != std::string::npos);
    }
    {
        sqlite::Query q(*ins);
        q.text(1, "d").i64(2, 30).opt(3, std::nullopt);
        CHECK(q.step() == SQLITE_DONE);
    }
    auto text = db.prepare("SELECT k FROM t ORDER BY k");
    REQUIRE(text.ok());
    std::string all;
    sqlite::Query q(*text);
    while (q.step() == SQLITE_ROW)
        all += q.col(0);
    CHECK(all == "abcd");
}

TEST_CASE("sqlite: failures are Result errors with SQLite's message", "[sqlite]") {
    TempDir dir;
    auto db = openDb(dir / "t.db");

    auto bad = db.prepare("SELEKT 1");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().find("syntax error") != std::string::npos);

    auto missing = db.exec("INSERT INTO nosuchtable VALUES (1)");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().find("no such table: nosuchtable") != std::string::npos);

    auto unopenable = sqlite::Db::open(dir / "no/such/dir/t.db", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    REQUIRE_FALSE(unopenable.ok());
    CHECK(unopenable.error() == "unable to open database file");

    auto readOnlyMissing = sqlite::Db::open(dir / "absent.db", SQLITE_OPEN_READONLY);
    REQUIRE_FALSE(readOnlyMissing.ok());
    CHECK(readOnlyMissing.error() == "unable to open database file");

    // Committing twice: the second has nothing to commit.
    auto tx = sqlite::Transaction::begin(db);
    REQUIRE(tx.ok());
    REQUIRE(tx.value().commit().ok());
    CHECK_FALSE(tx.value().commit().ok());
}
