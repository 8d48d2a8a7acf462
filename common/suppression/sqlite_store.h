// The SQLite suppression store (suppression_list = sqlite:/var/lib/rampart/suppression.db), the first
// implementation of suppress::Store.
//
// Opened read-write by writers (short transactions, WAL mode, busy timeout of 5 s) and read-only by
// the daemons' index refresh. Thread-safe (one connection, serialized by a mutex).
// Schema (version 1 in PRAGMA user_version; a newer version is refused): entries (target, scope,
// reason, source, created, expires, note; PRIMARY KEY (target, scope), i.e. UNIQUE, WITHOUT ROWID;
// CHECKs on target, scope and reason) and audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at, action,
// target, scope, reason, source, created, expires, note, who, why). Scopes are stored as Scope::str().
//
// Files and permissions. A writer creates the database mode 0640 (with its -wal and -shm files, which
// are kept between connections so that read-only connections never need to create them). The
// daemons open it read-only as rampart_user; rampartctl runs as root. shareWith() (called by
// rampartctl after each write) gives the files to rampart_user when the directory belongs to that
// user (the recommended set-up: install -d -o rampart -g rampart -m 0750 /var/lib/rampart), and
// otherwise gives them its group, so the daemons can always read them.
#pragma once

#include <memory>
#include <string>

#include "suppression/store.h"

namespace rampart::suppress {

class SqliteStore final : public Store {
  public:
    // Read-write: creates the file (mode 0640) and the schema when missing; the directory must exist.
    // Read-only: the file must exist and hold a suppression list.
    static util::Result<std::unique_ptr<SqliteStore>> open(const std::string& path, bool readOnly);
    ~SqliteStore() override;

    const std::string& path() const override;
    util::Result<AddOutcome> add(const Entry& e, std::string_view who, std::string_view why) override;
    util::Result<RemoveOutcome> remove(std::string_view target, const Scope& scope, std::string_view who,
                                       std::string_view why, bool force) override;
    util::Result<bool> transaction(const std::function<bool()>& body) override;
    util::Result<std::optional<Entry>> find(std::string_view target, const Scope& scope) const override;
    util::Result<size_t> scan(std::optional<Scope> scope, std::optional<Reason> reason, std::string_view targetPrefix,
                              size_t limit, const std::function<void(const Entry&)>& f) const override;
    util::Result<size_t> count() const override;
    util::Result<std::vector<AuditRecord>> auditSince(int64_t afterId, size_t max) const override;
    util::Result<std::vector<AuditRecord>> auditTail(std::string_view target, size_t max) const override;
    util::Result<int64_t> lastAuditId() const override;
    util::Result<int64_t> forEach(const std::function<void(const Entry&)>& f) const override;
    util::Result<std::vector<Entry>> matches(std::string_view recipient, const LookupContext& ctx, unsigned scopes,
                                             int64_t now, const NormalizeOptions& norm) const override;
    util::Result<size_t> expire(int64_t now) override;
    // While it scans, a helper thread reads the file ahead sequentially (into the page cache).
    util::Result<int64_t> forEachKey(const std::function<void(const EntryKey&)>& f) const override;
    util::Result<size_t> keyChangesSince(int64_t afterId, size_t max,
                                         const std::function<void(const KeyChange&)>& f) const override;

    // For a process running as root after it wrote `path`: hands the database and its -wal and -shm
    // files to `user` (rampart_user) when the directory belongs to that user, otherwise to the user's
    // group (mode 0640 either way), so the daemons can open it. Returns a line for the operator when
    // something was changed or should be ("" when nothing to say). A no-op for other users.
    static util::Result<std::string> shareWith(const std::string& path, const std::string& user);

    struct Impl;

  private:
    explicit SqliteStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::suppress
