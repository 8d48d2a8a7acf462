// Helpers for the pacing core's tests: parse a limits text (failing the test on errors), build
// requests, local times in a zone, and a harness that drives the request service as the daemon does.
#pragma once

#include <date/date.h>
#include <date/tz.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "policyd/decide.h"
#include "policyd/journal_store.h"
#include "policyd/limits.h"
#include "policyd/service.h"
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

// END-OF-MESSAGE of a transaction: its queue id and how many recipients Postfix accepted.
inline Request endOfMessage(const std::string& instance, const std::string& queueId, uint64_t recipients,
                            const std::string& recipient = "") {
    Request r;
    r.request = "smtpd_access_policy";
    r.protocolState = "END-OF-MESSAGE";
    r.instance = instance;
    r.queueId = queueId;
    r.recipientCount = recipients;
    r.recipient = recipient;
    return r;
}

inline constexpr const char* kErrorAction = "DEFER_IF_PERMIT 4.3.0 rampart: policy service error, try again later";

// A runtime for the request service over `limits` (not owned: it must outlive the runtime).
inline std::shared_ptr<const Runtime> testRuntime(const LimitSet& limits, bool monitorOnly = false,
                                                  StateOptions options = {}) {
    auto rt = std::make_shared<Runtime>();
    rt->limits = std::shared_ptr<const LimitSet>(std::shared_ptr<void>(), &limits);
    rt->monitorOnly = monitorOnly;
    rt->state = options;
    rt->errorAction = kErrorAction;
    return rt;
}

// A clock shared with a store without giving up ownership (the test owns it).
inline std::shared_ptr<const rampart::util::Clock> borrow(const FakeClock& clock) {
    return std::shared_ptr<const rampart::util::Clock>(std::shared_ptr<void>(), &clock);
}

// A memory-only store that remembers the decision of every reserve(), so tests can look at why
// the request service answered as it did.
struct RecordingStore : JournalStore {
    using JournalStore::JournalStore;
    std::optional<Decision> last;
    Decision reserve(const Request& req, const LimitSet& limits, bool monitorOnly, SystemTime now) override {
        Decision d = JournalStore::reserve(req, limits, monitorOnly, now);
        last = d;
        return d;
    }
};

// Drives the request service (PolicyService over a memory-only store) as rampart-policyd's server
// does; each transaction instance gets its own session, as Postfix gives each smtpd process its own
// policy connection. check() is decide() alone, without the service.
struct Harness {
    LimitSet limits;
    State state;
    FakeClock clock;
    bool monitorOnly = false;
    int serial = 0;
    RecordingStore store;
    PolicyService service;
    std::map<std::string, Session> sessions;  // by instance

    explicit Harness(LimitSet l, SystemTime start = SystemTime{})
        : limits(std::move(l)), clock(start), store(state, borrow(clock)), service(runtime(), store) {}

    // The runtime the service decides with: these limits and monitorOnly, as set now.
    // The runtime the service decides with: these limits and monitorOnly, as set now.
    std::shared_ptr<const Runtime> runtime() const { return testRuntime(limits, monitorOnly, state.options()); }

    Decision check(const Request& r) { return decide(r, limits, state, clock.now(), monitorOnly); }

    // The service's reply to one request of instance r.instance's session; a suspension for the
    // provider is resumed with r.provider (or the recipient domain: "unknown provider").
    Reply handle(const Request& r) {
        service.setRuntime(runtime());
        Session& session = sessions[r.instance];
        if (session.id == 0) session = Session{sessions.size(), "test#" + r.instance, "", 0};
        Reply reply = service.handle(session, r, clock.now());
        if (reply.kind == Reply::Kind::Suspend) {
            REQUIRE(reply.suspension->need.kind == Need::Kind::Provider);
            std::string provider = r.provider.empty() ? reply.suspension->need.subject : r.provider;
            reply = service.resume(session, *reply.suspension, provider, clock.now());
        }
        REQUIRE(reply.kind == Reply::Kind::Answer);
        return reply;
    }

    // RCPT through the service; returns the decision behind its answer.
    Decision rcpt(const Request& r) {
        store.last.reset();
        Reply reply = handle(r);
        REQUIRE(store.last);
        CHECK(reply.action == store.last->action);
        CHECK(reply.needsDurability == (store.last->verdict == Verdict::Allow));
        return *store.last;
    }
    // END-OF-MESSAGE through the service.
    Reply endOfMessage(const std::string& instance, const std::string& queueId, uint64_t recipients,
                       const std::string& recipient = "") {
        return handle(policyd_test::endOfMessage(instance, queueId, recipients, recipient));
    }
    // A whole one-recipient message: RCPT, and END-OF-MESSAGE when allowed.
    Decision send(const std::string& sender, const std::string& recipient, const std::string& sasl = "") {
        std::string instance = "i" + std::to_string(++serial);
        Decision d = rcpt(policyd_test::rcpt(sender, recipient, instance, sasl));
        if (d.verdict == Verdict::Allow) {
            const bool held = store.holds(instance);  // an allowed request may hold nothing (a window)
            Reply eom = endOfMessage(instance, "Q" + std::to_string(serial), 1, recipient);
            CHECK(eom.action == "DUNNO");
            CHECK(eom.needsDurability == held);  // a commit is answered once durable
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
