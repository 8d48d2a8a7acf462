// DKIM keys: parsing of every accepted format, refusal of weak or foreign keys, signatures checked
// with OpenSSL's verifier, DNS record rendering and parsing, and the key file safety rules.
#include "dkim/key.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "dkim/canon.h"

using namespace rampart::dkim;
namespace fs = std::filesystem;

namespace {

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string goldenKey(const char* name) {
    return readFile(std::string(RAMPART_SOURCE_DIR) + "/tests/golden/dkim/keys/" + name);
}

// The base64 between the PEM armour lines.
std::string pemBody(const std::string& pem) {
    std::string out;
    std::istringstream in(pem);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("-----", 0) != 0) out += line;
    }
    return out;
}

std::string pemOf(EVP_PKEY* k, const EVP_CIPHER* cipher = nullptr, const char* pass = nullptr) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, k, cipher, nullptr, 0, nullptr, const_cast<char*>(pass));
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(len));
    BIO_free(bio);
    return out;
}

EvpPkeyPtr publicKeyOf(const PrivateKey& k) {
    auto der = base64Decode(k.publicKeyBase64());
    REQUIRE(der);
    if (k.algorithm() == KeyAlgorithm::Ed25519) {
        return EvpPkeyPtr(EVP_PKEY_new_raw_public_key(
            EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(der->data()), der->size()));
    }
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    return EvpPkeyPtr(d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size())));
}

// Verifies a DKIM signature the way a verifier does: RSA over SHA-256(data) with PKCS#1 v1.5,
// Ed25519 over the 32-byte SHA-256 digest.
bool opensslVerify(const PrivateKey& k, std::string_view data, const std::vector<uint8_t>& sig) {
    EvpPkeyPtr pub = publicKeyOf(k);
    REQUIRE(pub);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    int ok = 0;
    if (k.algorithm() == KeyAlgorithm::Rsa) {
        ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pub.get()) == 1 &&
             EVP_DigestVerify(ctx, sig.data(), sig.size(), reinterpret_cast<const unsigned char*>(data.data()),
                              data.size()) == 1;
    } else {
        unsigned char digest[32];
        unsigned int len = 0;
        EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
        ok = EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pub.get()) == 1 &&
             EVP_DigestVerify(ctx, sig.data(), sig.size(), digest, 32) == 1;
    }
    EVP_MD_CTX_free(ctx);
    return ok != 0;
}

std::array<uint8_t, 32> digestOf(std::string_view data) {
    std::array<uint8_t, 32> d{};
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), d.data(), &len, EVP_sha256(), nullptr);
    return d;
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/rampart-key-test-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string write(const std::string& name, const std::string& content, mode_t mode) {
        std::string p = path + "/" + name;
        std::ofstream(p, std::ios::binary) << content;
        ::chmod(p.c_str(), mode);
        return p;
    }
};

}  // namespace

TEST_CASE("algorithm tags", "[dkim][key]") {
    CHECK(algorithmTag(KeyAlgorithm::Rsa) == "rsa-sha256");
    CHECK(algorithmTag(KeyAlgorithm::Ed25519) == "ed25519-sha256");
    CHECK(keyTypeTag(KeyAlgorithm::Rsa) == "rsa");
    CHECK(keyTypeTag(KeyAlgorithm::Ed25519) == "ed25519");
}

TEST_CASE("PEM keys: PKCS#1 RSA and PKCS#8 Ed25519, type from the key", "[dkim][key]") {
    auto rsa = PrivateKey::fromPem(goldenKey("rsa2048.pem"));
    REQUIRE(rsa);
    CHECK((*rsa)->algorithm() == KeyAlgorithm::Rsa);
    CHECK((*rsa)->bits() == 2048);
    auto ed = PrivateKey::fromPem(goldenKey("ed25519.pem"));
    REQUIRE(ed);
    CHECK((*ed)->algorithm() == KeyAlgorithm::Ed25519);
    CHECK((*ed)->bits() == 256);
}

