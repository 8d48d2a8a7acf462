// Suppression lists, the model: address normalization (case, IDNA, whole domains, Gmail folding,
// refusals), reasons (names, aliases, stickiness, strength), scopes and expiry texts.
#include "suppression/model.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "suppression/helpers.h"

using namespace rampart;
using namespace rampart::suppress;
using namespace rampart::test::suppression;
namespace fs = std::filesystem;

// ------------------------------------------------------------------------------ normalization

TEST_CASE("normalizeTarget: case, IDNA, whole domains", "[suppression]") {
    CHECK(norm("Bob.Smith@Example.COM") == "bob.smith@example.com");
    CHECK(norm("  <Bob@Example.com>  ") == "bob@example.com");
    CHECK(norm("User@B\xc3\xbc"
               "cher.example") == "user@xn--bcher-kva.example");
    CHECK(norm("user@XN--BCHER-KVA.example") == "user@xn--bcher-kva.example");
    CHECK(norm("@Example.com") == "@example.com");
    CHECK(norm("example.com") == "@example.com");
    CHECK(norm("B\xc3\xbc"
               "cher.example") == "@xn--bcher-kva.example");
    CHECK(norm("example.com.") == "@example.com");
    // +tags are kept for everyone but Gmail: subaddressing is the site's business.
    CHECK(norm("bob+news@example.com") == "bob+news@example.com");
    CHECK(norm("b.o.b@example.com") == "b.o.b@example.com");
    // Quotes that add nothing go; quotes that matter stay.
    CHECK(norm("\"Bob.Smith\"@example.com") == "bob.smith@example.com");
    CHECK(norm("\"bob smith\"@example.com") == "\"bob smith\"@example.com");

    NormalizeOptions cs;
    cs.caseSensitiveLocalPart = true;
    CHECK(norm("Bob@Example.COM", cs) == "Bob@example.com");
}

TEST_CASE("normalizeTarget: gmail.com and googlemail.com fold dots and +tags", "[suppression]") {
    CHECK(norm("Bob.Smith+newsletter@GMail.com") == "bobsmith@gmail.com");
    CHECK(norm("b.o.b.s.m.i.t.h@googlemail.com") == "bobsmith@gmail.com");
    CHECK(norm("bobsmith+a+b@googlemail.com") == "bobsmith@gmail.com");
    CHECK(norm("@googlemail.com") == "@gmail.com");
    CHECK(norm("googlemail.com") == "@gmail.com");
    // Case-sensitive local parts do not apply to Gmail, which ignores case.
    NormalizeOptions cs;
    cs.caseSensitiveLocalPart = true;
    CHECK(norm("Bob.Smith@gmail.com", cs) == "bobsmith@gmail.com");
    // Folding off: only case and IDNA.
    NormalizeOptions off;
    off.foldGmail = false;
    CHECK(norm("Bob.Smith+x@googlemail.com", off) == "bob.smith+x@googlemail.com");
    CHECK(norm("@googlemail.com", off) == "@googlemail.com");
    // Workspace domains hosted by Google are not folded: only the consumer domains.
    CHECK(norm("bob.smith+x@google.com") == "bob.smith+x@google.com");
    CHECK(normError("+tag@gmail.com").find("nothing is left") != std::string::npos);
}

TEST_CASE("normalizeTarget: garbage is refused with a reason", "[suppression]") {
    CHECK(normError("") == "empty address");
    CHECK(normError("   ") == "empty address");
    CHECK(normError("<>") == "the null sender <> is not an address");
    CHECK(normError("bob") == "\"bob\" is neither an address (no '@') nor a domain name (no '.')");
    CHECK(normError("@").find("without a domain") != std::string::npos);
    CHECK(normError("bob@").find("empty domain") != std::string::npos);
    CHECK(normError("bob@[192.0.2.1]").find("address literals") != std::string::npos);
    CHECK(normError("a@b@example.com").find("more than one '@'") != std::string::npos);
    CHECK(normError("bob smith@example.com").find("invalid character") != std::string::npos);
    CHECK(normError("bob@exa_mple.com").find("not allowed") != std::string::npos);
    CHECK(normError("bob@-example.com").find("starts or ends with '-'") != std::string::npos);
    CHECK(normError("bob@example..com").find("invalid domain") != std::string::npos);
    CHECK(normError("exa mple.com").find("contains a space") != std::string::npos);
    CHECK(normError("bob@example.com\nbcc@evil.example").find("control character") != std::string::npos);
    CHECK(normError(std::string(300, 'a') + "@example.com").find("longer than 256") != std::string::npos);
    CHECK(normError(std::string(2000, 'a')).find("longer than 1024") != std::string::npos);
}

