// Suppression lists, CSV import and export: generic and SES formats, quoting, comments, CRLF, errors
// with line numbers, one transaction per import, and export round-tripping through import.
#include "suppression/csv.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "suppression/helpers.h"

using namespace rampart;
using namespace rampart::suppress;
using namespace rampart::test::suppression;
namespace fs = std::filesystem;

// ------------------------------------------------------------------------------ CSV

TEST_CASE("CSV import, generic format: quoting, comments, CRLF, errors with line numbers", "[suppression]") {
    TempDir dir;
    auto s = openStore(dir / "s.db");
    std::istringstream in(
        "address,reason,scope,expires\r\n"                                                 // 1 header
        "# exported from the old system\r\n"                                               // 2
        "Bob.Smith+x@googlemail.com,BOUNCE\r\n"                                            // 3
        "\r\n"                                                                             // 4
        "carol@example.com,unsubscribe,tenant:Acme,\r\n"                                   // 5
        "\"dave@example.com\",\"complaint\",\"from_domain:acme-mail.com\",2027-06-01\r\n"  // 6
        "@blocked.example\r\n"                                                             // 7: reason manual, global
        "not-an-address,manual\r\n"                                                        // 8: error
        "erin@example.com,spam\r\n"                                                        // 9: error
        "frank@example.com,manual,customer:x\r\n"                                          // 10: error
        "gina@example.com,manual,global,2020-01-01\r\n"                                    // 11: error (passed)
        "hank@example.com,manual,global,someday\r\n"                                       // 12: error
        "ivan@example.com,manual,global,,extra\r\n"                                        // 13: error
        "\"\"\"john doe\"\"@example.com\",manual\r\n"                                      // 14: a quoted local part
        "\"jane\r\n@example.com\",manual\r\n"    // 15-16: a line break inside quotes -> error
        "bob.smith@gmail.com,hard_bounce\r\n"    // 17: same as line 3 -> unchanged
        "kate@example.com,manual,global,30d\n"   // 18
        "\"unterminated@example.com,manual\n");  // 19: error
    auto rep = importCsv(*s, in, "old.csv", CsvFormat::Generic, Scope{}, kDefault, "tester", kNow);
    CHECK(rep.added == 6);
    CHECK(rep.updated == 0);
    CHECK(rep.unchanged == 1);
    std::vector<std::string> expected = {
        "old.csv:8: \"not-an-address\" is neither an address (no '@') nor a domain name (no '.')",
        "old.csv:9: unknown reason \"spam\" (expected hard_bounce, soft_bounce, complaint, unsubscribe, manual or "
        "legal)",
        "old.csv:10: invalid scope \"customer:x\" (expected global, tenant:NAME or from_domain:DOMAIN)",
        "old.csv:11: the expiry 2020-01-01 has already passed",
        "old.csv:12: invalid expiry \"someday\" (expected a date YYYY-MM-DD or a duration such as 30d)",
        "old.csv:13: expected at most 4 fields (address,reason,scope,expires), got 5",
        "old.csv:15: invalid address \"jane\\x0a@example.com\": control character",
        "old.csv:19: unterminated quoted field",
    };
    CHECK(rep.errors == expected);

    CHECK(find(*s, "bobsmith@gmail.com")->reason == Reason::HardBounce);
    CHECK(find(*s, "bobsmith@gmail.com")->source == "import:old.csv");
    CHECK(find(*s, "carol@example.com", tenant("acme"))->reason == Reason::Unsubscribe);
    auto dave = find(*s, "dave@example.com", fromDomain("acme-mail.com"));
    REQUIRE(dave);
    CHECK(dave->expires == std::optional<int64_t>(*parseExpiry("2027-06-01", kNow)));
    CHECK(find(*s, "@blocked.example")->reason == Reason::Manual);
    CHECK(find(*s, "kate@example.com")->expires == kNow + 30 * kDay);
    CHECK(find(*s, "\"john doe\"@example.com").has_value());
    auto a = audit(*s);
    REQUIRE(a.size() == 6);
    CHECK(a[0].who == "tester");
    CHECK(a[0].why == "import of old.csv");

    // A default scope for the rows that name none.
    std::istringstream scoped("zoe@example.com\nyan@example.com,manual,global\n");
    auto rep2 = importCsv(*s, scoped, "/tmp/x/scoped.csv", CsvFormat::Generic, tenant("beta"), kDefault, "t", kNow);
    CHECK(rep2.errors.empty());
    CHECK(rep2.added == 2);
    CHECK(find(*s, "zoe@example.com", tenant("beta")).has_value());
    CHECK(find(*s, "yan@example.com").has_value());
    CHECK(find(*s, "zoe@example.com", tenant("beta"))->source == "import:scoped.csv");
}

