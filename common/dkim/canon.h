// DKIM canonicalisation (RFC 6376 section 3.4), header and body, simple and relaxed.
// The body canonicaliser streams: the milter feeds 64 KiB chunks as they arrive and never keeps
// the body in memory.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/base64.h"
#include "util/result.h"

namespace rampart::dkim {

enum class Canon { Simple, Relaxed };

struct Canonicalization {
    Canon header = Canon::Relaxed;
    Canon body = Canon::Relaxed;
    // "relaxed/simple"; a single word means "word/simple" (RFC 6376 section 3.5, c= tag).
    static util::Result<Canonicalization> parse(std::string_view text);
    std::string str() const;  // always "header/body"
    bool operator==(const Canonicalization&) const = default;
};

// The canonical form of one header field, CRLF-terminated: simple = name ":" value CRLF unchanged;
// relaxed = lower-case name, unfolded value, whitespace runs as one SP, no whitespace around the
// colon or at the end. `value` uses the HeaderField convention (raw, CRLF folding).
std::string canonicalizeHeader(Canon c, std::string_view name, std::string_view value);

using Sha256 = std::array<uint8_t, 32>;

// Streaming body canonicalisation + SHA-256 (bh=). Handles CRLF split across chunks, trailing
// empty lines (dropped, though counted until a non-empty line shows they were not trailing), a last
// line without CRLF, empty bodies (simple: "\r\n"; relaxed: ""), whitespace runs (relaxed).
// Line ends are CRLF; a bare LF also ends a line (the MTA sends it as CRLF on the wire, and
// verifiers read it that way); a bare CR is an ordinary byte. No allocation per chunk or byte.
class BodyHasher {
  public:
    explicit BodyHasher(Canon c);
    BodyHasher(const BodyHasher&) = delete;
    BodyHasher& operator=(const BodyHasher&) = delete;
    ~BodyHasher();
    void update(std::string_view chunk);
    Sha256 finish();                                      // call once; later calls return the same digest
    uint64_t canonicalLength() const { return length_; }  // bytes hashed so far

  private:
    void contentSpan(const char* p, size_t n);  // line content (no line end), canonicalised
    void relaxedSpan(const char* p, size_t n);
    void lineEnd() {
        ++pendingCRLFs_;
        pendingWsp_ = false;
    }
    void flushPendingLines();
    void emit(const char* p, size_t n);  // hashes canonical bytes (through buf_)
    void flushBuffer();

    Canon canon_;
    EVP_MD_CTX* md_;
    uint64_t length_ = 0;
    // Streaming state
    bool pendingCR_ = false;     // a CR ended the previous chunk: CRLF or a bare CR, not known yet
    uint64_t pendingCRLFs_ = 0;  // line ends not yet emitted: trailing empty lines are dropped
    bool pendingWsp_ = false;    // relaxed: a whitespace run not yet known to be inside the line
    bool anyContent_ = false;    // some line content was emitted
    bool finished_ = false;
    Sha256 digest_{};
    size_t bufLen_ = 0;
    std::array<char, 4096> buf_{};  // small canonical pieces, hashed in one EVP call
};

// Canonicalises a whole body in one go (tests and tools).
Sha256 hashBody(Canon c, std::string_view body);

// Base64 for DKIM tags (bh=, b=, p=): util/base64.h, under the names the DKIM code has always used.
inline std::string base64(const uint8_t* data, size_t len) {
    return util::base64Encode(data, len);
}
inline util::Result<std::string> base64Decode(std::string_view text) {  // ignores whitespace
    return util::base64Decode(text);
}

}  // namespace rampart::dkim
