// Calendar arithmetic in a zone for the pacing core (calendar.h): period boundaries across DST
// changes, local days, warmup days, weekdays, and times and dates as text. decide() calls the
// boundary functions for every request, so they avoid a second zone lookup when no DST change lies
// between a boundary and now, and formatTime() formats by hand (date::format goes through iostreams
// and costs microseconds per call).
#include "policyd/calendar.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cstdio>

#include "policyd/state.h"

namespace rampart::policyd {

using std::chrono::nanoseconds;
using std::chrono::seconds;

namespace {

// date::days with a 64-bit count, so day numbers convert without narrowing.
using Days = std::chrono::duration<int64_t, date::days::period>;

// Local days (days since 1970-01-01) of local seconds, rounded down.
int64_t daysOf(int64_t localSeconds) {
    return std::chrono::floor<Days>(seconds(localSeconds)).count();
}

int64_t secondsOfDays(int64_t days) {
    return std::chrono::duration_cast<seconds>(Days(days)).count();
}

// A local midnight-based boundary (local seconds) to unix seconds, cheap when no transition lies
// between it and now.
int64_t boundaryToSys(const date::time_zone* zone, const ZoneNow& z, int64_t localBoundary) {
    int64_t candidate = localBoundary - z.offset;
    if (candidate >= z.begin && candidate <= z.end) return candidate;
    return localToSys(zone, localBoundary);
}

}  // namespace

// ------------------------------------------------------------------------------ instants

int64_t unixNanos(util::SystemTime t) {
    return std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

util::SystemTime fromSeconds(int64_t s) {
    return util::SystemTime(seconds(s));
}

util::SystemTime fromNanos(int64_t ns) {
    return util::SystemTime(std::chrono::duration_cast<util::SystemTime::duration>(nanoseconds(ns)));
}

// ------------------------------------------------------------------------------ zones

const date::time_zone* findZone(std::string_view name) {
    try {
        return date::locate_zone(std::string(name));
    } catch (const std::exception&) {
        return nullptr;
    }
}

const date::time_zone* utcZone() {
    static const date::time_zone* utc = findZone("UTC");
    return utc;
}

ZoneNow zoneNow(const date::time_zone* zone, int64_t s) {
    auto info = zone->get_info(date::sys_seconds(seconds(s)));
    ZoneNow z;
    z.offset = info.offset.count();
    z.begin = info.begin.time_since_epoch().count();
    z.end = info.end.time_since_epoch().count();
    z.local = s + z.offset;
    return z;
}

int64_t localToSys(const date::time_zone* zone, int64_t localSeconds) {
    auto t = zone->to_sys(date::local_seconds(seconds(localSeconds)), date::choose::earliest);
    return t.time_since_epoch().count();
}

// ------------------------------------------------------------------------------ periods and days

unsigned weekdayOf(int64_t localDays) {
    // ISO encoding: Monday 1 .. Sunday 7.
    return date::weekday(date::sys_days(date::days(static_cast<int>(localDays)))).iso_encoding() - 1;
}

int64_t localDayOf(int64_t localSeconds) {
    return daysOf(localSeconds);
}

unsigned minuteOfDay(int64_t localSeconds) {
    return static_cast<unsigned>((localSeconds - secondsOfDays(daysOf(localSeconds))) / 60);
}

int64_t localSecondsOf(int64_t localDays, unsigned minute) {
    return secondsOfDays(localDays) + int64_t{minute} * 60;
}

int64_t periodStartAt(CalendarPeriod p, const date::time_zone* zone, const ZoneNow& z) {
    switch (p) {
        case CalendarPeriod::Hour: {
            int64_t hour = std::chrono::floor<std::chrono::hours>(seconds(z.local)).count() * 3600;
            return std::max(hour - z.offset, z.begin);
        }
        case CalendarPeriod::Day:
            return boundaryToSys(zone, z, secondsOfDays(daysOf(z.local)));
        case CalendarPeriod::Week: {
            int64_t days = daysOf(z.local);
            return boundaryToSys(zone, z, secondsOfDays(days - weekdayOf(days)));
        }
    }
    return z.local - z.offset;
}

int64_t nextPeriodStartAt(CalendarPeriod p, const date::time_zone* zone, const ZoneNow& z) {
    switch (p) {
        case CalendarPeriod::Hour: {
            int64_t hour = std::chrono::floor<std::chrono::hours>(seconds(z.local)).count() * 3600;
            return std::min(hour + 3600 - z.offset, z.end);
        }
        case CalendarPeriod::Day:
            return boundaryToSys(zone, z, secondsOfDays(daysOf(z.local) + 1));
        case CalendarPeriod::Week: {
            int64_t days = daysOf(z.local);
            return boundaryToSys(zone, z, secondsOfDays(days - weekdayOf(days) + 7));
        }
    }
    return z.local - z.offset;
}

int32_t localDayAt(const ZoneNow& z) {
    return static_cast<int32_t>(daysOf(z.local));
}

int64_t periodStart(CalendarPeriod p, const date::time_zone* zone, util::SystemTime now) {
    return periodStartAt(p, zone, zoneNow(zone, unixSeconds(now)));
}

int64_t nextPeriodStart(CalendarPeriod p, const date::time_zone* zone, util::SystemTime now) {
    return nextPeriodStartAt(p, zone, zoneNow(zone, unixSeconds(now)));
}

int32_t localDay(const date::time_zone* zone, util::SystemTime now) {
    return localDayAt(zoneNow(zone, unixSeconds(now)));
}

uint32_t warmupDayOf(const WarmupSchedule& ws, const WarmupProgress& p, int32_t today) {
    if (ws.startDay || p.anchorDay != kNoDay) {
        int32_t anchor = p.anchorDay != kNoDay ? p.anchorDay : *ws.startDay;
        int64_t d = int64_t{today} - anchor + 1;
        return d < 1 ? 1u : static_cast<uint32_t>(std::min<int64_t>(d, UINT32_MAX));
    }
    int64_t d = p.lastActiveDay == today ? p.activeDays : int64_t{p.activeDays} + 1;
    return d < 1 ? 1u : static_cast<uint32_t>(d);
}

// ------------------------------------------------------------------------------ text

std::optional<int32_t> parseIsoDate(std::string_view value) {
    // By hand: date::parse trips g++ 12's -Wmaybe-uninitialized inside date.h.
    auto digits = [&](size_t from, size_t n) -> std::optional<unsigned> {
        unsigned v = 0;
        for (size_t i = from; i < from + n; ++i) {
            if (value[i] < '0' || value[i] > '9') return std::nullopt;
            v = v * 10 + static_cast<unsigned>(value[i] - '0');
        }
        return v;
    };
    std::optional<unsigned> y, mo, dd;
    if (value.size() == 10 && value[4] == '-' && value[7] == '-') {
        y = digits(0, 4);
        mo = digits(5, 2);
        dd = digits(8, 2);
    }
    date::year_month_day ymd{date::year{static_cast<int>(y.value_or(0))}, date::month{mo.value_or(0)},
                             date::day{dd.value_or(0)}};
    if (!y || !mo || !dd || !ymd.ok()) return std::nullopt;
    return static_cast<int32_t>(date::sys_days(ymd).time_since_epoch().count());
}

std::string formatIsoDate(int32_t day) {
    return util::formatUtcDate(int64_t{day} * 86400);
}

std::string formatTime(util::SystemTime t, const date::time_zone* zone) {
    // Rounded up: "retry after" must never name a moment before the retry can succeed.
    auto s = std::chrono::ceil<seconds>(t.time_since_epoch());
    if (!zone) zone = date::locate_zone("UTC");
    auto info = zone->get_info(date::sys_seconds(s));
    date::local_seconds local(s + info.offset);
    date::local_days day = std::chrono::floor<date::days>(local);
    date::year_month_day ymd{day};
    date::hh_mm_ss<seconds> hms{local - day};
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02u:%02u", static_cast<int>(ymd.year()),
                          static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                          static_cast<unsigned>(hms.hours().count()), static_cast<unsigned>(hms.minutes().count()));
    if (hms.seconds().count() != 0) {
        n += std::snprintf(buf + n, sizeof buf - static_cast<size_t>(n), ":%02u",
                           static_cast<unsigned>(hms.seconds().count()));
    }
    return std::string(buf, static_cast<size_t>(n)) + " " + info.abbrev;
}

}  // namespace rampart::policyd
