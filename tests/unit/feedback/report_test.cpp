// Bounce and complaint reports: the sample corpus in tests/data/reports (Postfix, Gmail, Microsoft,
// Yahoo, Sendmail, qmail and Exim bounces, ARF complaints from a generic FBL, Microsoft JMRP and
// Yahoo CFL, unsubscribe requests, garbage), the DSN, ARF, non-standard bounce and token readers.
// The parser reads untrusted mail: random and truncated input must give an answer, never an
// exception or a crash. The MIME reader is tested in tests/unit/mail/mime_test.cpp, the classifier
// and rule file in classifier_test.cpp.
#include "feedback/report.h"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "feedback/report_fixtures.h"
#include "mail/mime.h"

using namespace rampart::feedback;
using namespace rampart::test;
using rampart::mail::parseMime;
using Kind = Report::Kind;

namespace {

struct DsnExpect {
    std::string file;
    std::string recipient;
    std::string action;
    std::string status;
    std::string category;
    ActionClass actionClass;
    bool heuristic;
    std::string refToken;  // X-Rampart-Ref of the returned message; "" if none returned
};

// One recipient each.
const std::vector<DsnExpect> kSingleDsn = {
    {"gmail-5.1.1-nosuchuser.eml", "bob@gmail.com", "failed", "5.1.1", "InvalidRecipient", ActionClass::HardAddress,
     false, "AQ3xK9vR2mT7pL0qZ5wN8bY4cJ6hF1gD-sE_uW2aV7kM9nB3rT5yX0zQ4"},
    {"gmail-4.2.2-quota-delayed.eml", "alice.w@gmail.com", "delayed", "4.2.2", "QuotaIssues", ActionClass::SoftAddress,
     false, "AQ9tB4kX2pN7mL5qV0wR8cY3zJ6hD1gF-sA_uE2bW7kT9nM3rQ5yC0xP4"},
    {"gmail-5.2.2-overquota.eml", "carl.d@gmail.com", "failed", "5.2.2", "QuotaIssues", ActionClass::SoftAddress, false,
     ""},
    {"gmail-5.7.1-unsolicited.eml", "dana.k@gmail.com", "failed", "5.7.1", "SpamBlock", ActionClass::SenderPolicy,
     false, "AQ2pL8vW4mK7xT0qR5zN9bY1cJ3hF6gD-sE_uA2aV7kM9nB3rT5yX0zQ8"},
    {"gmail-5.7.26-unauthenticated.eml", "erik.m@gmail.com", "failed", "5.7.26", "AuthenticationFailed",
     ActionClass::SenderPolicy, false, "AQ5hT1kB8pW3mX6qL0vN2cZ9rY4jD7gF-sU_eA2wV7kM9nB3tR5yC0xQ1"},
    {"microsoft-5.1.10-recipientnotfound.eml", "carol@fabrikam.example", "failed", "5.1.10", "InvalidRecipient",
     ActionClass::HardAddress, false, "AQ8wC3kN1pR6mT9qX4vL7bZ2cY5hJ0gD-sF_uE2aW7kM9nB3rT5yV0zQ6"},
    {"microsoft-s3140-blocklist.eml", "frank_t@hotmail.com", "failed", "5.7.1", "SpamBlock", ActionClass::SenderPolicy,
     false, "AQ4mK7xB1pT9vW2qL5zN8cR3jY6hF0gD-sA_uE2bV7kM9nX3rT5yC0wQ2"},
    {"yahoo-554-no-account.eml", "gina.r@yahoo.com", "failed", "5.0.0", "InvalidRecipient", ActionClass::HardAddress,
     false, "AQ6nR2kW9pB4mT7qX1vL3cZ8jY5hD0gF-sE_uA2wN7kM9tB3rQ5yC0xV7"},
    {"yahoo-tss04-delayed.eml", "hank99@yahoo.com", "delayed", "4.7.0", "RateLimited", ActionClass::SenderPolicy, false,
     ""},
    {"postfix-local-unknown-user.eml", "ines@acme-mail.com", "failed", "5.1.1", "InvalidRecipient",
     ActionClass::HardAddress, false, ""},
    {"base64-delivery-status.eml", "kim.l@mailhost.example", "failed", "5.2.1", "InactiveMailbox",
     ActionClass::HardAddress, false, "AQ1vD6kM3pX8mR2qT7wL0cB5jY9hN4gF-sE_uK2aZ7tW9nB3rQ5yC0xV3"},
    {"plain-qmail.eml", "nora@oldhost.example", "failed", "5.1.1", "InvalidRecipient", ActionClass::HardAddress, true,
     "AQ7cY2kL5pT0mW3qR8vN1bX6jZ9hD4gF-sA_uE2wB7kM9nT3rQ5yV0xC1"},
    {"plain-gmail-failure.eml", "oscar@example.org", "failed", "5.1.1", "InvalidRecipient", ActionClass::HardAddress,
     true, ""},
    {"plain-exim-mailbox-full.eml", "paula@eximhost.example", "failed", "5.2.2", "QuotaIssues",
     ActionClass::SoftAddress, true, "AQ2bX7kN4pR9mT1qL6vW3cZ8jY0hF5gD-sE_uA2aK7tM9nB3rQ5yC0xW4"},
    {"truncated-dsn.eml", "bob@gmail.com", "failed", "5.1.1", "InvalidRecipient", ActionClass::HardAddress, true, ""},
};

const std::set<std::string> kOtherFiles = {
    "two-recipients-sendmail.eml", "arf-abuse-standard.eml",  "arf-microsoft-jmrp-redacted.eml",
    "arf-yahoo-cfl.eml",           "unsubscribe-subject.eml", "unsubscribe-address.eml",
    "autoreply-out-of-office.eml", "garbage-random.bin",      "garbage-text.eml",
    "truncated-headers.eml",
};

}  // namespace

