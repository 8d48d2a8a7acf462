// The decision core with a fake clock: smoothing, calendar caps in a zone (midnight, DST, ISO
// weeks), spacing with jitter, windows, warmup day counting, combined scopes, message counting,
// all-or-nothing reservation, exemptions, pauses, monitor mode and the reply texts.
#include <catch2/catch.hpp>

#include "policyd_fixture.h"

using namespace policyd_test;

namespace {

const std::string kBob = "bob@acme-mail.com";

std::string key(const std::string& limit, const std::string& values) {
    return limit + kKeyLimitSep + values;
}

uint64_t countOf(const State& s, const std::string& k, const LimitSet& set, SystemTime now) {
    const ScopeEntry* e = s.find(k);
    if (!e) return 0;
    const Limit* lim = set.find(k.substr(0, k.find(kKeyLimitSep)));
    return e->count(0, periodStart(lim->cap->period, lim->zone, now));
}

}  // namespace

TEST_CASE("the deferral text names the limit, the scope, the warmup day and the retry time",
          "[policyd][decide][warmup]") {
    Harness h(parseOk(R"(
[cold-mailbox]
scope  = mailbox
cap    = 40/day
warmup = cold-mailbox
[warmup cold-mailbox]
days   = 10, 12, 15, 18
)",
                      "Europe/Berlin"),
              local("2026-11-20 10:00:00", "Europe/Berlin"));
    CHECK(h.send(kBob, "a@example.org").verdict == Verdict::Allow);  // day 1 (Friday)
    h.clock.set(local("2026-11-21 10:00:00", "Europe/Berlin"));
    CHECK(h.send(kBob, "a@example.org").verdict == Verdict::Allow);  // day 2
    h.clock.set(local("2026-11-22 09:00:00", "Europe/Berlin"));
    CHECK(h.sendMany(15, kBob, "a@example.org") == 15);  // day 3: 15
    Decision d = h.send(kBob, "a@example.org");
    REQUIRE(d.verdict == Verdict::Refuse);
    CHECK(d.action ==
          "DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com reached warmup cap 15/day (day "
          "3, "
          "limit cold-mailbox); retry after 2026-11-23 00:00 CET");
    REQUIRE(d.refusal);
    CHECK(d.refusal->reason == Reason::WarmupCap);
    CHECK(d.refusal->limit == "cold-mailbox");
    CHECK(d.refusal->scope == "mailbox bob@acme-mail.com");
    CHECK(d.refusal->retryAt == local("2026-11-23 00:00:00", "Europe/Berlin"));
    CHECK(d.mutations.empty());
}

TEST_CASE("GCRA: a day's cap is not spent in its first minute", "[policyd][decide][rate]") {
    Harness h(parseOk("[pace]\nscope = mailbox\nrate = 40/day\n"), local("2026-11-22 00:00:00"));
    int passed = 0;
    for (int i = 0; i < 40; ++i) {  // 40 attempts within the first minute
        passed += h.send(kBob, "x@example.org").verdict == Verdict::Allow;
        h.clock.advance(1s);
    }
    CHECK(passed == 1);
    // One attempt a minute for the whole day: exactly 40 pass, one every 36 minutes.
    h.clock.set(local("2026-11-23 00:00:00"));
    passed = 0;
    std::vector<SystemTime> when;
    for (int i = 0; i < 24 * 60; ++i) {
        if (h.send(kBob, "x@example.org").verdict == Verdict::Allow) {
            ++passed;
            when.push_back(h.clock.now());
        }
        h.clock.advance(1min);
    }
    CHECK(passed == 40);
    CHECK(when[1] - when[0] == 36min);
}

TEST_CASE("GCRA: burst, exact retry time and the pace text", "[policyd][decide][rate]") {
    Harness h(parseOk("[pace]\nscope = mailbox\nrate = 8/h burst 2\n"), local("2026-11-22 10:00:00"));
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Allow);
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Allow);
    Decision d = h.send(kBob, "x@example.org");
    REQUIRE(d.verdict == Verdict::Refuse);
    CHECK(d.action ==
          "DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com paced at 8/h burst 2 (limit "
          "pace); "
          "retry after 2026-11-22 10:07:30 UTC");
    CHECK(d.refusal->retryAt == local("2026-11-22 10:07:30"));
    h.clock.set(local("2026-11-22 10:07:29"));
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Refuse);
    h.clock.set(local("2026-11-22 10:07:30"));
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Allow);
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Refuse);
}

