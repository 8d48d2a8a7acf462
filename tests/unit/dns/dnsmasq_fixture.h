// Loopback DNS servers for the [dns] unit tests (header-only: only *_test.cpp files are globbed).
//
// LoopbackDns runs dnsmasq (Debian package dnsmasq-base) on 127.0.0.1 at a free port. It answers
// the records given and nothing else: other names under the zone ("test") are NXDOMAIN
// (--local=/test/), names elsewhere are REFUSED (no upstream servers). TXT records are given to
// dnsmasq as raw RDATA (--dns-rr=NAME,16,HEX), so the character-strings are exactly the ones the
// test chose (dnsmasq's --txt-record would split at commas and keep quotes literally on a command
// line) and malformed RDATA can be served too. dnsmasq answers NXDOMAIN, not NoData, for other
// types at a --dns-rr-only name: add an A record (a()) where a test needs the name to exist. All
// local records get --local-ttl (default 300 here, dnsmasq's own default is 0). start() throws
// std::runtime_error with dnsmasq's output when it cannot start, and when /usr/sbin/dnsmasq is
// missing: a test that needs it fails, never skips.
//
// SilentDns is a bound UDP socket that receives queries and never answers (timeouts).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace rampart::testing {

inline constexpr const char* kDnsmasq = "/usr/sbin/dnsmasq";

// A UDP socket bound to 127.0.0.1 on a kernel-chosen port.
class UdpSocket {
  public:
    UdpSocket() {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        socklen_t len = sizeof a;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            const std::string e = std::strerror(errno);
            ::close(fd_);
            throw std::runtime_error("bind 127.0.0.1:0: " + e);
        }
        port_ = ntohs(a.sin_port);
    }
    ~UdpSocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;
    int fd() const { return fd_; }
    uint16_t port() const { return port_; }

  private:
    int fd_ = -1;
    uint16_t port_ = 0;
};

class SilentDns {
  public:
    uint16_t port() const { return sock_.port(); }
    std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
    // Queries received so far (drains the socket).
    int received() {
        char buf[2048];
        while (::recv(sock_.fd(), buf, sizeof buf, MSG_DONTWAIT) > 0)
            ++count_;
        return count_;
    }

  private:
    UdpSocket sock_;
    int count_ = 0;
};

// A DNS query message (id 0x5241, RD set) for NAME/TYPE IN.
inline std::string dnsQuery(std::string_view name, uint16_t type) {
    std::string m("\x52\x41\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
    size_t start = 0;
    while (start < name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) dot = name.size();
        m.push_back(static_cast<char>(dot - start));
        m.append(name.substr(start, dot - start));
        start = dot + 1;
    }
    m.push_back('\0');
    m.push_back(static_cast<char>(type >> 8));
    m.push_back(static_cast<char>(type & 0xff));
    m.append("\x00\x01", 2);
    return m;
}

// Sends one UDP query to 127.0.0.1:port and returns the raw answer ("" on no answer in time).
inline std::string udpExchange(uint16_t port, const std::string& query, std::chrono::milliseconds wait) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "";
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    std::string answer;
    if (::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a) >= 0) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count())) == 1 && (p.revents & POLLIN) != 0) {
            char buf[4096];
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0) answer.assign(buf, static_cast<size_t>(n));
        }
    }
    ::close(fd);
    return answer;
}

class LoopbackDns {
  public:
    explicit LoopbackDns(std::string zone = "test") : zone_(std::move(zone)) {}
    ~LoopbackDns() { stop(); }
    LoopbackDns(const LoopbackDns&) = delete;
    LoopbackDns& operator=(const LoopbackDns&) = delete;

