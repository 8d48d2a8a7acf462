// SMTP status codes in reports (status_code.h): finding RFC 3463 enhanced codes and reply codes in
// Status fields and diagnostics, the effective status of a DSN recipient, and what a code means as
// a bounce category.
#include "feedback/status_code.h"

#include <vector>

#include "feedback/report_text.h"
#include "util/strings.h"

namespace rampart::feedback {

namespace {

using util::trim;
constexpr size_t npos = std::string_view::npos;

// Reads 1-3 digits at s[*pos].
bool readNumber(std::string_view s, size_t* pos, int* value) {
    size_t start = *pos;
    int v = 0;
    while (*pos < s.size() && isDigit(s[*pos]) && *pos - start < 3) {
        v = v * 10 + (s[*pos] - '0');
        ++*pos;
    }
    *value = v;
    return *pos > start;
}

}  // namespace

// An enhanced status code "c.s.d" at s[i], not part of a longer dotted number (an IP address, a
// version) nor glued to letters.
std::optional<StatusCode> codeAt(std::string_view s, size_t i) {
    if (i >= s.size() || (s[i] != '2' && s[i] != '4' && s[i] != '5')) return std::nullopt;
    if (i > 0 && (isAlnum(s[i - 1]) || s[i - 1] == '.')) return std::nullopt;
    StatusCode c;
    c.cls = s[i] - '0';
    size_t p = i + 1;
    if (p >= s.size() || s[p] != '.') return std::nullopt;
    ++p;
    if (!readNumber(s, &p, &c.subject)) return std::nullopt;
    if (p >= s.size() || s[p] != '.') return std::nullopt;
    ++p;
    if (!readNumber(s, &p, &c.detail)) return std::nullopt;
    if (p < s.size() && (isAlnum(s[p]) || (s[p] == '.' && p + 1 < s.size() && isDigit(s[p + 1])))) {
        return std::nullopt;
    }
    return c;
}

// The Status field: a code at its start.
std::optional<StatusCode> statusCode(std::string_view status) {
    status = trim(status);
    return codeAt(status, 0);
}

// The first enhanced code of class 4 or 5 in a text (a diagnostic, a line of a bounce).
std::optional<StatusCode> findEnhancedCode(std::string_view s) {
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '4' && s[i] != '5') continue;
        auto c = codeAt(s, i);
        if (c) return c;
    }
    return std::nullopt;
}

// Where the first SMTP reply code 4yz / 5yz (y 0-5) standing on its own ("550 ", "550-", "554:")
// starts; npos if none.
size_t findReplyCodePos(std::string_view s) {
    for (size_t i = 0; i + 3 <= s.size(); ++i) {
        if (s[i] != '4' && s[i] != '5') continue;
        if (i > 0 && (isAlnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '-' || s[i - 1] == '_' || s[i - 1] == '/')) {
            continue;
        }
        if (!(s[i + 1] >= '0' && s[i + 1] <= '5') || !isDigit(s[i + 2])) continue;
        if (i + 3 < s.size() && s[i + 3] != ' ' && s[i + 3] != '-' && s[i + 3] != ':' && s[i + 3] != '\t') {
            continue;
        }
        return i;
    }
    return npos;
}