TEST_CASE("calendar caps reset at local midnight in the limit's zone", "[policyd][decide][calendar]") {
    Harness h(parseOk("[daily]\nscope = mailbox\ncap = 3/day\n", "Europe/Berlin"),
              local("2026-11-22 23:50:00", "Europe/Berlin"));
    CHECK(h.sendMany(3, kBob, "x@example.org") == 3);
    Decision d = h.send(kBob, "x@example.org");
    CHECK(d.action ==
          "DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com reached cap 3/day (limit daily); "
          "retry after 2026-11-23 00:00 CET");
    h.clock.set(local("2026-11-22 23:59:59", "Europe/Berlin"));
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Refuse);
    // 23:00 UTC is midnight in Berlin: a UTC day would not have turned yet.
    h.clock.set(local("2026-11-22 23:00:00", "UTC"));
    CHECK(h.sendMany(4, kBob, "x@example.org") == 3);
}

TEST_CASE("calendar days across DST changes in Europe/Berlin (23 and 25 hours)", "[policyd][decide][calendar]") {
    const auto* berlin = zone("Europe/Berlin");
    // Spring forward on 2026-03-29: the day runs from 23:00Z to 22:00Z.
    CHECK(periodStart(CalendarPeriod::Day, berlin, local("2026-03-29 12:00:00", "Europe/Berlin")) ==
          local("2026-03-28 23:00:00").time_since_epoch() / 1s);
    CHECK(nextPeriodStart(CalendarPeriod::Day, berlin, local("2026-03-29 12:00:00", "Europe/Berlin")) ==
          local("2026-03-29 22:00:00").time_since_epoch() / 1s);
    // Fall back on 2026-10-25: 22:00Z to 23:00Z, 25 hours.
    CHECK(periodStart(CalendarPeriod::Day, berlin, local("2026-10-25 12:00:00", "Europe/Berlin")) ==
          local("2026-10-24 22:00:00").time_since_epoch() / 1s);
    CHECK(nextPeriodStart(CalendarPeriod::Day, berlin, local("2026-10-25 12:00:00", "Europe/Berlin")) ==
          local("2026-10-25 23:00:00").time_since_epoch() / 1s);
    // The repeated hour 02:00-03:00 is two clock hours.
    CHECK(periodStart(CalendarPeriod::Hour, berlin, local("2026-10-25 00:30:00")) ==
          local("2026-10-25 00:00:00").time_since_epoch() / 1s);
    CHECK(periodStart(CalendarPeriod::Hour, berlin, local("2026-10-25 01:30:00")) ==
          local("2026-10-25 01:00:00").time_since_epoch() / 1s);

    Harness h(parseOk("[daily]\nscope = mailbox\ncap = 1/day\n", "Europe/Berlin"),
              local("2026-10-24 12:00:00", "Europe/Berlin"));
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Allow);
    Decision d = h.send(kBob, "x@example.org");
    CHECK(d.action ==
          "DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com reached cap 1/day (limit daily); "
          "retry after 2026-10-25 00:00 CEST");
    h.clock.set(local("2026-10-25 00:00:00", "Europe/Berlin"));
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Allow);
    // 24 hours after midnight it is still the same (25-hour) day.
    h.clock.set(local("2026-10-25 23:30:00", "Europe/Berlin"));
    d = h.send(kBob, "x@example.org");
    CHECK(d.action ==
          "DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com reached cap 1/day (limit daily); "
          "retry after 2026-10-26 00:00 CET");
    h.clock.set(local("2026-10-26 00:00:00", "Europe/Berlin"));
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Allow);

    // The short day: 2026-03-29 23:30 CEST is already the next day's count.
    Harness s(parseOk("[daily]\nscope = mailbox\ncap = 1/day\n", "Europe/Berlin"),
              local("2026-03-29 00:30:00", "Europe/Berlin"));
    CHECK(s.send(kBob, "x@example.org").verdict == Verdict::Allow);
    s.clock.set(local("2026-03-29 23:30:00", "Europe/Berlin"));
    CHECK(s.send(kBob, "x@example.org").verdict == Verdict::Refuse);
    s.clock.set(local("2026-03-30 00:00:00", "Europe/Berlin"));
    CHECK(s.send(kBob, "x@example.org").verdict == Verdict::Allow);
}

TEST_CASE("weekly caps count ISO weeks (Monday to Sunday), hourly caps clock hours", "[policyd][decide][calendar]") {
    Harness h(parseOk("[weekly]\nscope = mailbox\ncap = 2/week\n", "Europe/Berlin"),
              local("2026-11-22 20:00:00", "Europe/Berlin"));  // a Sunday
    CHECK(h.sendMany(3, kBob, "x@example.org") == 2);
    Decision d = h.send(kBob, "x@example.org");
    CHECK(d.refusal->retryAt == local("2026-11-23 00:00:00", "Europe/Berlin"));
    h.clock.set(local("2026-11-23 00:00:00", "Europe/Berlin"));  // Monday
    CHECK(h.sendMany(2, kBob, "x@example.org") == 2);
    h.clock.set(local("2026-11-29 23:59:00", "Europe/Berlin"));  // the same week's Sunday
    d = h.send(kBob, "x@example.org");
    CHECK(d.action ==
          "DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com reached cap 2/week (limit "
          "weekly); "
          "retry after 2026-11-30 00:00 CET");

    Harness hour(parseOk("[hourly]\nscope = mailbox\ncap = 2/h\n"), local("2026-11-22 10:59:00"));
    CHECK(hour.sendMany(3, kBob, "x@example.org") == 2);
    hour.clock.set(local("2026-11-22 11:00:00"));
    CHECK(hour.sendMany(3, kBob, "x@example.org") == 2);
}

