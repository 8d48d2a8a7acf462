// Domain names: IDNA conversion (libidn2) and organisational domains (Public Suffix List, libpsl),
// for DMARC-style relaxed alignment (RFC 7489 section 3.1).
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace rampart::mail {

// Lower-case ASCII (A-label) form of a domain; U-labels are converted with IDNA2008 (TR46
// non-transitional). Errors for names that are not valid host names.
util::Result<std::string> toAsciiDomain(std::string_view domain);

// The registrable ("organisational") domain: mail.example.co.uk -> example.co.uk. A name that is a
// public suffix itself (co.uk, com) is returned unchanged (lower-cased). Names under a top-level
// domain the list does not know follow its default rule "*": a.example.invalidtld ->
// example.invalidtld. The list is libpsl's newest: /usr/share/publicsuffix or the built-in one.
std::string organizationalDomain(std::string_view asciiDomain);

// Relaxed alignment: equal organisational domains (case-insensitive).
bool relaxedAligned(std::string_view a, std::string_view b);

}  // namespace rampart::mail
