// The request service itself (policyd/service.h): transaction ownership per session and instance,
// the suspension protocol, durability flags, protocol violations, Exim's instance-less requests,
// refunds, housekeeping and internal errors, over a memory-only store.
#include "policyd/service.h"

#include <catch2/catch.hpp>
#include <stdexcept>

#include "policyd_fixture.h"

using namespace policyd_test;

namespace {

constexpr const char* kBob = "bob@acme-mail.com";
constexpr const char* kError = kErrorAction;

// A store whose reserve() fails, to see what the service answers when the state cannot be reached.
struct FailingStore : JournalStore {
    using JournalStore::JournalStore;
    Decision reserve(const Request&, const LimitSet&, bool, SystemTime) override {
        throw std::runtime_error("store unreachable");
    }
};

struct Fixture {
    LimitSet limits;
    State state;
    FakeClock clock{local("2026-11-22 10:00:00")};
    JournalStore store{state, borrow(clock)};
    PolicyService service;

    explicit Fixture(const std::string& text) : limits(parseOk(text)), service(testRuntime(limits), store) {}
    Reply send(Session& s, const Request& r) { return service.handle(s, r, clock.now()); }
    Request eom(const std::string& instance, const std::string& queueId, uint64_t n) {
        return endOfMessage(instance, queueId, n);
    }
};

Session session(uint64_t id) {
    return Session{id, "test#" + std::to_string(id), "", 0};
}

}  // namespace

TEST_CASE("service: durability flags and non-RCPT states", "[policyd][service]") {
    Fixture f("[daily]\nscope = mailbox\ncap = 1/day\n");
    Session a = session(1);
    Request mail = rcpt(kBob, "a@example.org", "t1");
    mail.protocolState = "MAIL";
    Reply r = f.send(a, mail);
    CHECK(r.kind == Reply::Kind::Answer);
    CHECK(r.action == "DUNNO");
    CHECK_FALSE(r.needsDurability);

    r = f.send(a, rcpt(kBob, "a@example.org", "t1"));
    CHECK(r.action == "DUNNO");
    CHECK(r.needsDurability);  // a permit that counted: answered only once durable
    r = f.send(a, f.eom("t1", "Q1", 1));
    CHECK(r.action == "DUNNO");
    CHECK(r.needsDurability);  // a commit

    Session b = session(2);
    r = f.send(b, rcpt(kBob, "b@example.org", "t2"));
    CHECK(r.action.rfind("DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com reached cap 1/day", 0) == 0);
    CHECK_FALSE(r.needsDurability);  // a refusal changes nothing
    r = f.send(b, f.eom("t2", "Q2", 1));
    CHECK_FALSE(r.needsDurability);  // nothing was reserved: nothing to commit
    CHECK(f.service.counters().requests == 5);
    CHECK(f.service.counters().allowed == 1);
    CHECK(f.service.counters().refused == 1);
    CHECK(f.service.counters().commits == 1);
}

TEST_CASE("service: a new instance on a session releases what the previous one did not commit", "[policyd][service]") {
    Fixture f("[daily]\nscope = mailbox\ncap = 1/day\n");
    Session a = session(1), b = session(2);
    CHECK(f.send(a, rcpt(kBob, "a@example.org", "t1")).action == "DUNNO");
    CHECK(f.store.holds("t1"));
    // Another session's new transaction does not touch t1 (it is not its own).
    CHECK(f.send(b, rcpt(kBob, "b@example.org", "t2")).action != "DUNNO");
    CHECK(f.store.holds("t1"));
    // The same session starting t3: t1 ended without END-OF-MESSAGE, its slot comes back.
    CHECK(f.send(a, rcpt(kBob, "c@example.org", "t3")).action == "DUNNO");
    CHECK_FALSE(f.store.holds("t1"));
    CHECK(f.store.holds("t3"));
    CHECK(f.service.counters().releases == 1);
}

TEST_CASE("service: an instance reused by another sender releases the first sender's hold", "[policyd][service]") {
    Fixture f("[daily]\nscope = mailbox\ncap = 5/day\n");
    Session a = session(1), b = session(2);
    CHECK(f.send(a, rcpt(kBob, "a@example.org", "shared")).action == "DUNNO");
    REQUIRE(f.store.holds("shared"));
    CHECK(f.send(b, rcpt("carol@acme-mail.com", "a@example.org", "shared")).action == "DUNNO");
    // Bob's reservation was released; what "shared" holds now is carol's alone.
    CHECK(f.service.counters().releases == 1);
    REQUIRE(f.send(b, f.eom("shared", "Q1", 1)).needsDurability);
    bool carol = false;
    for (const auto& row : f.store.status(f.limits, nullptr, f.clock.now())) {
        carol = carol || row.scope == "mailbox=carol@acme-mail.com";
        CHECK(row.count == (row.scope == "mailbox=carol@acme-mail.com" ? 1u : 0u));
    }
    CHECK(carol);
}

