// Bounce and complaint reports: a small MIME reader, the RFC 3464 / RFC 5965 report readers, the
// non-standard bounce heuristics, unsubscribe tokens, and the classifier (rule file, built-in
// wording, RFC 3463 codes). Everything here reads untrusted mail: sizes are capped, recursion is
// bounded, and no exception leaves a public function.
#include "feedback/report.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>

#include "util/strings.h"

namespace rampart::feedback {

namespace {

using util::iequals;
using util::startsWithNoCase;
using util::toLower;
using util::trim;
constexpr size_t npos = std::string_view::npos;

constexpr size_t kMaxMessage = size_t{64} << 20;    // parseMime refuses more
constexpr size_t kMaxParts = 10000;                 // MIME parts in one message
constexpr int kMaxDepthCap = 64;                    // whatever maxDepth the caller asks for
constexpr size_t kMaxClassifyText = 2048;           // bytes of "status diagnostic" the regexes see
constexpr size_t kMaxScanText = size_t{256} << 10;  // human-readable text the heuristics read
constexpr size_t kMaxDiagnostic = 2000;             // a diagnostic kept in a DsnRecipient
constexpr size_t kMaxAddress = 998;
constexpr size_t kMaxRecipients = 10000;
constexpr size_t kMinToken = 40;
constexpr size_t kMaxToken = 1024;

// ---------------------------------------------------------------- lines and header fields

struct Line {
    size_t begin;
    size_t end;   // without the line end (CRLF or LF)
    size_t next;  // after the line end
};

Line lineAt(std::string_view s, size_t pos) {
    size_t nl = s.find('\n', pos);
    if (nl == npos) return {pos, s.size(), s.size()};
    size_t end = nl;
    if (end > pos && s[end - 1] == '\r') --end;
    return {pos, end, nl + 1};
}

bool isBlankLine(std::string_view line) {
    for (char c : line) {
        if (c != ' ' && c != '\t' && c != '\r') return false;
    }
    return true;
}

bool validFieldName(std::string_view name) {
    if (name.empty() || name.size() > 256) return false;
    for (char c : name) {
        auto u = static_cast<unsigned char>(c);
        if (u < 33 || u > 126 || c == ':') return false;
    }
    return true;
}

std::string_view trimRight(std::string_view s) {
    while (!s.empty() && util::isSpace(s.back()))
        s.remove_suffix(1);
    return s;
}

// Header fields at the start of `s`. Strict (a message or part): stops at the first blank line
// (*bodyStart after it) or at the first line that is neither a field nor a continuation (*bodyStart
// at that line: a message without the blank separator). Lenient (report fields): skips blank and
// malformed lines and reads to the end.
mail::HeaderFields parseFields(std::string_view s, size_t* bodyStart, bool lenient) {
    mail::HeaderFields out;
    size_t pos = 0;
    if (!lenient && s.substr(0, 5) == "From ") pos = lineAt(s, 0).next;  // mbox separator line
    while (pos < s.size()) {
        Line l = lineAt(s, pos);
        std::string_view text = s.substr(l.begin, l.end - l.begin);
        if (isBlankLine(text)) {
            pos = l.next;
            if (lenient) continue;
            *bodyStart = pos;
            return out;
        }
        if (text.front() == ' ' || text.front() == '\t') {
            if (!out.empty()) {
                out.back().value += "\r\n";
                out.back().value.append(text);
                pos = l.next;
                continue;
            }
            if (lenient) {
                pos = l.next;
                continue;
            }
            break;
        }
        size_t colon = text.find(':');
        std::string_view name = colon == npos ? std::string_view{} : trimRight(text.substr(0, colon));
        if (colon == npos || !validFieldName(name)) {
            if (lenient) {
                pos = l.next;
                continue;
            }
            break;
        }
        out.push_back({std::string(name), std::string(text.substr(colon + 1))});
        pos = l.next;
    }
    *bodyStart = pos;
    return out;
}

std::string headerValue(const mail::HeaderFields& fields, std::string_view name) {
    size_t i = mail::findHeader(fields, name);
    return i == npos ? std::string() : mail::unfold(fields[i].value);
}

// Control characters to spaces, runs of white space to one space, trimmed.
std::string collapse(std::string_view s, size_t max = npos) {
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

// ---------------------------------------------------------------- Content-Type, decoders

struct ContentType {
    std::string type;  // lower-case type/subtype; empty if absent or invalid
    std::vector<std::pair<std::string, std::string>> params;
    std::string param(std::string_view name) const {
        for (const auto& [n, v] : params) {
            if (n == name) return v;
        }
        return {};
    }
};

ContentType parseContentType(std::string_view v) {
    ContentType ct;
    size_t semi = v.find(';');
    std::string t = toLower(trim(v.substr(0, semi)));
    size_t cut = t.find_first_of(" \t(");
    if (cut != npos) t.resize(cut);
    size_t slash = t.find('/');
    if (slash != npos && slash > 0 && slash + 1 < t.size() && t.find('/', slash + 1) == npos) ct.type = t;
    size_t pos = semi == npos ? v.size() : semi + 1;
    while (pos < v.size()) {
        while (pos < v.size() && (util::isSpace(v[pos]) || v[pos] == ';'))
            ++pos;
        if (pos >= v.size()) break;
        size_t nameStart = pos;
        while (pos < v.size() && v[pos] != '=' && v[pos] != ';')
            ++pos;
        std::string name = toLower(trim(v.substr(nameStart, pos - nameStart)));
        std::string value;
        if (pos < v.size() && v[pos] == '=') {
            ++pos;
            while (pos < v.size() && (v[pos] == ' ' || v[pos] == '\t'))
                ++pos;
            if (pos < v.size() && v[pos] == '"') {
                ++pos;
                while (pos < v.size() && v[pos] != '"') {
                    if (v[pos] == '\\' && pos + 1 < v.size()) ++pos;
                    value.push_back(v[pos]);
                    ++pos;
                }
                while (pos < v.size() && v[pos] != ';')
                    ++pos;
            } else {
                size_t valueStart = pos;
                while (pos < v.size() && v[pos] != ';')
                    ++pos;
                value = std::string(trim(v.substr(valueStart, pos - valueStart)));
            }
        }
        if (!name.empty()) ct.params.emplace_back(std::move(name), std::move(value));
    }
    return ct;
}

int base64Value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Lenient: characters outside the alphabet are skipped; '=' ends a quantum (so concatenated
// padded blocks decode too); trailing odd bits are dropped.
std::string decodeBase64(std::string_view s) {
    std::string out;
    out.reserve(s.size() / 4 * 3 + 3);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
        if (c == '=') {
            bits = 0;
            acc = 0;
            continue;
        }
        int v = base64Value(c);
        if (v < 0) continue;
        acc = ((acc << 6) | static_cast<uint32_t>(v)) & 0xFFFFFFu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFFu));
        }
    }
    return out;
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Soft line breaks ("=" before CRLF or LF, trailing blanks allowed) removed, =XX decoded; a '='
// that starts neither is kept as it is.
std::string decodeQuotedPrintable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c != '=') {
            out.push_back(c);
            continue;
        }
        size_t j = i + 1;
        while (j < s.size() && (s[j] == ' ' || s[j] == '\t'))
            ++j;
        if (j >= s.size()) break;
        if (s[j] == '\n') {
            i = j;
            continue;
        }
        if (s[j] == '\r' && j + 1 < s.size() && s[j + 1] == '\n') {
            i = j + 1;
            continue;
        }
        if (i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2])));
            i += 2;
            continue;
        }
        out.push_back('=');
    }
    return out;
}

