// suppress::Store: what the daemons, bounce ingestion, the one-click endpoint and rampartctl need of
// a suppression store, as an interface. SqliteStore (suppression/sqlite_store.h) is the one
// implementation today; another backend (e.g. Redis) implements the same methods with the same
// semantics, written down here, so that callers, the in-memory Index and the CSV import/export
// (suppression/csv.h, built on transaction(), add() and scan()) work unchanged on it.
//
// Semantics every implementation keeps:
//  - Keys. An entry is identified by (target, scope): target as normalizeTarget() makes it,
//    scope compared case-insensitively (tenant names and domains are stored lower-case).
//  - Errors. Every method returns an error rather than "nothing" when the backend fails: for a
//    suppression list, "not found" must mean not found. Error texts name the store (its path()).
//  - Expiry. An entry whose expiry has passed counts as absent for add() and matches() even before
//    expire() removes it; find(), list(), scan() and forEach() still return it.
//  - Audit trail. Every change (add, update, remove, expire) appends one record with an id that
//    increases strictly, in the same atomic step as the change; readers follow the trail by id
//    (auditSince, keyChangesSince). A trail whose last id goes backwards means the store was replaced.
//  - Read-only handles refuse every write with an error saying "open read-only".
//  - Thread-safety: one handle may be used from several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "suppression/model.h"
#include "suppression/normalize.h"
#include "util/result.h"

namespace rampart::suppress {

// What the in-memory index keeps of an entry. The views are valid only during the callback.
struct EntryKey {
    Scope::Kind kind = Scope::Kind::Global;
    std::string_view scopeValue;  // tenant or from_domain value; empty for global
    std::string_view target;
    Reason reason = Reason::Manual;
    std::optional<int64_t> expires;
};

// One audit record as the index applies it.
struct KeyChange {
    enum class Kind {
        Put,     // "add" or "update": the entry is now `key`
        Erase,   // "remove" or "expire": `key` is gone
        Unknown  // a record this version cannot read (unknown action, reason or scope): skipped, but
                 // its id still counts as followed
    };
    int64_t id = 0;
    Kind kind = Kind::Unknown;
    EntryKey key;  // not set for Unknown
};

class Store {
  public:
    // Opens the store named by the suppression_list path (today: an SQLite file; see SqliteStore::open
    // for what read-write and read-only mean there).
    static util::Result<std::unique_ptr<Store>> open(const std::string& path, bool readOnly);

    virtual ~Store() = default;
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Where the store is, for messages.
    virtual const std::string& path() const = 0;

    // Adds or updates. For an existing (target, scope): a stronger reason replaces a weaker one (so a
    // sticky reason is never replaced by a non-sticky one), and the expiry becomes the later of the
    // two (an entry suppresses at least as long as any add asked); source and note follow the change,
    // `created` changes only with the reason. An entry whose expiry has passed counts as absent.
    // Audited with who/why ("add" or "update"; nothing for AlreadyThere). The entry is checked first
    // (invalid target or scope, expiry not after creation: an error, nothing written); `created` 0
    // means now; a note longer than 4 KiB is cut.
    virtual util::Result<AddOutcome> add(const Entry& e, std::string_view who, std::string_view why) = 0;
    // Removes an entry; a sticky one only with force (else NeedsForce, nothing changed). Audited
    // ("remove", with the entry as it was).
    virtual util::Result<RemoveOutcome> remove(std::string_view target, const Scope& scope, std::string_view who,
                                               std::string_view why, bool force) = 0;
    // Runs `body` in one write transaction: the adds and removes it makes join it (bulk imports: one
    // commit instead of one per add, and all or nothing). Commits when `body` returns true, rolls back
    // when it returns false (then the result is false) or when a write inside failed (an error; later
    // writes inside return that error too). Transactions do not nest (an error).
    virtual util::Result<bool> transaction(const std::function<bool()>& body) = 0;

    // The stored entry, expired or not.
    virtual util::Result<std::optional<Entry>> find(std::string_view target, const Scope& scope) const = 0;
    // Entries matching a filter (empty = all), in target order (then scope); `limit` 0 = no limit.
    // `targetPrefix` is a byte prefix of the normalized target. Expired entries included.
    util::Result<std::vector<Entry>> list(std::optional<Scope> scope, std::optional<Reason> reason,
                                          std::string_view targetPrefix, size_t limit) const;
    // The same, one entry at a time (for lists too large to hold). Returns how many.
    virtual util::Result<size_t> scan(std::optional<Scope> scope, std::optional<Reason> reason,
                                      std::string_view targetPrefix, size_t limit,
                                      const std::function<void(const Entry&)>& f) const = 0;
    virtual util::Result<size_t> count() const = 0;
    // The audit trail after `afterId`, oldest first, at most `max` (0: all). Records with an unknown
    // reason or scope are returned as stored (history).
    virtual util::Result<std::vector<AuditRecord>> auditSince(int64_t afterId, size_t max) const = 0;
    // The newest `max` audit records (0: all; of `target` when not empty), oldest first.
    virtual util::Result<std::vector<AuditRecord>> auditTail(std::string_view target, size_t max) const = 0;
    // The id of the newest audit record; 0 when there is none.
    virtual util::Result<int64_t> lastAuditId() const = 0;
    // Every entry, for an export, read in one snapshot. Returns the id of the last audit record that
    // snapshot includes (to follow the trail from).
    virtual util::Result<int64_t> forEach(const std::function<void(const Entry&)>& f) const = 0;
    // The entries that suppress `recipient` (normalized here with `norm`; an error when it does not
    // normalize) in this context, in the order Index::lookup checks them (global, tenant,
    // from_domain as `scopes` allows, each address before domain); expired entries do not count.
    virtual util::Result<std::vector<Entry>> matches(std::string_view recipient, const LookupContext& ctx,
                                                     unsigned scopes, int64_t now,
                                                     const NormalizeOptions& norm) const = 0;
    // Deletes the entries whose expiry is at or before `now` (audited as "expire", by "rampart").
    // Returns how many.
    virtual util::Result<size_t> expire(int64_t now) = 0;

    // For the index's full load: the key, reason and expiry of every entry, in one snapshot; returns
    // the id of the last audit record that snapshot includes. An entry that cannot be read (unknown
    // reason or scope) is an error.
    virtual util::Result<int64_t> forEachKey(const std::function<void(const EntryKey&)>& f) const = 0;
    // For the index's refresh: the audit trail after `afterId`, oldest first, at most `max`, as
    // changes to keys. Returns how many records were passed to `f`.
    virtual util::Result<size_t> keyChangesSince(int64_t afterId, size_t max,
                                                 const std::function<void(const KeyChange&)>& f) const = 0;

  protected:
    Store() = default;
};

}  // namespace rampart::suppress
