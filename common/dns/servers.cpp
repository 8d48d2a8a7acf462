// DNS server addresses (servers.h): parsing and printing one dns_servers entry.
#include "dns/servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/strings.h"

namespace rampart::dns {

std::string ServerAddress::toString() const {
    return ipv6() ? "[" + ip + "]:" + std::to_string(port) : ip + ":" + std::to_string(port);
}

util::Result<ServerAddress> parseServerAddress(std::string_view text) {
    const std::string_view t = util::trim(text);
    auto bad = [&](std::string_view why) {
        return util::err(
            "expected a DNS server address such as 192.0.2.53, 192.0.2.53:5353 or "
            "[2001:db8::53]:5353, got \"" +
            util::printable(text, 80) + "\"" + std::string(why));
    };
    std::string_view host = t;
    std::string_view port;
    bool bracketed = false;
    if (!t.empty() && t.front() == '[') {
        const size_t close = t.find(']');
        if (close == std::string_view::npos) return bad(" (missing \"]\")");
        host = t.substr(1, close - 1);
        const std::string_view rest = t.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return bad("");
            port = rest.substr(1);
            if (port.empty()) return bad(" (empty port)");
        }
        bracketed = true;
    } else if (const size_t colon = t.find(':');
               colon != std::string_view::npos && t.find(':', colon + 1) == std::string_view::npos) {
        host = t.substr(0, colon);
        port = t.substr(colon + 1);
        if (port.empty()) return bad(" (empty port)");
    }
    ServerAddress out;
    const std::string hostText(host);
    unsigned char buf[sizeof(in6_addr)] = {};
    char printed[INET6_ADDRSTRLEN] = {};
    const bool v6 = host.find(':') != std::string_view::npos;
    if (bracketed && !v6) return bad(" (brackets are for IPv6 addresses)");
    const int family = v6 ? AF_INET6 : AF_INET;
    if (hostText.empty() || inet_pton(family, hostText.c_str(), buf) != 1 ||
        inet_ntop(family, buf, printed, sizeof printed) == nullptr) {
        return bad(" (not an IP address)");
    }
    out.ip = printed;
    if (!port.empty()) {
        const auto p = util::parseUnsigned(port);
        if (!p || *p == 0 || *p > 65535) return bad(" (port must be 1-65535)");
        out.port = static_cast<uint16_t>(*p);
    }
    return out;
}

}  // namespace rampart::dns
