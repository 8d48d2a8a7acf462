// CIDR networks (cidr.h): parsing IPv4/IPv6 prefixes, and membership tests on IPv4-mapped IPv6.
#include "net/cidr.h"

#include <arpa/inet.h>

#include "util/strings.h"

namespace rampart::net {

std::optional<IpBytes> parseIp(std::string_view text) {
    std::string t(util::trim(text));
    if (t.size() >= 2 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
    if (util::startsWithNoCase(t, "ipv6:")) t = t.substr(5);
    IpBytes out{};
    in_addr v4{};
    if (inet_pton(AF_INET, t.c_str(), &v4) == 1) {
        out[10] = 0xff;
        out[11] = 0xff;
        const auto* b = reinterpret_cast<const uint8_t*>(&v4.s_addr);
        for (size_t i = 0; i < 4; ++i)
            out[12 + i] = b[i];
        return out;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, t.c_str(), &v6) == 1) {
        for (size_t i = 0; i < 16; ++i)
            out[i] = v6.s6_addr[i];
        return out;
    }
    return std::nullopt;
}

bool isIpv4Mapped(const IpBytes& ip) {
    for (size_t i = 0; i < 10; ++i) {
        if (ip[i] != 0) return false;
    }
    return ip[10] == 0xff && ip[11] == 0xff;
}

std::string formatIp(const IpBytes& ip) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (isIpv4Mapped(ip)) {
        inet_ntop(AF_INET, ip.data() + 12, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
    }
    return buf;
}

util::Result<Cidr> Cidr::parse(std::string_view text) {
    std::string_view t = util::trim(text);
    std::string_view addr = t;
    std::optional<uint64_t> bits;
    if (size_t slash = t.rfind('/'); slash != std::string_view::npos) {
        addr = t.substr(0, slash);
        bits = util::parseUnsigned(t.substr(slash + 1));
        if (!bits) return util::err("bad prefix length in \"" + std::string(t) + "\"");
    }
    auto ip = parseIp(addr);
    if (!ip) return util::err(util::quoted(t, 200) + " is not an IP address or network");
    Cidr c;
    bool v4 = isIpv4Mapped(*ip);
    unsigned maxBits = v4 ? 32 : 128;
    unsigned b = bits ? static_cast<unsigned>(*bits) : maxBits;
    if (bits && *bits > maxBits)
        return util::err("prefix length /" + std::to_string(*bits) + " too long in \"" + std::string(t) + "\"");
    c.prefix_ = v4 ? b + 96 : b;
    c.net_ = *ip;
    for (unsigned i = c.prefix_; i < 128; ++i)
        c.net_[i / 8] &= static_cast<uint8_t>(~(0x80u >> (i % 8)));
    return c;
}

bool Cidr::contains(const IpBytes& ip) const {
    unsigned full = prefix_ / 8;
    for (unsigned i = 0; i < full; ++i) {
        if (ip[i] != net_[i]) return false;
    }
    unsigned rest = prefix_ % 8;
    if (rest == 0) return true;
    auto mask = static_cast<uint8_t>(0xffu << (8 - rest));
    return (ip[full] & mask) == net_[full];
}

std::string Cidr::toString() const {
    if (isIpv4Mapped(net_) && prefix_ >= 96) return formatIp(net_) + "/" + std::to_string(prefix_ - 96);
    return "[" + formatIp(net_) + "]/" + std::to_string(prefix_);
}

util::Result<CidrList> CidrList::parse(std::string_view text) {
    std::vector<Cidr> nets;
    for (const auto& item : util::splitList(text)) {
        auto c = Cidr::parse(item);
        if (!c) return util::err(c.error());
        nets.push_back(*c);
    }
    return CidrList(std::move(nets));
}

bool CidrList::contains(std::string_view address) const {
    auto ip = parseIp(address);
    return ip && contains(*ip);
}

bool CidrList::contains(const IpBytes& ip) const {
    for (const auto& n : nets_) {
        if (n.contains(ip)) return true;
    }
    return false;
}

std::string CidrList::toString() const {
    std::string s;
    for (const auto& n : nets_) {
        if (!s.empty()) s += ", ";
        s += n.toString();
    }
    return s;
}

bool isPrivateOrLoopback(const IpBytes& ip) {
    static const CidrList kPrivate = *CidrList::parse(
        "127.0.0.0/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 100.64.0.0/10 0.0.0.0/8 "
        "[::1]/128 [::]/128 [fc00::]/7 [fe80::]/10");
    return kPrivate.contains(ip);
}

}  // namespace rampart::net
