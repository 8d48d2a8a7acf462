// RFC 2047 encoded-words for raw 8-bit text in header fields of messages sent without SMTPUTF8: the
// repairs the 8bit-headers hygiene rule applies. Only the words that hold 8-bit bytes are encoded
// (B encoding, at most 75 characters a word, 76 a line, UTF-8 sequences never split); everything
// else stays as written.
#pragma once

#include <string>
#include <string_view>

namespace rampart::mail {

// "=?charset?B|Q?text?=" in form (one word, no blanks inside); the text is not checked.
bool looksLikeEncodedWord(std::string_view word);

// An unstructured field (Subject, Comments, X-...): the runs of blank-separated words from the first
// to the last one with 8-bit bytes become encoded-words. `name` is the field name (for the column
// of the first line); `charset` names what the 8-bit bytes are ("UTF-8", "windows-1252").
std::string encodeUnstructured(std::string_view name, std::string_view value, std::string_view charset);

struct FieldRepair {
    std::string value;    // the repaired value ("" with `refusal` set)
    std::string refusal;  // why it cannot be repaired
};

// An address field (From, To, Cc, ...): display names and comments become encoded-words, U-label
// domains their A-labels (IDNA2008). 8-bit in a local part, a domain literal or anywhere else cannot
// be repaired: `refusal` says where.
FieldRepair encodeAddressField(std::string_view name, std::string_view value, std::string_view charset);

}  // namespace rampart::mail
