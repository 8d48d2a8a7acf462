// OpenDKIM KeyTable / SigningTable: formats, diagnostics with file:line, OpenDKIM's lookup order,
// refile: wildcards, loading from files.
#include "dkim/tables.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

using namespace rampart;
using namespace rampart::dkim;

namespace {

std::string errors(const config::Diagnostics& d) {
    return d.str();
}

}  // namespace

TEST_CASE("KeyTable lines: KEYNAME DOMAIN:SELECTOR:KEYPATH", "[dkim][tables]") {
    config::Diagnostics d;
    KeyTable t = KeyTable::parse(
        "# comment\n"
        "\n"
        "k1  example.com:sel2024:/etc/rampart/keys/example.key\n"
        "   k2\tExample.NET:s1:./keys/%.key   # trailing comment\r\n"
        "k3 %:default:/etc/keys/%/default.key\n"
        "k4 b\xc3\xbc"
        "cher.example:sel:/k:with:colons.pem\n",
        "keys.table", d);
    CHECK(errors(d) == "");
    REQUIRE(t.entries().size() == 4);
    const KeyTableEntry* k1 = t.find("k1");
    REQUIRE(k1 != nullptr);
    CHECK(k1->domain == "example.com");
    CHECK(k1->selector == "sel2024");
    CHECK(k1->keyPath == "/etc/rampart/keys/example.key");
    CHECK(k1->where.str() == "keys.table:3");
    CHECK_FALSE(k1->domainIsTemplate());
    const KeyTableEntry* k2 = t.find("k2");
    REQUIRE(k2 != nullptr);
    CHECK(k2->domain == "example.net");
    CHECK(k2->keyPath == "./keys/%.key");
    CHECK(k2->pathIsTemplate());
    CHECK(t.find("k3")->domainIsTemplate());
    CHECK(t.find("k4")->domain == "xn--bcher-kva.example");
    CHECK(t.find("k4")->keyPath == "/k:with:colons.pem");
    CHECK(t.find("K1") == nullptr);  // case-sensitive, as OpenDKIM
    CHECK(t.find("nope") == nullptr);
}

TEST_CASE("KeyTable errors name file, line and problem; bad lines are skipped", "[dkim][tables]") {
    config::Diagnostics d;
    KeyTable t = KeyTable::parse(
        "lonely\n"
        "k1 example.com/sel/key\n"
        "k2 example.com:sel\n"
        "k3 exa_mple.com:sel:/k\n"
        "k4 example.com:se l:/k\n"
        "k5 example.com:sel:\n"
        "k6 example.com:sel:MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
        "ok example.com:sel:/k\n"
        "ok example.org:sel:/other\n"
        "k7 :sel:/k\n",
        "/etc/rampart/keys.table", d);
    CHECK(errors(d) ==
          "/etc/rampart/keys.table:1: expected KEYNAME DOMAIN:SELECTOR:KEYPATH, got only "
          "\"lonely\"\n"
          "/etc/rampart/keys.table:2: key \"k1\": expected DOMAIN:SELECTOR:KEYPATH, got "
          "\"example.com/sel/key\"\n"
          "/etc/rampart/keys.table:3: key \"k2\": expected DOMAIN:SELECTOR:KEYPATH, got "
          "\"example.com:sel\"\n"
          "/etc/rampart/keys.table:4: key \"k3\": invalid domain name \"exa_mple.com\": "
          "character '_' not allowed\n"
          "/etc/rampart/keys.table:5: key \"k4\": invalid selector \"se l\" (letters, digits, '-', "
          "'_' and '.')\n"
          "/etc/rampart/keys.table:6: key \"k5\": no key file path after the selector\n"
          "/etc/rampart/keys.table:7: key \"k6\": key path \"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\" "
          "must be a file path starting with /, ./ or ../ (inline key data is not supported)\n"
          "/etc/rampart/keys.table:9: warning: duplicate key name \"ok\" (first defined at "
          "/etc/rampart/keys.table:8); this line is ignored\n"
          "/etc/rampart/keys.table:10: key \"k7\": empty domain name\n");
    CHECK(d.hasErrors());
    REQUIRE(t.entries().size() == 1);
    CHECK(t.find("ok")->domain == "example.com");
}

