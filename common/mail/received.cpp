// The from-clause of Received fields (see received.h). Reads untrusted bytes: linear, the value is
// looked at up to 64 KiB and at most 16 addresses are returned.
#include "mail/received.h"

#include <algorithm>
#include <string>

#include "mail/header.h"
#include "util/strings.h"

namespace rampart::mail {

namespace {

bool isWsp(char c) {
    return c == ' ' || c == '\t';
}
bool isFwsChar(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// The words that end the from-clause (RFC 5321 4.4: by, via, with, id, for).
bool isClauseKeyword(std::string_view word) {
    for (std::string_view k : {"by", "via", "with", "id", "for"}) {
        if (util::iequals(word, k)) return true;
    }
    return false;
}

}  // namespace

std::vector<net::IpBytes> receivedFromAddresses(std::string_view value) {
    std::vector<net::IpBytes> out;
    const std::string v = unfold(value.substr(0, std::min<size_t>(value.size(), 64 * 1024)));
    if (v.size() < 5 || !util::startsWithNoCase(v, "from") || !(isFwsChar(v[4]) || v[4] == '(')) return out;
    size_t end = v.size();
    int depth = 0;
    for (size_t j = 4; j < v.size(); ++j) {
        const char c = v[j];
        if (c == '\\') {
            ++j;
        } else if (c == '(') {
            ++depth;
        } else if (c == ')') {
            if (depth > 0) --depth;
        } else if (depth == 0 && c == ';') {
            end = j;
            break;
        } else if (depth == 0 && isWsp(c)) {
            size_t k = j + 1;
            while (k < v.size() && isAlpha(v[k]))
                ++k;
            std::string_view word = std::string_view(v).substr(j + 1, k - j - 1);
            if ((k == v.size() || isFwsChar(v[k])) && isClauseKeyword(word)) {
                end = j;
                break;
            }
        }
    }
    std::string_view clause = std::string_view(v).substr(4, end - 4);
    size_t i = 0;
    while (i < clause.size() && out.size() < 16) {
        while (i < clause.size() && std::string_view(" \t()=,;").find(clause[i]) != std::string_view::npos)
            ++i;
        size_t b = i;
        while (i < clause.size() && std::string_view(" \t()=,;").find(clause[i]) == std::string_view::npos)
            ++i;
        std::string_view tok = clause.substr(b, i - b);
        if (tok.empty()) continue;
        if (tok.front() == '[') {
            size_t close = tok.find(']');
            if (close != std::string_view::npos) tok = tok.substr(0, close + 1);  // "[192.0.2.1]:25"
        }
        while (!tok.empty() && tok.back() == '.' && tok.front() != '[')
            tok.remove_suffix(1);
        if (tok.size() > 64) continue;
        if (auto ip = net::parseIp(tok)) out.push_back(*ip);
    }
    return out;
}

}  // namespace rampart::mail
