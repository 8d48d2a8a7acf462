// The bounce classifier: the rule file's grammar and errors, the shipped rule file, categories and
// action classes, the built-in wording and the provider texts of conf/bounce-rules.conf.
#include "feedback/classifier.h"

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

using namespace rampart::feedback;
using namespace rampart::test;

TEST_CASE("rule file: the shipped file loads", "[feedback]") {
    auto r = Classifier::load(kRules);
    REQUIRE(r);
    CHECK(r->ruleCount() >= 40);
    CHECK(Classifier().ruleCount() == 0);
}

TEST_CASE("rule file: grammar and errors", "[feedback]") {
    TempFile good(
        "# comment\n"
        "\n"
        "   # indented comment\n"
        "invalidrecipient /no such person/\n"
        "SpamBlock\t/a\\/b/   # trailing comment with a / slash\n"
        "AuthenticationFailure /dmarc-ish/\n"
        "QuotaIssues /x/#y/\r\n");
    auto c = Classifier::load(good.path);
    REQUIRE(c);
    CHECK(c->ruleCount() == 4);
    Classification a = c->classify("5.0.0", "smtp; 550 No Such Person here");
    CHECK(a.category == "InvalidRecipient");
    CHECK(a.action == ActionClass::HardAddress);
    CHECK(a.rule == good.path + ":4");
    CHECK(c->classify("5.0.0", "550 a/b").category == "SpamBlock");
    CHECK(c->classify("5.0.0", "550 dmarc-ish").category == "AuthenticationFailed");
    CHECK(c->classify("5.0.0", "550 x/#y").category == "QuotaIssues");

    // Each error names the file and the line.
    const std::pair<const char*, const char*> bad[] = {
        {"# x\nNoSuchCategory /x/\n", ":2: unknown category \"NoSuchCategory\""},
        {"SpamBlock /(unclosed/\n", ":1: bad regex: "},
        {"\n\nSpamBlock /[a-/\n", ":3: bad regex: "},
        {"SpamBlock /a{2,1}/\n", ":1: bad regex: "},
        {"SpamBlock\n", ":1: expected \"CATEGORY /regex/\""},
        {"SpamBlock blocked\n", ":1: expected /regex/ after the category"},
        {"SpamBlock /open\n", ":1: regex not closed by '/' (or text after it)"},
        {"SpamBlock /open\\/\n", ":1: regex not closed by '/' (or text after it)"},
        {"SpamBlock /x/ i\n", ":1: regex not closed by '/' (or text after it)"},
        {"SpamBlock //\n", ":1: empty regex"},
    };
    for (const auto& [text, message] : bad) {
        INFO(text);
        std::string path;
        std::string error = loadError(text, &path);
        CHECK(error.rfind(path + message, 0) == 0);
    }
    TempFile backslash("SpamBlock /a\\\\/\n");  // a regex ending in an escaped backslash
    auto b = Classifier::load(backslash.path);
    REQUIRE(b);
    CHECK(b->classify("5.0.0", "550 a\\").category == "SpamBlock");

    auto missing = Classifier::load("/nonexistent/bounce-rules.conf");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().rfind("/nonexistent/bounce-rules.conf: cannot open", 0) == 0);
}

// ------------------------------------------------------------------------------------------
// classifier

TEST_CASE("categories and action classes", "[feedback]") {
    CHECK(actionOf("InvalidRecipient") == ActionClass::HardAddress);
    CHECK(actionOf("badDomain") == ActionClass::HardAddress);
    CHECK(actionOf("InactiveMailbox") == ActionClass::HardAddress);
    CHECK(actionOf("QuotaIssues") == ActionClass::SoftAddress);
    CHECK(actionOf("MessageExpired") == ActionClass::SoftAddress);
    CHECK(actionOf("Uncategorized") == ActionClass::SoftAddress);
    CHECK(actionOf("SpamBlock") == ActionClass::SenderPolicy);
    CHECK(actionOf("RateLimited") == ActionClass::SenderPolicy);
    CHECK(actionOf("RequirePTR") == ActionClass::SenderPolicy);
    CHECK(actionOf("RFCNonCompliant") == ActionClass::SenderPolicy);
    CHECK(actionOf("InvalidSender") == ActionClass::SenderPolicy);
    CHECK(actionOf("NoAnswerFromHost") == ActionClass::Infrastructure);
    CHECK(actionOf("RelayDenied") == ActionClass::Infrastructure);
    CHECK(actionOf("AutoReply") == ActionClass::NonBounce);
    CHECK(actionOf("Delivered") == ActionClass::NonBounce);
    CHECK(actionOf("whatever") == ActionClass::SoftAddress);
    CHECK(canonicalCategory("authenticationfailure") == "AuthenticationFailed");
    CHECK(canonicalCategory("spamblock") == "SpamBlock");
    CHECK_FALSE(canonicalCategory("Spam"));
    CHECK(actionClassName(ActionClass::HardAddress) == "hard");
    CHECK(actionClassName(ActionClass::SoftAddress) == "soft");
    CHECK(actionClassName(ActionClass::SenderPolicy) == "sender-policy");
    CHECK(actionClassName(ActionClass::Infrastructure) == "infrastructure");
    CHECK(actionClassName(ActionClass::NonBounce) == "non-bounce");
}

