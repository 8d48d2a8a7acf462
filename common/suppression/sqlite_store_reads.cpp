// The SQLite suppression store's reads: find, list/scan with filters, counts, the audit trail,
// snapshots for export, a recipient's matching entries, and the two feeds of the in-memory index
// (every entry's key in one snapshot, with the file read ahead meanwhile; the trail as key changes).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <system_error>
#include <thread>

#include "suppression/internal.h"
#include "suppression/sqlite_store_impl.h"
#include "util/strings.h"

namespace rampart::suppress {

namespace {

using detail::Probe;
using detail::probes;
using detail::scopeKey;
using detail::scopeText;
using sqlite::Query;

AuditRecord auditRow(const Query& q, bool& ok) {
    AuditRecord a;
    a.id = q.colI64(0);
    a.at = q.colI64(1);
    a.action = std::string(q.col(2));
    a.entry = SqliteStore::Impl::rowEntry(q, 3, ok);
    a.who = std::string(q.col(10));
    a.why = std::string(q.col(11));
    return a;
}

int64_t sqlLimit(size_t max) {
    return max == 0 ? -1 : static_cast<int64_t>(std::min<size_t>(max, std::numeric_limits<int64_t>::max()));
}

// A reason column as this code writes it (exact names, no aliases).
std::optional<Reason> storedReason(std::string_view s) {
    for (Reason r : {Reason::HardBounce, Reason::SoftBounce, Reason::Complaint, Reason::Unsubscribe, Reason::Manual,
                     Reason::Legal}) {
        if (reasonName(r) == s) return r;
    }
    return std::nullopt;
}

// The scope column without allocating: kind and value.
bool storedScope(std::string_view s, Scope::Kind& kind, std::string_view& value) {
    if (s == "global") {
        kind = Scope::Kind::Global;
        value = {};
        return true;
    }
    if (s.size() > 7 && s.substr(0, 7) == "tenant:") {
        kind = Scope::Kind::Tenant;
        value = s.substr(7);
        return true;
    }
    if (s.size() > 12 && s.substr(0, 12) == "from_domain:") {
        kind = Scope::Kind::FromDomain;
        value = s.substr(12);
        return true;
    }
    return false;
}

// Reads the file `path` ahead sequentially (readahead(2): into the page cache, no copy) in a helper
// thread until destroyed. The entries are read in key order, which after random inserts is scattered
// over the file: when the file is not in the page cache, that is one small random read after
// another; with the warmer most of them find the pages there.
class FileWarmer {
  public:
    explicit FileWarmer(const std::string& path) {
        try {
            thread_ = std::thread([this, path] {
                int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
                if (fd < 0) return;
                struct stat fs {};
                if (::fstat(fd, &fs) == 0) {
                    constexpr off_t kChunk = 8 << 20;
                    for (off_t off = 0; off < fs.st_size && !done_.load(std::memory_order_relaxed); off += kChunk) {
                        ::readahead(fd, off, static_cast<size_t>(kChunk));
                    }
                }
                ::close(fd);
            });
        } catch (const std::system_error&) {
            // No thread to spare: the load is only slower.
        }
    }
    ~FileWarmer() {
        done_ = true;
        if (thread_.joinable()) thread_.join();
    }
    FileWarmer(const FileWarmer&) = delete;
    FileWarmer& operator=(const FileWarmer&) = delete;

  private:
    std::atomic<bool> done_{false};
    std::thread thread_;
};

}  // namespace

util::Result<std::optional<Entry>> SqliteStore::find(std::string_view target, const Scope& scope) const {
    const std::string scopeStr = scopeKey(scope);
    std::lock_guard lock(impl_->mu);
    return impl_->findLocked(target, scopeStr);
}

util::Result<size_t> SqliteStore::scan(std::optional<Scope> scope, std::optional<Reason> reason,
                                       std::string_view targetPrefix, size_t limit,
                                       const std::function<void(const Entry&)>& f) const {
    std::string sql = std::string("SELECT ") + kEntryColumns + " FROM entries WHERE 1";
    if (scope) sql += " AND scope = ?1";
    if (reason) sql += " AND reason = ?2";
    // A byte range rather than LIKE (case-insensitive, with wildcards): it also uses the index.
    if (!targetPrefix.empty()) sql += " AND target >= ?3 AND target < ?4";
    sql += " ORDER BY target, scope";
    if (limit > 0) sql += " LIMIT ?5";
    std::lock_guard lock(impl_->mu);
    auto st = impl_->prepare(sql);
    if (!st) return util::err(st.error());
    Query q(st->get());
    if (scope) q.text(1, scopeKey(*scope));
    if (reason) q.text(2, reasonName(*reason));
    if (!targetPrefix.empty()) {
        // 0xFF never occurs in UTF-8, so prefix + 0xFF is above every target starting with prefix.
        q.text(3, targetPrefix).text(4, std::string(targetPrefix) + '\xff');
    }
    if (limit > 0) q.i64(5, static_cast<int64_t>(std::min<size_t>(limit, std::numeric_limits<int64_t>::max())));
    size_t n = 0;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        bool ok = false;
        Entry e = Impl::rowEntry(q, 0, ok);
        if (!ok) return impl_->badRow(q, 0);
        f(e);
        ++n;
    }
    if (rc != SQLITE_DONE) return impl_->fail("listing entries");
    return n;
}

util::Result<size_t> SqliteStore::count() const {
    std::lock_guard lock(impl_->mu);
    auto st = impl_->prepare("SELECT count(*) FROM entries");
    if (!st) return util::err(st.error());
    Query q(st->get());
    if (q.step() != SQLITE_ROW) return impl_->fail("counting entries");
    return static_cast<size_t>(q.colI64(0));
}

