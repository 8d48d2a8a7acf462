// OpenDKIM KeyTable / SigningTable files: parsing with file:line diagnostics, OpenDKIM's lookup
// order for file: signing tables (hash index), and '*' wildcards for refile: tables.
#include "dkim/tables.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "mail/domain.h"
#include "util/strings.h"

namespace rampart::dkim {

namespace {

constexpr uint64_t kMaxTableSize = uint64_t{256} << 20;

std::optional<std::string> readTable(const std::string& path, const char* what, config::Diagnostics& diags) {
    return config::readTableFile(path, what, kMaxTableSize, diags);
}

// Calls fn(lineNumber, first field, rest of the line) for every line with content.
template <typename Fn>
void forEachLine(std::string_view text, Fn fn) {
    int lineNo = 0;
    for (std::string_view line : util::splitExact(text, '\n')) {
        ++lineNo;
        size_t hash = line.find('#');
        if (hash != std::string_view::npos) line = line.substr(0, hash);
        line = util::trim(line);
        if (line.empty()) continue;
        size_t ws = 0;
        while (ws < line.size() && !util::isSpace(line[ws]))
            ++ws;
        fn(lineNo, line.substr(0, ws), util::trim(line.substr(ws)));
    }
}

bool validSelector(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (char c : s) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.';
        if (!ok) return false;
    }
    return s.find("..") == std::string_view::npos;
}

}  // namespace

KeyTable KeyTable::parse(std::string_view text, const std::string& fileName, config::Diagnostics& diags) {
    KeyTable t;
    forEachLine(text, [&](int lineNo, std::string_view name, std::string_view value) {
        const config::SourceLocation where{fileName, lineNo};
        if (value.empty()) {
            diags.error(where, "expected KEYNAME DOMAIN:SELECTOR:KEYPATH, got only " + util::quoted(name));
            return;
        }
        size_t c1 = value.find(':');
        size_t c2 = c1 == std::string_view::npos ? c1 : value.find(':', c1 + 1);
        if (c2 == std::string_view::npos) {
            diags.error(where,
                        "key " + util::quoted(name) + ": expected DOMAIN:SELECTOR:KEYPATH, got " + util::quoted(value));
            return;
        }
        std::string_view domain = value.substr(0, c1);
        std::string_view selector = value.substr(c1 + 1, c2 - c1 - 1);
        std::string_view path = value.substr(c2 + 1);
        KeyTableEntry e;
        e.name = std::string(name);
        e.where = where;
        if (domain == "%") {
            e.domain = "%";
        } else {
            auto ascii = mail::toAsciiDomain(domain);
            if (!ascii) {
                diags.error(where, "key " + util::quoted(name) + ": " + ascii.error());
                return;
            }
            e.domain = *ascii;
        }
        if (!validSelector(selector)) {
            diags.error(where, "key " + util::quoted(name) + ": invalid selector " + util::quoted(selector) +
                                   " (letters, digits, '-', '_' and '.')");
            return;
        }
        e.selector = std::string(selector);
        if (path.empty()) {
            diags.error(where, "key " + util::quoted(name) + ": no key file path after the selector");
            return;
        }
        if (path.front() != '/' && path.substr(0, 2) != "./" && path.substr(0, 3) != "../") {
            diags.error(where, "key " + util::quoted(name) + ": key path " + util::quoted(path) +
                                   " must be a file path starting with /, ./ or ../ (inline key "
                                   "data is not supported)");
            return;
        }
        e.keyPath = std::string(path);
        auto [it, inserted] = t.byName_.emplace(e.name, t.entries_.size());
        if (!inserted) {
            diags.warning(where, "duplicate key name " + util::quoted(name) + " (first defined at " +
                                     t.entries_[it->second].where.str() + "); this line is ignored");
            return;
        }
        t.entries_.push_back(std::move(e));
    });
    return t;
}

KeyTable KeyTable::load(const config::TableRef& ref, config::Diagnostics& diags) {
    if (ref.empty()) return {};
    if (ref.type != "file") {
        diags.error({ref.path, 0},
                    "unsupported table type \"" + ref.type + "\" for a KeyTable (use file:" + ref.path + ")");
        return {};
    }
    auto text = readTable(ref.path, "key table", diags);
    if (!text) return {};
    return parse(*text, ref.path, diags);
}

