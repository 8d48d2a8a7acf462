// dkim::checkPublishedKeys against key records served by dnsmasq on loopback: every status.
#include "dkim/dns_check.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <chrono>

#include "dkim/canon.h"
#include "dnsmasq_fixture.h"

using namespace rampart;
using namespace rampart::dkim;
using rampart::testing::LoopbackDns;
using rampart::testing::SilentDns;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<const PrivateKey> generate(KeyAlgorithm a, int bits = 2048) {
    auto k = PrivateKey::generate(a, bits);
    INFO((k.ok() ? std::string() : k.error()));
    REQUIRE(k);
    return *k;
}

std::string b64(const std::string& der) {
    return base64(reinterpret_cast<const uint8_t*>(der.data()), der.size());
}

std::string unb64(const std::string& text) {
    auto d = base64Decode(text);
    REQUIRE(d);
    return *d;
}

// DER encodings of a public key taken from its SubjectPublicKeyInfo.
std::string pkcs1FromSpki(const std::string& spkiBase64) {
    const std::string der = unb64(spkiBase64);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    REQUIRE(key);
    unsigned char* out = nullptr;
    const int len = i2d_PublicKey(key.get(), &out);  // RSA: PKCS#1 RSAPublicKey
    REQUIRE(len > 0);
    std::string pkcs1(reinterpret_cast<const char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    return pkcs1;
}

std::string rsaSpkiBase64(int bits) {
    EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
    REQUIRE(key);
    unsigned char* out = nullptr;
    const int len = i2d_PUBKEY(key.get(), &out);
    REQUIRE(len > 0);
    std::string der(reinterpret_cast<const char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    return b64(der);
}

std::string withSpaces(const std::string& s) {  // as publishers split long p= values
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (i > 0 && i % 60 == 0) out += " \t ";
        out.push_back(s[i]);
    }
    return out;
}

}  // namespace

TEST_CASE("checkPublishedKeys classifies every kind of published record", "[dns][dkim]") {
    const auto rsa = generate(KeyAlgorithm::Rsa, 2048);
    const auto otherRsa = generate(KeyAlgorithm::Rsa, 1024);
    const auto ed = generate(KeyAlgorithm::Ed25519);
    const auto otherEd = generate(KeyAlgorithm::Ed25519);
    const std::string edSpki =
        b64(unb64("MCowBQYDK2VwAyEA") + unb64(ed->publicKeyBase64()));  // 302a300506032b6570032100 + key

    LoopbackDns dns;
    dns.txt("rsa._domainkey.ok.test", rsa->dnsRecord())  // > 255 bytes: several strings
        .txt("pkcs1._domainkey.ok.test", "v=DKIM1; k=rsa; p=" + b64(pkcs1FromSpki(rsa->publicKeyBase64())))
        .txt("nok._domainkey.ok.test", "p=" + withSpaces(rsa->publicKeyBase64()))  // k= absent: rsa
        .txt("ed._domainkey.ok.test", ed->dnsRecord())
        .txt("several._domainkey.ok.test", otherRsa->dnsRecord())
        .txt("several._domainkey.ok.test", "v=spf1 -all")
        .txt("several._domainkey.ok.test", rsa->dnsRecord())
        .a("nodata._domainkey.missing.test", "192.0.2.1")
        .txt("rsa._domainkey.mismatch.test", otherRsa->dnsRecord())
        .txt("ed._domainkey.mismatch.test", otherEd->dnsRecord())
        .txt("two._domainkey.mismatch.test", otherRsa->dnsRecord())
        .txt("two._domainkey.mismatch.test", "v=DKIM1; k=rsa; p=")
        .txt("rsa._domainkey.revoked.test", "v=DKIM1; k=rsa; p=")
        .txt("rsa._domainkey.short.test", "v=DKIM1; k=rsa; p=" + rsaSpkiBase64(512))
        .txt("ed._domainkey.type.test", "v=DKIM1; k=rsa; p=" + ed->publicKeyBase64())
        .txt("noktag._domainkey.type.test", "v=DKIM1; p=" + ed->publicKeyBase64())
        .txt("rsa._domainkey.type.test", "v=DKIM1; k=ed25519; p=" + ed->publicKeyBase64())
        .txt("spf._domainkey.bad.test", "v=spf1 -all")
        .txt("b64._domainkey.bad.test", "v=DKIM1; k=rsa; p=not*base64")
        .txt("notkey._domainkey.bad.test", "v=DKIM1; k=rsa; p=" + b64("just some bytes"))
        .txt("edspki._domainkey.bad.test", "v=DKIM1; k=ed25519; p=" + edSpki)
        .txt("version._domainkey.bad.test", "v=DKIM2; k=rsa; p=" + rsa->publicKeyBase64());
    dns.start();

    struct Case {
        const char* domain;
        const char* selector;
        std::shared_ptr<const PrivateKey> key;
        KeyCheckStatus expected;
        const char* detailPart;
    };
    const std::vector<Case> cases = {
        {"ok.test", "rsa", rsa, KeyCheckStatus::Ok, "k=rsa, 2048 bits"},
        {"ok.test", "pkcs1", rsa, KeyCheckStatus::Ok, "holds the signing key"},
        {"ok.test.", "nok", rsa, KeyCheckStatus::Ok, "holds the signing key"},
        {"ok.test", "ed", ed, KeyCheckStatus::Ok, "k=ed25519"},
        {"ok.test", "several", rsa, KeyCheckStatus::Ok, "1 other DKIM record(s)"},
        {"missing.test", "rsa", rsa, KeyCheckStatus::Missing, "no such name"},
        {"missing.test", "nodata", ed, KeyCheckStatus::Missing, "no TXT record"},
        {"mismatch.test", "rsa", rsa, KeyCheckStatus::Mismatch, "different RSA key (1024 bits)"},
        {"mismatch.test", "ed", ed, KeyCheckStatus::Mismatch, "different Ed25519 key"},
        {"mismatch.test", "two", rsa, KeyCheckStatus::Mismatch, "2 different DKIM records"},
        {"revoked.test", "rsa", rsa, KeyCheckStatus::Revoked, "revoked (empty p=)"},
        {"short.test", "rsa", rsa, KeyCheckStatus::TooShort, "512-bit RSA key"},
        {"type.test", "ed", ed, KeyCheckStatus::WrongType, "k=rsa but the signing key is ed25519"},
        {"type.test", "noktag", ed, KeyCheckStatus::WrongType, "k=rsa"},
        {"type.test", "rsa", rsa, KeyCheckStatus::WrongType, "k=ed25519 but the signing key is rsa"},
        {"bad.test", "spf", rsa, KeyCheckStatus::Malformed, "not a DKIM key record (\"v=spf1 -all\")"},
        {"bad.test", "b64", rsa, KeyCheckStatus::Malformed, "not a valid DKIM key record"},
        {"bad.test", "notkey", rsa, KeyCheckStatus::Malformed, "not an RSA public key"},
        {"bad.test", "edspki", ed, KeyCheckStatus::Malformed, "SubjectPublicKeyInfo"},
        {"bad.test", "version", rsa, KeyCheckStatus::Malformed, "DKIM2"},
        {"outside.example", "rsa", rsa, KeyCheckStatus::DnsError, "REFUSED"},
        {"ok.test", "nokey", nullptr, KeyCheckStatus::Mismatch, "no signing key"},
    };
    std::vector<KeyCheckInput> inputs;
    for (const auto& c : cases)
        inputs.push_back({c.domain, c.selector, c.key});

    dns::ResolverOptions opts;
    opts.servers = {dns.address()};
    opts.timeout = 5000ms;
    dns::Resolver resolver(opts);
    const auto results = checkPublishedKeys(inputs, resolver);
    REQUIRE(results.size() == cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto& c = cases[i];
        const auto& r = results[i];
        INFO(r.name << ": " << keyCheckStatusName(r.status) << ": " << r.detail);
        CHECK(r.domain == c.domain);
        CHECK(r.selector == c.selector);
        std::string domain = c.domain;
        if (domain.back() == '.') domain.pop_back();
        CHECK(r.name == std::string(c.selector) + "._domainkey." + domain);
        CHECK(r.status == c.expected);
        CHECK_THAT(r.detail, Catch::Contains(c.detailPart));
        CHECK(r.failing() == (c.expected != KeyCheckStatus::Ok && c.expected != KeyCheckStatus::DnsError));
        const bool wantsRecord = c.expected != KeyCheckStatus::Ok && c.expected != KeyCheckStatus::DnsError;
        if (wantsRecord && c.key) {
            CHECK_THAT(r.detail, Catch::Contains(c.key->dnsRecord()));  // what to publish instead
        }
        if (c.expected == KeyCheckStatus::Ok) CHECK_THAT(r.detail, !Catch::Contains("publish:"));
    }
}