// RFC 2047 encoded-words (B and Q) decoded to their bytes (the charset is not converted); white
// space between adjacent encoded-words dropped. Malformed words stay as written.
std::string decodeEncodedWords(std::string_view s) {
    std::string out;
    size_t i = 0;
    bool lastEncoded = false;
    while (i < s.size()) {
        size_t start = s.find("=?", i);
        if (start == npos) {
            out.append(s.substr(i));
            break;
        }
        size_t q1 = s.find('?', start + 2);
        size_t q2 = q1 == npos ? npos : s.find('?', q1 + 1);
        size_t end = q2 == npos ? npos : s.find("?=", q2 + 1);
        if (q1 == npos || q2 == npos || end == npos) {  // no encoded-word can end later either
            out.append(s.substr(i));
            break;
        }
        if (q2 != q1 + 2 || q1 == start + 2) {
            out.append(s.substr(i, start + 2 - i));
            i = start + 2;
            lastEncoded = false;
            continue;
        }
        char enc = util::toLowerAscii(s[q1 + 1]);
        if (enc != 'b' && enc != 'q') {
            out.append(s.substr(i, start + 2 - i));
            i = start + 2;
            lastEncoded = false;
            continue;
        }
        std::string_view between = s.substr(i, start - i);
        if (!(lastEncoded && trim(between).empty())) out.append(between);
        std::string_view text = s.substr(q2 + 1, end - q2 - 1);
        if (enc == 'b') {
            out += decodeBase64(text);
        } else {
            for (size_t k = 0; k < text.size(); ++k) {
                if (text[k] == '_') {
                    out.push_back(' ');
                } else if (text[k] == '=' && k + 2 < text.size() && hexValue(text[k + 1]) >= 0 &&
                           hexValue(text[k + 2]) >= 0) {
                    out.push_back(static_cast<char>(hexValue(text[k + 1]) * 16 + hexValue(text[k + 2])));
                    k += 2;
                } else {
                    out.push_back(text[k]);
                }
            }
        }
        i = end + 2;
        lastEncoded = true;
    }
    return out;
}

// ---------------------------------------------------------------- MIME

struct MimeContext {
    int maxDepth;
    size_t parts = 0;
    std::string error;
};

bool isEnclosedMessage(std::string_view type) {
    return type == "message/rfc822" || type == "message/global";
}

bool isHeaderBlock(std::string_view type) {
    return type == "text/rfc822-headers" || type == "message/global-headers" || type == "message/rfc822-headers";
}

std::string typeOf(const mail::HeaderFields& headers, std::string_view defaultType, ContentType* ctOut) {
    ContentType ct;
    size_t i = mail::findHeader(headers, "Content-Type");
    if (i != npos) ct = parseContentType(mail::unfold(headers[i].value));
    std::string type = ct.type.empty() ? std::string(defaultType) : ct.type;
    if (ctOut) *ctOut = std::move(ct);
    return type;
}

// The parts between "--boundary" delimiter lines; the line end before a delimiter belongs to it.
// Without the closing "--boundary--" the last part runs to the end. *found: any delimiter seen.
std::vector<std::string_view> splitMultipart(std::string_view body, std::string_view boundary, bool* found) {
    std::vector<std::string_view> parts;
    *found = false;
    bool inPart = false;
    size_t partBegin = 0;
    size_t pos = 0;
    while (pos < body.size()) {
        Line l = lineAt(body, pos);
        pos = l.next;
        std::string_view text = body.substr(l.begin, l.end - l.begin);
        if (text.size() < 2 + boundary.size() || text[0] != '-' || text[1] != '-' ||
            text.substr(2, boundary.size()) != boundary) {
            continue;
        }
        std::string_view rest = text.substr(2 + boundary.size());
        bool close = rest.substr(0, 2) == "--";
        if (close) rest.remove_prefix(2);
        if (!trim(rest).empty()) continue;  // a longer boundary sharing this prefix
        *found = true;
        if (inPart) {
            size_t end = l.begin;
            if (end > partBegin && body[end - 1] == '\n') --end;
            if (end > partBegin && body[end - 1] == '\r') --end;
            parts.push_back(body.substr(partBegin, end - partBegin));
        }
        if (close) return parts;  // the epilogue is ignored
        inPart = true;
        partBegin = l.next;
    }
    if (inPart) parts.push_back(body.substr(std::min(partBegin, body.size())));
    return parts;
}

bool parsePart(std::string_view raw, int depth, std::string_view defaultType, MimeContext& ctx, MimePart& out) {
    if (depth > ctx.maxDepth) {
        ctx.error = "MIME nesting deeper than " + std::to_string(ctx.maxDepth) + " levels";
        return false;
    }
    if (++ctx.parts > kMaxParts) {
        ctx.error = "more than " + std::to_string(kMaxParts) + " MIME parts";
        return false;
    }
    size_t bodyStart = 0;
    out.headers = parseFields(raw, &bodyStart, false);
    std::string_view body = raw.substr(std::min(bodyStart, raw.size()));
    ContentType ct;
    out.contentType = typeOf(out.headers, defaultType, &ct);
    std::string cte = toLower(headerValue(out.headers, "Content-Transfer-Encoding"));
    std::string decoded;
    std::string_view content = body;
    if (cte == "base64") {
        decoded = decodeBase64(body);
        content = decoded;
    } else if (cte == "quoted-printable") {
        decoded = decodeQuotedPrintable(body);
        content = decoded;
    }

    if (out.contentType.rfind("multipart/", 0) == 0) {
        out.boundary = ct.param("boundary");
        bool found = false;
        std::vector<std::string_view> parts;
        if (!out.boundary.empty()) parts = splitMultipart(content, out.boundary, &found);
        if (!found) {
            out.body = std::string(content);
            return true;
        }
        std::string_view childDefault = out.contentType == "multipart/digest" ? "message/rfc822" : "text/plain";
        out.children.reserve(parts.size());
        for (std::string_view p : parts) {
            MimePart child;
            if (!parsePart(p, depth + 1, childDefault, ctx, child)) return false;
            out.children.push_back(std::move(child));
        }
        return true;
    }
    if (isEnclosedMessage(out.contentType)) {
        MimePart child;
        if (!parsePart(content, depth + 1, "text/plain", ctx, child)) return false;
        out.children.push_back(std::move(child));
        return true;
    }
    if (isHeaderBlock(out.contentType)) {
        if (depth + 1 > ctx.maxDepth) {
            ctx.error = "MIME nesting deeper than " + std::to_string(ctx.maxDepth) + " levels";
            return false;
        }
        MimePart child;
        size_t ignored = 0;
        child.headers = parseFields(content, &ignored, false);
        child.contentType = typeOf(child.headers, "text/plain", nullptr);
        out.children.push_back(std::move(child));
    }
    out.body = decoded.empty() ? std::string(content) : std::move(decoded);
    return true;
}

// ---------------------------------------------------------------- codes