// The first SMTP reply code as a number; 0 if none.
int findReplyCode(std::string_view s) {
    size_t i = findReplyCodePos(s);
    if (i == npos) return 0;
    return (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
}

// "550-5.7.1 a b 550-5.7.1 c 550 5.7.1 d" -> "550-5.7.1 a b c d" (in collapsed text): the
// continuation prefixes of a multi-line reply, as Postfix joins its lines, would otherwise split
// the provider's sentences that rules look for.
std::string joinContinuations(std::string_view text) {
    size_t pos = findReplyCodePos(text);
    if (pos == npos) return std::string(text);
    std::string_view code = text.substr(pos, 3);
    std::string_view enhanced;
    size_t after = pos + 3;
    if (after + 1 < text.size() && codeAt(text, after + 1)) {
        size_t end = text.find(' ', after + 1);
        enhanced = text.substr(after + 1, (end == npos ? text.size() : end) - after - 1);
    }
    std::vector<std::string> prefixes;
    for (char sep : {'-', ' '}) {
        std::string p = " " + std::string(code) + sep;
        if (!enhanced.empty()) p += std::string(enhanced) + " ";
        prefixes.push_back(std::move(p));
    }
    size_t keep = std::min(text.size(), after + 1 + enhanced.size());
    std::string out(text.substr(0, keep));
    for (size_t i = keep; i < text.size();) {
        bool skipped = false;
        if (text[i] == ' ') {
            for (const auto& p : prefixes) {
                if (text.compare(i, p.size(), p) == 0) {
                    if (p.back() == ' ') {
                        i += p.size() - 1;  // its last space may start the next prefix
                    } else {
                        out.push_back(' ');
                        i += p.size();
                    }
                    skipped = true;
                    break;
                }
            }
        }
        if (!skipped) out.push_back(text[i++]);
    }
    return out;
}

// "smtp; 550 ..." -> "550 ..." (the diagnostic type is not part of what the server said).
std::string_view withoutDiagnosticType(std::string_view d) {
    d = trim(d);
    size_t semi = d.find(';');
    if (semi != npos && semi < 20) {
        std::string_view type = d.substr(0, semi);
        bool word = !type.empty();
        for (char c : type) {
            if (!isAlnum(c) && c != '-' && c != '_') word = false;
        }
        if (word) return trim(d.substr(semi + 1));
    }
    return d;
}

std::string inferredAction(std::string_view status) {
    if (status.empty()) return {};
    switch (status[0]) {
        case '5':
            return "failed";
        case '4':
            return "delayed";
        case '2':
            return "delivered";
        default:
            return {};
    }
}

// Status as written when it is a code, else what the diagnostic says.
std::string effectiveStatus(std::string_view status, std::string_view diagnostic) {
    if (auto c = statusCode(status)) return c->str();
    std::string_view said = withoutDiagnosticType(diagnostic);
    if (auto c = findEnhancedCode(said)) return c->str();
    int reply = findReplyCode(said);
    if (reply) return std::to_string(reply / 100) + ".0.0";
    return {};
}

bool generic(const StatusCode& c) {
    return c.subject == 0 || (c.detail == 0 && (c.subject == 1 || c.subject == 2 || c.subject == 3 || c.subject == 5));
}

// clang-format off
// RFC 3463 and the IANA registry (RFC 5248, 7372, 7293, 7505); Gmail uses some x.7.2x codes in its
// own sense (x.7.27 SPF, x.7.30 DKIM), all sender-policy either way.
std::string_view codeCategory(const StatusCode& c) {
    bool perm = c.cls == 5;
    switch (c.subject) {
        case 1:
            switch (c.detail) {
                // x.1.10 is "recipient address has null MX" (RFC 7505), but Exchange Online sends
                // it for unknown recipients (RecipientNotFound): an invalid recipient either way.
                case 1: case 3: case 4: case 6: case 10:
                    return perm ? "InvalidRecipient" : "TransientFailure";
                case 2: return perm ? "BadDomain" : "DNSFailure";
                case 7: case 8: return "InvalidSender";
                default: return {};
            }
        case 2:
            switch (c.detail) {
                case 1: return perm ? "InactiveMailbox" : "TransientFailure";
                case 2: return "QuotaIssues";
                case 3: return "ContentRelated";
                case 4: return "RoutingErrors";
                default: return {};
            }
        case 3:
            switch (c.detail) {
                case 1: return "QuotaIssues";
                case 2: return "BadConnection";
                case 3: return "ProtocolErrors";
                case 4: return "ContentRelated";
                case 5: return "BadConfiguration";
                default: return {};
            }
        case 4:
            switch (c.detail) {
                case 1: return "NoAnswerFromHost";
                case 2: case 5: return "BadConnection";
                case 3: return "DNSFailure";
                case 7: return "MessageExpired";
                default: return "RoutingErrors";
            }
        case 5:
            return c.detail == 3 ? "TooManyRecipients" : "ProtocolErrors";
        case 6:
            return "ContentRelated";
        case 7:
            switch (c.detail) {
                case 0: return perm ? "PolicyRelated" : "RateLimited";
                case 1: case 2: case 14: case 15: case 19: case 30: return "PolicyRelated";
                case 3: case 4: case 5: case 6: case 8: case 9: case 10: case 11: case 12:
                    return "BadConfiguration";
                case 7: case 16: return "ContentRelated";
                case 13: return perm ? "InactiveMailbox" : "TransientFailure";
                case 17: return perm ? "InvalidRecipient" : "TransientFailure";
                case 18: return perm ? "BadDomain" : "TransientFailure";
                case 20: case 21: case 22: case 23: case 24: case 26: case 27: case 29:
                case 31: case 32: case 40:
                    return "AuthenticationFailed";
                case 25: return "RequirePTR";
                case 28: return "RateLimited";
                default: return "PolicyRelated";
            }
        default:
            return {};
    }
}

std::string_view replyCategory(int reply) {
    switch (reply) {
        case 421: case 450: case 451: return "TransientFailure";
        case 452: case 552: return "QuotaIssues";
        case 551: return "InvalidRecipient";
        default: return {};
    }
}
// clang-format on

}  // namespace rampart::feedback
