// The limits file's types (limits.h): names of scopes, attributes and actions, the value types'
// canonical text, condition matching, and the LimitSet's queries (limit by name, provider tables)
// and canonical form. The file grammar is in limits_parser.cpp and limits_keys.cpp, sending
// windows in windows.cpp.
#include "policyd/limits.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>

#include "policyd/calendar.h"
#include "policyd/limits_detail.h"
#include "util/strings.h"

namespace rampart::policyd {

namespace {

// Glob with '*' only; both sides lower-case.
bool globMatch(std::string_view pattern, std::string_view s) {
    size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
    while (i < s.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = i;
        } else if (p < pattern.size() && pattern[p] == s[i]) {
            ++p;
            ++i;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            i = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

}  // namespace

// ------------------------------------------------------------------------------ limits_detail.h

std::string_view opName(Condition::Op op) {
    switch (op) {
        case Condition::Op::Equal:
            return "=";
        case Condition::Op::NotEqual:
            return "!=";
        case Condition::Op::In:
            return "in";
        case Condition::Op::NotIn:
            return "not in";
        case Condition::Op::Match:
            return "~";
        case Condition::Op::NotMatch:
            return "!~";
    }
    return "?";
}

std::string_view periodWord(CalendarPeriod p) {
    switch (p) {
        case CalendarPeriod::Hour:
            return "h";
        case CalendarPeriod::Day:
            return "day";
        case CalendarPeriod::Week:
            return "week";
    }
    return "?";
}

std::string normalizeHost(std::string_view h) {
    std::string s = util::toLower(util::trim(h));
    while (!s.empty() && s.back() == '.')
        s.pop_back();
    return s;
}

// ------------------------------------------------------------------------------ names

std::string_view scopeName(ScopeKind k) {
    return kAttributeNames[static_cast<size_t>(k)];
}
std::string_view attributeName(Attribute a) {
    return kAttributeNames[static_cast<size_t>(a)];
}

std::optional<ScopeKind> parseScopeKind(std::string_view name) {
    for (size_t i = 0; i < kScopeKinds; ++i) {
        if (kAttributeNames[i] == name) return static_cast<ScopeKind>(i);
    }
    return std::nullopt;
}

std::optional<Attribute> parseAttribute(std::string_view name) {
    for (size_t i = 0; i < kAttributes; ++i) {
        if (kAttributeNames[i] == name) return static_cast<Attribute>(i);
    }
    return std::nullopt;
}

std::string_view actionName(Action a) {
    switch (a) {
        case Action::DeferIfPermit:
            return "defer_if_permit";
        case Action::Defer:
            return "defer";
        case Action::Reject:
            return "reject";
    }
    return "?";
}

// ------------------------------------------------------------------------------ value types

bool Condition::matches(std::string_view value) const {
    bool isNet = attribute == Attribute::ClientAddress && !networks.networks().empty();
    switch (op) {
        case Op::Equal:
        case Op::In:
            if (value.empty()) return false;
            if (isNet) return networks.contains(value);
            return std::find(values.begin(), values.end(), value) != values.end();
        case Op::NotEqual:
        case Op::NotIn:
            if (value.empty()) return true;
            if (isNet) return !networks.contains(value);
            return std::find(values.begin(), values.end(), value) == values.end();
        case Op::Match:
            return !value.empty() && globMatch(values.front(), value);
        case Op::NotMatch:
            return value.empty() || !globMatch(values.front(), value);
    }
    return false;
}

std::string Condition::str() const {
    std::string out = std::string(attributeName(attribute)) + " " + std::string(opName(op)) + " ";
    if (attribute == Attribute::ClientAddress && !networks.networks().empty() && (op == Op::In || op == Op::NotIn)) {
        return out + networks.toString();
    }
    return out + util::join(values, ", ");
}

std::string Cap::str() const {
    return std::to_string(count) + (messages ? " msgs" : "") + "/" + std::string(periodWord(period));
}

std::string RateSpec::str() const {
    std::string s = config::formatRate(rate);
    if (burst != 1) s += " burst " + std::to_string(burst);
    return s;
}

std::string Spacing::str() const {
    std::string s = config::formatDuration(interval);
    if (jitter.count() > 0) s += " ~ " + config::formatDuration(jitter);
    return s;
}

uint64_t WarmupSchedule::capOnDay(uint32_t day) const {
    if (table.empty()) return 0;
    size_t i = std::min<size_t>(std::max<uint32_t>(day, 1), table.size()) - 1;
    return table[i];
}

std::string WarmupSchedule::str() const {
    std::string out = "[warmup " + name + "]\n" + definition + "\n";
    if (startDay) {
        out += "start = " + formatIsoDate(*startDay) + "\n";
    }
    return out;
}

std::string Limit::str(const LimitSet& set) const {
    std::string out = "[" + name + "]\n";
    std::vector<std::string> sc;
    for (auto k : scopes)
        sc.emplace_back(scopeName(k));
    out += "scope = " + util::join(sc, ", ") + "\n";
    if (!when.empty()) {
        std::vector<std::string> cs;
        for (const auto& c : when)
            cs.push_back(c.str());
        out += "when = " + util::join(cs, " and ") + "\n";
    }
    if (cap) out += "cap = " + cap->str() + "\n";
    if (rate) out += "rate = " + rate->str() + "\n";
    if (spacing) out += "spacing = " + spacing->str() + "\n";
    if (window) out += "window = " + window->str() + "\n";
    if (const auto* w = set.warmupOf(*this)) out += "warmup = " + w->name + "\n";
    if (action != Action::DeferIfPermit) out += "action = " + std::string(actionName(action)) + "\n";
    if (monitor) out += "monitor = yes\n";
    if (explicitZone && zone) out += "timezone = " + std::string(zone->name()) + "\n";
    return out;
}

std::string Limit::summary(const LimitSet& set) const {
    std::vector<std::string> sc;
    for (auto k : scopes)
        sc.emplace_back(scopeName(k));
    std::string out = "scope=" + util::join(sc, ",");
    if (!when.empty()) {
        std::vector<std::string> cs;
        for (const auto& c : when)
            cs.push_back(c.str());
        out += " when=\"" + util::join(cs, " and ") + "\"";
    }
    if (cap) out += " cap=" + cap->str();
    if (rate) out += " rate=\"" + rate->str() + "\"";
    if (spacing) out += " spacing=\"" + spacing->str() + "\"";
    if (window) out += " window=\"" + window->str() + "\"";
    if (const auto* w = set.warmupOf(*this)) out += " warmup=" + w->name;
    if (action != Action::DeferIfPermit) out += " action=" + std::string(actionName(action));
    if (monitor) out += " monitor=yes";
    if (zone) out += " timezone=" + std::string(zone->name());
    return out;
}

bool Exemptions::empty() const {
    for (const auto& v : values) {
        if (!v.empty()) return false;
    }
    return networks.networks().empty();
}

// ------------------------------------------------------------------------------ LimitSet

LimitSet::LimitSet() : defaultZone_(utcZone()) {
    providerDomains_ = {
        {"gmail.com", "google"},      {"googlemail.com", "google"}, {"outlook.com", "microsoft"},
        {"hotmail.com", "microsoft"}, {"live.com", "microsoft"},    {"msn.com", "microsoft"},
        {"yahoo.com", "yahoo"},       {"aol.com", "yahoo"},         {"ymail.com", "yahoo"},
        {"icloud.com", "apple"},      {"me.com", "apple"},
    };
    providerMx_ = {
        {"google", {"google.com", "googlemail.com"}},
        {"microsoft", {"mail.protection.outlook.com", "olc.protection.outlook.com"}},
        {"yahoo", {"yahoodns.net"}},
        {"apple", {"icloud.com"}},
    };
}

const Limit* LimitSet::find(std::string_view name) const {
    for (const auto& l : limits_) {
        if (l.name == name) return &l;
    }
    return nullptr;
}

std::optional<std::string> LimitSet::providerForDomain(std::string_view domain) const {
    std::string d = normalizeHost(domain);
    auto it = providerDomains_.find(d);
    if (it == providerDomains_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::string> LimitSet::providerForMx(const std::vector<std::string>& mxHosts) const {
    if (mxHosts.empty()) return std::nullopt;
    for (const auto& [provider, suffixes] : providerMx_) {
        bool all = true;
        for (const auto& raw : mxHosts) {
            std::string h = normalizeHost(raw);
            bool hit = false;
            for (const auto& s : suffixes) {
                if (h == s || (h.size() > s.size() && h.ends_with(s) && h[h.size() - s.size() - 1] == '.')) {
                    hit = true;
                    break;
                }
            }
            if (!hit) {
                all = false;
                break;
            }
        }
        if (all) return provider;
    }
    return std::nullopt;
}

std::string LimitSet::str() const {
    std::string out;
    for (const auto& l : limits_)
        out += l.str(*this) + "\n";
    for (const auto& w : warmups_)
        out += w.str() + "\n";
    if (!exempt_.empty()) {
        out += "[exempt]\n";
        for (size_t i = 0; i < kAttributes; ++i) {
            auto a = static_cast<Attribute>(i);
            if (a == Attribute::ClientAddress) {
                if (!exempt_.networks.networks().empty()) {
                    out += "client_address = " + exempt_.networks.toString() + "\n";
                }
                continue;
            }
            if (exempt_.values[i].empty()) continue;
            std::vector<std::string> v(exempt_.values[i].begin(), exempt_.values[i].end());
            std::sort(v.begin(), v.end());
            out += std::string(attributeName(a)) + " = " + util::join(v, ", ") + "\n";
        }
        out += "\n";
    }
    // The provider tables in full (built-ins included), sorted: what this daemon will use.
    std::vector<std::pair<std::string, std::string>> domains(providerDomains_.begin(), providerDomains_.end());
    std::sort(domains.begin(), domains.end());
    out += "[provider-domains]\n";
    for (const auto& [d, p] : domains)
        out += d + " = " + p + "\n";
    out += "\n[provider-mx]\n";
    for (const auto& [p, suffixes] : providerMx_) {
        std::vector<std::string> dotted;
        for (const auto& s : suffixes)
            dotted.push_back("." + s);
        out += p + " = " + util::join(dotted, ", ") + "\n";
    }
    return out;
}

}  // namespace rampart::policyd
