// Internals shared by the files of the limits module (limits.cpp, limits_parser.cpp,
// limits_keys.cpp, windows.cpp): names and the small text helpers of its messages. Not for other
// code.
#pragma once

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/limits.h"
#include "util/edit_distance.h"

namespace rampart::policyd {

// Scope and attribute names, indexed by Attribute (the scopes first, in ScopeKind order).
inline constexpr std::array<std::string_view, kAttributes> kAttributeNames{
    "mailbox",          "sender",   "sender_domain", "client_address", "listener",
    "recipient_domain", "provider", "recipient",     "sasl_username"};

// Defined in limits.cpp.
std::string_view opName(Condition::Op op);
std::string_view periodWord(CalendarPeriod p);  // "h", "day", "week"
std::string normalizeHost(std::string_view h);  // lower-case, trimmed, no trailing dot

// Defined in limits_parser.cpp.
bool validName(std::string_view n);  // a limit, warmup or provider name
std::string scopeList();             // "mailbox, sender, ... or recipient"

// " (did you mean X?)" for the closest candidate within a small distance, else "".
template <typename Range>
std::string didYouMean(std::string_view word, const Range& candidates) {
    std::string_view best;
    size_t bestDist = std::max<size_t>(2, word.size() / 3) + 1;
    for (const auto& c : candidates) {
        size_t d = util::editDistance(word, c);
        if (d < bestDist) {
            bestDist = d;
            best = c;
        }
    }
    return best.empty() ? std::string() : " (did you mean " + std::string(best) + "?)";
}

}  // namespace rampart::policyd