TEST_CASE("spacing: gaps within the jitter bounds, deterministic, per message", "[policyd][decide][spacing]") {
    const std::string limits = "[gap]\nscope = mailbox\nspacing = 3m ~ 45s\n";
    auto run = [&] {
        Harness h(parseOk(limits), local("2026-11-22 10:00:00"));
        std::vector<std::chrono::milliseconds> gaps;
        for (int i = 0; i < 40; ++i) {
            SystemTime sent = h.clock.now();
            REQUIRE(h.send(kBob, "x@example.org").verdict == Verdict::Allow);
            const ScopeEntry* e = h.state.find(key("gap", kBob));
            REQUIRE(e);
            auto next =
                SystemTime(std::chrono::duration_cast<SystemTime::duration>(std::chrono::nanoseconds(e->nextSend)));
            auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(next - sent);
            CHECK(gap >= 135s);
            CHECK(gap <= 225s);
            gaps.push_back(gap);
            h.clock.set(next - 1ms);
            Decision d = h.send(kBob, "x@example.org");
            REQUIRE(d.verdict == Verdict::Refuse);
            CHECK(d.refusal->reason == Reason::Spacing);
            CHECK(d.refusal->retryAt == next);
            h.clock.set(next);
        }
        return gaps;
    };
    auto first = run();
    CHECK(first == run());  // the same jitter every time
    CHECK(std::adjacent_find(first.begin(), first.end(), std::not_equal_to<>()) != first.end());
    CHECK(*std::min_element(first.begin(), first.end()) < 170s);
    CHECK(*std::max_element(first.begin(), first.end()) > 190s);

    // A message's second recipient is not held back by the spacing its first one created.
    Harness h(parseOk(limits), local("2026-11-22 10:00:00"));
    CHECK(h.rcpt(rcpt(kBob, "a@example.org", "m1")).verdict == Verdict::Allow);
    CHECK(h.rcpt(rcpt(kBob, "b@example.org", "m1")).verdict == Verdict::Allow);
    Decision d = h.rcpt(rcpt(kBob, "c@example.org", "m2"));
    REQUIRE(d.verdict == Verdict::Refuse);
    CHECK(
        d.action.starts_with("DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com keeps 3m ~ "
                             "45s between sends (limit gap); "
                             "retry after 2026-11-22 10:0"));
}

TEST_CASE("windows: office hours, crossing midnight, retry at the next opening", "[policyd][decide][window]") {
    Harness h(parseOk("[office]\nscope = mailbox\nwindow = mon-fri 08:00-18:00 Europe/Berlin\n"),
              local("2026-11-21 10:00:00", "Europe/Berlin"));  // Saturday
    Decision d = h.send(kBob, "x@example.org");
    CHECK(d.action ==
          "DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com is outside sending window "
          "mon-fri 08:00-18:00 Europe/Berlin (limit office); retry after 2026-11-23 08:00 CET");
    h.clock.set(local("2026-11-20 17:59:59", "Europe/Berlin"));  // Friday
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Allow);
    h.clock.set(local("2026-11-20 18:00:00", "Europe/Berlin"));
    CHECK(h.send(kBob, "x@example.org").refusal->retryAt == local("2026-11-23 08:00:00", "Europe/Berlin"));
    h.clock.set(local("2026-11-23 07:59:59", "Europe/Berlin"));
    CHECK(h.send(kBob, "x@example.org").refusal->retryAt == local("2026-11-23 08:00:00", "Europe/Berlin"));
    h.clock.set(local("2026-11-23 08:00:00", "Europe/Berlin"));
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Allow);

    Harness night(parseOk("[night]\nscope = mailbox\nwindow = daily 22:00-06:00\n"), local("2026-11-22 23:00:00"));
    CHECK(night.send(kBob, "x@example.org").verdict == Verdict::Allow);
    night.clock.set(local("2026-11-23 05:59:00"));
    CHECK(night.send(kBob, "x@example.org").verdict == Verdict::Allow);
    night.clock.set(local("2026-11-23 06:00:00"));
    CHECK(night.send(kBob, "x@example.org").refusal->retryAt == local("2026-11-23 22:00:00"));
    night.clock.set(local("2026-11-23 21:59:59"));
    CHECK(night.send(kBob, "x@example.org").refusal->retryAt == local("2026-11-23 22:00:00"));

    Harness fri(parseOk("[fri]\nscope = mailbox\nwindow = fri 22:00-06:00\n"), local("2026-11-21 03:00:00"));
    CHECK(fri.send(kBob, "x@example.org").verdict == Verdict::Allow);  // Saturday morning: Friday's span
    fri.clock.set(local("2026-11-21 23:00:00"));
    CHECK(fri.send(kBob, "x@example.org").refusal->retryAt == local("2026-11-27 22:00:00"));
}

