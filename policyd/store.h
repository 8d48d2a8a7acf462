// The state seam: what rampart-policyd's request service needs from pacing state, and nothing else.
// Today's implementation is the daemon's own memory plus its journal (journal_store.h); a fleet
// store (Redis) implements the same operations with the same semantics, so the request service,
// the control commands and the tests do not change with the store.
//
// Semantics every implementation keeps:
//  - reserve() is all-or-nothing: it decides with decide() against the store's current state, and
//    when the verdict is Allow it holds every counter the decision names, atomically with respect to
//    every other reserve() of the fleet; when any limit refuses, nothing is held anywhere.
//  - commit(), release() and refund() are idempotent per instance / queue id / recipient.
//  - Every change is durable once flush() returned without error: the caller answers a permit only
//    after that (an error: answer policyd_error_action; nothing answered is ever taken back).
//  - now() is the clock the store answers with: the daemon's own for the journal, the server's time
//    for a shared store, so every member of a fleet counts calendar periods alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/decide.h"
#include "policyd/limits.h"
#include "policyd/request.h"
#include "policyd/state.h"
#include "util/clock.h"
#include "util/result.h"

namespace rampart::policyd {

// Sizes for the stats line and status.
struct StoreCounts {
    size_t scopes = 0;
    size_t reservations = 0;
    size_t commits = 0;
};

class StateStore {
  public:
    virtual ~StateStore() = default;

    virtual util::SystemTime now() const = 0;
    virtual void setOptions(const StateOptions& options) = 0;

    // ---- the request path
    // Decides the RCPT request (decide(), see decide.h) and, when it is allowed, holds what the
    // decision counts under req.instance until commit(), release() or expiry.
    virtual Decision reserve(const Request& req, const LimitSet& limits, bool monitorOnly, util::SystemTime now) = 0;
    // END-OF-MESSAGE (see State::commit).
    virtual CommitResult commit(std::string_view instance, std::string_view queueId, uint64_t recipientCount,
                                std::string_view recipient, util::SystemTime now) = 0;
    // The transaction ended without END-OF-MESSAGE: give its reservations back. False: none held.
    virtual bool release(std::string_view instance) = 0;
    // The instance still holds a reservation.
    virtual bool holds(std::string_view instance) const = 0;
    // The milter refused a counted message: give its counts back (all recipients when empty).
    virtual RefundResult refund(std::string_view queueId, const std::vector<std::string>& recipients,
                                util::SystemTime now) = 0;
    // Some pause needs the recipient's provider to match.
    virtual bool pausesNeedProvider() const = 0;

    // ---- operator controls (rampartctl through the control socket)
    virtual util::Result<bool> pause(const ScopeSpec& spec, std::string_view who, std::string_view why,
                                     util::SystemTime now) = 0;
    virtual bool resume(const ScopeSpec& spec) = 0;
    virtual size_t reset(const ScopeSpec& spec, std::optional<uint32_t> warmupDay, const LimitSet& limits,
                         util::SystemTime now) = 0;
    virtual std::vector<StatusRow> status(const LimitSet& limits, const ScopeSpec* filter,
                                          util::SystemTime now) const = 0;
    virtual std::vector<Pause> pauses() const = 0;

    // ---- upkeep, called by the I/O layer
    // Makes every change since the last call durable (one write for the journal). Called once per
    // event-loop turn, before that turn's answers are sent.
    virtual util::Result<bool> flush() = 0;
    // Releases expired reservations and forgets old commits and idle counters, examining at most
    // `budget` scope entries; then whatever upkeep the store has (the journal's snapshots). Problems
    // are logged, never thrown.
    virtual ExpireResult maintain(util::SystemTime now, size_t budget) = 0;
    virtual StoreCounts counts() const = 0;
};

}  // namespace rampart::policyd
