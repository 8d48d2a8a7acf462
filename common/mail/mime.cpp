// The MIME reader of mail/mime.h: header blocks, Content-Type, transfer decodings (base64,
// quoted-printable), RFC 2047 encoded-words, and the recursive multipart / enclosed-message parser.
// Moved here from common/feedback/report.cpp. Base64 is util::base64DecodeLenient: it skips what is not
// base64, as mail needs.
#include "mail/mime.h"

#include <algorithm>
#include <cstdint>

#include "util/base64.h"
#include "util/strings.h"

namespace rampart::mail {

namespace {

using util::toLower;
using util::trim;
constexpr size_t npos = std::string_view::npos;

constexpr size_t kMaxMessage = size_t{64} << 20;  // parseMime refuses more
constexpr size_t kMaxParts = 10000;               // MIME parts in one message
constexpr int kMaxDepthCap = 64;                  // whatever maxDepth the caller asks for

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

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

struct MimeContext {
    int maxDepth;
    size_t parts = 0;
    std::string error;
};

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

}  // namespace

// ---------------------------------------------------------------- lines and header fields

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

// ---------------------------------------------------------------- Content-Type, decoders

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
            out += util::base64DecodeLenient(text);
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

bool isEnclosedMessage(std::string_view type) {
    return type == "message/rfc822" || type == "message/global";
}

bool isHeaderBlock(std::string_view type) {
    return type == "text/rfc822-headers" || type == "message/global-headers" || type == "message/rfc822-headers";
}

std::string contentTypeOf(const mail::HeaderFields& headers, std::string_view defaultType, ContentType* ctOut) {
    ContentType ct;
    size_t i = mail::findHeader(headers, "Content-Type");
    if (i != npos) ct = parseContentType(mail::unfold(headers[i].value));
    std::string type = ct.type.empty() ? std::string(defaultType) : ct.type;
    if (ctOut) *ctOut = std::move(ct);
    return type;
}

namespace {

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
    out.contentType = contentTypeOf(out.headers, defaultType, &ct);
    std::string cte = toLower(headerValue(out.headers, "Content-Transfer-Encoding"));
    std::string decoded;
    std::string_view content = body;
    if (cte == "base64") {
        decoded = util::base64DecodeLenient(body);
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
        child.contentType = contentTypeOf(child.headers, "text/plain", nullptr);
        out.children.push_back(std::move(child));
    }
    out.body = decoded.empty() ? std::string(content) : std::move(decoded);
    return true;
}

}  // namespace

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

}  // namespace rampart::mail
