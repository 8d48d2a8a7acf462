// util unix_time: whole seconds of the wall clock and their UTC texts, on the date library.
#include "util/unix_time.h"

#include <catch2/catch.hpp>
#include <chrono>

#include "suppression/suppression.h"

using namespace rampart::util;

TEST_CASE("formatUtc writes RFC 3339 UTC with whole seconds", "[unix_time]") {
    CHECK(formatUtc(0) == "1970-01-01T00:00:00Z");
    CHECK(formatUtc(951782400) == "2000-02-29T00:00:00Z");
    CHECK(formatUtc(1795305600) == "2026-11-22T00:00:00Z");
    CHECK(formatUtc(1795363200) == "2026-11-22T16:00:00Z");
    CHECK(formatUtc(1795305600 + 86399) == "2026-11-22T23:59:59Z");
    CHECK(formatUtc(-1) == "1969-12-31T23:59:59Z");
    CHECK(formatUtcDate(1795305600 + 86399) == "2026-11-22");
    CHECK(formatUtcDate(-86400) == "1969-12-31");
}

TEST_CASE("formatUtc agrees with the suppression list's time texts", "[unix_time]") {
    for (int64_t t = -400LL * 86400 * 366; t < 200LL * 86400 * 366; t += 86400 * 37 + 3671)
        CHECK(formatUtc(t) == rampart::suppress::formatTime(t));
}

TEST_CASE("unixDay converts existing dates and refuses others", "[unix_time]") {
    CHECK(unixDay(1970, 1, 1) == 0);
    CHECK(unixDay(1969, 12, 31) == -1);
    CHECK(unixDay(2000, 2, 29) == 11016);
    CHECK(unixDay(2026, 11, 22) == 1795305600 / 86400);
    CHECK(!unixDay(2026, 2, 29));
    CHECK(!unixDay(1900, 2, 29));
    CHECK(!unixDay(2026, 13, 1));
    CHECK(!unixDay(2026, 0, 1));
    CHECK(!unixDay(2026, 1, 0));
    CHECK(!unixDay(2026, 1, 257));  // would wrap to day 1 in a byte
    CHECK(!unixDay(2026, 4, 31));
}

TEST_CASE("unixSeconds rounds down, also before 1970", "[unix_time]") {
    using std::chrono::milliseconds;
    CHECK(unixSeconds(SystemTime(milliseconds(1500))) == 1);
    CHECK(unixSeconds(SystemTime(milliseconds(-1500))) == -2);
    const int64_t before = unixSeconds(std::chrono::system_clock::now());
    const int64_t now = unixNow();
    CHECK(now >= before);
    CHECK(now - before < 5);
}

TEST_CASE("formatUtc covers years outside the date library's range", "[unix_time]") {
    CHECK(formatUtc(253402300800) == "10000-01-01T00:00:00Z");
    CHECK(formatUtc(10000000000000) == "318857-05-20T17:46:40Z");
    CHECK(formatUtcDate(10000000000000) == "318857-05-20");
    CHECK(formatUtc(-100000000000) == "-1199-02-15T14:13:20Z");
}
