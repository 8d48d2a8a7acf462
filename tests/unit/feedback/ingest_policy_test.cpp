// The bounce -> suppression policy of rampartctl ingest (feedback/ingest_policy.h), with the store
// and the counters in memory: hard bounces, the soft-bounce limit and window, sender-policy
// failures, complaints, unsubscribes, what is ignored, dry runs and failed writes. The lines are
// exactly what `rampartctl ingest` prints.
#include "feedback/ingest_policy.h"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

using namespace rampart;
using namespace rampart::feedback;

namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kT0 = 1'700'000'000;

IngestSettings settingsAt(int64_t now) {
    IngestSettings s;
    s.referenceHeader = "X-Rampart-Ref";
    s.tokenLifetime = std::chrono::seconds(365 * kDay);
    s.hardBounceExpiry = 365 * kDay;
    s.softBounceWindow = 15 * kDay;
    s.softBounceLimit = 3;
    s.now = now;
    return s;
}

// The suppression store and ingestion's counters, in memory, counting as the SQLite ones do
// (rows of the target at or after now - window).
struct MemoryEffects : IngestEffects {
    std::vector<suppress::Entry> entries;
    std::vector<std::pair<std::string, int64_t>> softBounces;  // target, at
    std::vector<std::string> senderPolicyDomains;
    std::string failWith;  // non-empty: every write fails with it

    util::Result<suppress::AddOutcome> addSuppression(const suppress::Entry& e, const std::string& source) override {
        if (!failWith.empty()) return util::err(failWith);
        CHECK(source == e.source);
        for (const auto& x : entries) {
            if (x.target == e.target && x.scope == e.scope && x.reason == e.reason) {
                return suppress::AddOutcome::AlreadyThere;
            }
        }
        entries.push_back(e);
        return suppress::AddOutcome::Added;
    }
    util::Result<int64_t> countSoftBounce(const std::string& target, int64_t now, int64_t window, const std::string&,
                                          const std::string&) override {
        if (!failWith.empty()) return util::err(failWith);
        softBounces.emplace_back(target, now);
        int64_t n = 0;
        for (const auto& [t, at] : softBounces) {
            if (t == target && at >= now - window) ++n;
        }
        return n;
    }
    util::Result<int64_t> countSenderPolicy(const std::string& domain, int64_t, const std::string&, const std::string&,
                                            const std::string&) override {
        if (!failWith.empty()) return util::err(failWith);
        senderPolicyDomains.push_back(domain);
        return static_cast<int64_t>(senderPolicyDomains.size());
    }
};

Report dsn(const std::string& rcpt, const std::string& action, const std::string& status,
           const std::string& diagnostic) {
    Report r;
    r.kind = Report::Kind::Dsn;
    r.reportingMta = "mx.example.net";
    DsnRecipient d;
    d.finalRecipient = rcpt;
    d.action = action;
    d.status = status;
    d.diagnostic = diagnostic;
    r.recipients.push_back(d);
    return r;
}

Report softBounce() {
    return dsn("Bob@Example.com", "failed", "5.2.2", "smtp; 552 5.2.2 mailbox full");
}

const std::string kDsnPrefix = "ingest: delivery status notification from mx.example.net: ";
const std::string kSoftHead = kDsnPrefix + "<Bob@Example.com> failed 5.2.2 QuotaIssues (soft, status 5.2.2)";

}  // namespace

