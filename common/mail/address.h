// RFC 5322 address parsing (From, To, Cc, Reply-To, Sender) and envelope addresses (RFC 5321).
// Input is untrusted: every error is a Result, never an exception or a crash.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace rampart::mail {

struct Mailbox {
    std::string displayName;  // decoded of quotes and comments, not of RFC 2047 encoded-words
    std::string localPart;    // as written (quoted local parts keep their quotes)
    std::string domain;       // as written; callers lower-case / IDNA-convert
    std::string address() const { return localPart + "@" + domain; }
    bool operator==(const Mailbox&) const = default;
};

// address-list / mailbox-list: display names, quoted strings, comments, angle addresses, groups
// ("undisclosed-recipients:;" yields no mailbox), obsolete route syntax. Errors name the problem.
util::Result<std::vector<Mailbox>> parseAddressList(std::string_view value);

// An envelope address as Postfix hands it to a milter or policy server: "<a@b>", "a@b" or "<>" /
// "" (the null sender: localPart and domain empty). Source routes "<@x,@y:a@b>" are dropped.
// "<Postmaster>" without a domain (RFC 5321 section 4.1.1.3) gives localPart "Postmaster" and an
// empty domain; any other address without '@' is an error.
util::Result<Mailbox> parseEnvelopeAddress(std::string_view text);

}  // namespace rampart::mail