struct Code {
    int cls = 0;  // 2, 4 or 5
    int subject = 0;
    int detail = 0;
    std::string str() const {
        return std::to_string(cls) + "." + std::to_string(subject) + "." + std::to_string(detail);
    }
};

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isAlnum(char c) {
    return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

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

// An enhanced status code "c.s.d" at s[i], not part of a longer dotted number (an IP address, a
// version) nor glued to letters.
std::optional<Code> codeAt(std::string_view s, size_t i) {
    if (i >= s.size() || (s[i] != '2' && s[i] != '4' && s[i] != '5')) return std::nullopt;
    if (i > 0 && (isAlnum(s[i - 1]) || s[i - 1] == '.')) return std::nullopt;
    Code c;
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
std::optional<Code> statusCode(std::string_view status) {
    status = trim(status);
    return codeAt(status, 0);
}

// The first enhanced code of class 4 or 5 in a text (a diagnostic, a line of a bounce).
std::optional<Code> findEnhancedCode(std::string_view s) {
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

// ---------------------------------------------------------------- addresses and tokens

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

bool isTokenChar(char c) {
    return isAlnum(c) || c == '-' || c == '_';
}

bool tokenLike(std::string_view t) {
    if (t.size() < kMinToken || t.size() > kMaxToken) return false;
    std::array<bool, 256> seen{};
    size_t distinct = 0;
    for (char c : t) {
        if (!isTokenChar(c)) return false;
        auto u = static_cast<unsigned char>(c);
        if (!seen[u]) {
            seen[u] = true;
            ++distinct;
        }
    }
    return distinct >= 8;
}

constexpr std::array<std::string_view, 2> kUnsubscribeWords = {"unsubscribe", "unsub"};

// "unsubscribe+TOKEN@domain" (or "unsub", or '-' for '+') -> TOKEN.
std::string tokenFromAddress(std::string_view value) {
    std::string address = cleanAddress(value);
    std::string local = localPartOf(address);
    for (std::string_view word : kUnsubscribeWords) {
        if (local.size() <= word.size() + 1 || !startsWithNoCase(local, word)) continue;
        char sep = local[word.size()];
        if (sep != '+' && sep != '-') continue;
        std::string_view token = std::string_view(local).substr(word.size() + 1);
        if (tokenLike(token)) return std::string(token);
    }
    return {};
}

// "unsubscribe TOKEN", "Re: Unsubscribe: <TOKEN>", "unsubscribe-TOKEN", or the longest token-like
// word of the subject.
std::string tokenFromSubject(std::string_view subject) {
    std::vector<std::string_view> runs;
    size_t i = 0;
    while (i < subject.size()) {
        if (!isTokenChar(subject[i])) {
            ++i;
            continue;
        }
        size_t start = i;
        while (i < subject.size() && isTokenChar(subject[i]))
            ++i;
        runs.push_back(subject.substr(start, i - start));
    }
    for (size_t k = 0; k < runs.size(); ++k) {
        for (std::string_view word : kUnsubscribeWords) {
            if (iequals(runs[k], word) && k + 1 < runs.size() && tokenLike(runs[k + 1])) {
                return std::string(runs[k + 1]);
            }
            if (runs[k].size() > word.size() + 1 && startsWithNoCase(runs[k], word) &&
                (runs[k][word.size()] == '-' || runs[k][word.size()] == '_') &&
                tokenLike(runs[k].substr(word.size() + 1))) {
                return std::string(runs[k].substr(word.size() + 1));
            }
        }
    }
    std::string_view best;
    for (std::string_view r : runs) {
        if (tokenLike(r) && r.size() > best.size()) best = r;
    }
    return std::string(best);
}

// ---------------------------------------------------------------- report structure

struct Located {
    const MimePart* part = nullptr;
    const MimePart* parent = nullptr;  // the multipart holding it (null for the root)
    size_t index = 0;
};

bool isDsnType(std::string_view t) {
    return t == "message/delivery-status" || t == "message/global-delivery-status";
}

// Depth-first through the message and its multipart parts, never into enclosed messages (a
// returned message may itself be a bounce).
void findPart(const MimePart& p, const MimePart* parent, size_t index, bool (*pred)(const MimePart&), Located* out) {
    if (out->part) return;
    if (pred(p)) {
        *out = {&p, parent, index};
        return;
    }
    if (p.contentType.rfind("multipart/", 0) != 0) return;
    for (size_t i = 0; i < p.children.size() && !out->part; ++i)
        findPart(p.children[i], &p, i, pred, out);
}

// A report whose part lost its proper type (text/plain instead of message/...): the fields say
// what it is.
bool leafHasField(const MimePart& p, std::string_view a, std::string_view b) {
    if (!p.children.empty() || p.contentType.rfind("multipart/", 0) == 0 || p.body.size() > 1000000) return false;
    size_t ignored = 0;
    auto fields = parseFields(p.body, &ignored, true);
    return mail::findHeader(fields, a) != npos && (b.empty() || mail::findHeader(fields, b) != npos);
}

std::string reportType(const MimePart* multipart) {
    if (!multipart || multipart->contentType != "multipart/report") return {};
    ContentType ct;
    typeOf(multipart->headers, "", &ct);
    return toLower(trim(ct.param("report-type")));
}

// The header block the report returned: an enclosed message or header part among the siblings of
// the report part, else (the third part of ARF, often mislabelled) a later text part that reads as
// a header block.
void fillOriginalHeaders(const Located& at, Report& r) {
    if (!at.parent) return;
    const auto& parts = at.parent->children;
    for (const auto& p : parts) {
        if ((isEnclosedMessage(p.contentType) || isHeaderBlock(p.contentType)) && !p.children.empty() &&
            !p.children[0].headers.empty()) {
            r.originalHeaders = p.children[0].headers;
            return;
        }
    }
    for (size_t i = at.index + 1; i < parts.size(); ++i) {
        const auto& p = parts[i];
        if (!p.children.empty() || p.contentType.rfind("text/", 0) != 0) continue;
        size_t ignored = 0;
        std::string_view body = p.body;
        while (!body.empty() && (body.front() == '\r' || body.front() == '\n'))
            body.remove_prefix(1);
        auto fields = parseFields(body, &ignored, false);
        for (std::string_view name : {"From", "To", "Message-ID", "Subject", "Received", "Date"}) {
            if (mail::findHeader(fields, name) != npos) {
                r.originalHeaders = std::move(fields);
                return;
            }
        }
    }
}

// Blank-line separated groups of a delivery-status body.
std::vector<std::string_view> fieldGroups(std::string_view body) {
    std::vector<std::string_view> groups;
    size_t pos = 0;
    size_t start = npos;
    size_t last = 0;
    while (pos < body.size()) {
        Line l = lineAt(body, pos);
        if (isBlankLine(body.substr(l.begin, l.end - l.begin))) {
            if (start != npos) groups.push_back(body.substr(start, last - start));
            start = npos;
        } else {
            if (start == npos) start = l.begin;
            last = l.next;
        }
        pos = l.next;
    }
    if (start != npos) groups.push_back(body.substr(start, last - start));
    return groups;
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

bool readDsn(const Located& at, Report& r) {
    for (std::string_view group : fieldGroups(at.part->body)) {
        size_t ignored = 0;
        auto f = parseFields(group, &ignored, true);
        std::string finalRcpt = cleanAddress(stripType(headerValue(f, "Final-Recipient")));
        std::string origRcpt = cleanAddress(stripType(headerValue(f, "Original-Recipient")));
        if (finalRcpt.empty() && origRcpt.empty()) {
            if (r.reportingMta.empty()) r.reportingMta = stripType(headerValue(f, "Reporting-MTA"));
            if (r.originalEnvelopeId.empty()) r.originalEnvelopeId = headerValue(f, "Original-Envelope-Id");
            continue;
        }
        if (r.recipients.size() >= kMaxRecipients) break;
        DsnRecipient d;
        d.finalRecipient = finalRcpt.empty() ? origRcpt : finalRcpt;
        d.originalRecipient = origRcpt;
        d.diagnostic = collapse(headerValue(f, "Diagnostic-Code"), kMaxDiagnostic);
        d.status = effectiveStatus(headerValue(f, "Status"), d.diagnostic);
        d.action = toLower(collapse(headerValue(f, "Action"), 64));
        size_t sp = d.action.find_first_of(" (");
        if (sp != npos) d.action.resize(sp);
        if (d.action.empty() && d.status.empty()) continue;  // truncated or not a recipient group
        if (d.action.empty()) d.action = inferredAction(d.status);
        d.remoteMta = collapse(stripType(headerValue(f, "Remote-MTA")), kMaxAddress);
        if (r.reportingMta.empty()) r.reportingMta = stripType(headerValue(f, "Reporting-MTA"));
        r.recipients.push_back(std::move(d));
    }
    if (r.recipients.empty()) return false;
    r.kind = Report::Kind::Dsn;
    fillOriginalHeaders(at, r);
    return true;
}

void readArf(const Located& at, Report& r) {
    r.kind = Report::Kind::Arf;
    size_t ignored = 0;
    auto f = parseFields(at.part->body, &ignored, true);
    r.feedbackType = toLower(collapse(headerValue(f, "Feedback-Type"), 64));
    size_t sp = r.feedbackType.find_first_of(" (;");
    if (sp != npos) r.feedbackType.resize(sp);
    r.userAgent = collapse(headerValue(f, "User-Agent"), 256);
    r.arrivalDate = collapse(headerValue(f, "Arrival-Date"), 256);
    r.sourceIp = collapse(headerValue(f, "Source-IP"), 64);
    r.reportingMta = collapse(stripType(headerValue(f, "Reporting-MTA")), kMaxAddress);
    r.originalMailFrom = cleanAddress(headerValue(f, "Original-Mail-From"));
    for (size_t i = mail::findHeader(f, "Original-Rcpt-To"); i != npos;
         i = mail::findHeader(f, "Original-Rcpt-To", i + 1)) {
        std::string a = cleanAddress(mail::unfold(f[i].value));
        if (!looksRedacted(a)) {
            r.originalRcptTo = a;
            break;
        }
    }
    fillOriginalHeaders(at, r);
}

// ---------------------------------------------------------------- non-standard bounces

bool daemonAddress(std::string_view address) {
    std::string local = toLower(localPartOf(address));
    for (std::string_view d :
         {"mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "maildaemon", "postmaster", "mail.daemon"}) {
        if (local == d) return true;
    }
    return false;
}

bool daemonSender(std::string_view from) {
    if (daemonAddress(cleanAddress(from))) return true;
    std::string f = toLower(from);
    return f.find("mail delivery") != npos || f.find("mailer-daemon") != npos;
}

bool bounceSubject(std::string_view subject) {
    std::string s = toLower(subject);
    for (std::string_view w :
         {"undeliver", "delivery status notification", "delivery failure", "delivery failed", "failure notice",
          "returned mail", "mail delivery failed", "delivery has failed", "could not be delivered", "not delivered",
          "delivery problem", "unzustellbar", "non remis", "non distribuable"}) {
        if (s.find(w) != npos) return true;
    }
    return false;
}

bool autoReply(const MimePart& root, std::string_view subject) {
    std::string as = toLower(headerValue(root.headers, "Auto-Submitted"));
    if (as.rfind("auto-replied", 0) == 0) return true;
    if (mail::findHeader(root.headers, "X-Autoreply") != npos ||
        mail::findHeader(root.headers, "X-Autorespond") != npos) {
        return true;
    }
    std::string s = toLower(subject);
    for (std::string_view w :
         {"out of office", "automatic reply", "auto reply", "autoreply", "auto-reply", "abwesenheit", "absence"}) {
        if (s.find(w) != npos) return true;
    }
    return false;
}

std::string stripHtml(std::string_view html) {
    std::string out;
    out.reserve(html.size());
    size_t i = 0;
    while (i < html.size()) {
        char c = html[i];
        if (c == '<') {
            size_t end = html.find('>', i);
            if (end == npos) break;
            std::string tag = toLower(html.substr(i + 1, std::min<size_t>(end - i - 1, 8)));
            if (tag.rfind("br", 0) == 0 || tag.rfind("/p", 0) == 0 || tag.rfind("/div", 0) == 0 ||
                tag.rfind("/tr", 0) == 0 || tag.rfind("p", 0) == 0 || tag.rfind("/h", 0) == 0 ||
                tag.rfind("/li", 0) == 0) {
                out.push_back('\n');
            }
            i = end + 1;
            continue;
        }
        if (c == '&') {
            static constexpr std::pair<std::string_view, char> kEntities[] = {
                {"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&nbsp;", ' '}};
            bool done = false;
            for (const auto& [name, ch] : kEntities) {
                if (html.substr(i, name.size()) == name) {
                    out.push_back(ch);
                    i += name.size();
                    done = true;
                    break;
                }
            }
            if (done) continue;
        }
        out.push_back(c);
        ++i;
    }
    return out;
}

void collectText(const MimePart& p, std::string_view type, std::string& out) {
    if (out.size() >= kMaxScanText) return;
    if (p.contentType == type && p.children.empty()) {
        out.append(p.body.substr(0, kMaxScanText - out.size()));
        out += "\n";
        return;
    }
    if (p.contentType.rfind("multipart/", 0) != 0) return;
    for (const auto& c : p.children)
        collectText(c, type, out);
}

// Where a bounce's text ends and its copy of the returned message begins.
constexpr std::string_view kCopyMarkers[] = {
    "--- Below this line is a copy of the message.",                     // qmail
    "------ This is a copy of the message, including all the headers.",  // Exim
    "------ This is a copy of the message's headers.",                   // Exim
    "----- Original message follows -----",
    "----- Unsent message follows -----",
    "----- Original message -----",
    "Below is a copy of the original message",
    "Original message headers:",  // Exchange
};

size_t findNoCase(std::string_view hay, std::string_view needle) {
    if (needle.empty() || hay.size() < needle.size()) return npos;
    for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
        if (util::toLowerAscii(hay[i]) == util::toLowerAscii(needle[0]) &&
            iequals(hay.substr(i, needle.size()), needle)) {
            return i;
        }
    }
    return npos;
}

// An address standing alone on a line: "bob@example.com", "<bob@example.com>:", " bob@example.com".
std::string addressLine(std::string_view line) {
    std::string_view t = trim(line);
    if (!t.empty() && t.back() == ':') t.remove_suffix(1);
    t = trim(t);
    if (t.size() >= 2 && t.front() == '<' && t.back() == '>') t = t.substr(1, t.size() - 2);
    return plausibleAddress(t) ? std::string(t) : std::string();
}

// The first plausible address in a line: inside <...>, else a bare word. Only the start of a long
// line is read (this is quadratic in the number of '<' and '@').
std::string addressInLine(std::string_view line) {
    line = line.substr(0, 2000);
    size_t pos = 0;
    while ((pos = line.find('<', pos)) != npos) {
        size_t gt = line.find('>', pos + 1);
        if (gt == npos) break;
        std::string_view inside = line.substr(pos + 1, gt - pos - 1);
        if (plausibleAddress(inside)) return std::string(inside);
        pos = gt + 1;
    }
    for (size_t at = line.find('@'); at != npos; at = line.find('@', at + 1)) {
        size_t start = line.find_last_of(" \t<(:;,\"'[", at);
        start = start == npos ? 0 : start + 1;
        size_t end = line.find_first_of(" \t>):;,\"'", at);
        std::string_view word = line.substr(start, (end == npos ? line.size() : end) - start);
        while (!word.empty() && word.back() == '.')
            word.remove_suffix(1);
        if (plausibleAddress(word)) return std::string(word);
    }
    return {};
}

bool lineHasCode(std::string_view line) {
    return findEnhancedCode(line) || findReplyCode(line) != 0;
}

// Reads a plain-text bounce: recipients from address-only lines (qmail, Exim, Exchange, Gmail
// plain-text forms) each with the first status line after it; else the first status line with an
// address in it or just above it.
bool readPlainBounce(const MimePart& root, Report& r) {
    std::string text;
    collectText(root, "text/plain", text);
    if (trim(text).empty()) {
        std::string html;
        collectText(root, "text/html", html);
        text = stripHtml(html);
    }
    // The returned message: a part of its own, or inline after a marker.
    Located enclosed;
    findPart(
        root, nullptr, 0,
        [](const MimePart& p) {
            return (isEnclosedMessage(p.contentType) || isHeaderBlock(p.contentType)) && !p.children.empty();
        },
        &enclosed);
    if (enclosed.part) r.originalHeaders = enclosed.part->children[0].headers;
    for (std::string_view marker : kCopyMarkers) {
        size_t m = findNoCase(text, marker);
        if (m == npos) continue;
        if (r.originalHeaders.empty()) {
            std::string_view copy = std::string_view(text).substr(m);
            copy.remove_prefix(lineAt(copy, 0).next);  // the marker line
            while (!copy.empty()) {
                Line l = lineAt(copy, 0);
                if (!isBlankLine(copy.substr(0, l.end))) break;
                copy.remove_prefix(l.next);
            }
            size_t ignored = 0;
            r.originalHeaders = parseFields(copy, &ignored, false);
        }
        text.resize(m);
        break;
    }

    std::vector<std::string_view> lines;
    for (size_t pos = 0; pos < text.size();) {
        Line l = lineAt(text, pos);
        lines.emplace_back(std::string_view(text).substr(l.begin, l.end - l.begin));
        pos = l.next;
    }
    std::string self = toLower(cleanAddress(headerValue(root.headers, "From")));
    std::string to = toLower(cleanAddress(headerValue(root.headers, "To")));
    auto excluded = [&](const std::string& a) {
        std::string la = toLower(a);
        return la == self || la == to || daemonAddress(a);
    };
    auto diagnosticFrom = [&](size_t k) {
        std::string d(trim(lines[k]));
        for (size_t j = k + 1; j < lines.size() && j < k + 10 && !isBlankLine(lines[j]); ++j) {
            if (!addressLine(lines[j]).empty()) break;
            d += " ";
            d += trim(lines[j]);
        }
        return collapse(d, kMaxDiagnostic);
    };
    std::set<std::string> seen;
    auto add = [&](const std::string& address, size_t codeLine) {
        if (!seen.insert(toLower(address)).second) return;
        DsnRecipient d;
        d.finalRecipient = address;
        d.diagnostic = diagnosticFrom(codeLine);
        d.status = effectiveStatus("", d.diagnostic);
        d.action = inferredAction(d.status);
        r.recipients.push_back(std::move(d));
    };

    std::vector<std::pair<size_t, std::string>> candidates;
    for (size_t k = 0; k < lines.size(); ++k) {
        std::string a = addressLine(lines[k]);
        if (!a.empty() && !excluded(a)) candidates.emplace_back(k, std::move(a));
    }
    for (size_t c = 0; c < candidates.size() && r.recipients.size() < kMaxRecipients; ++c) {
        size_t end = c + 1 < candidates.size() ? candidates[c + 1].first : lines.size();
        for (size_t k = candidates[c].first + 1; k < end; ++k) {
            if (lineHasCode(lines[k])) {
                add(candidates[c].second, k);
                break;
            }
        }
    }
    if (r.recipients.empty()) {
        for (size_t k = 0; k < lines.size(); ++k) {
            if (!lineHasCode(lines[k])) continue;
            std::string a = addressInLine(lines[k]);
            for (size_t j = k; a.empty() && j > 0 && j + 5 > k && !isBlankLine(lines[j - 1]); --j) {
                a = addressInLine(lines[j - 1]);
            }
            if (!a.empty() && !excluded(a)) {
                add(a, k);
                break;
            }
        }
    }
    if (r.recipients.empty()) return false;
    r.kind = Report::Kind::Dsn;
    r.heuristic = true;
    return true;
}

void parseReportInto(std::string_view message, std::string_view envelopeRecipient, Report& r) {
    auto mime = parseMime(message);
    if (!mime) {
        r.unsubscribeToken = tokenFromAddress(envelopeRecipient);
        if (!r.unsubscribeToken.empty()) {
            r.kind = Report::Kind::Unsubscribe;
            return;
        }
        r.why = "unreadable message: " + mime.error();
        return;
    }
    const MimePart& root = *mime;
    r.from = collapse(headerValue(root.headers, "From"), kMaxAddress);
    std::string subject = headerValue(root.headers, "Subject");
    if (subject.size() > 4 * kMaxAddress) subject.resize(4 * kMaxAddress);
    r.subject = collapse(decodeEncodedWords(subject), kMaxAddress);

    // 1. DSN and ARF
    Located dsn;
    findPart(
        root, nullptr, 0, [](const MimePart& p) { return isDsnType(p.contentType); }, &dsn);
    Located arf;
    findPart(
        root, nullptr, 0, [](const MimePart& p) { return p.contentType == "message/feedback-report"; }, &arf);
    if (!dsn.part && !arf.part) {
        // A multipart/report whose report part is mislabelled (text/plain): known by its fields.
        Located report;
        findPart(
            root, nullptr, 0, [](const MimePart& p) { return p.contentType == "multipart/report"; }, &report);
        if (report.part) {
            std::string type = reportType(report.part);
            for (size_t i = 0; i < report.part->children.size(); ++i) {
                const MimePart& c = report.part->children[i];
                if (type != "delivery-status" && leafHasField(c, "Feedback-Type", "")) {
                    arf = {&c, report.part, i};
                    break;
                }
                if (type != "feedback-report" && leafHasField(c, "Final-Recipient", "Status")) {
                    dsn = {&c, report.part, i};
                    break;
                }
            }
        }
    }
    if (dsn.part) {
        if (readDsn(dsn, r)) return;
        r.reportingMta.clear();
        r.originalEnvelopeId.clear();
    }
    if (arf.part) {
        readArf(arf, r);
        return;
    }

    // 2. unsubscribe+TOKEN@ in the envelope recipient (or, without one, the delivery headers)
    if (!trim(envelopeRecipient).empty()) {
        r.unsubscribeToken = tokenFromAddress(envelopeRecipient);
    } else {
        for (std::string_view name : {"Delivered-To", "X-Original-To", "To"}) {
            for (size_t i = mail::findHeader(root.headers, name); i != npos && r.unsubscribeToken.empty();
                 i = mail::findHeader(root.headers, name, i + 1)) {
                r.unsubscribeToken = tokenFromAddress(mail::unfold(root.headers[i].value));
            }
            if (!r.unsubscribeToken.empty()) break;
        }
    }
    if (!r.unsubscribeToken.empty()) {
        r.kind = Report::Kind::Unsubscribe;
        return;
    }

    // 3. non-standard bounces
    bool bounceLike = daemonSender(r.from) || bounceSubject(r.subject) || dsn.part;
    if (bounceLike) {
        r.originalHeaders.clear();
        if (readPlainBounce(root, r)) return;
        r.originalHeaders.clear();
        r.recipients.clear();
    }

    // 4. a token in the subject
    if (!bounceLike) {
        r.unsubscribeToken = tokenFromSubject(r.subject);
        if (!r.unsubscribeToken.empty()) {
            r.kind = Report::Kind::Unsubscribe;
            return;
        }
    }

    if (root.headers.empty()) {
        r.why = "not a mail message (no header fields)";
    } else if (dsn.part) {
        r.why = "delivery-status report without recipients";
    } else if (!daemonSender(r.from) && autoReply(root, r.subject)) {
        r.why = "auto-reply (not a bounce)";
    } else if (bounceLike) {
        r.why = "bounce-like message without a recognisable recipient and status";
    } else {
        r.why = "neither a delivery status notification, a feedback report nor an unsubscribe request";
    }
}

}  // namespace

// ---------------------------------------------------------------- public: MIME and reports

util::Result<MimePart> parseMime(std::string_view message, int maxDepth) {
    try {
        if (message.empty()) return util::err("empty message");
        if (message.size() > kMaxMessage) return util::err("message larger than 64 MiB");
        MimeContext ctx{std::clamp(maxDepth, 0, kMaxDepthCap), 0, {}};
        MimePart root;
        if (!parsePart(message, 0, "text/plain", ctx, root)) return util::err(ctx.error);
        return root;
    } catch (const std::exception& e) {
        return util::err(std::string("cannot parse the message: ") + e.what());
    } catch (...) {
        return util::err("cannot parse the message");
    }
}

Report parseReport(std::string_view message, std::string_view envelopeRecipient) {
    Report r;
    try {
        parseReportInto(message, envelopeRecipient, r);
    } catch (const std::exception& e) {
        r = Report{};
        r.why = std::string("cannot parse the message: ") + e.what();
    } catch (...) {
        r = Report{};
        r.why = "cannot parse the message";
    }
    return r;
}

std::string referenceToken(const mail::HeaderFields& headers, std::string_view name) {
    try {
        for (size_t i = mail::findHeader(headers, name); i != npos; i = mail::findHeader(headers, name, i + 1)) {
            std::string v = mail::unfold(headers[i].value);
            std::string_view t = trim(v);
            while (!t.empty() && (t.front() == '<' || t.front() == '"'))
                t.remove_prefix(1);
            size_t end = 0;
            while (end < t.size() && isTokenChar(t[end]))
                ++end;
            std::string_view token = t.substr(0, end);
            std::string_view rest = trim(t.substr(end));
            while (!rest.empty() && (rest.front() == '>' || rest.front() == '"'))
                rest.remove_prefix(1);
            if (tokenLike(token) && (trim(rest).empty() || trim(rest).front() == ';' || trim(rest).front() == '(')) {
                return std::string(token);
            }
        }
    } catch (...) {
    }
    return {};
}

// ---------------------------------------------------------------- classification

namespace {

using A = ActionClass;

struct CategoryInfo {
    std::string_view name;
    ActionClass action;
};

// clang-format off
constexpr CategoryInfo kCategories[] = {
    {"InvalidRecipient", A::HardAddress},    {"BadDomain", A::HardAddress},
    {"InactiveMailbox", A::HardAddress},

    {"QuotaIssues", A::SoftAddress},         {"MessageExpired", A::SoftAddress},
    {"TransientFailure", A::SoftAddress},    {"Uncategorized", A::SoftAddress},

    {"SpamBlock", A::SenderPolicy},          {"SpamContent", A::SenderPolicy},
    {"SpamRelated", A::SenderPolicy},        {"ContentRelated", A::SenderPolicy},
    {"PolicyRelated", A::SenderPolicy},      {"AuthenticationFailed", A::SenderPolicy},
    {"RequirePTR", A::SenderPolicy},         {"RateLimited", A::SenderPolicy},
    {"RFCNonCompliant", A::SenderPolicy},    {"ProhibitedAttachment", A::SenderPolicy},
    {"VirusRelated", A::SenderPolicy},       {"InvalidSender", A::SenderPolicy},

    {"NoAnswerFromHost", A::Infrastructure}, {"BadConnection", A::Infrastructure},
    {"DNSFailure", A::Infrastructure},       {"RoutingErrors", A::Infrastructure},
    {"RelayingIssues", A::Infrastructure},   {"RelayDenied", A::Infrastructure},
    {"BadConfiguration", A::Infrastructure}, {"ProtocolErrors", A::Infrastructure},
    {"TooManyRecipients", A::Infrastructure},

    {"AutoReply", A::NonBounce},             {"ChallengeResponse", A::NonBounce},
    {"Subscribe", A::NonBounce},             {"Unsubscribe", A::NonBounce},
    {"Delivered", A::NonBounce},
};
// clang-format on

const CategoryInfo* findCategory(std::string_view name) {
    if (iequals(name, "AuthenticationFailure")) name = "AuthenticationFailed";
    for (const auto& c : kCategories) {
        if (iequals(c.name, name)) return &c;
    }
    return nullptr;
}

// Built-in wording. kOverride is tried before the status code: it names causes that are about the
// sender or the path whatever code came with them (Mautic #9222: a blocklist 5.7.1 taken for an
// unknown user). kWording is tried after the code, for generic or absent codes. Matched against the
// text with addresses masked, so "spam@example.com" says nothing.
struct BuiltinRule {
    const char* category;
    const char* name;
    const char* pattern;
};

constexpr BuiltinRule kOverride[] = {
    {"BadDomain", "Postfix: recipient domain does not exist",
     R"(host or domain name not found\. name service error for name=\S+ type=\S+: )"
     R"(host not found(?!, try again))"},
    {"VirusRelated", "virus", R"(\b(virus|malware|trojan|infected)\b)"},
    {"ProhibitedAttachment", "attachment",
     R"((attachment|file type|file extension)s?\b.{0,40}\b(not allowed|prohibited|)"
     R"(forbidden|blocked|rejected|unsafe|dangerous)|\b(prohibited|forbidden|blocked|)"
     R"(dangerous|unsafe) (attachment|file type|file extension))"},
    {"TooManyRecipients", "too many recipients", R"(too many recipients)"},
    {"SpamBlock", "blocklist",
     R"(spamhaus|spamcop|barracuda|sorbs\.net|uceprotect|abuseat|spameatingmonkey|)"
     R"(mailspike|\b(dns)?[rb]bl\b|block ?list|black ?list|blocked using|\blisted (at|)"
     R"(on|in|by)\b|(poor|bad|low) (ip |sender |domain )?reputation)"},
    {"RateLimited", "rate",
     R"(rate ?limit|rate-limit|too many (messages|mails|emails|connections|concurrent)|)"
     R"((unusual|high|sending|message) rate|unexpected volume|excessive (volume|traffic|)"
     R"(mail)|throttl|temporarily (deferred|rate limited)|too fast|connection limit|)"
     R"(exceeded .{0,20}(connection|sending|message) (limit|rate|threshold))"},
    {"SpamContent", "spam content",
     R"(content filter|spam content|message content|rejected as spam|detected as spam|)"
     R"(looks like spam|classified as spam|spam score|\bphish)"},
    {"SpamBlock", "spam", R"(unsolicited|\bspam|junk mail|bulk mail|\bub?ce\b|user complaints)"},
    {"RequirePTR", "reverse DNS",
     R"(reverse dns|reverse (ip )?lookup|\bptr\b|\brdns\b|fcrdns|no reverse|)"
     R"(cannot find your (reverse )?hostname|does not resolve to|)"
     R"(hostname .{0,30}(does not|doesn't|not) match)"},
    {"AuthenticationFailed", "authentication",
     R"(\b(dmarc|dkim|spf)\b|unauthenticated|authentication (information|checks?|level|)"
     R"(failed|failure|results)|(fail|failed|fails) to pass authentication|)"
     R"(sender policy framework|domainkeys)"},
    {"RFCNonCompliant", "RFC 5322",
     R"(rfc ?5322|rfc ?2822|rfc ?822|not (rfc|standards?)[ -]compliant|non-compliant|)"
     R"(duplicate header|header (is )?(invalid|missing|too long)|invalid (header|)"
     R"(message-id|date header)|(missing|multiple) (from|date|message-id) header|)"
     R"(bare (lf|linefeed|cr))"},
    {"RelayDenied", "relay",
     R"(relay(ing)? (access )?(denied|not permitted|prohibited|not allowed)|)"
     R"(unable to relay|not permitted to relay|we do not relay|no relaying|)"
     R"(list of allowed rcpthosts)"},
    {"InvalidSender", "sender",
     R"(sender address rejected|sender (domain|address) (does not exist|not found|)"
     R"(unknown|invalid|must exist)|invalid sender|bad sender|sender verify failed|)"
     R"(unverified sender|domain of sender address .{0,60}does not (exist|resolve))"},
};

constexpr BuiltinRule kWording[] = {
    {"QuotaIssues", "mailbox full",
     R"(over ?quota|quota exceeded|exceed(s|ed)? (its |the |their )?(storage |)"
     R"(mailbox )?quota|mailbox (is )?full|full mailbox|inbox is full|out of storage|)"
     R"(insufficient (system )?(storage|disk)|storage (space|limit)|exceeded (its |)"
     R"(the )?storage|mailbox size limit)"},
    {"InactiveMailbox", "disabled",
     R"((mailbox|account|user|address|recipient)( [a-z0-9._-]+){0,2} (is |has been |)"
     R"(was )?(disabled|inactive|deactivated|suspended|closed|terminated|discontinued)|)"
     R"(no longer (active|in use|available|valid))"},
    {"BadDomain", "no such domain",
     R"(domain (not found|does not exist|doesn't exist|unknown)|unrouteable (address|)"
     R"(domain)|no (mx|valid mx|mail exchanger)|null mx|nxdomain|)"
     R"(bad destination (system|domain))"},
    {"InvalidRecipient", "user unknown",
     R"(user unknown|unknown user|unknown recipient|recipient unknown|addressee unknown|)"
     R"(no such (user|mailbox|recipient|address|account|person)|(user|mailbox|recipient|)"
     R"(address|account)s? (does not|doesn't|did not) exist|does not exist|)"
     R"(doesn't exist|(user|mailbox|recipient|address|account) (not found|unknown)|)"
     R"(not a valid (mailbox|recipient|user|address)|invalid (mailbox|recipient|user|)"
     R"(address)|unknown (mailbox|address|local[ -]part)|mailbox unavailable|)"
     R"(mailbox not available|no mailbox|doesn't have an? \S+ account|(recipient|)"
     R"(user) not (found|listed))"},
    {"ContentRelated", "too big",
     R"(message (is )?too (big|large)|message size|size (limit|exceeds)|)"
     R"(exceeds .{0,30}size|too large)"},
    {"BadConfiguration", "TLS", R"(\b(starttls|tls|ssl)\b|certificate)"},
    {"MessageExpired", "expired",
     R"(expired|too long in (the )?queue|delivery time|retry time(out)? (exceeded|)"
     R"(reached)|could not be delivered within)"},
    {"NoAnswerFromHost", "timeout", R"(timed out|time-out|timeout|no answer|not responding)"},
    {"DNSFailure", "DNS", R"(name service error|dns (error|failure|lookup)|temporary (dns|lookup) failure|servfail)"},
    {"BadConnection", "connection",
     R"(connection (refused|reset|closed|lost|dropped)|lost connection|)"
     R"(network is unreachable|no route to host|broken pipe)"},
    {"PolicyRelated", "policy",
     R"(policy|not (authorized|authorised|permitted|allowed)|access denied|)"
     R"(administrative(ly)? prohibit|refused|prohibited)"},
};

std::string lowerAscii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = util::toLowerAscii(c);
    return out;
}

// Case-insensitive matching without std::regex::icase (which makes libstdc++ translate every
// character through the locale, about three times slower): the text is lower-cased once and so are
// the pattern's letters, except the one after a backslash (\S, \W, \b, \d stay what they are;
// hex digits and control letters mean the same in either case).
std::regex compileRule(std::string_view pattern) {
    std::string p;
    p.reserve(pattern.size());
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '\\' && i + 1 < pattern.size()) {
            p.push_back(pattern[i]);
            p.push_back(pattern[++i]);
            continue;
        }
        p.push_back(util::toLowerAscii(pattern[i]));
    }
    return std::regex(p, std::regex::ECMAScript | std::regex::nosubs);
}

const std::vector<Classifier::Rule>& builtinRules(bool override);

bool generic(const Code& c) {
    return c.subject == 0 || (c.detail == 0 && (c.subject == 1 || c.subject == 2 || c.subject == 3 || c.subject == 5));
}

// clang-format off
// RFC 3463 and the IANA registry (RFC 5248, 7372, 7293, 7505); Gmail uses some x.7.2x codes in its
// own sense (x.7.27 SPF, x.7.30 DKIM), all sender-policy either way.
std::string_view codeCategory(const Code& c) {
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

// Each address-looking word (it has an '@') becomes "<address>".
std::string maskAddresses(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        size_t end = text.find(' ', i);
        if (end == npos) end = text.size();
        std::string_view word = text.substr(i, end - i);
        if (word.find('@') != npos) {
            out += "<address>";
        } else {
            out.append(word);
        }
        if (end < text.size()) out.push_back(' ');
        i = end + 1;
    }
    return out;
}

bool search(const std::regex& re, const std::string& text) {
    try {
        return std::regex_search(text, re);
    } catch (...) {  // error_complexity / error_stack: treated as no match
        return false;
    }
}

// "\/" in a rule means a literal slash (the delimiter); other escapes pass through.
std::string unescapeSlashes(std::string_view p) {
    std::string out;
    out.reserve(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '\\' && i + 1 < p.size()) {
            if (p[i + 1] != '/') out.push_back('\\');
            out.push_back(p[i + 1]);
            ++i;
            continue;
        }
        out.push_back(p[i]);
    }
    return out;
}

}  // namespace

