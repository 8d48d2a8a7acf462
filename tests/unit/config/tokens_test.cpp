#include "util/tokens.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

using namespace rampart::util;
using namespace std::chrono_literals;

TEST_CASE("claims round-trip and are opaque", "[tokens]") {
    Keyring k = Keyring::fromSecret("correct horse battery staple, 32 chars");
    MessageClaim c{"bob@example.org", "acme-mail.com", "acme", 1795363200};
    std::string t = sealClaim(k, c, "unsubscribe");
    CHECK(t.find("bob") == std::string::npos);
    CHECK(t.find("acme") == std::string::npos);
    CHECK(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
    auto back = openClaim(k, t, "unsubscribe", 1795363200 + 60, 365 * 24h);
    REQUIRE(back);
    CHECK(*back == c);
    CHECK(sealClaim(k, c, "unsubscribe") != t);  // random nonce
}

TEST_CASE("tokens refuse tampering, other purposes, unknown keys and age", "[tokens]") {
    Keyring k = Keyring::fromSecret("correct horse battery staple, 32 chars");
    MessageClaim c{"bob@example.org", "acme-mail.com", "", 1795363200};
    std::string t = sealClaim(k, c, "unsubscribe");
    std::string bad = t;
    bad[bad.size() / 2] = bad[bad.size() / 2] == 'A' ? 'B' : 'A';
    CHECK(openClaim(k, bad, "unsubscribe", 1795363200, 0s).error() == "token altered or not ours");
    CHECK(openClaim(k, t, "reference", 1795363200, 0s).error() == "token altered or not ours");
    CHECK(openClaim(k, "garbage!", "unsubscribe", 1795363200, 0s).error() == "not a token (bad character)");
    CHECK(openClaim(k, "AAAA", "unsubscribe", 1795363200, 0s).error() == "not a token (too short)");
    CHECK(openClaim(k, t, "unsubscribe", 1795363200 + 400 * 86400, 365 * 24h).error() == "token expired");
    Keyring other = Keyring::fromSecret("another secret of 32 characters!", 2);
    CHECK(openClaim(other, t, "unsubscribe", 1795363200, 0s).error() ==
          "token sealed with key 1, which is not (or no longer) configured");
}

TEST_CASE("key files rotate: the first key seals, all open", "[tokens]") {
    auto dir = std::filesystem::temp_directory_path() / "rampart-tokens-test";
    std::filesystem::create_directories(dir);
    auto f = dir / "secrets";
    std::ofstream(f)
        << "# new key first\n2 a-newer-secret-of-enough-length\n1 correct horse battery staple, 32 chars\n";
    auto both = Keyring::load("file:" + f.string());
    REQUIRE(both);
    CHECK(both->currentId() == 2);
    Keyring old = Keyring::fromSecret("correct horse battery staple, 32 chars");
    MessageClaim c{"a@b.example", "b.example", "t", 1795363200};
    CHECK(openClaim(*both, sealClaim(old, c, "unsubscribe"), "unsubscribe", 1795363200, 0s));
    CHECK(openClaim(*both, sealClaim(*both, c, "unsubscribe"), "unsubscribe", 1795363200, 0s));
    std::ofstream(f) << "1 short\n";
    CHECK(Keyring::load("file:" + f.string()).error() == f.string() + ":1: secret too short (at least 16 characters)");
    CHECK(Keyring::load("tiny").error() == "the secret is too short (at least 16 characters; use 32 random ones)");
    std::filesystem::remove_all(dir);
}