const KeyTableEntry* KeyTable::find(std::string_view name) const {
    auto it = byName_.find(std::string(name));
    return it == byName_.end() ? nullptr : &entries_[it->second];
}

SigningTable SigningTable::parse(std::string_view text, const std::string& fileName, bool regexStyle,
                                 config::Diagnostics& diags) {
    SigningTable t;
    t.refile_ = regexStyle;
    const char* expected = regexStyle ? "PATTERN KEYNAME" : "KEY KEYNAME";
    forEachLine(text, [&](int lineNo, std::string_view key, std::string_view rest) {
        const config::SourceLocation where{fileName, lineNo};
        if (rest.empty()) {
            diags.error(where, std::string("expected ") + expected + ", got only " + util::quoted(key));
            return;
        }
        size_t ws = 0;
        while (ws < rest.size() && !util::isSpace(rest[ws]))
            ++ws;
        if (ws < rest.size()) {
            diags.error(where, std::string("expected ") + expected + ", found extra text " +
                                   util::quoted(util::trim(rest.substr(ws))) + " after the key name");
            return;
        }
        SigningTableEntry e;
        e.key = util::toLower(key);
        e.keyName = std::string(rest);
        e.where = where;
        if (!regexStyle) {
            size_t star = e.key.find('*');
            bool wildcardForm = e.key == "*" || (star + 1 == e.key.size() && star > 0 && e.key[star - 1] == '@');
            if (star != std::string::npos && !wildcardForm) {
                diags.warning(where, "'*' in " + util::quoted(key) +
                                         " is not a wildcard in a file: signing table (only * "
                                         "and user@* are); use refile: for patterns");
            }
            t.byKey_[e.key].push_back(t.entries_.size());
        }
        t.entries_.push_back(std::move(e));
    });
    return t;
}

SigningTable SigningTable::load(const config::TableRef& ref, config::Diagnostics& diags) {
    if (ref.empty()) return {};
    if (ref.type != "file" && ref.type != "refile") {
        diags.error({ref.path, 0},
                    "unsupported table type \"" + ref.type + "\" for a SigningTable (use file: or refile:)");
        return {};
    }
    auto text = readTable(ref.path, "signing table", diags);
    if (!text) return {};
    return parse(*text, ref.path, ref.type == "refile", diags);
}

std::vector<std::string> SigningTable::lookup(std::string_view fromAddress, bool all) const {
    std::vector<std::string> out;
    const std::string addr = util::toLower(util::trim(fromAddress));
    auto add = [&out](const std::string& name) {
        for (const auto& n : out) {
            if (n == name) return;
        }
        out.push_back(name);
    };
    if (refile_) {
        for (const auto& e : entries_) {
            if (wildcardMatch(e.key, addr)) {
                add(e.keyName);
                if (!all) return out;
            }
        }
        return out;
    }
    size_t at = addr.rfind('@');
    const std::string user = at == std::string::npos ? std::string() : addr.substr(0, at);
    const std::string domain = at == std::string::npos ? addr : addr.substr(at + 1);
    // OpenDKIM's order: user@host, host, then each parent: user@.parent, .parent; user@*, *.
    std::vector<std::string> candidates;
    if (!user.empty()) candidates.push_back(user + "@" + domain);
    if (!domain.empty()) candidates.push_back(domain);
    for (size_t dot = domain.find('.'); dot != std::string::npos; dot = domain.find('.', dot + 1)) {
        const std::string parent = domain.substr(dot);
        if (parent.size() < 2) break;
        if (!user.empty()) candidates.push_back(user + "@" + parent);
        candidates.push_back(parent);
    }
    if (!user.empty()) candidates.push_back(user + "@*");
    candidates.emplace_back("*");
    for (const auto& c : candidates) {
        auto it = byKey_.find(c);
        if (it == byKey_.end()) continue;
        for (size_t idx : it->second) {
            add(entries_[idx].keyName);
            if (!all) return out;
        }
    }
    return out;
}

}  // namespace rampart::dkim
