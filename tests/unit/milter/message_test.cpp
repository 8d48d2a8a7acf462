#include "milter/message.h"

#include <catch2/catch.hpp>

using namespace rampart::milter;
using Kind = HeaderEdit::Kind;

namespace {
Message sample() {
    Message m;
    m.addReceivedHeader("Received", " from a");
    m.addReceivedHeader("From", " alice@example.com");
    m.addReceivedHeader("Received", " from b");
    m.addReceivedHeader("X-Mailer", " Foo 1.0");
    m.addReceivedHeader("Received", " from c");
    m.addReceivedHeader("Subject", " hi");
    return m;
}
}  // namespace

TEST_CASE("an untouched message has no edits", "[milter][message]") {
    Message m = sample();
    CHECK(m.edits().empty());
    CHECK(m.count("received") == 3);
    CHECK(m.find("subject") == 5);
}

TEST_CASE("edits are expressed against the received header block", "[milter][message]") {
    Message m = sample();
    m.removeHeader(m.find("X-Mailer"));
    // Remove the first and the third Received: the view shifts, the edits keep received occurrences.
    m.removeHeader(m.find("Received"));                          // "from a" (occurrence 1)
    m.removeHeader(m.find("Received", m.find("Received") + 1));  // "from c" (occurrence 3)
    m.changeHeader(m.find("Subject"), " hello");
    m.appendHeader("Date", " Sun, 22 Nov 2026 10:00:00 +0000");
    m.prependHeader("DKIM-Signature", " v=1; a=rsa-sha256");
    m.prependHeader("DKIM-Signature", " v=1; a=ed25519-sha256");

    REQUIRE(m.headers().size() == 6);
    CHECK(m.headers()[0].value == " v=1; a=ed25519-sha256");
    CHECK(m.headers()[1].value == " v=1; a=rsa-sha256");
    CHECK(m.headers()[2].name == "From");
    CHECK(m.headers()[3].value == " from b");
    CHECK(m.headers()[4].value == " hello");
    CHECK(m.headers()[5].name == "Date");

    EditList e = m.edits();
    const std::vector<HeaderEdit> expected{
        {Kind::Change, "Subject", " hello", 1, 0},
        // deletions: highest occurrence first, so renumbering by the MTA cannot shift the next one
        {Kind::Delete, "Received", "", 3, 0},
        {Kind::Delete, "Received", "", 1, 0},
        {Kind::Delete, "X-Mailer", "", 1, 0},
        {Kind::Append, "Date", " Sun, 22 Nov 2026 10:00:00 +0000", 0, 0},
        // inserts at position 1, bottom-most first, so the delivered order matches the view
        {Kind::Insert, "DKIM-Signature", " v=1; a=rsa-sha256", 0, 1},
        {Kind::Insert, "DKIM-Signature", " v=1; a=ed25519-sha256", 0, 1},
    };
    CHECK(e.headers == expected);
}

TEST_CASE("removing a header a stage added leaves no trace", "[milter][message]") {
    Message m = sample();
    m.appendHeader("X-Tmp", " 1");
    m.removeHeader(m.find("X-Tmp"));
    CHECK(m.edits().empty());
}

TEST_CASE("changing a value back to the original is no edit; recipients and sender edits", "[milter][message]") {
    Message m = sample();
    m.changeHeader(m.find("Subject"), " hi");
    m.removeRecipient("a@b.example");
    m.removeRecipient("a@b.example");
    m.changeSender("bounce+x@example.com");
    EditList e = m.edits();
    CHECK(e.headers.empty());
    CHECK(e.removedRecipients == std::vector<std::string>{"a@b.example"});
    CHECK(e.newSender == "bounce+x@example.com");
}

TEST_CASE("header bytes are counted as received", "[milter][message]") {
    Message m;
    m.addReceivedHeader("From", " a@b");
    CHECK(m.headerBytes() == 4 + 4 + 3);
}
