// Address normalization for suppression lists: the one form entries are stored and looked up under.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace rampart::suppress {

struct NormalizeOptions {
    bool caseSensitiveLocalPart = false;  // RFC 5321 allows it; in practice nobody relies on it
    bool foldGmail = true;                // gmail.com / googlemail.com: no dots, no +tag
};

// The form entries are stored and looked up under: lower-case A-label domain; local part lower-cased
// (ASCII letters) unless caseSensitiveLocalPart; for gmail.com and googlemail.com dots removed, "+tag"
// cut and the domain gmail.com. No other domain has its +tags cut (subaddressing is site-specific).
// A whole domain is written "@example.com" (or "example.com"); it matches addresses in exactly that
// domain, not in its subdomains. Accepts "<user@example.com>" and quoted local parts ("\"a.b\"@x"
// becomes a.b@x when the quotes are not needed). Errors for what is not an address or domain: empty
// input, the null sender "<>", no domain, address literals, invalid domains, spaces.
util::Result<std::string> normalizeTarget(std::string_view addressOrDomain, const NormalizeOptions& o);

}  // namespace rampart::suppress
