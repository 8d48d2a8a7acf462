// Times as suppression lists show and accept them: civil-date arithmetic (proleptic Gregorian, UTC),
// expiry texts (dates, date-times, durations) and ISO 8601 output.
#include "suppression/time_text.h"

#include <cstdio>

#include "config/values.h"
#include "suppression/internal.h"
#include "util/strings.h"

namespace rampart::suppress {

namespace {

using detail::dateText;
using detail::floorDiv;
using detail::quoted;

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

std::optional<unsigned> digits(std::string_view s) {
    if (s.empty()) return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v;
}

}  // namespace

namespace detail {

int64_t floorDiv(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

std::string dateText(int64_t t) {
    int64_t y = 0;
    unsigned m = 0, d = 0;
    civilFromDays(floorDiv(t, 86400), y, m, d);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
    return buf;
}

}  // namespace detail

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

}  // namespace rampart::suppress
