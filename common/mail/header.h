// Header fields as a milter sees them and as they leave the MTA.
//
// A HeaderField's value is the raw text after the colon, leading whitespace included (the milter
// negotiates SMFIP_HDR_LEADSPC so nothing is lost), with folded lines joined by CRLF. That is exactly
// what "simple" DKIM canonicalisation must see.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rampart::mail {

struct HeaderField {
    std::string name;
    std::string value;
    bool operator==(const HeaderField&) const = default;
};

using HeaderFields = std::vector<HeaderField>;

// Line ends inside a value as CRLF: the MTA hands folded values over with bare LF (and wants them
// back that way; see toMilterValue).
std::string normalizeLineEnds(std::string_view value);
// The value for smfi_addheader/insheader/chgheader: CRLF -> LF (the MTA adds the CR).
std::string toMilterValue(std::string_view value);
// Unfolded and trimmed value, for parsing: line breaks (CRLF or bare LF) are removed and the
// whitespace that follows them is kept (RFC 5322 section 2.2.3), then the ends are trimmed.
std::string unfold(std::string_view value);

// Comments nest at most this deep in the parsers of structured fields (deeper nesting is refused).
constexpr int kMaxCommentDepth = 64;
// The index after the CFWS (blanks, line breaks and nested comments, RFC 5322 section 3.2.2) that
// starts at s[i]; npos on an unterminated comment or one nested deeper than kMaxCommentDepth.
size_t skipCfws(std::string_view s, size_t i);

// Index of the first field named `name` (case-insensitive) at or after `from`; npos if none.
size_t findHeader(const HeaderFields& fields, std::string_view name, size_t from = 0);
size_t countHeaders(const HeaderFields& fields, std::string_view name);

}  // namespace rampart::mail
