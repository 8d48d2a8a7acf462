#include "policyd/server.h"

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
#include "policyd/decide.h"
#include "util/log.h"
#include "util/strings.h"

namespace rampart::policyd {

namespace asio = boost::asio;
using generic = asio::generic::stream_protocol;
using namespace std::chrono_literals;

// ------------------------------------------------------------------------------------------ runtime

StateOptions stateOptions(const config::Config& cfg) {
    StateOptions o;
    o.reservationTimeout = cfg.duration("policyd_reservation_timeout");
    o.refundWindow = cfg.duration("policyd_refund_window");
    return o;
}

std::shared_ptr<const Runtime> buildRuntime(std::shared_ptr<const config::Config> config, config::Diagnostics& diags) {
    const config::Config& cfg = *config;
    auto rt = std::make_shared<Runtime>();
    rt->config = config;
    const date::time_zone* zone = nullptr;
    try {
        zone = date::locate_zone(cfg.str("policyd_timezone"));
    } catch (const std::exception& e) {
        diags.error(cfg.where("policyd_timezone"), std::string("policyd_timezone: ") + e.what());
    }
    config::Diagnostics limitDiags;
    auto limits = std::make_shared<LimitSet>(LimitSet::load(cfg.str("policyd_limits"), zone, limitDiags));
    diags.append(limitDiags);
    rt->limits = limits;
    rt->protocol.maxRequestBytes = cfg.size("policyd_max_request_size");
    rt->protocol.maxAttributes = static_cast<size_t>(cfg.integer("policyd_max_attributes"));
    rt->monitorOnly = cfg.flag("policyd_monitor_only");
    const std::string& ea = cfg.str("policyd_error_action");
    rt->errorAction = ea == "dunno" ? "DUNNO" : (ea == "defer" ? "DEFER" : "DEFER_IF_PERMIT");
    rt->errorAction += ea == "dunno" ? "" : " 4.3.0 rampart: policy service error, try again later";
    rt->maxConnections = static_cast<size_t>(cfg.integer("policyd_max_connections"));
    rt->idleTimeout = cfg.duration("policyd_idle_timeout");
    rt->mxTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.duration("policyd_mx_timeout"));
    rt->statsInterval = cfg.duration("policyd_stats_interval");
    rt->checkSuppression = cfg.flag("policyd_check_suppression");
    if (const std::string secret = cfg.str("unsubscribe_secret"); !secret.empty()) {
        auto keys = util::Keyring::load(secret);
        if (!keys) {
            diags.error(cfg.where("unsubscribe_secret"), "unsubscribe_secret: " + keys.error());
        } else {
            auto us = std::make_shared<UnsubscribeSettings>();
            us->keys = std::make_shared<const util::Keyring>(std::move(keys).value());
            us->lifetime = cfg.duration("unsubscribe_token_lifetime");
            us->norm.caseSensitiveLocalPart = cfg.flag("suppression_case_sensitive");
            us->norm.foldGmail = cfg.flag("suppression_fold_gmail");
            rt->unsubscribe = us;
        }
    }
    {
        config::Diagnostics tableDiags;
        rt->tenants =
            std::make_shared<const mail::TenantMap>(mail::TenantMap::load(cfg.table("tenant_map"), tableDiags));
        diags.append(tableDiags);
    }
    static uint64_t generation = 0;
    rt->generation = ++generation;
    if (diags.hasErrors()) return nullptr;
    return rt;
}

namespace {

std::string domainOf(std::string_view address) {
    size_t at = address.rfind('@');
    return at == std::string_view::npos ? std::string() : util::toLower(address.substr(at + 1));
}

}  // namespace

// ------------------------------------------------------------------------------------------ policy connection

