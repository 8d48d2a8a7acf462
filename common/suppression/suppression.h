// Suppression lists shared by rampart-milter, rampart-policyd and rampartctl: addresses and whole
// domains that must not be mailed, each with a reason, a scope, a source, a time and an optional
// expiry, and an audit trail of every change.
//
// The store is SQLite (suppression_list = sqlite:/var/lib/rampart/suppression.db): rampartctl,
// the one-click endpoint and bounce ingestion write it; the daemons keep an in-memory index of it
// (Index) that follows the audit trail, so a change is seen within about a second without a restart.
//
// Files and permissions. A writer creates the database mode 0640 (with its -wal and -shm files, which
// are kept between connections so that read-only connections never need to create them). The
// daemons open it read-only as rampart_user; rampartctl runs as root. Store::shareWith() (called by
// rampartctl after each write) gives the files to rampart_user when the directory belongs to that
// user (the recommended set-up: install -d -o rampart -g rampart -m 0750 /var/lib/rampart), and
// otherwise gives them its group, so the daemons can always read them.
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
// Case-insensitive; '-' and '_' optional ("hard-bounce", "HardBounce"); also SES's "BOUNCE" and
// "COMPLAINT", Postmark's "SpamComplaint" and "ManualSuppression", "unsubscribed".
std::optional<Reason> parseReason(std::string_view name);
// Complaint, unsubscribe and legal entries are never removed (the address "reactivated") without force.
bool sticky(Reason r);
// Which reason wins when one (target, scope) gets a second one:
//   legal > complaint > unsubscribe > hard_bounce > manual > soft_bounce
// Legal holds are the strongest (a court or regulator said so); a complaint is worse for reputation
// than an unsubscribe; both are the recipient's own word, so they outrank a bounce; a hard bounce is
// evidence, a manual entry an opinion; a soft bounce is the weakest (usually with an expiry).
// Every sticky reason is stronger than every non-sticky one.
int strength(Reason r);

// Who an entry protects: everyone's mail (global), one customer's (tenant), or mail whose From header
// is in one domain (from_domain; the header's domain, which for cold mail often differs from the
// envelope sender's).
struct Scope {
    enum class Kind { Global, Tenant, FromDomain };
    Kind kind = Kind::Global;
    std::string value;  // tenant name (lower-case) or lower-case A-label domain; empty for global
    // "global", "tenant:acme", "from_domain:acme-mail.com" ("from-domain:" too). Tenant names are
    // case-insensitive and stored lower-case; they may be any login (no spaces or control
    // characters, at most 255 bytes). Domains are converted to A-labels.
    static util::Result<Scope> parse(std::string_view text);
    std::string str() const;
    bool operator==(const Scope&) const = default;
};

struct NormalizeOptions {
    bool caseSensitiveLocalPart = false;  // RFC 5321 allows it; in practice nobody relies on it
    bool foldGmail = true;                // gmail.com / googlemail.com: no dots, no +tag
};

// The form entries are stored and looked up under: lower-case A-label domain; local part lower-cased
// (ASCII letters) unless caseSensitiveLocalPart; for gmail.com and googlemail.com dots removed, "+tag"
// cut and the domain gmail.com. No other domain has its +tags cut (subaddressing is site-specific).
// A whole domain is written "@example.com" (or "example.com"); it matches addresses in exactly that
// domain, not in its subdomains. Accepts "<user@example.com>" and quoted local parts ("\"a.b\"@x"
// becomes a.b@x when the quotes are not needed). Errors for what is not an address or domain: empty
// input, the null sender "<>", no domain, address literals, invalid domains, spaces.
util::Result<std::string> normalizeTarget(std::string_view addressOrDomain, const NormalizeOptions& o);

// An expiry as operators write it: "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM:SSZ", a duration
// from `now` ("30d", "12h", "2w"), or "" / "never" (none).
util::Result<std::optional<int64_t>> parseExpiry(std::string_view text, int64_t now);
// Unix seconds as "2026-11-22T19:00:00Z".
std::string formatTime(int64_t unixSeconds);

struct Entry {
    std::string target;  // normalized: "user@example.com" or "@example.com"
    Scope scope;
    Reason reason = Reason::Manual;
    std::string source;              // "rampartctl", "one-click", "dsn", "arf", "import:ses.csv"...
    int64_t created = 0;             // unix seconds; 0 in Store::add: now
    std::optional<int64_t> expires;  // unix seconds; none: never
    std::string note;                // free text (the diagnostic of a bounce, ...); cut at 4 KiB
};

