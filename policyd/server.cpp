// rampart-policyd's network side (see server.h): accepting policy and control connections within
// the global and per-peer limits, one policy connection's reads, request deadline, idle timer and
// reply back-pressure (the bounds of connection_bounds.h), and the group commit of each loop turn.
#include "policyd/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

#include "date/tz.h"
#include "mail/address.h"
#include "net/cidr.h"
#include "policyd/control.h"
#include "policyd/protocol.h"
#include "util/log.h"
#include "util/strings.h"

namespace rampart::policyd {

namespace asio = boost::asio;
using generic = asio::generic::stream_protocol;
using namespace std::chrono_literals;

// ------------------------------------------------------------------------------------------ policy connection

class PolicyServer::Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(PolicyServer& server, generic::socket socket, uint64_t id, std::string peer, std::string peerKey)
        : server_(server), socket_(std::move(socket)), timer_(server.io_), peerKey_(std::move(peerKey)) {
        session_.id = id;
        session_.peer = std::move(peer);
    }

    void start() {
        armTimer(false);
        read();
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ignored;
        timer_.cancel();
        socket_.shutdown(generic::socket::shutdown_both, ignored);
        socket_.close(ignored);
        server_.peerCounts_.release(peerKey_);
        server_.connections_.erase(shared_from_this());
    }

    // After the journal write of this turn: send the queued replies. If the journal failed, the
    // replies that stood for counted permits become the error action (nothing is answered that a
    // crash could take back).
    void writePending(bool durable, const std::string& errorAction) {
        for (auto& r : queued_)
            outbuf_ += formatReply(r.needsDurability && !durable ? errorAction : r.action);
        queued_.clear();
        queuedBytes_ = 0;
        writeSome();
    }

    std::string describe() const { return session_.peer; }

  private:
    struct Queued {
        std::string action;
        bool needsDurability;
    };

    // One timer, two limits: between requests policyd_idle_timeout; from a request's first byte
    // policyd_request_timeout (not re-armed by later bytes, so trickling keeps no slot for ever).
    // A generation number makes an expiry that was already queued when the timer was re-armed void.
    void armTimer(bool inRequest) {
        const auto& rt = *server_.service_.runtime();
        inRequest_ = inRequest;
        const uint64_t generation = ++timerGeneration_;
        timer_.expires_after(inRequest ? rt.requestTimeout : rt.idleTimeout);
        std::weak_ptr<Connection> weak = shared_from_this();
        timer_.async_wait([weak, generation](boost::system::error_code ec) {
            auto self = weak.lock();
            if (ec || !self || self->closed_ || generation != self->timerGeneration_) return;
            if (self->inRequest_) {
                log::warning("connection " + self->session_.peer +
                             ": no complete request within policyd_request_timeout (" +
                             std::to_string(self->server_.service_.runtime()->requestTimeout.count()) +
                             "s) of its first byte; closing");
                ++self->server_.requestTimeouts_;
            } else {
                log::debug("closing idle connection " + self->session_.peer);
            }
            self->close();
        });
    }

    // Bytes arrived: the first byte of a request starts its deadline; later ones change nothing.
    void bytesArrived() {
        if (!inRequest_) armTimer(true);
    }
    // A request was parsed: the next one, if it has begun in the same read, has its deadline from
    // now; else the idle time starts again.
    void requestParsed() { armTimer(!buffer_.empty()); }

    size_t pendingReplyBytes() const { return queuedBytes_ + outbuf_.size() + inflight_.size(); }

    // Reads unless a read is under way or the bounds say wait (flow control: the kernel's socket
    // buffers then hold the client back). Called again whenever a bound may have eased.
    void read() {
        if (closed_ || eof_ || reading_) return;
        if (!server_.service_.runtime()->flow.mayRead(buffer_.unreadSize(), pendingReplyBytes())) return;
        reading_ = true;
        auto self = shared_from_this();
        socket_.async_read_some(asio::buffer(chunk_), [self](boost::system::error_code ec, size_t n) {
            self->reading_ = false;
            if (self->closed_) return;
            if (ec == asio::error::eof) {
                self->eof_ = true;
            } else if (ec) {
                if (ec != asio::error::operation_aborted)
                    log::debug("connection " + self->session_.peer + ": " + ec.message());
                self->close();
                return;
            } else {
                self->buffer_.append(self->chunk_.data(), n);
                self->bytesArrived();
            }
            self->process();
            self->read();
        });
    }