TEST_CASE("PKCS#8 PEM and base64 DER give the same key", "[dkim][key]") {
    for (const char* name : {"rsa2048.pem", "ed25519.pem"}) {
        INFO(name);
        auto k = PrivateKey::fromPem(goldenKey(name));
        REQUIRE(k);
        const std::string pkcs8 = (*k)->pemPrivate();
        CHECK(pkcs8.rfind("-----BEGIN PRIVATE KEY-----\n", 0) == 0);
        auto fromPkcs8 = PrivateKey::fromPem(pkcs8);
        REQUIRE(fromPkcs8);
        CHECK((*fromPkcs8)->publicKeyBase64() == (*k)->publicKeyBase64());
        // base64 DER: PKCS#8 for both, PKCS#1 for RSA; folded base64 is fine.
        auto der8 = PrivateKey::fromPem(pemBody(pkcs8));
        REQUIRE(der8);
        CHECK((*der8)->publicKeyBase64() == (*k)->publicKeyBase64());
        auto derOrig = PrivateKey::fromPem(pemBody(goldenKey(name)) + "\n");
        REQUIRE(derOrig);
        CHECK((*derOrig)->publicKeyBase64() == (*k)->publicKeyBase64());
    }
}

TEST_CASE("a raw 32-byte Ed25519 seed (dkimpy format) is accepted", "[dkim][key]") {
    auto k = PrivateKey::fromPem(goldenKey("ed25519.pem"));
    REQUIRE(k);
    auto der = base64Decode(pemBody((*k)->pemPrivate()));
    REQUIRE(der);
    REQUIRE(der->size() == 48);  // PKCS#8 prefix (16 bytes) + seed
    const std::string seed = base64(reinterpret_cast<const uint8_t*>(der->data()) + 16, 32);
    auto fromSeed = PrivateKey::fromPem(seed);
    REQUIRE(fromSeed);
    CHECK((*fromSeed)->algorithm() == KeyAlgorithm::Ed25519);
    CHECK((*fromSeed)->publicKeyBase64() == (*k)->publicKeyBase64());
}

TEST_CASE("weak, foreign, encrypted and malformed keys are refused", "[dkim][key]") {
    SECTION("RSA under 1024 bits") {
        EvpPkeyPtr weak(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{768}));
        REQUIRE(weak);
        CHECK(PrivateKey::fromPem(pemOf(weak.get())).error() == "RSA key of 768 bits is too short (minimum 1024)");
        CHECK(PrivateKey::generate(KeyAlgorithm::Rsa, 768).error() ==
              "RSA key size must be between 1024 and 16384 bits, not 768");
    }
    SECTION("EC keys name their type") {
        EvpPkeyPtr ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
        REQUIRE(ec);
        CHECK(PrivateKey::fromPem(pemOf(ec.get())).error() == "unsupported key type EC (DKIM keys are RSA or Ed25519)");
    }
    SECTION("encrypted keys fail without prompting") {
        EvpPkeyPtr raw(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
        const std::string enc = pemOf(raw.get(), EVP_aes_128_cbc(), "secret");
        CHECK(enc.find("ENCRYPTED") != std::string::npos);
        CHECK(PrivateKey::fromPem(enc).error() ==
              "the key is encrypted; DKIM keys must be stored without a passphrase");
    }
    SECTION("public keys, garbage, empty input") {
        CHECK(PrivateKey::fromPem("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC "
                                  "KEY-----\n")
                  .error() == "this is a public key; a private key is needed");
        CHECK(PrivateKey::fromPem("").error() == "no key data");
        CHECK(PrivateKey::fromPem("  \n").error() == "no key data");
        CHECK(PrivateKey::fromPem("not a key!").error() ==
              "not a PEM private key, and not base64 DER (base64: invalid character '!')");
        CHECK(PrivateKey::fromPem("AAAAAAAA").error().rfind("cannot parse base64 DER private key: ", 0) == 0);
        const std::string truncated = goldenKey("rsa2048.pem").substr(0, 300);
        CHECK(PrivateKey::fromPem(truncated).error().rfind("cannot parse PEM private key: ", 0) == 0);
    }
}

