// tenant_map: "PATTERN TENANT" lines, read like the DKIM tables (fields separated by white space,
// '#' starts a comment, a malformed line is reported with file:line and skipped).
//
// file:   exact keys ("alice@acme.com", "alice") and "*@domain" patterns, and "*" for everyone else;
//         a lookup tries the exact key, then "*@" + its domain, then "*"; a repeated pattern is a
//         warning and the later line is ignored.
// refile: '*' wildcards anywhere, matched case-insensitively against the whole key, in file order.
// Tenant names are case-insensitive and kept lower-case, like the tenant scopes of the suppression
// list (suppression.h), so "Acme" in the map and "tenant:acme" on the command line are one tenant.
#include "mail/tenants.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "util/strings.h"
#include "util/wildcard.h"

namespace rampart::mail {

namespace {

constexpr uint64_t kMaxTableSize = uint64_t{64} << 20;
constexpr size_t kMaxName = 255;

std::optional<std::string> readTable(const std::string& path, config::Diagnostics& diags) {
    return config::readTableFile(path, "tenant map", kMaxTableSize, diags);
}

bool printableName(std::string_view s) {
    for (char c : s) {
        auto uc = static_cast<unsigned char>(c);
        if (uc < 0x20 || uc == 0x7F) return false;
    }
    return true;
}

// "<alice@acme.com>" as Postfix may hand an envelope sender: the brackets are not part of the key.
std::string_view stripBrackets(std::string_view s) {
    s = util::trim(s);
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = util::trim(s.substr(1, s.size() - 2));
    return s;
}

}  // namespace

TenantMap TenantMap::parse(std::string_view text, const std::string& fileName, config::Diagnostics& diags) {
    return parseTable(text, fileName, false, diags);
}

TenantMap TenantMap::parseTable(std::string_view text, const std::string& fileName, bool regexStyle,
                                config::Diagnostics& diags) {
    TenantMap m;
    m.refile_ = regexStyle;
    int lineNo = 0;
    for (std::string_view line : util::splitExact(text, '\n')) {
        ++lineNo;
        const config::SourceLocation where{fileName, lineNo};
        size_t hash = line.find('#');
        if (hash != std::string_view::npos) line = line.substr(0, hash);
        line = util::trim(line);
        if (line.empty()) continue;
        size_t ws = 0;
        while (ws < line.size() && !util::isSpace(line[ws]))
            ++ws;
        std::string_view pattern = line.substr(0, ws);
        std::string_view rest = util::trim(line.substr(ws));
        if (rest.empty()) {
            diags.error(where, "expected PATTERN TENANT, got only " + util::quoted(pattern));
            continue;
        }
        size_t ws2 = 0;
        while (ws2 < rest.size() && !util::isSpace(rest[ws2]))
            ++ws2;
        if (ws2 < rest.size()) {
            diags.error(where, "expected PATTERN TENANT, found extra text " +
                                   util::quoted(util::trim(rest.substr(ws2))) + " after the tenant");
            continue;
        }
        if (!printableName(pattern) || !printableName(rest)) {
            diags.error(where, "control character in " + util::quoted(line));
            continue;
        }
        if (rest.size() > kMaxName) {
            diags.error(where, "tenant name longer than 255 bytes");
            continue;
        }
        Entry e{util::toLower(pattern), util::toLower(rest)};
        if (!regexStyle) {
            size_t star = e.pattern.find('*');
            bool wildcardForm = e.pattern == "*" || (e.pattern.rfind("*@", 0) == 0 && e.pattern.size() > 2 &&
                                                     e.pattern.find('*', 1) == std::string::npos);
            if (star != std::string::npos && !wildcardForm) {
                diags.warning(where, "'*' in " + util::quoted(pattern) +
                                         " is not a wildcard in a file: tenant map (only * and *@domain are); "
                                         "use refile: for patterns");
            }
            auto [it, inserted] = m.exact_.emplace(e.pattern, m.entries_.size());
            if (!inserted) {
                diags.warning(where, "duplicate pattern " + util::quoted(pattern) + " (first at line " +
                                         std::to_string(m.lines_[it->second]) + "); this line is ignored");
                continue;
            }
        }
        m.entries_.push_back(std::move(e));
        m.lines_.push_back(lineNo);
    }
    return m;
}

TenantMap TenantMap::load(const config::TableRef& ref, config::Diagnostics& diags) {
    if (ref.empty()) return {};
    if (ref.type != "file" && ref.type != "refile") {
        diags.error({ref.path, 0}, "unsupported table type \"" + ref.type + "\" for tenant_map (use file: or refile:)");
        return {};
    }
    auto text = readTable(ref.path, diags);
    if (!text) return {};
    return parseTable(*text, ref.path, ref.type == "refile", diags);
}

std::string TenantMap::match(std::string_view key) const {
    if (refile_) {
        for (const auto& e : entries_) {
            if (util::wildcardMatch(e.pattern, key)) return e.tenant;
        }
        return {};
    }
    auto find = [this](const std::string& k) -> const std::string* {
        auto it = exact_.find(k);
        return it == exact_.end() ? nullptr : &entries_[it->second].tenant;
    };
    const std::string lower = util::toLower(key);
    if (const auto* t = find(lower)) return *t;
    size_t at = lower.rfind('@');
    if (at != std::string::npos && at + 1 < lower.size()) {
        if (const auto* t = find(std::string(1, '*').append(lower, at))) return *t;
    }
    if (const auto* t = find("*")) return *t;
    return {};
}

std::string TenantMap::tenantOf(std::string_view saslLogin, std::string_view envelopeSender) const {
    std::string_view login = util::trim(saslLogin);
    if (!login.empty()) {
        std::string t = match(login);
        return t.empty() ? util::toLower(login) : t;
    }
    std::string_view sender = stripBrackets(envelopeSender);
    if (sender.empty()) return {};
    return match(sender);
}

}  // namespace rampart::mail
