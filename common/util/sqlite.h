// Small RAII wrappers over the SQLite C API, for the suppression store and ingestion's counters: a
// connection (Db), a prepared statement (Statement), one use of a statement (Query: binds, steps,
// reads columns, resets on destruction) and a transaction guard (Transaction: rolls back unless
// committed). Failures are util::Result errors carrying SQLite's own message (sqlite3_errmsg, or the
// text sqlite3_exec returned); callers prefix what they were doing. Nothing here throws, and no C
// callback is given anything that could.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace rampart::sqlite {

class Statement;

// An open connection; closed (sqlite3_close_v2) on destruction. Movable, not copyable.
class Db {
  public:
    Db() = default;
    // sqlite3_open_v2 with `flags` (SQLITE_OPEN_...); a busy timeout when busyTimeoutMs > 0. The error
    // is SQLite's message ("unable to open database file", ...).
    static util::Result<Db> open(const std::string& path, int flags, int busyTimeoutMs = 0);

    sqlite3* get() const { return db_.get(); }
    explicit operator bool() const { return db_ != nullptr; }

    // Runs a script of one or more statements (sqlite3_exec).
    util::Result<bool> exec(const char* sql) const;
    // Prepares one statement; `prepareFlags` as for sqlite3_prepare_v3 (SQLITE_PREPARE_PERSISTENT for
    // one kept and reused).
    util::Result<Statement> prepare(std::string_view sql, unsigned prepareFlags = 0) const;

    std::string errmsg() const;
    int errcode() const;  // the (extended, when enabled) code of the last failure
    int64_t changes() const;
    bool autocommit() const;  // true when no transaction is open

  private:
    struct Close {
        void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
    };
    std::unique_ptr<sqlite3, Close> db_;
};

// A prepared statement; finalized on destruction. Use it through a Query; reusable after each use.
class Statement {
  public:
    Statement() = default;
    explicit Statement(sqlite3_stmt* s) : s_(s) {}
    sqlite3_stmt* get() const { return s_.get(); }
    explicit operator bool() const { return s_ != nullptr; }
    void reset() const;  // back to the start, bindings cleared

  private:
    struct Finalize {
        void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
    };
    std::unique_ptr<sqlite3_stmt, Finalize> s_;
};

// One use of a prepared statement: binds, steps and reads columns; on destruction it is reset (so it
// holds no read snapshot or lock after use) and its bindings cleared.
class Query {
  public:
    explicit Query(sqlite3_stmt* s) : s_(s) {}
    explicit Query(const Statement& s) : s_(s.get()) {}
    ~Query();
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    // Bound as a copy.
    Query& text(int i, std::string_view v);
    // Bound without a copy: `v` must stay valid until this Query is destroyed (the hot paths bind
    // the caller's strings; copying each cost a fifth of an import's time).
    Query& ref(int i, std::string_view v);
    Query& i64(int i, int64_t v);
    Query& opt(int i, const std::optional<int64_t>& v);  // NULL when empty
    // SQLITE_ROW, SQLITE_DONE or an error code (a failed bind is reported here).
    int step();

    std::string_view col(int c) const;  // text (empty for NULL); valid until the next step
    int64_t colI64(int c) const;
    std::optional<int64_t> colOpt(int c) const;  // none for NULL

  private:
    void note(int rc) {
        if (rc != SQLITE_OK && bindRc_ == SQLITE_OK) bindRc_ = rc;
    }
    sqlite3_stmt* s_;
    int bindRc_ = SQLITE_OK;
};

// A transaction: BEGIN on begin(), COMMIT on commit(), ROLLBACK on rollback() or on destruction when
// neither succeeded. Movable (a moved-from guard does nothing).
class Transaction {
  public:
    // Immediate takes the write lock up front (two writers never deadlock upgrading a read lock);
    // Deferred (plain BEGIN) is for a read in one snapshot.
    enum class Mode { Deferred, Immediate };
    static util::Result<Transaction> begin(const Db& db, Mode mode = Mode::Immediate);
    Transaction(Transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    ~Transaction() { rollback(); }

    // Commits; on failure the transaction is still open (the destructor, or rollback(), ends it).
    util::Result<bool> commit();
    void rollback() noexcept;
    bool active() const { return db_ != nullptr; }

  private:
    explicit Transaction(const Db* db) : db_(db) {}
    const Db* db_;
};

}  // namespace rampart::sqlite
