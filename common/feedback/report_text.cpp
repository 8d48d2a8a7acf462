// Text helpers the report readers share (report_text.h): collapsed field values, "type;" prefixes
// and the addresses in report fields.
#include "feedback/report_text.h"

#include <algorithm>
#include <cstring>

#include "util/strings.h"

namespace rampart::feedback {

namespace {

using util::toLower;
using util::trim;
constexpr size_t npos = std::string_view::npos;

}  // namespace

// Control characters to spaces, runs of white space to one space, trimmed.
std::string collapse(std::string_view s, size_t max) {
    std::string out;
    out.reserve(std::min(s.size(), max == npos ? s.size() : max));
    bool space = false;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == ' ') {
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back(c);
        if (out.size() >= max) break;
    }
    return out;
}

// "rfc822; <bob@example.com>" -> "bob@example.com"; "dns; mx.example.com" -> "mx.example.com".
std::string stripType(std::string_view v) {
    v = trim(v);
    size_t semi = v.find(';');
    if (semi != npos) {
        std::string_view type = trim(v.substr(0, semi));
        bool word = !type.empty() && type.size() < 32;
        for (char c : type) {
            if (!isAlnum(c) && c != '-' && c != '_' && c != '.') word = false;
        }
        if (word) v = trim(v.substr(semi + 1));
    }
    return std::string(v);
}

// An address from a field value: the inside of <...> if there is one, else the first word with
// an '@', else the trimmed value.
std::string cleanAddress(std::string_view v) {
    v = trim(v);
    size_t lt = v.find('<');
    if (lt != npos) {
        size_t gt = v.find('>', lt + 1);
        std::string_view inside = trim(v.substr(lt + 1, gt == npos ? npos : gt - lt - 1));
        if (!inside.empty() || gt != npos) return std::string(inside.substr(0, kMaxAddress));
    }
    if (v.find('@') != npos) {
        size_t at = v.find('@');
        size_t start = v.find_last_of(" \t,;(\"", at);
        start = start == npos ? 0 : start + 1;
        size_t end = v.find_first_of(" \t,;)\"", at);
        return std::string(v.substr(start, std::min(end == npos ? v.size() : end, start + kMaxAddress) - start));
    }
    return std::string(v.substr(0, kMaxAddress));
}

std::string localPartOf(std::string_view address) {
    size_t at = address.rfind('@');
    return std::string(at == npos ? address : address.substr(0, at));
}

// A plausible bare mailbox: local@domain, no blanks or specials, a dotted domain.
bool plausibleAddress(std::string_view a) {
    if (a.size() < 3 || a.size() > 320) return false;
    size_t at = a.rfind('@');
    if (at == npos || at == 0 || at + 1 >= a.size()) return false;
    for (size_t i = 0; i < at; ++i) {
        auto u = static_cast<unsigned char>(a[i]);
        if (u <= 32 || u == 127 || std::strchr("<>()[],;:\\\"@", a[i]) != nullptr) return false;
    }
    std::string_view domain = a.substr(at + 1);
    if (domain.front() == '[') return domain.back() == ']';
    if (domain.find('.') == npos || domain.front() == '.' || domain.back() == '.') return false;
    for (char c : domain) {
        auto u = static_cast<unsigned char>(c);
        if (!(isAlnum(c) || c == '.' || c == '-' || u >= 0x80)) return false;
    }
    return true;
}

// Redacted Original-Rcpt-To values: "<redacted>", "redacted@example.com", "xxxxxx@hotmail.com",
// "****@...", or anything that is not an address.
bool looksRedacted(std::string_view address) {
    if (!plausibleAddress(address)) return true;
    if (toLower(address).find("redacted") != npos) return true;
    std::string local = localPartOf(address);
    bool masked = true;
    for (char c : local) {
        if (c != 'x' && c != 'X' && c != '*' && c != '#' && c != '.' && c != '_') masked = false;
    }
    return masked;
}

}  // namespace rampart::feedback
