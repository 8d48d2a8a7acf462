// Domain names: IDNA conversion (UTS #46 non-transitional), host name validation, organisational
// domains from the Public Suffix List and relaxed alignment.
#include "mail/domain.h"

#include <catch2/catch.hpp>

using namespace rampart::mail;

TEST_CASE("ASCII domains are lower-cased and validated", "[mail][domain]") {
    CHECK(*toAsciiDomain("Example.COM") == "example.com");
    CHECK(*toAsciiDomain(" mail.example.com. ") == "mail.example.com");
    CHECK(*toAsciiDomain("a-b.c0.example") == "a-b.c0.example");
    CHECK(*toAsciiDomain("xn--bcher-kva.example") == "xn--bcher-kva.example");
    CHECK(toAsciiDomain("").error() == "empty domain name");
    CHECK(toAsciiDomain(".").error() == "empty domain name");
    CHECK(toAsciiDomain("a..b").error() == "invalid domain name \"a..b\": empty label");
    CHECK(toAsciiDomain("-a.com").error() == "invalid domain name \"-a.com\": a label starts or ends with '-'");
    CHECK(toAsciiDomain("a_b.com").error() == "invalid domain name \"a_b.com\": character '_' not allowed");
    CHECK(toAsciiDomain("exa mple.com").error() == "invalid domain name \"exa mple.com\": character ' ' not allowed");
    CHECK(toAsciiDomain("[192.0.2.1]").error() == "invalid domain name \"[192.0.2.1]\": character '[' not allowed");
    CHECK(toAsciiDomain("192.0.2.1").error() ==
          "invalid domain name \"192.0.2.1\": the top-level label is numeric (an address, not a "
          "domain)");
    CHECK(toAsciiDomain(std::string(64, 'a') + ".com").error() ==
          "invalid domain name \"" + std::string(64, 'a') + ".com\": label longer than 63 characters");
    std::string longName;
    for (int i = 0; i < 51; ++i)
        longName += "abcd.";
    longName += "com";
    CHECK(toAsciiDomain(longName).error().find("longer than 253 characters") != std::string::npos);
    CHECK_FALSE(toAsciiDomain("xn--zz.example"));  // not a valid A-label
    CHECK_FALSE(toAsciiDomain(std::string("a\0b.com", 7)));
}

TEST_CASE("internationalised domains become A-labels", "[mail][domain]") {
    CHECK(*toAsciiDomain("b\xc3\xbc"
                         "cher.example") == "xn--bcher-kva.example");
    CHECK(*toAsciiDomain("B\xc3\x9c"
                         "CHER.Example") == "xn--bcher-kva.example");
    // Non-transitional: sharp s stays (fass.de would be the transitional result).
    CHECK(*toAsciiDomain("fa\xc3\x9f.de") == "xn--fa-hia.de");
    // NFC input: u + combining diaeresis is the same name as the precomposed one.
    CHECK(*toAsciiDomain("bu\xcc\x88"
                         "cher.example") == "xn--bcher-kva.example");
    CHECK(*toAsciiDomain("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84") ==
          "xn--e1afmkfd.xn--p1ai");
    auto bad = toAsciiDomain("\xff\xfe.example");
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == "invalid internationalized domain name \"\xff\xfe.example\": string encoding error");
}

TEST_CASE("organisational domains follow the Public Suffix List", "[mail][domain]") {
    CHECK(organizationalDomain("mail.example.co.uk") == "example.co.uk");
    CHECK(organizationalDomain("example.co.uk") == "example.co.uk");
    CHECK(organizationalDomain("a.b.c.Example.COM") == "example.com");
    CHECK(organizationalDomain("example.com.") == "example.com");
    CHECK(organizationalDomain("co.uk") == "co.uk");
    CHECK(organizationalDomain("com") == "com");
    CHECK(organizationalDomain("a.example.invalidtld") == "example.invalidtld");
    CHECK(organizationalDomain("") == "");
}

TEST_CASE("relaxed alignment compares organisational domains", "[mail][domain]") {
    CHECK(relaxedAligned("mail.example.com", "example.com"));
    CHECK(relaxedAligned("a.EXAMPLE.com", "b.example.COM"));
    CHECK(relaxedAligned("news.example.co.uk", "example.co.uk"));
    CHECK_FALSE(relaxedAligned("example.co.uk", "other.co.uk"));
    CHECK_FALSE(relaxedAligned("example.com", "example.net"));
    CHECK_FALSE(relaxedAligned("example.com", "notexample.com"));
    CHECK_FALSE(relaxedAligned("", ""));
}