TEST_CASE("ingest policy: a hard bounce suppresses globally, expiring", "[feedback][ingest]") {
    MemoryEffects fx;
    auto out =
        applyIngestPolicy(dsn("bob@example.com", "failed", "5.1.1", "smtp; 550 5.1.1 <bob@example.com>: user unknown"),
                          Classifier(), settingsAt(kT0), fx);
    CHECK(out.lines ==
          std::vector<std::string>{kDsnPrefix + "<bob@example.com> failed 5.1.1 InvalidRecipient (hard, status 5.1.1)",
                                   kDsnPrefix + "suppressed hard_bounce bob@example.com (global)"});
    CHECK_FALSE(out.writeFailed);
    REQUIRE(fx.entries.size() == 1);
    CHECK(fx.entries[0].target == "bob@example.com");
    CHECK(fx.entries[0].scope == suppress::Scope{});
    CHECK(fx.entries[0].reason == suppress::Reason::HardBounce);
    CHECK(fx.entries[0].source == "dsn");
    CHECK(fx.entries[0].created == kT0);
    CHECK(fx.entries[0].expires == kT0 + 365 * kDay);
    CHECK(fx.entries[0].note == "5.1.1 smtp; 550 5.1.1 <bob@example.com>: user unknown");
    CHECK(fx.softBounces.empty());

    // Without an expiry configured, the entry never expires.
    MemoryEffects forever;
    IngestSettings s = settingsAt(kT0);
    s.hardBounceExpiry = 0;
    applyIngestPolicy(dsn("bob@example.com", "failed", "5.1.1", "smtp; 550 5.1.1 user unknown"), Classifier(), s,
                      forever);
    REQUIRE(forever.entries.size() == 1);
    CHECK_FALSE(forever.entries[0].expires.has_value());

    // A hard category under a delayed action is not final.
    MemoryEffects delayed;
    auto d = applyIngestPolicy(dsn("bob@example.com", "delayed", "5.1.1", "smtp; 550 5.1.1 user unknown"), Classifier(),
                               settingsAt(kT0), delayed);
    CHECK(d.lines ==
          std::vector<std::string>{kDsnPrefix + "<bob@example.com> delayed 5.1.1 InvalidRecipient (hard, status "
                                                "5.1.1): delayed, not final; nothing suppressed"});
    CHECK(delayed.entries.empty());
}

TEST_CASE("ingest policy: soft bounces are counted; the limit within the window suppresses", "[feedback][ingest]") {
    MemoryEffects fx;
    // Below the limit: counted only.
    auto first = applyIngestPolicy(softBounce(), Classifier(), settingsAt(kT0), fx);
    CHECK(first.lines == std::vector<std::string>{kSoftHead + ": soft bounce 1 of 3 within 15d"});
    auto second = applyIngestPolicy(softBounce(), Classifier(), settingsAt(kT0 + kDay), fx);
    CHECK(second.lines == std::vector<std::string>{kSoftHead + ": soft bounce 2 of 3 within 15d"});
    CHECK(fx.entries.empty());
    REQUIRE(fx.softBounces.size() == 2);
    CHECK(fx.softBounces[0] == std::pair<std::string, int64_t>("bob@example.com", kT0));  // normalized
    CHECK(fx.softBounces[1] == std::pair<std::string, int64_t>("bob@example.com", kT0 + kDay));

    // At the limit: suppressed with reason soft_bounce, for the length of the window.
    auto third = applyIngestPolicy(softBounce(), Classifier(), settingsAt(kT0 + 2 * kDay), fx);
    CHECK(third.lines == std::vector<std::string>{kSoftHead + ": soft bounce 3 of 3 within 15d",
                                                  kDsnPrefix + "suppressed soft_bounce bob@example.com (global)"});
    CHECK_FALSE(third.writeFailed);
    REQUIRE(fx.entries.size() == 1);
    CHECK(fx.entries[0].target == "bob@example.com");
    CHECK(fx.entries[0].scope == suppress::Scope{});
    CHECK(fx.entries[0].reason == suppress::Reason::SoftBounce);
    CHECK(fx.entries[0].source == "dsn");
    CHECK(fx.entries[0].expires == kT0 + 2 * kDay + 15 * kDay);
    CHECK(fx.entries[0].note == "5.2.2 smtp; 552 5.2.2 mailbox full");
}

