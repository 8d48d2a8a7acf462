// Everything rampart-milter needs to process a message, built from one Config: the eligibility rule
// ("our users' mail"), the stage pipeline and its keys. A Runtime is immutable; a reload builds a new
// one, validates it completely and swaps it in (RuntimeHolder); a message keeps the generation it
// started with.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "milter/pipeline.h"
#include "milter/refund_client.h"
#include "net/cidr.h"
#include "suppression/suppression.h"
#include "util/clock.h"
#include "util/process.h"

namespace rampart::milter {

// Which mail is our users' mail: authenticated, from internal networks, or from a named listener.
struct Eligibility {
    net::CidrList internalNetworks;
    bool trustAuthenticated = true;
    std::vector<std::string> daemonNames;
    // Sets env.ours and env.oursReason from the envelope's client, daemon name and auth user.
    void classify(Envelope& env) const;
};

struct Runtime {
    std::shared_ptr<const config::Config> config;
    Eligibility eligibility;
    std::unique_ptr<Pipeline> pipeline;
    uint64_t headerSizeLimit = 0;
    bool acceptOnInternalError = false;
    std::chrono::seconds statsInterval{600};
    std::shared_ptr<const RefundClient> refunds;  // null: milter_refund_socket is empty
    std::string summary;                          // for the start-up / reload log line
    uint64_t generation = 0;
};

struct BuildOptions {
    bool dnsCheck = false;  // look up the published keys (dkim_key_dns_check)
    std::shared_ptr<const util::Clock> clock = std::make_shared<util::SystemClock>();
    // Account whose keys count as safe; default: rampart_user from the config.
    std::optional<util::Account> keyOwner;
    // The daemon's suppression index (kept current by a suppress::Follower). Null: no suppression
    // stage (check-config builds, tests of other stages).
    std::shared_ptr<const suppress::Index> suppression;
};

// Builds a runtime; every problem goes to `diags` with file:line. Returns nullptr if any error.
std::shared_ptr<const Runtime> buildRuntime(std::shared_ptr<const config::Config> config, const BuildOptions& options,
                                            config::Diagnostics& diags);

class RuntimeHolder {
  public:
    std::shared_ptr<const Runtime> get() const {
        std::lock_guard lock(mu_);
        return current_;
    }
    void set(std::shared_ptr<const Runtime> r) {
        std::lock_guard lock(mu_);
        current_ = std::move(r);
    }

  private:
    mutable std::mutex mu_;
    std::shared_ptr<const Runtime> current_;
};

}  // namespace rampart::milter
