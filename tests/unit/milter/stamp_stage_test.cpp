// The stamps added before signing: List-Unsubscribe (+ -Post) with a per-recipient token, and the
// reference header; the token opens to the recipient, From domain and tenant.
#include "milter/stages/stamp_stage.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>

#include "temp_dir.h"
#include "util/strings.h"

using namespace rampart;
using namespace rampart::milter;

namespace {

constexpr int64_t kNow = 1795000000;

std::shared_ptr<const util::Keyring> keys() {
    return std::make_shared<const util::Keyring>(util::Keyring::fromSecret("unit-test-secret-0123456789"));
}

StampSettings settings() {
    StampSettings s;
    s.keys = keys();
    s.defaults = {"https://unsub.example.com/u/", "unsubscribe@example.com"};
    s.domains.push_back({"*.brand.test", {"https://brand.test/unsub/", ""}});
    s.referenceHeader = "X-Rampart-Ref";
    return s;
}

std::shared_ptr<const mail::TenantMap> tenants() {
    config::Diagnostics d;
    auto m = std::make_shared<const mail::TenantMap>(mail::TenantMap::parse("alice@example.com acme\n", "tenants", d));
    REQUIRE_FALSE(d.hasErrors());
    return m;
}

Message message(std::vector<std::string> rcpts, std::vector<std::pair<std::string, std::string>> extra = {},
                std::string from = " Alice <alice@example.com>") {
    Message m;
    m.envelope.sender = "alice@example.com";
    m.envelope.recipients = std::move(rcpts);
    m.envelope.ours = true;
    m.addReceivedHeader("From", from);
    m.addReceivedHeader("To", " bob@remote.test");
    m.addReceivedHeader("Subject", " hi");
    for (auto& [n, v] : extra)
        m.addReceivedHeader(n, v);
    return m;
}

StampStage stage(StampSettings s = settings()) {
    return StampStage(std::move(s), tenants(),
                      std::make_shared<util::FakeClock>(util::SystemTime(std::chrono::seconds(kNow))));
}

std::string value(const Message& m, std::string_view name) {
    size_t i = m.find(name);
    return i < m.headers().size() ? std::string(util::trim(mail::unfold(m.headers()[i].value))) : std::string("(none)");
}

}  // namespace

