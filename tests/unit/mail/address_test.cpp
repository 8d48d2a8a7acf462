// RFC 5322 address lists and RFC 5321 envelope addresses: the RFC's own examples (including the
// obsolete syntax of appendix A.6), folding, comments, groups, UTF-8, and malformed input with
// the error each gives. The parser faces untrusted input in a threaded daemon: deep nesting and
// huge values must fail or pass quickly, never crash.
#include "mail/address.h"

#include <catch2/catch.hpp>
#include <chrono>

using namespace rampart::mail;

namespace {

Mailbox mb(std::string name, std::string local, std::string domain) {
    return Mailbox{std::move(name), std::move(local), std::move(domain)};
}

std::vector<Mailbox> ok(std::string_view value) {
    auto r = parseAddressList(value);
    INFO("value: " << value);
    if (!r) FAIL("error: " << r.error());
    return r.value();
}

std::string error(std::string_view value) {
    auto r = parseAddressList(value);
    INFO("value: " << value);
    REQUIRE_FALSE(r);
    return r.error();
}

}  // namespace

TEST_CASE("plain addresses and name-addrs", "[mail][address]") {
    CHECK(ok("alice@example.com") == std::vector{mb("", "alice", "example.com")});
    CHECK(ok(" Alice Example <alice@example.com>") == std::vector{mb("Alice Example", "alice", "example.com")});
    CHECK(ok("<alice@example.com>") == std::vector{mb("", "alice", "example.com")});
    CHECK(ok("alice@Example.COM")[0].address() == "alice@Example.COM");  // as written
    CHECK(ok("a@b.c, d@e.f") == std::vector{mb("", "a", "b.c"), mb("", "d", "e.f")});
    CHECK(ok("first.last+tag@sub.example.org")[0].localPart == "first.last+tag");
    CHECK(ok("!#$%&'*+-/=?^_`{|}~@example.com")[0].localPart == "!#$%&'*+-/=?^_`{|}~");
}

TEST_CASE("RFC 5322 appendix A examples", "[mail][address]") {
    CHECK(ok("John Doe <jdoe@machine.example>") == std::vector{mb("John Doe", "jdoe", "machine.example")});
    CHECK(ok("Mary Smith <mary@example.net>, jdoe@example.org, Who? <one@y.test>") ==
          std::vector{mb("Mary Smith", "mary", "example.net"), mb("", "jdoe", "example.org"),
                      mb("Who?", "one", "y.test")});
    CHECK(ok("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>") ==
          std::vector{mb("", "boss", "nil.test"), mb("Giant; \"Big\" Box", "sysservices", "example.net")});
    CHECK(ok("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;") ==
          std::vector{mb("Ed Jones", "c", "a.test"), mb("", "joe", "where.test"), mb("John", "jdoe", "one.test")});
    CHECK(ok("Undisclosed recipients:;").empty());
    CHECK(ok("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>") ==
          std::vector{mb("Pete", "pete", "silly.test")});
    CHECK(ok("A Group(Some people)\r\n     :Chris Jones <c@(Chris's host.)public.example>,\r\n"
             "         joe@example.org,\r\n  John <jdoe@one.test> (my dear friend); (the end of "
             "the group)") == std::vector{mb("Chris Jones", "c", "public.example"), mb("", "joe", "example.org"),
                                          mb("John", "jdoe", "one.test")});
    CHECK(ok("(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;").empty());
}

TEST_CASE("obsolete syntax (RFC 5322 4.4, appendix A.6)", "[mail][address]") {
    CHECK(ok("Joe Q. Public <john.q.public@example.com>") ==
          std::vector{mb("Joe Q. Public", "john.q.public", "example.com")});
    CHECK(ok("Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example") ==
          std::vector{mb("Mary Smith", "mary", "example.net"), mb("", "jdoe", "test.example")});
    CHECK(ok("<@a.example,,@b.example:x@y.example>") == std::vector{mb("", "x", "y.example")});
    CHECK(ok("john . q . public @ example . com")[0].address() == "john.q.public@example.com");
    CHECK(ok(",,a@b.c,,")[0].address() == "a@b.c");
}

TEST_CASE("quoted strings, escapes and folding", "[mail][address]") {
    CHECK(ok("\"Doe, John\" <jd@example.com>")[0].displayName == "Doe, John");
    CHECK(ok("\"a\\\\b\" <x@y.z>")[0].displayName == "a\\b");
    CHECK(ok("\"quoted local\"@example.com")[0].localPart == "\"quoted local\"");
    CHECK(ok("\"a\\\"b\"@example.com")[0].localPart == "\"a\\\"b\"");
    CHECK(ok("\"folded\r\n name\" <x@y.z>")[0].displayName == "folded name");
    CHECK(ok("Alice\r\n\tExample\r\n <alice@example.com>")[0].displayName == "Alice Example");
    CHECK(ok("alice@example.com (Alice Example)")[0].displayName == "");
    CHECK(ok("x@[192.0.2.1]")[0].domain == "[192.0.2.1]");
    CHECK(ok("x@[IPv6:2001:db8::1]")[0].domain == "[IPv6:2001:db8::1]");
    CHECK(ok("=?utf-8?q?J=C3=BCrgen?= <j@example.com>")[0].displayName == "=?utf-8?q?J=C3=BCrgen?=");
}