TEST_CASE("classifier: built-in rules", "[feedback]") {
    struct Case {
        const char* status;
        const char* diagnostic;
        const char* category;
        const char* rule;  // prefix of Classification::rule
    };
    const Case cases[] = {
        // RFC 3463 codes
        {"5.1.1", "smtp; 550 5.1.1 <x@y>: Recipient address rejected: User unknown", "InvalidRecipient",
         "status 5.1.1"},
        {"5.1.2", "", "BadDomain", "status 5.1.2"},
        {"5.1.3", "", "InvalidRecipient", "status 5.1.3"},
        {"5.1.10", "", "InvalidRecipient", "status 5.1.10"},
        {"5.2.1", "", "InactiveMailbox", "status 5.2.1"},
        {"5.2.2", "", "QuotaIssues", "status 5.2.2"},
        {"4.2.2", "", "QuotaIssues", "status 4.2.2"},
        {"5.2.3", "", "ContentRelated", "status 5.2.3"},
        {"5.3.4", "", "ContentRelated", "status 5.3.4"},
        {"4.4.1", "", "NoAnswerFromHost", "status 4.4.1"},
        {"4.4.2", "", "BadConnection", "status 4.4.2"},
        {"4.4.3", "", "DNSFailure", "status 4.4.3"},
        {"5.4.4", "", "RoutingErrors", "status 5.4.4"},
        {"4.4.7", "", "MessageExpired", "status 4.4.7"},
        {"5.5.3", "", "TooManyRecipients", "status 5.5.3"},
        {"5.6.0", "", "ContentRelated", "status 5.6.0"},
        {"5.7.1", "smtp; 550 5.7.1 rejected", "PolicyRelated", "status 5.7.1"},
        {"4.7.0", "", "RateLimited", "status 4.7.0"},
        {"5.7.13", "", "InactiveMailbox", "status 5.7.13"},
        {"5.7.25", "", "RequirePTR", "status 5.7.25"},
        {"5.7.26", "", "AuthenticationFailed", "status 5.7.26"},
        {"5.7.27", "", "AuthenticationFailed", "status 5.7.27"},
        {"4.7.28", "", "RateLimited", "status 4.7.28"},
        {"5.1.8", "", "InvalidSender", "status 5.1.8"},
        // the diagnostic's code beats a generic Status
        {"5.0.0", "smtp; 550 5.1.1 unknown", "InvalidRecipient", "status 5.1.1"},
        {"", "smtp; 552-5.2.2 full", "QuotaIssues", "status 5.2.2"},
        // wording that overrides the code
        {"5.7.1",
         "smtp; 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
         "zen.spamhaus.org",
         "SpamBlock", "builtin: blocklist"},
        {"5.1.1", "smtp; 550 5.1.1 Message rejected: listed at bl.spamcop.net", "SpamBlock", "builtin: blocklist"},
        {"5.7.1", "smtp; 554 5.7.1 <x@y>: Relay access denied", "RelayDenied", "builtin: relay"},
        {"5.7.1", "smtp; 550 5.7.1 Message rejected as spam by Content Filtering", "SpamContent",
         "builtin: spam content"},
        {"4.7.1", "smtp; 421 4.7.1 Too many messages from your IP, slow down", "RateLimited", "builtin: rate"},
        {"5.7.1", "smtp; 550 5.7.1 SPF check failed", "AuthenticationFailed", "builtin: authentication"},
        {"5.7.1", "smtp; 550 5.7.1 Client host rejected: cannot find your reverse hostname", "RequirePTR",
         "builtin: reverse DNS"},
        {"5.7.1", "smtp; 550 5.7.1 Virus found in message", "VirusRelated", "builtin: virus"},
        {"5.1.8", "smtp; 553 5.1.8 <b@z>: Sender address rejected: Domain not found", "InvalidSender",
         "builtin: sender"},
        {"5.4.4",
         "X-Postfix; Host or domain name not found. Name service error for name=nx.example "
         "type=MX: Host not found",
         "BadDomain", "builtin: Postfix"},
        {"4.4.3",
         "X-Postfix; Host or domain name not found. Name service error for name=x.example type=MX: "
         "Host not found, try again",
         "DNSFailure", "status 4.4.3"},
        {"5.0.0", "smtp; 550 Requested action not taken: 5.1.1 <too many recipients>", "TooManyRecipients",
         "builtin: too many recipients"},
        // an address that contains a trigger word says nothing
        {"5.1.1", "smtp; 550 5.1.1 <spam@example.com>: Recipient address rejected: User unknown", "InvalidRecipient",
         "status 5.1.1"},
        // generic codes: the wording decides
        {"5.0.0", "smtp; 554 delivery error: dd This user doesn't have a yahoo.com account", "InvalidRecipient",
         "builtin: user unknown"},
        {"5.0.0", "smtp; 550 No such user here", "InvalidRecipient", "builtin: user unknown"},
        {"5.0.0", "smtp; 552 Mailbox is full", "QuotaIssues", "builtin: mailbox full"},
        {"5.0.0", "smtp; 550 Account disabled", "InactiveMailbox", "builtin: disabled"},
        {"5.0.0", "smtp; 550 <x@y>: mailbox disabled, not accepting messages", "InactiveMailbox", "builtin: disabled"},
        {"5.0.0", "smtp; 554 recipient address rejected: connection closed", "BadConnection", "builtin: connection"},
        {"5.0.0", "smtp; 554 TLS certificate expired", "BadConfiguration", "builtin: TLS"},
        {"5.0.0", "smtp; 550 message too large", "ContentRelated", "builtin: too big"},
        {"5.0.0", "smtp; 550 rejected for policy reasons", "PolicyRelated", "builtin: policy"},
        {"4.0.0", "X-Postfix; connect to mx.example[192.0.2.1]:25: Connection refused", "BadConnection",
         "builtin: connection"},
        // reply codes and classes
        {"", "smtp; 552 try later", "QuotaIssues", "reply 552"},
        {"", "smtp; 421 closing", "TransientFailure", "reply 421"},
        {"4.0.0", "smtp; 450 nope", "TransientFailure", "reply 450"},
        {"5.0.0", "smtp; 554 nope", "Uncategorized", "class 5"},
        {"", "", "Uncategorized", "no status"},
        {"2.0.0", "smtp; 250 2.0.0 OK queued", "Delivered", "class 2"},
        // hard categories under a temporary code are soft
        {"4.1.1", "", "TransientFailure", "status 4.1.1"},
        {"4.0.0",
         "smtp; 450 4.1.1 <x@y>: Recipient address rejected: unverified address: host said: 550 "
         "5.1.1 unknown",
         "TransientFailure", "status 4.1.1"},
        {"4.0.0", "smtp; 450 user unknown", "TransientFailure", "builtin: user unknown (temporary)"},
        // IP addresses and versions are no status codes
        {"", "smtp; connect to 5.6.7.8 failed, Postfix 2.11.3", "Uncategorized", "no status"},
    };
    Classifier builtin;
    for (const auto& c : cases) {
        INFO("status: " << c.status << " diagnostic: " << c.diagnostic);
        Classification got = builtin.classify(c.status, c.diagnostic);
        INFO("rule: " << got.rule);
        CHECK(got.category == c.category);
        CHECK(got.action == actionOf(c.category));
        CHECK(got.rule.rfind(c.rule, 0) == 0);
    }
}

