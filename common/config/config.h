// A parsed rampart.conf: one immutable value per registry key (explicit or default), with the file
// and line that set it. Programs build their runtime state from a Config; on SIGHUP they parse a new
// one and swap it in only if everything validates.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/registry.h"
#include "config/values.h"
#include "net/cidr.h"

#ifndef RAMPART_DEFAULT_CONFIG
#define RAMPART_DEFAULT_CONFIG "/etc/rampart/rampart.conf"
#endif

namespace rampart::config {

struct SourceLocation {
    std::string file;
    int line = 0;
    bool known() const { return line > 0; }
    std::string str() const;  // "file:line", or "file" when no line applies
};

struct Diagnostic {
    SourceLocation where;
    bool warning = false;
    std::string message;
    std::string str() const;  // "file:line: message" / "file:line: warning: message"
};

// Collects diagnostics from every stage of a check so --check-config can print them all at once.
class Diagnostics {
  public:
    void error(SourceLocation where, std::string message);
    void warning(SourceLocation where, std::string message);
    void append(const Diagnostics& other);
    bool hasErrors() const;
    const std::vector<Diagnostic>& all() const { return items_; }
    std::string str() const;  // one per line

  private:
    std::vector<Diagnostic> items_;
};

using Value =
    std::variant<std::monostate, std::string, bool, int64_t, std::chrono::seconds, uint64_t, Rate, ListenAddress,
                 std::vector<ListenAddress>, std::vector<std::string>, net::CidrList, TableRef, unsigned>;

class Config {
  public:
    Config();  // every key at its default

    const std::string& file() const { return file_; }

    const std::string& str(std::string_view key) const;  // String, Path, Enum, Timezone
    bool flag(std::string_view key) const;
    int64_t integer(std::string_view key) const;
    std::chrono::seconds duration(std::string_view key) const;
    uint64_t size(std::string_view key) const;
    const Rate& rate(std::string_view key) const;
    const ListenAddress& listen(std::string_view key) const;
    const std::vector<ListenAddress>& listens(std::string_view key) const;
    const std::vector<std::string>& list(std::string_view key) const;
    const net::CidrList& networks(std::string_view key) const;
    const TableRef& table(std::string_view key) const;
    unsigned mode(std::string_view key) const;

    std::string text(std::string_view key) const;  // canonical form
    bool isDefault(std::string_view key) const;
    // Where the key was set; for a default, the config file without a line.
    SourceLocation where(std::string_view key) const;

    // Parses and stores one value. Returns an error text (without location) on failure.
    std::string set(std::string_view key, std::string_view text, SourceLocation where);

    // --print-defaults / --print-config output: "key = value" lines for the given programs.
    static std::string dumpDefaults(unsigned programs);
    std::string dumpNonDefaults(unsigned programs) const;

    friend struct ConfigLoader;

  private:
    struct Entry {
        const KeySpec* spec = nullptr;
        Value value;
        std::string canonical;
        SourceLocation where;
        bool explicitlySet = false;
    };
    const Entry& entry(std::string_view key) const;
    std::vector<Entry> entries_;  // in registry order
    std::string file_;
};

// Parses a value of the given type into its canonical form (also used to validate the registry's defaults).
util::Result<Value> parseValue(const KeySpec& spec, std::string_view text);
std::string canonicalText(const KeySpec& spec, const Value& v);

struct LoadResult {
    Config config;
    Diagnostics diagnostics;
};

// Reads rampart.conf: "key = value" lines; lines starting with whitespace continue the previous
// line; "#" starts a comment at the beginning of a line or after whitespace. Unknown keys,
// malformed lines and bad values are errors with file:line.
LoadResult loadConfigFile(const std::string& path);
LoadResult parseConfigText(std::string_view text, const std::string& name);

// The whole text of a table file a key names (key table, tenant map, unsubscribe_domains...), or an
// error in `diags` at the path without a line: cannot open, not a regular file, over `maxBytes`.
std::optional<std::string> readTableFile(const std::string& path, std::string_view what, uint64_t maxBytes,
                                         Diagnostics& diags);

}  // namespace rampart::config