TEST_CASE("warmup: a day counts only if the scope sent; idle days do not advance it", "[policyd][decide][warmup]") {
    Harness h(parseOk("[w]\nscope = mailbox\nwarmup = w\n[warmup w]\ndays = 2, 3, 5\n"), local("2026-11-02 09:00:00"));
    CHECK(h.sendMany(3, kBob, "x@example.org") == 2);  // day 1
    h.clock.set(local("2026-11-03 09:00:00"));
    CHECK(h.sendMany(4, kBob, "x@example.org") == 3);  // day 2
    h.clock.set(local("2026-11-06 09:00:00"));         // two idle days later: day 3
    CHECK(h.sendMany(6, kBob, "x@example.org") == 5);
    Decision d = h.send(kBob, "x@example.org");
    CHECK(d.action ==
          "DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com reached warmup cap 5/day (day 3, "
          "limit w); retry after 2026-11-07 00:00 UTC");
    // A day whose only reservation was released (never sent) does not count either.
    h.clock.set(local("2026-11-07 09:00:00"));
    CHECK(h.rcpt(rcpt(kBob, "x@example.org", "released")).verdict == Verdict::Allow);
    CHECK(h.state.release("released"));
    h.clock.set(local("2026-11-08 09:00:00"));
    auto rows = h.state.status(h.limits, nullptr, h.clock.now());
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].warmupDay == 4u);
    CHECK(rows[0].warmupCap == 5u);
}

TEST_CASE("warmup: start date counts calendar days; tighter of warmup and cap wins", "[policyd][decide][warmup]") {
    const std::string text = "[w]\nscope = mailbox\nwarmup = w\n[warmup w]\ndays = 5, 10, 20\nstart = 2026-11-20\n";
    Harness early(parseOk(text), local("2026-11-19 09:00:00"));
    CHECK(early.sendMany(6, kBob, "x@example.org") == 5);  // before the start: day 1
    Harness h(parseOk(text), local("2026-11-22 09:00:00"));
    CHECK(h.sendMany(25, kBob, "x@example.org") == 20);  // day 3 without ever sending before

    Harness t(parseOk("[t]\nscope = mailbox\ncap = 12/day\nwarmup = w\n[warmup w]\ndays = 10, 20\n"),
              local("2026-11-22 09:00:00"));
    CHECK(t.sendMany(11, kBob, "x@example.org") == 10);
    CHECK(t.send(kBob, "x@example.org").refusal->reason == Reason::WarmupCap);
    t.clock.set(local("2026-11-23 09:00:00"));
    CHECK(t.sendMany(13, kBob, "x@example.org") == 12);
    Decision d = t.send(kBob, "x@example.org");
    CHECK(d.refusal->reason == Reason::Cap);
    CHECK(d.refusal->text.starts_with("mailbox bob@acme-mail.com reached cap 12/day (limit t)"));

    // A weekly cap with a warmup: the warmup has its own day counter.
    Harness wk(parseOk("[wk]\nscope = mailbox\ncap = 100/week\nwarmup = w\n[warmup w]\ndays = 3\n"),
               local("2026-11-23 09:00:00"));
    CHECK(wk.sendMany(5, kBob, "x@example.org") == 3);
    wk.clock.set(local("2026-11-24 09:00:00"));
    CHECK(wk.sendMany(5, kBob, "x@example.org") == 3);
}

TEST_CASE("combined scopes are keyed separately; provider falls back to the recipient domain",
          "[policyd][decide][scopes]") {
    Harness h(parseOk(R"(
[google-per-domain]
scope = sender_domain, provider
when  = provider = google
cap   = 2/day
)"),
              local("2026-11-22 09:00:00"));
    auto to = [&](const std::string& sender, const std::string& recipient, const std::string& provider) {
        Request r = rcpt(sender, recipient, "i" + std::to_string(++h.serial));
        r.provider = provider;
        Decision d = h.rcpt(r);
        if (d.verdict == Verdict::Allow) h.state.commit(r.instance, "Q" + r.instance, 1, recipient, h.clock.now());
        return d;
    };
    CHECK(to(kBob, "a@gmail.com", "google").verdict == Verdict::Allow);
    CHECK(to("carol@acme-mail.com", "b@customer.example", "google").verdict == Verdict::Allow);
    Decision d = to(kBob, "c@gmail.com", "google");
    CHECK(d.action ==
          "DEFER_IF_PERMIT 4.7.1 rampart: sender_domain acme-mail.com, provider google reached cap "
          "2/day "
          "(limit google-per-domain); retry after 2026-11-23 00:00 UTC");
    CHECK(to(kBob, "a@yahoo.com", "yahoo").verdict == Verdict::NotApplicable);
    CHECK(to("dave@other.example", "a@gmail.com", "google").verdict == Verdict::Allow);
    CHECK(h.state.find(key("google-per-domain", std::string("acme-mail.com") + kKeyValueSep + "google")));

    Harness p(parseOk("[p]\nscope = provider\ncap = 1/day\n"), local("2026-11-22 09:00:00"));
    CHECK(p.send(kBob, "a@Example.ORG").verdict == Verdict::Allow);
    d = p.send(kBob, "b@example.org");
    CHECK(d.refusal->scope == "provider example.org");
}

