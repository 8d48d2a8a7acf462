// Parser of the limits file (docs/limits.md). Two passes: the first reads sections and keys and
// checks each value on its own; the second (finish) checks what needs the whole file: warmup
// references, required keys, defaults that depend on other keys, and the warnings about settings
// that can never bind.
#include "policyd/limits.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "policyd/calendar.h"
#include "util/strings.h"

namespace rampart::policyd {

using config::Diagnostics;
using config::SourceLocation;
using namespace std::chrono_literals;

namespace {

constexpr std::array<std::string_view, kAttributes> kAttributeNames{"mailbox",        "sender",    "sender_domain",
                                                                    "client_address", "listener",  "recipient_domain",
                                                                    "provider",       "recipient", "sasl_username"};

constexpr std::array<std::string_view, 7> kDayNames{"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

// Longest ramp we expand: a schedule that needs more than ten years to reach its ceiling is a typo.
constexpr size_t kMaxRampDays = 3650;

size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// " (did you mean X?)" for the closest candidate within a small distance, else "".
template <typename Range>
std::string didYouMean(std::string_view word, const Range& candidates) {
    std::string_view best;
    size_t bestDist = std::max<size_t>(2, word.size() / 3) + 1;
    for (const auto& c : candidates) {
        size_t d = editDistance(word, c);
        if (d < bestDist) {
            bestDist = d;
            best = c;
        }
    }
    return best.empty() ? std::string() : " (did you mean " + std::string(best) + "?)";
}

bool validName(std::string_view n) {
    if (n.empty()) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.';
    });
}

std::string_view stripComment(std::string_view line) {
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '#' && (i == 0 || util::isSpace(line[i - 1]))) return line.substr(0, i);
    }
    return line;
}

std::string quoted(std::string_view s) {
    return "\"" + util::printable(s, 80) + "\"";
}

std::string scopeList() {
    std::string s;
    for (size_t i = 0; i < kScopeKinds; ++i) {
        if (i > 0) s += i + 1 == kScopeKinds ? " or " : ", ";
        s += kAttributeNames[i];
    }
    return s;
}

std::string formatHm(unsigned minutes) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02u:%02u", (minutes / 60) % 100, minutes % 60);
    return buf;
}

// "HH:MM" -> minutes; allowClose lets 24:00 through.
std::optional<unsigned> parseHm(std::string_view t, bool allowClose) {
    if (t.size() != 5 || t[2] != ':') return std::nullopt;
    auto h = util::parseUnsigned(t.substr(0, 2));
    auto m = util::parseUnsigned(t.substr(3, 2));
    if (!h || !m || *m > 59) return std::nullopt;
    if (*h > 24 || (*h == 24 && (*m != 0 || !allowClose))) return std::nullopt;
    return static_cast<unsigned>(*h * 60 + *m);
}

std::optional<unsigned> dayIndex(std::string_view d) {
    std::string l = util::toLower(d);
    for (size_t i = 0; i < kDayNames.size(); ++i) {
        if (kDayNames[i] == l) return static_cast<unsigned>(i);
    }
    return std::nullopt;
}

// "mon-fri", "sat,sun", "daily", "mon-wed,fri" -> bit mask (bit 0 Monday).
util::Result<uint8_t> parseDays(std::string_view text) {
    const std::string expected = " (mon, tue, wed, thu, fri, sat, sun, a range mon-fri, a list sat,sun, or daily)";
    uint8_t mask = 0;
    for (const auto& item : util::splitList(text, ",")) {
        if (util::iequals(item, "daily")) {
            mask = 0x7f;
            continue;
        }
        size_t dash = item.find('-');
        if (dash == std::string::npos) {
            auto d = dayIndex(item);
            if (!d) return util::err("unknown day " + quoted(item) + expected);
            mask = static_cast<uint8_t>(mask | (1u << *d));
            continue;
        }
        auto from = dayIndex(util::trim(std::string_view(item).substr(0, dash)));
        auto to = dayIndex(util::trim(std::string_view(item).substr(dash + 1)));
        if (!from || !to) return util::err("unknown day range " + quoted(item) + expected);
        for (unsigned d = *from;; d = (d + 1) % 7) {  // a range may wrap: fri-mon
            mask = static_cast<uint8_t>(mask | (1u << d));
            if (d == *to) break;
        }
    }
    if (mask == 0) return util::err("missing days" + expected);
    return mask;
}

std::string formatDays(uint8_t mask) {
    if (mask == 0x7f) return "daily";
    std::string out;
    for (unsigned d = 0; d < 7;) {
        if (!(mask & (1u << d))) {
            ++d;
            continue;
        }
        unsigned e = d;
        while (e + 1 < 7 && (mask & (1u << (e + 1))))
            ++e;
        if (!out.empty()) out += ",";
        if (e == d) {
            out += kDayNames[d];
        } else if (e == d + 1) {
            out += std::string(kDayNames[d]) + "," + std::string(kDayNames[e]);
        } else {
            out += std::string(kDayNames[d]) + "-" + std::string(kDayNames[e]);
        }
        d = e + 1;
    }
    return out;
}

