// The RAII wrappers over the SQLite C API declared in util/sqlite.h: opening and closing a
// connection, preparing and finalizing statements, binding and reading in a Query, and the
// transaction guard. Errors become util::Result errors with SQLite's message.
#include "util/sqlite.h"

namespace rampart::sqlite {

util::Result<Db> Db::open(const std::string& path, int flags, int busyTimeoutMs) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    Db db;
    db.db_.reset(raw);  // closed on return when the open failed (SQLite may allocate a handle anyway)
    if (rc != SQLITE_OK) return util::err(raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    if (busyTimeoutMs > 0) sqlite3_busy_timeout(raw, busyTimeoutMs);
    return db;
}

util::Result<bool> Db::exec(const char* sql) const {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, &msg);
    if (rc != SQLITE_OK) {
        std::string m = msg != nullptr ? msg : sqlite3_errstr(rc);
        sqlite3_free(msg);
        return util::err(m);
    }
    return true;
}

util::Result<Statement> Db::prepare(std::string_view sql, unsigned prepareFlags) const {
    sqlite3_stmt* s = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), prepareFlags, &s, nullptr);
    Statement st(s);  // finalized on return when preparing failed
    if (rc != SQLITE_OK) return util::err(errmsg());
    if (!st) return util::err("no SQL statement in \"" + std::string(sql) + "\"");
    return st;
}

std::string Db::errmsg() const {
    return db_ ? sqlite3_errmsg(db_.get()) : "no database connection";
}

int Db::errcode() const {
    return db_ ? sqlite3_extended_errcode(db_.get()) : SQLITE_MISUSE;
}

int64_t Db::changes() const {
    return sqlite3_changes64(db_.get());
}

bool Db::autocommit() const {
    return sqlite3_get_autocommit(db_.get()) != 0;
}

void Statement::reset() const {
    sqlite3_reset(s_.get());
    sqlite3_clear_bindings(s_.get());
}

Query::~Query() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
}

Query& Query::text(int i, std::string_view v) {
    // An empty view may have no data pointer, which SQLite would bind as NULL.
    note(sqlite3_bind_text(s_, i, v.data() != nullptr ? v.data() : "", static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
}

Query& Query::ref(int i, std::string_view v) {
    note(sqlite3_bind_text(s_, i, v.data() != nullptr ? v.data() : "", static_cast<int>(v.size()), SQLITE_STATIC));
    return *this;
}

Query& Query::i64(int i, int64_t v) {
    note(sqlite3_bind_int64(s_, i, v));
    return *this;
}

Query& Query::opt(int i, const std::optional<int64_t>& v) {
    note(v ? sqlite3_bind_int64(s_, i, *v) : sqlite3_bind_null(s_, i));
    return *this;
}

int Query::step() {
    return bindRc_ != SQLITE_OK ? bindRc_ : sqlite3_step(s_);
}

std::string_view Query::col(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
    return p == nullptr ? std::string_view() : std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s_, c)));
}

int64_t Query::colI64(int c) const {
    return sqlite3_column_int64(s_, c);
}

std::optional<int64_t> Query::colOpt(int c) const {
    if (sqlite3_column_type(s_, c) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(s_, c);
}

util::Result<Transaction> Transaction::begin(const Db& db, Mode mode) {
    if (auto b = db.exec(mode == Mode::Immediate ? "BEGIN IMMEDIATE" : "BEGIN"); !b) return util::err(b.error());
    return Transaction(&db);
}

util::Result<bool> Transaction::commit() {
    if (db_ == nullptr) return util::err("no transaction to commit");
    if (auto c = db_->exec("COMMIT"); !c) return c;
    db_ = nullptr;
    return true;
}

void Transaction::rollback() noexcept {
    if (db_ == nullptr) return;
    try {
        (void)db_->exec("ROLLBACK");
    } catch (...) {
        // Only an allocation failure for the error text: the rollback itself was attempted.
    }
    db_ = nullptr;
}

}  // namespace rampart::sqlite