TEST_CASE("service: suspension for the provider, resumed once", "[policyd][service]") {
    Fixture f("[g]\nscope = sender_domain, provider\nwhen = provider = google\ncap = 1/day\n");
    Session a = session(1);
    Reply r = f.send(a, rcpt(kBob, "x@acme-corp.example", "t1"));
    REQUIRE(r.kind == Reply::Kind::Suspend);
    REQUIRE(r.suspension);
    CHECK(r.suspension->need.kind == Need::Kind::Provider);
    CHECK(needName(r.suspension->need.kind) == "provider");
    CHECK(r.suspension->need.subject == "acme-corp.example");
    CHECK(r.suspension->need.limits);
    CHECK_FALSE(f.store.holds("t1"));  // nothing reserved while suspended
    Reply done = f.service.resume(a, *r.suspension, "google", f.clock.now());
    CHECK(done.kind == Reply::Kind::Answer);
    CHECK(done.action == "DUNNO");
    CHECK(done.needsDurability);
    CHECK(f.store.holds("t1"));
    CHECK(f.service.counters().requests == 1);  // resumed, not handled twice
    // The same provider's next recipient is over the cap; another provider is not counted.
    Session b = session(2);
    r = f.send(b, rcpt(kBob, "y@gmail.com", "t2"));
    REQUIRE(r.kind == Reply::Kind::Suspend);
    CHECK(f.service.resume(b, *r.suspension, "google", f.clock.now()).action.rfind("DEFER_IF_PERMIT", 0) == 0);
    r = f.send(b, rcpt(kBob, "y@example.org", "t3"));
    REQUIRE(r.kind == Reply::Kind::Suspend);
    CHECK(f.service.resume(b, *r.suspension, "example.org", f.clock.now()).action == "DUNNO");
}

TEST_CASE("service: protocol violations close the connection", "[policyd][service]") {
    Fixture f("[daily]\nscope = mailbox\ncap = 1/day\n");
    Session a = session(1);
    Request r = rcpt(kBob, "a@example.org", "t1");
    r.request = "something_else";
    CHECK(f.send(a, r).kind == Reply::Kind::Close);
    CHECK(f.service.counters().garbage == 1);
}

TEST_CASE("service: Exim's requests without an instance count at once", "[policyd][service]") {
    Fixture f("[daily]\nscope = mailbox\ncap = 2/day\n");
    Session a = session(7);
    Reply r = f.send(a, rcpt(kBob, "a@example.org", ""));
    CHECK(r.action == "DUNNO");
    CHECK(r.needsDurability);
    CHECK(f.store.counts().reservations == 0);  // committed, not reserved
    auto rows = f.store.status(f.limits, nullptr, f.clock.now());
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].count == 1);
    CHECK(rows[0].reserved == 0);
    CHECK(f.state.reservation("rampart-noinstance-7-1") == nullptr);
    f.clock.advance(2h);
    f.service.housekeeping(f.clock.now());  // nothing expires: the count stands
    CHECK(f.send(a, rcpt(kBob, "b@example.org", "")).action == "DUNNO");
    CHECK(f.send(a, rcpt(kBob, "c@example.org", "")).action.rfind("DEFER_IF_PERMIT", 0) == 0);
}

TEST_CASE("service: refunds", "[policyd][service]") {
    Fixture f("[daily]\nscope = mailbox\ncap = 1/day\n");
    Session a = session(1);
    REQUIRE(f.send(a, rcpt(kBob, "a@example.org", "t1")).action == "DUNNO");
    REQUIRE(f.send(a, f.eom("t1", "Q1", 1)).needsDurability);
    Request refund;
    refund.request = "rampart_refund";
    Reply r = f.send(a, refund);
    CHECK(r.action == "DUNNO rampart_refund without queue_id");
    CHECK_FALSE(r.needsDurability);
    refund.queueId = "Q1";
    r = f.send(a, refund);
    CHECK(r.action.rfind("OK refunded 1 recipient", 0) == 0);
    CHECK(r.needsDurability);
    CHECK(f.send(a, rcpt(kBob, "b@example.org", "t2")).action == "DUNNO");  // the slot is back
}

TEST_CASE("service: housekeeping releases expired reservations", "[policyd][service]") {
    Fixture f("[daily]\nscope = mailbox\ncap = 1/day\n");
    Session a = session(1);
    REQUIRE(f.send(a, rcpt(kBob, "a@example.org", "t1")).action == "DUNNO");
    f.clock.advance(9min);
    f.service.housekeeping(f.clock.now());
    CHECK(f.store.holds("t1"));
    f.clock.advance(2min);  // policyd_reservation_timeout is 10m by default
    f.service.housekeeping(f.clock.now());
    CHECK_FALSE(f.store.holds("t1"));
    CHECK(f.service.counters().releases == 1);
}

TEST_CASE("service: a store that fails is answered with the error action", "[policyd][service]") {
    LimitSet limits = parseOk("[daily]\nscope = mailbox\ncap = 1/day\n");
    State state;
    FakeClock clock{local("2026-11-22 10:00:00")};
    FailingStore store{state, borrow(clock)};
    PolicyService service(testRuntime(limits), store);
    Session a = session(1);
    Reply r = service.handle(a, rcpt(kBob, "a@example.org", "t1"), clock.now());
    CHECK(r.kind == Reply::Kind::Answer);
    CHECK(r.action == kError);
    CHECK_FALSE(r.needsDurability);
    CHECK(service.counters().errors == 1);
}
