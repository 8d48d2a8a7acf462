// The limits file parser: the grammar of docs/limits.md, canonical printing, and the exact
// "file:line: message" texts of the errors an operator sees from --check-config.
#include <catch2/catch.hpp>

#include "policyd_fixture.h"

using namespace policyd_test;

TEST_CASE("the example of docs/limits.md parses into limits, schedules and exemptions", "[policyd][limits]") {
    LimitSet set = parseOk(R"(
# A comment
[cold-mailbox]                          # a limit
scope   = mailbox
cap     = 40/day
rate    = 8/h burst 2
spacing = 3m ~ 45s
window  = mon-fri 08:00-18:00 Europe/Berlin
warmup  = cold-mailbox

[warmup cold-mailbox]
days    = 10, 12, 15, 18, 20, 25, 30, 35, 40

[google-per-domain]
scope   = sender_domain, provider
when    = provider = google
cap     = 500/day

[exempt]
mailbox        = Postmaster@acme-mail.com
client_address = 10.0.0.0/8
)");
    REQUIRE(set.limits().size() == 2);
    const Limit& cold = set.limits()[0];
    CHECK(cold.name == "cold-mailbox");
    CHECK(cold.where.line == 3);
    CHECK(cold.scopes == std::vector<ScopeKind>{ScopeKind::Mailbox});
    REQUIRE(cold.cap);
    CHECK(cold.cap->count == 40);
    CHECK(cold.cap->period == CalendarPeriod::Day);
    REQUIRE(cold.rate);
    CHECK(cold.rate->burst == 2);
    CHECK(cold.rate->emission == std::chrono::nanoseconds(450'000'000'000));  // 7.5 minutes
    REQUIRE(cold.spacing);
    CHECK(cold.spacing->interval == 180s);
    CHECK(cold.spacing->jitter == 45s);
    REQUIRE(cold.window);
    CHECK(cold.window->zone->name() == "Europe/Berlin");
    CHECK(cold.window->spans.size() == 1);
    CHECK(cold.window->spans[0].days == 0x1f);
    CHECK(cold.window->spans[0].openMinute == 480);
    CHECK(cold.window->spans[0].closeMinute == 1080);
    CHECK(cold.zone->name() == "UTC");  // the window's zone is the window's only
    const WarmupSchedule* ws = set.warmupOf(cold);
    REQUIRE(ws);
    CHECK(ws->capOnDay(1) == 10);
    CHECK(ws->capOnDay(3) == 15);
    CHECK(ws->capOnDay(9) == 40);
    CHECK(ws->capOnDay(100) == 40);
    CHECK(cold.warmupSharesCapCounter);
    CHECK_FALSE(cold.usesProvider);

    const Limit& google = set.limits()[1];
    CHECK(google.scopes == std::vector<ScopeKind>{ScopeKind::SenderDomain, ScopeKind::Provider});
    REQUIRE(google.when.size() == 1);
    CHECK(google.when[0].attribute == Attribute::Provider);
    CHECK(google.usesProvider);
    CHECK(set.needsProvider());

    CHECK(set.exemptions().values[static_cast<size_t>(Attribute::Mailbox)].count("postmaster@acme-mail.com"));
    CHECK(set.exemptions().networks.contains("10.1.2.3"));
}

TEST_CASE("limits print canonically and the print parses back to the same", "[policyd][limits]") {
    const std::string text = R"(
[a]
scope = mailbox
timezone = Europe/Berlin
monitor = yes
action = reject
warmup = w
window = sat,sun 10:00-14:00; mon-wed,fri 22:00-06:00 America/New_York
spacing = 120 ~ 30
rate = 5 /min
cap = 40 msgs / day
when = listener = Cold-Pool and client_address in 10.0.0.0/8, 2001:db8::/32 and sender ~ *@acme-*.com
[warmup w]
ramp = 10/day + 15% per day up to 40/day
start = 2026-11-01
)";
    LimitSet set = parseOk(text);
    const Limit& a = set.limits()[0];
    CHECK(a.str(set) ==
          "[a]\n"
          "scope = mailbox\n"
          "when = listener = cold-pool and client_address in 10.0.0.0/8, [2001:db8::]/32 and "
          "sender ~ *@acme-*.com\n"
          "cap = 40 msgs/day\n"
          "rate = 5/min\n"
          "spacing = 2m ~ 30s\n"
          "window = sat,sun 10:00-14:00; mon-wed,fri 22:00-06:00 America/New_York\n"
          "warmup = w\n"
          "action = reject\n"
          "monitor = yes\n"
          "timezone = Europe/Berlin\n");
    CHECK(a.summary(set) ==
          "scope=mailbox when=\"listener = cold-pool and client_address in 10.0.0.0/8, "
          "[2001:db8::]/32 "
          "and sender ~ *@acme-*.com\" cap=40 msgs/day rate=\"5/min\" spacing=\"2m ~ 30s\" "
          "window=\"sat,sun 10:00-14:00; mon-wed,fri 22:00-06:00 America/New_York\" warmup=w "
          "action=reject monitor=yes timezone=Europe/Berlin");
    CHECK(set.warmups()[0].str() == "[warmup w]\nramp = 10/day + 15% per day up to 40/day\nstart = 2026-11-01\n");
    Diagnostics d;
    LimitSet again = LimitSet::parse(set.str(), "printed", zone("UTC"), d);
    INFO(set.str());
    CHECK_FALSE(d.hasErrors());
    CHECK(again.str() == set.str());
}

TEST_CASE("ramp arithmetic: percentages compound and round down, steps add", "[policyd][limits][warmup]") {
    LimitSet set = parseOk(R"(
[warmup pct]
ramp = 10/day + 15% per day up to 40/day
[warmup step]
ramp = 10/day + 5 per day up to 40/day
[warmup exact]
ramp = 20/day + 15% per day up to 100/day
)");
    // 10 x 1.15^(d-1): 10, 11.5, 13.2, 15.2, 17.5, 20.1, 23.1, 26.6, 30.6, 35.2, 40.5 -> capped.
    CHECK(set.warmups()[0].table == std::vector<uint64_t>{10, 11, 13, 15, 17, 20, 23, 26, 30, 35, 40});
    CHECK(set.warmups()[1].table == std::vector<uint64_t>{10, 15, 20, 25, 30, 35, 40});
    // 20 x 1.15 = 22.999999999999996 in binary floating point: still 23.
    CHECK(set.warmups()[2].capOnDay(2) == 23);
    CHECK(set.warmups()[2].capOnDay(1000) == 100);
}

TEST_CASE("windows: day lists, ranges that wrap, daily, 24:00", "[policyd][limits]") {
    LimitSet set = parseOk(R"(
[a]
scope = mailbox
window = fri-mon 09:00-24:00; daily 00:00-01:00
)");
    const Window& w = *set.limits()[0].window;
    CHECK(w.spans[0].days == (0x10 | 0x20 | 0x40 | 0x01));
    CHECK(w.spans[0].closeMinute == 1440);
    CHECK(w.spans[1].days == 0x7f);
    CHECK(w.str() == "mon,fri-sun 09:00-24:00; daily 00:00-01:00");
}

TEST_CASE("provider tables: built-ins, overrides, MX suffixes that must all match", "[policyd][limits][providers]") {
    LimitSet builtin = parseOk("");
    CHECK(builtin.providerForDomain("GMail.com") == std::optional<std::string>("google"));
    CHECK(builtin.providerForDomain("hotmail.com") == std::optional<std::string>("microsoft"));
    CHECK(builtin.providerForDomain("me.com") == std::optional<std::string>("apple"));
    CHECK_FALSE(builtin.providerForDomain("acme.example"));
    CHECK(builtin.providerForMx({"aspmx.l.google.com.", "ALT1.ASPMX.L.GOOGLE.COM"}) ==
          std::optional<std::string>("google"));
    CHECK(builtin.providerForMx({"acme-com.mail.protection.outlook.com"}) == std::optional<std::string>("microsoft"));
    CHECK(builtin.providerForMx({"mta5.am0.yahoodns.net"}) == std::optional<std::string>("yahoo"));
    CHECK_FALSE(builtin.providerForMx({"aspmx.l.google.com", "mx.acme.example"}));  // not all
    CHECK_FALSE(builtin.providerForMx({}));
    CHECK_FALSE(builtin.providerForMx({"notgoogle.com"}));  // a suffix matches whole labels
    CHECK_FALSE(builtin.needsProvider());

    LimitSet custom = parseOk(R"(
[provider-domains]
gmail.com = gmail-consumer
acme.example = proofpoint
[provider-mx]
proofpoint = .pphosted.com
google = .google.example
)");
    CHECK(custom.providerForDomain("gmail.com") == std::optional<std::string>("gmail-consumer"));
    CHECK(custom.providerForDomain("googlemail.com") == std::optional<std::string>("google"));
    CHECK(custom.providerForDomain("acme.example") == std::optional<std::string>("proofpoint"));
    CHECK(custom.providerForMx({"mx0a-001.pphosted.com"}) == std::optional<std::string>("proofpoint"));
    CHECK(custom.providerForMx({"mx.google.example"}) == std::optional<std::string>("google"));
    CHECK_FALSE(custom.providerForMx({"aspmx.l.google.com"}));  // google's built-in suffixes replaced
    CHECK(custom.providerForMx({"x.icloud.com"}) == std::optional<std::string>("apple"));
}

TEST_CASE("needsProvider: a provider scope, condition or exemption", "[policyd][limits][providers]") {
    CHECK(parseOk("[a]\nscope = mailbox\nwhen = provider != google\ncap = 1/day\n").needsProvider());
    CHECK(parseOk("[exempt]\nprovider = apple\n").needsProvider());
    CHECK_FALSE(parseOk("[a]\nscope = mailbox\ncap = 1/day\n").needsProvider());
}

TEST_CASE("conditions match case-insensitively; absent values fail =, in, ~", "[policyd][limits]") {
    LimitSet set = parseOk(R"(
[a]
scope = mailbox
when = provider in Google, microsoft and listener != bulk and sender !~ *@internal.* and client_address not in 10.0.0.0/8
cap = 1/day
)");
    const auto& c = set.limits()[0].when;
    REQUIRE(c.size() == 4);
    CHECK(c[0].matches("google"));
    CHECK_FALSE(c[0].matches("yahoo"));
    CHECK_FALSE(c[0].matches(""));
    CHECK(c[1].matches(""));
    CHECK_FALSE(c[1].matches("bulk"));
    CHECK(c[2].matches("bob@acme.com"));
    CHECK_FALSE(c[2].matches("bob@internal.acme.com"));
    CHECK(c[3].matches("192.0.2.1"));
    CHECK_FALSE(c[3].matches("10.9.8.7"));
}

TEST_CASE("parser errors name file:line and what was expected", "[policyd][limits][errors]") {
    CHECK(diagnostics("[cold]\nscope = mailbox\ncapp = 40/day\ncap = 40/day\n") ==
          "limits.conf:3: unknown key \"capp\" in [cold] (did you mean cap?)\n");
    CHECK(diagnostics("[cold mailbox]\nscope = mailbox\n") ==
          "limits.conf:1: unknown section \"[cold mailbox]\" (expected [NAME], [warmup NAME], "
          "[exempt], [provider-domains] or [provider-mx])\n");
    CHECK(diagnostics("[cold]\ncap = 40/day\n") ==
          "limits.conf:1: [cold] has no scope (add scope = mailbox, sender, sender_domain, "
          "client_address, listener, recipient_domain, provider or recipient)\n");
    CHECK(diagnostics("[cold]\nscope = mailbx\ncap = 1/day\n") ==
          "limits.conf:2: scope: unknown scope \"mailbx\" (did you mean mailbox?)\n"
          "limits.conf:1: [cold] has no scope (add scope = mailbox, sender, sender_domain, "
          "client_address, listener, recipient_domain, provider or recipient)\n");
    CHECK(diagnostics("[cold]\nscope = mailbox\n") ==
          "limits.conf:1: [cold] enforces nothing (add cap, rate, spacing, window or warmup)\n");
    CHECK(diagnostics("[cold]\nscope = mailbox\ncap = forty/day\n") ==
          "limits.conf:3: cap: a rate starts with a whole number, got \"forty\"\n"
          "limits.conf:1: [cold] enforces nothing (add cap, rate, spacing, window or warmup)\n");
    CHECK(diagnostics("[cold]\nscope = mailbox\ncap = 40/2h\n") ==
          "limits.conf:3: cap: a cap counts per calendar period h, day or week, got \"2h\" (use "
          "rate for a smoothed pace over other periods)\n"
          "limits.conf:1: [cold] enforces nothing (add cap, rate, spacing, window or warmup)\n");
    CHECK(diagnostics("[cold]\nscope = mailbox\nrate = 8/h burst x\n") ==
          "limits.conf:3: rate: burst takes a whole number of at least 1, got \"x\"\n"
          "limits.conf:1: [cold] enforces nothing (add cap, rate, spacing, window or warmup)\n");
    CHECK(diagnostics("[cold]\nscope = mailbox\nspacing = 3m ~ 3m\n") ==
          "limits.conf:3: spacing: the jitter (3m) must be smaller than the spacing (3m)\n"
          "limits.conf:1: [cold] enforces nothing (add cap, rate, spacing, window or warmup)\n");
    CHECK(diagnostics("[cold]\nscope = mailbox\nspacing = 3 minutes please\n") ==
          "limits.conf:3: spacing: unknown time unit \"minutes please\" (use s, m, h, d or w) "
          "(expected DURATION [~ JITTER])\n"
          "limits.conf:1: [cold] enforces nothing (add cap, rate, spacing, window or warmup)\n");
}

TEST_CASE("window, when, warmup and duplicate errors", "[policyd][limits][errors]") {
    const std::string head = "[cold]\nscope = mailbox\ncap = 1/day\n";
    CHECK(diagnostics(head + "window = mon-fry 08:00-18:00\n") ==
          "limits.conf:4: window: unknown day range \"mon-fry\" (mon, tue, wed, thu, fri, sat, sun, "
          "a range mon-fri, a list sat,sun, or daily)\n");
    CHECK(diagnostics(head + "window = mon-fri 08:00-25:00\n") ==
          "limits.conf:4: window: bad time in \"08:00-25:00\" (HH:MM-HH:MM, 24-hour, 00:00 to "
          "24:00)\n");
    CHECK(diagnostics(head + "window = mon-fri 8-18\n") ==
          "limits.conf:4: window: missing HH:MM-HH:MM in \"mon-fri 8-18\" (expected DAYS "
          "HH:MM-HH:MM [; DAYS HH:MM-HH:MM ...] [ZONE])\n");
    CHECK(diagnostics(head + "window = mon-fri 08:00-18:00 Europe/Berln\n") ==
          "limits.conf:4: window: unknown time zone \"Europe/Berln\" (an IANA name such as "
          "Europe/Berlin)\n");
    CHECK(diagnostics(head + "window = mon 08:00-08:00\n") ==
          "limits.conf:4: window: empty span 08:00-08:00 (use 00:00-24:00 for a whole day)\n");
    CHECK(diagnostics(head + "when = provder = google\n") ==
          "limits.conf:4: when: unknown attribute \"provder\" (did you mean provider?)\n");
    CHECK(diagnostics(head + "when = provider is google\n") ==
          "limits.conf:4: when: missing operator in \"provider is google\" (expected ATTRIBUTE "
          "OPERATOR VALUE [and ...], operators =, !=, in, not in, ~, !~)\n");
    CHECK(diagnostics(head + "when = provider = google, yahoo\n") ==
          "limits.conf:4: when: = takes one value, got \"google, yahoo\" (use in or not in for a "
          "list)\n");
    CHECK(diagnostics(head + "when = provider = google and\n") ==
          "limits.conf:4: when: empty condition around \"and\" (expected ATTRIBUTE OPERATOR VALUE "
          "[and ...], operators =, !=, in, not in, ~, !~)\n");
    CHECK(diagnostics(head + "warmup = cold-mailbx\n[warmup cold-mailbox]\ndays = 1\n") ==
          "limits.conf:4: warmup: no [warmup cold-mailbx] section in this file (did you mean "
          "cold-mailbox?)\n");
    CHECK(diagnostics(head + "cap = 2/day\n") == "limits.conf:4: duplicate key \"cap\" in [cold] (first at line 3)\n");
    CHECK(diagnostics(head + "[cold]\nscope = sender\ncap = 1/h\n") ==
          "limits.conf:4: duplicate limit [cold] (first at line 1)\n");
    CHECK(diagnostics(head + "action = bounce\nmonitor = maybe\ntimezone = Mars/Olympus\n") ==
          "limits.conf:4: action: expected defer_if_permit, defer or reject, got \"bounce\"\n"
          "limits.conf:5: monitor: expected yes or no, got \"maybe\"\n"
          "limits.conf:6: timezone: unknown time zone \"Mars/Olympus\" (an IANA name such as "
          "Europe/Berlin)\n");
}

TEST_CASE("warmup section errors", "[policyd][limits][errors][warmup]") {
    CHECK(diagnostics("[warmup w]\nramp = 10/day + 15% each day up to 40/day\n") ==
          "limits.conf:2: ramp: cannot read \"10/day + 15% each day up to 40/day\" (expected "
          "\"START/day + P% per day up to MAX/day\" or \"START/day + N per day up to MAX/day\")\n");
    CHECK(diagnostics("[warmup w]\nramp = 50/day + 5 per day up to 40/day\n") ==
          "limits.conf:2: ramp: START (50/day) is above MAX (40/day)\n");
    CHECK(diagnostics("[warmup w]\ndays = 10, 20\nramp = 10/day + 5 per day up to 40/day\n") ==
          "limits.conf:1: [warmup w] has both days and ramp (use one)\n");
    CHECK(diagnostics("[warmup w]\ndays = 10, twenty\n") ==
          "limits.conf:2: days: expected whole numbers separated by commas (the cap on day 1, 2, "
          "...), got \"twenty\"\n");
    CHECK(diagnostics("[warmup w]\nstart = 2026-11-01\n") == "limits.conf:1: [warmup w] needs days or ramp\n");
    CHECK(diagnostics("[warmup w]\ndays = 10, 0, 20\n") ==
          "limits.conf:2: days: a day with 0 stalls the warmup (a day counts only if the scope "
          "sent); count calendar days with start = YYYY-MM-DD to pause on some days\n");
    CHECK(diagnostics("[warmup w]\ndays = 10, 0, 20\nstart = 2026-11-01\n").empty());
    CHECK(diagnostics("[warmup w]\ndays = 10\nstart = 2026-13-01\n") ==
          "limits.conf:3: start: expected a date YYYY-MM-DD, got \"2026-13-01\"\n");
    CHECK(diagnostics("[warmup w]\ndays = 1\n[warmup w]\ndays = 2\n") ==
          "limits.conf:3: duplicate warmup schedule [warmup w] (first at line 1)\n");
    CHECK(diagnostics("[warmup]\ndays = 1\n") == "limits.conf:1: a warmup schedule needs a name: [warmup NAME]\n");
}

TEST_CASE("line structure errors: keys outside sections, continuations, junk", "[policyd][limits][errors]") {
    CHECK(diagnostics("cap = 40/day\n") ==
          "limits.conf:1: \"cap = 40/day\" comes before any section (start one with [NAME])\n");
    CHECK(diagnostics("[a]\n  scope = mailbox\n") ==
          "limits.conf:2: continuation line without a preceding \"key = value\" line\n"
          "limits.conf:1: [a] has no scope (add scope = mailbox, sender, sender_domain, "
          "client_address, listener, recipient_domain, provider or recipient)\n"
          "limits.conf:1: [a] enforces nothing (add cap, rate, spacing, window or warmup)\n");
    CHECK(diagnostics("[a]\nscope = mailbox\ncap 40/day\n") ==
          "limits.conf:3: expected \"key = value\", got \"cap 40/day\"\n"
          "limits.conf:1: [a] enforces nothing (add cap, rate, spacing, window or warmup)\n");
    CHECK(diagnostics("[a/b]\n") == "limits.conf:1: bad limit name \"a/b\" (letters, digits, -, _ and .)\n");
    CHECK(diagnostics("[exempt]\nmailbx = a@b.c\n") ==
          "limits.conf:2: unknown key \"mailbx\" in [exempt] (did you mean mailbox?)\n");
    CHECK(diagnostics("[exempt]\nclient_address = 10.0.0.0/33\n") ==
          "limits.conf:2: client_address: prefix length /33 too long in \"10.0.0.0/33\"\n");
    // A continuation line joins the previous value.
    LimitSet set = parseOk("[a]\nscope = mailbox,\n    sender_domain\ncap = 1/day\n");
    CHECK(set.limits()[0].scopes.size() == 2);
}

TEST_CASE("warnings for settings that can never bind", "[policyd][limits][warnings]") {
    CHECK(diagnostics("[a]\nscope = mailbox\ncap = 100/h\nrate = 8/h\n") ==
          "limits.conf:1: warning: [a]: cap = 100/h can never be reached: rate = 8/h lets at most 9 "
          "through per h\n");
    CHECK(diagnostics("[a]\nscope = mailbox\nrate = 8/h\nspacing = 10m\n") ==
          "limits.conf:1: warning: [a]: rate = 8/h never binds: spacing = 10m already keeps sends "
          "further apart\n");
    CHECK(diagnostics("[a]\nscope = mailbox\ncap = 5/day\nwarmup = w\n[warmup w]\ndays = 10, 20\n") ==
          "limits.conf:1: warning: [a]: warmup w never binds: cap = 5/day is at most its value on "
          "every day\n");
    CHECK(diagnostics("[a]\nscope = mailbox\ncap = 40/day\nrate = 8/h\n").empty());
}

TEST_CASE("a missing limits file is one error naming it", "[policyd][limits][errors]") {
    Diagnostics d;
    (void)LimitSet::load("/nonexistent/limits.conf", nullptr, d);
    CHECK(d.str() == "/nonexistent/limits.conf: cannot open the limits file: No such file or directory\n");
}

TEST_CASE("the shipped example and presets parse without errors", "[policyd][limits][conf]") {
    for (const char* f : {"/conf/limits.conf", "/conf/warmup-presets.conf"}) {
        Diagnostics d;
        LimitSet set = LimitSet::load(std::string(RAMPART_SOURCE_DIR) + f, zone("Europe/Berlin"), d);
        INFO(f << "\n" << d.str());
        CHECK(d.all().empty());  // neither errors nor warnings
        CHECK_FALSE(set.warmups().empty());
    }
}
