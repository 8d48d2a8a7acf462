// The journal-backed StateStore: each operation is the State's, and flush() / maintain() hand the
// state's changes to the journal (one write per event-loop turn, snapshots in the background).
#include "policyd/journal_store.h"

#include "util/log.h"

namespace rampart::policyd {

Decision JournalStore::reserve(const Request& req, const LimitSet& limits, bool monitorOnly, util::SystemTime now) {
    Decision d = decide(req, limits, state_, now, monitorOnly);
    if (d.verdict == Verdict::Allow) state_.reserve(d.mutations);
    return d;
}

CommitResult JournalStore::commit(std::string_view instance, std::string_view queueId, uint64_t recipientCount,
                                  std::string_view recipient, util::SystemTime now) {
    return state_.commit(instance, queueId, recipientCount, recipient, now);
}

RefundResult JournalStore::refund(std::string_view queueId, const std::vector<std::string>& recipients,
                                  util::SystemTime now) {
    return state_.refund(queueId, recipients, now);
}

util::Result<bool> JournalStore::pause(const ScopeSpec& spec, std::string_view who, std::string_view why,
                                       util::SystemTime now) {
    return state_.pause(spec, who, why, now);
}

size_t JournalStore::reset(const ScopeSpec& spec, std::optional<uint32_t> warmupDay, const LimitSet& limits,
                           util::SystemTime now) {
    return state_.reset(spec, warmupDay, limits, now);
}

std::vector<StatusRow> JournalStore::status(const LimitSet& limits, const ScopeSpec* filter,
                                            util::SystemTime now) const {
    return state_.status(limits, filter, now);
}

util::Result<bool> JournalStore::flush() {
    if (!journal_) return false;
    journal_->append(state_);
    return journal_->flush();
}

ExpireResult JournalStore::maintain(util::SystemTime now, size_t budget) {
    ExpireResult ex = state_.expire(now, budget);
    if (journal_) {
        journal_->append(state_);
        if (auto r = journal_->flush(); !r) log::error("journal write failed: " + r.error());
        journal_->maybeSnapshot(state_, now);
        if (auto e = journal_->takeBackgroundError()) log::error("journal: " + *e);
    }
    return ex;
}

StoreCounts JournalStore::counts() const {
    return {state_.scopeCount(), state_.reservationCount(), state_.commitCount()};
}

}  // namespace rampart::policyd