TEST_CASE("classifier: the shipped provider rules", "[feedback]") {
    struct Case {
        const char* status;
        const char* diagnostic;
        const char* category;
    };
    const Case cases[] = {
        // Gmail
        {"5.2.1",
         "smtp; 550-5.2.1 The email account that you tried to reach is inactive. For more "
         "information, go to "
         "550 5.2.1 https://support.google.com/mail/?p=DisabledUser",
         "InactiveMailbox"},
        {"4.7.28",
         "smtp; 421-4.7.28 [203.0.113.25 15] Our system has detected an unusual rate of 421-4.7.28 "
         "unsolicited mail originating from your IP address. To protect our 421-4.7.28 users from "
         "spam, "
         "mail sent from your IP address has been temporarily 421-4.7.28 rate limited.",
         "RateLimited"},
        {"5.7.1",
         "smtp; 550-5.7.1 [203.0.113.25] Our system has detected an unusual rate of 550-5.7.1 "
         "unsolicited "
         "mail originating from your IP address. To protect our 550-5.7.1 users from spam, mail "
         "sent from "
         "your IP address has been blocked.",
         "SpamBlock"},
        {"5.7.26",
         "smtp; 550-5.7.26 Unauthenticated email from acme-mail.com is not accepted due to "
         "550-5.7.26 "
         "domain's DMARC policy.",
         "AuthenticationFailed"},
        {"5.7.25",
         "smtp; 550-5.7.25 [203.0.113.25] The IP address sending this message does not 550-5.7.25 "
         "have "
         "a PTR record setup, or the corresponding forward DNS entry does not 550-5.7.25 point to "
         "the "
         "sending IP.",
         "RequirePTR"},
        {"5.7.1",
         "smtp; 550-5.7.1 [203.0.113.25] Messages missing a valid Message-ID header are not "
         "550-5.7.1 "
         "accepted.",
         "RFCNonCompliant"},
        {"4.7.0",
         "smtp; 421-4.7.0 This message does not have authentication information or fails to "
         "421-4.7.0 "
         "pass authentication checks (SPF or DKIM).",
         "AuthenticationFailed"},
        // Microsoft
        {"5.4.1",
         "smtp; 550 5.4.1 Recipient address rejected: Access denied. "
         "[AM4PEPF00025F95.EURPRD83.prod.outlook.com]",
         "InvalidRecipient"},
        {"5.5.0", "smtp; 550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302).", "InvalidRecipient"},
        {"5.7.1",
         "smtp; 550 5.7.1 Unfortunately, messages from [203.0.113.25] weren't sent. Please contact "
         "your "
         "Internet service provider since part of their network is on our block list (S3150).",
         "SpamBlock"},
        {"5.7.511", "smtp; 550 5.7.511 Access denied, banned sender[203.0.113.25].", "SpamBlock"},
        {"5.7.515",
         "smtp; 550 5.7.515 Access denied, sending domain acme-mail.com does not meet the required "
         "authentication level.",
         "AuthenticationFailed"},
        {"4.7.650",
         "smtp; 451 4.7.650 The mail server [203.0.113.25] has been temporarily rate limited due "
         "to IP "
         "reputation.",
         "RateLimited"},
        // Yahoo
        {"4.7.0",
         "smtp; 421 4.7.0 [TSS04] Messages from 203.0.113.25 temporarily deferred due to "
         "unexpected volume "
         "or user complaints",
         "RateLimited"},
        {"5.7.2",
         "smtp; 553 5.7.2 [TSS09] All messages from 203.0.113.25 will be permanently deferred; "
         "Retrying "
         "will NOT succeed.",
         "SpamBlock"},
        {"5.0.0", "smtp; 554 Message not allowed - [PH01] Email not accepted for policy reasons.", "SpamContent"},
        {"5.0.0",
         "smtp; 554 delivery error: dd Sorry your message to x@yahoo.com cannot be delivered. This "
         "mailbox "
         "is disabled (554.30).",
         "InactiveMailbox"},
        {"5.7.9",
         "smtp; 550 5.7.9 This mail has been blocked because the sender is unauthenticated. Yahoo "
         "requires "
         "all senders to authenticate with either SPF or DKIM.",
         "AuthenticationFailed"},
    };
    for (const auto& c : cases) {
        INFO("status: " << c.status << " diagnostic: " << c.diagnostic);
        Classification got = shipped().classify(c.status, c.diagnostic);
        INFO("rule: " << got.rule);
        CHECK(got.category == c.category);
        CHECK(got.rule.find("bounce-rules.conf:") != std::string::npos);
    }
}
