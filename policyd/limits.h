// The limits file (policyd_limits, grammar in docs/limits.md) parsed into an immutable LimitSet:
// the limits in file order, warmup schedules, exemptions and the provider tables. Everything
// decide() needs per request is precomputed here (scope kinds, lower-cased condition values,
// emission intervals, warmup tables, resolved time zones), so the hot path only compares and looks
// up. Parsing never throws: every problem is a "file:line: message" in config::Diagnostics, and the
// caller refuses a LimitSet whose Diagnostics has errors.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.h"
#include "config/values.h"
#include "net/cidr.h"

namespace date {
class time_zone;
}

namespace rampart::policyd {

class LimitSet;

// What a limit counts separately (docs/limits.md, "Scopes").
enum class ScopeKind : uint8_t {
    Mailbox,          // sasl_username, else the envelope sender
    Sender,           // the envelope sender
    SenderDomain,     // the envelope sender's domain
    ClientAddress,    // the SMTP client's address
    Listener,         // policy_context
    RecipientDomain,  // the recipient's domain
    Provider,         // Request::provider, or the recipient domain when that is empty
    Recipient,        // the recipient address
};
constexpr size_t kScopeKinds = 8;

// What a condition or an exemption may test: every scope, and sasl_username on its own.
enum class Attribute : uint8_t {
    Mailbox,
    Sender,
    SenderDomain,
    ClientAddress,
    Listener,
    RecipientDomain,
    Provider,
    Recipient,
    SaslUsername,
};
constexpr size_t kAttributes = 9;

std::string_view scopeName(ScopeKind k);
std::string_view attributeName(Attribute a);
std::optional<ScopeKind> parseScopeKind(std::string_view name);
std::optional<Attribute> parseAttribute(std::string_view name);
inline Attribute toAttribute(ScopeKind k) {
    return static_cast<Attribute>(k);
}

// `ATTRIBUTE OPERATOR VALUE` of a `when` line. Values are lower-cased at parse time; requests are
// lower-cased once per decision, so matching is case-insensitive.
struct Condition {
    enum class Op : uint8_t { Equal, NotEqual, In, NotIn, Match, NotMatch };
    Attribute attribute = Attribute::Mailbox;
    Op op = Op::Equal;
    std::vector<std::string> values;             // Equal/NotEqual: one; In/NotIn: the list; Match: one pattern
    net::CidrList networks;                      // client_address with =, !=, in, not in
    bool matches(std::string_view value) const;  // value: lower-case; "" (absent) matches only != / not in / !~
    std::string str() const;                     // canonical: "provider in google, microsoft"
};

enum class Action : uint8_t { DeferIfPermit, Defer, Reject };
std::string_view actionName(Action a);  // "defer_if_permit", "defer", "reject"

// Calendar periods of `cap` (and of a warmup's daily count), in the limit's time zone.
enum class CalendarPeriod : uint8_t { Hour, Day, Week };

struct Cap {
    uint64_t count = 0;
    CalendarPeriod period = CalendarPeriod::Day;
    bool messages = false;    // `msgs`: a message counts once however many recipients it has
    std::string str() const;  // "40/day", "40 msgs/day"
};

struct RateSpec {
    config::Rate rate;                     // count per period (messages flag as in Cap)
    uint64_t burst = 1;                    // how many may go back to back
    std::chrono::nanoseconds emission{0};  // period / count: the GCRA emission interval
    std::string str() const;               // "8/h burst 2" ("burst 1" is not printed)
};

struct Spacing {
    std::chrono::seconds interval{0};
    std::chrono::seconds jitter{0};  // < interval
    std::string str() const;         // "3m ~ 45s", "3m"
};

// One `DAYS HH:MM-HH:MM` rule. DAYS name the day a span opens on, so `fri 22:00-06:00` runs from
// Friday 22:00 to Saturday 06:00.
struct WindowSpan {
    uint8_t days = 0;          // bit 0 = Monday .. bit 6 = Sunday
    uint16_t openMinute = 0;   // minutes after local midnight, 0..1439
    uint16_t closeMinute = 0;  // 1..1440; < openMinute when the span crosses midnight
};

struct Window {
    std::vector<WindowSpan> spans;
    const date::time_zone* zone = nullptr;  // never null after parsing
    bool explicitZone = false;              // written in the window line
    std::string text;                       // canonical without the zone: "mon-fri 08:00-18:00"
    std::string str() const;                // canonical with the zone when written
};

struct WarmupSchedule {
    std::string name;
    config::SourceLocation where;
    // The daily cap on warmup day 1, 2, ...; the last value holds afterwards. Ramps are expanded
    // into this table at parse time (up to the day they reach their ceiling).
    std::vector<uint64_t> table;
    std::optional<int32_t> startDay;        // `start`: days since 1970-01-01 of warmup day 1
    std::string definition;                 // canonical: "days = 10, 12" or "ramp = 10/day + 15% per day up to 40/day"
    uint64_t capOnDay(uint32_t day) const;  // day >= 1
    std::string str() const;                // the whole section, canonical
};

struct Limit {
    std::string name;
    config::SourceLocation where;
    std::vector<ScopeKind> scopes;  // the counting key is the combination, in this order
    std::vector<Condition> when;    // all must match
    std::optional<Cap> cap;
    std::optional<RateSpec> rate;
    std::optional<Spacing> spacing;
    std::optional<Window> window;
    int warmup = -1;  // index into LimitSet::warmups(), -1: none
    Action action = Action::DeferIfPermit;
    bool monitor = false;
    const date::time_zone* zone = nullptr;  // calendar periods; never null after parsing
    bool explicitZone = false;

