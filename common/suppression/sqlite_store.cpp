// The SQLite suppression store: opening (file mode, WAL, schema creation and version check), the
// connection's helpers, and the writes (add with its merge rules, remove with force for sticky
// reasons, bulk transactions, expiry), each audited in the same transaction.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "suppression/internal.h"
#include "suppression/sqlite_store_impl.h"
#include "util/unix_time.h"

namespace rampart::suppress {

namespace {

using detail::canonicalEntry;
using detail::kQuotedMax;
using detail::scopeKey;
using sqlite::Query;

constexpr int kSchemaVersion = 1;

// The scope column as written by this code ("global", "tenant:x", "from_domain:x"): no IDNA
// conversion or validation, it was done on the way in (and the schema's CHECK enforces the form).
std::optional<Scope> parseStoredScope(std::string_view s) {
    if (s == "global") return Scope{};
    if (s.substr(0, 7) == "tenant:" && s.size() > 7) return Scope{Scope::Kind::Tenant, std::string(s.substr(7))};
    if (s.substr(0, 12) == "from_domain:" && s.size() > 12) {
        return Scope{Scope::Kind::FromDomain, std::string(s.substr(12))};
    }
    return std::nullopt;
}

constexpr const char* kSchema = R"sql(
CREATE TABLE entries (
    target  TEXT NOT NULL CHECK (length(target) > 1 AND instr(target, '@') > 0),
    scope   TEXT NOT NULL CHECK (scope = 'global' OR scope GLOB 'tenant:?*' OR scope GLOB 'from_domain:?*'),
    -- Comparisons rather than IN (...): SQLite builds an ephemeral B-tree per row for an IN list.
    reason  TEXT NOT NULL CHECK (reason = 'hard_bounce' OR reason = 'soft_bounce' OR reason = 'complaint' OR
                                 reason = 'unsubscribe' OR reason = 'manual' OR reason = 'legal'),
    source  TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL,
    expires INTEGER,
    note    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (target, scope)  -- UNIQUE (target, scope), and the table's one B-tree
) WITHOUT ROWID;
CREATE INDEX entries_expires ON entries (expires) WHERE expires IS NOT NULL;
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    action  TEXT NOT NULL CHECK (action = 'add' OR action = 'update' OR action = 'remove' OR action = 'expire'),
    target  TEXT NOT NULL,
    scope   TEXT NOT NULL,
    reason  TEXT NOT NULL,
    source  TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER,
    note    TEXT NOT NULL,
    who     TEXT NOT NULL,
    why     TEXT NOT NULL
);
CREATE INDEX audit_target ON audit (target);
PRAGMA user_version = 1;
)sql";

// The bulk page cache of a write transaction (imports), and the default of every other moment: a
// long-running writer (the one-click endpoint) must not keep 256 MB of pages.
constexpr const char* kBulkCache = "PRAGMA cache_size = -262144";
constexpr const char* kNormalCache = "PRAGMA cache_size = -2000";

}  // namespace

// ------------------------------------------------------------------------------ the connection

util::Error SqliteStore::Impl::fail(std::string_view what) const {
    return util::err("suppression list " + path + ": " + std::string(what) + ": " + db.errmsg());
}

util::Error SqliteStore::Impl::named(const std::string& message) const {
    return util::err("suppression list " + path + ": " + message);
}

util::Result<bool> SqliteStore::Impl::exec(const char* sql) const {
    if (auto r = db.exec(sql); !r) return named(r.error());
    return true;
}

util::Result<sqlite::Statement> SqliteStore::Impl::prepare(const std::string& sql) const {
    auto st = db.prepare(sql, SQLITE_PREPARE_PERSISTENT);
    if (!st) return fail("preparing a statement");
    return st;
}

Entry SqliteStore::Impl::rowEntry(const Query& q, int first, bool& ok) {
    Entry e;
    e.target = std::string(q.col(first));
    auto scope = parseStoredScope(q.col(first + 1));
    auto reason = parseReason(q.col(first + 2));
    ok = scope && reason;
    if (scope) e.scope = std::move(*scope);
    if (reason) e.reason = *reason;
    e.source = std::string(q.col(first + 3));
    e.created = q.colI64(first + 4);
    e.expires = q.colOpt(first + 5);
    e.note = std::string(q.col(first + 6));
    return e;
}

util::Error SqliteStore::Impl::badRow(const Query& q, int first) const {
    return util::err("suppression list " + path + ": malformed entry " + util::quoted(q.col(first), kQuotedMax) +
                     " (scope " + util::quoted(q.col(first + 1), kQuotedMax) + ", reason " +
                     util::quoted(q.col(first + 2), kQuotedMax) + ")");
}

