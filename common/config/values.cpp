// Typed configuration values (values.h): parsing operator text and printing the canonical form.
#include "config/values.h"

#include <array>

#include "util/strings.h"

namespace rampart::config {

using util::err;
using namespace std::chrono_literals;

namespace {

struct Unit {
    std::string_view name;
    int64_t seconds;
};

// Accepted spellings of time units; the first spelling of each length is the canonical one.
constexpr std::array<Unit, 17> kDurationUnits{{
    {"s", 1},
    {"sec", 1},
    {"second", 1},
    {"seconds", 1},
    {"m", 60},
    {"min", 60},
    {"minute", 60},
    {"minutes", 60},
    {"h", 3600},
    {"hour", 3600},
    {"hours", 3600},
    {"d", 86400},
    {"day", 86400},
    {"days", 86400},
    {"w", 604800},
    {"week", 604800},
    {"weeks", 604800},
}};

std::optional<int64_t> unitSeconds(std::string_view unit) {
    std::string u = util::toLower(unit);
    for (const auto& e : kDurationUnits) {
        if (e.name == u) return e.seconds;
    }
    return std::nullopt;
}

// Splits "30s" into ("30", "s"); "2 d" is accepted too.
std::pair<std::string_view, std::string_view> splitNumberUnit(std::string_view t) {
    size_t i = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9')
        ++i;
    return {t.substr(0, i), util::trim(t.substr(i))};
}

}  // namespace

Result<std::chrono::seconds> parseDuration(std::string_view text) {
    std::string_view t = util::trim(text);
    auto [num, unit] = splitNumberUnit(t);
    auto n = util::parseUnsigned(num);
    if (!n) {
        return err("expected a duration such as 30s, 10m, 2h or 2d, got " + util::quoted(t, 200));
    }
    int64_t mult = 1;
    if (!unit.empty()) {
        auto m = unitSeconds(unit);
        if (!m) {
            return err("unknown time unit \"" + std::string(unit) + "\" (use s, m, h, d or w)");
        }
        mult = *m;
    }
    if (*n > static_cast<uint64_t>(INT64_MAX / mult)) return err("duration too large");
    return std::chrono::seconds(static_cast<int64_t>(*n) * mult);
}

std::string formatDuration(std::chrono::seconds d) {
    int64_t s = d.count();
    if (s == 0) return "0s";
    if (s % 604800 == 0) return std::to_string(s / 604800) + "w";
    if (s % 86400 == 0) return std::to_string(s / 86400) + "d";
    if (s % 3600 == 0) return std::to_string(s / 3600) + "h";
    if (s % 60 == 0) return std::to_string(s / 60) + "m";
    return std::to_string(s) + "s";
}

Result<uint64_t> parseSize(std::string_view text) {
    std::string_view t = util::trim(text);
    auto [num, unit] = splitNumberUnit(t);
    auto n = util::parseUnsigned(num);
    if (!n) return err("expected a size such as 65536, 64k, 10M or 1G, got " + util::quoted(t, 200));
    uint64_t mult = 1;
    std::string u = util::toLower(unit);
    if (u.empty() || u == "b") {
        mult = 1;
    } else if (u == "k" || u == "kb" || u == "kib") {
        mult = 1024;
    } else if (u == "m" || u == "mb" || u == "mib") {
        mult = 1024 * 1024;
    } else if (u == "g" || u == "gb" || u == "gib") {
        mult = 1024ULL * 1024 * 1024;
    } else {
        return err("unknown size unit \"" + std::string(unit) + "\" (use k, M or G)");
    }
    if (*n > UINT64_MAX / mult) return err("size too large");
    return *n * mult;
}

std::string formatSize(uint64_t b) {
    if (b == 0) return "0";
    if (b % (1024ULL * 1024 * 1024) == 0) return std::to_string(b / (1024ULL * 1024 * 1024)) + "G";
    if (b % (1024 * 1024) == 0) return std::to_string(b / (1024 * 1024)) + "M";
    if (b % 1024 == 0) return std::to_string(b / 1024) + "k";
    return std::to_string(b);
}

std::string formatPeriod(std::chrono::seconds p) {
    switch (p.count()) {
        case 1:
            return "s";
        case 60:
            return "min";
        case 3600:
            return "h";
        case 86400:
            return "day";
        case 604800:
            return "week";
        default:
            return formatDuration(p);
    }
}

Result<Rate> parseRate(std::string_view text) {
    std::string_view t = util::trim(text);
    size_t slash = t.find('/');
    if (slash == std::string_view::npos) {
        return err("expected a rate such as 40/day, 100/h or \"40 msgs/day\", got " + util::quoted(t, 200));
    }
    std::string_view left = util::trim(t.substr(0, slash));
    std::string_view right = util::trim(t.substr(slash + 1));
    Rate r;
    auto [num, word] = splitNumberUnit(left);
    auto n = util::parseUnsigned(num);
    if (!n) return err("a rate starts with a whole number, got " + util::quoted(left, 200));
    std::string w = util::toLower(word);
    if (w == "msgs" || w == "msg" || w == "messages" || w == "message") {
        r.messages = true;
    } else if (!(w.empty() || w == "rcpts" || w == "rcpt" || w == "recipients")) {
        return err("unknown rate unit \"" + std::string(word) + "\" (use msgs or rcpts, or nothing)");
    }
    r.count = *n;
    // The period: "day", "h", "2h", "30min"
    auto [pnum, punit] = splitNumberUnit(right);
    uint64_t pmult = 1;
    if (!pnum.empty()) {
        auto pn = util::parseUnsigned(pnum);
        if (!pn || *pn == 0) return err("bad rate period \"" + std::string(right) + "\"");
        pmult = *pn;
    }
    auto secs = unitSeconds(punit);
    if (!secs) {
        return err("unknown rate period \"" + std::string(right) + "\" (use s, min, h, day or week)");
    }
    r.period = std::chrono::seconds(static_cast<int64_t>(pmult) * *secs);
    return r;
}

std::string formatRate(const Rate& r) {
    std::string s = std::to_string(r.count);
    if (r.messages) s += " msgs";
    return s + "/" + formatPeriod(r.period);
}

Result<bool> parseBool(std::string_view text) {
    std::string t = util::toLower(util::trim(text));
    if (t == "yes" || t == "true" || t == "on" || t == "1") return true;
    if (t == "no" || t == "false" || t == "off" || t == "0") return false;
    return err("expected yes or no, got " + util::quoted(t, 200));
}

std::string ListenAddress::toString() const {
    if (kind == Kind::Unix) return "unix:" + path;
    if (ipv6()) return "inet:[" + host + "]:" + std::to_string(port);
    return "inet:" + host + ":" + std::to_string(port);
}

std::string ListenAddress::toMilterSpec() const {
    if (kind == Kind::Unix) return "unix:" + path;
    if (ipv6()) return "inet6:" + std::to_string(port) + "@" + host;
    return "inet:" + std::to_string(port) + "@" + host;
}

namespace {
Result<uint16_t> parsePort(std::string_view p) {
    auto n = util::parseUnsigned(p);
    if (!n || *n == 0 || *n > 65535) return err("bad port " + util::quoted(p, 200) + " (1-65535)");
    return static_cast<uint16_t>(*n);
}
}  // namespace

Result<ListenAddress> parseListenAddress(std::string_view text) {
    std::string_view t = util::trim(text);
    const std::string expected = " (expected unix:/path, inet:HOST:PORT or inet:PORT@HOST)";
    ListenAddress a;
    size_t colon = t.find(':');
    if (colon == std::string_view::npos) return err("bad listen address " + util::quoted(t, 200) + expected);
    std::string scheme = util::toLower(t.substr(0, colon));
    std::string_view rest = t.substr(colon + 1);
    if (scheme == "unix" || scheme == "local") {
        if (rest.empty() || rest.front() != '/') {
            return err("a unix socket needs an absolute path, got " + util::quoted(t, 200));
        }
        a.kind = ListenAddress::Kind::Unix;
        a.path = std::string(rest);
        return a;
    }
    if (scheme != "inet" && scheme != "inet6") {
        return err("unknown socket type \"" + scheme + "\"" + expected);
    }
    a.kind = ListenAddress::Kind::Inet;
    if (size_t at = rest.find('@'); at != std::string_view::npos) {  // libmilter: PORT@HOST
        auto port = parsePort(rest.substr(0, at));
        if (!port) return err(port.error());
        std::string_view host = rest.substr(at + 1);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        if (host.empty()) return err("missing host in " + util::quoted(t, 200));
        a.port = *port;
        a.host = std::string(host);
        return a;
    }
    if (!rest.empty() && rest.front() == '[') {  // inet:[::1]:PORT
        size_t close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
            return err("bad address " + util::quoted(t, 200) + expected);
        }
        auto port = parsePort(rest.substr(close + 2));
        if (!port) return err(port.error());
        a.host = std::string(rest.substr(1, close - 1));
        a.port = *port;
        return a;
    }
    size_t last = rest.rfind(':');
    if (last == std::string_view::npos) {
        return err("missing port in " + util::quoted(t, 200) + expected);
    }
    auto port = parsePort(rest.substr(last + 1));
    if (!port) return err(port.error());
    a.host = std::string(rest.substr(0, last));
    if (a.host.empty()) return err("missing host in " + util::quoted(t, 200) + expected);
    if (a.host.find(':') != std::string::npos) {
        return err("write IPv6 addresses in brackets: inet:[" + a.host + "]:" + std::to_string(*port));
    }
    a.port = *port;
    return a;
}

