#include "config/config.h"

#include <catch2/catch.hpp>

using namespace rampart::config;
using namespace std::chrono_literals;

TEST_CASE("every registry default parses and is canonical", "[config][registry]") {
    for (const auto& spec : registry()) {
        INFO(spec.name);
        auto v = parseValue(spec, spec.defaultValue);
        REQUIRE(v);
        CHECK(canonicalText(spec, *v) == spec.defaultValue);
        CHECK_FALSE(spec.help.empty());
        CHECK(spec.programs != 0);
    }
}

TEST_CASE("a config file sets values with file:line", "[config]") {
    auto r = parseConfigText(
        "# comment\n"
        "milter_listen = inet:8891@127.0.0.1   # trailing comment\n"
        "\n"
        "dkim_signed_headers = From, To,\n"
        "    Subject\n"
        "milter_header_size_limit = 2M\n",
        "/etc/rampart/rampart.conf");
    INFO(r.diagnostics.str());
    REQUIRE_FALSE(r.diagnostics.hasErrors());
    const Config& c = r.config;
    CHECK(c.listen("milter_listen").toString() == "inet:127.0.0.1:8891");
    CHECK(c.where("milter_listen").str() == "/etc/rampart/rampart.conf:2");
    CHECK(c.list("dkim_signed_headers") == std::vector<std::string>{"From", "To", "Subject"});
    CHECK(c.size("milter_header_size_limit") == 2 * 1024 * 1024);
    CHECK(c.isDefault("milter_socket_mode"));
    CHECK(c.mode("milter_socket_mode") == 0660);
    CHECK(c.dumpNonDefaults(kMilter) ==
          "milter_listen = inet:127.0.0.1:8891\n"
          "milter_header_size_limit = 2M\n"
          "dkim_signed_headers = From, To, Subject\n");
}

TEST_CASE("config errors carry file:line and keep going", "[config]") {
    auto r = parseConfigText(
        "milter_lisen = unix:/x\n"
        "milter_socket_mode = 0999\n"
        "this line has no equals sign\n"
        "  \n"
        "dkim_unsigned_action = bounce\n"
        "log_level = debug\n"
        "log_level = info\n",
        "t.conf");
    REQUIRE(r.diagnostics.hasErrors());
    CHECK(r.diagnostics.str() ==
          "t.conf:1: unknown key \"milter_lisen\" (did you mean milter_listen?)\n"
          "t.conf:2: milter_socket_mode: expected an octal file mode such as 0660, got \"0999\"\n"
          "t.conf:3: expected \"key = value\", got \"this line has no equals sign\"\n"
          "t.conf:5: dkim_unsigned_action: expected one of tempfail,reject,accept, got \"bounce\"\n"
          "t.conf:7: warning: log_level overrides the value set at line 6\n");
    CHECK(r.config.str("log_level") == "info");
}

TEST_CASE("a continuation line needs a key line before it", "[config]") {
    auto r = parseConfigText("   orphan\n", "t.conf");
    CHECK(r.diagnostics.str() == "t.conf:1: continuation line without a preceding \"key = value\" line\n");
}

TEST_CASE("a missing config file is an error naming the file", "[config]") {
    auto r = loadConfigFile("/nonexistent/rampart.conf");
    CHECK(r.diagnostics.str() ==
          "/nonexistent/rampart.conf: cannot open configuration file: No such file or directory\n");
}

TEST_CASE("defaults dump lists each key of a program once", "[config]") {
    std::string d = Config::dumpDefaults(kMilter);
    CHECK(d.find("milter_listen = unix:/run/rampart/milter.sock\n") != std::string::npos);
    CHECK(d.find("dkim_canonicalization = relaxed/relaxed\n") != std::string::npos);
}