struct AuditRecord {
    int64_t id = 0;
    int64_t at = 0;      // unix seconds of the change
    std::string action;  // "add", "update", "remove", "expire"
    Entry entry;         // add, update: the entry as it is after the change; remove, expire: as it was
    std::string who;
    std::string why;
};

enum class AddOutcome { Added, Updated, AlreadyThere };
enum class RemoveOutcome { Removed, NotFound, NeedsForce };

// What a lookup is about: the recipient, and the context that selects scoped entries.
struct LookupContext {
    std::string tenant;      // empty: tenant-scoped entries do not apply (compared case-insensitively)
    std::string fromDomain;  // lower-case A-label; empty: from_domain entries do not apply
};

// The SQLite store. Opened read-write by writers (short transactions, WAL mode, busy timeout of 5 s)
// and read-only by the daemons' index refresh. Thread-safe (one connection, serialized by a mutex).
// Every read returns an error rather than "nothing" when SQLite fails: for a suppression list,
// "not found" must mean not found.
// Schema (version 1 in PRAGMA user_version; a newer version is refused): entries (target, scope,
// reason, source, created, expires, note; PRIMARY KEY (target, scope), i.e. UNIQUE, WITHOUT ROWID;
// CHECKs on target, scope and reason) and audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at, action,
// target, scope, reason, source, created, expires, note, who, why). Scopes are stored as Scope::str().
class Store {
  public:
    // Read-write: creates the file (mode 0640) and the schema when missing; the directory must exist.
    // Read-only: the file must exist and hold a suppression list.
    static util::Result<std::unique_ptr<Store>> open(const std::string& path, bool readOnly);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    const std::string& path() const;

    // Adds or updates. For an existing (target, scope): a stronger reason replaces a weaker one (so a
    // sticky reason is never replaced by a non-sticky one), and the expiry becomes the later of the
    // two (an entry suppresses at least as long as any add asked); source and note follow the change,
    // `created` changes only with the reason. An entry whose expiry has passed counts as absent.
    // Audited with who/why ("add" or "update"; nothing for AlreadyThere).
    util::Result<AddOutcome> add(const Entry& e, std::string_view who, std::string_view why);
    // Removes an entry; a sticky one only with force. Audited ("remove").
    util::Result<RemoveOutcome> remove(std::string_view target, const Scope& scope, std::string_view who,
                                       std::string_view why, bool force);
    // Runs `body` in one write transaction: the adds and removes it makes join it (bulk imports: one
    // commit instead of one per add, and all or nothing). Commits when `body` returns true, rolls back
    // when it returns false (then the result is false) or when a write inside failed (an error).
    util::Result<bool> transaction(const std::function<bool()>& body);

    // The stored entry, expired or not.
    util::Result<std::optional<Entry>> find(std::string_view target, const Scope& scope) const;
    // Entries matching a filter (empty = all), in target order; `limit` 0 = no limit. `targetPrefix`
    // is a byte prefix of the normalized target.
    util::Result<std::vector<Entry>> list(std::optional<Scope> scope, std::optional<Reason> reason,
                                          std::string_view targetPrefix, size_t limit) const;
    // The same, one entry at a time (for lists too large to hold).
    util::Result<size_t> scan(std::optional<Scope> scope, std::optional<Reason> reason, std::string_view targetPrefix,
                              size_t limit, const std::function<void(const Entry&)>& f) const;
    util::Result<size_t> count() const;
    // The audit trail after `afterId`, oldest first, at most `max` (the index follows it).
    util::Result<std::vector<AuditRecord>> auditSince(int64_t afterId, size_t max) const;
    // The newest `max` audit records (of `target` when not empty), oldest first.
    util::Result<std::vector<AuditRecord>> auditTail(std::string_view target, size_t max) const;
    util::Result<int64_t> lastAuditId() const;
    // Every entry, for a full index load or an export, read in one snapshot. Returns the id of the
    // last audit record that snapshot includes (to follow the trail from).
    util::Result<int64_t> forEach(const std::function<void(const Entry&)>& f) const;
    // The entries that suppress `recipient` (normalized here) in this context, in the order
    // Index::lookup checks them; expired entries do not count. `scopes`: Index::ScopeMask bits.
    util::Result<std::vector<Entry>> matches(std::string_view recipient, const LookupContext& ctx, unsigned scopes,
                                             int64_t now, const NormalizeOptions& norm) const;
    // Deletes the entries whose expiry passed (audited as "expire"). Returns how many.
    util::Result<size_t> expire(int64_t now);