    // Derived at parse time.
    bool usesProvider = false;  // scope or condition mentions provider
    // The warmup counts in the cap's unit and, when the cap is per day, shares its counter;
    // otherwise it has a day counter of its own (recipients, or messages when the cap is in msgs).
    bool warmupSharesCapCounter = false;
    bool warmupMessages = false;

    // "[cold-mailbox]\nscope = mailbox\ncap = 40/day\n...": keys in a fixed order, canonical
    // values.
    std::string str(const LimitSet& set) const;
    // One line for logs and status: "scope=mailbox cap=40/day rate=8/h burst 2
    // warmup=cold-mailbox".
    std::string summary(const LimitSet& set) const;
};

// Exemptions: per attribute a set of lower-case values; client_address as networks.
struct Exemptions {
    std::unordered_set<std::string> values[kAttributes];
    net::CidrList networks;
    bool empty() const;
};

class LimitSet {
  public:
    LimitSet();  // no limits; built-in provider tables; UTC

    // Reads and parses `path`; an unreadable file is one diagnostic naming it. defaultZone is
    // policyd_timezone (nullptr: UTC).
    static LimitSet load(const std::string& path, const date::time_zone* defaultZone, config::Diagnostics& diags);
    static LimitSet parse(std::string_view text, const std::string& fileName, const date::time_zone* defaultZone,
                          config::Diagnostics& diags);

    const std::vector<Limit>& limits() const { return limits_; }
    const std::vector<WarmupSchedule>& warmups() const { return warmups_; }
    const WarmupSchedule* warmupOf(const Limit& l) const {
        return l.warmup < 0 ? nullptr : &warmups_[static_cast<size_t>(l.warmup)];
    }
    const Limit* find(std::string_view name) const;
    const Exemptions& exemptions() const { return exempt_; }
    const date::time_zone* defaultZone() const { return defaultZone_; }

    // Some limit, condition or exemption uses the recipient's provider, so the daemon must resolve
    // it (MX lookup) before deciding.
    bool needsProvider() const { return needsProvider_; }

    // The provider of a recipient domain from the domain table ([provider-domains] over the
    // built-ins); nullopt when the table does not know it (then ask the MX rules).
    std::optional<std::string> providerForDomain(std::string_view domain) const;
    // The provider whose MX suffixes match every host in mxHosts (case-insensitive, a trailing dot
    // ignored); nullopt when the list is empty or no single provider matches them all.
    std::optional<std::string> providerForMx(const std::vector<std::string>& mxHosts) const;

    // The whole file in canonical form (parses back to an equal LimitSet).
    std::string str() const;

  private:
    friend class LimitParser;
    std::vector<Limit> limits_;
    std::vector<WarmupSchedule> warmups_;
    Exemptions exempt_;
    std::unordered_map<std::string, std::string> providerDomains_;
    std::vector<std::pair<std::string, std::vector<std::string>>> providerMx_;  // provider, suffixes
    const date::time_zone* defaultZone_ = nullptr;
    bool needsProvider_ = false;
};

}  // namespace rampart::policyd
