// Sending windows (`window = mon-fri 08:00-18:00; sat 09:00-12:00 Europe/Berlin`): the grammar
// of a window line and its canonical text, and the evaluation decide() uses (inside the window at
// a local time, and the next opening).
#include "policyd/windows.h"

#include <date/tz.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>

#include "policyd/calendar.h"
#include "policyd/limits_detail.h"
#include "util/strings.h"

namespace rampart::policyd {

namespace {

constexpr std::array<std::string_view, 7> kDayNames{"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

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
            if (!d) return util::err("unknown day " + util::quoted(item) + expected);
            mask = static_cast<uint8_t>(mask | (1u << *d));
            continue;
        }
        auto from = dayIndex(util::trim(std::string_view(item).substr(0, dash)));
        auto to = dayIndex(util::trim(std::string_view(item).substr(dash + 1)));
        if (!from || !to) return util::err("unknown day range " + util::quoted(item) + expected);
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

}  // namespace

std::string Window::str() const {
    if (explicitZone && zone) return text + " " + std::string(zone->name());
    return text;
}

util::Result<Window> parseWindow(std::string_view text, const date::time_zone* fallback) {
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
            return util::err("missing HH:MM-HH:MM in " + util::quoted(util::trim(parts[pi])) + expected);
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
            return util::err("bad time in " + util::quoted(range) + " (HH:MM-HH:MM, 24-hour, 00:00 to 24:00)");
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
                return util::err("unexpected " + util::quoted(words[ti + 1]) +
                                 " (the time zone, if any, goes once at the end)" + expected);
            }
            const date::time_zone* z = findZone(words[ti + 1]);
            if (!z) {
                return util::err("unknown time zone " + util::quoted(words[ti + 1]) +
                                 " (an IANA name such as Europe/Berlin)");
            }
            w.zone = z;
            w.explicitZone = true;
        }
    }
    w.text = util::join(canon, "; ");
    return w;
}

bool insideWindow(const Window& w, int64_t localSeconds) {
    int64_t days = localDayOf(localSeconds);
    unsigned minute = minuteOfDay(localSeconds);
    unsigned wd = weekdayOf(days);
    unsigned yesterday = (wd + 6) % 7;
    for (const auto& s : w.spans) {
        if (s.openMinute < s.closeMinute) {
            if ((s.days & (1u << wd)) && minute >= s.openMinute && minute < s.closeMinute) return true;
        } else {  // crosses midnight: opens on a listed day, closes the next morning
            if ((s.days & (1u << wd)) && minute >= s.openMinute) return true;
            if ((s.days & (1u << yesterday)) && minute < s.closeMinute) return true;
        }
    }
    return false;
}

int64_t nextOpening(const Window& w, int64_t nowSec) {
    ZoneNow z = zoneNow(w.zone, nowSec);
    int64_t days = localDayOf(z.local);
    int64_t best = INT64_MAX;
    for (int64_t k = 0; k <= 7 && best == INT64_MAX; ++k) {
        unsigned wd = weekdayOf(days + k);
        for (const auto& s : w.spans) {
            if (!(s.days & (1u << wd))) continue;
            int64_t openLocal = localSecondsOf(days + k, s.openMinute);
            if (openLocal <= z.local) continue;
            best = std::min(best, openLocal);
        }
    }
    if (best == INT64_MAX) return nowSec + 7 * 86400;  // unreachable: parsing requires a span
    int64_t sys = localToSys(w.zone, best);
    return std::max(sys, nowSec + 1);
}

}  // namespace rampart::policyd