TEST_CASE("msgs caps count a message once however many recipients", "[policyd][decide][messages]") {
    Harness h(parseOk("[m]\nscope = mailbox\ncap = 2 msgs/day\n[r]\nscope = mailbox\ncap = 4/day\n"),
              local("2026-11-22 09:00:00"));
    for (const char* r : {"a@x.example", "b@x.example", "c@x.example"}) {
        CHECK(h.rcpt(rcpt(kBob, r, "m1")).verdict == Verdict::Allow);
    }
    CHECK(h.state.commit("m1", "Q1", 3, "", h.clock.now()).committedRecipients == 3);
    CHECK(countOf(h.state, key("m", kBob), h.limits, h.clock.now()) == 1);
    CHECK(countOf(h.state, key("r", kBob), h.limits, h.clock.now()) == 3);
    CHECK(h.rcpt(rcpt(kBob, "d@x.example", "m2")).verdict == Verdict::Allow);
    Decision d = h.rcpt(rcpt(kBob, "e@x.example", "m2"));  // the recipient cap binds now
    CHECK(d.refusal->limit == "r");
    h.state.commit("m2", "Q2", 1, "d@x.example", h.clock.now());
    d = h.rcpt(rcpt(kBob, "f@x.example", "m3"));
    REQUIRE(d.verdict == Verdict::Refuse);
    CHECK(d.action.find("reached cap 2 msgs/day (limit m)") != std::string::npos);
}

TEST_CASE("reservations count until committed, released, or expired", "[policyd][decide][reservations]") {
    Harness h(parseOk("[one]\nscope = mailbox\ncap = 1/day\n"), local("2026-11-22 09:00:00"));
    CHECK(h.rcpt(rcpt(kBob, "a@x.example", "t1")).verdict == Verdict::Allow);
    CHECK(h.rcpt(rcpt(kBob, "b@x.example", "t2")).verdict == Verdict::Refuse);  // reserved counts
    CHECK(h.state.release("t1"));
    CHECK_FALSE(h.state.release("t1"));
    CHECK(h.rcpt(rcpt(kBob, "b@x.example", "t2")).verdict == Verdict::Allow);
    h.clock.advance(9min);
    CHECK(h.state.expire(h.clock.now()).releasedReservations == 0);
    h.clock.advance(1min);  // policyd_reservation_timeout (10m) after the RCPT
    CHECK(h.state.expire(h.clock.now()).releasedReservations == 1);
    CHECK(h.state.reservationCount() == 0);
    CHECK(h.rcpt(rcpt(kBob, "c@x.example", "t3")).verdict == Verdict::Allow);
    CHECK(h.state.commit("t3", "Q3", 1, "c@x.example", h.clock.now()).committedRecipients == 1);
    h.clock.advance(1h);
    h.state.expire(h.clock.now());  // a commit stays counted
    CHECK(h.rcpt(rcpt(kBob, "d@x.example", "t4")).verdict == Verdict::Refuse);
}

TEST_CASE("reservation is all-or-nothing across limits", "[policyd][decide][reservations]") {
    Harness h(parseOk(R"(
[per-mailbox]
scope = mailbox
cap   = 5/day
rate  = 10/h burst 3
[per-domain]
scope = sender_domain
cap   = 1/day
)"),
              local("2026-11-22 09:00:00"));
    CHECK(h.send(kBob, "a@x.example").verdict == Verdict::Allow);
    const ScopeEntry before = *h.state.find(key("per-mailbox", kBob));
    Decision d = h.send(kBob, "b@x.example");  // the domain refuses: the mailbox is untouched
    REQUIRE(d.verdict == Verdict::Refuse);
    CHECK(d.refusal->limit == "per-domain");
    CHECK(*h.state.find(key("per-mailbox", kBob)) == before);
    CHECK(h.send("carol@acme-mail.com", "b@x.example").verdict == Verdict::Refuse);
    CHECK(h.state.find(key("per-mailbox", "carol@acme-mail.com")) == nullptr);
    CHECK(h.state.reservationCount() == 0);
}

