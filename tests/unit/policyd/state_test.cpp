// State beyond decide(): scope specs for rampartctl, status rows and JSON, pruning by expire(),
// and the record encoding (takeChanges / snapshot / applyRecord reproduce the state).
#include <catch2/catch.hpp>

#include "policyd_fixture.h"

using namespace policyd_test;

namespace {

const std::string kBob = "bob@acme-mail.com";

// Replays records into a fresh State.
State replay(const std::vector<std::string>& records) {
    State s;
    for (const auto& r : records) {
        auto ok = s.applyRecord(r);
        INFO((ok ? std::string() : ok.error()));
        REQUIRE(ok);
    }
    return s;
}

}  // namespace

TEST_CASE("scope specs: parse, canonical text, errors", "[policyd][state]") {
    auto s = ScopeSpec::parse(" sender_domain = ACME-mail.com , provider=google ");
    REQUIRE(s);
    CHECK(s->str() == "sender_domain=acme-mail.com,provider=google");
    auto l = ScopeSpec::parse("limit=cold-mailbox,mailbox=Bob@acme-mail.com");
    REQUIRE(l);
    CHECK(l->limit == "cold-mailbox");
    CHECK(l->str() == "limit=cold-mailbox,mailbox=bob@acme-mail.com");
    CHECK(ScopeSpec::parse("mailbx=bob").error() ==
          "unknown scope \"mailbx\" (expected SCOPE=VALUE[,SCOPE=VALUE...] such as "
          "mailbox=bob@example.com or sender_domain=example.com,provider=google; limit=NAME selects "
          "one limit)");
    CHECK(ScopeSpec::parse("mailbox=").error().starts_with("missing value after \"mailbox=\""));
    CHECK(ScopeSpec::parse("mailbox=a,mailbox=b").error() == "mailbox= given twice");
    CHECK_FALSE(ScopeSpec::parse(""));
}

TEST_CASE("status rows: count, cap, warmup day, next reset, pause; JSON", "[policyd][state][status]") {
    Harness h(parseOk(R"(
[cold-mailbox]
scope  = mailbox
cap    = 40/day
rate   = 8/h
warmup = w
[per-domain]
scope  = sender_domain, provider
cap    = 100/week
[warmup w]
days   = 10, 12, 15
)",
                      "Europe/Berlin"),
              local("2026-11-22 09:00:00", "Europe/Berlin"));
    REQUIRE(h.send(kBob, "a@gmail.com").verdict == Verdict::Allow);
    h.rcpt(rcpt(kBob, "b@gmail.com", "inflight"));  // refused by the rate: nothing reserved
    h.clock.advance(8min);
    REQUIRE(h.rcpt(rcpt(kBob, "b@gmail.com", "inflight")).verdict == Verdict::Allow);
    auto spec = ScopeSpec::parse("sender_domain=acme-mail.com");
    h.state.pause(*spec, "alice", "blocked at gmail", local("2026-11-22 08:00:00", "Europe/Berlin"));

    auto rows = h.state.status(h.limits, nullptr, h.clock.now());
    REQUIRE(rows.size() == 2);
    const StatusRow& m = rows[0];
    CHECK(m.limit == "cold-mailbox");
    CHECK(m.scope == "mailbox=bob@acme-mail.com");
    CHECK(m.period == "day");
    CHECK(m.count == 2);
    CHECK(m.reserved == 1);
    CHECK(m.cap == 40u);
    CHECK(m.today == 2u);
    CHECK(m.warmupDay == 1u);
    CHECK(m.warmupCap == 10u);
    CHECK(m.nextResetText == "2026-11-23 00:00 CET");
    REQUIRE(m.nextSend);
    CHECK(*m.nextSend == local("2026-11-22 09:15:30", "Europe/Berlin"));
    CHECK_FALSE(m.paused);
    const StatusRow& d = rows[1];
    CHECK(d.limit == "per-domain");
    CHECK(d.scope == "sender_domain=acme-mail.com,provider=gmail.com");
    CHECK(d.period == "week");
    CHECK(d.count == 2);
    CHECK(d.nextResetText == "2026-11-23 00:00 CET");
    CHECK(d.paused);
    CHECK(d.pause == "by alice at 2026-11-22 08:00 CET: blocked at gmail");

    auto filter = ScopeSpec::parse("limit=per-domain");
    CHECK(h.state.status(h.limits, &*filter, h.clock.now()).size() == 1);
    auto none = ScopeSpec::parse("recipient=x@y.z");
    CHECK(h.state.status(h.limits, &*none, h.clock.now()).empty());

    std::string json = statusJson(rows, h.state.pauses());
    CHECK(
        json.starts_with("{\"scopes\":[{\"limit\":\"cold-mailbox\",\"scope\":\"mailbox=bob@acme-mail.com\","
                         "\"period\":\"day\","
                         "\"count\":2,\"reserved\":1,\"cap\":40,\"today\":2,\"warmup_day\":1,\"warmup_cap\":10,"
                         "\"next_reset\":\"2026-11-22T23:00:00Z\",\"next_reset_local\":\"2026-11-23 00:00 CET\","
                         "\"next_send\":\"2026-11-22T08:15:30Z\",\"paused\":false,\"pause\":null}"));
    CHECK(
        json.ends_with("\"pauses\":[{\"scope\":\"sender_domain=acme-mail.com\",\"who\":\"alice\","
                       "\"why\":\"blocked at "
                       "gmail\",\"since\":\"2026-11-22T07:00:00Z\"}]}"));

    // A limit removed from the file no longer shows.
    LimitSet fewer = parseOk("[per-domain]\nscope = sender_domain, provider\ncap = 100/week\n");
    CHECK(h.state.status(fewer, nullptr, h.clock.now()).size() == 1);
}