TEST_CASE("CSV import, SES format", "[suppression]") {
    TempDir dir;
    auto s = openStore(dir / "s.db");
    std::istringstream in(
        "\xEF\xBB\xBF"
        "email,reason\n"
        "a@example.com,BOUNCE\n"
        "b@example.com,COMPLAINT\n"
        "c@example.com,bounce\n"
        "d@example.com\n"
        "e@example.com,\n"
        "f@example.com,BOUNCE,2024-01-01\n"
        "a@example.com,COMPLAINT\n");
    auto rep = importCsv(*s, in, "ses.csv", CsvFormat::Ses, Scope{}, kDefault, "tester", kNow);
    CHECK(rep.added == 3);
    CHECK(rep.updated == 1);  // a: bounce, then complaint
    CHECK(rep.errors == std::vector<std::string>{
                            "ses.csv:5: missing reason (expected email,reason)",
                            "ses.csv:6: missing reason (expected BOUNCE or COMPLAINT)",
                            "ses.csv:7: expected 2 fields (email,reason), got 3",
                        });
    CHECK(find(*s, "a@example.com")->reason == Reason::Complaint);
    CHECK(find(*s, "b@example.com")->reason == Reason::Complaint);
    CHECK(find(*s, "c@example.com")->reason == Reason::HardBounce);
}

TEST_CASE("CSV import is one transaction and fast", "[suppression]") {
    TempDir dir;
    auto s = openStore(dir / "s.db");
    std::string text = "email,reason\n";
    for (int i = 0; i < 50000; ++i)
        text += "user" + std::to_string(i) + "@example.com,BOUNCE\n";
    std::istringstream in(text);
    auto start = std::chrono::steady_clock::now();
    auto rep = importCsv(*s, in, "big.csv", CsvFormat::Ses, Scope{}, kDefault, "tester", kNow);
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(rep.errors.empty());
    CHECK(rep.added == 50000);
    CHECK(*s->count() == 50000);
    CHECK(*s->lastAuditId() == 50000);
    // One commit: seconds for a million rows, so well under that for 50,000 even in a debug build.
    CHECK(took < std::chrono::seconds(10));
}

TEST_CASE("CSV export round-trips through import", "[suppression]") {
    TempDir dir;
    auto s = openStore(dir / "a.db");
    Entry withNote = entry("bob@example.com", Reason::HardBounce, {}, kNow, kNow + 10 * kDay + 5);
    withNote.note = "550 5.1.1";
    add(*s, withNote);
    add(*s, entry("carol@example.com", Reason::Complaint));
    add(*s, entry("@blocked.example", Reason::Legal));
    add(*s, entry("dave@example.com", Reason::Unsubscribe, tenant("acme,inc")));  // a comma in a field
    add(*s, entry("erin@example.com", Reason::Manual, fromDomain("acme-mail.com"), kNow, kNow + kDay));
    add(*s, entry("gone@example.com", Reason::SoftBounce, {}, kNow - 2 * kDay, kNow - kDay));  // expired: not exported

    std::ostringstream generic;
    auto n = exportCsv(*s, generic, CsvFormat::Generic, kNow);
    REQUIRE(n.ok());
    CHECK(*n == 5);
    CHECK(generic.str() ==
          "address,reason,scope,expires\n"
          "@blocked.example,legal,global,\n"
          "bob@example.com,hard_bounce,global,2027-01-26\n"  // 10 days and 5 s later, rounded up to the day
          "carol@example.com,complaint,global,\n"
          "dave@example.com,unsubscribe,\"tenant:acme,inc\",\n"
          "erin@example.com,manual,from_domain:acme-mail.com,2027-01-17\n");

    auto t = openStore(dir / "b.db");
    std::istringstream back(generic.str());
    auto rep = importCsv(*t, back, "export.csv", CsvFormat::Generic, Scope{}, kDefault, "tester", kNow);
    CHECK(rep.errors.empty());
    CHECK(rep.added == 5);
    auto orig = s->list(std::nullopt, std::nullopt, "", 0);
    auto copy = t->list(std::nullopt, std::nullopt, "", 0);
    REQUIRE(orig.ok());
    REQUIRE(copy.ok());
    REQUIRE(copy->size() == 5);
    size_t j = 0;
    for (const auto& e : *orig) {
        if (e.target == "gone@example.com") continue;
        const Entry& c = (*copy)[j++];
        CHECK(c.target == e.target);
        CHECK(c.scope == e.scope);
        CHECK(c.reason == e.reason);
        CHECK(c.expires.has_value() == e.expires.has_value());
        if (e.expires) {
            CHECK(*c.expires >= *e.expires);  // never shorter
            CHECK(*c.expires < *e.expires + kDay);
        }
    }
    // Exporting the copy gives the same file.
    std::ostringstream again;
    REQUIRE(exportCsv(*t, again, CsvFormat::Generic, kNow).ok());
    CHECK(again.str() == generic.str());

    std::ostringstream ses;
    n = exportCsv(*s, ses, CsvFormat::Ses, kNow);
    REQUIRE(n.ok());
    CHECK(*n == 3);  // global entries only
    CHECK(ses.str() ==
          "email,reason\n"
          "@blocked.example,legal\n"
          "bob@example.com,BOUNCE\n"
          "carol@example.com,COMPLAINT\n");
    auto u = openStore(dir / "c.db");
    std::istringstream sesBack(ses.str());
    auto rep2 = importCsv(*u, sesBack, "ses.csv", CsvFormat::Ses, Scope{}, kDefault, "tester", kNow);
    CHECK(rep2.errors.empty());
    CHECK(rep2.added == 3);
    CHECK(find(*u, "bob@example.com")->reason == Reason::HardBounce);
    CHECK(find(*u, "carol@example.com")->reason == Reason::Complaint);
    CHECK(find(*u, "@blocked.example")->reason == Reason::Legal);
}
