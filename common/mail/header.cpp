// Header field helpers: line-end conversion between the milter's LF form and the CRLF form DKIM
// canonicalisation sees, unfolding and comment skipping for parsers, and case-insensitive lookup.
#include "mail/header.h"

#include "util/strings.h"

namespace rampart::mail {

std::string normalizeLineEnds(std::string_view value) {
    std::string out;
    out.reserve(value.size() + 8);
    for (size_t i = 0; i < value.size(); ++i) {
        char c = value[i];
        if (c == '\n' && (i == 0 || value[i - 1] != '\r')) out.push_back('\r');
        out.push_back(c);
    }
    return out;
}

std::string toMilterValue(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
        out.push_back(value[i]);
    }
    return out;
}

std::string unfold(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
        char c = value[i];
        if (c == '\n') continue;
        if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
        out.push_back(c);
    }
    return std::string(util::trim(out));
}

size_t skipCfws(std::string_view s, size_t i) {
    while (i < s.size()) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            ++i;
        } else if (c == '(') {
            int depth = 0;
            while (i < s.size()) {
                char d = s[i];
                if (d == '\\') {
                    i += 2;
                    continue;
                }
                if (d == '(' && ++depth > kMaxCommentDepth) return std::string_view::npos;
                if (d == ')' && --depth == 0) break;
                ++i;
            }
            if (i >= s.size()) return std::string_view::npos;
            ++i;
        } else {
            break;
        }
    }
    return i;
}

size_t findHeader(const HeaderFields& fields, std::string_view name, size_t from) {
    for (size_t i = from; i < fields.size(); ++i) {
        if (util::iequals(fields[i].name, name)) return i;
    }
    return std::string_view::npos;
}

size_t countHeaders(const HeaderFields& fields, std::string_view name) {
    size_t n = 0;
    for (const auto& f : fields) {
        if (util::iequals(f.name, name)) ++n;
    }
    return n;
}

}  // namespace rampart::mail