TEST_CASE("checkPublishedKeys: an unreachable DNS server is a dns error, not a failure", "[dns][dkim]") {
    const auto ed = generate(KeyAlgorithm::Ed25519);
    SilentDns silent;
    dns::ResolverOptions opts;
    opts.servers = {silent.address()};
    opts.timeout = 300ms;
    dns::Resolver resolver(opts);
    const auto start = std::chrono::steady_clock::now();
    const auto results = checkPublishedKeys({{"a.test", "s1", ed}, {"b.test", "s2", ed}}, resolver);
    CHECK(std::chrono::steady_clock::now() - start < 900ms);  // concurrent, one timeout
    REQUIRE(results.size() == 2);
    for (const auto& r : results) {
        INFO(r.detail);
        CHECK(r.status == KeyCheckStatus::DnsError);
        CHECK_FALSE(r.failing());
        CHECK_THAT(r.detail, Catch::Contains("timeout") && Catch::Contains(r.name));
    }
    CHECK(checkPublishedKeys({}, resolver).empty());
}

TEST_CASE("key check status names", "[dns][dkim]") {
    CHECK(std::string(keyCheckStatusName(KeyCheckStatus::Ok)) == "ok");
    CHECK(std::string(keyCheckStatusName(KeyCheckStatus::Missing)) == "missing");
    CHECK(std::string(keyCheckStatusName(KeyCheckStatus::Mismatch)) == "mismatch");
    CHECK(std::string(keyCheckStatusName(KeyCheckStatus::Revoked)) == "revoked");
    CHECK(std::string(keyCheckStatusName(KeyCheckStatus::TooShort)) == "too short");
    CHECK(std::string(keyCheckStatusName(KeyCheckStatus::WrongType)) == "wrong type");
    CHECK(std::string(keyCheckStatusName(KeyCheckStatus::Malformed)) == "malformed");
    CHECK(std::string(keyCheckStatusName(KeyCheckStatus::DnsError)) == "dns error");
}
