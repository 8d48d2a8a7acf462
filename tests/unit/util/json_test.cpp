// util::jsonString: JSON string literals of untrusted text (control bytes, UTF-8, broken UTF-8).
#include "util/json.h"

#include <catch2/catch.hpp>
#include <string>

using rampart::util::jsonString;
using namespace std::string_literals;

TEST_CASE("jsonString quotes and escapes quotes and backslashes", "[json]") {
    CHECK(jsonString("") == "\"\"");
    CHECK(jsonString("plain text") == "\"plain text\"");
    CHECK(jsonString("say \"hi\"") == R"("say \"hi\"")");
    CHECK(jsonString("C:\\path") == R"("C:\\path")");
}

TEST_CASE("jsonString escapes control characters and DEL as \\u00XX", "[json]") {
    CHECK(jsonString("a\nb") == R"("a\u000ab")");
    CHECK(jsonString("tab\there\r") == R"("tab\u0009here\u000d")");
    CHECK(jsonString("\x01\x1f\x7f") == R"("\u0001\u001f\u007f")");
    CHECK(jsonString("nul\0byte"s) == R"("nul\u0000byte")");
}

TEST_CASE("jsonString passes valid UTF-8 through", "[json]") {
    CHECK(jsonString("Gr\xC3\xBC\xC3\x9F"
                     "e") ==
          "\"Gr\xC3\xBC\xC3\x9F"
          "e\"");                                                                     // Grüße
    CHECK(jsonString("\xE2\x82\xAC 5") == "\"\xE2\x82\xAC 5\"");                      // €
    CHECK(jsonString("\xF0\x9F\x93\xA7") == "\"\xF0\x9F\x93\xA7\"");                  // U+1F4E7
    CHECK(jsonString("\xE6\x97\xA5\xE6\x9C\xAC") == "\"\xE6\x97\xA5\xE6\x9C\xAC\"");  // 日本
}

TEST_CASE("jsonString replaces bytes that are not UTF-8 with U+FFFD", "[json]") {
    const std::string fffd = "\xEF\xBF\xBD";
    CHECK(jsonString("caf\xE9") == "\"caf" + fffd + "\"");                             // Latin-1 é
    CHECK(jsonString("\xC0\xAF") == "\"" + fffd + fffd + "\"");                        // overlong lead byte
    CHECK(jsonString("\x80x") == "\"" + fffd + "x\"");                                 // lone continuation byte
    CHECK(jsonString("\xE2\x82") == "\"" + fffd + fffd + "\"");                        // truncated sequence
    CHECK(jsonString("\xE2(\xAC") == "\"" + fffd + "(" + fffd + "\"");                 // broken continuation
    CHECK(jsonString("\xF5\x80\x80\x80") == "\"" + fffd + fffd + fffd + fffd + "\"");  // above U+10FFFF
}
