// RFC 5322 date-time (mail/date.h): what the hygiene date rule keeps, and the Date it adds.
#include "mail/date.h"

#include <catch2/catch.hpp>

using namespace rampart::mail;

TEST_CASE("isDateTime accepts RFC 5322 dates, obsolete and lenient forms", "[mail][date]") {
    CHECK(isDateTime("Sun, 22 Nov 2026 10:00:00 +0000"));
    CHECK(isDateTime("22 Nov 2026 10:00 -0500"));
    CHECK(isDateTime("Sunday 22 November 26 10:00:00 GMT"));
    CHECK(isDateTime("Sun, 22 Nov 2026 10:00:00 +0000 (UTC)"));
    CHECK(isDateTime("Thu, 29 Feb 2024 23:59:60 +0100"));
    CHECK_FALSE(isDateTime("2026-11-22T10:00:00Z"));
    CHECK_FALSE(isDateTime("Sun Nov 22 10:00:00 2026"));
    CHECK_FALSE(isDateTime("Thu, 29 Feb 2023 10:00:00 +0000"));
    CHECK_FALSE(isDateTime("Sun, 22 Nov 2026 10:00:00 +0000 (unterminated"));
}

TEST_CASE("formatDate writes UTC with the day of week", "[mail][date]") {
    using namespace std::chrono;
    CHECK(formatDate(rampart::util::SystemTime{}) == "Thu, 1 Jan 1970 00:00:00 +0000");
    CHECK(formatDate(rampart::util::SystemTime{seconds{1795341600}}) == "Sun, 22 Nov 2026 10:00:00 +0000");
}
