// Message-ID syntax and generation (mail/message_id.h).
#include "mail/message_id.h"

#include <catch2/catch.hpp>
#include <regex>

using namespace rampart::mail;

TEST_CASE("parseMessageId splits <left@right> and refuses the rest", "[mail][message_id]") {
    auto id = parseMessageId(" <abc.123@mail.example.com> (comment)", false);
    REQUIRE(id);
    CHECK(id->left == "abc.123");
    CHECK(id->right == "mail.example.com");
    CHECK(parseMessageId("<\"quoted\"@[192.0.2.1]>", false));
    CHECK_FALSE(parseMessageId("abc@example.com", false));
    CHECK_FALSE(parseMessageId("<abc@example.com> trailing", false));
    CHECK_FALSE(parseMessageId("<a b@example.com>", false));
    CHECK_FALSE(parseMessageId("<a..b@example.com>", false));
    CHECK_FALSE(parseMessageId("<\xc3\xa9@example.com>", false));
    CHECK(parseMessageId("<\xc3\xa9@example.com>", true));
    CHECK_FALSE(parseMessageId("<" + std::string(500, 'a') + "@example.com>", false));
}

TEST_CASE("generateMessageId is random and well-formed", "[mail][message_id]") {
    const rampart::util::SystemTime t{std::chrono::milliseconds{1234}};
    auto a = generateMessageId("example.com", t);
    auto b = generateMessageId("example.com", t);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a != *b);
    CHECK(std::regex_match(*a, std::regex("<[a-z2-7]{26}\\.1234@example\\.com>")));
    CHECK(parseMessageId(*a, false));
}
