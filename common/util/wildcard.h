// '*' wildcard matching of whole strings, case-insensitive (ASCII): the refile: semantics shared by the
// DKIM signing table and the tenant map.
#pragma once

#include <string_view>

namespace rampart::util {

// True when text matches pattern, where '*' matches any run of characters (also none).
bool wildcardMatch(std::string_view pattern, std::string_view text);

}  // namespace rampart::util
