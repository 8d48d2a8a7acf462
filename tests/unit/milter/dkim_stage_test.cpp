// The signing stage's decisions: which keys, alignment, and what happens to mail it cannot sign.
// (Signature bytes themselves are checked by the golden and independent-verifier tests.)
#include "milter/stages/dkim_stage.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

using namespace rampart;
using namespace rampart::milter;

namespace {

struct Fixture {
    std::filesystem::path dir;
    std::shared_ptr<KeyStore> store;
    dkim::KeyTable keys;
    dkim::SigningTable signing;

    explicit Fixture(const std::string& signingText) {
        dir = std::filesystem::temp_directory_path() / ("rampart-stage-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir);
        ::chmod(dir.c_str(), 0700);
        std::string keyTable;
        for (auto [name, domain, sel, alg] : {std::tuple{"rsa", "example.com", "r1", dkim::KeyAlgorithm::Rsa},
                                              std::tuple{"ed", "example.com", "e1", dkim::KeyAlgorithm::Ed25519},
                                              std::tuple{"esp", "esp.test", "x1", dkim::KeyAlgorithm::Ed25519},
                                              std::tuple{"any", "%", "p1", dkim::KeyAlgorithm::Ed25519}}) {
            auto key = dkim::PrivateKey::generate(alg, 2048);
            REQUIRE(key);
            auto path = dir / (std::string(name) + ".key");
            std::ofstream(path) << (*key)->pemPrivate();
            ::chmod(path.c_str(), 0600);
            keyTable += std::string(name) + " " + domain + ":" + sel + ":" + path.string() + "\n";
        }
        config::Diagnostics diags;
        keys = dkim::KeyTable::parse(keyTable, "key.table", diags);
        signing = dkim::SigningTable::parse(signingText, "signing.table", true, diags);
        dkim::KeyFileOptions opts;
        opts.allowedUid = getuid();
        opts.allowedGid = getgid();
        store = std::make_shared<KeyStore>(opts);
        store->loadAll(keys, diags);
        INFO(diags.str());
        REQUIRE_FALSE(diags.hasErrors());
    }
    ~Fixture() { std::filesystem::remove_all(dir); }

    DkimStage stage(std::string unsignedAction = "tempfail") {
        DkimSettings s;
        s.signedHeaders = {"From", "To", "Subject"};
        s.oversignedHeaders = {"From"};
        s.unsignedAction = std::move(unsignedAction);
        auto clock = std::make_shared<util::FakeClock>(util::SystemTime(std::chrono::seconds(1700000000)));
        return DkimStage(s, keys, signing, store, clock);
    }
};

Verdict run(const DkimStage& stage, Message& m, Notes& notes) {
    auto obs = stage.observeBody(m.envelope);
    obs->onBody("Hello\r\n");
    return stage.onEndOfMessage(m, obs.get(), notes);
}

Message withFrom(std::initializer_list<std::string> froms) {
    Message m;
    for (const auto& f : froms)
        m.addReceivedHeader("From", " " + f);
    m.addReceivedHeader("To", " bob@remote.test");
    m.addReceivedHeader("Subject", " hi");
    return m;
}

size_t signatureCount(const Message& m) {
    return m.count("DKIM-Signature");
}

}  // namespace

TEST_CASE("dkim stage signs with every matching key", "[milter][dkim]") {
    Fixture f("*@example.com rsa\n*@example.com ed\n*@brand.test any\n*@brand.test esp\n");
    auto stage = f.stage();
    Message m = withFrom({"Alice <alice@Example.COM>"});
    Notes notes;
    Verdict v = run(stage, m, notes);
    REQUIRE(v.proceeds());
    CHECK(signatureCount(m) == 2);
    CHECK(notes.joined() == "signed d=example.com s=r1 (rsa-sha256); signed d=example.com s=e1 (ed25519-sha256)");
    CHECK(notes.signedDomains == std::vector<std::string>{"example.com", "example.com"});
    auto edits = m.edits();
    REQUIRE(edits.headers.size() == 2);
    CHECK(edits.headers[0].kind == HeaderEdit::Kind::Insert);
    CHECK(m.headers()[0].value.find("s=r1") != std::string::npos);
    CHECK(m.headers()[1].value.find("s=e1") != std::string::npos);

    SECTION("a % domain signs as the From domain, and a second domain rides along") {
        Message b = withFrom({"hello@brand.test"});
        Notes n2;
        REQUIRE(run(stage, b, n2).proceeds());
        CHECK(n2.joined() == "signed d=brand.test s=p1 (ed25519-sha256); signed d=esp.test s=x1 (ed25519-sha256)");
    }
}

TEST_CASE("dkim stage refuses to send what it cannot sign aligned", "[milter][dkim]") {
    Fixture f("*@example.com rsa\n*@unaligned.test esp\n*@news.example.com ed\n");
    auto stage = f.stage();
    Notes notes;

    SECTION("no From") {
        Message m;
        m.addReceivedHeader("Subject", " x");
        Verdict v = run(stage, m, notes);
        CHECK(v.kind == Verdict::Kind::Tempfail);
        CHECK(v.code == "451");
        CHECK(v.xcode == "4.7.1");
        CHECK(v.text.rfind("rampart: message not signed: the message has no From header field;", 0) == 0);
    }
    SECTION("two From fields") {
        Message m = withFrom({"a@example.com", "b@example.com"});
        CHECK(run(stage, m, notes).text.find("the message has 2 From header fields") != std::string::npos);
    }
    SECTION("two addresses in From") {
        Message m = withFrom({"a@example.com, b@example.com"});
        CHECK(run(stage, m, notes).text.find("the From header field has 2 addresses") != std::string::npos);
    }
    SECTION("unparseable From") {
        Message m = withFrom({"<<<"});
        CHECK(run(stage, m, notes).text.find("cannot parse the From header field") != std::string::npos);
    }
    SECTION("no signing table entry") {
        Message m = withFrom({"x@nokey.test"});
        Verdict v = run(stage, m, notes);
        CHECK(v.kind == Verdict::Kind::Tempfail);
        CHECK(v.text.find("no dkim_signing_table entry matches x@nokey.test") != std::string::npos);
        CHECK(signatureCount(m) == 0);
    }
    SECTION("only an unaligned key") {
        Message m = withFrom({"x@unaligned.test"});
        Verdict v = run(stage, m, notes);
        CHECK(v.text.find("no usable DKIM key aligned with From domain unaligned.test (the signing table gives only "
                          "d=esp.test)") != std::string::npos);
        CHECK(signatureCount(m) == 0);
    }
    SECTION("a subdomain aligns through the organisational domain") {
        Message m = withFrom({"x@news.example.com"});
        CHECK(run(stage, m, notes).proceeds());
        CHECK(signatureCount(m) == 1);
    }
    SECTION("dkim_unsigned_action = reject and accept") {
        Message m = withFrom({"x@nokey.test"});
        Verdict v = run(f.stage("reject"), m, notes);
        CHECK(v.kind == Verdict::Kind::Reject);
        CHECK(v.code == "550");
        Message m2 = withFrom({"x@nokey.test"});
        Notes n2;
        CHECK(run(f.stage("accept"), m2, n2).proceeds());
        CHECK(signatureCount(m2) == 0);
        CHECK(n2.joined().find("not signed: no dkim_signing_table entry") != std::string::npos);
    }
}

TEST_CASE("a key refused by the DNS check is not used", "[milter][dkim]") {
    Fixture f("*@example.com rsa\n*@example.com ed\n");
    f.store->refuse("example.com", "r1", "mismatch in DNS (dkim_key_dns_check = enforce)");
    auto stage = f.stage();
    Message m = withFrom({"alice@example.com"});
    Notes notes;
    REQUIRE(run(stage, m, notes).proceeds());
    CHECK(signatureCount(m) == 1);
    CHECK(notes.joined().find("skipped a signature: key r1._domainkey.example.com is not used: mismatch in DNS") !=
          std::string::npos);

    f.store->refuse("example.com", "e1", "missing in DNS (dkim_key_dns_check = enforce)");
    Message m2 = withFrom({"alice@example.com"});
    Notes n2;
    Verdict v = run(stage, m2, n2);
    CHECK(v.kind == Verdict::Kind::Tempfail);
    CHECK(v.text.find("missing in DNS") != std::string::npos);
}

TEST_CASE("an internationalised From domain is looked up in its A-label form", "[milter][dkim]") {
    Fixture f("*@xn--bcher-kva.example any\n");
    auto stage = f.stage();
    Message m =
        withFrom({"info@b\xc3\xbc"
                  "cher.example"});
    Notes notes;
    REQUIRE(run(stage, m, notes).proceeds());
    CHECK(notes.joined() == "signed d=xn--bcher-kva.example s=p1 (ed25519-sha256)");
}
