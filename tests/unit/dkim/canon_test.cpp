// DKIM canonicalisation: RFC 6376 section 3.4.5 examples, edge cases of the streaming body hasher
// (chunk boundaries at every offset, empty bodies, missing final CRLF, bare CR/LF, 8-bit data),
// a comparison against a naive whole-string reference implementation, and base64.
#include "dkim/canon.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>

using namespace rampart::dkim;
using namespace std::string_literals;

namespace {

Sha256 sha256(std::string_view s) {
    Sha256 out{};
    unsigned int len = 0;
    EVP_Digest(s.data(), s.size(), out.data(), &len, EVP_sha256(), nullptr);
    return out;
}

std::string b64(const Sha256& h) {
    return base64(h.data(), h.size());
}

// Naive reference: the body as an MTA would transmit it (bare LF -> CRLF, final CRLF added),
// split into lines, each line canonicalised, trailing empty lines dropped.
std::string referenceBody(Canon c, std::string_view body) {
    std::string s;
    for (size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r')) s += '\r';
        s += body[i];
    }
    if (!s.empty() && (s.size() < 2 || s.substr(s.size() - 2) != "\r\n")) s += "\r\n";
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t e = s.find("\r\n", pos);
        lines.push_back(s.substr(pos, e - pos));
        pos = e + 2;
    }
    if (c == Canon::Relaxed) {
        for (auto& line : lines) {
            std::string out;
            bool wsp = false;
            for (char ch : line) {
                if (ch == ' ' || ch == '\t') {
                    wsp = true;
                    continue;
                }
                if (wsp) out += ' ';
                wsp = false;
                out += ch;
            }
            line = out;  // a trailing run is dropped
        }
    }
    while (!lines.empty() && lines.back().empty())
        lines.pop_back();
    std::string out;
    for (const auto& line : lines)
        out += line + "\r\n";
    if (out.empty() && c == Canon::Simple) out = "\r\n";
    return out;
}

Sha256 hashChunked(Canon c, std::string_view body, const std::vector<size_t>& cuts) {
    BodyHasher h(c);
    size_t prev = 0;
    for (size_t cut : cuts) {
        h.update(body.substr(prev, cut - prev));
        prev = cut;
    }
    h.update(body.substr(prev));
    return h.finish();
}

}  // namespace

TEST_CASE("c= values parse and print as header/body", "[dkim][canon]") {
    CHECK(*Canonicalization::parse("relaxed/simple") == Canonicalization{Canon::Relaxed, Canon::Simple});
    CHECK(*Canonicalization::parse("simple/relaxed") == Canonicalization{Canon::Simple, Canon::Relaxed});
    CHECK(*Canonicalization::parse("relaxed") == Canonicalization{Canon::Relaxed, Canon::Simple});
    CHECK(*Canonicalization::parse(" Relaxed/Relaxed ") == Canonicalization{Canon::Relaxed, Canon::Relaxed});
    CHECK(Canonicalization{Canon::Relaxed, Canon::Simple}.str() == "relaxed/simple");
    CHECK(Canonicalization::parse("relaxed").value().str() == "relaxed/simple");
    CHECK(Canonicalization::parse("loose/simple").error() ==
          "unknown canonicalization \"loose\" (use simple or relaxed, e.g. relaxed/relaxed)");
    CHECK(Canonicalization::parse("relaxed/").error() ==
          "unknown canonicalization \"\" (use simple or relaxed, e.g. relaxed/relaxed)");
    CHECK(Canonicalization::parse("relaxed/relaxed/simple").error() ==
          "expected header/body canonicalization such as relaxed/simple, got "
          "\"relaxed/relaxed/simple\"");
}

TEST_CASE("RFC 6376 3.4.5 example: headers", "[dkim][canon]") {
    // "A: X\r\nB : Y\t\r\n\tZ  \r\n": the second field's name is "B " (space before the colon).
    CHECK(canonicalizeHeader(Canon::Relaxed, "A", " X") == "a:X\r\n");
    CHECK(canonicalizeHeader(Canon::Relaxed, "B ", " Y\t\r\n\tZ  ") == "b:Y Z\r\n");
    CHECK(canonicalizeHeader(Canon::Simple, "A", " X") == "A: X\r\n");
    CHECK(canonicalizeHeader(Canon::Simple, "B ", " Y\t\r\n\tZ  ") == "B : Y\t\r\n\tZ  \r\n");
}

