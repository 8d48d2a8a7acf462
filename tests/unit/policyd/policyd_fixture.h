// Helpers for the pacing core's tests: parse a limits text (failing the test on errors), build
// requests, local times in a zone, and a harness that decides + applies like the daemon does.
#pragma once

#include <date/date.h>
#include <date/tz.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <sstream>
#include <string>

#include "policyd/decide.h"
#include "policyd/limits.h"
#include "policyd/state.h"
#include "util/clock.h"

namespace policyd_test {

using namespace rampart::policyd;
using rampart::config::Diagnostics;
using rampart::util::FakeClock;
using rampart::util::SystemTime;
using namespace std::chrono_literals;

inline const date::time_zone* zone(const char* name) {
    return date::locate_zone(name);
}

inline LimitSet parseOk(const std::string& text, const char* tz = "UTC") {
    Diagnostics d;
    LimitSet set = LimitSet::parse(text, "limits.conf", zone(tz), d);
    INFO(d.str());
    REQUIRE_FALSE(d.hasErrors());
    return set;
}

// Every diagnostic, one per line ("limits.conf:3: ...").
inline std::string diagnostics(const std::string& text, const char* tz = "UTC") {
    Diagnostics d;
    (void)LimitSet::parse(text, "limits.conf", zone(tz), d);
    return d.str();
}

// "2026-11-22 10:00:00" in zone tz, as a system time.
// Parsed by hand: date::parse trips g++ 12's -Wmaybe-uninitialized inside date.h at -O2.
inline SystemTime local(const std::string& text, const char* tz = "UTC") {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    REQUIRE(std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &sec) == 6);
    date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(mo)},
                             date::day{static_cast<unsigned>(d)}};
    REQUIRE(ymd.ok());
    date::local_seconds ls =
        date::local_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(sec);
    return SystemTime(zone(tz)->to_sys(ls, date::choose::earliest).time_since_epoch());
}

inline Request rcpt(const std::string& sender, const std::string& recipient, const std::string& instance,
                    const std::string& sasl = "") {
    Request r;
    r.request = "smtpd_access_policy";
    r.protocolState = "RCPT";
    r.sender = sender;
    r.recipient = recipient;
    r.instance = instance;
    r.saslUsername = sasl;
    r.clientAddress = "192.0.2.10";
    return r;
}

// Decides and applies like the daemon's request path; commit() ends a one-recipient transaction.
struct Harness {
    LimitSet limits;
    State state;
    FakeClock clock;
    bool monitorOnly = false;
    int serial = 0;

    explicit Harness(LimitSet l, SystemTime start = SystemTime{}) : limits(std::move(l)), clock(start) {}

    Decision check(const Request& r) { return decide(r, limits, state, clock.now(), monitorOnly); }
    Decision rcpt(const Request& r) {
        Decision d = check(r);
        if (d.verdict == Verdict::Allow) state.reserve(d.mutations);
        return d;
    }
    // A whole one-recipient message: RCPT, and END-OF-MESSAGE when allowed.
    Decision send(const std::string& sender, const std::string& recipient, const std::string& sasl = "") {
        std::string instance = "i" + std::to_string(++serial);
        Decision d = rcpt(policyd_test::rcpt(sender, recipient, instance, sasl));
        if (d.verdict == Verdict::Allow) {
            state.commit(instance, "Q" + std::to_string(serial), 1, recipient, clock.now());
        }
        return d;
    }
    // How many of n messages pass right now.
    int sendMany(int n, const std::string& sender, const std::string& recipient) {
        int ok = 0;
        for (int i = 0; i < n; ++i)
            ok += send(sender, recipient).verdict == Verdict::Allow;
        return ok;
    }
};

}  // namespace policyd_test
