// Tokens in reports: the unsubscribe token of a mailto unsubscribe request (in its recipient
// address or its subject) and the reference stamp (reference_header) in a report's returned
// headers. Tokens are base64url, 40 to 1024 characters, returned as written (case matters).
#pragma once

#include <string>
#include <string_view>

#include "mail/header.h"

namespace rampart::feedback {

// The first token-like value (base64url, 40 to 1024 characters; angle brackets, quotes and spaces
// around it ignored) of the header `name` (case-insensitive) in `headers`; empty if none. For the
// reference stamp in a report's originalHeaders: referenceToken(report.originalHeaders,
// "X-Rampart-Ref").
std::string referenceToken(const mail::HeaderFields& headers, std::string_view name);

// "unsubscribe+TOKEN@domain" (or "unsub", or '-' for '+') -> TOKEN; empty if the value is no such
// address.
std::string tokenFromAddress(std::string_view value);
// "unsubscribe TOKEN", "Re: Unsubscribe: <TOKEN>", "unsubscribe-TOKEN", or the longest token-like
// word of the subject; empty if none.
std::string tokenFromSubject(std::string_view subject);

}  // namespace rampart::feedback
