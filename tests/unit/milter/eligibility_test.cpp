#include <catch2/catch.hpp>

#include "milter/runtime.h"

using namespace rampart;
using namespace rampart::milter;

TEST_CASE("our users' mail: authenticated, internal network or named listener", "[milter][eligibility]") {
    Eligibility e;
    e.internalNetworks = *net::CidrList::parse("10.0.0.0/8, [2001:db8::]/32");
    e.trustAuthenticated = true;
    e.daemonNames = {"ORIGINATING"};

    Envelope env;
    env.clientAddress = "203.0.113.9";
    e.classify(env);
    CHECK_FALSE(env.ours);
    CHECK(env.oursReason ==
          "not our users' mail (client 203.0.113.9 not in milter_internal_networks, not authenticated)");

    env.authUser = "alice";
    e.classify(env);
    CHECK(env.ours);
    CHECK(env.oursReason == "authenticated as alice");

    env.authUser.clear();
    env.clientAddress = "10.1.2.3";
    e.classify(env);
    CHECK(env.ours);
    CHECK(env.oursReason == "internal client 10.1.2.3");

    env.clientAddress = "2001:db8::25";
    e.classify(env);
    CHECK(env.ours);

    env.clientAddress = "198.51.100.1";
    env.daemonName = "originating";
    e.classify(env);
    CHECK(env.ours);
    CHECK(env.oursReason == "listener originating");

    env.daemonName = "smtpd";
    e.classify(env);
    CHECK_FALSE(env.ours);
    CHECK(env.oursReason.find("listener smtpd not in milter_originating_daemon_names") != std::string::npos);

    e.trustAuthenticated = false;
    env.authUser = "mallory";
    e.classify(env);
    CHECK_FALSE(env.ours);
}