TEST_CASE("SigningTable file: OpenDKIM lookup order", "[dkim][tables]") {
    config::Diagnostics d;
    SigningTable t = SigningTable::parse(
        "*                       k-default\n"
        "User@*                  k-user-any\n"
        ".example.com            k-dot-example\n"
        "user@.example.com       k-user-dot-example\n"
        ".mail.example.com       k-dot-mail\n"
        "mail.example.com        k-host\n"
        "user@mail.example.com   k-exact\n"
        "user@mail.example.com   k-exact-2\n"
        "other@mail.example.com  k-exact\n",
        "signing.table", false, d);
    CHECK(errors(d) == "");
    CHECK_FALSE(t.regexStyle());
    REQUIRE(t.entries().size() == 9);
    CHECK(t.entries()[1].key == "user@*");

    CHECK(t.lookup("user@sub.mail.example.com", true) ==
          std::vector<std::string>{"k-dot-mail", "k-user-dot-example", "k-dot-example", "k-user-any", "k-default"});
    CHECK(t.lookup("user@mail.example.com", true) == std::vector<std::string>{"k-exact", "k-exact-2", "k-host",
                                                                              "k-user-dot-example", "k-dot-example",
                                                                              "k-user-any", "k-default"});
    CHECK(t.lookup("USER@Mail.Example.COM", false) == std::vector<std::string>{"k-exact"});
    CHECK(t.lookup("other@mail.example.com", false) == std::vector<std::string>{"k-exact"});
    CHECK(t.lookup("x@mail.example.com", false) == std::vector<std::string>{"k-host"});
    CHECK(t.lookup("x@a.example.com", false) == std::vector<std::string>{"k-dot-example"});
    CHECK(t.lookup("x@example.com", false) == std::vector<std::string>{"k-default"});
    CHECK(t.lookup("user@example.org", false) == std::vector<std::string>{"k-user-any"});
    CHECK(t.lookup("x@example.org", true) == std::vector<std::string>{"k-default"});
}

TEST_CASE("SigningTable without a catch-all finds nothing for strangers", "[dkim][tables]") {
    config::Diagnostics d;
    SigningTable t = SigningTable::parse("example.com k1\n", "st", false, d);
    CHECK(t.lookup("a@example.com", true) == std::vector<std::string>{"k1"});
    CHECK(t.lookup("a@sub.example.com", true).empty());
    CHECK(t.lookup("a@example.org", true).empty());
    CHECK(t.lookup("", true).empty());
}

TEST_CASE("SigningTable refile: wildcards in file order", "[dkim][tables]") {
    config::Diagnostics d;
    SigningTable t = SigningTable::parse(
        "*@newsletter.example.com  k-news\n"
        "*@*.example.com           k-sub\n"
        "*@Example.com             k-main\n"
        "*                         k-any\n"
        "*@newsletter.example.com  k-news\n",
        "signing.re", true, d);
    CHECK(errors(d) == "");
    CHECK(t.regexStyle());
    CHECK(t.lookup("bulk@newsletter.example.com", true) == std::vector<std::string>{"k-news", "k-sub", "k-any"});
    CHECK(t.lookup("bulk@newsletter.example.com", false) == std::vector<std::string>{"k-news"});
    CHECK(t.lookup("a@EXAMPLE.com", true) == std::vector<std::string>{"k-main", "k-any"});
    CHECK(t.lookup("a@example.org", false) == std::vector<std::string>{"k-any"});
}

