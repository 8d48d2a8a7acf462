// 8-bit and UTF-8 checks on raw bytes (RFC 3629): does text need SMTPUTF8 or RFC 2047, and may it be
// labelled UTF-8.
#pragma once

#include <cstddef>
#include <string_view>

namespace rampart::util {

inline bool is8bit(char c) {
    return static_cast<unsigned char>(c) >= 0x80;
}
// Any byte of 0x80 or above.
bool has8bit(std::string_view s);
// Length of the UTF-8 sequence at s[i], or 0 if it is not a valid one (overlongs, surrogates and
// code points above U+10FFFF are invalid, as RFC 3629 says).
size_t utf8SequenceLength(std::string_view s, size_t i);
bool validUtf8(std::string_view s);

}  // namespace rampart::util
