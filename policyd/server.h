// rampart-policyd's network side, on one Boost.Asio event loop (the only code that owns its
// sockets): policy listeners (unix and inet; Postfix's persistent connections and Exim's one-shot
// request / half-close / reply / close), the control socket for rampartctl, timers, MX lookups for
// suspended requests, and group commit: the state changes of one loop turn are made durable by the
// store's flush() (one write(2) for the journal) before any reply of that turn is sent, so every
// answered permit survives a kill -9. Every decision is the request service's (service.h).
#pragma once

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/values.h"
#include "policyd/connection_bounds.h"
#include "policyd/providers.h"
#include "policyd/service.h"
#include "util/process.h"
#include "util/result.h"

namespace rampart::policyd {

using GenericAcceptor = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

class PolicyServer {
  public:
    // The service decides; this server only moves its requests and replies (and outlives neither).
    PolicyServer(boost::asio::io_context& io, PolicyService& service);
    ~PolicyServer();

    // Binds a listener (call as root before dropping privileges); unix sockets get mode/owner/group.
    util::Result<bool> listen(const config::ListenAddress& address, unsigned mode, const util::Account& owner,
                              const std::string& group);
    util::Result<bool> listenControl(const config::ListenAddress& address, const util::Account& owner);
    // After the privilege drop: creates the MX resolver and starts accepting, timers included.
    util::Result<bool> start();
    // Stops accepting, lets pending replies go out, flushes the journal.
    void stop();

    PolicyService& service() { return service_; }
    std::string statsLine() const;

    class Connection;
    class ControlConnection;
    friend class Connection;
    friend class ControlConnection;

  private:
    void accept(size_t index);
    void acceptControl(size_t index);
    static std::pair<std::string, std::string> describePeer(boost::asio::generic::stream_protocol::socket& socket);
    void refusePerPeer(const std::string& peer, const std::string& peerKey, size_t limit);
    void scheduleFlush();
    void flushTurn();
    void housekeeping();

    boost::asio::io_context& io_;
    PolicyService& service_;
    std::unique_ptr<ProviderResolver> providers_;
    std::vector<std::unique_ptr<GenericAcceptor>> acceptors_;
    std::vector<std::unique_ptr<GenericAcceptor>> controlAcceptors_;
    std::vector<std::string> unixPaths_;
    std::set<std::shared_ptr<Connection>> connections_;
    std::vector<std::shared_ptr<Connection>> pendingFlush_;
    bool flushScheduled_ = false;
    boost::asio::steady_timer housekeepingTimer_;
    std::chrono::steady_clock::time_point nextStats_;
    bool stopping_ = false;
    uint64_t nextConnectionId_ = 1;
    // Rampart issue 9: connections per peer, and what the bounds refused or closed (stats line).
    PeerCounts peerCounts_;
    uint64_t refusedPerPeer_ = 0, refusedPerPeerLogged_ = 0, requestTimeouts_ = 0, pendingLimitCloses_ = 0;
    std::chrono::steady_clock::time_point nextPeerLimitLog_{};
};

}  // namespace rampart::policyd