TEST_CASE("commit with fewer recipients than reserved", "[policyd][decide][reservations]") {
    Harness h(parseOk("[c]\nscope = mailbox\ncap = 10/day\n"), local("2026-11-22 09:00:00"));
    for (const char* r : {"a@x.example", "B@x.example", "c@x.example"})
        h.rcpt(rcpt(kBob, r, "t1"));
    CHECK(countOf(h.state, key("c", kBob), h.limits, h.clock.now()) == 3);
    CommitResult c = h.state.commit("t1", "Q1", 1, "b@X.example", h.clock.now());
    CHECK(c.found);
    CHECK(c.committedRecipients == 1);
    CHECK(c.releasedRecipients == 2);
    CHECK(countOf(h.state, key("c", kBob), h.limits, h.clock.now()) == 1);
    REQUIRE(h.state.committed("Q1"));
    CHECK(h.state.committed("Q1")->recipients.at(0).recipient == recipientHash("B@x.example"));

    for (const char* r : {"a@x.example", "b@x.example", "c@x.example"})
        h.rcpt(rcpt(kBob, r, "t2"));
    c = h.state.commit("t2", "Q2", 2, "", h.clock.now());
    CHECK(c.committedRecipients == 2);
    CHECK(h.state.committed("Q2")->recipients.at(1).recipient == recipientHash("b@x.example"));
    CHECK(countOf(h.state, key("c", kBob), h.limits, h.clock.now()) == 3);
    const Bucket* b =
        h.state.find(key("c", kBob))->bucket(0, periodStart(CalendarPeriod::Day, zone("UTC"), h.clock.now()));
    CHECK(b->reserved == 0);
    CHECK_FALSE(h.state.commit("unknown", "Q9", 1, "", h.clock.now()).found);
}

TEST_CASE("refund by queue id: whole message, named recipients, idempotent", "[policyd][decide][refund]") {
    Harness h(parseOk("[c]\nscope = mailbox\ncap = 10/day\n[m]\nscope = mailbox\ncap = 5 msgs/day\n"),
              local("2026-11-22 09:00:00"));
    for (const char* r : {"a@x.example", "b@x.example", "c@x.example"}) {
        REQUIRE(h.rcpt(rcpt(kBob, r, "t1")).verdict == Verdict::Allow);
    }
    h.state.commit("t1", "4F3A2B1C", 3, "", h.clock.now());
    auto count = [&](const char* limit) { return countOf(h.state, key(limit, kBob), h.limits, h.clock.now()); };
    CHECK(count("c") == 3);
    CHECK(count("m") == 1);

    RefundResult r = h.state.refund("4F3A2B1C", {"B@X.example"}, h.clock.now());
    CHECK(r.status == RefundResult::Status::Refunded);
    CHECK(r.text == "refunded 1 recipient of 4F3A2B1C");
    CHECK(count("c") == 2);
    CHECK(count("m") == 1);  // the message still went to the others
    r = h.state.refund("4F3A2B1C", {"b@x.example"}, h.clock.now());
    CHECK(r.status == RefundResult::Status::AlreadyRefunded);
    CHECK(r.text == "4F3A2B1C was already refunded");
    CHECK(count("c") == 2);
    r = h.state.refund("4F3A2B1C", {"zed@x.example"}, h.clock.now());
    CHECK(r.status == RefundResult::Status::UnknownRecipient);
    CHECK(r.text == "4F3A2B1C has no recipient zed@x.example");
    r = h.state.refund("4F3A2B1C", {}, h.clock.now());
    CHECK(r.status == RefundResult::Status::Refunded);
    CHECK(r.recipients == 2);
    CHECK(count("c") == 0);
    CHECK(count("m") == 0);
    CHECK(h.state.refund("4F3A2B1C", {}, h.clock.now()).status == RefundResult::Status::AlreadyRefunded);
    CHECK(count("c") == 0);
    r = h.state.refund("NOPE", {}, h.clock.now());
    CHECK(r.status == RefundResult::Status::UnknownQueueId);
    CHECK(r.text == "unknown queue id NOPE (nothing committed under it here, or older than the refund window)");

    // After the refund window the queue id is forgotten.
    for (const char* rc : {"d@x.example", "e@x.example"})
        REQUIRE(h.rcpt(rcpt(kBob, rc, "t2")).verdict == Verdict::Allow);
    h.state.commit("t2", "Q2", 2, "", h.clock.now());
    h.clock.advance(61min);
    h.state.expire(h.clock.now());
    CHECK(h.state.refund("Q2", {}, h.clock.now()).status == RefundResult::Status::UnknownQueueId);
}

TEST_CASE("a refund gives the rate's slot back (up to its burst)", "[policyd][decide][refund]") {
    Harness h(parseOk("[r]\nscope = mailbox\nrate = 1/h\n"), local("2026-11-22 09:00:00"));
    REQUIRE(h.send(kBob, "a@x.example").verdict == Verdict::Allow);
    h.clock.advance(10min);
    CHECK(h.send(kBob, "b@x.example").verdict == Verdict::Refuse);
    CHECK(h.state.refund("Q1", {}, h.clock.now()).status == RefundResult::Status::Refunded);
    CHECK(h.send(kBob, "b@x.example").verdict == Verdict::Allow);
    CHECK(h.send(kBob, "c@x.example").verdict == Verdict::Refuse);
}

