// The MIME reader (mail/mime.h): header blocks, folding, line ends, Content-Type parameters,
// nested multiparts, transfer encodings, missing boundaries and its limits.
#include "mail/mime.h"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "feedback/report.h"
#include "feedback/report_fixtures.h"

using namespace rampart::mail;
using namespace rampart::test;
using rampart::feedback::parseReport;
using rampart::feedback::Report;
using Kind = Report::Kind;

TEST_CASE("MIME: headers, folding, line ends", "[feedback]") {
    auto m = parseMime("Subject: a\r\n  folded\r\nX-Empty:\nFrom: x@y\n\nbody\r\n");
    REQUIRE(m);
    REQUIRE(m->headers.size() == 3);
    CHECK(m->headers[0].name == "Subject");
    CHECK(m->headers[0].value == " a\r\n  folded");
    CHECK(rampart::mail::unfold(m->headers[0].value) == "a  folded");
    CHECK(m->headers[1].value.empty());
    CHECK(m->contentType == "text/plain");
    CHECK(m->body == "body\r\n");

    // No blank line before the body: the first line that is not a field starts it.
    auto noSep = parseMime("From: x@y\nthis is the body\n");
    REQUIRE(noSep);
    CHECK(noSep->headers.size() == 1);
    CHECK(noSep->body == "this is the body\n");

    // An mbox "From " line is skipped.
    auto mbox = parseMime("From MAILER-DAEMON Tue Jan 14 10:22:31 2025\nFrom: a@b\n\nx");
    REQUIRE(mbox);
    CHECK(mbox->headers.size() == 1);
    CHECK(mbox->body == "x");
}

TEST_CASE("MIME: Content-Type parameters", "[feedback]") {
    auto m = parseMime(
        "Content-Type: Multipart/Mixed; CHARSET=x;\n"
        " BOUNDARY=\"a \\\"quoted\\\" b;c\"\n\n"
        "--a \"quoted\" b;c\nContent-Type: TEXT/PLAIN\n\none\n--a \"quoted\" b;c--\n");
    REQUIRE(m);
    CHECK(m->contentType == "multipart/mixed");
    CHECK(m->boundary == "a \"quoted\" b;c");
    REQUIRE(m->children.size() == 1);
    CHECK(m->children[0].contentType == "text/plain");
    CHECK(m->children[0].body == "one");

    auto invalid = parseMime("Content-Type: nonsense\n\nx");
    REQUIRE(invalid);
    CHECK(invalid->contentType == "text/plain");

    auto unquoted =
        parseMime("Content-Type: multipart/alternative; boundary=simple ; x=y\n\n--simple\n\nA\n--simple--");
    REQUIRE(unquoted);
    CHECK(unquoted->boundary == "simple");
    REQUIRE(unquoted->children.size() == 1);
    CHECK(unquoted->children[0].body == "A");
}

TEST_CASE("MIME: nested multiparts, preamble, epilogue, shared boundary prefixes", "[feedback]") {
    std::string msg =
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
        "preamble\r\n"
        "--b\r\n"
        "Content-Type: multipart/alternative; boundary=\"bb\"\r\n\r\n"
        "--bb\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
        "--bb\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
        "--bb--\r\n"
        "--b\r\n"
        "Content-Type: message/rfc822\r\n\r\n"
        "Subject: inner\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\ninner "
        "part\r\n--c--\r\n"
        "--b--\r\nepilogue\r\n--b\r\nContent-Type: text/plain\r\n\r\nafter the end\r\n";
    auto m = parseMime(msg);
    REQUIRE(m);
    REQUIRE(m->children.size() == 2);
    const auto& alt = m->children[0];
    CHECK(alt.contentType == "multipart/alternative");
    REQUIRE(alt.children.size() == 2);
    CHECK(alt.children[0].body == "plain");
    CHECK(alt.children[1].contentType == "text/html");
    CHECK(alt.children[1].body == "<p>html</p>");
    const auto& enclosed = m->children[1];
    CHECK(enclosed.contentType == "message/rfc822");
    CHECK(enclosed.body.empty());
    REQUIRE(enclosed.children.size() == 1);
    CHECK(header(enclosed.children[0].headers, "Subject") == "inner");
    REQUIRE(enclosed.children[0].children.size() == 1);
    CHECK(enclosed.children[0].children[0].body == "inner part");
}

