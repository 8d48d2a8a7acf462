// The limits file's structure (docs/limits.md): lines, comments and continuation lines, section
// headers, "key = value" lines with their duplicates, the [exempt], [provider-domains] and
// [provider-mx] sections, and the second pass (finish) that checks what needs the whole file:
// warmup references, required keys, defaults that depend on other keys, and the warnings about
// settings that can never bind. The values of limit and warmup keys are read in limits_keys.cpp.
#include "policyd/limits_parser.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "policyd/limits_detail.h"
#include "policyd/windows.h"
#include "util/strings.h"

namespace rampart::policyd {

using config::Diagnostics;
using namespace std::chrono_literals;

namespace {

std::string_view stripComment(std::string_view line) {
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '#' && (i == 0 || util::isSpace(line[i - 1]))) return line.substr(0, i);
    }
    return line;
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

}  // namespace

bool validName(std::string_view n) {
    if (n.empty()) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
               c == '.';
    });
}

std::string scopeList() {
    std::string s;
    for (size_t i = 0; i < kScopeKinds; ++i) {
        if (i > 0) s += i + 1 == kScopeKinds ? " or " : ", ";
        s += kAttributeNames[i];
    }
    return s;
}

// ------------------------------------------------------------------------------ the parser

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
        error(l.line, "expected a section header such as [NAME], got " + util::quoted(l.text));
        return;
    }
    if (!util::trim(std::string_view(l.text).substr(close + 1)).empty()) {
        error(l.line, "unexpected text after the section header " + util::quoted(l.text.substr(0, close + 1)));
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
            error(l.line, "bad limit name " + util::quoted(w) + " (letters, digits, -, _ and .)");
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
            error(l.line, "bad warmup name " + util::quoted(w) + " (letters, digits, -, _ and .)");
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
    error(l.line, "unknown section " + util::quoted(sectionTitle_) + expected);
}

void LimitParser::keyValue(const Line& l) {
    size_t eq = l.text.find('=');
    // `when = provider != x` has more "=": the key is before the first one.
    if (eq == std::string::npos) {
        error(l.line, "expected \"key = value\", got " + util::quoted(l.text));
        return;
    }
    std::string key(util::trim(std::string_view(l.text).substr(0, eq)));
    std::string_view value = util::trim(std::string_view(l.text).substr(eq + 1));
    if (kind_ == Kind::None) {
        if (sectionTitle_.empty()) {
            error(l.line, util::quoted(l.text) + " comes before any section (start one with [NAME])");
        }
        return;  // inside a bad section: its header already has an error
    }
    if (key.empty()) {
        error(l.line, "missing key before \"=\" in " + util::quoted(l.text));
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
            error(l.line, "duplicate key " + util::quoted(key) + " in " + sectionTitle_ + " (first at line " +
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

void LimitParser::exemptKey(const Line& l, const std::string& key, std::string_view value) {
    auto a = parseAttribute(key);
    if (!a) {
        error(
            l.line, "unknown key " + util::quoted(key) + " in [exempt]" + [&] {
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
        error(l.line, "[provider-domains]: expected DOMAIN = PROVIDER, got a bad domain " + util::quoted(key));
        return;
    }
    if (!validName(provider)) {
        error(l.line,
              "[provider-domains]: bad provider name " + util::quoted(value) + " (letters, digits, -, _ and .)");
        return;
    }
    set_.providerDomains_[domain] = provider;
}

void LimitParser::providerMxKey(const Line& l, const std::string& key, std::string_view value) {
    std::string provider = util::toLower(key);
    if (!validName(provider)) {
        error(l.line,
              "[provider-mx]: expected PROVIDER = .suffix, .suffix, got a bad provider name " + util::quoted(key));
        return;
    }
    std::vector<std::string> suffixes;
    for (const auto& s : util::splitList(value, ", \t")) {
        std::string n = normalizeHost(s);
        while (!n.empty() && n.front() == '.')
            n.erase(0, 1);
        if (!validDomainChars(n)) {
            error(l.line, "[provider-mx]: bad MX suffix " + util::quoted(s) + " (such as .google.com)");
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

}  // namespace rampart::policyd