    // A TXT record holding `value`, split into 255-byte character-strings.
    LoopbackDns& txt(const std::string& name, std::string_view value) {
        std::vector<std::string> parts;
        for (size_t i = 0; i < value.size(); i += 255)
            parts.emplace_back(value.substr(i, 255));
        if (parts.empty()) parts.emplace_back();
        return txtStrings(name, parts);
    }
    // A TXT record with exactly these character-strings (each at most 255 bytes).
    LoopbackDns& txtStrings(const std::string& name, const std::vector<std::string>& strings) {
        std::string rdata;
        for (const auto& s : strings) {
            if (s.size() > 255) throw std::invalid_argument("TXT character-string over 255 bytes");
            rdata.push_back(static_cast<char>(s.size()));
            rdata += s;
        }
        return txtRdata(name, rdata);
    }
    // TXT RDATA served as is, even when it is not valid TXT data.
    LoopbackDns& txtRdata(const std::string& name, const std::string& rdata) {
        static const char* hex = "0123456789abcdef";
        std::string h;
        for (char ch : rdata) {
            const auto c = static_cast<unsigned char>(ch);
            h.push_back(hex[c >> 4]);
            h.push_back(hex[c & 15]);
        }
        args_.push_back("--dns-rr=" + name + ",16" + (h.empty() ? "" : "," + h));
        return *this;
    }
    LoopbackDns& mx(const std::string& domain, const std::string& host, uint16_t preference) {
        args_.push_back("--mx-host=" + domain + "," + host + "," + std::to_string(preference));
        return *this;
    }
    // An A record (the name then exists for other types too: NoData rather than NXDOMAIN).
    LoopbackDns& a(const std::string& name, const std::string& ipv4) {
        args_.push_back("--host-record=" + name + "," + ipv4);
        return *this;
    }
    // A CNAME with its own TTL; dnsmasq follows it to local records of the target.
    LoopbackDns& cname(const std::string& alias, const std::string& target, uint32_t ttl) {
        args_.push_back("--cname=" + alias + "," + target + "," + std::to_string(ttl));
        return *this;
    }
    LoopbackDns& ttl(uint32_t seconds) {
        ttl_ = seconds;
        return *this;
    }
    // Listen on ::1 as well (same port).
    LoopbackDns& listenV6() {
        v6_ = true;
        return *this;
    }
    static bool v6Available() {
        const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return false;
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_addr = in6addr_loopback;
        const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
    }
    // Serve the zone authoritatively (--auth-zone): negative answers then carry an SOA whose TTL
    // and MINIMUM are both `ttl`. Names outside the zone are REFUSED.
    LoopbackDns& authoritative(uint32_t ttl) {
        authTtl_ = ttl;
        return *this;
    }

    void start() {
        if (::access(kDnsmasq, X_OK) != 0) {
            throw std::runtime_error(std::string(kDnsmasq) +
                                     " is missing: install dnsmasq-base (the DNS tests need it)");
        }
        std::string lastError;
        for (int attempt = 0; attempt < 8; ++attempt) {
            {
                UdpSocket probe;  // a free port; released just before dnsmasq binds it
                port_ = probe.port();
            }
            if (spawnAndWait(lastError)) return;
        }
        throw std::runtime_error("dnsmasq did not start: " + lastError);
    }

    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        for (int i = 0; i < 200; ++i) {  // up to 2 s
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = -1;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
        if (!logPath_.empty()) {
            ::unlink(logPath_.c_str());
            logPath_.clear();
        }
    }

    uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    std::string log() const {
        std::ifstream in(logPath_);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }

  private:
    std::vector<std::string> commandLine() const {
        std::vector<std::string> a = {kDnsmasq,
                                      "--keep-in-foreground",
                                      "--no-resolv",
                                      "--no-hosts",
                                      "--no-poll",
                                      "--conf-file=/dev/null",
                                      v6_ ? "--listen-address=127.0.0.1,::1" : "--listen-address=127.0.0.1",
                                      "--bind-interfaces",
                                      "--port=" + std::to_string(port_),
                                      "--pid-file=",
                                      "--log-facility=-",
                                      "--local-ttl=" + std::to_string(ttl_)};
        if (::geteuid() == 0) a.push_back("--user=root");
        if (authTtl_) {
            a.push_back("--auth-server=ns." + zone_ + ",127.0.0.1");
            a.push_back("--auth-zone=" + zone_);
            a.push_back("--auth-ttl=" + std::to_string(*authTtl_));
            a.push_back("--auth-soa=1,hostmaster." + zone_);
        } else {
            a.push_back("--local=/" + zone_ + "/");
        }
        a.insert(a.end(), args_.begin(), args_.end());
        return a;
    }

    bool spawnAndWait(std::string& error) {
        char path[] = "/tmp/rampart-dnsmasq-XXXXXX";
        const int logFd = ::mkstemp(path);
        if (logFd < 0) throw std::runtime_error(std::string("mkstemp: ") + std::strerror(errno));
        if (!logPath_.empty()) ::unlink(logPath_.c_str());
        logPath_ = path;

        const std::vector<std::string> args = commandLine();
        std::vector<char*> argv;
        for (const auto& s : args)
            argv.push_back(const_cast<char*>(s.c_str()));
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, logFd, 1);
        posix_spawn_file_actions_adddup2(&fa, logFd, 2);
        pid_t pid = -1;
        const int rc = ::posix_spawn(&pid, kDnsmasq, &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(logFd);
        if (rc != 0) throw std::runtime_error(std::string("posix_spawn dnsmasq: ") + std::strerror(rc));
        pid_ = pid;

        // Ready when it answers anything (NXDOMAIN or REFUSED are answers too).
        const std::string probe = dnsQuery("rampart-probe." + zone_, 1);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                error = "exited (status " + std::to_string(status) + "): " + log();
                return false;
            }
            if (!udpExchange(port_, probe, std::chrono::milliseconds(50)).empty()) return true;
        }
        error = "no answer within 10 s: " + log();
        stop();
        return false;
    }

    std::string zone_;
    std::vector<std::string> args_;
    uint32_t ttl_ = 300;
    std::optional<uint32_t> authTtl_;
    bool v6_ = false;
    uint16_t port_ = 0;
    pid_t pid_ = -1;
    std::string logPath_;
};

}  // namespace rampart::testing