TEST_CASE("header canonicalisation edge cases", "[dkim][canon]") {
    SECTION("relaxed unfolds, collapses, trims and lower-cases the name only") {
        CHECK(canonicalizeHeader(Canon::Relaxed, "Subject", "  Hello \t World\r\n   again \t") ==
              "subject:Hello World again\r\n");
        CHECK(canonicalizeHeader(Canon::Relaxed, "X-MiXeD", " VaLuE") == "x-mixed:VaLuE\r\n");
        CHECK(canonicalizeHeader(Canon::Relaxed, "X-Empty", "") == "x-empty:\r\n");
        CHECK(canonicalizeHeader(Canon::Relaxed, "X-Blank", " \t ") == "x-blank:\r\n");
        CHECK(canonicalizeHeader(Canon::Relaxed, "X-Fold", "\r\n\tvalue") == "x-fold:value\r\n");
        // Folding without whitespace around it joins the words (RFC 5322 unfolding).
        CHECK(canonicalizeHeader(Canon::Relaxed, "X", " a\r\n b") == "x:a b\r\n");
    }
    SECTION("a bare LF in a value is a line break, as on the wire") {
        CHECK(canonicalizeHeader(Canon::Relaxed, "To", " a,\n\tb") ==
              canonicalizeHeader(Canon::Relaxed, "To", " a,\r\n\tb"));
        CHECK(canonicalizeHeader(Canon::Simple, "To", " a,\n\tb") == "To: a,\r\n\tb\r\n");
        CHECK(canonicalizeHeader(Canon::Simple, "To", "\n\tb") == "To:\r\n\tb\r\n");
    }
    SECTION("8-bit bytes pass through") {
        CHECK(canonicalizeHeader(Canon::Relaxed, "Subject",
                                 " Gr\xc3\xbc\xc3\x9f"
                                 "e  \xff") ==
              "subject:Gr\xc3\xbc\xc3\x9f"
              "e \xff\r\n");
        CHECK(canonicalizeHeader(Canon::Simple, "Subject", " \xe9 ") == "Subject: \xe9 \r\n");
    }
    SECTION("simple keeps everything") {
        CHECK(canonicalizeHeader(Canon::Simple, "X-Tabbed", "\tvalue\t") == "X-Tabbed:\tvalue\t\r\n");
    }
}

TEST_CASE("RFC 6376 3.4.5 example: body", "[dkim][canon]") {
    const std::string body = " C \r\nD \t E\r\n\r\n\r\n";
    CHECK(hashBody(Canon::Relaxed, body) == sha256(" C\r\nD E\r\n"));
    CHECK(hashBody(Canon::Simple, body) == sha256(" C \r\nD \t E\r\n"));
    CHECK(referenceBody(Canon::Relaxed, body) == " C\r\nD E\r\n");
    CHECK(referenceBody(Canon::Simple, body) == " C \r\nD \t E\r\n");
}

