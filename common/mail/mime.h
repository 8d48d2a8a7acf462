// A small MIME reader, just enough for bounce and complaint reports (common/feedback): header
// blocks, Content-Type, multipart bodies, enclosed messages and header parts, the base64 and
// quoted-printable transfer encodings, and RFC 2047 encoded-words. It reads untrusted mail: sizes
// are capped, recursion is bounded, and parseMime never throws.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mail/header.h"
#include "util/result.h"

namespace rampart::mail {

// One MIME entity. Header values are as in mail/header.h (raw, folds joined by CRLF).
//   multipart/*:                                children are the parts; body is empty (or the raw
//                                               text when no delimiter was found)
//   message/rfc822, message/global:             children[0] is the enclosed message; body is empty
//   text/rfc822-headers, message/global-headers: children[0] holds the header block (headers only);
//                                               body keeps the text
//   anything else:                              body, decoded from base64 / quoted-printable
struct MimePart {
    HeaderFields headers;
    std::string contentType;  // lower-case "type/subtype"; "text/plain" when absent or invalid
    std::string boundary;     // multipart only
    std::string body;
    std::vector<MimePart> children;
};
// Parses a message (CRLF or LF line ends, mixed too), nesting at most `maxDepth` levels (each
// multipart part and each enclosed message is one level; maxDepth is capped at 64). Errors: empty
// input, input over 64 MiB, nesting deeper than maxDepth, more than 10000 parts. A multipart
// without its closing delimiter ends at the end of the input.
util::Result<MimePart> parseMime(std::string_view message, int maxDepth = 8);

// ---------------------------------------------------------------- building blocks
// What parseMime is made of, for readers of report bodies (delivery-status fields, plain-text
// bounces) that need the same line and field rules.

struct Line {
    size_t begin;
    size_t end;   // without the line end (CRLF or LF)
    size_t next;  // after the line end
};
// The line starting at `pos` of `s`.
Line lineAt(std::string_view s, size_t pos);
// Only spaces, tabs and CRs.
bool isBlankLine(std::string_view line);

// Header fields at the start of `s`. Strict (a message or part): stops at the first blank line
// (*bodyStart after it) or at the first line that is neither a field nor a continuation (*bodyStart
// at that line: a message without the blank separator). Lenient (report fields): skips blank and
// malformed lines and reads to the end.
HeaderFields parseFields(std::string_view s, size_t* bodyStart, bool lenient);
// The unfolded value of the first field `name` (case-insensitive); empty if none.
std::string headerValue(const HeaderFields& fields, std::string_view name);

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
// A Content-Type value: the type (lower-case) and its parameters (names lower-case, values unquoted).
ContentType parseContentType(std::string_view v);
// The type of the Content-Type field of `headers`, else `defaultType`; the whole parsed field in
// *ctOut if not null.
std::string contentTypeOf(const HeaderFields& headers, std::string_view defaultType, ContentType* ctOut);
// message/rfc822, message/global.
bool isEnclosedMessage(std::string_view type);
// text/rfc822-headers, message/global-headers, message/rfc822-headers.
bool isHeaderBlock(std::string_view type);

// Soft line breaks ("=" before CRLF or LF, trailing blanks allowed) removed, =XX decoded; a '='
// that starts neither is kept as it is.
std::string decodeQuotedPrintable(std::string_view s);
// RFC 2047 encoded-words (B and Q) decoded to their bytes (the charset is not converted); white
// space between adjacent encoded-words dropped. Malformed words stay as written.
std::string decodeEncodedWords(std::string_view s);

}  // namespace rampart::mail
