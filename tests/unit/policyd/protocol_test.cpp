// Protocol transcripts: bytes in -> Request / garbage verdict; replies out.
#include "policyd/protocol.h"

#include <catch2/catch.hpp>

using namespace rampart::policyd;

namespace {
const char* kRcpt =
    "request=smtpd_access_policy\n"
    "protocol_state=RCPT\n"
    "protocol_name=ESMTP\n"
    "client_address=192.0.2.10\n"
    "helo_name=app.example\n"
    "queue_id=\n"
    "sender=bob@acme-mail.com\n"
    "recipient=<Alice@Example.org>\n"
    "recipient_count=0\n"
    "instance=8fa.6739a2c1.1b2c.0\n"
    "size=1234\n"
    "sasl_method=PLAIN\n"
    "sasl_username=bob\n"
    "policy_context=cold\n"
    "ccert_subject=\n"
    "\n";
}  // namespace

TEST_CASE("a Postfix RCPT request is parsed", "[policyd][protocol]") {
    Request r;
    auto res = parseRequest(kRcpt, ProtocolLimits{}, r);
    REQUIRE(res.status == ParseStatus::Complete);
    CHECK(res.consumed == std::string(kRcpt).size());
    CHECK(r.request == "smtpd_access_policy");
    CHECK(r.protocolState == "RCPT");
    CHECK(r.sender == "bob@acme-mail.com");
    CHECK(r.recipient == "Alice@Example.org");
    CHECK(r.saslUsername == "bob");
    CHECK(r.clientAddress == "192.0.2.10");
    CHECK(r.policyContext == "cold");
    CHECK(r.instance == "8fa.6739a2c1.1b2c.0");
    CHECK(r.size == 1234);
    CHECK(r.queueId.empty());
}

TEST_CASE("partial input waits for more; pipelined requests are taken one at a time", "[policyd][protocol]") {
    std::string two = std::string(kRcpt) +
                      "request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\n"
                      "queue_id=4F3A21C0B\nrecipient_count=2\ninstance=x\n\n";
    Request r;
    for (size_t cut : {size_t(0), size_t(10), std::string(kRcpt).size() - 1}) {
        CHECK(parseRequest(std::string_view(two).substr(0, cut), ProtocolLimits{}, r).status == ParseStatus::NeedMore);
    }
    auto first = parseRequest(two, ProtocolLimits{}, r);
    REQUIRE(first.status == ParseStatus::Complete);
    auto second = parseRequest(std::string_view(two).substr(first.consumed), ProtocolLimits{}, r);
    REQUIRE(second.status == ParseStatus::Complete);
    CHECK(r.protocolState == "END-OF-MESSAGE");
    CHECK(r.queueId == "4F3A21C0B");
    CHECK(r.recipientCount == 2);
    CHECK(r.recipient.empty());
}

TEST_CASE("CRLF line ends, repeated and unknown attributes, the refund request", "[policyd][protocol]") {
    Request r;
    auto res = parseRequest(
        "request=rampart_refund\r\nqueue_id=Q1\r\nrecipients=a@x, b@y\r\nfoo=bar\r\n"
        "queue_id=Q2\r\n\r\n",
        ProtocolLimits{}, r);
    REQUIRE(res.status == ParseStatus::Complete);
    CHECK(r.request == "rampart_refund");
    CHECK(r.queueId == "Q2");
    CHECK(r.refundRecipients == std::vector<std::string>{"a@x", "b@y"});
}

TEST_CASE("garbage is recognised early", "[policyd][protocol]") {
    Request r;
    ProtocolLimits small{256, 5};
    auto g = parseRequest("GET / HTTP/1.1\nHost: x\n\n", small, r);
    CHECK(g.status == ParseStatus::Garbage);
    CHECK(g.error == "not a name=value line: \"GET / HTTP/1.1\"");
    CHECK(parseRequest("\n", small, r).error == "empty request");
    CHECK(parseRequest("=x\n\n", small, r).status == ParseStatus::Garbage);
    CHECK(parseRequest(std::string("a=b\0c\n\n", 7), small, r).error == "NUL byte in request");
    CHECK(parseRequest(std::string(300, 'x'), small, r).error == "request longer than 256 bytes");
    CHECK(parseRequest("a=1\nb=2\nc=3\nd=4\ne=5\nf=6\n\n", small, r).error == "more than 5 attributes");
    CHECK(parseRequest(std::string("a=") + std::string(300, 'y') + "\n\n", small, r).status == ParseStatus::Garbage);
}

TEST_CASE("replies are one action line and a blank line", "[policyd][protocol]") {
    CHECK(formatReply("DUNNO") == "action=DUNNO\n\n");
    CHECK(formatReply("DEFER_IF_PERMIT 4.7.1 a\nb") == "action=DEFER_IF_PERMIT 4.7.1 a b\n\n");
}
