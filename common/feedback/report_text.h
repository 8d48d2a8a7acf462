// Text helpers the report readers share (DSN, ARF, plain-text bounces, unsubscribe tokens, the
// classifier): ASCII character classes, collapsed field values, "type;" prefixes and the addresses
// in report fields. Internal to common/feedback; everything reads untrusted text and never throws
// on malformed input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rampart::feedback {

constexpr size_t kMaxDiagnostic = 2000;  // a diagnostic kept in a DsnRecipient
constexpr size_t kMaxAddress = 998;
constexpr size_t kMaxRecipients = 10000;

// ASCII only (no locale).
inline bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
inline bool isAlnum(char c) {
    return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Control characters to spaces, runs of white space to one space, trimmed; at most `max` bytes.
std::string collapse(std::string_view s, size_t max = std::string_view::npos);

// "rfc822; <bob@example.com>" -> "bob@example.com"; "dns; mx.example.com" -> "mx.example.com".
std::string stripType(std::string_view v);
// An address from a field value: the inside of <...> if there is one, else the first word with
// an '@', else the trimmed value.
std::string cleanAddress(std::string_view v);
// What comes before the last '@' (all of it without one).
std::string localPartOf(std::string_view address);
// A plausible bare mailbox: local@domain, no blanks or specials, a dotted domain.
bool plausibleAddress(std::string_view a);
// Redacted Original-Rcpt-To values: "<redacted>", "redacted@example.com", "xxxxxx@hotmail.com",
// "****@...", or anything that is not an address.
bool looksRedacted(std::string_view address);

}  // namespace rampart::feedback