util::Result<std::optional<Entry>> SqliteStore::Impl::findLocked(std::string_view target,
                                                                 const std::string& scope) const {
    Query q(findStmt.get());
    q.ref(1, target).ref(2, scope);
    int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<Entry>();
    if (rc != SQLITE_ROW) return fail("reading an entry");
    bool ok = false;
    Entry e = rowEntry(q, 0, ok);
    if (!ok) return badRow(q, 0);
    return std::optional<Entry>(std::move(e));
}

util::Result<bool> SqliteStore::Impl::audit(std::string_view action, const Entry& e, int64_t at, std::string_view who,
                                            std::string_view why) {
    const std::string scope = e.scope.str();
    Query q(auditStmt.get());
    q.i64(1, at).ref(2, action).ref(3, e.target).ref(4, scope).ref(5, reasonName(e.reason));
    q.ref(6, e.source).i64(7, e.created).opt(8, e.expires).ref(9, e.note).ref(10, who).ref(11, why);
    if (q.step() != SQLITE_DONE) return fail("writing the audit trail");
    return true;
}

util::Result<bool> SqliteStore::Impl::write(const sqlite::Statement& s, const Entry& e) {
    const std::string scope = e.scope.str();
    Query q(s);
    q.ref(1, e.target).ref(2, scope).ref(3, reasonName(e.reason)).ref(4, e.source);
    q.i64(5, e.created).opt(6, e.expires).ref(7, e.note);
    if (q.step() != SQLITE_DONE) return fail("writing an entry");
    return db.changes() > 0;
}

util::Result<int64_t> SqliteStore::Impl::lastAuditLocked() const {
    Query q(lastAuditStmt.get());
    if (q.step() != SQLITE_ROW) return fail("reading the audit trail");
    return q.colI64(0);
}

// ------------------------------------------------------------------------------ opening

