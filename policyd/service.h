// rampart-policyd's request service: everything the daemon decides about a policy request, without
// sockets. The I/O layer (server.cpp) parses a request off a connection, calls handle(), and sends
// the reply's action once the store made this turn durable; it never decides anything itself.
//
// What the service owns: transaction ownership per instance (a new instance on a connection releases
// what the previous one did not commit; an instance reused by another sender releases the first
// sender's hold), the suppression refusal before anything is reserved, the RCPT decision through the
// store, the END-OF-MESSAGE commit, Exim's commit at RCPT when it sends no instance, refunds from the
// milter, and the counters.
//
// Suspension, the one way the service waits for the outside world: when a request needs something
// the service cannot compute (today the recipient domain's mailbox provider, i.e. an MX lookup; a
// store round trip tomorrow), handle() returns Reply::Kind::Suspend with a Need. The I/O layer
// satisfies the need however it likes (asynchronously), then calls resume() with the answer; the
// request goes on exactly where it stopped (nothing done before the suspension is done twice).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "policyd/request.h"
#include "policyd/runtime.h"
#include "policyd/store.h"
#include "suppression/suppression.h"
#include "util/clock.h"

namespace rampart::policyd {

struct Counters {
    uint64_t requests = 0, allowed = 0, refused = 0, exempt = 0, notApplicable = 0, wouldDefer = 0;
    uint64_t commits = 0, releases = 0, refunds = 0, errors = 0, garbage = 0, connections = 0, rejectedConnections = 0;
    uint64_t suppressed = 0;
};

// One client connection as the service sees it (owned by the I/O layer, one per connection).
struct Session {
    uint64_t id = 0;            // unique per daemon run, never 0
    std::string peer;           // for log lines: "192.0.2.1:40000", "unix#12"
    std::string lastInstance;   // the transaction in progress on this connection
    uint64_t syntheticSeq = 0;  // numbers the instances made up for requests without one (Exim)
};

// What a suspended request waits for.
struct Need {
    enum class Kind : uint8_t {
        Provider,  // the mailbox provider of domain `subject` (an MX lookup); answer: the provider
                   // name, or the domain itself when unknown or the lookup failed
    };
    Kind kind = Kind::Provider;
    std::string subject;
    // The limits generation whose provider table and MX patterns map the answer (Provider).
    std::shared_ptr<const LimitSet> limits;
};
std::string_view needName(Need::Kind kind);  // "provider"

// A request parked until its need is satisfied.
struct Suspension {
    Need need;
    Request request;
};

struct Reply {
    enum class Kind : uint8_t {
        Answer,   // send `action`
        Suspend,  // satisfy suspension->need, then call resume()
        Close,    // a protocol violation: close the connection (already logged and counted)
    };
    Kind kind = Kind::Answer;
    std::string action;  // Answer: "DUNNO", "DEFER_IF_PERMIT 4.7.1 rampart: ...", "OK refunded ..."
    // Answer: this reply stands for a state change (a permit that counted, a commit, a refund): send
    // it only once the store's flush() of this turn succeeded, else send the runtime's errorAction.
    bool needsDurability = false;
    std::shared_ptr<Suspension> suspension;  // Suspend

    static Reply answer(std::string action, bool needsDurability = false) {
        return {Kind::Answer, std::move(action), needsDurability, nullptr};
    }
};

class PolicyService {
  public:
    PolicyService(std::shared_ptr<const Runtime> runtime, StateStore& store);

    // One parsed request of a session. Never throws: an internal error is logged, counted and
    // answered with the runtime's errorAction.
    Reply handle(Session& session, const Request& request, util::SystemTime now);
    // Continues a suspended request with the answer to its need.
    Reply resume(Session& session, Suspension& suspension, const std::string& answer, util::SystemTime now);

    // Releases expired reservations (a budget per call keeps the event loop responsive), forgets the
    // owners of transactions that hold nothing, and lets the store do its upkeep. Call every second.
    void housekeeping(util::SystemTime now);

    // A new configuration generation (SIGHUP); the store takes its state options.
    void setRuntime(std::shared_ptr<const Runtime> runtime);
    std::shared_ptr<const Runtime> runtime() const { return runtime_; }
    // The suppression index (kept current by a suppress::Follower); null: no list configured.
    void setSuppression(std::shared_ptr<const suppress::Index> index) { suppression_ = std::move(index); }
    StateStore& store() { return store_; }
    const StateStore& store() const { return store_; }
    const Counters& counters() const { return counters_; }
    Counters& counters() { return counters_; }  // the I/O layer counts connections and garbage

  private:
    Reply dispatch(Session& session, const Request& request, util::SystemTime now);
    Reply rcpt(Session& session, const Request& request, util::SystemTime now);
    Reply endOfMessage(Session& session, const Request& request, util::SystemTime now);
    Reply refund(const Request& request, util::SystemTime now);
    // The RCPT request once every need is met: decide, reserve, log, answer.
    Reply decideRcpt(Session& session, Request& request, util::SystemTime now);
    std::optional<Reply> suppressed(const Request& request, util::SystemTime now);
    Reply internalError(const std::string& what);

    std::shared_ptr<const Runtime> runtime_;
    StateStore& store_;
    std::shared_ptr<const suppress::Index> suppression_;
    struct TxOwner {
        std::string sender;
        uint64_t session = 0;
    };
    std::unordered_map<std::string, TxOwner> txOwner_;  // open instance -> its sender and session
    Counters counters_;
};

}  // namespace rampart::policyd