// ------------------------------------------------------------------------------------------ corpus

TEST_CASE("every corpus file has an expectation", "[feedback]") {
    std::set<std::string> expected = kOtherFiles;
    for (const auto& e : kSingleDsn)
        expected.insert(e.file);
    std::set<std::string> present;
    for (const auto& entry : std::filesystem::directory_iterator(kCorpus)) {
        std::string name = entry.path().filename().string();
        if (name.front() != '.') present.insert(name);  // .gitattributes keeps CRLF samples as they are
    }
    CHECK(present == expected);
    // Both line ends are covered.
    for (const char* crlf :
         {"gmail-5.7.1-unsolicited.eml", "gmail-5.7.26-unauthenticated.eml", "microsoft-5.1.10-recipientnotfound.eml",
          "two-recipients-sendmail.eml", "arf-microsoft-jmrp-redacted.eml", "unsubscribe-subject.eml"}) {
        INFO(crlf);
        std::string text = corpus(crlf);
        CHECK(std::count(text.begin(), text.end(), '\n') == std::count(text.begin(), text.end(), '\r'));
    }
    CHECK(corpus("gmail-5.1.1-nosuchuser.eml").find('\r') == std::string::npos);
}

TEST_CASE("corpus: single-recipient bounces are read and classified", "[feedback]") {
    for (const auto& e : kSingleDsn) {
        INFO("file: " << e.file);
        Report r = parseReport(corpus(e.file), "b-bounces@acme-mail.com");
        REQUIRE(r.kind == Kind::Dsn);
        CHECK(r.why.empty());
        CHECK(r.heuristic == e.heuristic);
        REQUIRE(r.recipients.size() == 1);
        const DsnRecipient& d = r.recipients[0];
        CHECK(d.finalRecipient == e.recipient);
        CHECK(d.action == e.action);
        CHECK(d.status == e.status);
        CHECK_FALSE(d.diagnostic.empty());
        Classification c = shipped().classify(d.status, d.diagnostic);
        INFO("rule: " << c.rule << " diagnostic: " << d.diagnostic);
        CHECK(c.category == e.category);
        CHECK(c.action == e.actionClass);
        CHECK(referenceToken(r.originalHeaders, "X-Rampart-Ref") == e.refToken);
    }
}