TEST_CASE("ingest policy: soft bounces outside the window do not count", "[feedback][ingest]") {
    MemoryEffects fx;
    applyIngestPolicy(softBounce(), Classifier(), settingsAt(kT0), fx);
    applyIngestPolicy(softBounce(), Classifier(), settingsAt(kT0 + kDay), fx);
    // 20 days later, with a 15-day window: the two earlier ones are outside it.
    auto late = applyIngestPolicy(softBounce(), Classifier(), settingsAt(kT0 + 20 * kDay), fx);
    CHECK(late.lines == std::vector<std::string>{kSoftHead + ": soft bounce 1 of 3 within 15d"});
    CHECK(fx.entries.empty());
    CHECK(fx.softBounces.size() == 3);

    // A wider window takes them in: the limit is reached.
    IngestSettings wide = settingsAt(kT0 + 20 * kDay + 1);
    wide.softBounceWindow = 30 * kDay;
    auto w = applyIngestPolicy(softBounce(), Classifier(), wide, fx);
    CHECK(w.lines == std::vector<std::string>{kSoftHead + ": soft bounce 4 of 3 within 30d",
                                              kDsnPrefix + "suppressed soft_bounce bob@example.com (global)"});
    REQUIRE(fx.entries.size() == 1);
    CHECK(fx.entries[0].expires == kT0 + 20 * kDay + 1 + 30 * kDay);
}

TEST_CASE("ingest policy: delayed soft failures, sender policy and infrastructure suppress nothing",
          "[feedback][ingest]") {
    MemoryEffects fx;
    auto delayed = applyIngestPolicy(dsn("bob@example.com", "delayed", "4.2.2", "smtp; 452 4.2.2 mailbox full"),
                                     Classifier(), settingsAt(kT0), fx);
    CHECK(delayed.lines ==
          std::vector<std::string>{kDsnPrefix + "<bob@example.com> delayed 4.2.2 QuotaIssues (soft, status 4.2.2): "
                                                "delayed; not counted"});

    Report spam = dsn("bob@example.com", "failed", "5.7.1", "smtp; 550 5.7.1 blocked using zen.spamhaus.org");
    spam.originalHeaders = {{"From", " News <news@Shop.example>"}};
    auto sp = applyIngestPolicy(spam, Classifier(), settingsAt(kT0), fx);
    CHECK(sp.lines ==
          std::vector<std::string>{
              kDsnPrefix + "<bob@example.com> failed 5.7.1 SpamBlock (sender-policy, builtin: blocklist): "
                           "sender-policy failure of shop.example (1 in 24h); the recipient is not suppressed"});
    CHECK(fx.senderPolicyDomains == std::vector<std::string>{"shop.example"});

    auto infra = applyIngestPolicy(dsn("bob@example.com", "failed", "5.4.4", "smtp; 554 5.4.4 unrouteable"),
                                   Classifier(), settingsAt(kT0), fx);
    CHECK(infra.lines ==
          std::vector<std::string>{kDsnPrefix + "<bob@example.com> failed 5.4.4 RoutingErrors (infrastructure, "
                                                "status 5.4.4): nothing to do"});

    auto delivered =
        applyIngestPolicy(dsn("bob@example.com", "delivered", "2.0.0", ""), Classifier(), settingsAt(kT0), fx);
    CHECK(delivered.lines ==
          std::vector<std::string>{kDsnPrefix + "<bob@example.com>: action delivered: nothing to do"});

    auto nobody = applyIngestPolicy(dsn("<redacted>", "failed", "5.1.1", "smtp; 550 5.1.1 user unknown"), Classifier(),
                                    settingsAt(kT0), fx);
    CHECK(nobody.lines == std::vector<std::string>{
                              kDsnPrefix + "<unknown recipient> failed 5.1.1 InvalidRecipient (hard, status 5.1.1): no "
                                           "recipient in the report or its reference; nothing suppressed"});

    CHECK(fx.entries.empty());
    CHECK(fx.softBounces.empty());
}