    // For a process running as root after it wrote `path`: hands the database and its -wal and -shm
    // files to `user` (rampart_user) when the directory belongs to that user, otherwise to the user's
    // group (mode 0640 either way), so the daemons can open it. Returns a line for the operator when
    // something was changed or should be ("" when nothing to say). A no-op for other users.
    static util::Result<std::string> shareWith(const std::string& path, const std::string& user);

    struct Impl;

  private:
    friend class Index;
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// CSV import/export in the formats users migrate from:
//   ses:     "email,reason" (header optional; reason BOUNCE|COMPLAINT, case-insensitive, or one of ours)
//   generic: "address,reason,scope,expires" (all but the address optional: reason manual, the default
//            scope, no expiry; expires: YYYY-MM-DD (midnight UTC), YYYY-MM-DDTHH:MM:SSZ, or a
//            duration from now such as 30d; scope as Scope::parse)
// Reading: RFC 4180 quoting (quoted fields may hold commas, doubled quotes and line breaks), CRLF or
// LF, blank lines and lines starting with '#' skipped, a first line naming the columns skipped.
enum class CsvFormat { Ses, Generic };
struct ImportReport {
    size_t added = 0, updated = 0, unchanged = 0;
    std::vector<std::string> errors;  // "file:line: message"
};
// One transaction: a line with an error is reported and skipped, the others are imported; when the
// store itself fails, nothing is imported (counts 0) and the error says so. Source "import:BASENAME".
ImportReport importCsv(Store& store, std::istream& in, const std::string& fileName, CsvFormat format,
                       const Scope& defaultScope, const NormalizeOptions& norm, std::string_view who, int64_t now);
// Writes the entries not expired at `now`, in target order, with a header line. ses: global entries
// only (SES lists have no scopes), reasons BOUNCE and COMPLAINT where SES has them and ours otherwise.
// generic: every scope; expiries rounded up to the next day (YYYY-MM-DD), so a round trip never
// shortens one. Returns the number of entries written.
util::Result<size_t> exportCsv(const Store& store, std::ostream& out, CsvFormat format, int64_t now);

struct Hit {
    std::string target;  // the key that matched: the normalized address or "@domain"
    Scope scope;
    Reason reason = Reason::Manual;
};

// The daemons' in-memory index: compact fingerprints of (scope, target) for every entry, with each
// entry's reason and expiry, in an open-addressing hash table of 16-byte slots (about 27 bytes per
// entry at the table's load factor: 10M entries in ~260 MB). Thread-safe: lookups take a shared lock;
// refresh() applies the audit trail since the last refresh under short exclusive locks (at most 512
// changes each); a table that must grow, or a full reload, is built beside the live one and swapped in.
//
// Fingerprints: 64 bits (which choose the slot and are compared) plus 24 check bits from a second
// hash: two different keys are taken for one with probability 2^-88. That would make a lookup match
// an entry it should not, or an add or removal overwrite or remove another entry's slot; counting
// every stored entry against each of a lookup's six probes, at 10M entries that happens at most once
// in about 5 * 10^18 lookups.
class Index {
  public:
    explicit Index(NormalizeOptions norm);
    // Full load from the store (start-up). Returns the number of entries.
    util::Result<size_t> load(const Store& store);
    // Applies what changed since the last load/refresh (a full reload when that is cheaper, or when
    // the store was replaced). Returns the number of audit records applied (after a replaced store:
    // the number of entries loaded).
    util::Result<size_t> refresh(const Store& store);
    // Is `recipient` suppressed for these scopes? Checks the address and its domain, globally,
    // for ctx.tenant and for ctx.fromDomain (each only when non-empty), as allowed by `scopes`, in that
    // order (address before domain). Expired entries do not match. The recipient is normalized here;
    // one that does not normalize (not an address) is not suppressed.
    enum ScopeMask : unsigned { kGlobal = 1, kTenant = 2, kFromDomain = 4, kAll = 7 };
    std::optional<Hit> lookup(std::string_view recipient, const LookupContext& ctx, unsigned scopes, int64_t now) const;
    size_t size() const;
    int64_t lastAuditId() const;
    size_t memoryBytes() const;  // the table's size

    struct Impl;

  private:
    NormalizeOptions norm_;
    std::shared_ptr<Impl> impl_;
};

}  // namespace rampart::suppress
