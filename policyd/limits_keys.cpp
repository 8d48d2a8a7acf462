// The values of the keys of a limit ([NAME]: scope, cap, rate, spacing, window, warmup, when,
// action, monitor, timezone) and of a warmup schedule ([warmup NAME]: days, ramp, start), each
// checked on its own as it is read; LimitParser's first pass (limits_parser.cpp) calls them.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <regex>

#include "policyd/calendar.h"
#include "policyd/limits_detail.h"
#include "policyd/limits_parser.h"
#include "policyd/windows.h"
#include "util/strings.h"

namespace rampart::policyd {

using namespace std::chrono_literals;

namespace {

// Longest ramp we expand: a schedule that needs more than ten years to reach its ceiling is a typo.
constexpr size_t kMaxRampDays = 3650;

}  // namespace

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
                error(l.line, "scope: unknown scope " + util::quoted(s) +
                                  (hint.empty() ? " (expected " + scopeList() + ")" : hint));
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
                              util::quoted(config::formatPeriod(r->period)) +
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
                error(l.line, "rate: burst takes a whole number of at least 1, got " + util::quoted(words.back()));
                return;
            }
            burst = *b;
            rateText = util::trim(value.substr(0, value.rfind("burst")));
        } else if (value.find("burst") != std::string_view::npos) {
            error(l.line, "rate: expected N/PERIOD [burst B], got " + util::quoted(value));
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
                error(l.line, "spacing: expected DURATION [~ JITTER], got " + util::quoted(value));
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
            error(l.line, "warmup: expected the name of a [warmup NAME] section, got " + util::quoted(value));
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
            error(l.line, "action: expected defer_if_permit, defer or reject, got " + util::quoted(value));
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
            error(l.line,
                  "timezone: unknown time zone " + util::quoted(value) + " (an IANA name such as Europe/Berlin)");
            return;
        }
        lim.zone = z;
        lim.explicitZone = true;
        return;
    }
    error(l.line, "unknown key " + util::quoted(key) + " in " + sectionTitle_ + didYouMean(key, kKeys));
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
                          util::quoted(item));
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
            error(l.line, "ramp: cannot read " + util::quoted(value) + expected);
            return;
        }
        auto start = util::parseUnsigned(m[1].str());
        auto max = util::parseUnsigned(m[4].str());
        bool percent = m[3].length() > 0;
        double step = std::strtod(m[2].str().c_str(), nullptr);
        if (!start || !max) {
            error(l.line, "ramp: number too large in " + util::quoted(value));
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
            error(l.line,
                  "ramp: a growth without % is a whole number of messages per day, got " + util::quoted(m[2].str()));
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
            error(l.line, "start: expected a date YYYY-MM-DD, got " + util::quoted(value));
            return;
        }
        ws.startDay = *day;
        return;
    }
    error(l.line, "unknown key " + util::quoted(key) + " in " + sectionTitle_ + didYouMean(key, kKeys));
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
        if (attrName.empty()) return util::err("cannot read " + util::quoted(clause) + expected);
        if (!attr) {
            std::string h = didYouMean(attrName, kAttributeNames);
            return util::err("unknown attribute " + util::quoted(attrName) +
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
            if (!word("in")) return util::err("expected \"not in\" in " + util::quoted(clause) + expected);
            c.op = Condition::Op::NotIn;
            rest.remove_prefix(2);
        } else {
            return util::err("missing operator in " + util::quoted(clause) + expected);
        }
        rest = util::trim(rest);
        if (rest.empty()) return util::err("missing value in " + util::quoted(clause) + expected);
        bool list = c.op == Condition::Op::In || c.op == Condition::Op::NotIn;
        std::vector<std::string> values = util::splitList(rest, ", \t");
        if (!list && values.size() != 1) {
            return util::err(std::string(opName(c.op)) + " takes one value, got " + util::quoted(rest) +
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

}  // namespace rampart::policyd
