// Calendar arithmetic in a time zone, in one place: the calendar periods of caps (the clock hour, the
// local day from midnight to midnight, 23 or 25 hours across a DST change, and the ISO week from
// Monday 00:00), the local day number, warmup days, the weekday for sending windows, and the texts
// times are shown as. Built on Howard Hinnant's date library (<date/tz.h>); input text is parsed by
// hand because date::parse trips g++ 12's -Wmaybe-uninitialized at -O2.
//
// Instants are unix seconds or nanoseconds (int64) where the state keeps them as integers. Nothing
// here reads a clock: `now` is always a parameter.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "policyd/limits.h"
#include "util/clock.h"
#include "util/unix_time.h"

namespace date {
class time_zone;
}

namespace rampart::policyd {

struct WarmupProgress;  // state.h

// ---- instants as integers
using util::unixSeconds;  // whole seconds, rounded down (util/unix_time.h)
int64_t unixNanos(util::SystemTime t);
util::SystemTime fromSeconds(int64_t s);
util::SystemTime fromNanos(int64_t ns);

// ---- zones
const date::time_zone* findZone(std::string_view name);  // an IANA name; nullptr when unknown
const date::time_zone* utcZone();

// ---- one zone at one instant: the offset in force and the span it is in force for, so several
// period boundaries of the same request cost one zone lookup.
struct ZoneNow {
    int64_t offset = 0;  // seconds east of UTC
    int64_t begin = 0;   // unix seconds: the offset is in force from begin ...
    int64_t end = 0;     // ... to end
    int64_t local = 0;   // local seconds (unix seconds + offset)
};
ZoneNow zoneNow(const date::time_zone* zone, int64_t unixSeconds);
// Local seconds to unix seconds; a local time skipped or repeated by a DST change takes the earliest.
int64_t localToSys(const date::time_zone* zone, int64_t localSeconds);
int64_t periodStartAt(CalendarPeriod p, const date::time_zone* zone, const ZoneNow& z);
int64_t nextPeriodStartAt(CalendarPeriod p, const date::time_zone* zone, const ZoneNow& z);
int32_t localDayAt(const ZoneNow& z);  // days since 1970-01-01 (local date)

// The weekday of a local day number (days since 1970-01-01): Monday = 0 .. Sunday = 6.
unsigned weekdayOf(int64_t localDays);
// Local seconds as the local day number and the minute of that day (0..1439), and back.
int64_t localDayOf(int64_t localSeconds);
unsigned minuteOfDay(int64_t localSeconds);
int64_t localSecondsOf(int64_t localDays, unsigned minute);

// Calendar periods in a zone, as unix seconds: the start of the period `now` is in, and of the next.
int64_t periodStart(CalendarPeriod p, const date::time_zone* zone, util::SystemTime now);
int64_t nextPeriodStart(CalendarPeriod p, const date::time_zone* zone, util::SystemTime now);
// The local date as days since 1970-01-01.
int32_t localDay(const date::time_zone* zone, util::SystemTime now);
// The warmup day (1, 2, ...) of a scope on local day `today`.
uint32_t warmupDayOf(const WarmupSchedule& schedule, const WarmupProgress& progress, int32_t today);

// ---- as text
// "YYYY-MM-DD" as days since 1970-01-01; nullopt when it is not a valid date in that form.
std::optional<int32_t> parseIsoDate(std::string_view text);
std::string formatIsoDate(int32_t day);  // "2026-11-22"
// The time in a zone as deferral texts and status print it: "2026-11-23 00:00 CET" (seconds shown
// only when not zero; rounded up to the second). zone nullptr: UTC.
std::string formatTime(util::SystemTime t, const date::time_zone* zone);
// UTC, ISO 8601 to the second: util::formatUtc(unixSeconds(t)).

}  // namespace rampart::policyd