TEST_CASE("expire prunes finished periods, idle rates, old commits and forgotten warmups", "[policyd][state][expire]") {
    Harness h(parseOk("[c]\nscope = mailbox\ncap = 5/day\nrate = 10/h\nwarmup = w\n[warmup "
                      "w]\ndays = 3, 5\n"),
              local("2026-11-22 09:00:00"));
    REQUIRE(h.send(kBob, "x@example.org").verdict == Verdict::Allow);
    CHECK(h.state.scopeCount() == 1);
    CHECK(h.state.commitCount() == 1);
    h.clock.set(local("2026-11-23 09:00:00"));
    ExpireResult r = h.state.expire(h.clock.now());
    CHECK(r.prunedCommits == 1);
    CHECK(r.prunedScopes == 0);  // the warmup progress stays
    const ScopeEntry* e = h.state.find(std::string("c") + kKeyLimitSep + kBob);
    REQUIRE(e);
    CHECK(e->tat == 0);
    CHECK(e->warmup.activeDays == 1);
    h.clock.set(local("2026-12-23 09:00:00"));  // 30 idle days: the warmup starts again
    r = h.state.expire(h.clock.now());
    CHECK(r.prunedScopes == 1);
    CHECK(h.state.scopeCount() == 0);
}

TEST_CASE("expire: a budget bounds each call; a later RCPT extends the reservation", "[policyd][state][expire]") {
    Harness h(parseOk("[c]\nscope = mailbox\nrate = 60/h\n"), local("2026-11-22 09:00:00"));
    for (int i = 0; i < 50; ++i)
        h.send("m" + std::to_string(i) + "@acme-mail.com", "x@example.org");
    h.clock.advance(61min);  // idle rates, and the commits (which hold their entries) are old
    size_t pruned = 0;
    for (int call = 0; call < 10; ++call) {
        ExpireResult r = h.state.expire(h.clock.now(), 7);
        CHECK(r.prunedScopes <= 7);
        pruned += r.prunedScopes;
    }
    CHECK(pruned == 50);
    CHECK(h.state.scopeCount() == 0);

    h.rcpt(rcpt(kBob, "a@example.org", "t1"));
    h.clock.advance(5min);
    h.clock.advance(1min);  // past the rate's emission: the second RCPT is allowed
    REQUIRE(h.rcpt(rcpt(kBob, "b@example.org", "t1")).verdict == Verdict::Allow);
    h.clock.advance(5min);  // 11 minutes after the first RCPT, 5 after the last
    CHECK(h.state.expire(h.clock.now()).releasedReservations == 0);
    h.clock.advance(5min);
    CHECK(h.state.expire(h.clock.now()).releasedReservations == 1);
    CHECK(h.state.reservationCount() == 0);
}