    void process() {
        while (!busy_ && !closed_) {
            Request req;
            auto r = parseRequest(buffer_.unread(), server_.service_.runtime()->protocol, req);
            if (r.status == ParseStatus::Garbage) {
                ++server_.service_.counters().garbage;
                log::warning("garbage from " + session_.peer + ": " + r.error + "; closing that connection");
                close();
                return;
            }
            if (r.status == ParseStatus::NeedMore) {
                if (eof_) {
                    if (!buffer_.empty()) {
                        ++server_.service_.counters().garbage;
                        log::warning("connection " + session_.peer + " closed in the middle of a request (" +
                                     std::to_string(buffer_.unreadSize()) + " bytes); ignored");
                    }
                    finishAfterWrites();
                }
                return;
            }
            buffer_.consume(r.consumed);
            requestParsed();
            answer(server_.service_.handle(session_, req, server_.service_.store().now()));
            if (!closed_ && server_.service_.runtime()->flow.overHardLimit(pendingReplyBytes())) {
                closeOverHardLimit();
                return;
            }
        }
    }

    void closeOverHardLimit() {
        const auto& flow = server_.service_.runtime()->flow;
        ++server_.pendingLimitCloses_;
        log::warning("connection " + session_.peer + ": " + std::to_string(pendingReplyBytes()) +
                     " bytes of replies not read, over " + std::to_string(flow.hardPendingLimit()) + " (" +
                     std::to_string(FlowLimits::kHardPendingFactor) + " x policyd_max_pending_replies); closing");
        close();
    }

    // What the request service answered: queue the action, close, or satisfy its need and resume.
    void answer(Reply reply) {
        switch (reply.kind) {
            case Reply::Kind::Answer:
                queue(std::move(reply.action), reply.needsDurability);
                return;
            case Reply::Kind::Close:
                close();
                return;
            case Reply::Kind::Suspend:
                suspend(std::move(reply.suspension));
                return;
        }
    }

    // The request waits for its need; reads go on meanwhile, but no later request of this
    // connection is handled before it (replies keep their order).
    void suspend(std::shared_ptr<Suspension> suspension) {
        auto self = shared_from_this();
        auto done = [self, suspension](std::string value) {
            if (self->closed_) return;
            self->busy_ = false;
            auto& service = self->server_.service_;
            self->answer(service.resume(self->session_, *suspension, value, service.store().now()));
            self->process();  // take what arrived meanwhile
            self->read();     // reads wait while a whole request's worth is buffered
        };
        switch (suspension->need.kind) {
            case Need::Kind::Provider: {
                if (!server_.providers_) {
                    done("");  // before start(): no resolver yet
                    return;
                }
                busy_ = true;
                auto limits = suspension->need.limits;
                ProviderRules rules{[limits](const std::string& d) { return limits->providerForDomain(d); },
                                    [limits](const std::vector<std::string>& mx) { return limits->providerForMx(mx); }};
                server_.providers_->resolve(suspension->need.subject, rules,
                                            [done](ProviderAnswer a) { done(std::move(a.provider)); });
                return;
            }
        }
    }

    void queue(std::string action, bool needsDurability) {
        queuedBytes_ += action.size() + 9;  // "action=" and the blank line
        queued_.push_back({std::move(action), needsDurability});
        server_.pendingFlush_.push_back(shared_from_this());
        server_.scheduleFlush();
    }

    void writeSome() {
        if (writing_ || closed_) return;
        if (outbuf_.empty()) {
            if (eof_ && !busy_ && buffer_.empty()) finishAfterWrites();
            return;
        }
        writing_ = true;
        inflight_.swap(outbuf_);
        auto self = shared_from_this();
        asio::async_write(socket_, asio::buffer(inflight_), [self](boost::system::error_code ec, size_t) {
            self->writing_ = false;
            self->inflight_.clear();
            if (ec) {
                if (!self->closed_) log::debug("write to " + self->session_.peer + " failed: " + ec.message());
                self->close();
                return;
            }
            self->writeSome();
            self->read();  // replies drained: reading may resume
        });
    }

