// Which DNS servers a resolver asks, and for how long: the dns_servers and dns_timeout settings as
// both resolvers (resolver.h, async_resolver.h) take them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace rampart::dns {

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

}  // namespace rampart::dns