struct Classifier::Rule {
    std::string category;
    std::regex re;
    std::string where;
};

namespace {

const std::vector<Classifier::Rule>& builtinRules(bool override) {
    static const auto build = [](const auto& table) {
        std::vector<Classifier::Rule> rules;
        for (const auto& b : table) {
            try {
                rules.push_back({b.category, compileRule(b.pattern), std::string("builtin: ") + b.name});
            } catch (...) {  // a bad built-in pattern is a bug the unit tests catch; skip it here
            }
        }
        return rules;
    };
    static const std::vector<Classifier::Rule> overrides = build(kOverride);
    static const std::vector<Classifier::Rule> wording = build(kWording);
    return override ? overrides : wording;
}

}  // namespace

std::string_view actionClassName(ActionClass a) {
    switch (a) {
        case ActionClass::HardAddress:
            return "hard";
        case ActionClass::SoftAddress:
            return "soft";
        case ActionClass::SenderPolicy:
            return "sender-policy";
        case ActionClass::Infrastructure:
            return "infrastructure";
        case ActionClass::NonBounce:
            return "non-bounce";
    }
    return "soft";
}

ActionClass actionOf(std::string_view category) {
    const CategoryInfo* c = findCategory(category);
    return c ? c->action : ActionClass::SoftAddress;
}