class PolicyServer::Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(PolicyServer& server, generic::socket socket, uint64_t id, std::string peer)
        : server_(server), socket_(std::move(socket)), idle_(server.io_), id_(id), peer_(std::move(peer)) {}

    void start() {
        armIdle();
        read();
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ignored;
        idle_.cancel();
        socket_.shutdown(generic::socket::shutdown_both, ignored);
        socket_.close(ignored);
        server_.connections_.erase(shared_from_this());
    }

    // After the journal write of this turn: send the queued replies. If the journal failed, the
    // replies that stood for counted permits become the error action (nothing is answered that a
    // crash could take back).
    void writePending(bool durable, const std::string& errorAction) {
        for (auto& r : queued_)
            outbuf_ += formatReply(r.needsDurability && !durable ? errorAction : r.action);
        queued_.clear();
        writeSome();
    }

    std::string describe() const { return peer_; }

  private:
    struct Queued {
        std::string action;
        bool needsDurability;
    };

    void armIdle() {
        idle_.expires_after(server_.runtime_->idleTimeout);
        std::weak_ptr<Connection> weak = shared_from_this();
        idle_.async_wait([weak](boost::system::error_code ec) {
            auto self = weak.lock();
            if (!ec && self && !self->closed_) {
                log::debug("closing idle connection " + self->peer_);
                self->close();
            }
        });
    }

    void read() {
        if (closed_ || eof_) return;
        auto self = shared_from_this();
        socket_.async_read_some(asio::buffer(chunk_), [self](boost::system::error_code ec, size_t n) {
            if (self->closed_) return;
            if (ec == asio::error::eof) {
                self->eof_ = true;
            } else if (ec) {
                if (ec != asio::error::operation_aborted) log::debug("connection " + self->peer_ + ": " + ec.message());
                self->close();
                return;
            } else {
                self->buffer_.append(self->chunk_.data(), n);
                self->armIdle();
            }
            self->process();
            if (!self->eof_) self->read();
        });
    }

    void process() {
        while (!busy_ && !closed_) {
            Request req;
            auto r = parseRequest(std::string_view(buffer_).substr(offset_), server_.runtime_->protocol, req);
            if (r.status == ParseStatus::Garbage) {
                ++server_.counters_.garbage;
                log::warning("garbage from " + peer_ + ": " + r.error + "; closing that connection");
                close();
                return;
            }
            if (r.status == ParseStatus::NeedMore) {
                if (eof_) {
                    if (offset_ < buffer_.size()) {
                        ++server_.counters_.garbage;
                        log::warning("connection " + peer_ + " closed in the middle of a request (" +
                                     std::to_string(buffer_.size() - offset_) + " bytes); ignored");
                    }
                    finishAfterWrites();
                }
                return;
            }
            offset_ += r.consumed;
            if (offset_ == buffer_.size()) {
                buffer_.clear();
                offset_ = 0;
            }
            try {
                handle(std::move(req));
            } catch (const std::exception& e) {
                ++server_.counters_.errors;
                log::error("internal error on a request from " + peer_ + ": " + e.what() + "; answered " +
                           server_.runtime_->errorAction);
                busy_ = false;
                queue(server_.runtime_->errorAction, false);
            }
        }
    }

    void handle(Request req) {
        ++server_.counters_.requests;
        auto rt = server_.runtime_;
        if (req.request == "rampart_refund") {
            if (req.queueId.empty()) {
                queue("DUNNO rampart_refund without queue_id", false);
                return;
            }
            auto res = server_.state_.refund(req.queueId, req.refundRecipients, server_.clock_->now());
            ++server_.counters_.refunds;
            log::info(req.queueId + ": refund: " + res.text);
            queue(std::string(res.status == RefundResult::Status::Refunded ? "OK " : "DUNNO ") + res.text, true);
            return;
        }
        if (req.request != "smtpd_access_policy") {
            ++server_.counters_.garbage;
            log::warning("unknown request \"" + util::printable(req.request, 60) + "\" from " + peer_ +
                         "; closing that connection");
            close();
            return;
        }
        if (req.protocolState == "RCPT") {
            if (!req.instance.empty() && req.instance != lastInstance_) {
                // Postfix runs one transaction at a time per smtpd process (one policy connection):
                // a new instance means the previous one ended; what it did not commit is released
                // (only if this connection made it: instances are not shared, but a client could).
                auto prev = server_.txOwner_.find(lastInstance_);
                if (!lastInstance_.empty() && prev != server_.txOwner_.end() && prev->second.connection == id_) {
                    if (server_.state_.release(lastInstance_)) ++server_.counters_.releases;
                    server_.txOwner_.erase(prev);
                }
                lastInstance_ = req.instance;
            }
            // A transaction has one sender. An instance reused by another sender (a load
            // generator's warm-up request, an Exim ACL with a poor instance) means the first
            // transaction is over: release it, so END-OF-MESSAGE cannot commit one sender's slot
            // and release another's.
            if (!req.instance.empty()) {
                auto& owner = server_.txOwner_[req.instance];
                std::string sender = util::toLower(req.sender);
                if (owner.connection != 0 && owner.sender != sender && server_.state_.release(req.instance)) {
                    ++server_.counters_.releases;
                    log::info("instance " + req.instance + " reused by another sender; released what <" + owner.sender +
                              "> had reserved in it");
                }
                owner.sender = std::move(sender);
                owner.connection = id_;
            }
            // A suppressed recipient is refused before anything is reserved: it never takes a slot.
            if (rt->checkSuppression && server_.suppression_) {
                suppress::LookupContext sctx;
                if (rt->tenants) sctx.tenant = rt->tenants->tenantOf(req.saslUsername, req.sender);
                const int64_t nowSec =
                    std::chrono::duration_cast<std::chrono::seconds>(server_.clock_->now().time_since_epoch()).count();
                if (auto hit = server_.suppression_->lookup(
                        req.recipient, sctx, suppress::Index::kGlobal | suppress::Index::kTenant, nowSec)) {
                    ++server_.counters_.suppressed;
                    log::info("suppressed: from=<" + req.sender + "> to=<" + req.recipient + ">" +
                              (req.saslUsername.empty() ? "" : " sasl=" + req.saslUsername) + ": " +
                              std::string(suppress::reasonName(hit->reason)) + ", " + hit->scope.str() +
                              (hit->target.size() > 1 && hit->target.front() == '@' ? ", whole domain" : ""));
                    // Postfix prefixes "<rcpt>: Recipient address rejected: " itself.
                    queue("550 5.7.1 rampart: recipient is on the suppression list (" +
                              std::string(suppress::reasonName(hit->reason)) + "); it will not be mailed",
                          false);
                    return;
                }
            }
            bool needProvider = rt->limits->needsProvider() || server_.state_.pausesNeedProvider();
            std::string domain = domainOf(req.recipient);
            if (needProvider && !domain.empty() && server_.providers_) {
                busy_ = true;
                auto self = shared_from_this();
                auto limits = rt->limits;
                ProviderRules rules{[limits](const std::string& d) { return limits->providerForDomain(d); },
                                    [limits](const std::vector<std::string>& mx) { return limits->providerForMx(mx); }};
                auto shared = std::make_shared<Request>(std::move(req));
                server_.providers_->resolve(domain, rules, [self, shared](ProviderAnswer a) {
                    if (self->closed_) return;
                    shared->provider = a.provider;
                    self->busy_ = false;
                    try {
                        self->decideAndQueue(*shared);
                    } catch (const std::exception& e) {
                        ++self->server_.counters_.errors;
                        log::error(std::string("internal error deciding: ") + e.what());
                        self->queue(self->server_.runtime_->errorAction, false);
                    }
                    self->process();  // reads go on meanwhile; take what arrived
                });
                return;
            }
            decideAndQueue(req);
            return;
        }
        if (req.protocolState == "END-OF-MESSAGE") {
            auto res = server_.state_.commit(req.instance, req.queueId, req.recipientCount,
                                             util::toLower(req.recipient), server_.clock_->now());
            if (res.found) {
                ++server_.counters_.commits;
                log::info(
                    (req.queueId.empty() ? std::string("NOQUEUE") : req.queueId) + ": counted " +
                    std::to_string(res.committedRecipients) + " recipient(s)" +
                    (res.releasedRecipients ? ", released " + std::to_string(res.releasedRecipients) : std::string()) +
                    " (instance " + req.instance + ")");
            }
            if (req.instance == lastInstance_) lastInstance_.clear();
            server_.txOwner_.erase(req.instance);
            queue("DUNNO", res.found);
            return;
        }
        queue("DUNNO", false);  // CONNECT, MAIL, DATA...: nothing to pace there
    }

    void decideAndQueue(Request& req) {
        auto rt = server_.runtime_;
        auto now = server_.clock_->now();
        bool synthetic = req.instance.empty();
        if (synthetic) req.instance = "rampart-noinstance-" + std::to_string(id_) + "-" + std::to_string(++seq_);
        Decision d = decide(req, *rt->limits, server_.state_, now, rt->monitorOnly);
        if (d.verdict == Verdict::Allow) server_.state_.reserve(d.mutations);
        const std::string who = "from=<" + req.sender + "> to=<" + req.recipient + ">" +
                                (req.saslUsername.empty() ? "" : " sasl=" + req.saslUsername) +
                                (req.clientAddress.empty() ? "" : " client=" + req.clientAddress);
        for (const auto& w : d.wouldDefer) {
            ++server_.counters_.wouldDefer;
            log::info("would defer (monitor only): " + who + ": " + w.text);
        }
        switch (d.verdict) {
            case Verdict::Allow:
                ++server_.counters_.allowed;
                if (synthetic) {
                    // No instance (an Exim ACL without one): there is no END-OF-MESSAGE to wait for,
                    // so count now; a cap is never exceeded because a reservation expired.
                    server_.state_.commit(req.instance, "", 1, util::toLower(req.recipient), now);
                }
                log::debug("permit: " + who + " (" + std::to_string(d.limitsApplied) + " limits)");
                break;
            case Verdict::Refuse:
                ++server_.counters_.refused;
                log::info((d.action.rfind("REJECT", 0) == 0 ? "reject: " : "defer: ") + who + ": " + d.refusal->text);
                break;
            case Verdict::Exempt:
                ++server_.counters_.exempt;
                log::debug("exempt: " + who);
                break;
            case Verdict::NotApplicable:
                ++server_.counters_.notApplicable;
                break;
        }
        queue(d.action, d.verdict == Verdict::Allow);
    }

    void queue(std::string action, bool needsDurability) {
        queued_.push_back({std::move(action), needsDurability});
        server_.pendingFlush_.push_back(shared_from_this());
        server_.scheduleFlush();
    }

    void writeSome() {
        if (writing_ || closed_) return;
        if (outbuf_.empty()) {
            if (eof_ && !busy_ && offset_ >= buffer_.size()) finishAfterWrites();
            return;
        }
        writing_ = true;
        inflight_.swap(outbuf_);
        auto self = shared_from_this();
        asio::async_write(socket_, asio::buffer(inflight_), [self](boost::system::error_code ec, size_t) {
            self->writing_ = false;
            self->inflight_.clear();
            if (ec) {
                if (!self->closed_) log::debug("write to " + self->peer_ + " failed: " + ec.message());
                self->close();
                return;
            }
            self->writeSome();
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
    asio::steady_timer idle_;
    uint64_t id_;
    std::string peer_;
    std::array<char, 8192> chunk_{};
    std::string buffer_;
    size_t offset_ = 0;
    std::vector<Queued> queued_;
    std::string outbuf_, inflight_;
    std::string lastInstance_;
    uint64_t seq_ = 0;
    bool busy_ = false, eof_ = false, closed_ = false, writing_ = false;
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
            std::string reply;
            try {
                reply = self->server_.handleControl(cmd);
            } catch (const std::exception& e) {
                reply = std::string("error: ") + e.what() + "\n";
            }
            // Operator changes are journaled like any other before the answer.
            if (self->server_.journal_) {
                self->server_.journal_->append(self->server_.state_);
                if (auto r = self->server_.journal_->flush(); !r) reply = "error: journal: " + r.error() + "\n";
            }
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

PolicyServer::PolicyServer(asio::io_context& io, std::shared_ptr<const Runtime> runtime, State& state, Journal* journal,
                           std::shared_ptr<const util::Clock> clock)
    : io_(io),
      runtime_(std::move(runtime)),
      state_(state),
      journal_(journal),
      clock_(std::move(clock)),
      housekeepingTimer_(io) {}

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
    const auto& cfg = *runtime_->config;
    dns::ResolverOptions ro;
    ro.servers = cfg.list("dns_servers");
    ro.timeout = runtime_->mxTimeout;
    auto pr = ProviderResolver::create(io_, ro, 100000);
    if (!pr) return util::err("MX resolver: " + pr.error());
    providers_ = std::move(pr).value();
    for (size_t i = 0; i < acceptors_.size(); ++i)
        accept(i);
    for (size_t i = 0; i < controlAcceptors_.size(); ++i)
        acceptControl(i);
    nextStats_ = std::chrono::steady_clock::now() + runtime_->statsInterval;
    housekeeping();
    return true;
}

void PolicyServer::accept(size_t index) {
    acceptors_[index]->async_accept([this, index](boost::system::error_code ec, generic::socket socket) {
        if (stopping_) return;
        if (!ec) {
            ++counters_.connections;
            if (connections_.size() >= runtime_->maxConnections) {
                ++counters_.rejectedConnections;
                if (counters_.rejectedConnections % 100 == 1) {
                    log::warning("policyd_max_connections (" + std::to_string(runtime_->maxConnections) +
                                 ") reached; closing new connections");
                }
                boost::system::error_code ignored;
                socket.close(ignored);
            } else {
                std::string peer;
                try {
                    auto ep = socket.remote_endpoint();
                    if (ep.protocol().family() == AF_INET || ep.protocol().family() == AF_INET6) {
                        asio::ip::tcp::endpoint tcp;
                        tcp.resize(ep.size());
                        std::memcpy(tcp.data(), ep.data(), ep.size());
                        peer = tcp.address().to_string() + ":" + std::to_string(tcp.port());
                    }
                } catch (...) {
                }
                uint64_t id = nextConnectionId_++;
                if (peer.empty()) peer = "unix#" + std::to_string(id);
                auto c = std::make_shared<Connection>(*this, std::move(socket), id, peer);
                connections_.insert(c);
                c->start();
            }
        } else if (ec != asio::error::operation_aborted) {
            log::warning(std::string("accept: ") + ec.message());
        }
        if (!stopping_) accept(index);
    });
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
    if (journal_) {
        journal_->append(state_);
        if (auto r = journal_->flush(); !r) {
            durable = false;
            ++counters_.errors;
            log::error("journal write failed: " + r.error() + "; answering " + runtime_->errorAction);
        }
    }
    auto pending = std::move(pendingFlush_);
    pendingFlush_.clear();
    for (auto& c : pending)
        c->writePending(durable, runtime_->errorAction);
}

void PolicyServer::housekeeping() {
    if (stopping_) return;
    auto now = clock_->now();
    try {
        // A budget keeps a large state from stalling the loop: the scan resumes where it stopped.
        auto ex = state_.expire(now, state_.scopeCount() / 60 + 100);
        if (ex.releasedReservations) {
            counters_.releases += ex.releasedReservations;
            log::info("released " + std::to_string(ex.releasedReservations) +
                      " reservation(s) that no END-OF-MESSAGE claimed within policyd_reservation_timeout");
        }
        // Forget the senders of transactions whose reservations are gone (released or expired).
        if (txOwner_.size() > 2 * state_.reservationCount() + 1000) {
            for (auto it = txOwner_.begin(); it != txOwner_.end();) {
                it = state_.reservation(it->first) ? std::next(it) : txOwner_.erase(it);
            }
        }
        if (journal_) {
            journal_->append(state_);
            if (auto r = journal_->flush(); !r) log::error("journal write failed: " + r.error());
            journal_->maybeSnapshot(state_, now);
            if (auto e = journal_->takeBackgroundError()) log::error("journal: " + *e);
        }
    } catch (const std::exception& e) {
        log::error(std::string("housekeeping: ") + e.what());
    }
    auto steady = std::chrono::steady_clock::now();
    if (runtime_->statsInterval.count() > 0 && steady >= nextStats_) {
        log::info(statsLine());
        nextStats_ = steady + runtime_->statsInterval;
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

void PolicyServer::setRuntime(std::shared_ptr<const Runtime> runtime) {
    runtime_ = std::move(runtime);
    state_.setOptions(stateOptions(*runtime_->config));
}

std::string PolicyServer::statsLine() const {
    const Counters& c = counters_;
    std::string s = "stats: requests=" + std::to_string(c.requests) + " permitted=" + std::to_string(c.allowed) +
                    " deferred=" + std::to_string(c.refused) + " exempt=" + std::to_string(c.exempt) +
                    " not_applicable=" + std::to_string(c.notApplicable) +
                    " would_defer=" + std::to_string(c.wouldDefer) + " committed=" + std::to_string(c.commits) +
                    " released=" + std::to_string(c.releases) + " refunds=" + std::to_string(c.refunds) +
                    " suppressed=" + std::to_string(c.suppressed) + " errors=" + std::to_string(c.errors) +
                    " garbage=" + std::to_string(c.garbage) + " connections=" + std::to_string(connections_.size()) +
                    "/" + std::to_string(c.connections);
    if (c.rejectedConnections) s += " refused_connections=" + std::to_string(c.rejectedConnections);
    s += "; state: scopes=" + std::to_string(state_.scopeCount()) +
         " reservations=" + std::to_string(state_.reservationCount()) +
         " commits=" + std::to_string(state_.commitCount());
    if (providers_) {
        const auto& p = providers_->counters();
        s += "; mx: lookups=" + std::to_string(p.lookups) + " cache_hits=" + std::to_string(p.cacheHits) +
             " timeouts=" + std::to_string(p.timeouts) + " failures=" + std::to_string(p.failures) +
             " cached=" + std::to_string(providers_->cached());
    }
    return s;
}

// Control commands (one line, fields separated by tabs), from rampartctl:
//   status [SCOPE]            -> "ok" line, then JSON
//   pause SCOPE WHO WHY
//   resume SCOPE
//   reset SCOPE [WARMUP_DAY]
//   stats
std::string PolicyServer::handleControl(const std::string& line) {
    auto f = util::splitExact(line, '\t');
    const std::string cmd(f.empty() ? std::string_view() : f[0]);
    auto now = clock_->now();
    auto spec = [&](size_t i) -> util::Result<ScopeSpec> {
        if (f.size() <= i || f[i].empty()) return util::err("a scope is needed, e.g. mailbox=bob@example.com");
        return ScopeSpec::parse(f[i]);
    };
    if (cmd == "stats") return "ok\n" + statsLine() + "\n";
    if (cmd == "status") {
        std::optional<ScopeSpec> filter;
        if (f.size() > 1 && !f[1].empty()) {
            auto s = ScopeSpec::parse(f[1]);
            if (!s) return "error: " + s.error() + "\n";
            filter = *s;
        }
        auto rows = state_.status(*runtime_->limits, filter ? &*filter : nullptr, now);
        return "ok\n" + statusJson(rows, state_.pauses()) + "\n";
    }
    if (cmd == "pause") {
        auto s = spec(1);
        if (!s) return "error: " + s.error() + "\n";
        std::string who(f.size() > 2 ? f[2] : "rampartctl"), why(f.size() > 3 ? f[3] : "");
        auto r = state_.pause(*s, who, why, now);
        if (!r) return "error: " + r.error() + "\n";
        log::warning("paused " + s->str() + " by " + who + (why.empty() ? "" : ": " + why));
        return "ok\npaused " + s->str() + "\n";
    }
    if (cmd == "resume") {
        auto s = spec(1);
        if (!s) return "error: " + s.error() + "\n";
        std::string who(f.size() > 2 ? f[2] : "rampartctl");
        if (!state_.resume(*s)) return "error: " + s->str() + " is not paused\n";
        log::warning("resumed " + s->str() + " by " + who);
        return "ok\nresumed " + s->str() + "\n";
    }
    if (cmd == "reset") {
        auto s = spec(1);
        if (!s) return "error: " + s.error() + "\n";
        std::optional<uint32_t> day;
        if (f.size() > 2 && !f[2].empty() && f[2] != "-") {
            auto d = util::parseUnsigned(f[2]);
            if (!d || *d == 0 || *d > 100000) return "error: --warmup-day needs a day number from 1\n";
            day = static_cast<uint32_t>(*d);
        }
        std::string who(f.size() > 3 ? f[3] : "rampartctl"), why(f.size() > 4 ? f[4] : "");
        size_t n = state_.reset(*s, day, *runtime_->limits, now);
        log::warning("reset " + s->str() + (day ? " to warmup day " + std::to_string(*day) : "") + " by " + who +
                     (why.empty() ? "" : ": " + why) + " (" + std::to_string(n) + " entries)");
        return "ok\nreset " + std::to_string(n) + " entr" + (n == 1 ? "y" : "ies") + "\n";
    }
    return "error: unknown command \"" + util::printable(cmd, 40) + "\"\n";
}

}  // namespace rampart::policyd