TEST_CASE("ingest policy: a complaint suppresses for the sending domain", "[feedback][ingest]") {
    Report r;
    r.kind = Report::Kind::Arf;
    r.feedbackType = "abuse";
    r.originalRcptTo = "carol@example.org";
    r.sourceIp = "192.0.2.1";
    r.originalHeaders = {{"From", " News <news@shop.example>"}};
    MemoryEffects fx;
    auto out = applyIngestPolicy(r, Classifier(), settingsAt(kT0), fx);
    CHECK(out.lines ==
          std::vector<std::string>{
              "ingest: feedback report: complaint (abuse) about <carol@example.org>",
              "ingest: feedback report: suppressed complaint carol@example.org (from_domain:shop.example)"});
    REQUIRE(fx.entries.size() == 1);
    CHECK(fx.entries[0].reason == suppress::Reason::Complaint);
    CHECK(fx.entries[0].scope == suppress::Scope{suppress::Scope::Kind::FromDomain, "shop.example"});
    CHECK(fx.entries[0].source == "arf");
    CHECK_FALSE(fx.entries[0].expires.has_value());
    CHECK(fx.entries[0].note == "feedback report abuse source 192.0.2.1");

    // The same complaint again: already there.
    auto again = applyIngestPolicy(r, Classifier(), settingsAt(kT0), fx);
    CHECK(again.lines.back() ==
          "ingest: feedback report: already suppressed complaint carol@example.org (from_domain:shop.example)");

    // not-spam is no complaint; a redacted recipient without a reference stamp names nobody.
    MemoryEffects none;
    Report notSpam = r;
    notSpam.feedbackType = "not-spam";
    CHECK(applyIngestPolicy(notSpam, Classifier(), settingsAt(kT0), none).lines ==
          std::vector<std::string>{"ingest: feedback report: feedback report (not-spam): nothing to do"});
    Report redacted = r;
    redacted.originalRcptTo = "redacted@example.org";
    CHECK(applyIngestPolicy(redacted, Classifier(), settingsAt(kT0), none).lines ==
          std::vector<std::string>{"ingest: feedback report: complaint (abuse) without a recipient or a usable "
                                   "X-Rampart-Ref: nothing suppressed"});
    CHECK(none.entries.empty());
}

TEST_CASE("ingest policy: a redacted complaint names the recipient of its reference stamp", "[feedback][ingest]") {
    const util::Keyring keys = util::Keyring::fromSecret("0123456789abcdef0123456789abcdef");
    util::MessageClaim claim{"erin@example.org", "shop.example", "acme", kT0 - 3600};
    Report r;
    r.kind = Report::Kind::Arf;
    r.feedbackType = "abuse";
    r.originalRcptTo = "xxxxxx@example.org";
    r.originalHeaders = {{"X-Rampart-Ref", " " + util::sealClaim(keys, claim, util::kReferencePurpose)}};
    IngestSettings s = settingsAt(kT0);
    s.keys = &keys;
    MemoryEffects fx;
    auto out = applyIngestPolicy(r, Classifier(), s, fx);
    CHECK(
        out.lines ==
        std::vector<std::string>{
            "ingest: feedback report: complaint (abuse) about <erin@example.org> (recipient from the reference stamp)",
            "ingest: feedback report: suppressed complaint erin@example.org (tenant:acme)"});
    REQUIRE(fx.entries.size() == 1);
    CHECK(fx.entries[0].scope == suppress::Scope{suppress::Scope::Kind::Tenant, "acme"});
}

