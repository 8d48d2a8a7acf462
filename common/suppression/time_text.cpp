// Times as suppression lists show and accept them: expiry texts (dates, date-times, durations) and
// ISO 8601 output. The calendar is util/unix_time.h's (Howard Hinnant's date library).
#include "suppression/time_text.h"

#include "config/values.h"
#include "suppression/internal.h"
#include "util/strings.h"
#include "util/unix_time.h"

namespace rampart::suppress {

namespace {

using detail::kQuotedMax;

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

util::Result<std::optional<int64_t>> parseExpiry(std::string_view text, int64_t now) {
    std::string_view t = util::trim(text);
    if (t.empty() || util::iequals(t, "never") || util::iequals(t, "none")) return std::optional<int64_t>();
    if (t.size() >= 10 && t[4] == '-' && t[7] == '-') {
        auto y = digits(t.substr(0, 4));
        auto m = digits(t.substr(5, 2));
        auto d = digits(t.substr(8, 2));
        if (!y || !m || !d || *m < 1 || *m > 12 || *d < 1 || *d > 31) {
            return util::err("invalid date " + util::quoted(t, kQuotedMax) + " (expected YYYY-MM-DD)");
        }
        const std::optional<int64_t> days = util::unixDay(*y, *m, *d);
        if (!days) return util::err("invalid date " + util::quoted(t, kQuotedMax) + " (no such day)");
        int64_t secs = *days * 86400;
        std::string_view rest = t.substr(10);
        if (!rest.empty()) {
            // YYYY-MM-DDTHH:MM:SS[Z] or "YYYY-MM-DD HH:MM:SS", UTC.
            if (rest.back() == 'Z' || rest.back() == 'z') rest.remove_suffix(1);
            if (rest.size() != 9 || (rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ') || rest[3] != ':' ||
                rest[6] != ':') {
                return util::err("invalid time " + util::quoted(t, kQuotedMax) +
                                 " (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)");
            }
            auto hh = digits(rest.substr(1, 2));
            auto mi = digits(rest.substr(4, 2));
            auto ss = digits(rest.substr(7, 2));
            if (!hh || !mi || !ss || *hh > 23 || *mi > 59 || *ss > 60) {
                return util::err("invalid time " + util::quoted(t, kQuotedMax) + " (expected YYYY-MM-DDTHH:MM:SSZ)");
            }
            secs += *hh * 3600 + *mi * 60 + *ss;
        }
        return std::optional<int64_t>(secs);
    }
    auto d = config::parseDuration(t);
    if (!d) {
        return util::err("invalid expiry " + util::quoted(t, kQuotedMax) +
                         " (expected a date YYYY-MM-DD or a duration such as 30d)");
    }
    if (d->count() <= 0)
        return util::err("invalid expiry " + util::quoted(t, kQuotedMax) + ": the duration must be positive");
    return std::optional<int64_t>(now + d->count());
}

std::string formatTime(int64_t t) {
    return util::formatUtc(t);
}

}  // namespace rampart::suppress
