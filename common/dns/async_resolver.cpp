// AsyncResolver on a c-ares 1.18 channel (see async_resolver.h). Answers are untrusted network
// data: c-ares parses the records, wire::scanTtls reads the TTLs, and nothing here throws on bad
// data (a malformed answer is Status::Error).
#include "dns/async_resolver.h"

#include <ares.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <map>
#include <mutex>
#include <type_traits>
#include <utility>

#include "dns/wire.h"
#include "util/strings.h"

namespace rampart::dns {

namespace {

constexpr int kClassIn = 1;
constexpr int kTypeMx = 15;
constexpr int kTypeTxt = 16;
// A per-try timeout shorter than this is not worth a retry: use fewer tries instead.
constexpr std::chrono::milliseconds kMinTryTimeout{100};
constexpr int kMaxTries = 3;

int libraryInit() {
    static std::once_flag once;
    static int status = ARES_SUCCESS;
    std::call_once(once, [] { status = ares_library_init(ARES_LIB_INIT_ALL); });
    return status;
}

struct AresDataFree {
    void operator()(void* p) const {
        if (p != nullptr) ares_free_data(p);
    }
};
template <typename T>
using AresData = std::unique_ptr<T, AresDataFree>;

struct ChannelDestroy {
    void operator()(ares_channel c) const { ares_destroy(c); }
};
using ChannelPtr = std::unique_ptr<std::remove_pointer_t<ares_channel>, ChannelDestroy>;

// c-ares 1.18 does not open its sockets close-on-exec; the daemons run helpers.
int onSocketCreated(ares_socket_t fd, int /*type*/, void* /*data*/) {
    const int flags = fcntl(fd, F_GETFD);
    if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    return 0;
}

std::string serversOf(ares_channel channel) {
    ares_addr_port_node* raw = nullptr;
    if (ares_get_servers_ports(channel, &raw) != ARES_SUCCESS) return "(unknown servers)";
    AresData<ares_addr_port_node> list(raw);
    std::vector<std::string> out;
    for (const ares_addr_port_node* n = raw; n != nullptr; n = n->next) {
        char buf[64] = {};
        if (ares_inet_ntop(n->family, &n->addr, buf, sizeof buf) == nullptr) continue;
        const int port = n->udp_port != 0 ? n->udp_port : 53;
        out.push_back(n->family == AF_INET6 ? "[" + std::string(buf) + "]:" + std::to_string(port)
                                            : std::string(buf) + ":" + std::to_string(port));
    }
    return out.empty() ? "(no servers)" : util::join(out, ", ");
}

size_t countServers(ares_channel channel) {
    ares_addr_port_node* raw = nullptr;
    if (ares_get_servers_ports(channel, &raw) != ARES_SUCCESS) return 1;
    AresData<ares_addr_port_node> list(raw);
    size_t n = 0;
    for (const ares_addr_port_node* p = raw; p != nullptr; p = p->next)
        ++n;
    return std::max<size_t>(n, 1);
}

// c-ares 1.18 gives try k (0-based, per server round) timeout << k, rotating over the servers, so a
// lookup takes up to servers * perTry * (2^tries - 1) before ARES_ETIMEOUT.
std::pair<int, int> triesAndTimeout(std::chrono::milliseconds total, size_t servers) {
    const auto n = static_cast<long long>(servers);
    int tries = kMaxTries;
    long long perTry = 0;
    for (; tries >= 1; --tries) {
        perTry = total.count() / (n * ((1LL << tries) - 1));
        if (perTry >= kMinTryTimeout.count() || tries == 1) break;
    }
    perTry = std::clamp<long long>(perTry, 1, INT_MAX);
    return {tries, static_cast<int>(perTry)};
}

}  // namespace

struct AsyncResolver::Impl {
    ChannelPtr channel;
    std::string servers;
    std::chrono::milliseconds timeout{0};
    size_t serverCount = 1;
    std::map<int, Socket> sockets;
    std::function<void(int, bool, bool)> socketCallback;
    size_t pending = 0;
    Status cancelStatus = Status::Error;
    std::string cancelDetail = "cancelled";
    std::exception_ptr callbackError;
    bool destroying = false;

    ~Impl() {
        destroying = true;  // ares_destroy reports every pending query and socket: not to the user
        channel.reset();
    }

