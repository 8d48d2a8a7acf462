// Suppression lists shared by rampart-milter, rampart-policyd and rampartctl: addresses and whole
// domains that must not be mailed, each with a reason, a scope, a source, a time and an optional
// expiry, and an audit trail of every change.
//
// The store is SQLite (suppression_list = sqlite:/var/lib/rampart/suppression.db): rampartctl,
// the one-click endpoint and bounce ingestion write it; the daemons keep an in-memory index of it
// (Index) that follows the audit trail, so a change is seen within about a second without a restart.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace rampart::suppress {

enum class Reason { HardBounce, SoftBounce, Complaint, Unsubscribe, Manual, Legal };
std::string_view reasonName(Reason r);  // "hard_bounce", "soft_bounce", "complaint", "unsubscribe", "manual", "legal"
std::optional<Reason> parseReason(std::string_view name);  // also SES's "BOUNCE" and "COMPLAINT"
// Complaint, unsubscribe and legal entries are never removed (the address "reactivated") without force.
bool sticky(Reason r);

// Who an entry protects: everyone's mail (global), one customer's (tenant), or mail whose From header
// is in one domain (from_domain; the header's domain, which for cold mail often differs from the
// envelope sender's).
struct Scope {
    enum class Kind { Global, Tenant, FromDomain };
    Kind kind = Kind::Global;
    std::string value;  // tenant name or lower-case A-label domain; empty for global
    static util::Result<Scope> parse(std::string_view text);  // "global", "tenant:acme", "from_domain:acme-mail.com"
    std::string str() const;
    bool operator==(const Scope&) const = default;
};

struct NormalizeOptions {
    bool caseSensitiveLocalPart = false;  // RFC 5321 allows it; in practice nobody relies on it
    bool foldGmail = true;                // gmail.com / googlemail.com: no dots, no +tag
};

// The form entries are stored and looked up under: lower-case A-label domain; local part lower-cased
// unless caseSensitiveLocalPart; for gmail.com and googlemail.com dots removed, "+tag" cut and the
// domain gmail.com. A whole domain is written "@example.com". Errors for what is not an address.
util::Result<std::string> normalizeTarget(std::string_view addressOrDomain, const NormalizeOptions& o);

struct Entry {
    std::string target;  // normalized: "user@example.com" or "@example.com"
    Scope scope;
    Reason reason = Reason::Manual;
    std::string source;  // "rampartctl", "one-click", "dsn", "arf", "import:ses.csv"...
    int64_t created = 0;                // unix seconds
    std::optional<int64_t> expires;     // unix seconds; none: never
    std::string note;                   // free text (the diagnostic of a bounce, ...)
};

struct AuditRecord {
    int64_t id = 0;
    int64_t at = 0;
    std::string action;  // "add", "update", "remove", "expire"
    Entry entry;
    std::string who;
    std::string why;
};

enum class AddOutcome { Added, Updated, AlreadyThere };
enum class RemoveOutcome { Removed, NotFound, NeedsForce };

// The SQLite store. Opened read-write by writers (short transactions, WAL mode, busy timeout) and
// read-only by the daemons' index refresh.
class Store {
public:
    static util::Result<std::unique_ptr<Store>> open(const std::string& path, bool readOnly);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Adds or updates (a stronger reason replaces a weaker one; a sticky reason is never replaced by
    // a non-sticky one). Audited with who/why.
    util::Result<AddOutcome> add(const Entry& e, std::string_view who, std::string_view why);
    // Removes an entry; a sticky one only with force. Audited.
    util::Result<RemoveOutcome> remove(std::string_view target, const Scope& scope, std::string_view who,
                                       std::string_view why, bool force);
    std::optional<Entry> find(std::string_view target, const Scope& scope) const;
    // Entries matching a filter (empty = all), in target order; `limit` 0 = no limit.
    std::vector<Entry> list(std::optional<Scope> scope, std::optional<Reason> reason, std::string_view targetPrefix,
                            size_t limit) const;
    size_t count() const;
    // The audit trail after `afterId`, oldest first, at most `max` (the index follows it).
    std::vector<AuditRecord> auditSince(int64_t afterId, size_t max) const;
    int64_t lastAuditId() const;
    // Every active entry, for a full index load.
    void forEach(const std::function<void(const Entry&)>& f) const;
    // Marks entries whose expiry passed as expired (audited as "expire"). Returns how many.
    size_t expire(int64_t now);

    struct Impl;

private:
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// CSV import/export in the formats users migrate from:
//   ses:     "email,reason" (header optional; reason BOUNCE|COMPLAINT, case-insensitive)
//   generic: "address,reason,scope,expires" (expires: YYYY-MM-DD or empty; scope as Scope::parse)
enum class CsvFormat { Ses, Generic };
struct ImportReport {
    size_t added = 0, updated = 0, unchanged = 0;
    std::vector<std::string> errors;  // "file:line: message"
};
ImportReport importCsv(Store& store, std::istream& in, const std::string& fileName, CsvFormat format,
                       const Scope& defaultScope, const NormalizeOptions& norm, std::string_view who, int64_t now);
void exportCsv(const Store& store, std::ostream& out, CsvFormat format);

// What a lookup is about: the recipient, and the context that selects scoped entries.
struct LookupContext {
    std::string tenant;      // empty: tenant-scoped entries do not apply
    std::string fromDomain;  // lower-case A-label; empty: from_domain entries do not apply
};

struct Hit {
    std::string target;
    Scope scope;
    Reason reason = Reason::Manual;
};

// The daemons' in-memory index: compact fingerprints of (scope, target) for every active entry,
// with each entry's reason and expiry. Thread-safe: lookups take a shared lock; refresh() applies
// the audit trail since the last refresh under a short exclusive lock.
class Index {
public:
    explicit Index(NormalizeOptions norm) : norm_(norm) {}
    // Full load from the store (start-up).
    util::Result<size_t> load(const Store& store);
    // Applies what changed since the last load/refresh. Returns the number of changes applied.
    util::Result<size_t> refresh(const Store& store);
    // Is `recipient` suppressed for these scopes? Checks the address and its domain, globally,
    // for ctx.tenant and for ctx.fromDomain (each only when non-empty), as allowed by `scopes`.
    // Expired entries do not match. The recipient is normalized here.
    enum ScopeMask : unsigned { kGlobal = 1, kTenant = 2, kFromDomain = 4, kAll = 7 };
    std::optional<Hit> lookup(std::string_view recipient, const LookupContext& ctx, unsigned scopes, int64_t now) const;
    size_t size() const;
    int64_t lastAuditId() const;

    struct Impl;

private:
    NormalizeOptions norm_;
    std::shared_ptr<Impl> impl_;
};

}  // namespace rampart::suppress