TEST_CASE("corpus: Postfix bounce fields", "[feedback]") {
    Report r = parseReport(corpus("gmail-5.1.1-nosuchuser.eml"));
    REQUIRE(r.kind == Kind::Dsn);
    CHECK(r.reportingMta == "mail.acme-mail.com");
    CHECK(r.from == "MAILER-DAEMON@mail.acme-mail.com (Mail Delivery System)");
    CHECK(r.subject == "Undelivered Mail Returned to Sender");
    const auto& d = r.recipients.at(0);
    CHECK(d.originalRecipient == "bob@gmail.com");
    CHECK(d.remoteMta == "gmail-smtp-in.l.google.com");
    // Folded over five lines, joined with single spaces.
    CHECK(d.diagnostic.rfind("smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try",
                             0) == 0);
    CHECK(d.diagnostic.find("  ") == std::string::npos);
    CHECK(d.diagnostic.find("gsmtp") != std::string::npos);
    CHECK(header(r.originalHeaders, "Message-ID") == "<nl-2025-01.bob@acme-mail.com>");

    // The rule that matched is named by file and line.
    Classification c = shipped().classify(d.status, d.diagnostic);
    CHECK(c.rule.rfind(kRules + ":", 0) == 0);
    // Without the rule file the RFC 3463 code decides.
    Classification builtin = Classifier().classify(d.status, d.diagnostic);
    CHECK(builtin.category == "InvalidRecipient");
    CHECK(builtin.rule == "status 5.1.1");

    Report local = parseReport(corpus("postfix-local-unknown-user.eml"));
    REQUIRE(local.kind == Kind::Dsn);
    CHECK(local.recipients.at(0).diagnostic == "X-Postfix; unknown user: \"ines\"");
    CHECK(header(local.originalHeaders, "Subject") == "Daily report 2025-01-19");
}

TEST_CASE("corpus: provider texts the status code alone gets wrong", "[feedback]") {
    // Yahoo: Postfix reports 5.0.0; only the text says the account does not exist.
    Report y = parseReport(corpus("yahoo-554-no-account.eml"));
    const auto& d = y.recipients.at(0);
    CHECK(d.diagnostic.find("dd This user doesn't have a yahoo.com account") != std::string::npos);
    CHECK(shipped().classify(d.status, d.diagnostic).rule.find("bounce-rules.conf:") != std::string::npos);
    CHECK(Classifier().classify(d.status, d.diagnostic).category == "InvalidRecipient");  // built-in wording

    // Microsoft S3140: 5.7.1 with a blocklist text is about the sender, never the address.
    Report m = parseReport(corpus("microsoft-s3140-blocklist.eml"));
    const auto& md = m.recipients.at(0);
    CHECK(Classifier().classify(md.status, md.diagnostic).action == ActionClass::SenderPolicy);

    // Gmail splits its sentences over continuation lines ("is 550-5.7.1 likely unsolicited").
    Report g = parseReport(corpus("gmail-5.7.1-unsolicited.eml"));
    const auto& gd = g.recipients.at(0);
    CHECK(gd.diagnostic.find("is 550-5.7.1 likely unsolicited") != std::string::npos);
    Classification gc = shipped().classify(gd.status, gd.diagnostic);
    CHECK(gc.category == "SpamBlock");
    CHECK(gc.rule.find("bounce-rules.conf:") != std::string::npos);
}

TEST_CASE("corpus: Gmail's own DSN with nested alternative parts", "[feedback]") {
    Report r = parseReport(corpus("gmail-5.7.26-unauthenticated.eml"));
    REQUIRE(r.kind == Kind::Dsn);
    CHECK(r.reportingMta == "googlemail.com");
    CHECK(r.from == "Mail Delivery Subsystem <mailer-daemon@googlemail.com>");
    CHECK(r.subject == "Delivery Status Notification (Failure)");
    CHECK(r.recipients.at(0).diagnostic.find("DKIM = did not pass") != std::string::npos);
    CHECK(header(r.originalHeaders, "Subject") == "Welcome to Acme");
}

TEST_CASE("corpus: Exchange Online NDR", "[feedback]") {
    Report r = parseReport(corpus("microsoft-5.1.10-recipientnotfound.eml"));
    REQUIRE(r.kind == Kind::Dsn);
    CHECK(r.reportingMta == "BN8PR12MB1234.namprd12.prod.outlook.com");
    CHECK(r.subject == "Undeliverable: Spring catalogue preview");
    CHECK(r.recipients.at(0).diagnostic ==
          "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address "
          "lookup");
    // From folded over two lines.
    CHECK(r.from == "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@fabrikam.example>");
}