    // Exim's one-shot style: once the client half-closed and every answer is out, close.
    void finishAfterWrites() {
        if (closed_) return;
        if (writing_ || !outbuf_.empty() || !queued_.empty() || busy_) return;
        close();
    }

    PolicyServer& server_;
    generic::socket socket_;
    asio::steady_timer timer_;
    uint64_t timerGeneration_ = 0;
    bool inRequest_ = false;  // the timer is the request deadline, not the idle time
    std::string peerKey_;     // what policyd_max_connections_per_peer counts
    Session session_;
    std::array<char, 8192> chunk_{};
    InputBuffer buffer_;
    std::vector<Queued> queued_;
    size_t queuedBytes_ = 0;  // formatted size of queued_
    std::string outbuf_, inflight_;
    bool busy_ = false, eof_ = false, closed_ = false, writing_ = false, reading_ = false;
};

// ------------------------------------------------------------------------------------------ control connection

class PolicyServer::ControlConnection : public std::enable_shared_from_this<ControlConnection> {
  public:
    ControlConnection(PolicyServer& server, generic::socket socket) : server_(server), socket_(std::move(socket)) {}
    void start() { read(); }

  private:
    void read() {
        auto self = shared_from_this();
        socket_.async_read_some(asio::buffer(chunk_), [self](boost::system::error_code ec, size_t n) {
            if (!ec) self->line_.append(self->chunk_.data(), n);
            size_t nl = self->line_.find('\n');
            if (nl == std::string::npos && !ec && self->line_.size() < 65536) {
                self->read();
                return;
            }
            std::string cmd = self->line_.substr(0, nl == std::string::npos ? self->line_.size() : nl);
            auto& server = self->server_;
            std::string reply = runControl(
                cmd, server.service_, [&server] { return server.statsLine(); }, server.service_.store().now());
            self->reply_ = std::move(reply);
            asio::async_write(self->socket_, asio::buffer(self->reply_), [self](boost::system::error_code, size_t) {
                boost::system::error_code ignored;
                self->socket_.shutdown(generic::socket::shutdown_both, ignored);
                self->socket_.close(ignored);
            });
        });
    }

    PolicyServer& server_;
    generic::socket socket_;
    std::array<char, 4096> chunk_{};
    std::string line_, reply_;
};

// ------------------------------------------------------------------------------------------ server

PolicyServer::PolicyServer(asio::io_context& io, PolicyService& service)
    : io_(io), service_(service), housekeepingTimer_(io) {}

PolicyServer::~PolicyServer() {
    for (const auto& p : unixPaths_)
        ::unlink(p.c_str());
}

namespace {

util::Result<std::unique_ptr<GenericAcceptor>> bindAcceptor(asio::io_context& io, const config::ListenAddress& a,
                                                            std::vector<std::string>& unixPaths) {
    try {
        if (a.kind == config::ListenAddress::Kind::Unix) {
            ::unlink(a.path.c_str());  // a stale socket of an earlier run
            asio::local::stream_protocol::endpoint ep(a.path);
            auto acc = std::make_unique<GenericAcceptor>(io, generic::endpoint(ep));
            unixPaths.push_back(a.path);
            return acc;
        }
        asio::ip::tcp::endpoint ep(asio::ip::make_address(a.host), a.port);
        auto acc = std::make_unique<GenericAcceptor>(io);
        acc->open(generic::endpoint(ep).protocol());
        acc->set_option(asio::socket_base::reuse_address(true));
        acc->bind(generic::endpoint(ep));
        acc->listen(asio::socket_base::max_listen_connections);
        return acc;
    } catch (const std::exception& e) {
        return util::err("cannot listen on " + a.toString() + ": " + e.what());
    }
}

}  // namespace

util::Result<bool> PolicyServer::listen(const config::ListenAddress& address, unsigned mode, const util::Account& owner,
                                        const std::string& group) {
    if (address.kind == config::ListenAddress::Kind::Unix) {
        if (auto r = util::ensureParentDirectory(address.path, owner); !r) return util::err(r.error());
    }
    auto acc = bindAcceptor(io_, address, unixPaths_);
    if (!acc) return util::err(acc.error());
    if (address.kind == config::ListenAddress::Kind::Unix) {
        if (auto r = util::setSocketOwnership(address.path, mode, owner, group); !r) return util::err(r.error());
    }
    acceptors_.push_back(std::move(acc).value());
    return true;
}

