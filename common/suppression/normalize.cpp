// Address normalization for suppression lists: case, IDNA, quoted local parts, whole domains, and
// Gmail's dots and +tags folded, so that one mailbox has one key.
#include "suppression/normalize.h"

#include <algorithm>
#include <cstring>

#include "mail/address.h"
#include "mail/domain.h"
#include "suppression/internal.h"
#include "util/strings.h"

namespace rampart::suppress {

namespace {

constexpr size_t kMaxLocalPart = 256;
constexpr size_t kMaxInput = 1024;

using detail::kQuotedMax;

bool isAtextAscii(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

// "\"a.b\"" -> "a.b" when the quotes add nothing (RFC 5321 section 4.1.2: the same mailbox);
// otherwise the quoted form as written.
std::string unquoteLocalPart(const std::string& local) {
    if (local.size() < 2 || local.front() != '"' || local.back() != '"') return local;
    std::string inner;
    for (size_t i = 1; i + 1 < local.size(); ++i) {
        char c = local[i];
        if (c == '\\' && i + 2 < local.size()) c = local[++i];
        inner += c;
    }
    bool dotAtom =
        !inner.empty() && inner.front() != '.' && inner.back() != '.' && inner.find("..") == std::string::npos;
    for (char c : inner)
        dotAtom = dotAtom && (c == '.' || isAtextAscii(c) || static_cast<unsigned char>(c) >= 0x80);
    return dotAtom ? inner : local;
}

bool isGmail(std::string_view domain) {
    return domain == "gmail.com" || domain == "googlemail.com";
}

}  // namespace

util::Result<std::string> normalizeTarget(std::string_view addressOrDomain, const NormalizeOptions& o) {
    std::string_view t = util::trim(addressOrDomain);
    if (t.empty()) return util::err("empty address");
    if (t.size() > kMaxInput) return util::err("address longer than 1024 bytes");
    for (char c : t) {
        if (c == '\0' || c == '\r' || c == '\n')
            return util::err("invalid address " + util::quoted(t, kQuotedMax) + ": control character");
    }
    const bool bare = t.front() != '<' && t.front() != '"';
    const size_t at = t.find('@');
    if (bare && (at == std::string_view::npos || (at == 0 && t.find('@', 1) == std::string_view::npos))) {
        // A whole domain: "@example.com" or "example.com".
        std::string_view d = at == 0 ? t.substr(1) : t;
        if (d.empty()) return util::err("\"@\" without a domain");
        if (d.front() == '[')
            return util::err("address literals such as " + util::quoted(d, kQuotedMax) + " cannot be suppressed");
        for (char c : d) {
            if (util::isSpace(c))
                return util::err("invalid domain " + util::quoted(d, kQuotedMax) + ": contains a space");
        }
        auto ascii = mail::toAsciiDomain(d);
        if (!ascii) return util::err(ascii.error());
        if (ascii->find('.') == std::string::npos) {
            return util::err(util::quoted(t, kQuotedMax) +
                             " is neither an address (no '@') nor a domain name (no '.')");
        }
        if (o.foldGmail && *ascii == "googlemail.com") return std::string("@gmail.com");
        return "@" + *ascii;
    }
    auto mb = mail::parseEnvelopeAddress(t);
    if (!mb) return util::err("not an address: " + mb.error());
    if (mb->localPart.empty() && mb->domain.empty()) return util::err("the null sender <> is not an address");
    if (mb->domain.empty()) return util::err("no domain in " + util::quoted(t, kQuotedMax));
    if (mb->domain.front() == '[') {
        return util::err("address literals such as " + util::quoted(mb->domain, kQuotedMax) + " cannot be suppressed");
    }
    auto ascii = mail::toAsciiDomain(mb->domain);
    if (!ascii) return util::err("invalid address " + util::quoted(t, kQuotedMax) + ": " + ascii.error());
    std::string domain = std::move(ascii).value();
    std::string local = unquoteLocalPart(mb->localPart);
    const bool gmail = o.foldGmail && isGmail(domain) && local.front() != '"';
    if (!o.caseSensitiveLocalPart || gmail) {
        for (char& c : local)
            c = util::toLowerAscii(c);
    }
    if (gmail) {
        size_t plus = local.find('+');
        if (plus != std::string::npos) local.erase(plus);
        local.erase(std::remove(local.begin(), local.end(), '.'), local.end());
        if (local.empty())
            return util::err("nothing is left of the Gmail address " + util::quoted(t, kQuotedMax) +
                             " without dots and +tag");
        domain = "gmail.com";
    }
    if (local.size() > kMaxLocalPart)
        return util::err("the local part of " + util::quoted(t, kQuotedMax) + " is longer than 256 bytes");
    return local + "@" + domain;
}

}  // namespace rampart::suppress
