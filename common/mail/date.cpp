// RFC 5322 dates (see date.h): a scanner for the date-time grammar with its obsolete forms, and the
// formatting of a time point (on Howard Hinnant's date library, without the C library's time zone state).
#include "mail/date.h"

#include <date/date.h>

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
    // A system_clock time lies within a few hundred years of 1970: well inside the date library's range.
    const auto secs = std::chrono::floor<std::chrono::seconds>(t);
    const auto day = std::chrono::floor<date::days>(secs);
    const date::year_month_day ymd(day);
    const date::hh_mm_ss<std::chrono::seconds> hms(secs - day);
    const unsigned wd = date::weekday(day).c_encoding();  // Sunday = 0, as kDays
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %u %s %d %02d:%02d:%02d +0000", kDays[wd], static_cast<unsigned>(ymd.day()),
                  kMonths[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

}  // namespace rampart::mail