std::optional<std::string> canonicalCategory(std::string_view category) {
    const CategoryInfo* c = findCategory(category);
    if (!c) return std::nullopt;
    return std::string(c->name);
}

Classifier::Classifier() = default;

util::Result<Classifier> Classifier::load(const std::string& ruleFile) {
    try {
        std::ifstream in(ruleFile, std::ios::binary);
        if (!in) return util::err(ruleFile + ": cannot open: " + std::strerror(errno));
        Classifier c;
        std::string line;
        int lineNo = 0;
        while (std::getline(in, line)) {
            ++lineNo;
            std::string_view l = trim(line);
            if (l.empty() || l.front() == '#') continue;
            std::string where = ruleFile + ":" + std::to_string(lineNo);
            size_t ws = l.find_first_of(" \t");
            if (ws == npos) return util::err(where + ": expected \"CATEGORY /regex/\"");
            std::string_view name = l.substr(0, ws);
            std::string_view rest = trim(l.substr(ws));
            auto category = canonicalCategory(name);
            if (!category) return util::err(where + ": unknown category \"" + util::printable(name, 64) + "\"");
            if (rest.empty() || rest.front() != '/') return util::err(where + ": expected /regex/ after the category");
            size_t close = npos;
            for (size_t p = rest.size(); p-- > 1;) {
                if (rest[p] != '/') continue;
                size_t backslashes = 0;
                while (p - backslashes > 1 && rest[p - 1 - backslashes] == '\\')
                    ++backslashes;
                if (backslashes % 2 == 1) continue;  // "\/": a slash inside the regex
                std::string_view after = trim(rest.substr(p + 1));
                if (after.empty() || after.front() == '#') {
                    close = p;
                    break;
                }
            }
            if (close == npos) return util::err(where + ": regex not closed by '/' (or text after it)");
            std::string pattern = unescapeSlashes(rest.substr(1, close - 1));
            if (pattern.empty()) return util::err(where + ": empty regex");
            auto rule = std::make_shared<Rule>();
            rule->category = *category;
            rule->where = where;
            try {
                rule->re = compileRule(pattern);
            } catch (const std::regex_error& e) {
                return util::err(where + ": bad regex: " + e.what());
            }
            c.rules_.push_back(std::move(rule));
        }
        if (in.bad()) return util::err(ruleFile + ": read error");
        return c;
    } catch (const std::exception& e) {
        return util::err(ruleFile + ": " + e.what());
    } catch (...) {
        return util::err(ruleFile + ": cannot load");
    }
}