util::Result<bool> SqliteStore::Impl::init() {
    sqlite3* raw = db.get();
    sqlite3_extended_result_codes(raw, 1);
    // Keep the -wal and -shm files when the last connection closes: a read-only connection (the
    // daemons, which may not be able to create files in the directory) can then always open them.
    int persist = 1;
    sqlite3_file_control(raw, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    if (!readOnly) {
        auto mode = db.prepare("PRAGMA journal_mode = WAL");
        if (!mode) return fail("opening");
        Query q(*mode);
        if (q.step() != SQLITE_ROW) return fail("switching to WAL mode");
        std::string m(q.col(0));
        if (m != "wal") return util::err("suppression list " + path + ": cannot use WAL mode (journal mode " + m + ")");
        for (const char* sql : {"PRAGMA synchronous = FULL", "PRAGMA journal_size_limit = 67108864", kNormalCache}) {
            if (auto r = exec(sql); !r) return r;
        }
    }
    auto userVersion = [this]() -> util::Result<int64_t> {
        auto st = prepare("PRAGMA user_version");
        if (!st) return util::err(st.error());
        Query q(st->get());
        if (q.step() != SQLITE_ROW) return fail("reading the schema version");
        return q.colI64(0);
    };
    auto objects = [this]() -> util::Result<int64_t> {
        auto st = prepare("SELECT count(*) FROM sqlite_master");
        if (!st) return util::err(st.error());
        Query q(st->get());
        if (q.step() != SQLITE_ROW) return fail("reading the schema");
        return q.colI64(0);
    };
    auto version = userVersion();
    if (!version) return util::err(version.error());
    if (*version == 0) {
        if (readOnly) {
            auto n = objects();
            if (!n) return util::err(n.error());
            return util::err("suppression list " + path +
                             (*n == 0
                                  ? std::string(" is empty (the first write, e.g. rampartctl suppress add, creates it)")
                                  : std::string(" is an SQLite database but not a Rampart suppression list")));
        }
        // Rolled back on every return before the commit.
        auto tx = sqlite::Transaction::begin(db, sqlite::Transaction::Mode::Immediate);
        if (!tx) return named(tx.error());
        // Another writer may have created it since we looked.
        auto again = userVersion();
        auto n = objects();
        if (!again || !n) return util::err(!again ? again.error() : n.error());
        if (*again == 0 && *n != 0) {
            return util::err("suppression list " + path + " is an SQLite database but not a Rampart suppression list");
        }
        if (*again == 0) {
            if (auto r = exec(kSchema); !r) return r;
        }
        if (auto c = tx.value().commit(); !c) return named(c.error());
        version = userVersion();
        if (!version) return util::err(version.error());
    }
    if (*version > kSchemaVersion) {
        return util::err("suppression list " + path + " has schema version " + std::to_string(*version) +
                         ", newer than this program's (" + std::to_string(kSchemaVersion) + "): upgrade Rampart");
    }
    const std::string cols = kEntryColumns;
    struct {
        sqlite::Statement* slot;
        std::string sql;
    } stmts[] = {
        {&findStmt, "SELECT " + cols + " FROM entries WHERE target = ?1 AND scope = ?2"},
        {&insertStmt, "INSERT INTO entries (" + cols +
                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (target, scope) DO NOTHING"},
        {&replaceStmt,
         "UPDATE entries SET reason = ?3, source = ?4, created = ?5, expires = ?6, note = ?7 "
         "WHERE target = ?1 AND scope = ?2"},
        {&deleteStmt, "DELETE FROM entries WHERE target = ?1 AND scope = ?2"},
        {&auditStmt,
         "INSERT INTO audit (at, action, target, scope, reason, source, created, expires, note, who, why) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
        {&lastAuditStmt, "SELECT coalesce(max(id), 0) FROM audit"},
        {&auditSinceStmt, std::string("SELECT ") + kAuditColumns + " FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2"},
        {&leanAuditStmt,
         "SELECT id, action, target, scope, reason, expires FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2"},
        {&leanScanStmt, "SELECT target, scope, reason, expires FROM entries"},
    };
    for (auto& s : stmts) {
        auto st = prepare(s.sql);
        if (!st) return util::err(st.error());
        *s.slot = std::move(st).value();
    }
    return true;
}

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

const std::string& SqliteStore::path() const {
    return impl_->path;
}

util::Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path, bool readOnly) {
    if (path.empty()) return util::err("no suppression list path");
    struct stat st {};
    if (readOnly) {
        if (::stat(path.c_str(), &st) != 0) {
            if (errno == ENOENT) {
                return util::err(
                    "suppression list " + path +
                    " does not exist (the first write, e.g. rampartctl suppress add or import, creates it)");
            }
            return util::err("suppression list " + path + ": " + std::strerror(errno));
        }
    } else {
        // Created here rather than by SQLite, to get mode 0640 whatever the umask: the daemons read it
        // through the group. SQLite gives the -wal and -shm files the same mode and owner.
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd >= 0) {
            ::fchmod(fd, 0640);
            ::close(fd);
        } else if (errno != EEXIST) {
            int e = errno;
            std::string msg = "cannot create suppression list " + path + ": " + std::strerror(e);
            if (e == ENOENT) {
                size_t slash = path.rfind('/');
                std::string dir = slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
                msg += " (create the directory first: install -d -o rampart -g rampart -m 0750 " + dir + ")";
            }
            return util::err(msg);
        }
    }
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->readOnly = readOnly;
    const int flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
    auto db = sqlite::Db::open(path, flags, 5000);
    if (!db) return util::err("cannot open suppression list " + path + ": " + db.error());
    impl->db = std::move(db).value();
    if (auto r = impl->init(); !r) {
        const int code = impl->db.errcode() & 0xFF;
        if (readOnly && (code == SQLITE_READONLY || code == SQLITE_CANTOPEN)) {
            // WAL mode: a read-only connection needs the -wal and -shm files, or the right to create them.
            return util::err(r.error() + " (a read-only reader needs " + path + "-wal and " + path +
                             "-shm, or write access to their directory: any write as root recreates them, e.g. "
                             "rampartctl suppress expire; better, give the directory to rampart_user)");
        }
        return util::err(r.error());
    }
    return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

// ------------------------------------------------------------------------------ writes

util::Result<AddOutcome> SqliteStore::add(const Entry& in, std::string_view who, std::string_view why) {
    const int64_t at = util::unixNow();
    auto canon = canonicalEntry(in, at);
    if (!canon) return util::err(canon.error());
    const Entry& e = *canon;
    std::lock_guard lock(impl_->mu);
    return impl_->writing<AddOutcome>([&]() -> util::Result<AddOutcome> {
        // Most adds are new (imports, bounces): insert first, and look only when the key is taken.
        auto inserted = impl_->write(impl_->insertStmt, e);
        if (!inserted) return util::err(inserted.error());
        if (*inserted) {
            if (auto a = impl_->audit("add", e, at, who, why); !a) return util::err(a.error());
            return AddOutcome::Added;
        }
        auto existing = impl_->findLocked(e.target, e.scope.str());
        if (!existing) return util::err(existing.error());
        // An entry whose expiry passed (and that expire() has not removed yet) no longer suppresses:
        // the new one takes its place whole.
        if (!*existing || ((*existing)->expires && *(*existing)->expires <= e.created)) {
            auto w = impl_->write(impl_->replaceStmt, e);
            if (!w) return util::err(w.error());
            if (auto a = impl_->audit("add", e, at, who, why); !a) return util::err(a.error());
            return AddOutcome::Added;
        }
        Entry merged = **existing;
        bool changed = false;
        if (strength(e.reason) > strength(merged.reason)) {
            merged.reason = e.reason;
            merged.created = e.created;
            merged.source = e.source;
            if (!e.note.empty()) merged.note = e.note;
            changed = true;
        }
        if (merged.expires && (!e.expires || *e.expires > *merged.expires)) {
            merged.expires = e.expires;
            changed = true;
        }
        if (!changed) return AddOutcome::AlreadyThere;
        if (auto w = impl_->write(impl_->replaceStmt, merged); !w) return util::err(w.error());
        if (auto a = impl_->audit("update", merged, at, who, why); !a) return util::err(a.error());
        return AddOutcome::Updated;
    });
}

util::Result<RemoveOutcome> SqliteStore::remove(std::string_view target, const Scope& scope, std::string_view who,
                                                std::string_view why, bool force) {
    const int64_t at = util::unixNow();
    const std::string scopeStr = scopeKey(scope);
    std::lock_guard lock(impl_->mu);
    return impl_->writing<RemoveOutcome>([&]() -> util::Result<RemoveOutcome> {
        auto existing = impl_->findLocked(target, scopeStr);
        if (!existing) return util::err(existing.error());
        if (!*existing) return RemoveOutcome::NotFound;
        if (sticky((*existing)->reason) && !force) return RemoveOutcome::NeedsForce;
        {
            Query q(impl_->deleteStmt.get());
            q.text(1, target).text(2, scopeStr);
            if (q.step() != SQLITE_DONE) return impl_->fail("removing an entry");
        }
        if (auto a = impl_->audit("remove", **existing, at, who, why); !a) return util::err(a.error());
        return RemoveOutcome::Removed;
    });
}

util::Result<bool> SqliteStore::transaction(const std::function<bool()>& body) {
    std::lock_guard lock(impl_->mu);
    Impl& im = *impl_;
    if (im.readOnly) return util::err("suppression list " + im.path + " is open read-only");
    if (im.txDepth > 0) return util::err("suppression list " + im.path + ": transactions do not nest");
    auto begun = sqlite::Transaction::begin(im.db, sqlite::Transaction::Mode::Immediate);
    if (!begun) return im.named(begun.error());
    sqlite::Transaction tx = std::move(begun).value();
    im.exec(kBulkCache);
    im.txDepth = 1;
    im.txError.clear();
    // Whatever happens in body (an exception included), the transaction ends here: rolled back unless
    // committed, then the normal page cache again.
    struct End {
        Impl& im;
        sqlite::Transaction& tx;
        ~End() {
            tx.rollback();
            im.txDepth = 0;
            im.exec(kNormalCache);
        }
    } end{im, tx};
    bool commit = body();
    if (!im.txError.empty()) return util::err(im.txError);
    if (!commit) return false;
    if (auto c = tx.commit(); !c) return im.named(c.error());
    return true;
}

util::Result<size_t> SqliteStore::expire(int64_t now) {
    const int64_t at = util::unixNow();
    std::lock_guard lock(impl_->mu);
    return impl_->writing<size_t>([&]() -> util::Result<size_t> {
        auto ins = impl_->prepare(
            "INSERT INTO audit (at, action, target, scope, reason, source, created, expires, note, who, why) "
            "SELECT ?1, 'expire', target, scope, reason, source, created, expires, note, 'rampart', "
            "'expired at ' || strftime('%Y-%m-%dT%H:%M:%SZ', expires, 'unixepoch') "
            "FROM entries WHERE expires IS NOT NULL AND expires <= ?2 ORDER BY expires, target");
        if (!ins) return util::err(ins.error());
        {
            Query q(ins->get());
            q.i64(1, at).i64(2, now);
            if (q.step() != SQLITE_DONE) return impl_->fail("writing the audit trail");
        }
        auto del = impl_->prepare("DELETE FROM entries WHERE expires IS NOT NULL AND expires <= ?1");
        if (!del) return util::err(del.error());
        Query q(del->get());
        q.i64(1, now);
        if (q.step() != SQLITE_DONE) return impl_->fail("removing expired entries");
        return static_cast<size_t>(impl_->db.changes());
    });
}

}  // namespace rampart::suppress