TEST_CASE("corpus: a DSN with a failed and a delayed recipient", "[feedback]") {
    Report r = parseReport(corpus("two-recipients-sendmail.eml"));
    REQUIRE(r.kind == Kind::Dsn);
    CHECK_FALSE(r.heuristic);
    CHECK(r.reportingMta == "mx1.relay-example.net");
    CHECK(r.originalEnvelopeId == "nl-2025-01-batch7");
    REQUIRE(r.recipients.size() == 2);
    const auto& a = r.recipients[0];
    CHECK(a.finalRecipient == "ivan@example.org");  // "RFC822; " stripped whatever its case
    CHECK(a.originalRecipient.empty());
    CHECK(a.action == "failed");
    CHECK(a.status == "5.1.1");
    CHECK(a.remoteMta == "mx.example.org");
    Classification ca = shipped().classify(a.status, a.diagnostic);
    CHECK(ca.category == "InvalidRecipient");
    CHECK(ca.action == ActionClass::HardAddress);

    const auto& b = r.recipients[1];
    CHECK(b.finalRecipient == "judy@slow.example");  // angle brackets stripped
    CHECK(b.originalRecipient == "Judy@Slow.example");
    CHECK(b.action == "delayed");
    CHECK(b.status == "4.4.1");
    CHECK(b.diagnostic == "X-Unix; Connection timed out");
    Classification cb = shipped().classify(b.status, b.diagnostic);
    CHECK(cb.category == "NoAnswerFromHost");
    CHECK(cb.action == ActionClass::Infrastructure);
    CHECK(cb.rule == "status 4.4.1");

    CHECK(header(r.originalHeaders, "Message-ID") == "<nl-2025-01.batch7@acme-mail.com>");
}

TEST_CASE("corpus: ARF complaints", "[feedback]") {
    SECTION("a standard abuse report with Original-Rcpt-To") {
        Report r = parseReport(corpus("arf-abuse-standard.eml"), "abuse@acme-mail.com");
        REQUIRE(r.kind == Kind::Arf);
        CHECK(r.feedbackType == "abuse");
        CHECK(r.userAgent == "ExampleISP-FBL/1.4");
        CHECK(r.originalRcptTo == "mia@example-isp.net");
        CHECK(r.originalMailFrom == "b-bounces@acme-mail.com");
        CHECK(r.sourceIp == "203.0.113.25");
        CHECK(r.reportingMta == "fbl.example-isp.net");
        CHECK(r.arrivalDate == "Wed, 22 Jan 2025 09:02:11 +0000");
        CHECK(r.recipients.empty());
        CHECK(header(r.originalHeaders, "Message-ID") == "<promo-0122.mia@acme-mail.com>");
        CHECK(referenceToken(r.originalHeaders, "X-Rampart-Ref") ==
              "AQ0qW5kT8pL3mB6vX9zN1cR4jY7hD2gF-sA_uE2wK7tM9nV3rQ5yC0xB9");
    }
    SECTION("Microsoft JMRP: no recipient, the reference header recovers it") {
        Report r = parseReport(corpus("arf-microsoft-jmrp-redacted.eml"), "jmrp@acme-mail.com");
        REQUIRE(r.kind == Kind::Arf);
        CHECK(r.feedbackType == "abuse");
        CHECK(r.userAgent == "Microsoft Junk Mail Reporting Program");
        CHECK(r.originalRcptTo.empty());
        CHECK(r.sourceIp == "203.0.113.25");
        CHECK(header(r.originalHeaders, "To") == "redacted@hotmail.com");
        CHECK(referenceToken(r.originalHeaders, "X-Rampart-Ref") ==
              "AQplaceholderReferenceToken-IngestTestsMakeRealOnes_0123456789");
        CHECK(referenceToken(r.originalHeaders, "x-rampart-ref") ==
              "AQplaceholderReferenceToken-IngestTestsMakeRealOnes_0123456789");
        CHECK(referenceToken(r.originalHeaders, "X-Other-Ref").empty());
    }
    SECTION("Yahoo CFL: headers only, in a text/rfc822-headers part") {
        Report r = parseReport(corpus("arf-yahoo-cfl.eml"), "fbl@acme-mail.com");
        REQUIRE(r.kind == Kind::Arf);
        CHECK(r.feedbackType == "abuse");
        CHECK(r.userAgent == "Yahoo!-Mail-Feedback/2.0");
        CHECK(r.originalRcptTo == "lena.p@yahoo.com");
        CHECK(r.from == "Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>");
        CHECK(header(r.originalHeaders, "DKIM-Signature").find("d=acme-mail.com") != std::string::npos);
        CHECK(referenceToken(r.originalHeaders, "X-Rampart-Ref") ==
              "AQ3jV8kR1pN6mX9qB2wL5cT0zY4hF7gD-sE_uA2bW7kM9nQ3rT5yC0xK5");
    }
}