    void keepError() {
        if (!callbackError) callbackError = std::current_exception();
    }
    void rethrow() {
        if (callbackError) std::rethrow_exception(std::exchange(callbackError, nullptr));
    }
    std::string describe(int status) const {
        switch (status) {
            case ARES_ETIMEOUT:
                return "no answer from " + servers + " within " + std::to_string(timeout.count()) + " ms";
            case ARES_ECONNREFUSED:
                return serverCount == 1
                           ? "connection refused by " + servers
                           : "no usable answer from " + servers + " (connections refused or SERVFAIL/REFUSED answers)";
            case ARES_ESERVFAIL:
                return "server failure (SERVFAIL) from " + servers;
            case ARES_EREFUSED:
                return "query refused (REFUSED) by " + servers;
            case ARES_EFORMERR:
                return "query rejected as malformed (FORMERR) by " + servers;
            case ARES_ENOTIMP:
                return "query not implemented (NOTIMP) by " + servers;
            case ARES_EBADRESP:
                return "malformed answer from " + servers;
            case ARES_EBADNAME:
                return "invalid domain name";
            default:
                return ares_strerror(status);
        }
    }
};

namespace {

using Impl = AsyncResolver::Impl;

void onSocketState(void* data, ares_socket_t fd, int readable, int writable) {
    auto* impl = static_cast<Impl*>(data);
    if (readable == 0 && writable == 0) {
        impl->sockets.erase(fd);
    } else {
        impl->sockets[fd] = AsyncResolver::Socket{fd, readable != 0, writable != 0};
    }
    if (impl->destroying || !impl->socketCallback) return;
    try {
        impl->socketCallback(fd, readable != 0, writable != 0);
    } catch (...) {
        impl->keepError();
    }
}

// Status, detail and TTL of an answer that is not a plain success.
struct Outcome {
    Status status = Status::Error;
    std::string error;
    uint32_t ttl = 0;
};

uint32_t negativeTtl(const unsigned char* abuf, int alen) {
    if (abuf == nullptr || alen <= 0) return 0;
    auto ttls = wire::scanTtls(abuf, static_cast<size_t>(alen));
    return ttls && ttls->negative ? *ttls->negative : 0;
}

Outcome failure(const Impl& impl, int status, const unsigned char* abuf, int alen) {
    switch (status) {
        case ARES_ENODATA:
            return {Status::NoData, "", negativeTtl(abuf, alen)};
        case ARES_ENOTFOUND:
            return {Status::NxDomain, "", negativeTtl(abuf, alen)};
        case ARES_ETIMEOUT:
            return {Status::Timeout, impl.describe(status), 0};
        case ARES_ECANCELLED:
            return {impl.cancelStatus, impl.cancelDetail, 0};
        default:
            return {Status::Error, impl.describe(status), 0};
    }
}

// TTL of a successful answer; an error text when the message does not scan.
util::Result<uint32_t> answerTtl(const unsigned char* abuf, int alen) {
    if (abuf == nullptr || alen <= 0) return util::err("empty answer");
    auto ttls = wire::scanTtls(abuf, static_cast<size_t>(alen));
    if (!ttls) return util::err(ttls.error());
    return ttls->answer.value_or(0);
}

template <typename Answer>
void applyFailure(Answer& a, const Outcome& o) {
    a.status = o.status;
    a.error = o.error;
    a.ttl = o.ttl;
    a.records.clear();
}

TxtAnswer buildTxt(const Impl& impl, int status, const unsigned char* abuf, int alen) {
    TxtAnswer a;
    if (status != ARES_SUCCESS) {
        applyFailure(a, failure(impl, status, abuf, alen));
        return a;
    }
    ares_txt_ext* raw = nullptr;
    const int parsed = ares_parse_txt_reply_ext(abuf, alen, &raw);
    AresData<ares_txt_ext> list(raw);
    if (parsed != ARES_SUCCESS) {
        applyFailure(a, failure(impl, parsed, abuf, alen));
        return a;
    }
    for (const ares_txt_ext* t = raw; t != nullptr; t = t->next) {
        // One record = its character-strings concatenated (RFC 6376 section 3.6.2.2).
        if (t->record_start != 0 || a.records.empty()) a.records.emplace_back();
        if (t->txt != nullptr && t->length > 0) {
            a.records.back().append(reinterpret_cast<const char*>(t->txt), t->length);
        }
    }
    auto ttl = answerTtl(abuf, alen);
    if (!ttl) {
        applyFailure(a, {Status::Error, "malformed answer from " + impl.servers + ": " + ttl.error(), 0});
        return a;
    }
    a.status = a.records.empty() ? Status::NoData : Status::Ok;
    a.ttl = *ttl;
    return a;
}

MxAnswer buildMx(const Impl& impl, int status, const unsigned char* abuf, int alen) {
    MxAnswer a;
    if (status != ARES_SUCCESS) {
        applyFailure(a, failure(impl, status, abuf, alen));
        return a;
    }
    ares_mx_reply* raw = nullptr;
    const int parsed = ares_parse_mx_reply(abuf, alen, &raw);
    AresData<ares_mx_reply> list(raw);
    if (parsed != ARES_SUCCESS) {
        applyFailure(a, failure(impl, parsed, abuf, alen));
        return a;
    }
    for (const ares_mx_reply* m = raw; m != nullptr; m = m->next) {
        MxRecord r;
        r.preference = m->priority;
        r.host = util::toLower(m->host != nullptr ? m->host : "");
        while (!r.host.empty() && r.host.back() == '.')
            r.host.pop_back();
        a.records.push_back(std::move(r));
    }
    std::stable_sort(a.records.begin(), a.records.end(), [](const MxRecord& x, const MxRecord& y) {
        return x.preference != y.preference ? x.preference < y.preference : x.host < y.host;
    });
    auto ttl = answerTtl(abuf, alen);
    if (!ttl) {
        applyFailure(a, {Status::Error, "malformed answer from " + impl.servers + ": " + ttl.error(), 0});
        return a;
    }
    a.status = a.records.empty() ? Status::NoData : Status::Ok;
    a.ttl = *ttl;
    return a;
}

struct Query {
    Impl* impl = nullptr;
    std::function<void(TxtAnswer)> txtDone;
    std::function<void(MxAnswer)> mxDone;
};

void onAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<Query> q(static_cast<Query*>(arg));
    Impl* impl = q->impl;
    --impl->pending;
    if (status == ARES_EDESTRUCTION || impl->destroying) return;
    try {
        if (q->mxDone) {
            q->mxDone(buildMx(*impl, status, abuf, alen));
        } else {
            q->txtDone(buildTxt(*impl, status, abuf, alen));
        }
    } catch (...) {
        impl->keepError();  // never unwind through c-ares
    }
}

// Names are passed to c-ares as C strings: refuse what would be silently cut or is not a name.
bool plausibleName(const std::string& name) {
    return !name.empty() && name.size() <= 1024 && name.find('\0') == std::string::npos;
}

void launch(Impl& impl, const std::string& name, int type, std::unique_ptr<Query> q) {
    if (!plausibleName(name)) {
        Outcome o{Status::Error, "invalid domain name " + util::quoted(name, 80), 0};
        try {
            if (q->mxDone) {
                MxAnswer a;
                applyFailure(a, o);
                q->mxDone(std::move(a));
            } else {
                TxtAnswer a;
                applyFailure(a, o);
                q->txtDone(std::move(a));
            }
        } catch (...) {
            impl.keepError();
        }
        impl.rethrow();
        return;
    }
    ++impl.pending;
    ares_query(impl.channel.get(), name.c_str(), kClassIn, type, &onAnswer, q.release());
    impl.rethrow();
}

}  // namespace

