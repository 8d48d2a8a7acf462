// The suppression model: reason names, aliases, stickiness and strength; scopes (parsing and
// printing); the checks an entry passes before any store writes it; and the order of a lookup's
// probes (global, tenant, from_domain; address before domain), which the index and the stores share.
#include "suppression/model.h"

#include <cstring>

#include "mail/domain.h"
#include "suppression/internal.h"
#include "suppression/time_text.h"
#include "util/strings.h"

namespace rampart::suppress {

namespace {

constexpr size_t kMaxNote = 4096;
constexpr size_t kMaxTenant = 255;

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

}  // namespace

namespace detail {

// Tenant names may be any SASL login: printable, no white space, not too long.
util::Result<std::string> checkTenant(std::string_view t) {
    if (t.empty()) return util::err("empty tenant name");
    if (t.size() > kMaxTenant) return util::err("tenant name longer than 255 bytes");
    for (char c : t) {
        auto uc = static_cast<unsigned char>(c);
        if (uc <= 0x20 || uc == 0x7F) {
            return util::err("tenant name " + util::quoted(t, kQuotedMax) + " contains a space or a control character");
        }
    }
    return util::toLower(t);
}

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
    if (scopes & kGlobal) add(Scope::Kind::Global, {});
    if ((scopes & kTenant) && !tenant.empty()) add(Scope::Kind::Tenant, tenant);
    if ((scopes & kFromDomain) && !fromDomain.empty()) add(Scope::Kind::FromDomain, fromDomain);
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
        return util::err("invalid suppression target " + util::quoted(e.target, kQuotedMax) +
                         " (expected user@domain or @domain)");
    }
    // Spaces only in a quoted local part ("john doe"@example.com).
    const size_t quotedEnd = e.target.front() == '"' ? e.target.rfind('"') : 0;
    for (size_t i = 0; i < e.target.size(); ++i) {
        auto uc = static_cast<unsigned char>(e.target[i]);
        if (uc < 0x20 || uc == 0x7F || (uc == 0x20 && i > quotedEnd)) {
            return util::err("invalid suppression target " + util::quoted(e.target, kQuotedMax) +
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

}  // namespace detail

using detail::checkTenant;
using detail::kQuotedMax;

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
        return util::err("invalid scope " + util::quoted(t, kQuotedMax) +
                         " (expected global, tenant:NAME or from_domain:DOMAIN)");
    }
    std::string kind = util::toLower(t.substr(0, colon));
    std::string_view value = t.substr(colon + 1);
    if (kind == "tenant") {
        auto name = checkTenant(value);
        if (!name) return util::err("invalid scope " + util::quoted(t, kQuotedMax) + ": " + name.error());
        return Scope{Kind::Tenant, *name};
    }
    if (kind == "from_domain" || kind == "from-domain" || kind == "fromdomain") {
        if (value.empty())
            return util::err("invalid scope " + util::quoted(t, kQuotedMax) + ": no domain after from_domain:");
        auto d = mail::toAsciiDomain(value);
        if (!d) return util::err("invalid scope " + util::quoted(t, kQuotedMax) + ": " + d.error());
        return Scope{Kind::FromDomain, *d};
    }
    return util::err("invalid scope " + util::quoted(t, kQuotedMax) +
                     " (expected global, tenant:NAME or from_domain:DOMAIN)");
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

}  // namespace rampart::suppress
