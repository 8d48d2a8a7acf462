// The inside of SqliteStore, shared by its source files (sqlite_store.cpp: opening, the schema and
// writes; sqlite_store_reads.cpp: reads and the index's feeds): the connection, the prepared
// statements, the mutex, and the helpers that run a write or a read in a transaction.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "suppression/sqlite_store.h"
#include "util/sqlite.h"

namespace rampart::suppress {

constexpr const char* kEntryColumns = "target, scope, reason, source, created, expires, note";
constexpr const char* kAuditColumns = "id, at, action, target, scope, reason, source, created, expires, note, who, why";

struct SqliteStore::Impl {
    std::string path;
    bool readOnly = false;
    sqlite::Db db;
    mutable std::recursive_mutex mu;
    int txDepth = 0;      // inside transaction()
    std::string txError;  // the first failure inside transaction(): it will roll back
    sqlite::Statement findStmt, insertStmt, replaceStmt, deleteStmt, auditStmt, lastAuditStmt, auditSinceStmt,
        leanAuditStmt, leanScanStmt;

    // "suppression list PATH: WHAT: SQLite's message".
    util::Error fail(std::string_view what) const;
    // A helper's error (SQLite's message) as "suppression list PATH: message".
    util::Error named(const std::string& message) const;

    util::Result<bool> exec(const char* sql) const;
    util::Result<sqlite::Statement> prepare(const std::string& sql) const;

    // The entry in columns first.. first+6 (kEntryColumns); ok false when its scope or reason is unknown.
    static Entry rowEntry(const sqlite::Query& q, int first, bool& ok);
    util::Error badRow(const sqlite::Query& q, int first) const;

    util::Result<std::optional<Entry>> findLocked(std::string_view target, const std::string& scope) const;
    util::Result<bool> audit(std::string_view action, const Entry& e, int64_t at, std::string_view who,
                             std::string_view why);
    // An insert or update; true when it changed a row.
    util::Result<bool> write(const sqlite::Statement& s, const Entry& e);
    util::Result<int64_t> lastAuditLocked() const;

    // Runs a write: in its own IMMEDIATE transaction (the write lock taken up front, so two writers
    // never deadlock upgrading a read lock), or inside transaction(), whose first failure rolls it all back.
    template <typename T, typename Fn>
    util::Result<T> writing(Fn fn) {
        if (readOnly) return util::err("suppression list " + path + " is open read-only");
        if (txDepth > 0) {
            if (!txError.empty()) return util::err(txError);
            util::Result<T> r = fn();
            if (!r) txError = r.error();
            return r;
        }
        auto tx = sqlite::Transaction::begin(db, sqlite::Transaction::Mode::Immediate);
        if (!tx) return named(tx.error());
        util::Result<T> r = fn();
        if (!r) return r;  // rolled back by the guard
        if (auto c = tx.value().commit(); !c) return named(c.error());
        return r;
    }

    // A read in one snapshot: inside a transaction already, or in its own.
    template <typename T, typename Fn>
    util::Result<T> reading(Fn fn) const {
        if (txDepth > 0 || !db.autocommit()) return fn();
        auto tx = sqlite::Transaction::begin(db, sqlite::Transaction::Mode::Deferred);
        if (!tx) return named(tx.error());
        util::Result<T> r = fn();
        if (r) (void)tx.value().commit();
        return r;
    }

    util::Result<bool> init();
};

}  // namespace rampart::suppress
