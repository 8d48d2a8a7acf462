// Unix seconds and their UTC texts (unix_time.h), on the date library's civil calendar. Formatted
// with snprintf rather than date::format, which goes through iostreams; no date::parse (it trips
// g++ 12's -Wmaybe-uninitialized at -O2).
#include "util/unix_time.h"

#include <date/date.h>

#include <cstdio>

namespace rampart::util {

namespace {

// The Gregorian calendar repeats every 400 years, 146097 days.
using Cycles = std::chrono::duration<int64_t, std::ratio<int64_t{146097} * 86400>>;

struct UtcParts {
    long long year;
    unsigned month, day;
    std::chrono::seconds secondOfDay;
};

// The date library's years end at +-32767 (and its day counts are int); an expiry may lie further
// out. Whole 400-year cycles are taken off the day before the library sees it and added back to the
// year, so every int64 second has its date.
UtcParts utcParts(int64_t unixSeconds) {
    const std::chrono::seconds t(unixSeconds);
    const auto day = std::chrono::floor<std::chrono::days>(t);
    const auto cycles = std::chrono::floor<Cycles>(day);
    const date::year_month_day ymd{date::sys_days(std::chrono::duration_cast<date::days>(day - cycles))};
    return {static_cast<int>(ymd.year()) + cycles.count() * 400, static_cast<unsigned>(ymd.month()),
            static_cast<unsigned>(ymd.day()), t - day};
}

}  // namespace

int64_t unixSeconds(SystemTime t) {
    return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

int64_t unixNow() {
    return unixSeconds(std::chrono::system_clock::now());
}

std::string formatUtc(int64_t unixSeconds) {
    const UtcParts p = utcParts(unixSeconds);
    const date::hh_mm_ss<std::chrono::seconds> hms(p.secondOfDay);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ", p.year, p.month, p.day,
                  static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                  static_cast<int>(hms.seconds().count()));
    return buf;
}

std::string formatUtcDate(int64_t unixSeconds) {
    const UtcParts p = utcParts(unixSeconds);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", p.year, p.month, p.day);
    return buf;
}

std::optional<int64_t> unixDay(int64_t year, unsigned month, unsigned day) {
    // date::year's range; date::month and date::day keep only a byte, so larger values never reach them.
    if (year < -32767 || year > 32767 || month > 12 || day > 31) return std::nullopt;
    const date::year_month_day ymd{date::year(static_cast<int>(year)), date::month(month), date::day(day)};
    if (!ymd.ok()) return std::nullopt;
    return date::sys_days(ymd).time_since_epoch().count();
}

}  // namespace rampart::util