TEST_CASE("MIME: transfer encodings", "[feedback]") {
    auto qp = parseMime(
        "Content-Transfer-Encoding: Quoted-Printable\n\n"
        "caf=C3=A9 soft=\nbreak =3D equals, trailing=  \r\nnext, bad =ZZ and lower =c3=a9, end=");
    REQUIRE(qp);
    CHECK(qp->body == "caf\xC3\xA9 softbreak = equals, trailingnext, bad =ZZ and lower \xC3\xA9, end");

    auto b64 = parseMime("Content-Transfer-Encoding: base64\n\nSGVs\nbG8s IHdv*cmxk\nIQ==\n");
    REQUIRE(b64);
    CHECK(b64->body == "Hello, world!");
    // Concatenated padded blocks.
    auto blocks = parseMime("Content-Transfer-Encoding: BASE64\n\nYQ==Yg==\n");
    REQUIRE(blocks);
    CHECK(blocks->body == "ab");

    // A base64 message/rfc822 (not allowed, but sent) is decoded before it is read.
    auto enclosed = parseMime(
        "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
        "U3ViamVjdDogaGkKCmJvZHkK\n");  // "Subject: hi\n\nbody\n"
    REQUIRE(enclosed);
    REQUIRE(enclosed->children.size() == 1);
    CHECK(header(enclosed->children[0].headers, "Subject") == "hi");
    CHECK(enclosed->children[0].body == "body\n");

    // text/rfc822-headers: a header block child, the text kept.
    auto hdrs = parseMime("Content-Type: text/rfc822-headers\n\nFrom: a@b\nX-Rampart-Ref: t\n");
    REQUIRE(hdrs);
    REQUIRE(hdrs->children.size() == 1);
    CHECK(hdrs->children[0].headers.size() == 2);
    CHECK(hdrs->body == "From: a@b\nX-Rampart-Ref: t\n");
}

TEST_CASE("MIME: missing boundaries", "[feedback]") {
    auto open = parseMime("Content-Type: multipart/mixed; boundary=x\n\n--x\n\nfirst\n--x\n\nsecond, never closed\n");
    REQUIRE(open);
    REQUIRE(open->children.size() == 2);
    CHECK(open->children[0].body == "first");
    CHECK(open->children[1].body == "second, never closed\n");

    auto none = parseMime("Content-Type: multipart/mixed; boundary=x\n\nno delimiter at all\n");
    REQUIRE(none);
    CHECK(none->children.empty());
    CHECK(none->body == "no delimiter at all\n");

    auto noParam = parseMime("Content-Type: multipart/mixed\n\n--x\n\ntext\n");
    REQUIRE(noParam);
    CHECK(noParam->children.empty());
    CHECK(noParam->body == "--x\n\ntext\n");

    auto emptyParts = parseMime("Content-Type: multipart/mixed; boundary=x\n\n--x\n--x\n\n--x--");
    REQUIRE(emptyParts);
    REQUIRE(emptyParts->children.size() == 2);
    CHECK(emptyParts->children[0].body.empty());
    CHECK(emptyParts->children[0].headers.empty());
}

TEST_CASE("MIME: limits", "[feedback]") {
    // Nesting: each multipart level is one.
    auto nested = [](int levels) {
        std::string m;
        for (int i = 0; i < levels; ++i) {
            m += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" + std::to_string(i) + "\n";
        }
        return m + "\ninnermost\n";
    };
    auto ok = parseMime(nested(8), 8);
    REQUIRE(ok);
    auto deep = parseMime(nested(9), 8);
    REQUIRE_FALSE(deep);
    CHECK(deep.error() == "MIME nesting deeper than 8 levels");
    CHECK_FALSE(parseMime(nested(3), 2));
    // Enclosed messages count as levels too, and a caller's huge limit is capped.
    std::string rfc822;
    for (int i = 0; i < 200; ++i)
        rfc822 += "Content-Type: message/rfc822\n\n";
    CHECK_FALSE(parseMime(rfc822, 8));
    auto capped = parseMime(nested(5000), 1000000);
    REQUIRE_FALSE(capped);
    CHECK(capped.error() == "MIME nesting deeper than 64 levels");

    std::string many = "Content-Type: multipart/mixed; boundary=x\n\n";
    for (int i = 0; i < 10001; ++i)
        many += "--x\n";
    auto tooMany = parseMime(many);
    REQUIRE_FALSE(tooMany);
    CHECK(tooMany.error() == "more than 10000 MIME parts");

    CHECK(parseMime("").error() == "empty message");
    std::string huge((size_t{64} << 20) + 1, 'a');
    CHECK(parseMime(huge).error() == "message larger than 64 MiB");
    Report r = parseReport(huge);
    CHECK(r.kind == Kind::Unknown);
    CHECK(r.why == "unreadable message: message larger than 64 MiB");
}
