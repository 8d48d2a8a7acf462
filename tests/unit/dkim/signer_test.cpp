// DKIM-Signature generation: header selection (instances, oversigning, From), tag order and
// folding, and a signature re-checked in-process the way a verifier reconstructs the data.
// Interoperability with real verifiers: tests/tools (dkim.independent_verifiers) and golden_test.
#include "dkim/signer.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "util/strings.h"

using namespace rampart;
using namespace rampart::dkim;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<const PrivateKey> goldenKey(const char* name) {
    std::ifstream in(std::string(RAMPART_SOURCE_DIR) + "/tests/golden/dkim/keys/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    auto k = PrivateKey::fromPem(ss.str());
    REQUIRE(k);
    return *k;
}

const mail::HeaderFields kHeaders = {
    {"Received", " from a by b"},
    {"From", " Alice <alice@example.com>"},
    {"X-Tag", " one"},
    {"To", " bob@example.net,\r\n\tcarol@example.net"},
    {"x-tag", " two"},
    {"Subject", "  Hello   there "},
};

SignatureSpec baseSpec(std::shared_ptr<const PrivateKey> key) {
    SignatureSpec s;
    s.domain = "example.com";
    s.selector = "sel";
    s.key = std::move(key);
    s.canon = {Canon::Relaxed, Canon::Relaxed};
    s.signedHeaders = {"From", "To", "Subject", "X-Tag", "Date"};
    s.oversignedHeaders = {"From", "Cc"};
    return s;
}

std::chrono::system_clock::time_point at(int64_t t) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(t));
}

// Value of tag `name` in a DKIM-Signature value, whitespace removed.
std::string tag(const std::string& value, const std::string& name) {
    for (const auto& part : util::splitExact(value, ';')) {
        std::string t(util::trim(part));
        if (t.rfind(name + "=", 0) == 0) {
            std::string out;
            for (char c : t.substr(name.size() + 1)) {
                if (!util::isSpace(c)) out += c;
            }
            return out;
        }
    }
    return "<none>";
}

// Re-checks a signature as a verifier would: b= emptied, selected headers bottom-up, the
// signature header last without CRLF, verified with the public key.
bool verifyInProcess(const mail::HeaderFields& headers, const std::string& value, const PrivateKey& key, Canon hc) {
    size_t b = value.rfind("b=");
    REQUIRE(b != std::string::npos);
    const std::string emptied = value.substr(0, b + 2);
    std::string data;
    std::vector<size_t> next;
    std::vector<std::string> names;
    for (const auto& name : util::splitList(tag(value, "h"), ":")) {
        std::string lower = util::toLower(name);
        size_t idx = 0;
        while (idx < names.size() && names[idx] != lower)
            ++idx;
        if (idx == names.size()) {
            names.push_back(lower);
            next.push_back(headers.size());
        }
        while (next[idx] > 0) {
            --next[idx];
            if (util::iequals(headers[next[idx]].name, lower)) {
                data += canonicalizeHeader(hc, headers[next[idx]].name, headers[next[idx]].value);
                break;
            }
        }
    }
    std::string self = canonicalizeHeader(hc, "DKIM-Signature", emptied);
    data += self.substr(0, self.size() - 2);
    auto sig = base64Decode(tag(value, "b"));
    REQUIRE(sig);
    auto der = base64Decode(key.publicKeyBase64());
    EVP_PKEY* pub = nullptr;
    if (key.algorithm() == KeyAlgorithm::Rsa) {
        const auto* p = reinterpret_cast<const unsigned char*>(der->data());
        pub = d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size()));
    } else {
        pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(der->data()), der->size());
    }
    REQUIRE(pub != nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const auto* sigData = reinterpret_cast<const unsigned char*>(sig->data());
    int ok = 0;
    if (key.algorithm() == KeyAlgorithm::Rsa) {
        ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pub) == 1 &&
             EVP_DigestVerify(ctx, sigData, sig->size(), reinterpret_cast<const unsigned char*>(data.data()),
                              data.size()) == 1;
    } else {
        unsigned char digest[32];
        unsigned int len = 0;
        EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
        ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pub) == 1 &&
             EVP_DigestVerify(ctx, sigData, sig->size(), digest, 32) == 1;
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pub);
    return ok != 0;
}

}  // namespace