TEST_CASE("UTF-8 in display names and addresses (RFC 6532)", "[mail][address]") {
    CHECK(ok("J\xc3\xbcrgen M\xc3\xbcller <j@example.com>")[0].displayName == "J\xc3\xbcrgen M\xc3\xbcller");
    CHECK(ok("\"\xe6\x9d\x8e \xe5\x9b\x9b\" <li@example.cn>")[0].displayName == "\xe6\x9d\x8e \xe5\x9b\x9b");
    CHECK(ok("\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd@\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80."
             "\xd1\x80\xd1\x84")[0]
              .domain == "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84");
}

TEST_CASE("malformed address lists say what is wrong", "[mail][address]") {
    CHECK(error("") == "no address");
    CHECK(error("   \r\n ") == "no address");
    CHECK(error("(just a comment)") == "no address");
    CHECK(error(",,") == "no address");
    CHECK(error("john") == "missing '@' in \"john\"");
    CHECK(error("John Doe") == "missing '@' in \"John Doe\"");
    CHECK(error("John Doe <jdoe>") == "missing '@' in \"<jdoe>\"");
    CHECK(error("@example.com") == "empty local part before '@'");
    CHECK(error("<@example.com>") == "invalid route: expected ':' but found '>'");
    CHECK(error("john@") == "empty domain after '@'");
    CHECK(error("<john@>") == "empty domain after '@'");
    CHECK(error("john@example.") == "domain \"example.\" ends with '.'");
    CHECK(error(".john@example.com") == "local part starts with '.'");
    CHECK(error("john.@example.com") == "local part ends with '.'");
    CHECK(error("john..doe@example.com") == "'..' in local part");
    CHECK(error("john doe@example.com") == "missing '@' after \"john\" (found \"doe\")");
    CHECK(error("\"unterminated@example.com") == "unterminated quoted string (missing '\"')");
    CHECK(error("Name \"x\\") == "unterminated quoted string (missing '\"')");
    CHECK(error("a@b.c (unclosed") == "unterminated comment (missing ')')");
    CHECK(error("a@b.c (nested (unclosed)") == "unterminated comment (missing ')')");
    CHECK(error("a@b.c)") == "unexpected ')' without '('");
    CHECK(error("x@[1.2.3.4") == "unterminated domain literal (missing ']')");
    CHECK(error("x@1.2.3.4]") == "unexpected ']' without '['");
    CHECK(error("Alice <alice@example.com") == "missing '>' after \"<alice@example.com\"");
    CHECK(error("alice@example.com>") == "unexpected '>' after \"alice@example.com\"");
    CHECK(error("<<alice@example.com>>") == "unexpected '<' after '<'");
    CHECK(error("<>") == "empty address \"<>\"");
    CHECK(error("a@b.c d") == "unexpected \"d\" after \"a@b.c\"");
    CHECK(error("a@b.c; d@e.f") == "unexpected ';' after \"a@b.c\"");
    CHECK(error("<a@b.c> junk") == "unexpected \"junk\" after \"a@b.c\"");
    CHECK(error("x@y.z:") == "unexpected ':' after \"x@y.z\"");
    CHECK(error("Group: a@b.c") == "group \"Group\" is not closed with ';'");
    CHECK(error("Group: a@b.c,") == "group \"Group\" is not closed with ';'");
    CHECK(error("Group: a@b.c junk;") == "unexpected \"junk\" after \"a@b.c\"");
    CHECK(error("Outer: Inner: a@b.c;;") == "nested group \"Inner\" inside a group");
    CHECK(error(": a@b.c;") == "unexpected ':'");
    CHECK(error("a\\b@c.d") == "unexpected '\\' outside a quoted string");
    CHECK(error("a@b.c\x01") == "invalid character 0x01");
    CHECK(error(std::string("a@b.c\0", 6)) == "invalid character 0x00");
    CHECK(error(std::string("\"a\0\"@b.c", 8)) == "invalid character 0x00 in a quoted string");
    CHECK(error("<a@b.c d>") == "unexpected \"d\" in \"<a@b.c>\"");
    CHECK(error("x@@y.z") == "invalid domain: unexpected '@' after '@'");
}