Classification Classifier::classify(std::string_view status, std::string_view diagnostic) const {
    try {
        std::string text = collapse(status, 64) + " " + joinContinuations(collapse(diagnostic, 4 * kMaxClassifyText));
        if (text.size() > kMaxClassifyText) text.resize(kMaxClassifyText);
        text = lowerAscii(text);
        std::string_view said = withoutDiagnosticType(diagnostic);
        if (said.size() > kMaxClassifyText) said = said.substr(0, kMaxClassifyText);
        std::optional<Code> st = statusCode(status);
        std::optional<Code> enhanced = findEnhancedCode(said);
        int reply = findReplyCode(said);
        // The class: what the server said, else the Status field.
        int cls = enhanced ? enhanced->cls : reply ? reply / 100 : st ? st->cls : 0;
        // The detailed code: the diagnostic's unless generic, of that class.
        std::optional<Code> code;
        for (const auto& candidate : {enhanced, st}) {
            if (candidate && candidate->cls == cls && (!code || (generic(*code) && !generic(*candidate)))) {
                code = candidate;
            }
        }

        auto result = [&](std::string_view category, std::string rule) {
            Classification c{std::string(category), actionOf(category), std::move(rule)};
            if (c.action == ActionClass::HardAddress && cls == 4) {
                c.category = "TransientFailure";
                c.action = ActionClass::SoftAddress;
                c.rule += " (temporary)";
            }
            return c;
        };

        if (cls == 2) return result("Delivered", "class 2");
        for (const auto& rule : rules_) {
            if (search(rule->re, text)) return result(rule->category, rule->where);
        }
        std::string masked = maskAddresses(text);
        for (const auto& rule : builtinRules(true)) {
            if (search(rule.re, masked)) return result(rule.category, rule.where);
        }
        if (code && !generic(*code)) {
            std::string_view category = codeCategory(*code);
            if (!category.empty()) return result(category, "status " + code->str());
        }
        for (const auto& rule : builtinRules(false)) {
            if (search(rule.re, masked)) return result(rule.category, rule.where);
        }
        if (std::string_view category = replyCategory(reply); !category.empty()) {
            return result(category, "reply " + std::to_string(reply));
        }
        if (cls == 4) return result("TransientFailure", "class 4");
        return result("Uncategorized", cls == 5 ? "class 5" : "no status");
    } catch (...) {
        return Classification{"Uncategorized", ActionClass::SoftAddress, "error"};
    }
}

}  // namespace rampart::feedback