TEST_CASE("h= lists each present instance, oversigned names once more", "[dkim][signer]") {
    SignatureSpec spec = baseSpec(goldenKey("ed25519.pem"));
    CHECK(selectHeaders(kHeaders, spec) ==
          std::vector<std::string>{"From", "From", "To", "Subject", "X-Tag", "X-Tag", "Cc"});
    SECTION("From is always signed, even when not configured or absent") {
        spec.signedHeaders = {"Subject"};
        spec.oversignedHeaders = {};
        CHECK(selectHeaders(kHeaders, spec) == std::vector<std::string>{"From", "Subject"});
        CHECK(selectHeaders({}, spec) == std::vector<std::string>{"From"});
    }
    SECTION("names are matched case-insensitively and listed once, as configured") {
        spec.signedHeaders = {"from", "SUBJECT", "Subject", "x-TAG"};
        spec.oversignedHeaders = {"subject"};
        CHECK(selectHeaders(kHeaders, spec) ==
              std::vector<std::string>{"from", "SUBJECT", "SUBJECT", "x-TAG", "x-TAG"});
    }
}

TEST_CASE("signature layout: tag order, folding, lengths", "[dkim][signer]") {
    for (const char* keyName : {"rsa2048.pem", "ed25519.pem"}) {
        INFO(keyName);
        auto key = goldenKey(keyName);
        SignatureSpec spec = baseSpec(key);
        spec.ttl = 3600s;
        const Sha256 bh = hashBody(Canon::Relaxed, "Hi\r\n");
        auto value = signMessage(kHeaders, bh, spec, at(1700000000));
        REQUIRE(value);
        const std::string alg(algorithmTag(key->algorithm()));
        std::string flat;  // folds as single spaces
        for (const auto& line : util::splitExact(*value, '\n')) {
            std::string_view l = line;
            if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
            if (!flat.empty()) {
                REQUIRE(l.front() == '\t');
                l.remove_prefix(1);
                flat += ' ';
            }
            flat += l;
        }
        CHECK(flat.rfind(" v=1; a=" + alg + "; c=relaxed/relaxed; d=example.com; s=sel;", 0) == 0);
        // Tags in order.
        size_t last = 0;
        for (const char* t : {" v=1;", " a=", " c=", " d=", " s=", "t=1700000000;", " x=1700003600;",
                              "h=From:From:To:Subject:X-Tag:X-Tag:Cc;", "bh=", " b="}) {
            size_t pos = flat.find(t, last);
            INFO(t);
            REQUIRE(pos != std::string::npos);
            last = pos;
        }
        CHECK(tag(*value, "bh") == base64(bh.data(), bh.size()));
        CHECK(base64Decode(tag(*value, "b"))->size() == (key->algorithm() == KeyAlgorithm::Rsa ? 256u : 64u));
        // Lines: CRLF TAB folding, at most 78 characters ("DKIM-Signature:" on the first).
        const std::string full = "DKIM-Signature:" + *value;
        CHECK(full.find('\n') != std::string::npos);
        for (const auto& line : util::splitExact(full, '\n')) {
            std::string_view l = line;
            if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
            CHECK(l.size() <= 78);
            CHECK(l.find('\r') == std::string_view::npos);
        }
        CHECK(value->find("\r\n") != std::string::npos);
        CHECK(value->find("\n\t") != std::string::npos);
        CHECK(value->back() != '\n');
        CHECK(verifyInProcess(kHeaders, *value, *key, Canon::Relaxed));
    }
}

