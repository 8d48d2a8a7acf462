// The milter's suppression stage: RCPT refusals for global and tenant entries, end-of-message
// removal for from_domain entries, and refusal when nobody remains.
#include "milter/stages/suppression_stage.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "temp_dir.h"

using namespace rampart;
using namespace rampart::milter;

namespace {

constexpr int64_t kNow = 1795000000;

struct Fixture {
    test::TempDir dir{"supstage"};
    std::unique_ptr<suppress::Store> store;
    std::shared_ptr<suppress::Index> index = std::make_shared<suppress::Index>(suppress::NormalizeOptions{});
    std::shared_ptr<util::FakeClock> clock =
        std::make_shared<util::FakeClock>(util::SystemTime(std::chrono::seconds(kNow)));
    std::shared_ptr<const mail::TenantMap> tenants;
    Fixture() {
        auto s = suppress::Store::open(dir / "s.db", false);
        REQUIRE(s);
        store = std::move(s).value();
        config::Diagnostics d;
        tenants = std::make_shared<const mail::TenantMap>(mail::TenantMap::parse("alice@example.com acme\n", "t", d));
    }
    void add(std::string target, suppress::Scope scope, suppress::Reason reason, std::optional<int64_t> expires = {}) {
        suppress::Entry e;
        e.target = std::move(target);
        e.scope = std::move(scope);
        e.reason = reason;
        e.source = "test";
        e.created = expires ? std::min(kNow, *expires - 3600) : kNow;
        e.expires = expires;
        auto r = store->add(e, "test", "unit test");
        INFO((r ? std::string("ok") : r.error()));
        REQUIRE(r);
        REQUIRE(index->refresh(*store));
    }
    SuppressionStage stage() { return SuppressionStage(index, tenants, clock); }
};

Envelope envelope(std::string sender = "alice@example.com") {
    Envelope e;
    e.sender = std::move(sender);
    e.ours = true;
    return e;
}

}  // namespace

TEST_CASE("suppression stage: global and tenant entries are refused at RCPT with 550 5.7.1", "[suppression-stage]") {
    Fixture f;
    REQUIRE(f.index->load(*f.store));
    f.add("bob@remote.test", {}, suppress::Reason::HardBounce);
    f.add("@blocked.test", {}, suppress::Reason::Legal);
    f.add("carol@remote.test", {suppress::Scope::Kind::Tenant, "acme"}, suppress::Reason::Complaint);
    f.add("old@remote.test", {}, suppress::Reason::Manual, kNow - 1);
    auto st = f.stage();
    Notes notes;
    auto v = st.onRecipient(envelope(), "Bob@Remote.TEST", notes);
    CHECK(v.kind == Verdict::Kind::Reject);
    CHECK(v.code == "550");
    CHECK(v.xcode == "5.7.1");
    CHECK(v.text.find("hard_bounce") != std::string::npos);
    CHECK(st.onRecipient(envelope(), "anyone@blocked.test", notes).kind == Verdict::Kind::Reject);
    // Tenant acme (alice) may not mail carol; another sender may.
    CHECK(st.onRecipient(envelope(), "carol@remote.test", notes).kind == Verdict::Kind::Reject);
    CHECK(st.onRecipient(envelope("zed@other.test"), "carol@remote.test", notes).proceeds());
    // Expired entries do not count.
    CHECK(st.onRecipient(envelope(), "old@remote.test", notes).proceeds());
    CHECK(st.onRecipient(envelope(), "dave@remote.test", notes).proceeds());
}

TEST_CASE("suppression stage: from_domain entries remove recipients at end of message", "[suppression-stage]") {
    Fixture f;
    REQUIRE(f.index->load(*f.store));
    f.add("dave@remote.test", {suppress::Scope::Kind::FromDomain, "brand.test"}, suppress::Reason::Unsubscribe);
    auto st = f.stage();
    auto make = [](std::vector<std::string> rcpts, std::string from) {
        Message m;
        m.envelope = envelope();
        m.envelope.recipients = std::move(rcpts);
        m.addReceivedHeader("From", " " + from);
        return m;
    };
    Notes notes;
    Message m = make({"bob@remote.test", "dave@remote.test"}, "News <news@brand.test>");
    REQUIRE(st.onEndOfMessage(m, nullptr, notes).proceeds());
    CHECK(m.edits().removedRecipients == std::vector<std::string>{"dave@remote.test"});
    CHECK(notes.joined().find("removed <dave@remote.test>") != std::string::npos);
    // Another From domain: nothing removed.
    Message other = make({"bob@remote.test", "dave@remote.test"}, "alice@example.com");
    REQUIRE(st.onEndOfMessage(other, nullptr, notes).proceeds());
    CHECK(other.edits().removedRecipients.empty());
    // Nobody left: refused.
    Message alone = make({"dave@remote.test"}, "news@brand.test");
    auto v = st.onEndOfMessage(alone, nullptr, notes);
    CHECK(v.kind == Verdict::Kind::Reject);
    CHECK(v.text.find("brand.test") != std::string::npos);
}
