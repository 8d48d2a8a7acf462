// '*' wildcard matching (wildcard.h): iterative, backtracking to the last '*'.
#include "util/wildcard.h"

#include "util/strings.h"

namespace rampart::util {

bool wildcardMatch(std::string_view pattern, std::string_view text) {
    // Iterative glob matching with backtracking to the last '*': O(pattern * text) at worst.
    size_t p = 0;
    size_t t = 0;
    size_t starP = std::string_view::npos;
    size_t starT = 0;
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            starP = p++;
            starT = t;
        } else if (p < pattern.size() && toLowerAscii(pattern[p]) == toLowerAscii(text[t])) {
            ++p;
            ++t;
        } else if (starP != std::string_view::npos) {
            p = starP + 1;
            t = ++starT;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

}  // namespace rampart::util