bool isTimeRange(std::string_view t) {
    return t.size() == 11 && t[5] == '-' && t[2] == ':' && t[8] == ':';
}

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

std::chrono::seconds periodLength(CalendarPeriod p) {
    switch (p) {
        case CalendarPeriod::Hour:
            return 1h;
        case CalendarPeriod::Day:
            return 24h;
        case CalendarPeriod::Week:
            return 7 * 24h;
    }
    return 24h;
}

bool validDomainChars(std::string_view d) {
    if (d.empty()) return false;
    return std::all_of(d.begin(), d.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    });
}

std::string normalizeHost(std::string_view h) {
    std::string s = util::toLower(util::trim(h));
    while (!s.empty() && s.back() == '.')
        s.pop_back();
    return s;
}

}  // namespace

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

std::string Window::str() const {
    if (explicitZone && zone) return text + " " + std::string(zone->name());
    return text;
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

// ------------------------------------------------------------------------------ the parser

class LimitParser {
  public:
    LimitParser(LimitSet& set, const std::string& file, Diagnostics& diags) : set_(set), file_(file), diags_(diags) {}

    void run(std::string_view text);

  private:
    enum class Kind { None, Limit, Warmup, Exempt, ProviderDomains, ProviderMx };
    struct Line {
        int line;
        std::string text;
    };
    struct Pending {  // per limit: what only the whole file can resolve
        std::string warmupName;
        int warmupLine = 0;
        std::optional<std::pair<std::string, int>> windowText;  // parsed once the zone is known
    };
    struct WarmupPending {
        bool hasDays = false, hasRamp = false;
        int line = 0;
        bool zeroInDays = false;
        int zeroLine = 0;
    };

    SourceLocation at(int line) const { return {file_, line}; }
    void error(int line, std::string m) { diags_.error(at(line), std::move(m)); }
    void warning(int line, std::string m) { diags_.warning(at(line), std::move(m)); }

    void header(const Line& l);
    void keyValue(const Line& l);
    void limitKey(const Line& l, const std::string& key, std::string_view value);
    void warmupKey(const Line& l, const std::string& key, std::string_view value);
    void exemptKey(const Line& l, const std::string& key, std::string_view value);
    void providerDomainKey(const Line& l, const std::string& key, std::string_view value);
    void providerMxKey(const Line& l, const std::string& key, std::string_view value);
    void finish();
    void finishLimit(Limit& lim, Pending& p);

    util::Result<std::vector<Condition>> parseWhen(std::string_view text);
    util::Result<Window> parseWindow(std::string_view text, const date::time_zone* fallback);

    LimitSet& set_;
    const std::string& file_;
    Diagnostics& diags_;
    Kind kind_ = Kind::None;
    std::string sectionTitle_;  // "[cold-mailbox]" for messages
    std::vector<std::pair<std::string, int>> sectionKeys_;
    size_t current_ = 0;  // index into limits_ / warmups_
    std::vector<Pending> pending_;
    std::vector<WarmupPending> warmupPending_;
    std::vector<std::pair<std::string, int>> globalKeys_;  // exempt/provider keys across sections
    size_t mxConfigured_ = 0;  // [provider-mx] lines so far: they precede the built-in rules
};

void LimitParser::run(std::string_view text) {
    std::vector<Line> lines;
    int lineNo = 0;
    std::string_view rest = text;
    bool lastWasHeader = false;
    while (!rest.empty()) {
        size_t nl = rest.find('\n');
        std::string_view raw = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
        ++lineNo;
        if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
        std::string_view content = stripComment(raw);
        if (util::trim(content).empty()) continue;
        if (util::isSpace(content.front())) {
            if (lines.empty() || lastWasHeader) {
                error(lineNo, "continuation line without a preceding \"key = value\" line");
                continue;
            }
            lines.back().text += " ";
            lines.back().text += util::trim(content);
            continue;
        }
        std::string_view t = util::trim(content);
        lastWasHeader = t.front() == '[';
        lines.push_back({lineNo, std::string(t)});
    }
    for (const auto& l : lines) {
        if (l.text.front() == '[') {
            header(l);
        } else {
            keyValue(l);
        }
    }
    finish();
}

void LimitParser::header(const Line& l) {
    kind_ = Kind::None;
    sectionKeys_.clear();
    size_t close = l.text.find(']');
    if (close == std::string::npos) {
        error(l.line, "expected a section header such as [NAME], got " + quoted(l.text));
        return;
    }
    if (!util::trim(std::string_view(l.text).substr(close + 1)).empty()) {
        error(l.line, "unexpected text after the section header " + quoted(l.text.substr(0, close + 1)));
        return;
    }
    std::string inner(util::trim(std::string_view(l.text).substr(1, close - 1)));
    sectionTitle_ = "[" + inner + "]";
    auto words = util::splitList(inner, " \t");
    const std::string expected = " (expected [NAME], [warmup NAME], [exempt], [provider-domains] or [provider-mx])";
    if (words.empty()) {
        error(l.line, "empty section header []" + expected);
        return;
    }
    if (words.size() == 1) {
        const std::string& w = words[0];
        if (w == "exempt") {
            kind_ = Kind::Exempt;
            return;
        }
        if (w == "provider-domains") {
            kind_ = Kind::ProviderDomains;
            return;
        }
        if (w == "provider-mx") {
            kind_ = Kind::ProviderMx;
            return;
        }
        if (w == "warmup") {
            error(l.line, "a warmup schedule needs a name: [warmup NAME]");
            return;
        }
        if (!validName(w)) {
            error(l.line, "bad limit name " + quoted(w) + " (letters, digits, -, _ and .)");
            return;
        }
        for (const auto& other : set_.limits_) {
            if (other.name == w) {
                error(l.line, "duplicate limit [" + w + "] (first at line " + std::to_string(other.where.line) + ")");
                return;
            }
        }
        Limit lim;
        lim.name = w;
        lim.where = at(l.line);
        set_.limits_.push_back(std::move(lim));
        pending_.emplace_back();
        current_ = set_.limits_.size() - 1;
        kind_ = Kind::Limit;
        return;
    }
    if (words.size() == 2 && words[0] == "warmup") {
        const std::string& w = words[1];
        if (!validName(w)) {
            error(l.line, "bad warmup name " + quoted(w) + " (letters, digits, -, _ and .)");
            return;
        }
        for (const auto& other : set_.warmups_) {
            if (other.name == w) {
                error(l.line, "duplicate warmup schedule [warmup " + w + "] (first at line " +
                                  std::to_string(other.where.line) + ")");
                return;
            }
        }
        WarmupSchedule ws;
        ws.name = w;
        ws.where = at(l.line);
        set_.warmups_.push_back(std::move(ws));
        warmupPending_.push_back({});
        warmupPending_.back().line = l.line;
        current_ = set_.warmups_.size() - 1;
        kind_ = Kind::Warmup;
        return;
    }
    error(l.line, "unknown section " + quoted(sectionTitle_) + expected);
}

void LimitParser::keyValue(const Line& l) {
    size_t eq = l.text.find('=');
    // `when = provider != x` has more "=": the key is before the first one.
    if (eq == std::string::npos) {
        error(l.line, "expected \"key = value\", got " + quoted(l.text));
        return;
    }
    std::string key(util::trim(std::string_view(l.text).substr(0, eq)));
    std::string_view value = util::trim(std::string_view(l.text).substr(eq + 1));
    if (kind_ == Kind::None) {
        if (sectionTitle_.empty()) {
            error(l.line, quoted(l.text) + " comes before any section (start one with [NAME])");
        }
        return;  // inside a bad section: its header already has an error
    }
    if (key.empty()) {
        error(l.line, "missing key before \"=\" in " + quoted(l.text));
        return;
    }
    if (value.empty()) {
        error(l.line, key + ": missing value");
        return;
    }
    bool global = kind_ == Kind::Exempt || kind_ == Kind::ProviderDomains || kind_ == Kind::ProviderMx;
    auto& seen = global ? globalKeys_ : sectionKeys_;
    std::string seenKey = global ? sectionTitle_ + key : key;
    for (const auto& [k, line] : seen) {
        if (k == seenKey) {
            error(l.line, "duplicate key " + quoted(key) + " in " + sectionTitle_ + " (first at line " +
                              std::to_string(line) + ")");
            return;
        }
    }
    seen.emplace_back(seenKey, l.line);
    switch (kind_) {
        case Kind::Limit:
            limitKey(l, key, value);
            break;
        case Kind::Warmup:
            warmupKey(l, key, value);
            break;
        case Kind::Exempt:
            exemptKey(l, key, value);
            break;
        case Kind::ProviderDomains:
            providerDomainKey(l, key, value);
            break;
        case Kind::ProviderMx:
            providerMxKey(l, key, value);
            break;
        case Kind::None:
            break;
    }
}

void LimitParser::limitKey(const Line& l, const std::string& key, std::string_view value) {
    static constexpr std::array<std::string_view, 10> kKeys{"scope",  "cap",  "rate",   "spacing", "window",
                                                            "warmup", "when", "action", "monitor", "timezone"};
    Limit& lim = set_.limits_[current_];
    Pending& p = pending_[current_];
    if (key == "scope") {
        for (const auto& s : util::splitList(value, ",")) {
            auto k = parseScopeKind(s);
            if (!k) {
                std::vector<std::string_view> names(kAttributeNames.begin(), kAttributeNames.begin() + kScopeKinds);
                std::string hint = didYouMean(s, names);
                error(l.line,
                      "scope: unknown scope " + quoted(s) + (hint.empty() ? " (expected " + scopeList() + ")" : hint));
                return;
            }
            if (std::find(lim.scopes.begin(), lim.scopes.end(), *k) != lim.scopes.end()) {
                error(l.line, "scope: " + s + " is listed twice");
                return;
            }
            lim.scopes.push_back(*k);
        }
        if (lim.scopes.empty()) error(l.line, "scope: expected one or more of " + scopeList());
        return;
    }
    if (key == "cap") {
        auto r = config::parseRate(value);
        if (!r) {
            error(l.line, "cap: " + r.error());
            return;
        }
        Cap c;
        c.count = r->count;
        c.messages = r->messages;
        if (r->period == 1h) {
            c.period = CalendarPeriod::Hour;
        } else if (r->period == 24h) {
            c.period = CalendarPeriod::Day;
        } else if (r->period == 7 * 24h) {
            c.period = CalendarPeriod::Week;
        } else {
            error(l.line, "cap: a cap counts per calendar period h, day or week, got " +
                              quoted(config::formatPeriod(r->period)) +
                              " (use rate for a smoothed pace over other periods)");
            return;
        }
        if (c.count == 0)
            warning(l.line, "cap: 0/" + std::string(periodWord(c.period)) +
                                " lets nothing through (a pause does that too: rampartctl pause)");
        lim.cap = c;
        return;
    }
    if (key == "rate") {
        std::string_view rateText = value;
        uint64_t burst = 1;
        // "8/h burst 2": the burst is the last two words.
        auto words = util::splitList(value, " \t");
        if (words.size() >= 2 && words[words.size() - 2] == "burst") {
            auto b = util::parseUnsigned(words.back());
            if (!b || *b == 0) {
                error(l.line, "rate: burst takes a whole number of at least 1, got " + quoted(words.back()));
                return;
            }
            burst = *b;
            rateText = util::trim(value.substr(0, value.rfind("burst")));
        } else if (value.find("burst") != std::string_view::npos) {
            error(l.line, "rate: expected N/PERIOD [burst B], got " + quoted(value));
            return;
        }
        auto r = config::parseRate(rateText);
        if (!r) {
            error(l.line, "rate: " + r.error() + " (expected N/PERIOD [burst B])");
            return;
        }
        if (r->count == 0) {
            error(l.line, "rate: a rate of 0 lets nothing through (use a pause: rampartctl pause)");
            return;
        }
        RateSpec rs;
        rs.rate = *r;
        rs.burst = burst;
        rs.emission = std::chrono::duration_cast<std::chrono::nanoseconds>(r->period) / static_cast<int64_t>(r->count);
        if (rs.emission.count() <= 0) {
            error(l.line, "rate: " + std::string(rateText) + " is faster than one per nanosecond");
            return;
        }
        lim.rate = rs;
        return;
    }
    if (key == "spacing") {
        Spacing s;
        std::string_view base = value;
        std::string_view jit;
        if (size_t t = value.find('~'); t != std::string_view::npos) {
            base = util::trim(value.substr(0, t));
            jit = util::trim(value.substr(t + 1));
            if (jit.empty()) {
                error(l.line, "spacing: expected DURATION [~ JITTER], got " + quoted(value));
                return;
            }
        }
        auto d = config::parseDuration(base);
        if (!d) {
            error(l.line, "spacing: " + d.error() + " (expected DURATION [~ JITTER])");
            return;
        }
        s.interval = *d;
        if (s.interval.count() == 0) {
            error(l.line, "spacing: 0s holds nothing back (remove the line)");
            return;
        }
        if (!jit.empty()) {
            auto j = config::parseDuration(jit);
            if (!j) {
                error(l.line, "spacing: jitter: " + j.error());
                return;
            }
            if (*j >= s.interval) {
                error(l.line, "spacing: the jitter (" + config::formatDuration(*j) +
                                  ") must be smaller than the spacing (" + config::formatDuration(s.interval) + ")");
                return;
            }
            s.jitter = *j;
        }
        lim.spacing = s;
        return;
    }
    if (key == "window") {
        p.windowText = std::make_pair(std::string(value), l.line);
        // Checked now for syntax (with any zone); the real zone is set in finish().
        auto w = parseWindow(value, utcZone());
        if (!w) {
            error(l.line, "window: " + w.error());
            p.windowText.reset();
        }
        return;
    }
    if (key == "warmup") {
        if (!validName(value)) {
            error(l.line, "warmup: expected the name of a [warmup NAME] section, got " + quoted(value));
            return;
        }
        p.warmupName = std::string(value);
        p.warmupLine = l.line;
        return;
    }
    if (key == "when") {
        auto c = parseWhen(value);
        if (!c) {
            error(l.line, "when: " + c.error());
            return;
        }
        lim.when = std::move(c.value());
        return;
    }
    if (key == "action") {
        if (value == "defer_if_permit") {
            lim.action = Action::DeferIfPermit;
        } else if (value == "defer") {
            lim.action = Action::Defer;
        } else if (value == "reject") {
            lim.action = Action::Reject;
        } else {
            error(l.line, "action: expected defer_if_permit, defer or reject, got " + quoted(value));
        }
        return;
    }
    if (key == "monitor") {
        auto b = config::parseBool(value);
        if (!b) {
            error(l.line, "monitor: " + b.error());
            return;
        }
        lim.monitor = *b;
        return;
    }
    if (key == "timezone") {
        const date::time_zone* z = findZone(value);
        if (!z) {
            error(l.line, "timezone: unknown time zone " + quoted(value) + " (an IANA name such as Europe/Berlin)");
            return;
        }
        lim.zone = z;
        lim.explicitZone = true;
        return;
    }
    error(l.line, "unknown key " + quoted(key) + " in " + sectionTitle_ + didYouMean(key, kKeys));
}

void LimitParser::warmupKey(const Line& l, const std::string& key, std::string_view value) {
    static constexpr std::array<std::string_view, 3> kKeys{"days", "ramp", "start"};
    WarmupSchedule& ws = set_.warmups_[current_];
    WarmupPending& wp = warmupPending_[current_];
    if (key == "days") {
        wp.hasDays = true;
        std::vector<uint64_t> table;
        std::vector<std::string> canon;
        for (const auto& item : util::splitList(value, ", \t")) {
            auto n = util::parseUnsigned(item);
            if (!n) {
                error(l.line,
                      "days: expected whole numbers separated by commas (the cap on day 1, 2, "
                      "...), got " +
                          quoted(item));
                return;
            }
            if (*n == 0 && !wp.zeroInDays) {
                wp.zeroInDays = true;
                wp.zeroLine = l.line;
            }
            table.push_back(*n);
            canon.push_back(std::to_string(*n));
        }
        if (table.empty()) {
            error(l.line, "days: expected whole numbers separated by commas (the cap on day 1, 2, ...)");
            return;
        }
        if (ws.table.empty()) {  // `ramp` first: reported in finish()
            ws.table = std::move(table);
            ws.definition = "days = " + util::join(canon, ", ");
        }
        return;
    }
    if (key == "ramp") {
        wp.hasRamp = true;
        static const std::regex re(
            R"(^\s*(\d+)\s*/\s*day\s*\+\s*(\d+(?:\.\d+)?)\s*(%?)\s*per\s+day\s+up\s+to\s+(\d+)\s*/\s*day\s*$)",
            std::regex::icase);
        std::string v(value);
        std::smatch m;
        const std::string expected =
            " (expected \"START/day + P% per day up to MAX/day\" or \"START/day + N per day up to "
            "MAX/day\")";
        if (!std::regex_match(v, m, re)) {
            error(l.line, "ramp: cannot read " + quoted(value) + expected);
            return;
        }
        auto start = util::parseUnsigned(m[1].str());
        auto max = util::parseUnsigned(m[4].str());
        bool percent = m[3].length() > 0;
        double step = std::strtod(m[2].str().c_str(), nullptr);
        if (!start || !max) {
            error(l.line, "ramp: number too large in " + quoted(value));
            return;
        }
        if (*start == 0) {
            error(l.line, "ramp: START must be at least 1/day (a day counts only if the scope sent)");
            return;
        }
        if (*start > *max) {
            error(l.line,
                  "ramp: START (" + std::to_string(*start) + "/day) is above MAX (" + std::to_string(*max) + "/day)");
            return;
        }
        if (step <= 0) {
            error(l.line, "ramp: the daily growth must be above 0");
            return;
        }
        if (!percent && m[2].str().find('.') != std::string::npos) {
            error(l.line, "ramp: a growth without % is a whole number of messages per day, got " + quoted(m[2].str()));
            return;
        }
        std::vector<uint64_t> table;
        double factor = 1.0 + step / 100.0;
        for (size_t day = 1;; ++day) {
            double x = percent ? static_cast<double>(*start) * std::pow(factor, static_cast<double>(day - 1))
                               : static_cast<double>(*start) + step * static_cast<double>(day - 1);
            // Rounded down (the conservative side); the epsilon keeps 20 * 1.15 at 23, not 22.
            uint64_t n = x >= static_cast<double>(*max) ? *max : static_cast<uint64_t>(std::floor(x + 1e-9));
            if (n > *max) n = *max;
            table.push_back(n);
            if (n >= *max) break;
            if (table.size() >= kMaxRampDays) {
                error(l.line, "ramp: reaches " + std::to_string(*max) + "/day only after more than " +
                                  std::to_string(kMaxRampDays) + " days");
                return;
            }
        }
        if (ws.table.empty()) {
            ws.table = std::move(table);
            std::string stepText = m[2].str();
            ws.definition = "ramp = " + std::to_string(*start) + "/day + " + stepText + (percent ? "%" : "") +
                            " per day up to " + std::to_string(*max) + "/day";
        }
        return;
    }
    if (key == "start") {
        auto day = parseIsoDate(value);
        if (!day) {
            error(l.line, "start: expected a date YYYY-MM-DD, got " + quoted(value));
            return;
        }
        ws.startDay = *day;
        return;
    }
    error(l.line, "unknown key " + quoted(key) + " in " + sectionTitle_ + didYouMean(key, kKeys));
}

void LimitParser::exemptKey(const Line& l, const std::string& key, std::string_view value) {
    auto a = parseAttribute(key);
    if (!a) {
        error(
            l.line, "unknown key " + quoted(key) + " in [exempt]" + [&] {
                std::string h = didYouMean(key, kAttributeNames);
                return h.empty() ? " (expected a scope name or sasl_username)" : h;
            }());
        return;
    }
    if (*a == Attribute::ClientAddress) {
        auto nets = net::CidrList::parse(value);
        if (!nets) {
            error(l.line, "client_address: " + nets.error());
            return;
        }
        std::vector<net::Cidr> all = set_.exempt_.networks.networks();
        for (const auto& n : nets->networks())
            all.push_back(n);
        set_.exempt_.networks = net::CidrList(std::move(all));
        return;
    }
    for (const auto& v : util::splitList(value, ", \t")) {
        set_.exempt_.values[static_cast<size_t>(*a)].insert(util::toLower(v));
    }
}

void LimitParser::providerDomainKey(const Line& l, const std::string& key, std::string_view value) {
    std::string domain = normalizeHost(key);
    std::string provider = util::toLower(value);
    if (!validDomainChars(domain)) {
        error(l.line, "[provider-domains]: expected DOMAIN = PROVIDER, got a bad domain " + quoted(key));
        return;
    }
    if (!validName(provider)) {
        error(l.line, "[provider-domains]: bad provider name " + quoted(value) + " (letters, digits, -, _ and .)");
        return;
    }
    set_.providerDomains_[domain] = provider;
}

void LimitParser::providerMxKey(const Line& l, const std::string& key, std::string_view value) {
    std::string provider = util::toLower(key);
    if (!validName(provider)) {
        error(l.line, "[provider-mx]: expected PROVIDER = .suffix, .suffix, got a bad provider name " + quoted(key));
        return;
    }
    std::vector<std::string> suffixes;
    for (const auto& s : util::splitList(value, ", \t")) {
        std::string n = normalizeHost(s);
        while (!n.empty() && n.front() == '.')
            n.erase(0, 1);
        if (!validDomainChars(n)) {
            error(l.line, "[provider-mx]: bad MX suffix " + quoted(s) + " (such as .google.com)");
            return;
        }
        suffixes.push_back(std::move(n));
    }
    if (suffixes.empty()) {
        error(l.line, "[provider-mx]: expected PROVIDER = .suffix, .suffix");
        return;
    }
    // A configured provider replaces the built-in suffixes of that provider; configured ones come
    // first, in file order.
    auto& mx = set_.providerMx_;
    mx.erase(std::remove_if(mx.begin(), mx.end(), [&](const auto& e) { return e.first == provider; }), mx.end());
    mx.insert(mx.begin() + static_cast<std::ptrdiff_t>(std::min(mxConfigured_, mx.size())),
              {provider, std::move(suffixes)});
    ++mxConfigured_;
}

util::Result<std::vector<Condition>> LimitParser::parseWhen(std::string_view text) {
    const std::string expected = " (expected ATTRIBUTE OPERATOR VALUE [and ...], operators =, !=, in, not in, ~, !~)";
    // Clauses are separated by the word "and".
    std::vector<std::string> clauses(1);
    for (const auto& w : util::splitList(text, " \t")) {
        if (w == "and") {
            clauses.emplace_back();
            continue;
        }
        if (!clauses.back().empty()) clauses.back() += " ";
        clauses.back() += w;
    }
    std::vector<Condition> out;
    for (const auto& clause : clauses) {
        if (clause.empty()) return util::err("empty condition around \"and\"" + expected);
        size_t i = 0;
        while (i < clause.size() && ((clause[i] >= 'a' && clause[i] <= 'z') || clause[i] == '_'))
            ++i;
        std::string attrName = clause.substr(0, i);
        auto attr = parseAttribute(attrName);
        if (attrName.empty()) return util::err("cannot read " + quoted(clause) + expected);
        if (!attr) {
            std::string h = didYouMean(attrName, kAttributeNames);
            return util::err("unknown attribute " + quoted(attrName) +
                             (h.empty() ? " (expected a scope name or sasl_username)" : h));
        }
        std::string_view rest = util::trim(std::string_view(clause).substr(i));
        Condition c;
        c.attribute = *attr;
        auto word = [&](std::string_view w) {
            return rest.size() > w.size() && rest.substr(0, w.size()) == w && util::isSpace(rest[w.size()]);
        };
        if (rest.starts_with("!=")) {
            c.op = Condition::Op::NotEqual;
            rest.remove_prefix(2);
        } else if (rest.starts_with("!~")) {
            c.op = Condition::Op::NotMatch;
            rest.remove_prefix(2);
        } else if (rest.starts_with("=")) {
            c.op = Condition::Op::Equal;
            rest.remove_prefix(1);
        } else if (rest.starts_with("~")) {
            c.op = Condition::Op::Match;
            rest.remove_prefix(1);
        } else if (word("in")) {
            c.op = Condition::Op::In;
            rest.remove_prefix(2);
        } else if (word("not")) {
            rest = util::trim(rest.substr(3));
            if (!word("in")) return util::err("expected \"not in\" in " + quoted(clause) + expected);
            c.op = Condition::Op::NotIn;
            rest.remove_prefix(2);
        } else {
            return util::err("missing operator in " + quoted(clause) + expected);
        }
        rest = util::trim(rest);
        if (rest.empty()) return util::err("missing value in " + quoted(clause) + expected);
        bool list = c.op == Condition::Op::In || c.op == Condition::Op::NotIn;
        std::vector<std::string> values = util::splitList(rest, ", \t");
        if (!list && values.size() != 1) {
            return util::err(std::string(opName(c.op)) + " takes one value, got " + quoted(rest) +
                             " (use in or not in for a list)");
        }
        if (c.attribute == Attribute::ClientAddress && c.op != Condition::Op::Match &&
            c.op != Condition::Op::NotMatch) {
            auto nets = net::CidrList::parse(util::join(values, ","));
            if (!nets) return util::err("client_address: " + nets.error());
            c.networks = *nets;
        }
        for (auto& v : values)
            c.values.push_back(util::toLower(v));
        out.push_back(std::move(c));
    }
    return out;
}

util::Result<Window> LimitParser::parseWindow(std::string_view text, const date::time_zone* fallback) {
    const std::string expected = " (expected DAYS HH:MM-HH:MM [; DAYS HH:MM-HH:MM ...] [ZONE])";
    Window w;
    w.zone = fallback;
    auto parts = util::splitExact(text, ';');
    std::vector<std::string> canon;
    for (size_t pi = 0; pi < parts.size(); ++pi) {
        auto words = util::splitList(parts[pi], " \t");
        size_t ti = 0;
        while (ti < words.size() && !isTimeRange(words[ti]))
            ++ti;
        if (ti == words.size()) {
            return util::err("missing HH:MM-HH:MM in " + quoted(util::trim(parts[pi])) + expected);
        }
        if (ti == 0) {
            return util::err("missing days before " + words[ti] + " (mon-fri, sat,sun, daily ...)" + expected);
        }
        std::string daysText;
        for (size_t k = 0; k < ti; ++k)
            daysText += words[k];
        auto days = parseDays(daysText);
        if (!days) return util::err(days.error());
        std::string_view range = words[ti];
        auto open = parseHm(range.substr(0, 5), false);
        auto close = parseHm(range.substr(6, 5), true);
        if (!open || !close) {
            return util::err("bad time in " + quoted(range) + " (HH:MM-HH:MM, 24-hour, 00:00 to 24:00)");
        }
        if (*open == *close || (*close == 1440 && *open == 0 && false)) {
            return util::err("empty span " + std::string(range) + " (use 00:00-24:00 for a whole day)");
        }
        WindowSpan span;
        span.days = *days;
        span.openMinute = static_cast<uint16_t>(*open);
        span.closeMinute = static_cast<uint16_t>(*close == 0 ? 1440 : *close);  // 22:00-00:00
        if (span.closeMinute == span.openMinute) return util::err("empty span " + std::string(range));
        w.spans.push_back(span);
        canon.push_back(formatDays(*days) + " " + formatHm(span.openMinute) + "-" + formatHm(span.closeMinute));
        if (ti + 1 < words.size()) {
            if (pi + 1 != parts.size() || ti + 2 != words.size()) {
                return util::err("unexpected " + quoted(words[ti + 1]) +
                                 " (the time zone, if any, goes once at the end)" + expected);
            }
            const date::time_zone* z = findZone(words[ti + 1]);
            if (!z) {
                return util::err("unknown time zone " + quoted(words[ti + 1]) +
                                 " (an IANA name such as Europe/Berlin)");
            }
            w.zone = z;
            w.explicitZone = true;
        }
    }
    w.text = util::join(canon, "; ");
    return w;
}

void LimitParser::finish() {
    // Warmup schedules first: limits check their values.
    for (size_t i = 0; i < set_.warmups_.size(); ++i) {
        WarmupSchedule& ws = set_.warmups_[i];
        const WarmupPending& wp = warmupPending_[i];
        if (wp.hasDays && wp.hasRamp) {
            error(wp.line, "[warmup " + ws.name + "] has both days and ramp (use one)");
        } else if (!wp.hasDays && !wp.hasRamp) {
            error(wp.line, "[warmup " + ws.name + "] needs days or ramp");
        }
        if (wp.zeroInDays && !ws.startDay) {
            error(wp.zeroLine,
                  "days: a day with 0 stalls the warmup (a day counts only if the scope "
                  "sent); count calendar days with start = YYYY-MM-DD to pause on some days");
        }
    }
    for (size_t i = 0; i < set_.limits_.size(); ++i)
        finishLimit(set_.limits_[i], pending_[i]);
    for (const auto& lim : set_.limits_) {
        if (lim.usesProvider) set_.needsProvider_ = true;
    }
    if (!set_.exempt_.values[static_cast<size_t>(Attribute::Provider)].empty()) set_.needsProvider_ = true;
}

void LimitParser::finishLimit(Limit& lim, Pending& p) {
    int line = lim.where.line;
    if (!lim.zone) lim.zone = set_.defaultZone_;
    if (p.windowText) {
        auto w = parseWindow(p.windowText->first, lim.zone);
        if (w) lim.window = std::move(w.value());
    }
    if (!p.warmupName.empty()) {
        for (size_t i = 0; i < set_.warmups_.size(); ++i) {
            if (set_.warmups_[i].name == p.warmupName) lim.warmup = static_cast<int>(i);
        }
        if (lim.warmup < 0) {
            std::vector<std::string> names;
            for (const auto& w : set_.warmups_)
                names.push_back(w.name);
            error(p.warmupLine,
                  "warmup: no [warmup " + p.warmupName + "] section in this file" + didYouMean(p.warmupName, names));
        }
    }
    if (lim.scopes.empty()) {
        error(line, "[" + lim.name + "] has no scope (add scope = " + scopeList() + ")");
    }
    bool enforces = lim.cap || lim.rate || lim.spacing || lim.window || !p.warmupName.empty();
    if (!enforces) {
        error(line, "[" + lim.name + "] enforces nothing (add cap, rate, spacing, window or warmup)");
    }
    lim.usesProvider = std::find(lim.scopes.begin(), lim.scopes.end(), ScopeKind::Provider) != lim.scopes.end();
    for (const auto& c : lim.when) {
        if (c.attribute == Attribute::Provider) lim.usesProvider = true;
    }
    const WarmupSchedule* ws = set_.warmupOf(lim);
    if (ws) {
        lim.warmupSharesCapCounter = lim.cap && lim.cap->period == CalendarPeriod::Day;
        lim.warmupMessages = lim.cap && lim.cap->messages;
    }

    // Warnings: settings that can never bind.
    if (lim.cap && lim.rate) {
        // The most the rate lets through within one cap period: its steady pace plus the burst.
        double perPeriod = static_cast<double>(periodLength(lim.cap->period).count()) * 1e9 /
                               static_cast<double>(lim.rate->emission.count()) +
                           static_cast<double>(lim.rate->burst);
        if (lim.cap->messages == lim.rate->rate.messages &&
            static_cast<double>(lim.cap->count) >= std::floor(perPeriod)) {
            warning(line, "[" + lim.name + "]: cap = " + lim.cap->str() +
                              " can never be reached: rate = " + lim.rate->str() + " lets at most " +
                              std::to_string(static_cast<uint64_t>(std::floor(perPeriod))) + " through per " +
                              std::string(periodWord(lim.cap->period)));
        }
    }
    if (lim.spacing && lim.rate && lim.rate->burst == 1 && !lim.rate->rate.messages) {
        auto least = std::chrono::duration_cast<std::chrono::nanoseconds>(lim.spacing->interval - lim.spacing->jitter);
        if (least >= lim.rate->emission) {
            warning(line, "[" + lim.name + "]: rate = " + lim.rate->str() +
                              " never binds: spacing = " + lim.spacing->str() + " already keeps sends further apart");
        }
    }
    if (ws && lim.cap && lim.cap->period == CalendarPeriod::Day && !ws->table.empty()) {
        uint64_t least = *std::min_element(ws->table.begin(), ws->table.end());
        if (least >= lim.cap->count) {
            warning(line, "[" + lim.name + "]: warmup " + ws->name + " never binds: cap = " + lim.cap->str() +
                              " is at most its value on every day");
        }
    }
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

LimitSet LimitSet::parse(std::string_view text, const std::string& fileName, const date::time_zone* defaultZone,
                         Diagnostics& diags) {
    LimitSet set;
    if (defaultZone) set.defaultZone_ = defaultZone;
    LimitParser parser(set, fileName, diags);
    parser.run(text);
    return set;
}

LimitSet LimitSet::load(const std::string& path, const date::time_zone* defaultZone, Diagnostics& diags) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        diags.error({path, 0}, "cannot open the limits file: " + std::string(std::strerror(errno)));
        LimitSet set;
        if (defaultZone) set.defaultZone_ = defaultZone;
        return set;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), path, defaultZone, diags);
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
