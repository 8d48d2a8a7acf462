// tenant_map: file: and refile: tables, diagnostics with file:line, and who is whose tenant (a
// login without an entry is its own tenant; without a login the envelope sender decides).
#include "mail/tenants.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "temp_dir.h"

using namespace rampart;
using rampart::mail::TenantMap;
namespace fs = std::filesystem;

namespace {

struct TempDir : test::TempDir {
    TempDir() : test::TempDir("tenants") {}
};

}  // namespace

TEST_CASE("tenant map file: exact logins, *@domain, *", "[tenants]") {
    config::Diagnostics d;
    TenantMap m = TenantMap::parse(
        "# customers\n"
        "alice@acme-mail.com   Acme\n"
        "*@acme-mail.com       acme\n"
        "bob                   beta   # a plain SASL login\n"
        "*@Beta.Example        beta\r\n"
        "\n"
        "sales@beta.example    beta-sales\n",
        "tenants", d);
    CHECK(d.all().empty());
    CHECK(m.size() == 5);
    // Logins: an entry, then the domain pattern; tenant names are lower-case.
    CHECK(m.tenantOf("alice@acme-mail.com", "") == "acme");
    CHECK(m.tenantOf("Carol@ACME-mail.com", "") == "acme");
    CHECK(m.tenantOf("bob", "whatever@example.com") == "beta");
    CHECK(m.tenantOf("sales@beta.example", "") == "beta-sales");
    CHECK(m.tenantOf("other@beta.example", "") == "beta");
    // A login without an entry is its own tenant, lower-cased; the sender does not matter then.
    CHECK(m.tenantOf("Dave@Example.com", "x@acme-mail.com") == "dave@example.com");
    CHECK(m.tenantOf("  eve  ", "") == "eve");
    // Without a login: the envelope sender, looked up the same way; no match, no tenant.
    CHECK(m.tenantOf("", "newsletter@acme-mail.com") == "acme");
    CHECK(m.tenantOf("", "<Sales@Beta.example>") == "beta-sales");
    CHECK(m.tenantOf("", "someone@example.com") == "");
    CHECK(m.tenantOf("", "<>") == "");
    CHECK(m.tenantOf("", "") == "");
}

TEST_CASE("tenant map file: a catch-all and subdomains", "[tenants]") {
    config::Diagnostics d;
    TenantMap m = TenantMap::parse("*@acme.example acme\n* house\n", "t", d);
    CHECK(d.all().empty());
    CHECK(m.tenantOf("", "a@acme.example") == "acme");
    CHECK(m.tenantOf("", "a@mail.acme.example") == "house");  // *@domain is that domain only
    CHECK(m.tenantOf("", "a@example.org") == "house");
    CHECK(m.tenantOf("someone", "") == "house");  // the catch-all names logins too
}

TEST_CASE("tenant map: malformed lines are reported with file:line and skipped", "[tenants]") {
    config::Diagnostics d;
    TenantMap m = TenantMap::parse(
        "alice@acme.example acme\n"
        "lonely\n"
        "bob@beta.example beta extra words\n"
        "alice@ACME.example other\n"
        "a*b@example.com x\n"
        "carol\x01@example.com x\n",
        "/etc/rampart/tenants", d);
    CHECK(d.str() ==
          "/etc/rampart/tenants:2: expected PATTERN TENANT, got only \"lonely\"\n"
          "/etc/rampart/tenants:3: expected PATTERN TENANT, found extra text \"extra words\" after the tenant\n"
          "/etc/rampart/tenants:4: warning: duplicate pattern \"alice@ACME.example\" (first at line 1); this line is "
          "ignored\n"
          "/etc/rampart/tenants:5: warning: '*' in \"a*b@example.com\" is not a wildcard in a file: tenant map (only * "
          "and *@domain are); use refile: for patterns\n"
          "/etc/rampart/tenants:6: control character in \"carol\\x01@example.com x\"\n");
    CHECK(d.hasErrors());
    CHECK(m.size() == 2);
    CHECK(m.tenantOf("alice@acme.example", "") == "acme");  // the first line wins
    CHECK(m.tenantOf("a*b@example.com", "") == "x");        // literal in a file: table
    CHECK(m.tenantOf("axxb@example.com", "") == "axxb@example.com");
}

TEST_CASE("tenant map: loading file: and refile: tables", "[tenants]") {
    TempDir dir;
    std::ofstream(dir / "file") << "alice@acme.example acme\n*@beta.example beta\nbroken\n";
    std::ofstream(dir / "refile") << "*@*.acme.example acme-sub\n"
                                     "*@acme.example acme\n"
                                     "sales-*@* sales\n"
                                     "*@*.acme.example never-reached\n";

    config::Diagnostics d;
    TenantMap f = TenantMap::load({"file", dir / "file"}, d);
    CHECK(d.str() == dir / "file" + ":3: expected PATTERN TENANT, got only \"broken\"\n");
    CHECK(f.size() == 2);
    CHECK(f.tenantOf("", "x@beta.example") == "beta");

    config::Diagnostics d2;
    TenantMap r = TenantMap::load({"refile", dir / "refile"}, d2);
    CHECK(d2.all().empty());
    CHECK(r.size() == 4);
    // File order: the first pattern that matches wins.
    CHECK(r.tenantOf("bob@mail.acme.example", "") == "acme-sub");
    CHECK(r.tenantOf("Bob@ACME.example", "") == "acme");
    CHECK(r.tenantOf("sales-eu@acme.example", "") == "acme");
    CHECK(r.tenantOf("sales-eu@example.org", "") == "sales");
    CHECK(r.tenantOf("nobody@example.org", "") == "nobody@example.org");
    CHECK(r.tenantOf("", "nobody@example.org") == "");

    config::Diagnostics d3;
    TenantMap missing = TenantMap::load({"file", dir / "missing"}, d3);
    CHECK(missing.size() == 0);
    CHECK(d3.str() == dir / "missing" + ": cannot open tenant map: No such file or directory\n");

    config::Diagnostics d4;
    TenantMap wrongType = TenantMap::load({"sqlite", dir / "file"}, d4);
    CHECK(wrongType.size() == 0);
    CHECK(d4.str() == dir / "file" + ": unsupported table type \"sqlite\" for tenant_map (use file: or refile:)\n");

    config::Diagnostics d5;
    TenantMap aDir = TenantMap::load({"file", dir.path}, d5);
    CHECK(d5.str() == dir.path + ": tenant map is not a regular file\n");

    config::Diagnostics d6;
    TenantMap none = TenantMap::load({}, d6);
    CHECK(d6.all().empty());
    CHECK(none.size() == 0);
    // An empty map: every login is its own tenant, senders have none.
    CHECK(none.tenantOf("Alice", "") == "alice");
    CHECK(none.tenantOf("", "alice@example.com") == "");
}
