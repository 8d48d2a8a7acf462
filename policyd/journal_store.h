// The first StateStore (store.h): the daemon's own in-memory State, made durable by its Journal
// (policyd_store = journal:DIRECTORY). Without a journal (unit tests, golden transcripts) it is a
// memory-only store with the same semantics minus durability.
#pragma once

#include <memory>

#include "policyd/journal.h"
#include "policyd/state.h"
#include "policyd/store.h"
#include "util/clock.h"

namespace rampart::policyd {

class JournalStore : public StateStore {
  public:
    JournalStore(State& state, std::shared_ptr<const util::Clock> clock) : state_(state), clock_(std::move(clock)) {}

    // The journal is opened after the privilege drop (its files belong to rampart_user), after the
    // sockets were bound as root: hand it over before the first request.
    void setJournal(Journal* journal) { journal_ = journal; }
    const State& state() const { return state_; }

    util::SystemTime now() const override { return clock_->now(); }
    void setOptions(const StateOptions& options) override { state_.setOptions(options); }

    Decision reserve(const Request& req, const LimitSet& limits, bool monitorOnly, util::SystemTime now) override;
    CommitResult commit(std::string_view instance, std::string_view queueId, uint64_t recipientCount,
                        std::string_view recipient, util::SystemTime now) override;
    bool release(std::string_view instance) override { return state_.release(instance); }
    bool holds(std::string_view instance) const override { return state_.reservation(instance) != nullptr; }
    RefundResult refund(std::string_view queueId, const std::vector<std::string>& recipients,
                        util::SystemTime now) override;
    bool pausesNeedProvider() const override { return state_.pausesNeedProvider(); }

    util::Result<bool> pause(const ScopeSpec& spec, std::string_view who, std::string_view why,
                             util::SystemTime now) override;
    bool resume(const ScopeSpec& spec) override { return state_.resume(spec); }
    size_t reset(const ScopeSpec& spec, std::optional<uint32_t> warmupDay, const LimitSet& limits,
                 util::SystemTime now) override;
    std::vector<StatusRow> status(const LimitSet& limits, const ScopeSpec* filter, util::SystemTime now) const override;
    std::vector<Pause> pauses() const override { return state_.pauses(); }

    util::Result<bool> flush() override;
    ExpireResult maintain(util::SystemTime now, size_t budget) override;
    StoreCounts counts() const override;

  private:
    State& state_;
    std::shared_ptr<const util::Clock> clock_;
    Journal* journal_ = nullptr;
};

}  // namespace rampart::policyd