util::Result<std::unique_ptr<AsyncResolver>> AsyncResolver::create(const ResolverOptions& options) {
    if (const int s = libraryInit(); s != ARES_SUCCESS) {
        return util::err(std::string("c-ares initialisation failed: ") + ares_strerror(s));
    }
    if (options.timeout.count() <= 0) return util::err("the DNS timeout must be positive");
    std::vector<ServerAddress> servers;
    for (const auto& text : options.servers) {
        auto s = parseServerAddress(text);
        if (!s) return util::err(s.error());
        servers.push_back(*s);
    }

    size_t serverCount = servers.size();
    if (serverCount == 0) {  // /etc/resolv.conf: count its servers to share the time among them
        ares_channel probe = nullptr;
        ares_options none{};
        if (const int s = ares_init_options(&probe, &none, 0); s != ARES_SUCCESS) {
            return util::err(std::string("c-ares initialisation failed: ") + ares_strerror(s));
        }
        ChannelPtr guard(probe);
        serverCount = countServers(probe);
    }
    const auto [tries, perTryMs] = triesAndTimeout(options.timeout, serverCount);

    auto impl = std::make_unique<Impl>();
    impl->timeout = options.timeout;
    impl->serverCount = serverCount;
    ares_options opts{};
    // No EDNS: an answer over 512 bytes comes back truncated and c-ares retries over TCP, which
    // works with every server. With several servers, a SERVFAIL/REFUSED/NOTIMP answer makes c-ares
    // try the next one (1.18 then reports a final failure as ARES_ECONNREFUSED); with one server
    // there is nothing to fail over to, so NOCHECKRESP returns that answer's real rcode at once.
    opts.flags = serverCount == 1 ? ARES_FLAG_NOCHECKRESP : 0;
    opts.timeout = perTryMs;
    opts.tries = tries;
    opts.sock_state_cb = &onSocketState;
    opts.sock_state_cb_data = impl.get();
    ares_channel channel = nullptr;
    const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
    if (const int s = ares_init_options(&channel, &opts, mask); s != ARES_SUCCESS) {
        return util::err(std::string("c-ares initialisation failed: ") + ares_strerror(s));
    }
    impl->channel.reset(channel);
    ares_set_socket_callback(channel, &onSocketCreated, nullptr);

    if (!servers.empty()) {
        std::vector<ares_addr_port_node> nodes(servers.size());
        for (size_t i = 0; i < servers.size(); ++i) {
            ares_addr_port_node& n = nodes[i];
            n.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
            n.family = servers[i].ipv6() ? AF_INET6 : AF_INET;
            // Already validated by parseServerAddress.
            ares_inet_pton(n.family, servers[i].ip.c_str(), &n.addr);
            n.udp_port = servers[i].port;
            n.tcp_port = servers[i].port;
        }
        if (const int s = ares_set_servers_ports(channel, nodes.data()); s != ARES_SUCCESS) {
            return util::err(std::string("cannot set the DNS servers: ") + ares_strerror(s));
        }
    }
    impl->servers = serversOf(channel);
    return std::unique_ptr<AsyncResolver>(new AsyncResolver(std::move(impl)));
}

