// Typed configuration values. Every type parses operator text and prints one canonical form, so
// `--print-config` output parses back to the same value. Error texts are part of the interface
// (tested): they say what was expected, not just "invalid".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace rampart::config {

using util::Result;

// Durations: "30s", "10m", "2h", "2d", "1w"; a bare number means seconds. Canonical: the largest unit
// that divides the value exactly ("120s" prints as "2m").
Result<std::chrono::seconds> parseDuration(std::string_view text);
std::string formatDuration(std::chrono::seconds d);

// Sizes in bytes: "1048576", "64k", "10M", "1G" (binary multiples, as in Postfix's docs).
Result<uint64_t> parseSize(std::string_view text);
std::string formatSize(uint64_t bytes);

// Rates: "40/day", "100/h", "5/min", "10/s", "3/week", optionally "40 msgs/day" (count messages
// rather than recipients) or "40 rcpts/day". Canonical: "40/day", "100/h", "5/min", "10/s", "3/week".
struct Rate {
    uint64_t count = 0;
    std::chrono::seconds period{0};
    bool messages = false;  // "msgs": count messages, otherwise recipients
    bool operator==(const Rate&) const = default;
};
Result<Rate> parseRate(std::string_view text);
std::string formatRate(const Rate& r);
std::string formatPeriod(std::chrono::seconds period);  // "day", "h", "min", "s", "week", "2h"

Result<bool> parseBool(std::string_view text);  // yes/no, true/false, on/off, 1/0

// Where a daemon listens. Accepted: unix:/path, local:/path, inet:HOST:PORT, inet:[v6]:PORT,
// libmilter's inet:PORT@HOST and inet6:PORT@HOST. Canonical: unix:/path, inet:HOST:PORT, inet:[v6]:PORT.
struct ListenAddress {
    enum class Kind { Unix, Inet };
    Kind kind = Kind::Unix;
    std::string path;  // Unix
    std::string host;  // Inet: an address literal or name; "" is invalid
    uint16_t port = 0;
    bool ipv6() const { return host.find(':') != std::string::npos; }
    std::string toString() const;
    std::string toMilterSpec() const;  // libmilter's smfi_setconn() syntax
    bool operator==(const ListenAddress&) const = default;
};
Result<ListenAddress> parseListenAddress(std::string_view text);

// A table reference "type:path" (Postfix / OpenDKIM idiom): file:/etc/rampart/keys.table,
// refile:/etc/rampart/signing.table, sqlite:/var/lib/rampart/x.db, redis:127.0.0.1:6379/0.
struct TableRef {
    std::string type;
    std::string path;
    bool empty() const { return type.empty(); }
    std::string toString() const { return empty() ? std::string() : type + ":" + path; }
    bool operator==(const TableRef&) const = default;
};
// `allowed` is a '|'-separated list of accepted types ("file|refile").
Result<TableRef> parseTableRef(std::string_view text, std::string_view allowed);

Result<unsigned> parseFileMode(std::string_view text);  // octal: "0660", "660"
std::string formatFileMode(unsigned mode);

}  // namespace rampart::config
