// RFC 5322 dates (see date.h): a scanner for the date-time grammar with its obsolete forms, and the
// civil-date arithmetic for formatting a time point without the C library's time zone state.
#include "mail/date.h"

#include <array>
#include <cstdio>
#include <optional>

#include "mail/header.h"
#include "util/strings.h"

namespace rampart::mail {

namespace {

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int64_t floorDiv(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Howard Hinnant's civil-date algorithm (proleptic Gregorian).
void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const int64_t era = floorDiv(z, 146097);
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
}

constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 7> kDayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<const char*, 12> kMonthNames = {"January",   "February", "March",    "April",
                                                     "May",       "June",     "July",     "August",
                                                     "September", "October",  "November", "December"};

class DateScanner {
  public:
    explicit DateScanner(std::string_view s) : s_(s) {}

    // Skips whitespace, line breaks and (nested) comments; false on an unterminated comment.
    bool skipCfws() {
        i_ = mail::skipCfws(s_, i_);
        return i_ != std::string_view::npos;
    }
    bool atEnd() const { return i_ >= s_.size(); }
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    bool consume(char c) {
        if (peek() != c) return false;
        ++i_;
        return true;
    }
    std::string_view letters() {
        size_t b = i_;
        while (i_ < s_.size() && isAlpha(s_[i_]))
            ++i_;
        return s_.substr(b, i_ - b);
    }
    // Up to maxDigits digits; nullopt if none or if more digits follow.
    std::optional<int> number(size_t maxDigits, size_t& count) {
        size_t b = i_;
        int v = 0;
        while (i_ < s_.size() && isDigit(s_[i_])) {
            if (i_ - b >= maxDigits) return std::nullopt;
            v = v * 10 + (s_[i_] - '0');
            ++i_;
        }
        count = i_ - b;
        if (count == 0) return std::nullopt;
        return v;
    }

  private:
    std::string_view s_;
    size_t i_ = 0;
};

int nameIndex(std::string_view word, const std::array<const char*, 12>& abbrev,
              const std::array<const char*, 12>& full) {
    for (size_t k = 0; k < abbrev.size(); ++k) {
        if (util::iequals(word, abbrev[k]) || util::iequals(word, full[k])) return static_cast<int>(k);
    }
    return -1;
}

bool isDayName(std::string_view word) {
    for (size_t k = 0; k < kDays.size(); ++k) {
        if (util::iequals(word, kDays[k]) || util::iequals(word, kDayNames[k])) return true;
    }
    return false;
}

bool leapYear(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned daysInMonth(int y, int m) {
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leapYear(y) ? 29 : days[m - 1];
}

}  // namespace

bool isDateTime(std::string_view value) {
    if (value.size() > 4096) return false;
    DateScanner d(value);
    if (!d.skipCfws()) return false;
    if (isAlpha(d.peek())) {
        if (!isDayName(d.letters())) return false;
        if (!d.skipCfws()) return false;
        d.consume(',');
        if (!d.skipCfws()) return false;
    }
    size_t n = 0;
    auto day = d.number(2, n);
    if (!day || !d.skipCfws()) return false;
    const int month = nameIndex(d.letters(), kMonths, kMonthNames) + 1;
    if (month == 0 || !d.skipCfws()) return false;
    auto year = d.number(4, n);
    if (!year || n < 2) return false;
    if (n == 2) *year += *year < 50 ? 2000 : 1900;  // RFC 5322 4.3
    if (n == 3) *year += 1900;
    if (!d.skipCfws()) return false;
    auto hour = d.number(2, n);
    if (!hour || !d.skipCfws() || !d.consume(':') || !d.skipCfws()) return false;
    auto minute = d.number(2, n);
    if (!minute || !d.skipCfws()) return false;
    int second = 0;
    if (d.consume(':')) {
        if (!d.skipCfws()) return false;
        auto s = d.number(2, n);
        if (!s || !d.skipCfws()) return false;
        second = *s;
    }
    if (d.peek() == '+' || d.peek() == '-') {
        d.consume(d.peek());
        auto zone = d.number(4, n);
        if (!zone || n != 4 || *zone % 100 > 59) return false;
        if (!d.skipCfws()) return false;
        if (isAlpha(d.peek()) && d.letters().size() > 5) return false;  // "+0000 UTC"
    } else if (isAlpha(d.peek())) {
        if (d.letters().size() > 5) return false;  // UT, GMT, EST..PDT, military letters, CET...
    }
    if (!d.skipCfws() || !d.atEnd()) return false;
    if (*year < 1900 || *day < 1 || static_cast<unsigned>(*day) > daysInMonth(*year, month)) return false;
    return *hour <= 23 && *minute <= 59 && second <= 60;
}

std::string formatDate(util::SystemTime t) {
    const int64_t secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
    const int64_t days = floorDiv(secs, 86400);
    const int64_t rem = secs - days * 86400;
    int64_t y = 0;
    unsigned m = 0, d = 0;
    civilFromDays(days, y, m, d);
    const auto wd = static_cast<size_t>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %u %s %lld %02d:%02d:%02d +0000", kDays[wd], d, kMonths[m - 1],
                  static_cast<long long>(y), static_cast<int>(rem / 3600), static_cast<int>(rem % 3600 / 60),
                  static_cast<int>(rem % 60));
    return buf;
}

}  // namespace rampart::mail