TEST_CASE("reasons: names, aliases, stickiness and strength", "[suppression]") {
    for (Reason r : {Reason::HardBounce, Reason::SoftBounce, Reason::Complaint, Reason::Unsubscribe, Reason::Manual,
                     Reason::Legal}) {
        REQUIRE(parseReason(reasonName(r)) == r);
    }
    CHECK(reasonName(Reason::HardBounce) == "hard_bounce");
    CHECK(parseReason("BOUNCE") == Reason::HardBounce);
    CHECK(parseReason("Complaint") == Reason::Complaint);
    CHECK(parseReason("HardBounce") == Reason::HardBounce);
    CHECK(parseReason("hard-bounce") == Reason::HardBounce);
    CHECK(parseReason("SpamComplaint") == Reason::Complaint);
    CHECK(parseReason("ManualSuppression") == Reason::Manual);
    CHECK(parseReason("unsubscribed") == Reason::Unsubscribe);
    CHECK_FALSE(parseReason("spam").has_value());
    CHECK_FALSE(parseReason("").has_value());

    CHECK(sticky(Reason::Complaint));
    CHECK(sticky(Reason::Unsubscribe));
    CHECK(sticky(Reason::Legal));
    CHECK_FALSE(sticky(Reason::HardBounce));
    CHECK_FALSE(sticky(Reason::SoftBounce));
    CHECK_FALSE(sticky(Reason::Manual));
    // legal > complaint > unsubscribe > hard_bounce > manual > soft_bounce
    CHECK(strength(Reason::Legal) > strength(Reason::Complaint));
    CHECK(strength(Reason::Complaint) > strength(Reason::Unsubscribe));
    CHECK(strength(Reason::Unsubscribe) > strength(Reason::HardBounce));
    CHECK(strength(Reason::HardBounce) > strength(Reason::Manual));
    CHECK(strength(Reason::Manual) > strength(Reason::SoftBounce));
}

TEST_CASE("scopes parse and print", "[suppression]") {
    auto g = Scope::parse("global");
    REQUIRE(g.ok());
    CHECK(g->kind == Scope::Kind::Global);
    CHECK(g->str() == "global");
    auto t = Scope::parse("tenant:Acme");
    REQUIRE(t.ok());
    CHECK(*t == tenant("acme"));
    CHECK(t->str() == "tenant:acme");
    auto t2 = Scope::parse("tenant:alice@acme.example");
    REQUIRE(t2.ok());
    CHECK(t2->value == "alice@acme.example");
    auto f = Scope::parse(
        "from_domain:B\xc3\xbc"
        "cher.example");
    REQUIRE(f.ok());
    CHECK(*f == fromDomain("xn--bcher-kva.example"));
    CHECK(f->str() == "from_domain:xn--bcher-kva.example");
    CHECK(Scope::parse("from-domain:acme-mail.com")->value == "acme-mail.com");

    CHECK(Scope::parse("tenant:").error() == "invalid scope \"tenant:\": empty tenant name");
    CHECK(Scope::parse("tenant:a b").error().find("contains a space") != std::string::npos);
    CHECK(Scope::parse("from_domain:").error().find("no domain") != std::string::npos);
    CHECK(Scope::parse("from_domain:bad_domain.com").error().find("not allowed") != std::string::npos);
    CHECK(Scope::parse("customer:acme").error() ==
          "invalid scope \"customer:acme\" (expected global, tenant:NAME or from_domain:DOMAIN)");
    CHECK(Scope::parse("acme").error() ==
          "invalid scope \"acme\" (expected global, tenant:NAME or from_domain:DOMAIN)");
}

TEST_CASE("expiry texts: dates, times, durations", "[suppression]") {
    auto d = parseExpiry("2027-01-16", kNow);
    REQUIRE(d.ok());
    CHECK(*d == std::optional<int64_t>(1'800'057'600));  // 2027-01-16T00:00:00Z
    CHECK(formatTime(**d) == "2027-01-16T00:00:00Z");
    CHECK(*parseExpiry("2027-01-16T08:30:05Z", kNow) == std::optional<int64_t>(1'800'057'600 + 8 * 3600 + 30 * 60 + 5));
    CHECK(*parseExpiry("30d", kNow) == std::optional<int64_t>(kNow + 30 * kDay));
    CHECK(*parseExpiry("2w", kNow) == std::optional<int64_t>(kNow + 14 * kDay));
    CHECK_FALSE(parseExpiry("", kNow)->has_value());
    CHECK_FALSE(parseExpiry("never", kNow)->has_value());
    CHECK(parseExpiry("2027-02-30", kNow).error() == "invalid date \"2027-02-30\" (no such day)");
    CHECK(parseExpiry("2027-13-01", kNow).error().find("invalid date") != std::string::npos);
    CHECK(parseExpiry("tomorrow", kNow).error().find("expected a date YYYY-MM-DD or a duration") != std::string::npos);
    CHECK(parseExpiry("0d", kNow).error().find("must be positive") != std::string::npos);
    CHECK(formatTime(0) == "1970-01-01T00:00:00Z");
    CHECK(formatTime(kNow) == "2027-01-15T08:00:00Z");
}
