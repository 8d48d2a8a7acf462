// Suppression lists: normalization, the SQLite store (schema, audit trail, sticky reasons), CSV
// import/export, and the daemons' in-memory index (fingerprints in an open-addressing table that
// follows the audit trail).
#include "suppression/suppression.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>

#include "config/values.h"
#include "mail/address.h"
#include "mail/domain.h"
#include "util/process.h"
#include "util/strings.h"

namespace rampart::suppress {

namespace {

constexpr int kSchemaVersion = 1;
constexpr size_t kMaxNote = 4096;
constexpr size_t kMaxLocalPart = 256;
constexpr size_t kMaxTenant = 255;
constexpr size_t kMaxInput = 1024;

std::string quoted(std::string_view s) {
    // Appended rather than "\"" + ...: g++ 12 -O2 warns falsely (-Wrestrict) on literal + temporary.
    std::string out(1, '"');
    out += util::printable(s, 120);
    out += '"';
    return out;
}

int64_t wallNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ------------------------------------------------------------------------------ reasons and scopes

struct ReasonInfo {
    Reason reason;
    std::string_view name;
    int strength;
};

constexpr ReasonInfo kReasons[] = {
    {Reason::HardBounce, "hard_bounce", 3}, {Reason::SoftBounce, "soft_bounce", 1},
    {Reason::Complaint, "complaint", 5},    {Reason::Unsubscribe, "unsubscribe", 4},
    {Reason::Manual, "manual", 2},          {Reason::Legal, "legal", 6},
};

const ReasonInfo& info(Reason r) {
    for (const auto& i : kReasons) {
        if (i.reason == r) return i;
    }
    return kReasons[4];  // unreachable: every enumerator is in the table
}

// Tenant names may be any SASL login: printable, no white space, not too long.
util::Result<std::string> checkTenant(std::string_view t) {
    if (t.empty()) return util::err("empty tenant name");
    if (t.size() > kMaxTenant) return util::err("tenant name longer than 255 bytes");
    for (char c : t) {
        auto uc = static_cast<unsigned char>(c);
        if (uc <= 0x20 || uc == 0x7F) {
            return util::err("tenant name " + quoted(t) + " contains a space or a control character");
        }
    }
    return util::toLower(t);
}

char kindChar(Scope::Kind k) {
    switch (k) {
        case Scope::Kind::Global:
            return 'g';
        case Scope::Kind::Tenant:
            return 't';
        case Scope::Kind::FromDomain:
            return 'f';
    }
    return 'g';
}

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

bool isAtextAscii(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

// "\"a.b\"" -> "a.b" when the quotes add nothing (RFC 5321 section 4.1.2: the same mailbox);
// otherwise the quoted form as written.
std::string unquoteLocalPart(const std::string& local) {
    if (local.size() < 2 || local.front() != '"' || local.back() != '"') return local;
    std::string inner;
    for (size_t i = 1; i + 1 < local.size(); ++i) {
        char c = local[i];
        if (c == '\\' && i + 2 < local.size()) c = local[++i];
        inner += c;
    }
    bool dotAtom =
        !inner.empty() && inner.front() != '.' && inner.back() != '.' && inner.find("..") == std::string::npos;
    for (char c : inner)
        dotAtom = dotAtom && (c == '.' || isAtextAscii(c) || static_cast<unsigned char>(c) >= 0x80);
    return dotAtom ? inner : local;
}

bool isGmail(std::string_view domain) {
    return domain == "gmail.com" || domain == "googlemail.com";
}

// ------------------------------------------------------------------------------ time texts

// Days since 1970-01-01 of a civil date (proleptic Gregorian), and back (H. Hinnant's algorithms).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
}

int64_t floorDiv(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::optional<unsigned> digits(std::string_view s) {
    if (s.empty()) return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v;
}

std::string dateText(int64_t t) {
    int64_t y = 0;
    unsigned m = 0, d = 0;
    civilFromDays(floorDiv(t, 86400), y, m, d);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
    return buf;
}

// ------------------------------------------------------------------------------ SQLite wrappers

struct DbClose {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalize {
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using DbHandle = std::unique_ptr<sqlite3, DbClose>;
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// One use of a prepared statement: binds, steps and reads columns; on destruction it is reset (so it
// holds no read snapshot or lock after use) and its bindings cleared.
class Query {
  public:
    explicit Query(sqlite3_stmt* s) : s_(s) {}
    ~Query() {
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
    }
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    Query& text(int i, std::string_view v) {
        // An empty view may have no data pointer, which SQLite would bind as NULL.
        note(sqlite3_bind_text(s_, i, v.data() != nullptr ? v.data() : "", static_cast<int>(v.size()),
                               SQLITE_TRANSIENT));
        return *this;
    }
    // Bound without a copy: `v` must stay valid until this Query is destroyed (the hot paths bind
    // the caller's strings; copying each cost a fifth of an import's time).
    Query& ref(int i, std::string_view v) {
        note(sqlite3_bind_text(s_, i, v.data() != nullptr ? v.data() : "", static_cast<int>(v.size()), SQLITE_STATIC));
        return *this;
    }
    Query& i64(int i, int64_t v) {
        note(sqlite3_bind_int64(s_, i, v));
        return *this;
    }
    Query& opt(int i, const std::optional<int64_t>& v) {
        note(v ? sqlite3_bind_int64(s_, i, *v) : sqlite3_bind_null(s_, i));
        return *this;
    }
    // SQLITE_ROW, SQLITE_DONE or an error code (a failed bind is reported here).
    int step() { return bindRc_ != SQLITE_OK ? bindRc_ : sqlite3_step(s_); }

    std::string_view col(int c) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
        return p == nullptr ? std::string_view()
                            : std::string_view(p, static_cast<size_t>(sqlite3_column_bytes(s_, c)));
    }
    int64_t colI64(int c) const { return sqlite3_column_int64(s_, c); }
    std::optional<int64_t> colOpt(int c) const {
        if (sqlite3_column_type(s_, c) == SQLITE_NULL) return std::nullopt;
        return sqlite3_column_int64(s_, c);
    }

  private:
    void note(int rc) {
        if (rc != SQLITE_OK && bindRc_ == SQLITE_OK) bindRc_ = rc;
    }
    sqlite3_stmt* s_;
    int bindRc_ = SQLITE_OK;
};

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

constexpr const char* kEntryColumns = "target, scope, reason, source, created, expires, note";
constexpr const char* kAuditColumns = "id, at, action, target, scope, reason, source, created, expires, note, who, why";

// The bulk page cache of a write transaction (imports), and the default of every other moment: a
// long-running writer (the one-click endpoint) must not keep 256 MB of pages.
constexpr const char* kBulkCache = "PRAGMA cache_size = -262144";
constexpr const char* kNormalCache = "PRAGMA cache_size = -2000";

}  // namespace

// ------------------------------------------------------------------------------ reasons, scopes

std::string_view reasonName(Reason r) {
    return info(r).name;
}

std::optional<Reason> parseReason(std::string_view name) {
    std::string n;
    for (char c : util::trim(name)) {
        if (c != '_' && c != '-' && c != ' ') n += util::toLowerAscii(c);
    }
    if (n == "hardbounce" || n == "bounce" || n == "bounced" || n == "hard") return Reason::HardBounce;
    if (n == "softbounce" || n == "soft") return Reason::SoftBounce;
    if (n == "complaint" || n == "spamcomplaint" || n == "spamreport" || n == "abuse") return Reason::Complaint;
    if (n == "unsubscribe" || n == "unsubscribed" || n == "optout") return Reason::Unsubscribe;
    if (n == "manual" || n == "manualsuppression") return Reason::Manual;
    if (n == "legal") return Reason::Legal;
    return std::nullopt;
}

bool sticky(Reason r) {
    return r == Reason::Complaint || r == Reason::Unsubscribe || r == Reason::Legal;
}

int strength(Reason r) {
    return info(r).strength;
}

util::Result<Scope> Scope::parse(std::string_view text) {
    std::string_view t = util::trim(text);
    if (t.empty() || util::iequals(t, "global")) return Scope{};
    size_t colon = t.find(':');
    if (colon == std::string_view::npos) {
        return util::err("invalid scope " + quoted(t) + " (expected global, tenant:NAME or from_domain:DOMAIN)");
    }
    std::string kind = util::toLower(t.substr(0, colon));
    std::string_view value = t.substr(colon + 1);
    if (kind == "tenant") {
        auto name = checkTenant(value);
        if (!name) return util::err("invalid scope " + quoted(t) + ": " + name.error());
        return Scope{Kind::Tenant, *name};
    }
    if (kind == "from_domain" || kind == "from-domain" || kind == "fromdomain") {
        if (value.empty()) return util::err("invalid scope " + quoted(t) + ": no domain after from_domain:");
        auto d = mail::toAsciiDomain(value);
        if (!d) return util::err("invalid scope " + quoted(t) + ": " + d.error());
        return Scope{Kind::FromDomain, *d};
    }
    return util::err("invalid scope " + quoted(t) + " (expected global, tenant:NAME or from_domain:DOMAIN)");
}

std::string Scope::str() const {
    switch (kind) {
        case Kind::Global:
            return "global";
        case Kind::Tenant:
            return "tenant:" + value;
        case Kind::FromDomain:
            return "from_domain:" + value;
    }
    return "global";
}

util::Result<std::string> normalizeTarget(std::string_view addressOrDomain, const NormalizeOptions& o) {
    std::string_view t = util::trim(addressOrDomain);
    if (t.empty()) return util::err("empty address");
    if (t.size() > kMaxInput) return util::err("address longer than 1024 bytes");
    for (char c : t) {
        if (c == '\0' || c == '\r' || c == '\n')
            return util::err("invalid address " + quoted(t) + ": control character");
    }
    const bool bare = t.front() != '<' && t.front() != '"';
    const size_t at = t.find('@');
    if (bare && (at == std::string_view::npos || (at == 0 && t.find('@', 1) == std::string_view::npos))) {
        // A whole domain: "@example.com" or "example.com".
        std::string_view d = at == 0 ? t.substr(1) : t;
        if (d.empty()) return util::err("\"@\" without a domain");
        if (d.front() == '[') return util::err("address literals such as " + quoted(d) + " cannot be suppressed");
        for (char c : d) {
            if (util::isSpace(c)) return util::err("invalid domain " + quoted(d) + ": contains a space");
        }
        auto ascii = mail::toAsciiDomain(d);
        if (!ascii) return util::err(ascii.error());
        if (ascii->find('.') == std::string::npos) {
            return util::err(quoted(t) + " is neither an address (no '@') nor a domain name (no '.')");
        }
        if (o.foldGmail && *ascii == "googlemail.com") return std::string("@gmail.com");
        return "@" + *ascii;
    }
    auto mb = mail::parseEnvelopeAddress(t);
    if (!mb) return util::err("not an address: " + mb.error());
    if (mb->localPart.empty() && mb->domain.empty()) return util::err("the null sender <> is not an address");
    if (mb->domain.empty()) return util::err("no domain in " + quoted(t));
    if (mb->domain.front() == '[') {
        return util::err("address literals such as " + quoted(mb->domain) + " cannot be suppressed");
    }
    auto ascii = mail::toAsciiDomain(mb->domain);
    if (!ascii) return util::err("invalid address " + quoted(t) + ": " + ascii.error());
    std::string domain = std::move(ascii).value();
    std::string local = unquoteLocalPart(mb->localPart);
    const bool gmail = o.foldGmail && isGmail(domain) && local.front() != '"';
    if (!o.caseSensitiveLocalPart || gmail) {
        for (char& c : local)
            c = util::toLowerAscii(c);
    }
    if (gmail) {
        size_t plus = local.find('+');
        if (plus != std::string::npos) local.erase(plus);
        local.erase(std::remove(local.begin(), local.end(), '.'), local.end());
        if (local.empty())
            return util::err("nothing is left of the Gmail address " + quoted(t) + " without dots and +tag");
        domain = "gmail.com";
    }
    if (local.size() > kMaxLocalPart) return util::err("the local part of " + quoted(t) + " is longer than 256 bytes");
    return local + "@" + domain;
}

util::Result<std::optional<int64_t>> parseExpiry(std::string_view text, int64_t now) {
    std::string_view t = util::trim(text);
    if (t.empty() || util::iequals(t, "never") || util::iequals(t, "none")) return std::optional<int64_t>();
    if (t.size() >= 10 && t[4] == '-' && t[7] == '-') {
        auto y = digits(t.substr(0, 4));
        auto m = digits(t.substr(5, 2));
        auto d = digits(t.substr(8, 2));
        if (!y || !m || !d || *m < 1 || *m > 12 || *d < 1 || *d > 31) {
            return util::err("invalid date " + quoted(t) + " (expected YYYY-MM-DD)");
        }
        int64_t days = daysFromCivil(*y, *m, *d);
        {
            int64_t yy = 0;
            unsigned mm = 0, dd = 0;
            civilFromDays(days, yy, mm, dd);
            if (mm != *m || dd != *d) return util::err("invalid date " + quoted(t) + " (no such day)");
        }
        int64_t secs = days * 86400;
        std::string_view rest = t.substr(10);
        if (!rest.empty()) {
            // YYYY-MM-DDTHH:MM:SS[Z] or "YYYY-MM-DD HH:MM:SS", UTC.
            if (rest.back() == 'Z' || rest.back() == 'z') rest.remove_suffix(1);
            if (rest.size() != 9 || (rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ') || rest[3] != ':' ||
                rest[6] != ':') {
                return util::err("invalid time " + quoted(t) + " (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)");
            }
            auto hh = digits(rest.substr(1, 2));
            auto mi = digits(rest.substr(4, 2));
            auto ss = digits(rest.substr(7, 2));
            if (!hh || !mi || !ss || *hh > 23 || *mi > 59 || *ss > 60) {
                return util::err("invalid time " + quoted(t) + " (expected YYYY-MM-DDTHH:MM:SSZ)");
            }
            secs += *hh * 3600 + *mi * 60 + *ss;
        }
        return std::optional<int64_t>(secs);
    }
    auto d = config::parseDuration(t);
    if (!d) {
        return util::err("invalid expiry " + quoted(t) + " (expected a date YYYY-MM-DD or a duration such as 30d)");
    }
    if (d->count() <= 0) return util::err("invalid expiry " + quoted(t) + ": the duration must be positive");
    return std::optional<int64_t>(now + d->count());
}

std::string formatTime(int64_t t) {
    int64_t secOfDay = t - floorDiv(t, 86400) * 86400;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lldZ", dateText(t).c_str(),
                  static_cast<long long>(secOfDay / 3600), static_cast<long long>(secOfDay / 60 % 60),
                  static_cast<long long>(secOfDay % 60));
    return buf;
}

// ------------------------------------------------------------------------------ lookup order

namespace {

// The (scope, key) pairs a lookup checks, in order: global, tenant, from_domain; in each the address
// before its domain.
struct Probe {
    Scope::Kind kind;
    std::string_view value;
    std::string_view target;
};

size_t probes(std::string_view address, std::string_view tenant, std::string_view fromDomain, unsigned scopes,
              Probe (&out)[6]) {
    size_t at = address.rfind('@');
    std::string_view domainKey = at == std::string_view::npos ? std::string_view() : address.substr(at);
    bool isDomain = at == 0;  // the recipient itself is "@domain"
    size_t n = 0;
    auto add = [&](Scope::Kind k, std::string_view v) {
        out[n++] = Probe{k, v, address};
        if (!isDomain && !domainKey.empty()) out[n++] = Probe{k, v, domainKey};
    };
    if (scopes & Index::kGlobal) add(Scope::Kind::Global, {});
    if ((scopes & Index::kTenant) && !tenant.empty()) add(Scope::Kind::Tenant, tenant);
    if ((scopes & Index::kFromDomain) && !fromDomain.empty()) add(Scope::Kind::FromDomain, fromDomain);
    return n;
}

// The scope column for a caller's Scope: tenant names and domains compared case-insensitively.
std::string scopeKey(const Scope& s) {
    return s.kind == Scope::Kind::Global ? std::string("global") : util::toLower(s.str());
}

std::string scopeText(Scope::Kind k, std::string_view v) {
    switch (k) {
        case Scope::Kind::Global:
            return "global";
        case Scope::Kind::Tenant:
            return "tenant:" + std::string(v);
        case Scope::Kind::FromDomain:
            return "from_domain:" + std::string(v);
    }
    return "global";
}

// Entries come from callers (ctl, ingestion, the one-click endpoint): canonical scope values, a
// plausible normalized target, an expiry after the creation time, a bounded note.
util::Result<Entry> canonicalEntry(const Entry& in, int64_t now) {
    Entry e = in;
    if (e.created == 0) e.created = now;
    if (e.target.size() < 2 || e.target.find('@') == std::string::npos || e.target.back() == '@') {
        return util::err("invalid suppression target " + quoted(e.target) + " (expected user@domain or @domain)");
    }
    // Spaces only in a quoted local part ("john doe"@example.com).
    const size_t quotedEnd = e.target.front() == '"' ? e.target.rfind('"') : 0;
    for (size_t i = 0; i < e.target.size(); ++i) {
        auto uc = static_cast<unsigned char>(e.target[i]);
        if (uc < 0x20 || uc == 0x7F || (uc == 0x20 && i > quotedEnd)) {
            return util::err("invalid suppression target " + quoted(e.target) +
                             " (not normalized: space or control character)");
        }
    }
    switch (e.scope.kind) {
        case Scope::Kind::Global:
            e.scope.value.clear();
            break;
        case Scope::Kind::Tenant: {
            auto t = checkTenant(e.scope.value);
            if (!t) return util::err(t.error());
            e.scope.value = *t;
            break;
        }
        case Scope::Kind::FromDomain: {
            auto d = mail::toAsciiDomain(e.scope.value);
            if (!d) return util::err("invalid from_domain scope: " + d.error());
            e.scope.value = *d;
            break;
        }
    }
    if (e.expires && *e.expires <= e.created) {
        return util::err("the expiry " + formatTime(*e.expires) + " of " + e.target +
                         " is not after its creation time " + formatTime(e.created));
    }
    if (e.note.size() > kMaxNote) {
        size_t cut = kMaxNote - 3;
        while (cut > 0 && (static_cast<unsigned char>(e.note[cut]) & 0xC0) == 0x80)
            --cut;  // UTF-8 boundary
        e.note = e.note.substr(0, cut) + "...";
    }
    return e;
}

}  // namespace

// ------------------------------------------------------------------------------ Store

struct Store::Impl {
    std::string path;
    bool readOnly = false;
    DbHandle db;
    mutable std::recursive_mutex mu;
    int txDepth = 0;      // inside transaction()
    std::string txError;  // the first failure inside transaction(): it will roll back
    StmtHandle findStmt, insertStmt, replaceStmt, deleteStmt, auditStmt, lastAuditStmt, auditSinceStmt, leanAuditStmt,
        leanScanStmt;

    util::Error fail(std::string_view what) const {
        return util::err("suppression list " + path + ": " + std::string(what) + ": " + sqlite3_errmsg(db.get()));
    }

    util::Result<bool> exec(const char* sql) const {
        char* msg = nullptr;
        int rc = sqlite3_exec(db.get(), sql, nullptr, nullptr, &msg);
        if (rc != SQLITE_OK) {
            std::string m = msg != nullptr ? msg : sqlite3_errstr(rc);
            sqlite3_free(msg);
            return util::err("suppression list " + path + ": " + m);
        }
        return true;
    }

    util::Result<StmtHandle> prepare(const std::string& sql) const {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db.get(), sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
            sqlite3_finalize(s);
            return fail("preparing a statement");
        }
        return StmtHandle(s);
    }

    static Entry rowEntry(const Query& q, int first, bool& ok) {
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

    util::Error badRow(const Query& q, int first) const {
        return util::err("suppression list " + path + ": malformed entry " + quoted(q.col(first)) + " (scope " +
                         quoted(q.col(first + 1)) + ", reason " + quoted(q.col(first + 2)) + ")");
    }

    util::Result<std::optional<Entry>> findLocked(std::string_view target, const std::string& scope) const {
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

    util::Result<bool> audit(std::string_view action, const Entry& e, int64_t at, std::string_view who,
                             std::string_view why) {
        const std::string scope = e.scope.str();
        Query q(auditStmt.get());
        q.i64(1, at).ref(2, action).ref(3, e.target).ref(4, scope).ref(5, reasonName(e.reason));
        q.ref(6, e.source).i64(7, e.created).opt(8, e.expires).ref(9, e.note).ref(10, who).ref(11, why);
        if (q.step() != SQLITE_DONE) return fail("writing the audit trail");
        return true;
    }

    // An insert or update; true when it changed a row.
    util::Result<bool> write(sqlite3_stmt* s, const Entry& e) {
        const std::string scope = e.scope.str();
        Query q(s);
        q.ref(1, e.target).ref(2, scope).ref(3, reasonName(e.reason)).ref(4, e.source);
        q.i64(5, e.created).opt(6, e.expires).ref(7, e.note);
        if (q.step() != SQLITE_DONE) return fail("writing an entry");
        return sqlite3_changes64(db.get()) > 0;
    }

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
        if (auto b = exec("BEGIN IMMEDIATE"); !b) return util::err(b.error());
        util::Result<T> r = fn();
        if (!r) {
            exec("ROLLBACK");
            return r;
        }
        if (auto c = exec("COMMIT"); !c) {
            exec("ROLLBACK");
            return util::err(c.error());
        }
        return r;
    }

    // A read in one snapshot: inside a transaction already, or in its own.
    template <typename T, typename Fn>
    util::Result<T> reading(Fn fn) const {
        if (txDepth > 0 || !sqlite3_get_autocommit(db.get())) return fn();
        if (auto b = exec("BEGIN"); !b) return util::err(b.error());
        util::Result<T> r = fn();
        exec(r ? "COMMIT" : "ROLLBACK");
        return r;
    }

    util::Result<int64_t> lastAuditLocked() const {
        Query q(lastAuditStmt.get());
        if (q.step() != SQLITE_ROW) return fail("reading the audit trail");
        return q.colI64(0);
    }

    // Target, scope, reason and expiry of every entry: the index needs nothing else.
    template <typename Fn>
    util::Result<bool> leanScan(Fn fn) const {
        Query q(leanScanStmt.get());
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) {
            if (!fn(q.col(0), q.col(1), q.col(2), q.colOpt(3))) return badRow(q, 0);
        }
        if (rc != SQLITE_DONE) return fail("reading the entries");
        return true;
    }

    util::Result<bool> init();
};

util::Result<bool> Store::Impl::init() {
    sqlite3* raw = db.get();
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 5000);
    // Keep the -wal and -shm files when the last connection closes: a read-only connection (the
    // daemons, which may not be able to create files in the directory) can then always open them.
    int persist = 1;
    sqlite3_file_control(raw, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    if (!readOnly) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(raw, "PRAGMA journal_mode = WAL", -1, &s, nullptr) != SQLITE_OK) {
            sqlite3_finalize(s);
            return fail("opening");
        }
        StmtHandle mode(s);
        int rc = sqlite3_step(s);
        if (rc != SQLITE_ROW) return fail("switching to WAL mode");
        std::string m(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
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
        if (auto b = exec("BEGIN IMMEDIATE"); !b) return b;
        // Another writer may have created it since we looked.
        auto again = userVersion();
        auto n = objects();
        if (!again || !n) {
            exec("ROLLBACK");
            return util::err(!again ? again.error() : n.error());
        }
        if (*again == 0 && *n != 0) {
            exec("ROLLBACK");
            return util::err("suppression list " + path + " is an SQLite database but not a Rampart suppression list");
        }
        if (*again == 0) {
            if (auto r = exec(kSchema); !r) {
                exec("ROLLBACK");
                return r;
            }
        }
        if (auto c = exec("COMMIT"); !c) {
            exec("ROLLBACK");
            return c;
        }
        version = userVersion();
        if (!version) return util::err(version.error());
    }
    if (*version > kSchemaVersion) {
        return util::err("suppression list " + path + " has schema version " + std::to_string(*version) +
                         ", newer than this program's (" + std::to_string(kSchemaVersion) + "): upgrade Rampart");
    }
    const std::string cols = kEntryColumns;
    struct {
        StmtHandle* slot;
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

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::string& Store::path() const {
    return impl_->path;
}

util::Result<std::unique_ptr<Store>> Store::open(const std::string& path, bool readOnly) {
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
    sqlite3* raw = nullptr;
    int flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    impl->db.reset(raw);
    if (rc != SQLITE_OK) {
        std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
        return util::err("cannot open suppression list " + path + ": " + msg);
    }
    if (auto r = impl->init(); !r) {
        const int code = sqlite3_errcode(impl->db.get()) & 0xFF;
        if (readOnly && (code == SQLITE_READONLY || code == SQLITE_CANTOPEN)) {
            // WAL mode: a read-only connection needs the -wal and -shm files, or the right to create them.
            return util::err(r.error() + " (a read-only reader needs " + path + "-wal and " + path +
                             "-shm, or write access to their directory: any write as root recreates them, e.g. "
                             "rampartctl suppress expire; better, give the directory to rampart_user)");
        }
        return util::err(r.error());
    }
    return std::unique_ptr<Store>(new Store(std::move(impl)));
}

util::Result<AddOutcome> Store::add(const Entry& in, std::string_view who, std::string_view why) {
    const int64_t at = wallNow();
    auto canon = canonicalEntry(in, at);
    if (!canon) return util::err(canon.error());
    const Entry& e = *canon;
    std::lock_guard lock(impl_->mu);
    return impl_->writing<AddOutcome>([&]() -> util::Result<AddOutcome> {
        // Most adds are new (imports, bounces): insert first, and look only when the key is taken.
        auto inserted = impl_->write(impl_->insertStmt.get(), e);
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
            auto w = impl_->write(impl_->replaceStmt.get(), e);
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
        if (auto w = impl_->write(impl_->replaceStmt.get(), merged); !w) return util::err(w.error());
        if (auto a = impl_->audit("update", merged, at, who, why); !a) return util::err(a.error());
        return AddOutcome::Updated;
    });
}

util::Result<RemoveOutcome> Store::remove(std::string_view target, const Scope& scope, std::string_view who,
                                          std::string_view why, bool force) {
    const int64_t at = wallNow();
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

util::Result<bool> Store::transaction(const std::function<bool()>& body) {
    std::lock_guard lock(impl_->mu);
    Impl& im = *impl_;
    if (im.readOnly) return util::err("suppression list " + im.path + " is open read-only");
    if (im.txDepth > 0) return util::err("suppression list " + im.path + ": transactions do not nest");
    if (auto b = im.exec("BEGIN IMMEDIATE"); !b) return b;
    im.exec(kBulkCache);
    im.txDepth = 1;
    im.txError.clear();
    // Whatever happens in body (an exception included), the transaction ends here.
    struct End {
        Impl& im;
        bool done = false;
        ~End() {
            if (!done) im.exec("ROLLBACK");
            im.txDepth = 0;
            im.exec(kNormalCache);
        }
    } end{im};
    bool commit = body();
    if (!im.txError.empty()) return util::err(im.txError);
    if (!commit) return false;
    if (auto c = im.exec("COMMIT"); !c) return c;
    end.done = true;
    return true;
}

util::Result<std::optional<Entry>> Store::find(std::string_view target, const Scope& scope) const {
    const std::string scopeStr = scopeKey(scope);
    std::lock_guard lock(impl_->mu);
    return impl_->findLocked(target, scopeStr);
}

util::Result<size_t> Store::scan(std::optional<Scope> scope, std::optional<Reason> reason,
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

util::Result<std::vector<Entry>> Store::list(std::optional<Scope> scope, std::optional<Reason> reason,
                                             std::string_view targetPrefix, size_t limit) const {
    std::vector<Entry> out;
    auto r = scan(std::move(scope), reason, targetPrefix, limit, [&out](const Entry& e) { out.push_back(e); });
    if (!r) return util::err(r.error());
    return out;
}

util::Result<size_t> Store::count() const {
    std::lock_guard lock(impl_->mu);
    auto st = impl_->prepare("SELECT count(*) FROM entries");
    if (!st) return util::err(st.error());
    Query q(st->get());
    if (q.step() != SQLITE_ROW) return impl_->fail("counting entries");
    return static_cast<size_t>(q.colI64(0));
}

namespace {

AuditRecord auditRow(const Query& q, bool& ok) {
    AuditRecord a;
    a.id = q.colI64(0);
    a.at = q.colI64(1);
    a.action = std::string(q.col(2));
    a.entry = Store::Impl::rowEntry(q, 3, ok);
    a.who = std::string(q.col(10));
    a.why = std::string(q.col(11));
    return a;
}

int64_t sqlLimit(size_t max) {
    return max == 0 ? -1 : static_cast<int64_t>(std::min<size_t>(max, std::numeric_limits<int64_t>::max()));
}

}  // namespace

util::Result<std::vector<AuditRecord>> Store::auditSince(int64_t afterId, size_t max) const {
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

util::Result<std::vector<AuditRecord>> Store::auditTail(std::string_view target, size_t max) const {
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

util::Result<int64_t> Store::lastAuditId() const {
    std::lock_guard lock(impl_->mu);
    return impl_->lastAuditLocked();
}

util::Result<int64_t> Store::forEach(const std::function<void(const Entry&)>& f) const {
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

util::Result<std::vector<Entry>> Store::matches(std::string_view recipient, const LookupContext& ctx, unsigned scopes,
                                                int64_t now, const NormalizeOptions& norm) const {
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

util::Result<size_t> Store::expire(int64_t now) {
    const int64_t at = wallNow();
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
        return static_cast<size_t>(sqlite3_changes64(impl_->db.get()));
    });
}

util::Result<std::string> Store::shareWith(const std::string& path, const std::string& user) {
    if (::geteuid() != 0 || user.empty()) return std::string();
    auto account = util::lookupAccount(user);
    if (!account) {
        return util::err("rampart_user " + user + " does not exist: " + path +
                         " stays root's, and rampart-milter and rampart-policyd cannot read it");
    }
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    struct stat ds {};
    if (::stat(dir.c_str(), &ds) != 0) return util::err("cannot stat " + dir + ": " + std::strerror(errno));
    const bool dirIsTheirs = ds.st_uid == account->uid;
    bool changed = false;
    for (const std::string& f : {path, path + "-wal", path + "-shm"}) {
        struct stat fs {};
        if (::lstat(f.c_str(), &fs) != 0 || !S_ISREG(fs.st_mode)) continue;
        uid_t uid = dirIsTheirs ? account->uid : fs.st_uid;
        if (fs.st_uid != uid || fs.st_gid != account->gid) {
            if (::chown(f.c_str(), uid, account->gid) != 0) {
                return util::err("cannot give " + f + " to " + user + ": " + std::strerror(errno));
            }
            changed = true;
        }
        if ((fs.st_mode & 0040) == 0) {
            if (::chmod(f.c_str(), (fs.st_mode & 07777) | 0040) != 0) {
                return util::err("cannot make " + f + " group-readable: " + std::strerror(errno));
            }
            changed = true;
        }
    }
    if (!changed) return std::string();
    if (dirIsTheirs) return path + ": owner set to " + user + " (the daemons read it as that user)";
    return path + ": group set to " + user + "'s group (mode 0640), so the daemons can read it; " + dir +
           " does not belong to " + user + " (recommended: chown " + user + ": " + dir + ")";
}

// ------------------------------------------------------------------------------ CSV

namespace {

constexpr size_t kMaxRecord = 65536;

// RFC 4180 records from a stream: quoted fields with doubled quotes and line breaks, CRLF or LF,
// a UTF-8 byte order mark, blank lines and '#' comment lines skipped. Unquoted fields are trimmed.
class CsvReader {
  public:
    explicit CsvReader(std::istream& in) : in_(in) {}

    // The next record; false at the end of the input. `line` is where the record starts; `error`
    // is set (and `fields` incomplete) for a malformed one.
    bool next(std::vector<std::string>& fields, size_t& line, std::string& error) {
        fields.clear();
        error.clear();
        std::string cur;
        while (true) {
            if (!readLine(cur)) return false;
            std::string_view t = util::trim(cur);
            if (!t.empty() && t.front() != '#') break;
        }
        line = lineNo_;
        if (cur.size() > kMaxRecord) {
            error = "line longer than 64 KiB";
            return true;
        }
        std::string field;
        enum class St { Start, Plain, Quoted, AfterQuote } st = St::Start;
        size_t bytes = cur.size();
        size_t i = 0;
        while (true) {
            for (; i < cur.size(); ++i) {
                const char c = cur[i];
                switch (st) {
                    case St::Start:
                        if (c == '"') {
                            st = St::Quoted;
                        } else if (c == ',') {
                            fields.emplace_back();
                        } else if (!util::isSpace(c)) {
                            field += c;
                            st = St::Plain;
                        }
                        break;
                    case St::Plain:
                        if (c == ',') {
                            fields.emplace_back(util::trim(field));
                            field.clear();
                            st = St::Start;
                        } else {
                            field += c;
                        }
                        break;
                    case St::Quoted:
                        if (c != '"') {
                            field += c;
                        } else if (i + 1 < cur.size() && cur[i + 1] == '"') {
                            field += '"';
                            ++i;
                        } else {
                            st = St::AfterQuote;
                        }
                        break;
                    case St::AfterQuote:
                        if (c == ',') {
                            fields.push_back(std::move(field));
                            field.clear();
                            st = St::Start;
                        } else if (!util::isSpace(c)) {
                            error = "unexpected text after a closing quote";
                            return true;
                        }
                        break;
                }
            }
            if (st != St::Quoted) break;
            // A quoted field goes on over the line break.
            if (!readLine(cur)) {
                error = "unterminated quoted field";
                return true;
            }
            bytes += cur.size() + 1;
            if (bytes > kMaxRecord) {
                error =
                    "unterminated quoted field (the record runs past 64 KiB, to line " + std::to_string(lineNo_) + ")";
                return true;
            }
            field += '\n';
            i = 0;
        }
        fields.push_back(st == St::Plain ? std::string(util::trim(field)) : std::move(field));
        return true;
    }

    bool failed() const { return in_.bad(); }

  private:
    bool readLine(std::string& out) {
        if (!std::getline(in_, out)) return false;
        ++lineNo_;
        if (!out.empty() && out.back() == '\r') out.pop_back();
        if (lineNo_ == 1 && out.compare(0, 3, "\xEF\xBB\xBF") == 0) out.erase(0, 3);
        return true;
    }

    std::istream& in_;
    size_t lineNo_ = 0;
};

bool isHeaderField(std::string_view f) {
    std::string h;
    for (char c : util::trim(f)) {
        if (c != '_' && c != '-' && c != ' ') h += util::toLowerAscii(c);
    }
    return h == "email" || h == "emailaddress" || h == "address" || h == "recipient" || h == "target" || h == "mail";
}

std::string csvField(std::string_view s) {
    bool quote = !s.empty() && (s.front() == '#' || util::isSpace(s.front()) || util::isSpace(s.back()));
    for (char c : s)
        quote = quote || c == ',' || c == '"' || c == '\r' || c == '\n';
    if (!quote) return std::string(s);
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

std::string_view sesReasonName(Reason r) {
    if (r == Reason::HardBounce) return "BOUNCE";
    if (r == Reason::Complaint) return "COMPLAINT";
    return reasonName(r);
}

constexpr const char* kReasonList = "hard_bounce, soft_bounce, complaint, unsubscribe, manual or legal";

}  // namespace

ImportReport importCsv(Store& store, std::istream& in, const std::string& fileName, CsvFormat format,
                       const Scope& defaultScope, const NormalizeOptions& norm, std::string_view who, int64_t now) {
    ImportReport rep;
    const std::string name = fileName.empty() || fileName == "-" ? std::string("stdin") : fileName;
    const size_t slash = name.rfind('/');
    const std::string source = "import:" + (slash == std::string::npos ? name : name.substr(slash + 1));
    const std::string why = "import of " + name;
    auto lineError = [&](size_t line, const std::string& m) {
        rep.errors.push_back(name + ":" + std::to_string(line) + ": " + m);
    };
    CsvReader reader(in);
    std::vector<std::string> fields;
    std::string error;
    size_t line = 0;
    bool first = true;
    std::string readError;
    auto tx = store.transaction([&]() -> bool {
        while (reader.next(fields, line, error)) {
            if (!error.empty()) {
                lineError(line, error);
                first = false;
                continue;
            }
            if (first) {
                first = false;
                if (isHeaderField(fields[0])) continue;
            }
            const bool ses = format == CsvFormat::Ses;
            if (ses && fields.size() != 2) {
                lineError(line, fields.size() < 2
                                    ? "missing reason (expected email,reason)"
                                    : "expected 2 fields (email,reason), got " + std::to_string(fields.size()));
                continue;
            }
            if (!ses && fields.size() > 4) {
                lineError(line, "expected at most 4 fields (address,reason,scope,expires), got " +
                                    std::to_string(fields.size()));
                continue;
            }
            auto target = normalizeTarget(fields[0], norm);
            if (!target) {
                lineError(line, target.error());
                continue;
            }
            Entry e;
            e.target = std::move(target).value();
            e.source = source;
            e.created = now;
            e.scope = defaultScope;
            if (fields.size() > 1 && !fields[1].empty()) {
                auto r = parseReason(fields[1]);
                if (!r) {
                    lineError(line, "unknown reason " + quoted(fields[1]) + " (expected " +
                                        (ses ? std::string("BOUNCE or COMPLAINT") : std::string(kReasonList)) + ")");
                    continue;
                }
                e.reason = *r;
            } else if (ses) {
                lineError(line, "missing reason (expected BOUNCE or COMPLAINT)");
                continue;
            }
            if (fields.size() > 2 && !fields[2].empty()) {
                auto s = Scope::parse(fields[2]);
                if (!s) {
                    lineError(line, s.error());
                    continue;
                }
                e.scope = std::move(s).value();
            }
            if (fields.size() > 3) {
                auto x = parseExpiry(fields[3], now);
                if (!x) {
                    lineError(line, x.error());
                    continue;
                }
                if (*x && **x <= now) {
                    lineError(line, "the expiry " + util::printable(fields[3]) + " has already passed");
                    continue;
                }
                e.expires = *x;
            }
            auto canon = canonicalEntry(e, now);
            if (!canon) {
                lineError(line, canon.error());
                continue;
            }
            // Every check is done: a failure now is the store's, and ends the import.
            auto r = store.add(*canon, who, why);
            if (!r) return false;
            switch (*r) {
                case AddOutcome::Added:
                    ++rep.added;
                    break;
                case AddOutcome::Updated:
                    ++rep.updated;
                    break;
                case AddOutcome::AlreadyThere:
                    ++rep.unchanged;
                    break;
            }
        }
        if (reader.failed()) {
            readError = "read error";
            return false;
        }
        return true;
    });
    if (!tx || !*tx) {
        rep.added = rep.updated = rep.unchanged = 0;
        rep.errors.push_back(name + ": nothing imported: " + (!tx ? tx.error() : readError));
    }
    return rep;
}

util::Result<size_t> exportCsv(const Store& store, std::ostream& out, CsvFormat format, int64_t now) {
    const bool ses = format == CsvFormat::Ses;
    out << (ses ? "email,reason\n" : "address,reason,scope,expires\n");
    std::optional<Scope> scope;
    if (ses) scope = Scope{};
    size_t n = 0;
    std::string row;
    auto r = store.scan(scope, std::nullopt, "", 0, [&](const Entry& e) {
        if (e.expires && *e.expires <= now) return;
        row = csvField(e.target);
        row += ',';
        row += ses ? sesReasonName(e.reason) : reasonName(e.reason);
        if (!ses) {
            row += ',';
            row += csvField(e.scope.str());
            row += ',';
            if (e.expires) row += dateText(floorDiv(*e.expires + 86399, 86400) * 86400);
        }
        row += '\n';
        out << row;
        ++n;
    });
    if (!r) return util::err(r.error());
    out.flush();
    if (!out) return util::err("write error while exporting the suppression list");
    return n;
}

// ------------------------------------------------------------------------------ Index

namespace {

// 64-bit hashing of short keys, after wyhash (final version 4, public domain): a 64x64->128-bit
// multiply folds 16 input bytes per step. Far faster than SipHash for the ~30-byte keys here; the
// index is in-process and keyed by data the operator controls, so hash flooding is not a concern.
__extension__ typedef unsigned __int128 U128;

constexpr uint64_t kS0 = 0x2d358dccaa6c78a5ULL;
constexpr uint64_t kS1 = 0x8bb84b93962eacc9ULL;
constexpr uint64_t kS2 = 0x4b33a62ed433d4a3ULL;
constexpr uint64_t kS3 = 0x4d5a2da51de1aa47ULL;

inline void mum(uint64_t& a, uint64_t& b) {
    U128 r = a;
    r *= b;
    a = static_cast<uint64_t>(r);
    b = static_cast<uint64_t>(r >> 64);
}
inline uint64_t mix(uint64_t a, uint64_t b) {
    mum(a, b);
    return a ^ b;
}
inline uint64_t read8(const unsigned char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
inline uint64_t read4(const unsigned char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

uint64_t hash64(std::string_view key, uint64_t seed) {
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    const size_t len = key.size();
    seed ^= mix(seed ^ kS0, kS1);
    uint64_t a = 0, b = 0;
    if (len <= 16) {
        if (len >= 4) {
            const size_t q = (len >> 3) << 2;
            a = (read4(p) << 32) | read4(p + q);
            b = (read4(p + len - 4) << 32) | read4(p + len - 4 - q);
        } else if (len > 0) {
            a = (uint64_t{p[0]} << 16) | (uint64_t{p[len >> 1]} << 8) | p[len - 1];
        }
    } else {
        size_t i = len;
        if (i > 48) {
            uint64_t s1 = seed, s2 = seed;
            do {
                seed = mix(read8(p) ^ kS1, read8(p + 8) ^ seed);
                s1 = mix(read8(p + 16) ^ kS2, read8(p + 24) ^ s1);
                s2 = mix(read8(p + 32) ^ kS3, read8(p + 40) ^ s2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= s1 ^ s2;
        }
        while (i > 16) {
            seed = mix(read8(p) ^ kS1, read8(p + 8) ^ seed);
            i -= 16;
            p += 16;
        }
        // The last 16 bytes of the key (overlapping what was hashed when i < 16).
        a = read8(p + i - 16);
        b = read8(p + i - 8);
    }
    a ^= kS1;
    b ^= seed;
    mum(a, b);
    return mix(a ^ kS0 ^ len, b ^ kS1);
}

constexpr uint64_t kSeedSlot = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kSeedCheck = 0xc2b2ae3d27d4eb4fULL;
constexpr uint32_t kReasonBits = 0xFFu;

struct Key {
    uint64_t fp;     // never 0 (0 marks an empty slot); its low bits choose the slot
    uint32_t check;  // 24 bits of a second hash, in the high bits
};

// "g\x1f" target, "t<tenant>\x1f" target, "f<domain>\x1f" target: 0x1F occurs in none of them.
Key makeKey(Scope::Kind kind, std::string_view value, std::string_view target, std::string& buf) {
    buf.clear();
    buf += kindChar(kind);
    buf += value;
    buf += '\x1f';
    buf += target;
    Key k{hash64(buf, kSeedSlot), static_cast<uint32_t>(hash64(buf, kSeedCheck)) & ~kReasonBits};
    if (k.fp == 0) k.fp = 1;
    return k;
}

uint32_t packExpiry(const std::optional<int64_t>& e) {
    if (!e) return 0;
    return static_cast<uint32_t>(std::clamp<int64_t>(*e, 1, std::numeric_limits<uint32_t>::max()));
}

std::optional<Reason> storedReason(std::string_view s) {
    for (const auto& i : kReasons) {
        if (i.name == s) return i.reason;
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

// 16 bytes per slot: the fingerprint, the expiry (unix seconds, 0 = never; unsigned 32 bits reach
// 2106) and the check bits with the reason in the low byte.
struct Slot {
    uint64_t fp = 0;
    uint32_t expires = 0;
    uint32_t tag = 0;
};
static_assert(sizeof(Slot) == 16);

// Open addressing with linear probing (a probe sequence stays in one or two cache lines), at most
// 70% full (an absent key costs about 6 slot reads on average at that load, 2.5 at 50%), deletion by
// backward shift (no tombstones to degrade lookups after many removals).
class Table {
  public:
    Table() : Table(0) {}
    explicit Table(size_t expected) {
        size_t cap = 1024;
        while (cap * 3 < expected * 5)
            cap <<= 1;  // at most 60% full when built
        slots_.assign(cap, Slot{});
        mask_ = cap - 1;
    }

    size_t size() const { return count_; }
    size_t bytes() const { return slots_.size() * sizeof(Slot); }
    bool roomFor(size_t extra) const { return (count_ + extra) * 10 <= slots_.size() * 7; }

    const Slot* find(Key k) const {
        for (size_t i = k.fp & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.fp == 0) return nullptr;
            if (s.fp == k.fp && (s.tag & ~kReasonBits) == k.check) return &s;
        }
    }

    void put(Key k, Reason reason, uint32_t expires) {
        for (size_t i = k.fp & mask_;; i = (i + 1) & mask_) {
            Slot& s = slots_[i];
            if (s.fp == 0) ++count_;
            if (s.fp == 0 || (s.fp == k.fp && (s.tag & ~kReasonBits) == k.check)) {
                s = Slot{k.fp, expires, k.check | static_cast<uint32_t>(reason)};
                return;
            }
        }
    }

    void erase(Key k) {
        size_t i = k.fp & mask_;
        while (true) {
            const Slot& s = slots_[i];
            if (s.fp == 0) return;
            if (s.fp == k.fp && (s.tag & ~kReasonBits) == k.check) break;
            i = (i + 1) & mask_;
        }
        // Move back every later slot of the cluster whose home is not between the hole and itself.
        for (size_t j = (i + 1) & mask_; slots_[j].fp != 0; j = (j + 1) & mask_) {
            const size_t home = slots_[j].fp & mask_;
            const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) {
                slots_[i] = slots_[j];
                i = j;
            }
        }
        slots_[i] = Slot{};
        --count_;
    }

    // Many slots at once, prefetching the home slot of the one a few places ahead: a large table
    // misses the cache on nearly every insert, and the misses then overlap instead of queueing.
    void putAll(const std::vector<Slot>& in) {
        constexpr size_t kAhead = 16;
        for (size_t i = 0; i < in.size(); ++i) {
            if (i + kAhead < in.size()) __builtin_prefetch(&slots_[in[i + kAhead].fp & mask_], 1);
            const Slot& s = in[i];
            put(Key{s.fp, s.tag & ~kReasonBits}, static_cast<Reason>(s.tag & kReasonBits), s.expires);
        }
    }

    Table grown(size_t extra) const {
        Table t(count_ + extra);
        for (const Slot& s : slots_) {
            if (s.fp != 0) t.insertNew(s);
        }
        return t;
    }

  private:
    void insertNew(const Slot& s) {
        size_t i = s.fp & mask_;
        while (slots_[i].fp != 0)
            i = (i + 1) & mask_;
        slots_[i] = s;
        ++count_;
    }

    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t count_ = 0;
};

struct Built {
    Table table;
    int64_t auditId = 0;
};

struct Change {
    int64_t id = 0;
    bool erase = false;
    Key key{};
    Reason reason = Reason::Manual;
    uint32_t expires = 0;
};

constexpr size_t kRefreshBatch = 8192;

}  // namespace

struct Index::Impl {
    mutable std::shared_mutex mu;  // guards table
    Table table;
    std::atomic<int64_t> lastAudit{0};
    std::mutex refreshMu;  // one load or refresh at a time: only they change the table
};

namespace {

// The whole store in one read snapshot, into a new table (the live one keeps serving meanwhile).
// The slots are collected first and inserted once their number is known: no count(*) pass over the
// table, and the inserts, which miss the cache on every slot of a large table, prefetch ahead.
util::Result<Built> build(Store::Impl& st) {
    // The entries are read in key order, which after random inserts is scattered over the file: when
    // the file is not in the page cache, that is one small random read after another. A helper
    // thread reads the file ahead sequentially (readahead(2): into the page cache, no copy) while
    // the scan runs, so most of its reads find the pages there.
    std::atomic<bool> scanDone{false};
    std::thread warmer;
    try {
        warmer = std::thread([&st, &scanDone] {
            int fd = ::open(st.path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) return;
            struct stat fs {};
            if (::fstat(fd, &fs) == 0) {
                constexpr off_t kChunk = 8 << 20;
                for (off_t off = 0; off < fs.st_size && !scanDone.load(std::memory_order_relaxed); off += kChunk) {
                    ::readahead(fd, off, static_cast<size_t>(kChunk));
                }
            }
            ::close(fd);
        });
    } catch (const std::system_error&) {
        // No thread to spare: the load is only slower.
    }
    struct JoinWarmer {
        std::atomic<bool>& done;
        std::thread& t;
        ~JoinWarmer() {
            done = true;
            if (t.joinable()) t.join();
        }
    } joinWarmer{scanDone, warmer};
    std::lock_guard lock(st.mu);
    return st.reading<Built>([&]() -> util::Result<Built> {
        std::vector<Slot> slots;
        slots.reserve(1 << 16);
        std::string buf;
        auto scanned = st.leanScan([&](std::string_view target, std::string_view scope, std::string_view reason,
                                       std::optional<int64_t> expires) {
            Scope::Kind kind;
            std::string_view value;
            auto r = storedReason(reason);
            if (!r || !storedScope(scope, kind, value)) return false;
            const Key k = makeKey(kind, value, target, buf);
            slots.push_back(Slot{k.fp, packExpiry(expires), k.check | static_cast<uint32_t>(*r)});
            return true;
        });
        if (!scanned) return util::err(scanned.error());
        auto last = st.lastAuditLocked();
        if (!last) return util::err(last.error());
        Built b{Table(slots.size()), *last};
        b.table.putAll(slots);
        return b;
    });
}

util::Result<std::vector<Change>> readChanges(Store::Impl& st, int64_t after) {
    std::lock_guard lock(st.mu);
    Query q(st.leanAuditStmt.get());
    q.i64(1, after).i64(2, static_cast<int64_t>(kRefreshBatch));
    std::vector<Change> out;
    std::string buf;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
        Change c;
        c.id = q.colI64(0);
        std::string_view action = q.col(1);
        Scope::Kind kind;
        std::string_view value;
        auto reason = storedReason(q.col(4));
        if (!reason || !storedScope(q.col(3), kind, value) ||
            (action != "add" && action != "update" && action != "remove" && action != "expire")) {
            // Not something this version wrote; it cannot be in the entries either. Skipped, but the
            // position still moves past it.
            c.erase = true;
            c.key = Key{0, 0};
            out.push_back(c);
            continue;
        }
        c.erase = action == "remove" || action == "expire";
        c.key = makeKey(kind, value, q.col(2), buf);
        c.reason = *reason;
        c.expires = packExpiry(q.colOpt(5));
        out.push_back(c);
    }
    if (rc != SQLITE_DONE) return st.fail("reading the audit trail");
    return out;
}

}  // namespace

Index::Index(NormalizeOptions norm) : norm_(norm), impl_(std::make_shared<Impl>()) {}

util::Result<size_t> Index::load(const Store& store) {
    std::lock_guard refreshing(impl_->refreshMu);
    auto b = build(*store.impl_);
    if (!b) return util::err(b.error());
    Built built = std::move(b).value();
    const size_t n = built.table.size();
    {
        std::unique_lock lock(impl_->mu);
        std::swap(impl_->table, built.table);
        impl_->lastAudit.store(built.auditId);
    }
    return n;  // the old table is freed here, outside the lock
}

util::Result<size_t> Index::refresh(const Store& store) {
    std::lock_guard refreshing(impl_->refreshMu);
    Store::Impl& st = *store.impl_;
    auto last = store.lastAuditId();
    if (!last) return util::err(last.error());
    int64_t cur = impl_->lastAudit.load();
    if (*last == cur) return 0;
    size_t live = size();
    // The trail went backwards: the database was replaced (restored, recreated). Or so much changed
    // (a large import) that reading the entries is cheaper than replaying the trail.
    if (*last < cur || static_cast<uint64_t>(*last - cur) > std::max<uint64_t>(100000, live / 4)) {
        auto b = build(st);
        if (!b) return util::err(b.error());
        Built built = std::move(b).value();
        const size_t loaded = built.table.size();
        {
            std::unique_lock lock(impl_->mu);
            std::swap(impl_->table, built.table);
            impl_->lastAudit.store(built.auditId);
        }
        return *last > cur ? static_cast<size_t>(*last - cur) : loaded;
    }
    size_t applied = 0;
    while (true) {
        auto changes = readChanges(st, cur);
        if (!changes) return util::err(changes.error());
        if (changes->empty()) break;
        size_t adds = 0;
        for (const auto& c : *changes)
            adds += c.erase ? 0 : 1;
        std::optional<Table> bigger;
        {
            // Only this function changes the table (under refreshMu), so it can be copied under the
            // shared lock while lookups go on.
            std::shared_lock lock(impl_->mu);
            if (!impl_->table.roomFor(adds)) bigger = impl_->table.grown(adds);
        }
        if (bigger) {
            std::unique_lock lock(impl_->mu);
            std::swap(impl_->table, *bigger);
        }
        // In slices, so that a lookup never waits for more than a few hundred table writes. A lookup
        // between two slices sees the first changes and not yet the later ones: each change stands
        // alone, in trail order, so that is just an earlier moment of the list.
        constexpr size_t kSlice = 512;
        for (size_t from = 0; from < changes->size(); from += kSlice) {
            std::unique_lock lock(impl_->mu);
            const size_t to = std::min(changes->size(), from + kSlice);
            for (size_t k = from; k < to; ++k) {
                const Change& c = (*changes)[k];
                if (c.key.fp == 0) continue;
                if (c.erase) {
                    impl_->table.erase(c.key);
                } else {
                    impl_->table.put(c.key, c.reason, c.expires);
                }
            }
        }
        impl_->lastAudit.store(changes->back().id);
        bigger.reset();  // the old table, freed outside the lock
        applied += changes->size();
        cur = changes->back().id;
        if (changes->size() < kRefreshBatch) break;
    }
    return applied;
}

std::optional<Hit> Index::lookup(std::string_view recipient, const LookupContext& ctx, unsigned scopes,
                                 int64_t now) const {
    auto target = normalizeTarget(recipient, norm_);
    if (!target) return std::nullopt;
    std::string tenant, fromDomain;
    if ((scopes & kTenant) && !ctx.tenant.empty()) tenant = util::toLower(ctx.tenant);
    if ((scopes & kFromDomain) && !ctx.fromDomain.empty()) fromDomain = util::toLower(ctx.fromDomain);
    Probe ps[6];
    const size_t n = probes(*target, tenant, fromDomain, scopes, ps);
    Key keys[6];
    std::string buf;
    buf.reserve(target->size() + tenant.size() + fromDomain.size() + 8);
    for (size_t i = 0; i < n; ++i)
        keys[i] = makeKey(ps[i].kind, ps[i].value, ps[i].target, buf);
    size_t found = n;
    Reason reason = Reason::Manual;
    {
        std::shared_lock lock(impl_->mu);
        for (size_t i = 0; i < n && found == n; ++i) {
            const Slot* s = impl_->table.find(keys[i]);
            if (s != nullptr && (s->expires == 0 || static_cast<int64_t>(s->expires) > now)) {
                found = i;
                reason = static_cast<Reason>(s->tag & kReasonBits);
            }
        }
    }
    if (found == n) return std::nullopt;
    return Hit{std::string(ps[found].target), Scope{ps[found].kind, std::string(ps[found].value)}, reason};
}

size_t Index::size() const {
    std::shared_lock lock(impl_->mu);
    return impl_->table.size();
}

int64_t Index::lastAuditId() const {
    return impl_->lastAudit.load();
}

size_t Index::memoryBytes() const {
    std::shared_lock lock(impl_->mu);
    return impl_->table.bytes();
}

}  // namespace rampart::suppress