Result<TableRef> parseTableRef(std::string_view text, std::string_view allowed) {
    std::string_view t = util::trim(text);
    size_t colon = t.find(':');
    std::string types;
    for (auto piece : util::splitExact(allowed, '|')) {
        if (!types.empty()) types += ", ";
        types += std::string(piece) + ":";
    }
    if (colon == std::string_view::npos || colon == 0) {
        return err("expected a table such as " + std::string(util::splitExact(allowed, '|').front()) +
                   ":/path (types: " + types + "), got " + util::quoted(t, 200));
    }
    TableRef r{util::toLower(t.substr(0, colon)), std::string(t.substr(colon + 1))};
    bool ok = false;
    for (auto piece : util::splitExact(allowed, '|'))
        ok = ok || piece == r.type;
    if (!ok) return err("table type \"" + r.type + ":\" is not supported here (use " + types + ")");
    if (r.path.empty()) return err("table \"" + std::string(t) + "\" has no path");
    if (r.type != "redis" && r.path.front() != '/') {
        return err("table path must be absolute: \"" + std::string(t) + "\"");
    }
    return r;
}

Result<unsigned> parseFileMode(std::string_view text) {
    std::string_view t = util::trim(text);
    if (t.empty() || t.size() > 4) return err("expected an octal file mode such as 0660");
    unsigned mode = 0;
    for (char c : t) {
        if (c < '0' || c > '7') return err("expected an octal file mode such as 0660, got " + util::quoted(t, 200));
        mode = mode * 8 + static_cast<unsigned>(c - '0');
    }
    return mode;
}

std::string formatFileMode(unsigned mode) {
    std::string s(4, '0');
    for (int i = 3; i >= 0; --i) {
        s[static_cast<size_t>(i)] = static_cast<char>('0' + (mode & 7));
        mode >>= 3;
    }
    return s;
}

}  // namespace rampart::config