util::Result<bool> PolicyServer::listenControl(const config::ListenAddress& address, const util::Account& owner) {
    if (address.kind != config::ListenAddress::Kind::Unix) {
        return util::err("policyd_control_socket must be a unix socket (it changes the daemon's state)");
    }
    if (auto r = util::ensureParentDirectory(address.path, owner); !r) return util::err(r.error());
    auto acc = bindAcceptor(io_, address, unixPaths_);
    if (!acc) return util::err(acc.error());
    if (auto r = util::setSocketOwnership(address.path, 0600, owner, ""); !r) return util::err(r.error());
    controlAcceptors_.push_back(std::move(acc).value());
    return true;
}

util::Result<bool> PolicyServer::start() {
    const auto& runtime = *service_.runtime();
    const auto& cfg = *runtime.config;
    dns::ResolverOptions ro;
    ro.servers = cfg.list("dns_servers");
    ro.timeout = runtime.mxTimeout;
    auto pr = ProviderResolver::create(io_, ro, 100000);
    if (!pr) return util::err("MX resolver: " + pr.error());
    providers_ = std::move(pr).value();
    for (size_t i = 0; i < acceptors_.size(); ++i)
        accept(i);
    for (size_t i = 0; i < controlAcceptors_.size(); ++i)
        acceptControl(i);
    nextStats_ = std::chrono::steady_clock::now() + service_.runtime()->statsInterval;
    housekeeping();
    return true;
}

void PolicyServer::accept(size_t index) {
    acceptors_[index]->async_accept([this, index](boost::system::error_code ec, generic::socket socket) {
        if (stopping_) return;
        if (!ec) {
            auto& counters = service_.counters();
            const size_t maxConnections = service_.runtime()->maxConnections;
            ++counters.connections;
            if (connections_.size() >= maxConnections) {
                ++counters.rejectedConnections;
                if (counters.rejectedConnections % 100 == 1) {
                    log::warning("policyd_max_connections (" + std::to_string(maxConnections) +
                                 ") reached; closing new connections");
                }
                boost::system::error_code ignored;
                socket.close(ignored);
            } else {
                auto [peer, peerKey] = describePeer(socket);
                uint64_t id = nextConnectionId_++;
                if (peer.empty()) peer = "unix#" + std::to_string(id);
                const size_t perPeer = service_.runtime()->maxConnectionsPerPeer;
                if (!peerCounts_.acquire(peerKey, perPeer)) {
                    refusePerPeer(peer, peerKey, perPeer);
                    boost::system::error_code ignored;
                    socket.close(ignored);
                } else {
                    auto c = std::make_shared<Connection>(*this, std::move(socket), id, peer, peerKey);
                    connections_.insert(c);
                    c->start();
                }
            }
        } else if (ec != asio::error::operation_aborted) {
            log::warning(std::string("accept: ") + ec.message());
        }
        if (!stopping_) accept(index);
    });
}

// The client as logs name it (address:port; empty on unix sockets) and as
// policyd_max_connections_per_peer counts it: "uid N" of a unix client (SO_PEERCRED), the address of
// an inet one.
std::pair<std::string, std::string> PolicyServer::describePeer(generic::socket& socket) {
    try {
        auto ep = socket.remote_endpoint();
        if (ep.protocol().family() == AF_INET || ep.protocol().family() == AF_INET6) {
            asio::ip::tcp::endpoint tcp;
            tcp.resize(ep.size());
            std::memcpy(tcp.data(), ep.data(), ep.size());
            const std::string address = tcp.address().to_string();
            return {address + ":" + std::to_string(tcp.port()), address};
        }
    } catch (...) {
    }
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred)
        return {"", "uid " + std::to_string(cred.uid)};
    return {"", "unix"};  // no credentials: all such clients are one peer
}

