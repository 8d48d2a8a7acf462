#include "config/values.h"

#include <catch2/catch.hpp>

using namespace rampart::config;
using namespace std::chrono_literals;

TEST_CASE("durations parse with units and print canonically", "[config][values]") {
    CHECK(*parseDuration("30s") == 30s);
    CHECK(*parseDuration("10m") == 600s);
    CHECK(*parseDuration("2d") == 172800s);
    CHECK(*parseDuration("45") == 45s);
    CHECK(*parseDuration(" 1 week ") == 604800s);
    CHECK(formatDuration(120s) == "2m");
    CHECK(formatDuration(90s) == "90s");
    CHECK(formatDuration(86400s) == "1d");
    CHECK(formatDuration(0s) == "0s");
    CHECK(parseDuration("10 parsecs").error() == "unknown time unit \"parsecs\" (use s, m, h, d or w)");
    CHECK(parseDuration("soon").error() == "expected a duration such as 30s, 10m, 2h or 2d, got \"soon\"");
    CHECK_FALSE(parseDuration("-5s"));
}

TEST_CASE("sizes use binary multiples", "[config][values]") {
    CHECK(*parseSize("64k") == 65536);
    CHECK(*parseSize("10M") == 10485760);
    CHECK(*parseSize("1000") == 1000);
    CHECK(formatSize(1048576) == "1M");
    CHECK(formatSize(1000) == "1000");
    CHECK(parseSize("3 furlongs").error() == "unknown size unit \"furlongs\" (use k, M or G)");
}

TEST_CASE("rates read like 40/day and 100/h", "[config][values]") {
    auto r = parseRate("40/day");
    REQUIRE(r);
    CHECK(r->count == 40);
    CHECK(r->period == 86400s);
    CHECK_FALSE(r->messages);
    CHECK(formatRate(*r) == "40/day");
    CHECK(formatRate(*parseRate("100/hour")) == "100/h");
    CHECK(formatRate(*parseRate("5 / min")) == "5/min");
    CHECK(formatRate(*parseRate("40 msgs/day")) == "40 msgs/day");
    CHECK(parseRate("40 msgs/day")->messages);
    CHECK(formatRate(*parseRate("10/2h")) == "10/2h");
    CHECK(parseRate("40").error() == "expected a rate such as 40/day, 100/h or \"40 msgs/day\", got \"40\"");
    CHECK(parseRate("40/fortnight").error() == "unknown rate period \"fortnight\" (use s, min, h, day or week)");
    CHECK(parseRate("40 bananas/day").error() == "unknown rate unit \"bananas\" (use msgs or rcpts, or nothing)");
}

TEST_CASE("listen addresses accept Postfix and libmilter syntax", "[config][values]") {
    auto u = parseListenAddress("unix:/run/rampart/milter.sock");
    REQUIRE(u);
    CHECK(u->toString() == "unix:/run/rampart/milter.sock");
    CHECK(parseListenAddress("local:/tmp/x")->toString() == "unix:/tmp/x");
    CHECK(parseListenAddress("inet:127.0.0.1:8891")->toString() == "inet:127.0.0.1:8891");
    CHECK(parseListenAddress("inet:8891@127.0.0.1")->toString() == "inet:127.0.0.1:8891");
    CHECK(parseListenAddress("inet6:8891@::1")->toString() == "inet:[::1]:8891");
    CHECK(parseListenAddress("inet:[::1]:8891")->toMilterSpec() == "inet6:8891@::1");
    CHECK(parseListenAddress("inet:127.0.0.1:8891")->toMilterSpec() == "inet:8891@127.0.0.1");
    CHECK(parseListenAddress("unix:relative").error() == "a unix socket needs an absolute path, got \"unix:relative\"");
    CHECK(parseListenAddress("inet:127.0.0.1:99999").error() == "bad port \"99999\" (1-65535)");
    CHECK(parseListenAddress("inet:::1:25").error() == "write IPv6 addresses in brackets: inet:[::1]:25");
    CHECK_FALSE(parseListenAddress("tcp:1.2.3.4:5"));
}

TEST_CASE("table references", "[config][values]") {
    auto t = parseTableRef("refile:/etc/rampart/signing.table", "file|refile");
    REQUIRE(t);
    CHECK(t->type == "refile");
    CHECK(t->toString() == "refile:/etc/rampart/signing.table");
    CHECK(parseTableRef("hash:/etc/x", "file|refile").error() ==
          "table type \"hash:\" is not supported here (use file:, refile:)");
    CHECK(parseTableRef("file:relative", "file").error() == "table path must be absolute: \"file:relative\"");
}

TEST_CASE("file modes are octal", "[config][values]") {
    CHECK(*parseFileMode("0660") == 0660);
    CHECK(*parseFileMode("600") == 0600);
    CHECK(formatFileMode(0660) == "0660");
    CHECK_FALSE(parseFileMode("0689"));
}
