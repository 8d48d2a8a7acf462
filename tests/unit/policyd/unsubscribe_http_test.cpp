// The one-click endpoint's decisions, without a socket: GET shows a page and changes nothing, an RFC
// 8058 POST writes the suppression before answering 200, anything with a bad token gets 400.
#include "policyd/unsubscribe_http.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "milter/stages/stamp_stage.h"
#include "temp_dir.h"

using namespace rampart;

namespace {

constexpr int64_t kNow = 1795000000;

struct Fixture {
    test::TempDir dir{"unsub"};
    std::string db = dir / "suppression.db";
    std::shared_ptr<util::FakeClock> clock =
        std::make_shared<util::FakeClock>(util::SystemTime(std::chrono::seconds(kNow)));
    util::Keyring keys = util::Keyring::fromSecret("unit-test-secret-0123456789");
    std::shared_ptr<policyd::UnsubscribeHandler> handler;
    Fixture() {
        handler = std::make_shared<policyd::UnsubscribeHandler>(db, clock);
        auto s = std::make_shared<policyd::UnsubscribeSettings>();
        s->keys = std::make_shared<const util::Keyring>(keys);
        s->lifetime = std::chrono::hours(24 * 30);
        handler->setSettings(s);
    }
    std::string token(std::string rcpt, std::string tenant, int64_t issued = kNow) {
        return util::sealClaim(keys, {std::move(rcpt), "example.com", std::move(tenant), issued},
                               milter::kUnsubscribePurpose);
    }
    std::optional<suppress::Entry> find(const std::string& target, const suppress::Scope& scope) {
        if (!std::filesystem::exists(db)) return std::nullopt;
        auto st = suppress::Store::open(db, true);
        REQUIRE(st);
        auto r = (*st)->find(target, scope);
        REQUIRE(r);
        return *r;
    }
};

}  // namespace

TEST_CASE("one-click: GET shows a confirmation page and writes nothing", "[unsubscribe]") {
    Fixture f;
    auto a = f.handler->handle("GET", "/u/" + f.token("Bob@Gmail.com", "acme"), "", "", "127.0.0.1");
    CHECK(a.status == 200);
    CHECK(a.body.find("<form method=\"post\">") != std::string::npos);
    CHECK(a.body.find("Bob@Gmail.com") != std::string::npos);
    CHECK_FALSE(f.find("bob@gmail.com", {suppress::Scope::Kind::Tenant, "acme"}));
}

TEST_CASE("one-click: an RFC 8058 POST writes a tenant-scoped unsubscribe, then 200", "[unsubscribe]") {
    Fixture f;
    const std::string t = f.token("B.o.b+news@Gmail.com", "acme");
    auto a = f.handler->handle("POST", "/u/" + t, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click",
                               "192.0.2.1");
    CHECK(a.status == 200);
    auto e = f.find("bob@gmail.com", {suppress::Scope::Kind::Tenant, "acme"});
    REQUIRE(e);
    CHECK(e->reason == suppress::Reason::Unsubscribe);
    CHECK(e->source == "one-click");
    // Twice is fine (providers retry).
    CHECK(f.handler->handle("POST", "/u/" + t, "", "List-Unsubscribe=One-Click", "x").status == 200);
    // The form button of the GET page posts the same body; multipart/form-data is allowed too.
    const std::string mp =
        "--X\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--X--\r\n";
    CHECK(f.handler
              ->handle("POST", "/prefix/u/" + f.token("carol@example.org", ""), "multipart/form-data; boundary=X", mp,
                       "x")
              .status == 200);
    // Without a tenant the entry is scoped to the From domain.
    CHECK(f.find("carol@example.org", {suppress::Scope::Kind::FromDomain, "example.com"}));
    CHECK(f.handler->counters().unsubscribed == 3);
}

TEST_CASE("one-click: bad tokens and bad requests get 400 and change nothing", "[unsubscribe]") {
    Fixture f;
    std::string t = f.token("dave@example.org", "acme");
    std::string altered = t;
    altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
    CHECK(f.handler->handle("POST", "/u/" + altered, "", "List-Unsubscribe=One-Click", "x").status == 400);
    CHECK(f.handler->handle("POST", "/u/", "", "List-Unsubscribe=One-Click", "x").status == 400);
    CHECK(f.handler->handle("POST", "/u/not%20a%20token", "", "List-Unsubscribe=One-Click", "x").status == 400);
    // Another purpose's token (a reference stamp) does not unsubscribe.
    auto ref = util::sealClaim(f.keys, {"dave@example.org", "example.com", "acme", kNow}, milter::kReferencePurpose);
    CHECK(f.handler->handle("POST", "/u/" + ref, "", "List-Unsubscribe=One-Click", "x").status == 400);
    // Too old.
    auto old = f.token("dave@example.org", "acme", kNow - 31 * 86400);
    CHECK(f.handler->handle("POST", "/u/" + old, "", "List-Unsubscribe=One-Click", "x").status == 400);
    // A POST without the one-click body.
    CHECK(f.handler->handle("POST", "/u/" + t, "", "", "x").status == 400);
    CHECK(f.handler->handle("DELETE", "/u/" + t, "", "", "x").status == 405);
    CHECK_FALSE(f.find("dave@example.org", {suppress::Scope::Kind::Tenant, "acme"}));
    CHECK(f.handler->counters().badTokens == 5);
}