TEST_CASE("records: takeChanges and snapshot reproduce the live state", "[policyd][state][records]") {
    Harness h(parseOk(R"(
[c]
scope   = mailbox
cap     = 10/day
rate    = 30/h burst 3
spacing = 30s ~ 10s
warmup  = w
[m]
scope   = sender_domain, recipient_domain
cap     = 3 msgs/day
[warmup w]
days    = 5, 8
)"),
              local("2026-11-22 09:00:00"));
    h.state.trackChanges(true);
    std::vector<std::string> journal;
    auto take = [&] { h.state.takeChanges([&](std::string_view p) { journal.emplace_back(p); }); };

    for (int i = 0; i < 4; ++i) {
        h.send(kBob, "r" + std::to_string(i) + "@x.example");
        take();
        h.clock.advance(40s);
    }
    h.rcpt(rcpt(kBob, "a@y.example", "open"));  // a reservation in flight
    h.rcpt(rcpt(kBob, "b@y.example", "open"));
    take();
    h.state.refund("Q2", {}, h.clock.now());
    auto spec = ScopeSpec::parse("mailbox=carol@acme-mail.com");
    h.state.pause(*spec, "alice", "why", h.clock.now());
    h.state.reset(*ScopeSpec::parse("mailbox=new@acme-mail.com"), 2u, h.limits, h.clock.now());
    take();
    h.state.release("open");
    h.clock.advance(2h);
    h.state.expire(h.clock.now());
    take();
    h.state.commit("nothing", "Q9", 1, "", h.clock.now());
    take();

    State replayed = replay(journal);
    CHECK(replayed == h.state);
    CHECK(replayed.pauses().size() == 1);

    std::vector<std::string> snap;
    h.state.snapshot([&](std::string_view p) { snap.emplace_back(p); });
    CHECK(replay(snap) == h.state);

    // Replaying twice changes nothing: every record is an absolute value.
    State twice = replay(journal);
    for (const auto& r : journal)
        REQUIRE(twice.applyRecord(r));
    CHECK(twice == h.state);

    State bad;
    CHECK(bad.applyRecord(std::string("\x63", 1)).error() == "unknown record type 99");
    CHECK(bad.applyRecord(journal.front().substr(0, journal.front().size() - 1))
              .error()
              .starts_with("malformed record of type"));
}

TEST_CASE("change tracking hands out each changed entity once", "[policyd][state][records]") {
    Harness h(parseOk("[c]\nscope = mailbox\ncap = 10/day\n"), local("2026-11-22 09:00:00"));
    std::vector<std::string> out;
    auto take = [&] {
        out.clear();
        h.state.takeChanges([&](std::string_view p) { out.emplace_back(p); });
    };
    h.send(kBob, "x@example.org");
    take();
    CHECK(out.empty());  // not tracking
    h.state.trackChanges(true);
    for (int i = 0; i < 5; ++i)
        h.rcpt(rcpt(kBob, "x" + std::to_string(i) + "@example.org", "t1"));
    take();
    CHECK(out.size() == 2);  // the scope entry and the reservation, once each
    take();
    CHECK(out.empty());
    h.state.commit("t1", "Q1", 5, "", h.clock.now());
    take();
    CHECK(out.size() == 3);  // scope, reservation deleted, commit
}