AsyncResolver::AsyncResolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AsyncResolver::~AsyncResolver() = default;

void AsyncResolver::lookupTxt(std::string name, std::function<void(TxtAnswer)> done) {
    auto q = std::make_unique<Query>();
    q->impl = impl_.get();
    q->txtDone = done ? std::move(done) : [](TxtAnswer) {};
    launch(*impl_, name, kTypeTxt, std::move(q));
}

void AsyncResolver::lookupMx(std::string name, std::function<void(MxAnswer)> done) {
    auto q = std::make_unique<Query>();
    q->impl = impl_.get();
    q->mxDone = done ? std::move(done) : [](MxAnswer) {};
    launch(*impl_, name, kTypeMx, std::move(q));
}

std::vector<AsyncResolver::Socket> AsyncResolver::sockets() const {
    std::vector<Socket> out;
    out.reserve(impl_->sockets.size());
    for (const auto& [fd, s] : impl_->sockets)
        out.push_back(s);
    return out;
}

void AsyncResolver::onSocketChange(std::function<void(int, bool, bool)> callback) {
    impl_->socketCallback = std::move(callback);
}

void AsyncResolver::process(int readFd, int writeFd) {
    ares_process_fd(impl_->channel.get(), readFd < 0 ? ARES_SOCKET_BAD : readFd,
                    writeFd < 0 ? ARES_SOCKET_BAD : writeFd);
    impl_->rethrow();
}

std::optional<std::chrono::milliseconds> AsyncResolver::nextTimeout() const {
    if (impl_->pending == 0) return std::nullopt;
    timeval tv{};
    const timeval* t = ares_timeout(impl_->channel.get(), nullptr, &tv);
    if (t == nullptr) return std::nullopt;
    // c-ares 1.18 truncates to whole milliseconds while its expiry check is exact: without the
    // extra millisecond a loop would wake up just before the deadline and spin until it passes.
    const long long ms = static_cast<long long>(t->tv_sec) * 1000 + (t->tv_usec + 999) / 1000 + 1;
    return std::chrono::milliseconds(std::max<long long>(ms, 1));
}

size_t AsyncResolver::pending() const {
    return impl_->pending;
}

void AsyncResolver::cancelAll(Status status, const std::string& detail) {
    impl_->cancelStatus = status;
    impl_->cancelDetail = detail;
    ares_cancel(impl_->channel.get());
    impl_->cancelStatus = Status::Error;
    impl_->cancelDetail = "cancelled";
    impl_->rethrow();
}

const std::string& AsyncResolver::serverList() const {
    return impl_->servers;
}

std::chrono::milliseconds AsyncResolver::timeout() const {
    return impl_->timeout;
}

}  // namespace rampart::dns
