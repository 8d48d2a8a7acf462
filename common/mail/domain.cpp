// Domain names: IDNA2008 conversion with libidn2 (UTS #46 non-transitional, NFC input), host name
// validation, and organisational domains from the Public Suffix List (libpsl).
#include "mail/domain.h"

#include <idn2.h>
#include <libpsl.h>

#include "util/strings.h"

namespace rampart::mail {

namespace {

constexpr size_t kMaxInput = 1024;

bool isLdh(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// RFC 1123 host name rules on a lower-case ASCII name.
util::Result<std::string> checkHostName(std::string name, std::string_view original) {
    auto bad = [&original](const std::string& why) {
        return util::err("invalid domain name " + util::quoted(original, 200) + ": " + why);
    };
    if (name.size() > 253) return bad("longer than 253 characters");
    size_t start = 0;
    std::string_view lastLabel;
    while (true) {
        size_t dot = name.find('.', start);
        std::string_view label =
            std::string_view(name).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (label.empty()) return bad("empty label");
        if (label.size() > 63) return bad("label longer than 63 characters");
        for (char c : label) {
            if (!isLdh(c)) {
                return bad("character '" + util::printable(std::string(1, c)) + "' not allowed");
            }
        }
        if (label.front() == '-' || label.back() == '-') {
            return bad("a label starts or ends with '-'");
        }
        lastLabel = label;
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    bool numeric = true;
    for (char c : lastLabel)
        numeric = numeric && c >= '0' && c <= '9';
    if (numeric) return bad("the top-level label is numeric (an address, not a domain)");
    return name;
}

const psl_ctx_t* publicSuffixList() {
    // The newer of the built-in list and the system's /usr/share/publicsuffix; read-only after
    // construction, so it is shared by all threads. Never freed: it lives as long as the process.
    static const psl_ctx_t* const ctx = [] {
        const psl_ctx_t* latest = psl_latest(nullptr);
        return latest != nullptr ? latest : psl_builtin();
    }();
    return ctx;
}

}  // namespace

util::Result<std::string> toAsciiDomain(std::string_view domain) {
    std::string_view d = util::trim(domain);
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);  // the root label
    if (d.empty()) return util::err("empty domain name");
    if (d.size() > kMaxInput) return util::err("domain name too long");
    bool ascii = true;
    for (char c : d) {
        if (c == '\0') return util::err("invalid domain name: contains a NUL byte");
        if (static_cast<unsigned char>(c) >= 0x80) ascii = false;
    }
    std::string out;
    if (ascii) {
        out = util::toLower(d);
        // A-labels must decode: "xn--" followed by garbage is not a host name.
        if (out.find("xn--") != std::string::npos) {
            char* unicode = nullptr;
            int rc = idn2_to_unicode_8z8z(out.c_str(), &unicode, 0);
            idn2_free(unicode);
            if (rc != IDN2_OK) {
                return util::err("invalid domain name " + util::quoted(d, 200) + ": " + idn2_strerror(rc));
            }
        }
    } else {
        std::string input(d);
        char* converted = nullptr;
        int rc = idn2_to_ascii_8z(input.c_str(), &converted, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
        if (rc != IDN2_OK) {
            idn2_free(converted);
            return util::err("invalid internationalized domain name \"" + util::printable(d) +
                             "\": " + idn2_strerror(rc));
        }
        out = util::toLower(converted);
        idn2_free(converted);
    }
    return checkHostName(std::move(out), d);
}

std::string organizationalDomain(std::string_view asciiDomain) {
    std::string d = util::toLower(util::trim(asciiDomain));
    if (!d.empty() && d.back() == '.') d.pop_back();
    if (d.empty()) return d;
    const psl_ctx_t* psl = publicSuffixList();
    if (psl == nullptr) return d;
    const char* reg = psl_registrable_domain(psl, d.c_str());
    return reg != nullptr ? std::string(reg) : d;
}

bool relaxedAligned(std::string_view a, std::string_view b) {
    std::string oa = organizationalDomain(a);
    if (oa.empty()) return false;
    return oa == organizationalDomain(b);
}

}  // namespace rampart::mail