TEST_CASE("corpus: unsubscribe requests", "[feedback]") {
    const std::string subjectToken = "AQ7fT2kP9xL4mW0qR5vN8bZ3cY6hJ1gS-dE_uK2aV7tM9nB3rF5yX0zQ4wP8";
    const std::string addressToken = "AQ5mL0kT7pX2mB9qW4vN6cR1jY3hF8gD-sE_uA2zK7tM9nV3rQ5yC0xB2";

    Report s = parseReport(corpus("unsubscribe-subject.eml"), "unsubscribe@acme-mail.com");
    CHECK(s.kind == Kind::Unsubscribe);
    CHECK(s.unsubscribeToken == subjectToken);
    CHECK(s.from == "Quinn Example <quinn@example.com>");

    Report a = parseReport(corpus("unsubscribe-address.eml"), "unsubscribe+" + addressToken + "@acme-mail.com");
    CHECK(a.kind == Kind::Unsubscribe);
    CHECK(a.unsubscribeToken == addressToken);
    // Without an envelope recipient, Delivered-To says the same.
    Report h = parseReport(corpus("unsubscribe-address.eml"));
    CHECK(h.kind == Kind::Unsubscribe);
    CHECK(h.unsubscribeToken == addressToken);
    // An envelope recipient without a token wins over the headers: "Unsubscribe" alone is no token.
    Report n = parseReport(corpus("unsubscribe-address.eml"), "unsubscribe@acme-mail.com");
    CHECK(n.kind == Kind::Unknown);
    CHECK_FALSE(n.why.empty());
}

TEST_CASE("corpus: what is not a report", "[feedback]") {
    Report oof = parseReport(corpus("autoreply-out-of-office.eml"), "b-bounces@acme-mail.com");
    CHECK(oof.kind == Kind::Unknown);
    CHECK(oof.why.find("auto-reply") != std::string::npos);

    Report text = parseReport(corpus("garbage-text.eml"));
    CHECK(text.kind == Kind::Unknown);
    CHECK(text.why == "not a mail message (no header fields)");

    Report bin = parseReport(corpus("garbage-random.bin"));
    CHECK(bin.kind == Kind::Unknown);
    CHECK_FALSE(bin.why.empty());

    Report cut = parseReport(corpus("truncated-headers.eml"));
    CHECK(cut.kind == Kind::Unknown);
    CHECK(cut.subject == "FW: Spring catalogue preview");
    CHECK_FALSE(cut.why.empty());

    Report empty = parseReport("");
    CHECK(empty.kind == Kind::Unknown);
    CHECK(empty.why == "unreadable message: empty message");
}

// ------------------------------------------------------------------------------------------ MIME

// ------------------------------------------------------------------------------------------
// reports

namespace {

std::string arf(const std::string& feedbackFields, const std::string& third = "") {
    return "From: fbl@isp.example\nSubject: report\nMIME-Version: 1.0\n"
           "Content-Type: multipart/report; report-type=feedback-report; boundary=B\n\n"
           "--B\nContent-Type: text/plain\n\nan abuse report\n"
           "--B\nContent-Type: message/feedback-report\n\n" +
           feedbackFields + "\n" + third + "--B--\n";
}

}  // namespace

TEST_CASE("ARF: redacted recipients and mislabelled parts", "[feedback]") {
    for (const char* redacted :
         {"<redacted>", "redacted@hotmail.com", "xxxxxxxx@hotmail.com", "****@example.com", "<>", "not an address"}) {
        INFO(redacted);
        Report r = parseReport(arf(std::string("Feedback-Type: abuse\nOriginal-Rcpt-To: ") + redacted + "\n"));
        REQUIRE(r.kind == Kind::Arf);
        CHECK(r.originalRcptTo.empty());
    }
    // Several Original-Rcpt-To: the first real one.
    Report two =
        parseReport(arf("Feedback-Type: Abuse\nOriginal-Rcpt-To: <redacted>\nOriginal-Rcpt-To: u@isp.example\n"));
    CHECK(two.originalRcptTo == "u@isp.example");
    CHECK(two.feedbackType == "abuse");

    Report notSpam = parseReport(arf("Feedback-Type: not-spam\nVersion: 1\n"));
    CHECK(notSpam.kind == Kind::Arf);
    CHECK(notSpam.feedbackType == "not-spam");

    // The third part as text/plain holding the original headers.
    Report third = parseReport(arf("Feedback-Type: abuse\n",
                                   "--B\nContent-Type: text/plain\n\nFrom: a@acme-mail.com\nX-Rampart-Ref: "
                                   "AQ3jV8kR1pN6mX9qB2wL5cT0zY4hF7gD-sE_uA2bW7kM9nQ3rT5yC0xK5\n\n"));
    CHECK(referenceToken(third.originalHeaders, "X-Rampart-Ref") ==
          "AQ3jV8kR1pN6mX9qB2wL5cT0zY4hF7gD-sE_uA2bW7kM9nQ3rT5yC0xK5");

    // A feedback report whose part type was lost: known by its fields.
    std::string lost =
        "From: fbl@isp.example\nContent-Type: multipart/report; report-type=feedback-report; "
        "boundary=B\n\n"
        "--B\nContent-Type: text/plain\n\nhuman text\n"
        "--B\nContent-Type: text/plain\n\nFeedback-Type: fraud\nUser-Agent: x/1\n--B--\n";
    Report l = parseReport(lost);
    CHECK(l.kind == Kind::Arf);
    CHECK(l.feedbackType == "fraud");
}

