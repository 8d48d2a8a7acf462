// Message-ID syntax and generation (see message_id.h). The parser reads untrusted bytes: linear,
// comment nesting capped (header.h skipCfws).
#include "mail/message_id.h"

#include <openssl/rand.h>

#include "mail/header.h"
#include "util/utf8.h"

namespace rampart::mail {

namespace {

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Lower-case RFC 4648 base32 without padding: the random part of generated IDs.
std::string base32(const unsigned char* data, size_t n) {
    static const char* tbl = "abcdefghijklmnopqrstuvwxyz234567";
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (size_t i = 0; i < n; ++i) {
        buffer = (buffer << 8) | data[i];
        bits += 8;
        while (bits >= 5) {
            out += tbl[(buffer >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) out += tbl[(buffer << (5 - bits)) & 31];
    return out;
}

bool isAtextByte(char c, bool allow8bit) {
    if (util::is8bit(c)) return allow8bit;
    if (isAlpha(c) || isDigit(c)) return true;
    return c != '\0' && std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool dotAtomText(std::string_view s, bool allow8bit) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '.') {
            if (s[i - 1] == '.') return false;
        } else if (!isAtextByte(s[i], allow8bit)) {
            return false;
        }
    }
    return true;
}

}  // namespace

std::optional<MessageId> parseMessageId(std::string_view raw, bool allow8bit) {
    const std::string v = unfold(raw);
    size_t lt = v.find('<');
    size_t gt = v.find('>');
    if (lt == std::string::npos || gt == std::string::npos || gt < lt) return std::nullopt;
    // Only CFWS around the angle brackets.
    const std::string_view before = std::string_view(v).substr(0, lt);
    if (skipCfws(before, 0) != before.size()) return std::nullopt;
    const std::string_view after = std::string_view(v).substr(gt + 1);
    if (skipCfws(after, 0) != after.size()) return std::nullopt;
    if (gt - lt + 1 > kMaxMessageIdLength) return std::nullopt;
    std::string_view inside = std::string_view(v).substr(lt + 1, gt - lt - 1);
    for (char c : inside) {
        auto uc = static_cast<unsigned char>(c);
        if (uc <= 0x20 || uc == 0x7F || c == '<') return std::nullopt;
        if (util::is8bit(c) && !allow8bit) return std::nullopt;
    }
    size_t at = inside.rfind('@');
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view left = inside.substr(0, at);
    std::string_view right = inside.substr(at + 1);
    bool leftOk = false;
    if (left.size() >= 2 && left.front() == '"' && left.back() == '"') {
        leftOk = true;  // obs-id-left: a quoted string (no blanks, checked above)
    } else {
        leftOk = dotAtomText(left, allow8bit);
    }
    bool rightOk = false;
    if (right.size() >= 2 && right.front() == '[' && right.back() == ']') {
        std::string_view inner = right.substr(1, right.size() - 2);
        rightOk = inner.find_first_of("[]\\") == std::string_view::npos;
    } else {
        rightOk = dotAtomText(right, allow8bit);
    }
    if (!leftOk || !rightOk) return std::nullopt;
    return MessageId{std::string(left), std::string(right)};
}

std::optional<std::string> generateMessageId(std::string_view domain, util::SystemTime now) {
    unsigned char random[16];
    if (RAND_bytes(random, sizeof random) != 1) return std::nullopt;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    return "<" + base32(random, sizeof random) + "." + std::to_string(ms) + "@" + std::string(domain) + ">";
}

}  // namespace rampart::mail
