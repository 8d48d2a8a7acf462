// rampart-policyd's network side, on one Boost.Asio event loop (the only code that owns its
// sockets): policy listeners (unix and inet; Postfix's persistent connections and Exim's one-shot
// request / half-close / reply / close), the control socket for rampartctl, and group commit: the
// state changes of one loop turn are written to the journal with one write(2) before any reply of
// that turn is sent, so every answered permit survives a kill -9.
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
#include <vector>

#include "config/config.h"
#include "mail/tenants.h"
#include "policyd/journal.h"
#include "policyd/limits.h"
#include "policyd/protocol.h"
#include "policyd/providers.h"
#include "policyd/state.h"
#include "policyd/unsubscribe_http.h"
#include "suppression/suppression.h"
#include "util/clock.h"
#include "util/process.h"

namespace rampart::policyd {

using GenericAcceptor = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;

// What a configuration generation decides with; replaced as a whole on SIGHUP.
struct Runtime {
    std::shared_ptr<const config::Config> config;
    std::shared_ptr<const LimitSet> limits;
    ProtocolLimits protocol;
    bool monitorOnly = false;
    std::string errorAction;  // the reply when we cannot decide or cannot make a decision durable
    size_t maxConnections = 2000;
    std::chrono::seconds idleTimeout{900};
    std::chrono::milliseconds mxTimeout{2000};
    std::chrono::seconds statsInterval{600};
    bool checkSuppression = true;                            // policyd_check_suppression
    std::shared_ptr<const mail::TenantMap> tenants;          // tenant_map, for tenant-scoped suppressions
    std::shared_ptr<const UnsubscribeSettings> unsubscribe;  // null: unsubscribe_secret is empty
    uint64_t generation = 0;
};

// Builds a runtime from a configuration; problems go to diags (file:line).
std::shared_ptr<const Runtime> buildRuntime(std::shared_ptr<const config::Config> config, config::Diagnostics& diags);
StateOptions stateOptions(const config::Config& cfg);

struct Counters {
    uint64_t requests = 0, allowed = 0, refused = 0, exempt = 0, notApplicable = 0, wouldDefer = 0;
    uint64_t commits = 0, releases = 0, refunds = 0, errors = 0, garbage = 0, connections = 0, rejectedConnections = 0;
    uint64_t suppressed = 0;
};

class PolicyServer {
  public:
    PolicyServer(boost::asio::io_context& io, std::shared_ptr<const Runtime> runtime, State& state, Journal* journal,
                 std::shared_ptr<const util::Clock> clock);
    ~PolicyServer();

    // Binds a listener (call as root before dropping privileges); unix sockets get mode/owner/group.
    util::Result<bool> listen(const config::ListenAddress& address, unsigned mode, const util::Account& owner,
                              const std::string& group);
    util::Result<bool> listenControl(const config::ListenAddress& address, const util::Account& owner);
    // After the privilege drop: creates the MX resolver and starts accepting, timers included.
    util::Result<bool> start();
    // Stops accepting, lets pending replies go out, flushes the journal.
    void stop();

    void setRuntime(std::shared_ptr<const Runtime> runtime);
    // The journal is opened after the privilege drop (its files belong to rampart_user), after the
    // sockets were bound as root: hand it over before start().
    void setJournal(Journal* journal) { journal_ = journal; }
    // The suppression index (kept current by a suppress::Follower): a suppressed recipient is
    // refused at RCPT before any cap slot is reserved.
    void setSuppression(std::shared_ptr<const suppress::Index> index) { suppression_ = std::move(index); }
    std::shared_ptr<const Runtime> runtime() const { return runtime_; }
    std::string statsLine() const;
    const Counters& counters() const { return counters_; }

    class Connection;
    class ControlConnection;
    friend class Connection;
    friend class ControlConnection;

  private:
    void accept(size_t index);
    void acceptControl(size_t index);
    void scheduleFlush();
    void flushTurn();
    void housekeeping();
    std::string handleControl(const std::string& line);

    boost::asio::io_context& io_;
    std::shared_ptr<const Runtime> runtime_;
    State& state_;
    Journal* journal_;
    std::shared_ptr<const util::Clock> clock_;
    std::unique_ptr<ProviderResolver> providers_;
    std::shared_ptr<const suppress::Index> suppression_;
    std::vector<std::unique_ptr<GenericAcceptor>> acceptors_;
    std::vector<std::unique_ptr<GenericAcceptor>> controlAcceptors_;
    std::vector<std::string> unixPaths_;
    std::set<std::shared_ptr<Connection>> connections_;
    struct TxOwner {
        std::string sender;
        uint64_t connection = 0;
    };
    std::unordered_map<std::string, TxOwner> txOwner_;  // open instance -> its sender and connection
    std::vector<std::shared_ptr<Connection>> pendingFlush_;
    bool flushScheduled_ = false;
    boost::asio::steady_timer housekeepingTimer_;
    std::chrono::steady_clock::time_point nextStats_;
    Counters counters_;
    bool stopping_ = false;
    uint64_t nextConnectionId_ = 1;
};

}  // namespace rampart::policyd