TEST_CASE("DSN: field edge cases", "[feedback]") {
    auto dsn = [](const std::string& fields) {
        return "From: MAILER-DAEMON@mx.example\nContent-Type: multipart/report; "
               "report-type=delivery-status; "
               "boundary=B\n\n--B\n\nhuman\n--B\nContent-Type: message/delivery-status\n\n" +
               fields + "--B--\n";
    };
    // No per-message group; Status with a comment; Action missing (inferred); Original-Recipient
    // only.
    Report r =
        parseReport(dsn("Final-Recipient: rfc822;<a@example.com>\nStatus: 5.1.1 (bad destination mailbox)\n\n"
                        "Original-Recipient: rfc822; b@example.com\nAction: Delayed\nStatus: 4.2.2\n\n"
                        "Final-Recipient: rfc822; c@example.com\nAction: failed\nStatus: "
                        "5.0.0\nDiagnostic-Code: smtp; 550-5.7.1 first\n"
                        "    550 5.7.1 second\n\n"
                        "Final-Recipient: rfc822; d@example.com\nDiagnostic-Code: smtp; 452 too many\n\n"
                        "Final-Recipient: rfc822; truncated@exa\n"));
    REQUIRE(r.kind == Kind::Dsn);
    REQUIRE(r.recipients.size() == 4);
    CHECK(r.recipients[0].finalRecipient == "a@example.com");
    CHECK(r.recipients[0].status == "5.1.1");
    CHECK(r.recipients[0].action == "failed");
    CHECK(r.recipients[1].finalRecipient == "b@example.com");
    CHECK(r.recipients[1].action == "delayed");
    CHECK(r.recipients[2].status == "5.0.0");
    CHECK(r.recipients[2].diagnostic == "smtp; 550-5.7.1 first 550 5.7.1 second");
    CHECK(r.recipients[3].status == "4.0.0");  // from the reply code
    CHECK(r.recipients[3].action == "delayed");

    // A delivery-status part with no recipient group: a bounce-like message read as plain text.
    Report empty = parseReport(dsn("Reporting-MTA: dns; mx.example\n\n"));
    CHECK(empty.kind == Kind::Unknown);
    CHECK(empty.why == "delivery-status report without recipients");

    // message/global-delivery-status (RFC 6533).
    std::string global =
        "Content-Type: multipart/report; report-type=global-delivery-status; boundary=B\n\n"
        "--B\nContent-Type: message/global-delivery-status\n\n"
        "Reporting-MTA: dns; mx.example\n\nFinal-Recipient: utf-8; j\xC3\xB6rg@example.de\nAction: "
        "failed\n"
        "Status: 5.1.1\n--B--\n";
    Report g = parseReport(global);
    REQUIRE(g.kind == Kind::Dsn);
    CHECK(g.recipients.at(0).finalRecipient == "j\xC3\xB6rg@example.de");
    CHECK(g.reportingMta == "mx.example");
}