TEST_CASE("ingest policy: a mailto unsubscribe suppresses for the tenant", "[feedback][ingest]") {
    const util::Keyring keys = util::Keyring::fromSecret("0123456789abcdef0123456789abcdef");
    util::MessageClaim claim{"dave@example.com", "shop.example", "acme", kT0 - 100};
    Report r;
    r.kind = Report::Kind::Unsubscribe;
    r.unsubscribeToken = util::sealClaim(keys, claim, util::kUnsubscribePurpose);
    r.from = "Dave <dave@example.com>";
    IngestSettings s = settingsAt(kT0);
    s.keys = &keys;
    MemoryEffects fx;
    auto out = applyIngestPolicy(r, Classifier(), s, fx);
    CHECK(out.lines == std::vector<std::string>{
                           "ingest: unsubscribe request: mailto unsubscribe of <dave@example.com> from shop.example",
                           "ingest: unsubscribe request: suppressed unsubscribe dave@example.com (tenant:acme)"});
    REQUIRE(fx.entries.size() == 1);
    CHECK(fx.entries[0].reason == suppress::Reason::Unsubscribe);
    CHECK(fx.entries[0].scope == suppress::Scope{suppress::Scope::Kind::Tenant, "acme"});
    CHECK(fx.entries[0].source == "mailto");
    CHECK_FALSE(fx.entries[0].expires.has_value());
    CHECK(fx.entries[0].note == "mailto unsubscribe from Dave <dave@example.com>");

    // A token sealed for another purpose does not open; without a secret nothing can be read.
    MemoryEffects none;
    Report wrong = r;
    wrong.unsubscribeToken = util::sealClaim(keys, claim, util::kReferencePurpose);
    auto w = applyIngestPolicy(wrong, Classifier(), s, none);
    REQUIRE(w.lines.size() == 1);
    CHECK(w.lines[0].rfind("ingest: unsubscribe request: unsubscribe request with a token that does not open (", 0) ==
          0);
    CHECK(applyIngestPolicy(r, Classifier(), settingsAt(kT0), none).lines ==
          std::vector<std::string>{"ingest: unsubscribe request: unsubscribe request, but unsubscribe_secret is not "
                                   "set: cannot read its token"});
    CHECK(none.entries.empty());
}

TEST_CASE("ingest policy: what is not a report is ignored", "[feedback][ingest]") {
    Report r;
    r.why = "auto-reply (not a bounce)";
    r.subject = "Out of office";
    MemoryEffects fx;
    auto out = applyIngestPolicy(r, Classifier(), settingsAt(kT0), fx);
    CHECK(out.lines == std::vector<std::string>{"ingest: not a bounce, complaint or unsubscribe request (auto-reply "
                                                "(not a bounce)), subject \"Out of office\"; nothing done"});
    CHECK_FALSE(out.writeFailed);

    Report empty;
    empty.kind = Report::Kind::Dsn;
    CHECK(applyIngestPolicy(empty, Classifier(), settingsAt(kT0), fx).lines ==
          std::vector<std::string>{"ingest: delivery status notification: delivery report without recipients: "
                                   "nothing to do"});
    CHECK(fx.entries.empty());
    CHECK(fx.softBounces.empty());
}

TEST_CASE("ingest policy: a dry run writes nothing; a failed write asks for a retry", "[feedback][ingest]") {
    IngestSettings dry = settingsAt(kT0);
    dry.dryRun = true;
    MemoryEffects fx;
    auto hard = applyIngestPolicy(dsn("bob@example.com", "failed", "5.1.1", "smtp; 550 5.1.1 user unknown"),
                                  Classifier(), dry, fx);
    CHECK(hard.lines.back() == kDsnPrefix + "would suppress hard_bounce bob@example.com (global)");
    auto soft = applyIngestPolicy(softBounce(), Classifier(), dry, fx);
    CHECK(soft.lines == std::vector<std::string>{kSoftHead + ": would count a soft bounce"});
    CHECK(fx.entries.empty());
    CHECK(fx.softBounces.empty());

    MemoryEffects failing;
    failing.failWith = "disk full";
    auto h = applyIngestPolicy(dsn("bob@example.com", "failed", "5.1.1", "smtp; 550 5.1.1 user unknown"), Classifier(),
                               settingsAt(kT0), failing);
    CHECK(h.lines.back() == kDsnPrefix + "FAILED to suppress hard_bounce bob@example.com (global): disk full");
    CHECK(h.writeFailed);
    auto s = applyIngestPolicy(softBounce(), Classifier(), settingsAt(kT0), failing);
    CHECK(s.lines == std::vector<std::string>{kSoftHead + ": FAILED to count: disk full"});
    CHECK(s.writeFailed);
}