TEST_CASE("empty bodies: simple is CRLF, relaxed is nothing", "[dkim][canon]") {
    // Well-known bh= values, as dkimpy and libopendkim compute them.
    CHECK(b64(hashBody(Canon::Simple, "")) == "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
    CHECK(b64(hashBody(Canon::Relaxed, "")) == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    for (const std::string& body : {"\r\n"s, "\r\n\r\n\r\n"s, "\n\n"s}) {
        CHECK(hashBody(Canon::Simple, body) == sha256("\r\n"));
        CHECK(hashBody(Canon::Relaxed, body) == sha256(""));
    }
    // Lines of whitespace are empty lines under relaxed only.
    CHECK(hashBody(Canon::Relaxed, " \r\n\t\r\n") == sha256(""));
    CHECK(hashBody(Canon::Simple, " \r\n\t\r\n") == sha256(" \r\n\t\r\n"));
    BodyHasher h(Canon::Relaxed);
    h.finish();
    CHECK(h.canonicalLength() == 0);
}

TEST_CASE("trailing empty lines are dropped, inner ones kept", "[dkim][canon]") {
    CHECK(hashBody(Canon::Simple, "a\r\n\r\n\r\nb\r\n\r\n") == sha256("a\r\n\r\n\r\nb\r\n"));
    CHECK(hashBody(Canon::Relaxed, "a\r\n \r\n\t\r\nb \r\n \r\n") == sha256("a\r\n\r\n\r\nb\r\n"));
    BodyHasher h(Canon::Simple);
    h.update("abc\r\n\r\n\r\n");
    CHECK(h.canonicalLength() == 3);  // the line ends are still held back
    h.finish();
    CHECK(h.canonicalLength() == 5);
}

TEST_CASE("a body without final CRLF gets one", "[dkim][canon]") {
    CHECK(hashBody(Canon::Simple, "abc") == sha256("abc\r\n"));
    CHECK(hashBody(Canon::Relaxed, "abc") == sha256("abc\r\n"));
    CHECK(hashBody(Canon::Simple, "a\r\nb") == sha256("a\r\nb\r\n"));
    // Trailing whitespace of the unterminated last line: the wire form is "abc  \r\n".
    CHECK(hashBody(Canon::Relaxed, "abc  ") == sha256("abc\r\n"));
    CHECK(hashBody(Canon::Simple, "abc  ") == sha256("abc  \r\n"));
    CHECK(hashBody(Canon::Relaxed, "abc \t x") == sha256("abc x\r\n"));
    CHECK(hashBody(Canon::Relaxed, "\r\n\r\n  x") == sha256("\r\n\r\n x\r\n"));
}

TEST_CASE("relaxed body whitespace rules", "[dkim][canon]") {
    CHECK(hashBody(Canon::Relaxed, "  lead\r\n") == sha256(" lead\r\n"));
    CHECK(hashBody(Canon::Relaxed, "a \t\t  b\t\r\n") == sha256("a b\r\n"));
    CHECK(hashBody(Canon::Relaxed, "\t\r\nx\r\n") == sha256("\r\nx\r\n"));
    // Only SP and HTAB are whitespace: form feed and vertical tab are data.
    CHECK(hashBody(Canon::Relaxed, "a\f \v\r\n") == sha256("a\f \v\r\n"));
}

TEST_CASE("bare LF ends a line; bare CR is data", "[dkim][canon]") {
    for (Canon c : {Canon::Simple, Canon::Relaxed}) {
        CHECK(hashBody(c, "a\nb\n\n") == hashBody(c, "a\r\nb\r\n\r\n"));
        CHECK(hashBody(c, "a \n") == hashBody(c, "a \r\n"));
    }
    CHECK(hashBody(Canon::Simple, "a\rb\r\n") == sha256("a\rb\r\n"));
    CHECK(hashBody(Canon::Relaxed, "a \r b\r\n") == sha256("a \r b\r\n"));
    CHECK(hashBody(Canon::Simple, "a\r\r\n") == sha256("a\r\r\n"));
    // A CR ending the body: on the wire it is followed by CRLF.
    CHECK(hashBody(Canon::Simple, "x\r\n\r") == sha256("x\r\n\r\r\n"));
    CHECK(hashBody(Canon::Relaxed, "x\r\n\r") == sha256("x\r\n\r\r\n"));
    CHECK(hashBody(Canon::Simple, "\r") == sha256("\r\r\n"));
}

TEST_CASE("8-bit and NUL bytes are hashed unchanged", "[dkim][canon]") {
    const std::string body =
        "Gr\xc3\xbc\xc3\x9f"
        "e \xff\xfe\x80\r\nnul\0byte\r\n"s;
    CHECK(hashBody(Canon::Simple, body) == sha256(body));
    CHECK(hashBody(Canon::Relaxed, body) == sha256(body));
}

TEST_CASE("long lines and large bodies", "[dkim][canon]") {
    std::string line(200000, 'x');
    for (size_t i = 0; i < line.size(); i += 13)
        line[i] = ' ';
    line[line.size() - 1] = 'z';
    const std::string body = line + "\r\n" + line + "  \r\n\r\n";
    CHECK(hashBody(Canon::Simple, body) == sha256(referenceBody(Canon::Simple, body)));
    CHECK(hashBody(Canon::Relaxed, body) == sha256(referenceBody(Canon::Relaxed, body)));
    // Milter-sized chunks.
    std::vector<size_t> cuts;
    for (size_t pos = 65536; pos < body.size(); pos += 65536)
        cuts.push_back(pos);
    CHECK(hashChunked(Canon::Relaxed, body, cuts) == hashBody(Canon::Relaxed, body));
    CHECK(hashChunked(Canon::Simple, body, cuts) == hashBody(Canon::Simple, body));
    // Many empty lines held back and then released by content.
    const std::string blanks = "a" + std::string(100000, '\n') + "b";
    CHECK(hashBody(Canon::Simple, blanks) == sha256("a" + [] {
              std::string s;
              for (int i = 0; i < 100000; ++i)
                  s += "\r\n";
              return s;
          }() + "b\r\n"));
}

TEST_CASE("chunk boundaries at every offset give the one-shot hash", "[dkim][canon]") {
    const std::vector<std::string> bodies = {
        " C \r\nD \t E\r\n\r\n\r\n",
        "line one\r\n\r\n  two  \t\r\n\r\n three\r\n \r\n\t\r\n",
        "no final crlf  \t ",
        "bare\nlf\n\nand\r\ncr\rlf\r\r\n\r",
        "\r\n\r\n\r\n",
        "\xff\xfe \t\xc3\xbc\r\n\t\r\n",
    };
    for (const auto& body : bodies) {
        for (Canon c : {Canon::Simple, Canon::Relaxed}) {
            const Sha256 whole = hashBody(c, body);
            CHECK(whole == sha256(referenceBody(c, body)));
            for (size_t i = 0; i <= body.size(); ++i) {
                INFO("body " << body.size() << " bytes split at " << i);
                CHECK(hashChunked(c, body, {i}) == whole);
                for (size_t j = i; j <= body.size(); ++j) {
                    if (hashChunked(c, body, {i, j}) != whole) {
                        FAIL("split at " << i << " and " << j);
                    }
                }
            }
            // One byte at a time.
            BodyHasher h(c);
            for (char ch : body)
                h.update(std::string_view(&ch, 1));
            CHECK(h.finish() == whole);
        }
    }
}

TEST_CASE("random bodies match the reference under random chunking", "[dkim][canon]") {
    std::mt19937 rng(20231114);
    const char alphabet[] = {'a', 'b', ' ', '\t', '\r', '\n', '\xff', '.'};
    for (int iter = 0; iter < 3000; ++iter) {
        std::string body;
        size_t len = rng() % 40;
        for (size_t i = 0; i < len; ++i)
            body += alphabet[rng() % sizeof alphabet];
        std::vector<size_t> cuts;
        for (size_t pos = 0; pos < body.size();) {
            pos += 1 + rng() % 5;
            if (pos < body.size()) cuts.push_back(pos);
        }
        for (Canon c : {Canon::Simple, Canon::Relaxed}) {
            INFO("body: " << rampart::dkim::base64(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
            REQUIRE(hashChunked(c, body, cuts) == sha256(referenceBody(c, body)));
        }
    }
}

TEST_CASE("finish is idempotent and update after finish is ignored", "[dkim][canon]") {
    BodyHasher h(Canon::Relaxed);
    h.update("abc\r\n");
    const Sha256 first = h.finish();
    h.update("more");
    CHECK(h.finish() == first);
    CHECK(first == sha256("abc\r\n"));
}

TEST_CASE("base64 encodes and decodes (RFC 4648 vectors)", "[dkim][base64]") {
    auto enc = [](std::string_view s) { return base64(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };
    CHECK(enc("") == "");
    CHECK(enc("f") == "Zg==");
    CHECK(enc("fo") == "Zm8=");
    CHECK(enc("foo") == "Zm9v");
    CHECK(enc("foob") == "Zm9vYg==");
    CHECK(enc("fooba") == "Zm9vYmE=");
    CHECK(enc("foobar") == "Zm9vYmFy");
    CHECK(enc("\xff\xfe\xfd") == "//79");
    CHECK(*base64Decode("Zm9vYmFy") == "foobar");
    CHECK(*base64Decode("Zm9v\r\n\tYg==") == "foob");
    CHECK(*base64Decode(" Zm 9v YmE = ") == "fooba");
    CHECK(*base64Decode("Zg") == "f");  // unpadded
    CHECK(*base64Decode("") == "");
    CHECK(*base64Decode("//79") == "\xff\xfe\xfd");
    CHECK(base64Decode("Zm9v!").error() == "base64: invalid character '!'");
    CHECK(base64Decode("Zm9vY").error() == "base64: truncated data");
    CHECK(base64Decode("Zg==Zg==").error() == "base64: data after '=' padding");
    CHECK(base64Decode("Zg=").error() == "base64: bad '=' padding");
    CHECK(base64Decode("Zm8===").error() == "base64: bad '=' padding");
}