void PolicyServer::refusePerPeer(const std::string& peer, const std::string& peerKey, size_t limit) {
    ++refusedPerPeer_;
    auto now = std::chrono::steady_clock::now();
    if (now < nextPeerLimitLog_) return;
    nextPeerLimitLog_ = now + 10s;
    const uint64_t since = refusedPerPeer_ - refusedPerPeerLogged_;
    refusedPerPeerLogged_ = refusedPerPeer_;
    log::warning("policyd_max_connections_per_peer (" + std::to_string(limit) + ") reached by " + peerKey +
                 (peer.empty() || peer.rfind(peerKey, 0) == 0 ? "" : " (" + peer + ")") + "; closed " +
                 std::to_string(since) + " new connection" + (since == 1 ? "" : "s") +
                 " (at most one such line in 10s)");
}

void PolicyServer::acceptControl(size_t index) {
    controlAcceptors_[index]->async_accept([this, index](boost::system::error_code ec, generic::socket socket) {
        if (stopping_) return;
        if (!ec) std::make_shared<ControlConnection>(*this, std::move(socket))->start();
        acceptControl(index);
    });
}

void PolicyServer::scheduleFlush() {
    if (flushScheduled_) return;
    flushScheduled_ = true;
    // Runs after the handlers that are ready now: their changes share one journal write.
    asio::post(io_, [this] { flushTurn(); });
}

void PolicyServer::flushTurn() {
    flushScheduled_ = false;
    bool durable = true;
    if (auto r = service_.store().flush(); !r) {
        durable = false;
        ++service_.counters().errors;
        log::error("journal write failed: " + r.error() + "; answering " + service_.runtime()->errorAction);
    }
    auto pending = std::move(pendingFlush_);
    pendingFlush_.clear();
    for (auto& c : pending)
        c->writePending(durable, service_.runtime()->errorAction);
}

void PolicyServer::housekeeping() {
    if (stopping_) return;
    service_.housekeeping(service_.store().now());
    auto steady = std::chrono::steady_clock::now();
    if (service_.runtime()->statsInterval.count() > 0 && steady >= nextStats_) {
        log::info(statsLine());
        nextStats_ = steady + service_.runtime()->statsInterval;
    }
    housekeepingTimer_.expires_after(1s);
    housekeepingTimer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) housekeeping();
    });
}

void PolicyServer::stop() {
    stopping_ = true;
    boost::system::error_code ignored;
    for (auto& a : acceptors_)
        a->close(ignored);
    for (auto& a : controlAcceptors_)
        a->close(ignored);
    housekeepingTimer_.cancel();
    if (providers_) providers_->stop();
    flushTurn();
    auto conns = connections_;
    for (auto& c : conns)
        c->close();
}

std::string PolicyServer::statsLine() const {
    const Counters& c = service_.counters();
    const StoreCounts store = service_.store().counts();
    std::string s = "stats: requests=" + std::to_string(c.requests) + " permitted=" + std::to_string(c.allowed) +
                    " deferred=" + std::to_string(c.refused) + " exempt=" + std::to_string(c.exempt) +
                    " not_applicable=" + std::to_string(c.notApplicable) +
                    " would_defer=" + std::to_string(c.wouldDefer) + " committed=" + std::to_string(c.commits) +
                    " released=" + std::to_string(c.releases) + " refunds=" + std::to_string(c.refunds) +
                    " suppressed=" + std::to_string(c.suppressed) + " errors=" + std::to_string(c.errors) +
                    " garbage=" + std::to_string(c.garbage) + " connections=" + std::to_string(connections_.size()) +
                    "/" + std::to_string(c.connections);
    if (c.rejectedConnections) s += " refused_connections=" + std::to_string(c.rejectedConnections);
    if (refusedPerPeer_) s += " refused_per_peer=" + std::to_string(refusedPerPeer_);
    if (requestTimeouts_) s += " request_timeouts=" + std::to_string(requestTimeouts_);
    if (pendingLimitCloses_) s += " closed_unread_replies=" + std::to_string(pendingLimitCloses_);
    s += "; state: scopes=" + std::to_string(store.scopes) + " reservations=" + std::to_string(store.reservations) +
         " commits=" + std::to_string(store.commits);
    if (providers_) {
        const auto& p = providers_->counters();
        s += "; mx: lookups=" + std::to_string(p.lookups) + " cache_hits=" + std::to_string(p.cacheHits) +
             " timeouts=" + std::to_string(p.timeouts) + " failures=" + std::to_string(p.failures) +
             " cached=" + std::to_string(providers_->cached());
    }
    return s;
}

}  // namespace rampart::policyd
