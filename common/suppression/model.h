// The suppression model, shared by every store, the index and rampartctl: reasons (names, stickiness,
// strength), scopes, entries, audit records, the outcomes of adds and removals, and what a lookup
// is about (context, scope mask, hit).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// Which scopes a lookup considers (also spelled Index::kGlobal, ...).
enum ScopeMask : unsigned { kGlobal = 1, kTenant = 2, kFromDomain = 4, kAll = 7 };

struct Hit {
    std::string target;  // the key that matched: the normalized address or "@domain"
    Scope scope;
    Reason reason = Reason::Manual;
};

}  // namespace rampart::suppress