TEST_CASE("non-standard bounces", "[feedback]") {
    // A plain text bounce without an address-only line: the address on the status line.
    Report r = parseReport(
        "From: postmaster@mx.example.net\nSubject: Returned mail\nTo: sender@acme-mail.com\n\n"
        "Your message could not be delivered.\n\n"
        "RCPT TO:<zoe@example.net> said: 550 5.1.1 <zoe@example.net> No such user here\n");
    REQUIRE(r.kind == Kind::Dsn);
    CHECK(r.heuristic);
    REQUIRE(r.recipients.size() == 1);
    CHECK(r.recipients[0].finalRecipient == "zoe@example.net");
    CHECK(r.recipients[0].status == "5.1.1");
    CHECK(r.recipients[0].action == "failed");

    // A temporary failure, the address in the line above, an HTML-only body.
    Report html = parseReport(
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\nSubject: Warning\n"
        "Content-Type: text/html\n\n<p>Delivery to <b>amy@example.net</b> is delayed:<br>"
        "451 4.3.0 Temporary &lt;lookup&gt; failure</p>");
    REQUIRE(html.kind == Kind::Dsn);
    CHECK(html.recipients.at(0).finalRecipient == "amy@example.net");
    CHECK(html.recipients.at(0).status == "4.3.0");
    CHECK(html.recipients.at(0).action == "delayed");

    // Bounce-like, but no status: Unknown. The daemon's own address and IP addresses are no
    // recipients.
    Report vague = parseReport(
        "From: MAILER-DAEMON@mx.example.net\nSubject: failure notice\n\n"
        "MAILER-DAEMON@mx.example.net\nSomething went wrong with 192.0.2.1.\n");
    CHECK(vague.kind == Kind::Unknown);
    CHECK(vague.why == "bounce-like message without a recognisable recipient and status");

    // Not from a daemon, no bounce subject: a status line in a normal mail is not a bounce.
    Report normal = parseReport("From: friend@example.com\nSubject: hello\n\nuser@example.com\n550 5.1.1 joke\n");
    CHECK(normal.kind == Kind::Unknown);
}

TEST_CASE("unsubscribe tokens", "[feedback]") {
    const std::string token = "AQ7fT2kP9xL4mW0qR5vN8bZ3cY6hJ1gS-dE_uK2aV7tM9nB3rF5yX0zQ4wP8";
    const std::string msg = "From: u@example.com\nSubject: x\n\n";
    CHECK(parseReport(msg, "unsubscribe+" + token + "@acme-mail.com").unsubscribeToken == token);
    CHECK(parseReport(msg, "<UNSUB-" + token + "@acme-mail.com>").unsubscribeToken == token);
    CHECK(parseReport(msg, "unsub+" + token).unsubscribeToken == token);  // Postfix's local part only
    CHECK(parseReport(msg, "unsubscribe+short@acme-mail.com").kind == Kind::Unknown);
    CHECK(parseReport(msg, "unsubscribe+" + token + "!@acme-mail.com").kind == Kind::Unknown);
    CHECK(parseReport(msg, "other+" + token + "@acme-mail.com").kind == Kind::Unknown);
    CHECK(parseReport(msg, "unsubscribe+" + std::string(60, 'A') + "@acme-mail.com").kind == Kind::Unknown);

    auto subject = [&](const std::string& s) {
        return parseReport("From: u@example.com\nSubject: " + s + "\n\n", "u@x");
    };
    for (const std::string& s : std::vector<std::string>{
             "unsubscribe " + token, "Re: Unsubscribe: <" + token + ">", "unsubscribe-" + token, token,
             "  " + token + "  ", "Please remove me " + token + " thanks",
             "=?UTF-8?B?"
             "dW5zdWJzY3JpYmUgQVE3ZlQya1A5eEw0bVcwcVI1dk44YlozY1k2aEoxZ1MtZEVfdUsyYVY3dE05bkIzckY1e"
             "VgwelE0d1A4?=",
             "=?utf-8?q?Unsubscribe=3A?= " + token}) {
        INFO(s);
        Report r = subject(s);
        CHECK(r.kind == Kind::Unsubscribe);
        CHECK(r.unsubscribeToken == token);
    }
    CHECK(subject("unsubscribe").kind == Kind::Unknown);
    CHECK(subject("unsubscribe me please").kind == Kind::Unknown);
    CHECK(subject("----------------------------------------------------------").kind == Kind::Unknown);
}

TEST_CASE("reference tokens in header fields", "[feedback]") {
    const std::string token = "AQ3jV8kR1pN6mX9qB2wL5cT0zY4hF7gD-sE_uA2bW7kM9nQ3rT5yC0xK5";
    using rampart::mail::HeaderFields;
    CHECK(referenceToken(HeaderFields{{"X-Rampart-Ref", " " + token}}, "X-Rampart-Ref") == token);
    CHECK(referenceToken(HeaderFields{{"X-Rampart-Ref", " <" + token + ">"}}, "X-Rampart-Ref") == token);
    CHECK(referenceToken(HeaderFields{{"X-Rampart-Ref", "\r\n\t" + token}}, "X-Rampart-Ref") == token);
    CHECK(referenceToken(HeaderFields{{"X-Rampart-Ref", " short"}, {"X-Rampart-Ref", " " + token}}, "X-Rampart-Ref") ==
          token);
    CHECK(referenceToken(HeaderFields{{"X-Rampart-Ref", " " + token + "!x"}}, "X-Rampart-Ref").empty());
    CHECK(referenceToken(HeaderFields{{"X-Rampart-Ref", " " + token + " trailing words"}}, "X-Rampart-Ref").empty());
    CHECK(referenceToken(HeaderFields{}, "X-Rampart-Ref").empty());
}