TEST_CASE("pause and resume: the admin kill switch", "[policyd][decide][pause]") {
    Harness h(parseOk("[c]\nscope = mailbox\ncap = 10/day\n"), local("2026-11-22 09:00:00"));
    auto spec = ScopeSpec::parse("sender_domain=ACME-mail.com");
    REQUIRE(spec);
    REQUIRE(h.state.pause(*spec, "alice", "blocked at gmail", h.clock.now()));
    Decision d = h.send(kBob, "x@example.org");
    CHECK(d.action ==
          "DEFER_IF_PERMIT 4.7.1 rampart: sender_domain acme-mail.com paused by admin: blocked at "
          "gmail");
    CHECK_FALSE(d.refusal->retryAt);
    CHECK(h.send("dave@other.example", "x@example.org").verdict == Verdict::Allow);
    CHECK(h.state.resume(*spec));
    CHECK_FALSE(h.state.resume(*spec));
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Allow);

    // A pause of one limit's scope, and a pause that applies where no limit does.
    auto one = ScopeSpec::parse("limit=c,mailbox=bob@acme-mail.com");
    REQUIRE(one);
    h.state.pause(*one, "alice", "", h.clock.now());
    d = h.send(kBob, "x@example.org");
    CHECK(d.action == "DEFER_IF_PERMIT 4.7.1 rampart: mailbox bob@acme-mail.com paused by admin (limit c)");
    h.state.resume(*one);
    auto rcptDomain = ScopeSpec::parse("recipient_domain=blocked.example");
    h.state.pause(*rcptDomain, "alice", "complaints", h.clock.now());
    CHECK(h.send("", "x@blocked.example").verdict == Verdict::Refuse);  // even the null sender
    CHECK_FALSE(h.state.pause(ScopeSpec{}, "alice", "", h.clock.now()));
}

TEST_CASE("reset clears counts and moves the warmup day", "[policyd][decide][reset]") {
    Harness h(parseOk("[c]\nscope = mailbox\ncap = 3/day\nwarmup = w\n[warmup w]\ndays = 2, 3, 5, 8\n"),
              local("2026-11-22 09:00:00"));
    CHECK(h.sendMany(3, kBob, "x@example.org") == 2);
    auto spec = ScopeSpec::parse("mailbox=bob@acme-mail.com");
    CHECK(h.state.reset(*spec, std::nullopt, h.limits, h.clock.now()) == 1);
    CHECK(h.sendMany(3, kBob, "x@example.org") == 2);  // warmup day 1 still
    CHECK(h.state.reset(*spec, 4u, h.limits, h.clock.now()) == 1);
    CHECK(h.sendMany(9, kBob, "x@example.org") == 3);  // day 4: 8, but the cap is 3
    auto rows = h.state.status(h.limits, &*spec, h.clock.now());
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].warmupDay == 4u);
    h.clock.set(local("2026-11-23 09:00:00"));
    rows = h.state.status(h.limits, &*spec, h.clock.now());
    CHECK(rows[0].warmupDay == 5u);

    // A mailbox that never sent: reset creates its warmup progress.
    auto fresh = ScopeSpec::parse("mailbox=new@acme-mail.com");
    CHECK(h.state.reset(*fresh, 3u, h.limits, h.clock.now()) == 1);
    rows = h.state.status(h.limits, &*fresh, h.clock.now());
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].warmupDay == 3u);
    CHECK(h.sendMany(4, "new@acme-mail.com", "x@example.org") == 3);
}

TEST_CASE("counters belong to the limit name and scope: a changed cap applies at once", "[policyd][decide][reload]") {
    Harness h(parseOk("[c]\nscope = mailbox\ncap = 5/day\n"), local("2026-11-22 09:00:00"));
    CHECK(h.sendMany(5, kBob, "x@example.org") == 5);
    h.limits = parseOk("[c]\nscope = mailbox\ncap = 3/day\n");
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Refuse);
    h.limits = parseOk("[c]\nscope = mailbox\ncap = 7/day\n");
    CHECK(h.sendMany(5, kBob, "x@example.org") == 2);
}

TEST_CASE("exemptions answer DUNNO without counting", "[policyd][decide][exempt]") {
    Harness h(parseOk("[c]\nscope = mailbox\ncap = 1/day\n[exempt]\nmailbox = "
                      "BOB@acme-mail.com\nclient_address = 10.0.0.0/8\n"),
              local("2026-11-22 09:00:00"));
    Decision d = h.send("Bob@Acme-Mail.com", "x@example.org");
    CHECK(d.verdict == Verdict::Exempt);
    CHECK(d.action == "DUNNO");
    CHECK(h.state.scopeCount() == 0);
    Request r = rcpt("carol@acme-mail.com", "x@example.org", "t1");
    r.clientAddress = "10.9.8.7";
    CHECK(h.rcpt(r).verdict == Verdict::Exempt);
    CHECK(h.state.scopeCount() == 0);
}