TEST_CASE("signatures verify with OpenSSL and RSA ones are deterministic", "[dkim][key]") {
    const std::string data = "from:alice@example.com\r\ndkim-signature:v=1; b=";
    const auto digest = digestOf(data);
    for (const char* name : {"rsa2048.pem", "ed25519.pem"}) {
        INFO(name);
        auto k = PrivateKey::fromPem(goldenKey(name));
        REQUIRE(k);
        auto sig = (*k)->signDigest(digest.data());
        REQUIRE(sig);
        CHECK(sig->size() == ((*k)->algorithm() == KeyAlgorithm::Rsa ? 256u : 64u));
        CHECK(opensslVerify(**k, data, *sig));
        CHECK_FALSE(opensslVerify(**k, data + "x", *sig));
        auto again = (*k)->signDigest(digest.data());
        CHECK(*again == *sig);  // PKCS#1 v1.5 and Ed25519 are deterministic
    }
}

TEST_CASE("one key signs from many threads at once", "[dkim][key]") {
    // The milter shares one PrivateKey between its worker threads (run under TSan too).
    for (const char* name : {"rsa2048.pem", "ed25519.pem"}) {
        auto k = PrivateKey::fromPem(goldenKey(name));
        REQUIRE(k);
        std::shared_ptr<const PrivateKey> key = *k;
        const auto digest = digestOf("shared key");
        const std::vector<uint8_t> expected = *key->signDigest(digest.data());
        std::vector<int> good(4, 0);
        std::vector<std::thread> threads;
        for (size_t t = 0; t < good.size(); ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 25; ++i) {
                    auto sig = key->signDigest(digest.data());
                    if (sig && *sig == expected) ++good[t];
                }
            });
        }
        for (auto& th : threads)
            th.join();
        CHECK(good == std::vector<int>(4, 25));
    }
}

TEST_CASE("generated keys sign and publish", "[dkim][key]") {
    auto rsa = PrivateKey::generate(KeyAlgorithm::Rsa, 1024);
    REQUIRE(rsa);
    CHECK((*rsa)->bits() == 1024);
    auto ed = PrivateKey::generate(KeyAlgorithm::Ed25519, 0);
    REQUIRE(ed);
    CHECK((*ed)->algorithm() == KeyAlgorithm::Ed25519);
    const auto digest = digestOf("abc");
    for (const auto& k : {*rsa, *ed}) {
        auto sig = k->signDigest(digest.data());
        REQUIRE(sig);
        CHECK(opensslVerify(*k, "abc", *sig));
        auto reparsed = PrivateKey::fromPem(k->pemPrivate());
        REQUIRE(reparsed);
        CHECK((*reparsed)->publicKeyBase64() == k->publicKeyBase64());
    }
}

TEST_CASE("public keys for DNS", "[dkim][key]") {
    auto ed = PrivateKey::fromPem(goldenKey("ed25519.pem"));
    REQUIRE(ed);
    CHECK(base64Decode((*ed)->publicKeyBase64())->size() == 32);
    CHECK((*ed)->dnsRecord() == "v=DKIM1; k=ed25519; p=" + (*ed)->publicKeyBase64());
    auto rsa = PrivateKey::fromPem(goldenKey("rsa2048.pem"));
    REQUIRE(rsa);
    CHECK((*rsa)->publicKeyBase64().rfind("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", 0) == 0);
    CHECK((*rsa)->dnsRecord() == "v=DKIM1; k=rsa; p=" + (*rsa)->publicKeyBase64());

    auto rec = parsePublicKeyRecord((*rsa)->dnsRecord());
    REQUIRE(rec);
    CHECK(rec->version == "DKIM1");
    CHECK(rec->keyType == "rsa");
    CHECK(rec->p == (*rsa)->publicKeyBase64());
    CHECK(publishedRsaBits(*rec) == 2048);
    auto edRec = parsePublicKeyRecord((*ed)->dnsRecord());
    REQUIRE(edRec);
    CHECK(edRec->keyType == "ed25519");
    CHECK(publishedRsaBits(*edRec) == 0);
}

