// IPv4/IPv6 networks in CIDR notation, for milter_internal_networks and similar lists.
// IPv4 is stored as IPv4-mapped IPv6 so one comparison covers both families.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace rampart::net {

using IpBytes = std::array<uint8_t, 16>;

// Parses "192.0.2.1", "::1", "[::1]", "IPv6:::1" (the SMTP literal form). nullopt if not an address.
std::optional<IpBytes> parseIp(std::string_view text);
bool isIpv4Mapped(const IpBytes& ip);
std::string formatIp(const IpBytes& ip);

class Cidr {
  public:
    static util::Result<Cidr> parse(std::string_view text);  // "10.0.0.0/8", "[::1]/128", "127.0.0.1"
    bool contains(const IpBytes& ip) const;
    std::string toString() const;
    bool operator==(const Cidr&) const = default;

  private:
    IpBytes net_{};
    unsigned prefix_ = 0;  // in the 128-bit space
};

class CidrList {
  public:
    CidrList() = default;
    explicit CidrList(std::vector<Cidr> nets) : nets_(std::move(nets)) {}
    static util::Result<CidrList> parse(std::string_view text);
    bool contains(std::string_view address) const;  // false for unparseable input
    bool contains(const IpBytes& ip) const;
    const std::vector<Cidr>& networks() const { return nets_; }
    std::string toString() const;
    bool operator==(const CidrList&) const = default;

  private:
    std::vector<Cidr> nets_;
};

// True for loopback, RFC 1918, link-local, CGNAT (100.64/10), ULA (fc00::/7) and unspecified.
bool isPrivateOrLoopback(const IpBytes& ip);

}  // namespace rampart::net
