// Small string helpers used across Rampart. Pure functions, ASCII semantics (mail protocols are ASCII
// at the syntax level; UTF-8 payload bytes pass through untouched).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::util {

inline bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
inline char toLowerAscii(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

std::string_view trim(std::string_view s);
std::string toLower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool startsWithNoCase(std::string_view s, std::string_view prefix);
bool endsWithNoCase(std::string_view s, std::string_view suffix);

// Splits on any of `seps`, trims each piece and drops empty pieces ("a, b,,c" -> a b c).
std::vector<std::string> splitList(std::string_view s, std::string_view seps = ", \t");
// Splits on one separator, keeping empty pieces, without trimming.
std::vector<std::string_view> splitExact(std::string_view s, char sep);

std::optional<uint64_t> parseUnsigned(std::string_view s);
std::optional<int64_t> parseInteger(std::string_view s);

std::string join(const std::vector<std::string>& parts, std::string_view sep);
// Quote-free, printable rendering of untrusted bytes for logs: control bytes become \xNN, and the
// result is cut at `max` bytes with "..." appended.
std::string printable(std::string_view s, size_t max = 200);
// printable(s, max) in double quotes, for messages that name the text they reject.
std::string quoted(std::string_view s, size_t max = 80);

}  // namespace rampart::util
