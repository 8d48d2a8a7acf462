// Unix seconds: reading the wall clock as whole seconds, and the UTC texts (RFC 3339) the
// suppression list, its audit trail and rampartctl's output use. Calendar arithmetic is Howard
// Hinnant's date library, not hand-rolled.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "util/clock.h"

namespace rampart::util {

// Whole seconds since 1970-01-01T00:00:00Z, rounded down (also before 1970).
int64_t unixSeconds(SystemTime t);
// unixSeconds(std::chrono::system_clock::now()), for commands that record when they act.
int64_t unixNow();

// "2026-03-01T12:00:05Z" (RFC 3339, UTC, whole seconds). Every int64 has its text: years after 9999
// take more digits, years before 0 a '-' (expiries far out are still shown as what they are).
std::string formatUtc(int64_t unixSeconds);
// "2026-03-01": the UTC day of `unixSeconds`.
std::string formatUtcDate(int64_t unixSeconds);

// Days since 1970-01-01 of the proleptic Gregorian date year-month-day; nullopt for a day that
// does not exist (month 13, February 30th, ...).
std::optional<int64_t> unixDay(int64_t year, unsigned month, unsigned day);

}  // namespace rampart::util