TEST_CASE("null sender and case-insensitive addresses", "[policyd][decide][scopes]") {
    Harness h(parseOk("[c]\nscope = mailbox\ncap = 2/day\n[d]\nscope = sender_domain\ncap = 10/day\n"),
              local("2026-11-22 09:00:00"));
    Decision d = h.send("", "x@example.org");  // a bounce: no mailbox, no sender domain
    CHECK(d.verdict == Verdict::NotApplicable);
    CHECK(d.action == "DUNNO");
    CHECK(h.send("<>", "x@example.org").verdict == Verdict::NotApplicable);
    CHECK(h.send("", "x@example.org", "bob").verdict == Verdict::Allow);  // authenticated: the login counts
    CHECK(h.send("Bob@ACME-Mail.com", "x@example.org").verdict == Verdict::Allow);
    CHECK(h.send("bob@acme-mail.com", "x@example.org").verdict == Verdict::Allow);
    d = h.send("BOB@acme-mail.COM", "x@example.org");
    CHECK(d.verdict == Verdict::Refuse);
    CHECK(d.refusal->scope == "mailbox bob@acme-mail.com");
    CHECK(countOf(h.state, key("d", "acme-mail.com"), h.limits, h.clock.now()) == 2);
}

TEST_CASE("monitor-only limits and the global monitor flag allow, log and count", "[policyd][decide][monitor]") {
    Harness h(parseOk("[trial]\nscope = mailbox\ncap = 1/day\nmonitor = yes\n"), local("2026-11-22 09:00:00"));
    CHECK(h.send(kBob, "x@example.org").wouldDefer.empty());
    Decision d = h.send(kBob, "x@example.org");
    CHECK(d.verdict == Verdict::Allow);
    CHECK(d.action == "DUNNO");
    REQUIRE(d.wouldDefer.size() == 1);
    CHECK(d.wouldDefer[0].monitor);
    CHECK(d.wouldDefer[0].text ==
          "mailbox bob@acme-mail.com reached cap 1/day (limit trial); retry after 2026-11-23 00:00 "
          "UTC");
    CHECK(countOf(h.state, key("trial", kBob), h.limits, h.clock.now()) == 2);

    Harness g(parseOk("[c]\nscope = mailbox\ncap = 1/day\n"), local("2026-11-22 09:00:00"));
    g.monitorOnly = true;
    CHECK(g.sendMany(3, kBob, "x@example.org") == 3);
    CHECK(g.send(kBob, "x@example.org").wouldDefer.size() == 1);
    CHECK(countOf(g.state, key("c", kBob), g.limits, g.clock.now()) == 4);
}

TEST_CASE("the binding refusal: reject first, then the latest retry", "[policyd][decide][binding]") {
    Harness h(parseOk("[hourly]\nscope = mailbox\ncap = 1/h\n[daily]\nscope = mailbox\ncap = 1/day\n"),
              local("2026-11-22 09:00:00"));
    CHECK(h.send(kBob, "x@example.org").verdict == Verdict::Allow);
    Decision d = h.send(kBob, "x@example.org");
    CHECK(d.refusal->limit == "daily");

    Harness r(parseOk("[hard]\nscope = mailbox\ncap = 1/h\naction = reject\n[daily]\nscope = "
                      "mailbox\ncap = 1/day\naction = defer\n"),
              local("2026-11-22 09:00:00"));
    CHECK(r.send(kBob, "x@example.org").verdict == Verdict::Allow);
    d = r.send(kBob, "x@example.org");
    CHECK(d.action == "REJECT 5.7.1 rampart: mailbox bob@acme-mail.com reached cap 1/h (limit hard)");
    r.clock.set(local("2026-11-22 10:00:00"));
    d = r.send(kBob, "x@example.org");
    CHECK(d.action ==
          "DEFER 4.7.1 rampart: mailbox bob@acme-mail.com reached cap 1/day (limit daily); retry "
          "after "
          "2026-11-23 00:00 UTC");
}

TEST_CASE("only RCPT requests are decided", "[policyd][decide]") {
    Harness h(parseOk("[c]\nscope = mailbox\ncap = 1/day\n"), local("2026-11-22 09:00:00"));
    Request r = rcpt(kBob, "x@example.org", "t1");
    r.protocolState = "END-OF-MESSAGE";
    CHECK(h.check(r).verdict == Verdict::NotApplicable);
    r.protocolState = "RCPT";
    r.request = "rampart_refund";
    CHECK(h.check(r).verdict == Verdict::NotApplicable);
    CHECK(verdictName(Verdict::Refuse) == "refuse");
    CHECK(reasonName(Reason::WarmupCap) == "warmup");
}
