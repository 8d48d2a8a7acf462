// Base64 (RFC 4648 section 4, the "+/" alphabet with '=' padding) and base64url (section 5, the "-_"
// alphabet, unpadded): the project's one encoder and one decoder. DKIM (bh=, b=, p=), RFC 2047
// encoded-words and MIME bodies use base64; sealed tokens (util/tokens.h) use base64url.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace rampart::util {

// Padded base64 of the bytes, on one line.
std::string base64Encode(std::string_view bytes);
std::string base64Encode(const uint8_t* data, size_t len);

// Strict: whitespace (blank, tab, CR, LF) anywhere is ignored, padding is optional; any other byte
// outside the alphabet, data after '=', a truncated final quantum or bad padding is an error
// ("base64: ...").
Result<std::string> base64Decode(std::string_view text);

// Lenient, for MIME bodies and encoded-words from untrusted mail: never fails. Bytes outside the
// alphabet (line breaks, junk) are skipped; '=' ends a quantum, so concatenated padded blocks decode
// too; trailing odd bits are dropped.
std::string base64DecodeLenient(std::string_view text);

// Base64url without padding (what URLs and tokens want).
std::string base64UrlEncode(std::string_view bytes);

// Base64url without padding: nullopt for any byte outside the "-_" alphabet (whitespace and '='
// included); trailing odd bits (a final quantum of one symbol) are dropped.
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace rampart::util
