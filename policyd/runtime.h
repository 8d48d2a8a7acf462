// What one configuration generation of rampart-policyd decides with: the limits file, protocol
// bounds, the error action, timeouts, suppression and tenant settings. Built from a Config at start
// and on every SIGHUP, then replaced as a whole (requests in flight keep the generation they began
// with). No sockets: rampartctl's check-config builds one too.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "mail/tenants.h"
#include "policyd/connection_bounds.h"
#include "policyd/limits.h"
#include "policyd/protocol.h"
#include "policyd/state.h"
#include "policyd/unsubscribe_settings.h"

namespace rampart::policyd {

struct Runtime {
    std::shared_ptr<const config::Config> config;
    std::shared_ptr<const LimitSet> limits;
    ProtocolLimits protocol;
    StateOptions state;  // policyd_reservation_timeout, policyd_refund_window
    bool monitorOnly = false;
    std::string errorAction;  // the reply when we cannot decide or cannot make a decision durable
    size_t maxConnections = 2000;
    size_t maxConnectionsPerPeer = 1000;      // per unix client uid / inet client address
    FlowLimits flow;                          // policyd_max_request_size, policyd_max_pending_replies
    std::chrono::seconds idleTimeout{900};    // between requests
    std::chrono::seconds requestTimeout{30};  // from a request's first byte to its last
    std::chrono::milliseconds mxTimeout{2000};
    std::chrono::seconds statsInterval{600};
    bool checkSuppression = true;                            // policyd_check_suppression
    std::shared_ptr<const mail::TenantMap> tenants;          // tenant_map, for tenant-scoped suppressions
    std::shared_ptr<const UnsubscribeSettings> unsubscribe;  // null: unsubscribe_secret is empty
    uint64_t generation = 0;
};

// Builds a runtime from a configuration; problems go to diags (file:line). Null when any is an error.
std::shared_ptr<const Runtime> buildRuntime(std::shared_ptr<const config::Config> config, config::Diagnostics& diags);
// The state's options from the configuration (policyd_reservation_timeout, policyd_refund_window).
StateOptions stateOptions(const config::Config& cfg);

}  // namespace rampart::policyd
