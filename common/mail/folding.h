// Header line length (RFC 5322 section 2.1.1): measuring the longest line of a field and refolding
// lines over 998 octets at whitespace. Unfolding is mail/header.h's unfold().
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rampart::mail {

constexpr size_t kMaxLineLength = 998;  // RFC 5322 2.1.1 MUST (octets, CRLF not counted)

// The longest line of the field in octets, the "Name:" prefix included; `value` as the milter holds
// it (folded lines joined by CRLF or LF).
size_t longestLine(std::string_view name, std::string_view value);

// The value with every line over kMaxLineLength refolded: folds go before blanks, aiming at 78
// octets per line, never leaving a line of blanks only; other lines and the line breaks already
// there are kept. nullopt when some stretch of over 998 octets has no blank to fold at.
std::optional<std::string> refold(std::string_view name, std::string_view value);

}  // namespace rampart::mail