TEST_CASE("stamps: a single-recipient message gets one-click links and a reference whose tokens open", "[stamps]") {
    auto st = stage();
    Message m = message({"Bob@Remote.Test"});
    Notes notes;
    REQUIRE(st.onEndOfMessage(m, nullptr, notes).proceeds());
    const std::string lu = value(m, "List-Unsubscribe");
    std::smatch sm;
    REQUIRE(std::regex_match(
        lu, sm,
        std::regex(
            R"(<https://unsub\.example\.com/u/([A-Za-z0-9_-]+)>, <mailto:unsubscribe@example\.com\?subject=unsubscribe%20([A-Za-z0-9_-]+)>)")));
    CHECK(sm[1] == sm[2]);
    CHECK(value(m, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click");
    auto claim = util::openClaim(*keys(), sm[1].str(), kUnsubscribePurpose, kNow + 60, std::chrono::hours(24));
    REQUIRE(claim);
    CHECK(claim->recipient == "Bob@remote.test");  // domain lower-cased; the local part as sent
    CHECK(claim->fromDomain == "example.com");
    CHECK(claim->tenant == "acme");
    // The unsubscribe token is not a reference and the reference is not an unsubscribe token.
    CHECK_FALSE(util::openClaim(*keys(), sm[1].str(), kReferencePurpose, kNow, std::chrono::hours(24)));
    std::string ref = value(m, "X-Rampart-Ref");
    auto rc = util::openClaim(*keys(), ref, kReferencePurpose, kNow, std::chrono::hours(24));
    REQUIRE(rc);
    CHECK(rc->recipient == "Bob@remote.test");
    CHECK(notes.joined().find("added List-Unsubscribe") != std::string::npos);
    // The edits the adapter applies: three appended fields.
    auto edits = m.edits();
    REQUIRE(edits.headers.size() == 3);
    for (const auto& e : edits.headers)
        CHECK(e.kind == HeaderEdit::Kind::Append);
}

TEST_CASE("stamps: per-domain URL base from unsubscribe_domains (wildcard), no mailto there", "[stamps]") {
    auto st = stage();
    Message m = message({"bob@remote.test"}, {}, " news@mail.brand.test");
    Notes notes;
    REQUIRE(st.onEndOfMessage(m, nullptr, notes).proceeds());
    CHECK(std::regex_match(value(m, "List-Unsubscribe"), std::regex(R"(<https://brand\.test/unsub/[A-Za-z0-9_-]+>)")));
    CHECK(value(m, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click");
}

TEST_CASE("stamps: multi-recipient messages get none, and the log says why", "[stamps]") {
    auto st = stage();
    Message m = message({"a@remote.test", "b@remote.test"});
    Notes notes;
    REQUIRE(st.onEndOfMessage(m, nullptr, notes).proceeds());
    CHECK(m.count("List-Unsubscribe") == 0);
    CHECK(m.count("X-Rampart-Ref") == 0);
    CHECK(notes.joined().find("2 recipients") != std::string::npos);
    // ... unless a stage removed all but one.
    Message m2 = message({"a@remote.test", "b@remote.test"});
    m2.removeRecipient("b@remote.test");
    Notes n2;
    st.onEndOfMessage(m2, nullptr, n2);
    CHECK(m2.count("List-Unsubscribe") == 1);
}

TEST_CASE("stamps: a sender's good one-click pair is kept, a malformed one replaced", "[stamps]") {
    auto st = stage();
    SECTION("good pair kept") {
        Message m = message({"bob@remote.test"}, {{"List-Unsubscribe", " <https://esp.test/u/1>, <mailto:u@esp.test>"},
                                                  {"List-Unsubscribe-Post", " List-Unsubscribe=One-Click"}});
        Notes notes;
        st.onEndOfMessage(m, nullptr, notes);
        CHECK(value(m, "List-Unsubscribe") == "<https://esp.test/u/1>, <mailto:u@esp.test>");
        CHECK(notes.joined().find("kept the sender's") != std::string::npos);
    }
    SECTION("bare URL, no angle brackets") {
        Message m = message({"bob@remote.test"}, {{"List-Unsubscribe", " https://esp.test/u/1"}});
        Notes notes;
        st.onEndOfMessage(m, nullptr, notes);
        CHECK(m.count("List-Unsubscribe") == 1);
        CHECK(value(m, "List-Unsubscribe").find("unsub.example.com") != std::string::npos);
        CHECK(notes.joined().find("replaced List-Unsubscribe (malformed") != std::string::npos);
    }
    SECTION("https without List-Unsubscribe-Post") {
        Message m = message({"bob@remote.test"}, {{"List-Unsubscribe", " <https://esp.test/u/1>"}});
        CHECK(checkListUnsubscribe(m).wellFormed);
        CHECK_FALSE(checkListUnsubscribe(m).oneClick);
        Notes notes;
        st.onEndOfMessage(m, nullptr, notes);
        CHECK(m.count("List-Unsubscribe-Post") == 1);
        CHECK(value(m, "List-Unsubscribe").find("unsub.example.com") != std::string::npos);
    }
    SECTION("two List-Unsubscribe fields, a wrong Post value") {
        Message m = message({"bob@remote.test"}, {{"List-Unsubscribe", " <https://a.test/1>"},
                                                  {"List-Unsubscribe", " <https://b.test/1>"},
                                                  {"List-Unsubscribe-Post", " yes"}});
        Notes notes;
        st.onEndOfMessage(m, nullptr, notes);
        CHECK(m.count("List-Unsubscribe") == 1);
        CHECK(m.count("List-Unsubscribe-Post") == 1);
        CHECK(value(m, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click");
    }
}

TEST_CASE("stamps: a client-supplied reference header is removed, even without a secret", "[stamps]") {
    StampSettings s = settings();
    s.keys = nullptr;
    auto st = stage(s);
    Message m = message({"bob@remote.test"}, {{"X-Rampart-Ref", " forged"}});
    Notes notes;
    st.onEndOfMessage(m, nullptr, notes);
    CHECK(m.count("X-Rampart-Ref") == 0);
    CHECK(m.count("List-Unsubscribe") == 0);
}

TEST_CASE("stamps: configuration is checked", "[stamps]") {
    auto check = [](std::string text) {
        auto loaded = config::parseConfigText(text, "rampart.conf");
        config::Diagnostics d = loaded.diagnostics;
        StampSettings::fromConfig(loaded.config, d);
        INFO(d.str());
        return d.str();
    };
    CHECK(check("unsubscribe_url = https://u.example.com/u/\n").find("need unsubscribe_secret") != std::string::npos);
    CHECK(check("unsubscribe_url = ftp://x/\nunsubscribe_secret = 0123456789abcdef0123\n").find("not an https") !=
          std::string::npos);
    CHECK(check("unsubscribe_mailto = not an address\nunsubscribe_secret = 0123456789abcdef0123\n")
              .find("not a mail address") != std::string::npos);
    CHECK(check("unsubscribe_secret = short\n").find("unsubscribe_secret") != std::string::npos);
    CHECK(check("unsubscribe_url = https://u.example.com/u/\nunsubscribe_secret = 0123456789abcdef0123\n").empty());
}

TEST_CASE("stamps: unsubscribe_domains lines, with file:line errors", "[stamps]") {
    test::TempDir dir("stamps");
    const std::string table = dir / "unsubscribe.domains";
    {
        std::ofstream f(table);
        f << "# From domain     URL base                        mailto\n"
             "acme-mail.com     https://unsub.acme.test/u/      unsubscribe@acme-mail.com\n"
             "*.brand.test      https://brand.test/u/\n"
             "mailonly.test     -                               stop@mailonly.test\n"
             "bad.test          ftp://nope/\n"
             "toomany.test      https://x.test/ a@b.test extra\n";
    }
    auto loaded = config::parseConfigText(
        "unsubscribe_secret = 0123456789abcdef0123\nunsubscribe_domains = file:" + table + "\n", "rampart.conf");
    config::Diagnostics d = loaded.diagnostics;
    StampSettings s = StampSettings::fromConfig(loaded.config, d);
    const std::string errors = d.str();
    CHECK(errors.find(table + ":5: ") != std::string::npos);
    CHECK(errors.find(table + ":6: expected DOMAIN URL-BASE [MAILTO-ADDRESS]") != std::string::npos);
    REQUIRE(s.domains.size() == 3);
    CHECK(s.targetFor("acme-mail.com").mailto == "unsubscribe@acme-mail.com");
    CHECK(s.targetFor("news.brand.test").urlBase == "https://brand.test/u/");
    CHECK(s.targetFor("brand.test").urlBase.empty());  // *.brand.test: subdomains only
    CHECK(s.targetFor("mailonly.test").urlBase.empty());
    CHECK(s.targetFor("mailonly.test").mailto == "stop@mailonly.test");
}