TEST_CASE("published key records: tag=value syntax", "[dkim][key]") {
    auto rsa = PrivateKey::fromPem(goldenKey("rsa2048.pem"));
    REQUIRE(rsa);
    const std::string p = (*rsa)->publicKeyBase64();
    SECTION("whitespace inside p= is removed, unknown tags are ignored") {
        std::string folded = "v=DKIM1;\tk=rsa ; n=some notes here; p=" + p.substr(0, 100) + " \r\n\t" +
                             p.substr(100, 100) + " " + p.substr(200) + " ;";
        auto rec = parsePublicKeyRecord(folded);
        REQUIRE(rec);
        CHECK(rec->p == p);
        CHECK(publishedRsaBits(*rec) == 2048);
        CHECK_FALSE(rec->testing);
    }
    SECTION("defaults: no v=, no k=") {
        auto rec = parsePublicKeyRecord("p=" + p);
        REQUIRE(rec);
        CHECK(rec->version.empty());
        CHECK(rec->keyType == "rsa");
    }
    SECTION("t=y marks a test key; empty p= is a revoked key") {
        auto rec = parsePublicKeyRecord("v=DKIM1; t=s:y; p=");
        REQUIRE(rec);
        CHECK(rec->testing);
        CHECK(rec->p.empty());
        CHECK(publishedRsaBits(*rec) == 0);
        CHECK_FALSE(parsePublicKeyRecord("t=s; p=")->testing);
    }
    SECTION("errors") {
        CHECK(parsePublicKeyRecord("").error() == "empty key record");
        CHECK(parsePublicKeyRecord("v=DKIM1; k=rsa").error() == "no p= tag (the public key)");
        CHECK(parsePublicKeyRecord("v=DKIM2; p=" + p).error() == "unsupported version v=DKIM2 (expected DKIM1)");
        CHECK(parsePublicKeyRecord("k=rsa; v=DKIM1; p=" + p).error() == "v= must be the first tag");
        CHECK(parsePublicKeyRecord("v=DKIM1; p=" + p + "; p=" + p).error() == "duplicate tag p=");
        CHECK(parsePublicKeyRecord("v=DKIM1; garbage; p=" + p).error() ==
              "malformed tag \"garbage\" (expected name=value)");
        CHECK(parsePublicKeyRecord("v=DKIM1; 9x=1; p=" + p).error() == "invalid tag name \"9x\"");
        CHECK(parsePublicKeyRecord("v=DKIM1; p=abc!def").error() ==
              "p= is not valid base64 (base64: invalid character '!')");
        CHECK(parsePublicKeyRecord("v=DKIM1; n=caf\xc3\xa9; p=" + p).error() == "invalid character in n= value");
    }
    SECTION("a p= that is not an RSA public key has no RSA size") {
        CHECK(publishedRsaBits(*parsePublicKeyRecord("p=QUJDRA==")) == 0);
    }
}