TEST_CASE("hostile input: deep nesting and huge values stay cheap", "[mail][address]") {
    const auto start = std::chrono::steady_clock::now();
    CHECK(error("a@b.c " + std::string(100000, '(') + std::string(100000, ')')) == "comments nested too deeply");
    const std::string nested64 = std::string(64, '(') + std::string(64, ')');
    CHECK(ok("a@b.c " + nested64)[0].address() == "a@b.c");
    CHECK(error("a@b.c " + std::string(65, '(') + std::string(65, ')')) == "comments nested too deeply");
    // Many addresses, long phrases, long quoted strings.
    std::string many;
    for (int i = 0; i < 20000; ++i)
        many += "User " + std::to_string(i) + " <u" + std::to_string(i) + "@example.com>, ";
    CHECK(ok(many).size() == 20000);
    std::string words;
    for (int i = 0; i < 50000; ++i)
        words += "word ";
    CHECK(error(words) == "missing '@' in \"" + std::string(words.substr(0, 80)) + "...\"");
    CHECK(ok("\"" + std::string(200000, 'q') + "\" <x@y.z>")[0].displayName.size() == 200000);
    CHECK(error(std::string(100000, '"')) == "missing '@' in \"\"");  // 50000 empty strings
    CHECK(error(std::string(100001, '"')) == "unterminated quoted string (missing '\"')");
    CHECK(error(std::string(50000, '<')) == "unexpected '<' after '<'");
    CHECK(error(std::string(50000, '.')) == "missing '@' in \"" + std::string(80, '.') + "...\"");
    CHECK(error(std::string(50000, '.') + "@x") == "local part starts with '.'");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("envelope addresses", "[mail][address]") {
    CHECK(*parseEnvelopeAddress("<alice@example.com>") == mb("", "alice", "example.com"));
    CHECK(*parseEnvelopeAddress("alice@example.com") == mb("", "alice", "example.com"));
    CHECK(*parseEnvelopeAddress(" <Alice@Example.COM> ") == mb("", "Alice", "Example.COM"));
    CHECK(*parseEnvelopeAddress("<>") == Mailbox{});
    CHECK(*parseEnvelopeAddress("") == Mailbox{});
    CHECK(*parseEnvelopeAddress("<@relay.example,@hop.example:bob@example.net>") == mb("", "bob", "example.net"));
    CHECK(*parseEnvelopeAddress("<\"john doe\"@example.com>") == mb("", "\"john doe\"", "example.com"));
    CHECK(*parseEnvelopeAddress("<\"a@b\\\"c\"@example.com>") == mb("", "\"a@b\\\"c\"", "example.com"));
    CHECK(*parseEnvelopeAddress("<x@[192.0.2.1]>") == mb("", "x", "[192.0.2.1]"));
    CHECK(*parseEnvelopeAddress("<Postmaster>") == mb("", "Postmaster", ""));
    CHECK(*parseEnvelopeAddress("bounce+tag=x@b.example") == mb("", "bounce+tag=x", "b.example"));
    CHECK(*parseEnvelopeAddress("<j\xc3\xbcrgen@b\xc3\xbc"
                                "cher.example>") == mb("", "j\xc3\xbcrgen",
                                                       "b\xc3\xbc"
                                                       "cher.example"));

    CHECK(parseEnvelopeAddress("<alice@example.com").error() == "missing '>' in \"<alice@example.com\"");
    CHECK(parseEnvelopeAddress("alice@example.com>").error() == "unexpected '>' in \"alice@example.com>\"");
    CHECK(parseEnvelopeAddress("<alice>").error() == "missing '@' in \"alice\"");
    CHECK(parseEnvelopeAddress("<@example.com>").error() == "invalid source route in \"@example.com\" (missing ':')");
    CHECK(parseEnvelopeAddress("<a@b@c>").error() == "more than one '@' in \"a@b@c\"");
    CHECK(parseEnvelopeAddress("<a b@c>").error() == "invalid character 0x20 in the local part of \"a b@c\"");
    CHECK(parseEnvelopeAddress("<a@>").error() == "empty domain in \"a@\"");
    CHECK(parseEnvelopeAddress("<@x:@c>").error() == "empty local part in \"@x:@c\"");
    CHECK(parseEnvelopeAddress("<a@b..c>").error() == "invalid domain in \"a@b..c\"");
    CHECK(parseEnvelopeAddress("<\"open@example.com>").error() ==
          "unterminated quoted local part in \"\"open@example.com\"");
    CHECK(parseEnvelopeAddress("<\"x\"example.com>").error() ==
          "missing '@' after the quoted local part in \"\"x\"example.com\"");
    CHECK(parseEnvelopeAddress("<a@exa(mple.com>").error() ==
          "invalid character '(' in the domain of \"a@exa(mple.com\"");
}
