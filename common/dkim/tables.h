// OpenDKIM's KeyTable and SigningTable formats, so an OpenDKIM user points Rampart at the tables
// they already have.
//
// Both: fields separated by whitespace, '#' starts a comment anywhere (as in OpenDKIM), blank lines
// are ignored. A malformed line is reported with file:line and skipped.
// KeyTable (file:):  KEYNAME  DOMAIN:SELECTOR:KEYPATH
//   split at the first two colons (KEYPATH may contain ':'); DOMAIN is stored as a lower-case
//   A-label. DOMAIN "%" = the From domain being signed; "%" in KEYPATH is replaced by that domain.
//   KEYPATH is a file path (starts with "/", "./" or "../"). A repeated KEYNAME is a warning and
//   the later line is ignored.
// SigningTable file:   KEY KEYNAME   where KEY is user@host, host, user@.domain, .domain, user@* or *
//   lookups for From address user@a.b.c: user@a.b.c, a.b.c, user@.b.c, .b.c, user@.c, .c, user@*, *
// SigningTable refile: PATTERN KEYNAME   PATTERN with '*' wildcards, matched case-insensitively
//   against the whole From address, in file order.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "config/values.h"
#include "util/wildcard.h"

namespace rampart::dkim {

struct KeyTableEntry {
    std::string name;
    std::string domain;  // may be "%"
    std::string selector;
    std::string keyPath;  // may contain "%"
    config::SourceLocation where;
    bool domainIsTemplate() const { return domain == "%"; }
    bool pathIsTemplate() const { return keyPath.find('%') != std::string::npos; }
};

class KeyTable {
  public:
    // Reports every malformed line in `diags` (file:line) and skips it.
    static KeyTable load(const config::TableRef& ref, config::Diagnostics& diags);
    static KeyTable parse(std::string_view text, const std::string& fileName, config::Diagnostics& diags);
    const KeyTableEntry* find(std::string_view name) const;  // case-sensitive, as OpenDKIM
    const std::vector<KeyTableEntry>& entries() const { return entries_; }

  private:
    std::vector<KeyTableEntry> entries_;
    std::unordered_map<std::string, size_t> byName_;  // name -> index in entries_
};

struct SigningTableEntry {
    std::string key;  // pattern or lookup key, lower-cased
    std::string keyName;
    config::SourceLocation where;
};

class SigningTable {
  public:
    static SigningTable load(const config::TableRef& ref, config::Diagnostics& diags);
    static SigningTable parse(std::string_view text, const std::string& fileName, bool regexStyle,
                              config::Diagnostics& diags);
    // Key names for a From address (lower-case user@domain), best match first, without duplicates.
    // `all` false: at most one.
    std::vector<std::string> lookup(std::string_view fromAddress, bool all) const;
    const std::vector<SigningTableEntry>& entries() const { return entries_; }
    bool regexStyle() const { return refile_; }

  private:
    std::vector<SigningTableEntry> entries_;
    bool refile_ = false;
    std::unordered_map<std::string, std::vector<size_t>> byKey_;  // file: key -> entries, in order
};

// '*' wildcard match, case-insensitive (refile: semantics); it lives in util/ so the tenant map
// (common/mail) can use it without depending on the DKIM library.
using util::wildcardMatch;

}  // namespace rampart::dkim
