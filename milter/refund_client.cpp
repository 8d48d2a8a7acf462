// The milter's refund client (refund_client.h): telling rampart-policyd what was not sent after all.
#include "milter/refund_client.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "util/strings.h"

namespace rampart::milter {

namespace {

class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

// Waits for `events` on fd until the deadline; false on timeout or error.
bool waitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, static_cast<int>(left.count()));
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) return false;
    }
}

}  // namespace

std::string RefundClient::describe() const {
    if (address_.kind == config::ListenAddress::Kind::Unix) return "unix:" + address_.path;
    return "inet:" + address_.host + ":" + std::to_string(address_.port);
}

util::Result<std::string> RefundClient::refund(const std::string& queueId,
                                               const std::vector<std::string>& recipients) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    for (char c : queueId) {
        if (c == '\n' || c == '=') return util::err("bad queue id");
    }
    std::string request = "request=rampart_refund\nqueue_id=" + queueId + "\n";
    if (!recipients.empty()) {
        request += "recipients=";
        for (size_t i = 0; i < recipients.size(); ++i)
            request += (i ? "," : "") + recipients[i];
        request += "\n";
    }
    request += "\n";

    sockaddr_storage sa{};
    socklen_t saLen = 0;
    if (address_.kind == config::ListenAddress::Kind::Unix) {
        auto* un = reinterpret_cast<sockaddr_un*>(&sa);
        un->sun_family = AF_UNIX;
        if (address_.path.size() >= sizeof un->sun_path) return util::err("socket path too long");
        std::memcpy(un->sun_path, address_.path.c_str(), address_.path.size() + 1);
        saLen = sizeof(sockaddr_un);
    } else {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICSERV;
        addrinfo* res = nullptr;
        const std::string port = std::to_string(address_.port);
        if (int rc = ::getaddrinfo(address_.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
            return util::err("resolve " + address_.host + ": " + gai_strerror(rc));
        }
        std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> resGuard(res, ::freeaddrinfo);
        std::memcpy(&sa, res->ai_addr, res->ai_addrlen);
        saLen = res->ai_addrlen;
    }
    Fd fd(::socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) return util::err(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), saLen) != 0 && errno != EINPROGRESS && errno != EAGAIN) {
        return util::err("connect " + describe() + ": " + std::strerror(errno));
    }
    if (!waitFor(fd.get(), POLLOUT, deadline)) return util::err("connect " + describe() + ": timed out");
    int soErr = 0;
    socklen_t len = sizeof soErr;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soErr, &len);
    if (soErr != 0) return util::err("connect " + describe() + ": " + std::strerror(soErr));
    size_t off = 0;
    while (off < request.size()) {
        if (!waitFor(fd.get(), POLLOUT, deadline)) return util::err("write to " + describe() + ": timed out");
        ssize_t n = ::send(fd.get(), request.data() + off, request.size() - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return util::err("write to " + describe() + ": " + std::strerror(errno));
        off += static_cast<size_t>(n);
    }
    std::string reply;
    char buf[512];
    while (reply.find("\n\n") == std::string::npos) {
        if (reply.size() > 4096) return util::err("over-long reply from " + describe());
        if (!waitFor(fd.get(), POLLIN, deadline)) return util::err("no reply from " + describe() + " (timed out)");
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return util::err("read from " + describe() + ": " + std::strerror(errno));
        if (n == 0) return util::err(describe() + " closed the connection without a reply");
        reply.append(buf, static_cast<size_t>(n));
    }
    std::string_view line = std::string_view(reply).substr(0, reply.find('\n'));
    if (line.rfind("action=", 0) != 0) return util::err("unexpected reply " + util::quoted(line, 80));
    return std::string(line.substr(7));
}

}  // namespace rampart::milter