TEST_CASE("SigningTable errors and warnings", "[dkim][tables]") {
    config::Diagnostics d;
    SigningTable t = SigningTable::parse(
        "example.com\n"
        "example.com k1 k2\n"
        "*.example.com k3\n"
        "ok.example k4\n",
        "st", false, d);
    CHECK(errors(d) ==
          "st:1: expected KEY KEYNAME, got only \"example.com\"\n"
          "st:2: expected KEY KEYNAME, found extra text \"k2\" after the key name\n"
          "st:3: warning: '*' in \"*.example.com\" is not a wildcard in a file: signing table "
          "(only * and user@* are); use refile: for patterns\n");
    CHECK(t.entries().size() == 2);
    config::Diagnostics d2;
    SigningTable::parse("pattern\n", "re", true, d2);
    CHECK(errors(d2) == "re:1: expected PATTERN KEYNAME, got only \"pattern\"\n");
}

TEST_CASE("wildcard matching", "[dkim][tables]") {
    CHECK(wildcardMatch("*", ""));
    CHECK(wildcardMatch("*", "anything"));
    CHECK(wildcardMatch("*@example.com", "a@example.com"));
    CHECK(wildcardMatch("*@EXAMPLE.com", "a@example.COM"));
    CHECK_FALSE(wildcardMatch("*@example.com", "a@example.com.evil"));
    CHECK_FALSE(wildcardMatch("*@example.com", "a@sub.example.org"));
    CHECK(wildcardMatch("a*b*c", "aXXbYYbc"));
    CHECK_FALSE(wildcardMatch("a*b*c", "aXXbYYb"));
    CHECK(wildcardMatch("**x", "x"));
    CHECK(wildcardMatch("", ""));
    CHECK_FALSE(wildcardMatch("", "a"));
    CHECK_FALSE(wildcardMatch("abc", "ab"));
    // No blow-up on adversarial input.
    const std::string text(20000, 'a');
    CHECK_FALSE(wildcardMatch("*a*a*a*a*a*a*a*a*b", text));
}

TEST_CASE("tables load from file: and refile: references", "[dkim][tables]") {
    char tmpl[] = "/tmp/rampart-tables-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    std::ofstream(dir + "/keys") << "k1 example.com:s:/k\nbroken\n";
    std::ofstream(dir + "/signing") << "*@example.com k1\n";

    config::Diagnostics d;
    KeyTable kt = KeyTable::load({"file", dir + "/keys"}, d);
    CHECK(kt.entries().size() == 1);
    CHECK(errors(d) == dir +
                           "/keys:2: expected KEYNAME DOMAIN:SELECTOR:KEYPATH, got only "
                           "\"broken\"\n");

    config::Diagnostics d2;
    SigningTable re = SigningTable::load({"refile", dir + "/signing"}, d2);
    CHECK(re.regexStyle());
    CHECK(re.lookup("a@example.com", false) == std::vector<std::string>{"k1"});
    SigningTable plain = SigningTable::load({"file", dir + "/signing"}, d2);
    CHECK_FALSE(plain.regexStyle());
    CHECK(plain.lookup("a@example.com", false).empty());  // "*@example.com" is a literal key
    CHECK(errors(d2) == dir +
                            "/signing:1: warning: '*' in \"*@example.com\" is not a wildcard "
                            "in a file: signing table (only * and user@* are); use refile: for "
                            "patterns\n");

    config::Diagnostics d3;
    CHECK(KeyTable::load({"file", dir + "/missing"}, d3).entries().empty());
    SigningTable::load({"refile", dir}, d3);
    KeyTable::load({"sqlite", dir + "/x.db"}, d3);
    CHECK(KeyTable::load({}, d3).entries().empty());
    CHECK(errors(d3) == dir + "/missing: cannot open key table: No such file or directory\n" + dir +
                            ": signing table is not a regular file\n" + dir +
                            "/x.db: unsupported table type \"sqlite\" for a KeyTable (use file:" + dir + "/x.db)\n");
    std::filesystem::remove_all(dir);
}