util::Result<std::vector<AuditRecord>> SqliteStore::auditSince(int64_t afterId, size_t max) const {
    std::lock_guard lock(impl_->mu);
    Query q(impl_->auditSinceStmt.get());
    q.i64(1, afterId).i64(2, sqlLimit(max));
    std::vector<AuditRecord> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        bool ok = false;
        out.push_back(auditRow(q, ok));
        // A record with an unknown reason or scope is still shown (it is history), as it was stored.
    }
    if (rc != SQLITE_DONE) return impl_->fail("reading the audit trail");
    return out;
}

util::Result<std::vector<AuditRecord>> SqliteStore::auditTail(std::string_view target, size_t max) const {
    std::string sql = std::string("SELECT ") + kAuditColumns + " FROM (SELECT * FROM audit" +
                      (target.empty() ? "" : " WHERE target = ?1") + " ORDER BY id DESC LIMIT ?2) ORDER BY id";
    std::lock_guard lock(impl_->mu);
    auto st = impl_->prepare(sql);
    if (!st) return util::err(st.error());
    Query q(st->get());
    if (!target.empty()) q.text(1, target);
    q.i64(2, sqlLimit(max));
    std::vector<AuditRecord> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        bool ok = false;
        out.push_back(auditRow(q, ok));
    }
    if (rc != SQLITE_DONE) return impl_->fail("reading the audit trail");
    return out;
}

util::Result<int64_t> SqliteStore::lastAuditId() const {
    std::lock_guard lock(impl_->mu);
    return impl_->lastAuditLocked();
}

util::Result<int64_t> SqliteStore::forEach(const std::function<void(const Entry&)>& f) const {
    std::lock_guard lock(impl_->mu);
    return impl_->reading<int64_t>([&]() -> util::Result<int64_t> {
        auto st = impl_->prepare(std::string("SELECT ") + kEntryColumns + " FROM entries");
        if (!st) return util::err(st.error());
        {
            Query q(st->get());
            int rc;
            while ((rc = q.step()) == SQLITE_ROW) {
                bool ok = false;
                Entry e = Impl::rowEntry(q, 0, ok);
                if (!ok) return impl_->badRow(q, 0);
                f(e);
            }
            if (rc != SQLITE_DONE) return impl_->fail("reading the entries");
        }
        return impl_->lastAuditLocked();
    });
}

util::Result<std::vector<Entry>> SqliteStore::matches(std::string_view recipient, const LookupContext& ctx,
                                                      unsigned scopes, int64_t now,
                                                      const NormalizeOptions& norm) const {
    auto target = normalizeTarget(recipient, norm);
    if (!target) return util::err(target.error());
    const std::string tenant = util::toLower(ctx.tenant);
    const std::string fromDomain = util::toLower(ctx.fromDomain);
    Probe ps[6];
    size_t n = probes(*target, tenant, fromDomain, scopes, ps);
    std::vector<Entry> out;
    std::lock_guard lock(impl_->mu);
    for (size_t i = 0; i < n; ++i) {
        auto e = impl_->findLocked(ps[i].target, scopeText(ps[i].kind, ps[i].value));
        if (!e) return util::err(e.error());
        if (*e && (!(*e)->expires || *(*e)->expires > now)) out.push_back(std::move(**e));
    }
    return out;
}

util::Result<int64_t> SqliteStore::forEachKey(const std::function<void(const EntryKey&)>& f) const {
    FileWarmer warmer(impl_->path);
    std::lock_guard lock(impl_->mu);
    return impl_->reading<int64_t>([&]() -> util::Result<int64_t> {
        {
            // Target, scope, reason and expiry of every entry: the index needs nothing else.
            Query q(impl_->leanScanStmt.get());
            int rc;
            while ((rc = q.step()) == SQLITE_ROW) {
                EntryKey k;
                k.target = q.col(0);
                auto r = storedReason(q.col(2));
                if (!r || !storedScope(q.col(1), k.kind, k.scopeValue)) return impl_->badRow(q, 0);
                k.reason = *r;
                k.expires = q.colOpt(3);
                f(k);
            }
            if (rc != SQLITE_DONE) return impl_->fail("reading the entries");
        }
        return impl_->lastAuditLocked();
    });
}

util::Result<size_t> SqliteStore::keyChangesSince(int64_t afterId, size_t max,
                                                  const std::function<void(const KeyChange&)>& f) const {
    std::lock_guard lock(impl_->mu);
    Query q(impl_->leanAuditStmt.get());
    q.i64(1, afterId).i64(2, sqlLimit(max));
    size_t n = 0;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        KeyChange c;
        c.id = q.colI64(0);
        std::string_view action = q.col(1);
        auto reason = storedReason(q.col(4));
        if (!reason || !storedScope(q.col(3), c.key.kind, c.key.scopeValue) ||
            (action != "add" && action != "update" && action != "remove" && action != "expire")) {
            // Not something this version wrote; it cannot be in the entries either.
            c.kind = KeyChange::Kind::Unknown;
            c.key = EntryKey{};
        } else {
            c.kind = action == "remove" || action == "expire" ? KeyChange::Kind::Erase : KeyChange::Kind::Put;
            c.key.target = q.col(2);
            c.key.reason = *reason;
            c.key.expires = q.colOpt(5);
        }
        f(c);
        ++n;
    }
    if (rc != SQLITE_DONE) return impl_->fail("reading the audit trail");
    return n;
}

}  // namespace rampart::suppress