TEST_CASE("key file safety (RequireSafeKeys)", "[dkim][key]") {
    TempDir dir;
    ::chmod(dir.path.c_str(), 0700);
    const std::string pem = goldenKey("ed25519.pem");
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    const gid_t otherGid = gid + 4242;

    SECTION("0600 is safe; 0640 only with the allowed group") {
        const std::string k = dir.write("a.key", pem, 0600);
        CHECK(checkKeyFileSafety(k, uid, gid).ok());
        ::chmod(k.c_str(), 0640);
        CHECK(checkKeyFileSafety(k, uid, gid).ok());
        const std::string err = checkKeyFileSafety(k, uid, otherGid).error();
        CHECK(err.rfind(k + " is readable by group gid " + std::to_string(gid), 0) == 0);
        CHECK(err.find("(mode 0640), which is not rampart's group gid " + std::to_string(otherGid)) !=
              std::string::npos);
        CHECK(err.find("; run: chmod 600 " + k) != std::string::npos);
    }
    SECTION("others may have no access at all") {
        const std::string k = dir.write("a.key", pem, 0644);
        CHECK(checkKeyFileSafety(k, uid, gid).error() ==
              k + " is readable by other users (mode 0644); run: chmod 600 " + k);
        ::chmod(k.c_str(), 0602);
        CHECK(checkKeyFileSafety(k, uid, gid).error() ==
              k + " is accessible by other users (mode 0602); run: chmod 600 " + k);
    }
    SECTION("never group-writable") {
        const std::string k = dir.write("a.key", pem, 0660);
        CHECK(checkKeyFileSafety(k, uid, gid).error() ==
              k + " is writable by its group (mode 0660); run: chmod 600 " + k);
    }
    SECTION("the directory must not be writable by others unless sticky") {
        const std::string k = dir.write("a.key", pem, 0600);
        ::chmod(dir.path.c_str(), 0777);
        CHECK(checkKeyFileSafety(k, uid, gid).error() ==
              "directory " + dir.path +
                  " is writable by other users (mode 0777), so anyone can replace the key; run: "
                  "chmod o-w " +
                  dir.path);
        ::chmod(dir.path.c_str(), 01777);
        CHECK(checkKeyFileSafety(k, uid, gid).ok());
        ::chmod(dir.path.c_str(), 0770);
        if (gid != 0) {
            CHECK(checkKeyFileSafety(k, uid, otherGid)
                      .error()
                      .rfind("directory " + dir.path + " is writable by group gid ", 0) == 0);
        }
        CHECK(checkKeyFileSafety(k, uid, gid).ok());
        ::chmod(dir.path.c_str(), 0700);
    }
    SECTION("symlinks are followed: the target's mode and directory count") {
        fs::create_directory(dir.path + "/real");
        ::chmod((dir.path + "/real").c_str(), 0777);
        const std::string target = dir.write("real/a.key", pem, 0600);
        const std::string link = dir.path + "/link.key";
        fs::create_symlink(target, link);
        CHECK(checkKeyFileSafety(link, uid, gid)
                  .error()
                  .rfind("directory " + dir.path + "/real is writable by other users", 0) == 0);
        ::chmod((dir.path + "/real").c_str(), 0700);
        CHECK(checkKeyFileSafety(link, uid, gid).ok());
        ::chmod(target.c_str(), 0644);
        CHECK(checkKeyFileSafety(link, uid, gid).error() ==
              link + " is readable by other users (mode 0644); run: chmod 600 " + link);
    }
    SECTION("owner must be root or the allowed user") {
        const std::string k = dir.write("a.key", pem, 0600);
        if (uid == 0) {
            REQUIRE(::chown(k.c_str(), 4242, gid) == 0);
            CHECK(checkKeyFileSafety(k, 0, gid).error().rfind(
                      k +
                          " is owned by uid 4242; it must belong to root or to uid 0 (root); run: "
                          "chown root " +
                          k,
                      0) == 0);
            CHECK(checkKeyFileSafety(k, 4242, gid).ok());
        } else {
            CHECK(checkKeyFileSafety(k, uid + 1, gid).error().rfind(k + " is owned by uid " + std::to_string(uid), 0) ==
                  0);
        }
    }
    SECTION("missing files and non-files") {
        CHECK(checkKeyFileSafety(dir.path + "/none.key", uid, gid).error() ==
              "cannot check " + dir.path + "/none.key: No such file or directory");
        CHECK(checkKeyFileSafety(dir.path, uid, gid).error() == dir.path + " is not a regular file");
    }
}

TEST_CASE("loading key files", "[dkim][key]") {
    TempDir dir;
    ::chmod(dir.path.c_str(), 0700);
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    KeyFileOptions opts{true, uid, gid};

    const std::string good = dir.write("good.key", goldenKey("rsa2048.pem"), 0600);
    auto k = loadKeyFile(good, opts);
    REQUIRE(k);
    CHECK((*k)->bits() == 2048);

    const std::string open = dir.write("open.key", goldenKey("rsa2048.pem"), 0644);
    CHECK(loadKeyFile(open, opts).error() == open + " is readable by other users (mode 0644); run: chmod 600 " + open);
    opts.requireSafe = false;
    CHECK(loadKeyFile(open, opts).ok());

    const std::string bad = dir.write("bad.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n", 0600);
    CHECK(loadKeyFile(bad, opts).error().rfind(bad + ": cannot parse PEM private key: ", 0) == 0);
    CHECK(loadKeyFile(dir.path + "/missing.key", opts).error() ==
          dir.path + "/missing.key: cannot open: No such file or directory");
    CHECK(loadKeyFile(dir.path, opts).error() == dir.path + " is not a regular file");
}
