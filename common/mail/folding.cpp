// Refolding long header lines (see folding.h). Linear: a fold point is searched at most one line
// back and ahead.
#include "mail/folding.h"

#include <algorithm>

namespace rampart::mail {

namespace {

constexpr size_t kFoldTarget = 78;  // RFC 5322 2.1.1 SHOULD, used when we refold anyway

bool isWsp(char c) {
    return c == ' ' || c == '\t';
}

// One line (no line break) that starts `lead` octets in; nullopt if it cannot be folded legally.
std::optional<std::string> foldLine(std::string_view line, size_t lead) {
    std::string out;
    size_t start = 0;
    size_t leadCur = lead;
    while (leadCur + (line.size() - start) > kFoldTarget) {
        size_t firstText = start;
        while (firstText < line.size() && isWsp(line[firstText]))
            ++firstText;
        size_t p = std::string_view::npos;
        if (leadCur < kFoldTarget && firstText < line.size()) {
            size_t hi = std::min(line.size() - 1, start + (kFoldTarget - leadCur));
            for (size_t q = hi; q > firstText; --q) {
                if (isWsp(line[q])) {
                    p = q;
                    break;
                }
            }
        }
        if (p == std::string_view::npos && leadCur < kMaxLineLength) {
            size_t lo = std::max(firstText + 1, start + (kFoldTarget > leadCur ? kFoldTarget - leadCur : 0) + 1);
            size_t hi = std::min(line.size(), start + (kMaxLineLength - leadCur) + 1);
            for (size_t q = lo; q < hi; ++q) {
                if (isWsp(line[q])) {
                    p = q;
                    break;
                }
            }
        }
        if (p == std::string_view::npos) {
            if (leadCur + (line.size() - start) <= kMaxLineLength) break;  // long, but legal: leave it
            return std::nullopt;
        }
        out.append(line.substr(start, p - start));
        out += "\r\n";
        start = p;
        leadCur = 0;
    }
    out.append(line.substr(start));
    return out;
}

}  // namespace

size_t longestLine(std::string_view name, std::string_view value) {
    size_t longest = 0;
    size_t pos = 0;
    size_t lead = name.size() + 1;
    while (true) {
        size_t nl = value.find('\n', pos);
        size_t end = nl == std::string_view::npos ? value.size() : nl;
        if (end > pos && value[end - 1] == '\r') --end;
        longest = std::max(longest, lead + (end - pos));
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
        lead = 0;
    }
    return longest;
}

std::optional<std::string> refold(std::string_view name, std::string_view value) {
    std::string out;
    size_t pos = 0;
    size_t lead = name.size() + 1;
    while (true) {
        size_t nl = value.find('\n', pos);
        size_t end = nl == std::string_view::npos ? value.size() : nl;
        if (end > pos && value[end - 1] == '\r') --end;
        std::string_view line = value.substr(pos, end - pos);
        if (lead + line.size() > kMaxLineLength) {
            auto folded = foldLine(line, lead);
            if (!folded) return std::nullopt;
            out += *folded;
        } else {
            out.append(line);
        }
        if (nl == std::string_view::npos) break;
        out.append(value.substr(end, nl + 1 - end));  // the original line break
        pos = nl + 1;
        lead = 0;
    }
    return out;
}

}  // namespace rampart::mail
