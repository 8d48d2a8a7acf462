// The project's one base64 (util/base64.h): RFC 4648 vectors, the strict decoder's errors, and the
// lenient decoder MIME bodies use.
#include "util/base64.h"

#include <catch2/catch.hpp>

using namespace rampart::util;

TEST_CASE("base64Encode: RFC 4648 vectors, both overloads", "[util][base64]") {
    CHECK(base64Encode("") == "");
    CHECK(base64Encode("f") == "Zg==");
    CHECK(base64Encode("fo") == "Zm8=");
    CHECK(base64Encode("foo") == "Zm9v");
    CHECK(base64Encode("foobar") == "Zm9vYmFy");
    const uint8_t bytes[] = {0xff, 0xfe, 0xfd};
    CHECK(base64Encode(bytes, 3) == "//79");
}

TEST_CASE("base64Decode is strict, base64DecodeLenient never fails", "[util][base64]") {
    CHECK(*base64Decode("Zm9v\r\n\tYg==") == "foob");
    CHECK(base64Decode("Zm9v!").error() == "base64: invalid character '!'");
    CHECK(base64Decode("Zg==Zg").error() == "base64: data after '=' padding");
    CHECK(base64Decode("Zg=").error() == "base64: bad '=' padding");

    CHECK(base64DecodeLenient("Zm9v\r\nYmFy") == "foobar");
    CHECK(base64DecodeLenient("Zm9v!Yg==") == "foob");  // junk skipped
    CHECK(base64DecodeLenient("Zg==Zm8=") == "ffo");    // concatenated padded blocks
    CHECK(base64DecodeLenient("Zm9vY") == "foo");       // trailing odd bits dropped
    CHECK(base64DecodeLenient("") == "");
}

TEST_CASE("base64url is unpadded and uses - and _", "[base64]") {
    CHECK(base64UrlEncode("") == "");
    CHECK(base64UrlEncode("f") == "Zg");
    CHECK(base64UrlEncode("fo") == "Zm8");
    CHECK(base64UrlEncode("foo") == "Zm9v");
    CHECK(base64UrlEncode("\xfb\xff\xbf") == "-_-_");
    CHECK(base64UrlDecode("-_-_") == std::optional<std::string>("\xfb\xff\xbf"));
    CHECK(base64UrlDecode("Zm8") == std::optional<std::string>("fo"));
    CHECK(!base64UrlDecode("Zm8="));  // no padding
    CHECK(!base64UrlDecode("+/"));    // not the url alphabet
    CHECK(!base64UrlDecode("Zm 8"));  // no white space
}