TEST_CASE("signatures verify under every header canonicalisation", "[dkim][signer]") {
    for (const char* keyName : {"rsa2048.pem", "ed25519.pem"}) {
        auto key = goldenKey(keyName);
        for (Canon hc : {Canon::Simple, Canon::Relaxed}) {
            INFO(keyName << " " << (hc == Canon::Simple ? "simple" : "relaxed"));
            SignatureSpec spec = baseSpec(key);
            spec.canon = {hc, Canon::Simple};
            auto value = signMessage(kHeaders, hashBody(Canon::Simple, ""), spec, at(1700000000));
            REQUIRE(value);
            CHECK(verifyInProcess(kHeaders, *value, *key, hc));
            // Any change to a signed header breaks it; unsigned headers do not matter.
            mail::HeaderFields changed = kHeaders;
            changed[4].value = " three";  // the lower X-Tag
            CHECK_FALSE(verifyInProcess(changed, *value, *key, hc));
            changed = kHeaders;
            changed[0].value = " from elsewhere";  // Received is not signed
            CHECK(verifyInProcess(changed, *value, *key, hc));
            // An added From after signing is caught by oversigning.
            changed = kHeaders;
            changed.push_back({"From", " mallory@example.org"});
            CHECK_FALSE(verifyInProcess(changed, *value, *key, hc));
        }
    }
}

TEST_CASE("bare LF folding in values signs like CRLF folding", "[dkim][signer]") {
    auto key = goldenKey("rsa2048.pem");
    mail::HeaderFields lf = kHeaders;
    lf[3].value = " bob@example.net,\n\tcarol@example.net";
    for (Canon hc : {Canon::Simple, Canon::Relaxed}) {
        SignatureSpec spec = baseSpec(key);
        spec.canon = {hc, Canon::Relaxed};
        const Sha256 bh = hashBody(Canon::Relaxed, "");
        CHECK(*signMessage(lf, bh, spec, at(1700000000)) == *signMessage(kHeaders, bh, spec, at(1700000000)));
    }
}

TEST_CASE("long h= lists fold at colons", "[dkim][signer]") {
    auto key = goldenKey("ed25519.pem");
    SignatureSpec spec = baseSpec(key);
    mail::HeaderFields headers = {{"From", " a@example.com"}};
    for (int i = 0; i < 20; ++i) {
        std::string name = "X-A-Rather-Long-Header-Name-" + std::to_string(i);
        headers.push_back({name, " v"});
        spec.signedHeaders.push_back(name);
    }
    auto value = signMessage(headers, hashBody(Canon::Relaxed, ""), spec, at(1700000000));
    REQUIRE(value);
    CHECK(value->find(":\r\n\tX-A-Rather-Long-Header-Name-") != std::string::npos);
    for (const auto& line : util::splitExact("DKIM-Signature:" + *value, '\n')) {
        CHECK(line.size() <= 79);  // 78 + CR
    }
    CHECK(verifyInProcess(headers, *value, *key, Canon::Relaxed));
}

TEST_CASE("signMessage refuses bad specs", "[dkim][signer]") {
    auto key = goldenKey("ed25519.pem");
    const Sha256 bh{};
    SignatureSpec spec = baseSpec(key);
    spec.key = nullptr;
    CHECK(signMessage(kHeaders, bh, spec, at(0)).error() == "no signing key");
    spec = baseSpec(key);
    spec.domain = "exa mple.com";
    CHECK(signMessage(kHeaders, bh, spec, at(0)).error() == "invalid signing domain \"exa mple.com\"");
    spec = baseSpec(key);
    spec.selector = "a;b";
    CHECK(signMessage(kHeaders, bh, spec, at(0)).error() == "invalid selector \"a;b\"");
    spec = baseSpec(key);
    spec.signedHeaders.push_back("Bad Name");
    CHECK(signMessage(kHeaders, bh, spec, at(0)).error() == "invalid header field name \"Bad Name\"");
    spec = baseSpec(key);
    spec.oversignedHeaders.push_back("Bad:Name");
    CHECK(signMessage(kHeaders, bh, spec, at(0)).error() == "invalid header field name \"Bad:Name\"");
}
