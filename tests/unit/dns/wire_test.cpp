// dns::wire::scanTtls on hand-made DNS messages, valid and broken (untrusted input).
#include "dns/wire.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

using rampart::dns::wire::scanTtls;

namespace {

std::string u16(uint16_t v) {
    return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}
std::string u32(uint32_t v) {
    return u16(static_cast<uint16_t>(v >> 16)) + u16(static_cast<uint16_t>(v));
}

std::string name(const std::string& dotted) {
    std::string out;
    size_t start = 0;
    while (start < dotted.size()) {
        size_t dot = dotted.find('.', start);
        if (dot == std::string::npos) dot = dotted.size();
        out.push_back(static_cast<char>(dot - start));
        out += dotted.substr(start, dot - start);
        start = dot + 1;
    }
    return out + std::string(1, '\0');
}

std::string header(uint16_t an, uint16_t ns, uint16_t ar = 0) {
    return u16(0x1234) + u16(0x8180) + u16(1) + u16(an) + u16(ns) + u16(ar);
}
std::string question() {
    return name("sel._domainkey.example.test") + u16(16) + u16(1);
}
std::string rr(const std::string& owner, uint16_t type, uint32_t ttl, const std::string& rdata) {
    return owner + u16(type) + u16(1) + u32(ttl) + u16(static_cast<uint16_t>(rdata.size())) + rdata;
}
const std::string kPtr("\xc0\x0c", 2);  // compression pointer to the question name

std::string soa(uint32_t minimum) {
    return name("ns.example.test") + kPtr + u32(1) + u32(7200) + u32(900) + u32(86400) + u32(minimum);
}

auto scan(const std::string& m) {
    return scanTtls(reinterpret_cast<const unsigned char*>(m.data()), m.size());
}

}  // namespace

TEST_CASE("wire: the smallest answer TTL is reported", "[dns][wire]") {
    const std::string m = header(3, 0) + question() + rr(kPtr, 5, 300, name("target.test")) +
                          rr(name("target.test"), 16, 60,
                             "\x03"
                             "abc") +
                          rr(kPtr, 16, 86400, std::string(1, '\0'));
    auto t = scan(m);
    REQUIRE(t);
    REQUIRE(t->answer);
    CHECK(*t->answer == 60);
    CHECK_FALSE(t->negative);
}

TEST_CASE("wire: TTLs over 2^31-1 count as zero", "[dns][wire]") {
    auto t = scan(header(2, 0) + question() + rr(kPtr, 16, 0x80000000u, "\x01x") + rr(kPtr, 16, 50, "\x01y"));
    REQUIRE(t);
    CHECK(*t->answer == 0);
    t = scan(header(1, 0) + question() + rr(kPtr, 16, 0x7fffffffu, "\x01x"));
    REQUIRE(t);
    CHECK(*t->answer == 0x7fffffffu);
}

TEST_CASE("wire: negative TTL is min(SOA TTL, SOA MINIMUM)", "[dns][wire]") {
    auto t = scan(header(0, 1) + question() + rr(name("example.test"), 6, 900, soa(120)));
    REQUIRE(t);
    CHECK_FALSE(t->answer);
    REQUIRE(t->negative);
    CHECK(*t->negative == 120);

    t = scan(header(0, 2) + question() + rr(name("example.test"), 2, 5, name("ns.example.test")) +
             rr(kPtr, 6, 60, soa(3600)));
    REQUIRE(t);
    CHECK(*t->negative == 60);  // NS records in the authority section are not SOAs

    t = scan(header(0, 1) + question() + rr(name("example.test"), 2, 5, name("ns.example.test")));
    REQUIRE(t);
    CHECK_FALSE(t->negative);
}

TEST_CASE("wire: every truncation of a message is an error, never an overread", "[dns][wire]") {
    const std::string m = header(2, 1) + question() +
                          rr(kPtr, 16, 300,
                             "\x03"
                             "abc") +
                          rr(kPtr, 16, 30,
                             "\x02"
                             "de") +
                          rr(name("example.test"), 6, 900, soa(120));
    auto full = scan(m);
    REQUIRE(full);
    CHECK(*full->answer == 30);
    CHECK(*full->negative == 120);
    for (size_t len = 0; len < m.size(); ++len) {
        INFO(len);
        // A heap copy of exactly `len` bytes, so ASan sees any read past the end.
        std::unique_ptr<unsigned char[]> copy(new unsigned char[len == 0 ? 1 : len]);
        std::copy(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(len), copy.get());
        CHECK_FALSE(scanTtls(copy.get(), len));
    }
}

TEST_CASE("wire: malformed names and records are errors", "[dns][wire]") {
    CHECK_FALSE(scanTtls(nullptr, 0));
    // Reserved label type (0x40) in the question.
    CHECK_FALSE(scan(header(0, 0) + std::string("\x41", 1) + "a" + std::string(1, '\0') + u16(16) + u16(1)));
    // RDLENGTH beyond the message.
    CHECK_FALSE(scan(header(1, 0) + question() + kPtr + u16(16) + u16(1) + u32(5) + u16(200) + "ab"));
    // An SOA whose RDATA is too short for its five numbers (the next record's bytes must not
    // count).
    const std::string shortSoa = name("ns.test") + name("h.test") + u32(1) + u32(2);
    CHECK_FALSE(
        scan(header(0, 2) + question() + rr(kPtr, 6, 60, shortSoa) + rr(kPtr, 16, 1, u32(7) + u32(8) + u32(9))));
    // Counts larger than the records present.
    CHECK_FALSE(scan(header(5, 0) + question() + rr(kPtr, 16, 300, "\x01x")));
}

TEST_CASE("wire: random bytes never crash the scanner", "[dns][wire]") {
    std::mt19937 rng(20240501);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<size_t> length(0, 600);
    const std::string base = header(2, 1) + question() +
                             rr(kPtr, 16, 300,
                                "\x03"
                                "abc") +
                             rr(kPtr, 16, 30,
                                "\x02"
                                "de") +
                             rr(name("example.test"), 6, 900, soa(120));
    int parsed = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string m;
        if (i % 2 == 0) {
            m.resize(length(rng));
            for (auto& c : m)
                c = static_cast<char>(byte(rng));
        } else {  // a valid message with a few bytes flipped
            m = base;
            for (int k = 0; k < 3; ++k) {
                m[std::uniform_int_distribution<size_t>(0, m.size() - 1)(rng)] = static_cast<char>(byte(rng));
            }
        }
        std::unique_ptr<unsigned char[]> copy(new unsigned char[m.empty() ? 1 : m.size()]);
        std::copy(m.begin(), m.end(), copy.get());
        if (scanTtls(copy.get(), m.size())) ++parsed;
    }
    CHECK(parsed > 0);  // the mutated valid messages often still scan
}