// ------------------------------------------------------------------------------------------ rules

// ------------------------------------------------------------------------------------------
// robustness

TEST_CASE("robustness: random, truncated and hostile input", "[feedback]") {
    std::mt19937 rng(4242);
    auto randomBytes = [&](size_t n, std::string_view alphabet) {
        std::string s(n, '\0');
        for (auto& c : s) {
            c = alphabet.empty() ? static_cast<char>(rng() & 0xFF) : alphabet[rng() % alphabet.size()];
        }
        return s;
    };
    const std::string mimeish = "-\r\n:;=\"<>@. \tabcBoundary5Content-Type multipart/report message/rfc822";
    for (int i = 0; i < 300; ++i) {
        std::string s = randomBytes(rng() % 3000, i % 2 ? "" : mimeish);
        Report r = parseReport(s, i % 3 ? "" : "unsubscribe+" + s.substr(0, 50));
        if (r.kind == Kind::Unknown) CHECK_FALSE(r.why.empty());
        if (i % 10 == 0) (void)shipped().classify(s.substr(0, 10), s);  // std::regex is slow: a sample
    }
    // Every corpus file cut at many points, and with bytes flipped.
    for (const auto& entry : std::filesystem::directory_iterator(kCorpus)) {
        std::string msg = readFile(entry.path().string());
        for (size_t cut = 0; cut < msg.size(); cut += 1 + msg.size() / 60) {
            Report r = parseReport(std::string_view(msg).substr(0, cut));
            if (r.kind == Kind::Unknown) CHECK_FALSE(r.why.empty());
            if (r.kind == Kind::Dsn) CHECK_FALSE(r.recipients.empty());
        }
        for (int k = 0; k < 20 && !msg.empty(); ++k) {
            std::string m = msg;
            for (int j = 0; j < 8; ++j)
                m[rng() % m.size()] = static_cast<char>(rng() & 0xFF);
            (void)parseReport(m);
        }
    }
    // Long lines and long diagnostics; a regex sees at most 2048 bytes.
    std::string longLine(200000, 'x');
    Report r = parseReport("From: MAILER-DAEMON@x.example\nSubject: " + longLine + "\n\n" + longLine + "\n");
    CHECK(r.kind == Kind::Unknown);
    Classification c = shipped().classify("5.1.1", "smtp; 550 5.1.1 " + longLine + " (((((((((");
    CHECK(c.category == "InvalidRecipient");
    CHECK(shipped().classify("", std::string(100000, '5') + ".1.1").category == "Uncategorized");
    // Many header fields, many continuation lines, unbalanced quotes and brackets.
    std::string fields;
    for (int i = 0; i < 20000; ++i)
        fields += "X-F" + std::to_string(i) + ": v\n \"<(\n";
    auto m = parseMime(fields + "\nbody");
    REQUIRE(m);
    CHECK(m->headers.size() == 20000);
    CHECK(parseReport("Content-Type: multipart/report; boundary=\"unterminated\n\n--unterminated\n").kind ==
          Kind::Unknown);
    CHECK(parseReport("Subject: =?utf-8?B?\n\n").kind == Kind::Unknown);
    // Inputs that would be quadratic without the caps.
    std::string encoded;
    for (int i = 0; i < 100000; ++i)
        encoded += "=?a?q?b";
    CHECK(parseReport("From: a@b.example\nSubject: " + encoded + "\n\n").kind == Kind::Unknown);
    std::string ats = "From: MAILER-DAEMON@x.example\nSubject: failure notice\n\n550 " + std::string(300000, '@') +
                      std::string(300000, '<') + "\n";
    CHECK(parseReport(ats).kind == Kind::Unknown);
    std::string manyRecipients = "From: MAILER-DAEMON@x.example\nSubject: failure notice\n\n";
    for (int i = 0; i < 20000; ++i)
        manyRecipients += "u" + std::to_string(i % 5000) + "@example.com\n550 5.1.1 unknown\n";
    Report many = parseReport(manyRecipients);
    REQUIRE(many.kind == Kind::Dsn);
    CHECK(many.recipients.size() == 5000);
    CHECK(parseReport("Subject: =?utf-8?Q?=?=\n\n").kind == Kind::Unknown);
}
