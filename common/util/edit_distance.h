// How far apart two words are, for "did you mean ...?" suggestions on mistyped keys and names.
#pragma once

#include <cstddef>
#include <string_view>

namespace rampart::util {

// Levenshtein distance: the fewest single-byte insertions, deletions and substitutions that turn
// `a` into `b`. Case-sensitive; O(|a|*|b|) time, O(|b|) memory.
size_t editDistance(std::string_view a, std::string_view b);

}  // namespace rampart::util
