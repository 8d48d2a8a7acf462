// JSON text for the machine-readable output of Rampart's commands (--json) and status replies.
#pragma once

#include <string>
#include <string_view>

namespace rampart::util {

// `s` as a JSON string literal, quotes included. '"' and '\' are escaped, control bytes and DEL
// become \u00XX, valid UTF-8 passes through, and bytes that are not UTF-8 become U+FFFD (mail
// headers and bounce diagnostics are not always UTF-8; the output must still be valid JSON).
std::string jsonString(std::string_view s);

}  // namespace rampart::util
