// DNS lookups for Rampart (c-ares). Never the system's blocking resolver: lookups run concurrently
// with a bounded total time, and the servers can be set (dns_servers) so tests use a DNS server on
// loopback.
//
// Resolver: synchronous batches, for rampartctl and daemon start-up/reload checks. AsyncResolver
// (async_resolver.h): the same lookups driven by an event loop (rampart-policyd).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace rampart::dns {

enum class Status {
    Ok,        // at least one record of the type
    NoData,    // the name exists, no record of this type
    NxDomain,  // the name does not exist
    Timeout,
    Error,  // SERVFAIL, REFUSED, network error, malformed answer...
};
const char* statusName(Status s);  // "ok", "no data", "nxdomain", "timeout", "error"

struct TxtAnswer {
    Status status = Status::Error;
    std::vector<std::string> records;  // one string per TXT record, its character-strings concatenated
    uint32_t ttl = 0;                  // smallest TTL of the answer (or of the SOA for negative answers, if known)
    std::string error;                 // detail for Timeout/Error
};

struct MxRecord {
    uint16_t preference = 0;
    std::string host;  // lower-case, no trailing dot; "" for a null MX ("0 .", RFC 7505)
};

struct MxAnswer {
    Status status = Status::Error;
    std::vector<MxRecord> records;  // sorted by preference, then host
    uint32_t ttl = 0;
    std::string error;
};

struct ResolverOptions {
    std::vector<std::string> servers;         // "IP" or "IP:PORT" ("[v6]:PORT"); empty = /etc/resolv.conf
    std::chrono::milliseconds timeout{5000};  // total per lookup, retries included
};

// One `dns_servers` entry: "IP", "IP:PORT", "[v6]" or "[v6]:PORT"; a bare IPv6 address takes no
// port. Address literals only (a resolver cannot need a resolver). Canonical form: toString().
struct ServerAddress {
    std::string ip;  // as inet_ntop prints it
    uint16_t port = 53;
    bool ipv6() const { return ip.find(':') != std::string::npos; }
    std::string toString() const;  // "192.0.2.1:53", "[2001:db8::1]:53"
};
util::Result<ServerAddress> parseServerAddress(std::string_view text);

// Not thread-safe: one thread at a time may use a Resolver (c-ares channels are not shared).
// Invalid `servers` or a failing c-ares initialisation do not throw: every lookup then answers
// Status::Error with the reason.
class Resolver {
  public:
    explicit Resolver(ResolverOptions options);
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // All names are looked up concurrently; results are in the order of `names`. Returns within
    // options.timeout (names still unanswered then are Timeout). Names are absolute (no search list).
    std::vector<TxtAnswer> lookupTxt(const std::vector<std::string>& names);
    std::vector<MxAnswer> lookupMx(const std::vector<std::string>& names);

  private:
    struct Impl;
    Impl* impl_;
};

}  // namespace rampart::dns
