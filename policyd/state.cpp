// State's core: the request path (reserve, commit, release, refund) and expiry, with the small
// types they use. Counts move between three places only: reserved (reserve), committed (commit)
// and gone (release, refund, expire); every move is the exact inverse of what a Holding recorded.
// The journal records are in state_records.cpp, operator controls and status in state_operator.cpp.
#include "policyd/state.h"

#include <algorithm>
#include <cstring>

#include "util/strings.h"

namespace rampart::policyd {

using std::chrono::nanoseconds;

// ------------------------------------------------------------------------------ small types

uint64_t recipientHash(std::string_view address) {
    // FNV-1a over the lower-case bytes, then a 64-bit finaliser (splitmix64) to spread it.
    uint64_t h = 1469598103934665603ull;
    for (char c : address) {
        h ^= static_cast<uint8_t>(util::toLowerAscii(c));
        h *= 1099511628211ull;
    }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

int64_t spacingJitter(std::string_view key, uint64_t sequence, int64_t jitterNs) {
    if (jitterNs <= 0) return 0;
    // FNV-1a over the key, then splitmix64 with the sequence: stable across builds and runs.
    uint64_t h = 1469598103934665603ull;
    for (char c : key) {
        h ^= static_cast<uint8_t>(c);
        h *= 1099511628211ull;
    }
    uint64_t x = h ^ (sequence * 0x9e3779b97f4a7c15ull);
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    uint64_t span = 2 * static_cast<uint64_t>(jitterNs) + 1;
    return static_cast<int64_t>(x % span) - jitterNs;
}

const Bucket* ScopeEntry::bucket(uint8_t counter, int64_t start) const {
    for (const auto& b : buckets) {
        if (b.counter == counter && b.start == start) return &b;
    }
    return nullptr;
}

uint64_t ScopeEntry::count(uint8_t counter, int64_t start) const {
    const Bucket* b = bucket(counter, start);
    return b ? b->committed + b->reserved : 0;
}

bool Reservation::holds(std::string_view key) const {
    for (const auto& rc : recipients) {
        for (const auto& h : rc.holdings) {
            if (h.key() == key) return true;
        }
    }
    for (const auto& h : message) {
        if (h.key() == key) return true;
    }
    return false;
}

// ------------------------------------------------------------------------------ State

size_t State::Hash::operator()(std::string_view s) const {
    return std::hash<std::string_view>{}(s);
}

State::State(StateOptions options) : options_(options) {}

State::State(const State& o)
    : options_(o.options_),
      scopes_(o.scopes_),
      reservations_(o.reservations_),
      commits_(o.commits_),
      pauses_(o.pauses_),
      tracking_(o.tracking_),
      changedScopes_(o.changedScopes_),
      deletedScopes_(o.deletedScopes_),
      changedReservations_(o.changedReservations_),
      changedCommits_(o.changedCommits_),
      pausesChanged_(o.pausesChanged_),
      reservationOrder_(o.reservationOrder_),
      commitOrder_(o.commitOrder_),
      scanCursor_(o.scanCursor_) {
    rebind();
}

State& State::operator=(const State& o) {
    if (this == &o) return *this;
    State copy(o);
    *this = std::move(copy);
    return *this;
}

void State::rebind() {
    // The copied holdings still point at the source's nodes, whose keys are the same.
    auto fix = [&](std::vector<Held>& hs) {
        for (auto& h : hs)
            h.node = &*scopes_.find(h.key());
    };
    for (auto& [instance, r] : reservations_) {
        for (auto& rc : r.recipients)
            fix(rc.holdings);
        fix(r.message);
    }
    for (auto& [queueId, c] : commits_) {
        for (auto& rc : c.recipients)
            fix(rc.holdings);
        fix(c.message);
    }
    for (auto& n : changedScopes_)
        n = &*scopes_.find(n->first);
}

ScopeNode& State::node(std::string_view key) {
    auto it = scopes_.find(key);
    if (it == scopes_.end()) it = scopes_.emplace(std::string(key), ScopeEntry{}).first;
    return *it;
}

Bucket& State::bucket(ScopeEntry& e, uint8_t counter, int64_t start) {
    for (auto& b : e.buckets) {
        if (b.counter == counter && b.start == start) return b;
    }
    // A new period of this counter: older periods without reservations are done with.
    std::erase_if(e.buckets,
                  [&](const Bucket& b) { return b.counter == counter && b.start < start && b.reserved == 0; });
    e.buckets.push_back(Bucket{start, counter, 0, 0});
    return e.buckets.back();
}

void State::markScope(ScopeNode& n) {
    if (!tracking_ || n.second.dirty) return;
    n.second.dirty = true;
    changedScopes_.push_back(&n);
}

void State::markReservation(std::string_view instance, Reservation& r) {
    if (!tracking_ || r.dirty) return;
    r.dirty = true;
    changedReservations_.emplace_back(instance);
}

void State::markCommit(std::string_view queueId, Commit& c) {
    if (!tracking_ || c.dirty) return;
    c.dirty = true;
    changedCommits_.emplace_back(queueId);
}

Held State::hold(const Holding& h) {
    ScopeNode& n = node(h.key);
    ++n.second.refs;
    return Held{&n, h.capPeriod, h.dayPeriod, h.warmupDay, h.gcraCost};
}

std::vector<Held> State::bind(const std::vector<Holding>& hs) {
    std::vector<Held> out;
    out.reserve(hs.size());
    for (const auto& h : hs)
        out.push_back(hold(h));
    return out;
}

void State::unref(const std::vector<Held>& hs) {
    for (const auto& h : hs) {
        if (h.node->second.refs > 0) --h.node->second.refs;
    }
}

void State::unref(const Reservation& r) {
    for (const auto& rc : r.recipients)
        unref(rc.holdings);
    unref(r.message);
}

void State::unref(const Commit& c) {
    for (const auto& rc : c.recipients)
        unref(rc.holdings);
    unref(c.message);
}

void State::reserve(const Mutations& m) {
    if (m.empty()) return;
    const int64_t nowNs = unixNanos(m.now);
    for (const auto& st : m.spacing) {
        ScopeNode& n = node(st.key);
        ScopeEntry& e = n.second;
        e.nextSend = nowNs + st.intervalNs + spacingJitter(st.key, e.sends, st.jitterNs);
        ++e.sends;
        markScope(n);
    }
    if (m.recipient.empty() && m.message.empty()) return;
    Reservation* r = nullptr;
    if (!m.instance.empty()) {
        auto it = reservations_.find(m.instance);
        if (it == reservations_.end()) {
            it = reservations_.emplace(m.instance, Reservation{}).first;
            reservationOrder_.emplace_back(
                nowNs + std::chrono::duration_cast<nanoseconds>(options_.reservationTimeout).count(), m.instance);
        }
        r = &it->second;
        r->recipients.push_back(RecipientHold{recipientHash(m.recipientAddress), {}});
        r->recipients.back().holdings.reserve(m.recipient.size());
    }
    auto take = [&](const Holding& h, std::vector<Held>* into) {
        Held held = hold(h);
        ScopeEntry& e = held.node->second;
        if (h.capPeriod != kNoPeriod) ++bucket(e, 0, h.capPeriod).reserved;
        if (h.dayPeriod != kNoPeriod) ++bucket(e, 1, h.dayPeriod).reserved;
        if (h.gcraCost > 0) e.tat = std::max(e.tat, nowNs) + h.gcraCost;
        markScope(*held.node);
        if (into) {
            into->push_back(held);
        } else {
            // No transaction to commit later (a client that sends no instance): count it as sent.
            commitHeld(held);
            --e.refs;
        }
    };
    for (const auto& h : m.recipient)
        take(h, r ? &r->recipients.back().holdings : nullptr);
    for (const auto& h : m.message)
        take(h, r ? &r->message : nullptr);
    if (r) {
        r->expires = nowNs + std::chrono::duration_cast<nanoseconds>(options_.reservationTimeout).count();
        markReservation(m.instance, *r);
    }
}

void State::commitHeld(const Held& h) {
    ScopeEntry& e = h.node->second;
    auto move = [&](uint8_t counter, int64_t start) {
        Bucket& b = bucket(e, counter, start);
        if (b.reserved > 0) --b.reserved;
        ++b.committed;
    };
    if (h.capPeriod != kNoPeriod) move(0, h.capPeriod);
    if (h.dayPeriod != kNoPeriod) move(1, h.dayPeriod);
    // A day counts for the warmup once the scope really sent on it. (A reservation from before
    // midnight committed after a later day's commit does not count its day: too rare to track.)
    if (h.warmupDay != kNoDay && (e.warmup.lastActiveDay == kNoDay || h.warmupDay > e.warmup.lastActiveDay)) {
        ++e.warmup.activeDays;
        e.warmup.lastActiveDay = h.warmupDay;
    }
    markScope(*h.node);
}

void State::giveBack(const Held& h, bool committed) {
    ScopeEntry& e = h.node->second;
    auto dec = [&](uint8_t counter, int64_t start) {
        for (auto& b : e.buckets) {
            if (b.counter != counter || b.start != start) continue;
            uint64_t& n = committed ? b.committed : b.reserved;
            if (n > 0) --n;
        }
    };
    if (h.capPeriod != kNoPeriod) dec(0, h.capPeriod);
    if (h.dayPeriod != kNoPeriod) dec(1, h.dayPeriod);
    if (h.gcraCost > 0 && e.tat > 0) e.tat = std::max<int64_t>(e.tat - h.gcraCost, 1);
    markScope(*h.node);
}

CommitResult State::commit(std::string_view instance, std::string_view queueId, uint64_t recipientCount,
                           std::string_view recipient, util::SystemTime now) {
    CommitResult result;
    auto it = reservations_.find(instance);
    if (it == reservations_.end()) return result;
    result.found = true;
    Reservation r = std::move(it->second);
    if (tracking_) changedReservations_.push_back(it->first);
    reservations_.erase(it);

    const size_t n = r.recipients.size();
    std::vector<bool> take(n, false);
    if (recipientCount >= n) {
        std::fill(take.begin(), take.end(), true);
    } else {
        bool done = false;
        if (recipientCount == 1 && !recipient.empty()) {
            const uint64_t wanted = recipientHash(recipient);
            for (size_t i = 0; i < n; ++i) {
                if (r.recipients[i].recipient == wanted) {
                    take[i] = true;
                    done = true;
                    break;
                }
            }
        }
        for (size_t i = 0; !done && i < n && i < recipientCount; ++i)
            take[i] = true;
    }

    // The holdings move from the reservation to the commit (their references with them); without a
    // queue id there is nothing to refund later, so they are let go.
    Commit* c = nullptr;
    if (!queueId.empty()) {
        auto cit = commits_.find(queueId);
        if (cit == commits_.end()) cit = commits_.emplace(std::string(queueId), Commit{}).first;
        c = &cit->second;
        c->at = unixNanos(now);
        commitOrder_.emplace_back(c->at, std::string(queueId));
    }
    for (size_t i = 0; i < n; ++i) {
        auto& rc = r.recipients[i];
        if (!take[i]) {
            for (const auto& h : rc.holdings)
                giveBack(h, false);
            unref(rc.holdings);
            ++result.releasedRecipients;
            continue;
        }
        for (const auto& h : rc.holdings)
            commitHeld(h);
        ++result.committedRecipients;
        if (c) {
            c->recipients.push_back(CommittedRecipient{rc.recipient, std::move(rc.holdings), false});
        } else {
            unref(rc.holdings);
        }
    }
    if (result.committedRecipients > 0) {
        for (const auto& h : r.message)
            commitHeld(h);
        if (c) {
            c->message.insert(c->message.end(), r.message.begin(), r.message.end());
        } else {
            unref(r.message);
        }
    } else {
        for (const auto& h : r.message)
            giveBack(h, false);
        unref(r.message);
    }
    if (c) {
        if (c->recipients.empty() && c->message.empty()) {
            commits_.erase(commits_.find(queueId));
        } else {
            markCommit(queueId, *c);
        }
    }
    return result;
}

bool State::release(std::string_view instance) {
    auto it = reservations_.find(instance);
    if (it == reservations_.end()) return false;
    for (const auto& rc : it->second.recipients) {
        for (const auto& h : rc.holdings)
            giveBack(h, false);
    }
    for (const auto& h : it->second.message)
        giveBack(h, false);
    unref(it->second);
    if (tracking_) changedReservations_.push_back(it->first);
    reservations_.erase(it);
    return true;
}

ExpireResult State::expire(util::SystemTime now, size_t maxScopes) {
    ExpireResult result;
    const int64_t nowNs = unixNanos(now);

    // Reservations, oldest expiry first (queued when created); one that was extended by a later
    // RCPT of its transaction goes to the back again.
    while (!reservationOrder_.empty() && reservationOrder_.front().first <= nowNs) {
        std::string instance = std::move(reservationOrder_.front().second);
        reservationOrder_.pop_front();
        auto it = reservations_.find(instance);
        if (it == reservations_.end()) continue;  // committed or released meanwhile
        if (it->second.expires > nowNs) {
            reservationOrder_.emplace_back(it->second.expires, std::move(instance));
            continue;
        }
        if (release(instance)) ++result.releasedReservations;
    }

    // Commits in the order they were made.
    const int64_t refundWindow = std::chrono::duration_cast<nanoseconds>(options_.refundWindow).count();
    while (!commitOrder_.empty() && commitOrder_.front().first + refundWindow <= nowNs) {
        std::string queueId = std::move(commitOrder_.front().second);
        commitOrder_.pop_front();
        auto it = commits_.find(queueId);
        if (it == commits_.end() || it->second.at + refundWindow > nowNs) continue;
        unref(it->second);
        if (tracking_) changedCommits_.push_back(it->first);
        commits_.erase(it);
        ++result.prunedCommits;
    }

    // Scope entries, a hash bucket at a time from where the last call stopped, so a budget keeps
    // one call short. Periods end at most 8 days after they start (a week and a DST hour); a
    // bucket without reservations that old, or superseded by a newer period of its counter, is
    // done with.
    const int64_t nowSec = unixSeconds(now);
    const int64_t oldest = nowSec - 8 * 86400;
    const int32_t today = static_cast<int32_t>(localDayOf(nowSec));  // the UTC day
    const int64_t forgetDays = options_.warmupForget.count() / 86400;
    auto visit = [&](ScopeNode& n) {
        ScopeEntry& e = n.second;
        bool changed = false;
        size_t before = e.buckets.size();
        std::erase_if(e.buckets, [&](const Bucket& b) {
            if (b.reserved > 0) return false;
            if (b.start < oldest) return true;
            for (const auto& o : e.buckets) {
                if (o.counter == b.counter && o.start > b.start) return true;
            }
            return false;
        });
        changed |= e.buckets.size() != before;
        if (e.tat != 0 && e.tat <= nowNs) {
            e.tat = 0;
            changed = true;
        }
        if (e.nextSend != 0 && e.nextSend <= nowNs) {
            e.nextSend = 0;
            changed = true;
        }
        if (options_.warmupForget.count() > 0 && e.warmup.lastActiveDay != kNoDay &&
            int64_t{today} - e.warmup.lastActiveDay > forgetDays) {
            e.warmup = WarmupProgress{};
            changed = true;
        }
        bool empty = e.buckets.empty() && e.tat == 0 && e.nextSend == 0 && e.warmup.empty();
        // Held entries stay (holdings point at them); so do entries with an unwritten change
        // (the change list points at them): the next call takes them.
        if (empty && e.refs == 0 && !e.dirty) return true;
        if (changed) markScope(n);
        return false;
    };
    auto it = scanCursor_.empty() ? scopes_.end() : scopes_.find(scanCursor_);
    if (it == scopes_.end()) it = scopes_.begin();
    const size_t budget = std::min(maxScopes, scopes_.size());
    for (size_t examined = 0; examined < budget; ++examined) {
        if (it == scopes_.end()) it = scopes_.begin();
        if (visit(*it)) {
            if (tracking_) deletedScopes_.push_back(it->first);
            it = scopes_.erase(it);
            ++result.prunedScopes;
        } else {
            ++it;
        }
    }
    // Entries inserted before the cursor, or moved by a rehash, wait for the next round.
    if (it == scopes_.end()) {
        scanCursor_.clear();
    } else {
        scanCursor_ = it->first;
    }
    return result;
}

RefundResult State::refund(std::string_view queueId, const std::vector<std::string>& recipients, util::SystemTime now) {
    (void)now;
    RefundResult result;
    auto it = commits_.find(queueId);
    if (it == commits_.end()) {
        result.status = RefundResult::Status::UnknownQueueId;
        result.text = "unknown queue id " + util::printable(queueId, 40) +
                      " (nothing committed under it here, or older than the refund window)";
        return result;
    }
    Commit& c = it->second;
    bool anyAlready = false;
    if (recipients.empty()) {
        for (auto& rc : c.recipients) {
            if (rc.refunded) continue;
            for (const auto& h : rc.holdings)
                giveBack(h, true);
            rc.refunded = true;
            ++result.recipients;
        }
    } else {
        for (const auto& name : recipients) {
            std::string lower = util::toLower(name);
            const uint64_t wanted = recipientHash(lower);
            bool found = false, already = false;
            for (auto& rc : c.recipients) {
                if (rc.recipient != wanted) continue;
                if (rc.refunded) {
                    already = true;
                    continue;
                }
                for (const auto& h : rc.holdings)
                    giveBack(h, true);
                rc.refunded = true;
                ++result.recipients;
                found = true;
                break;
            }
            if (!found && already) anyAlready = true;
            if (!found && !already) result.unknown.push_back(lower);
        }
    }
    // The message itself is gone once every recipient is: its `msgs` counts go back too.
    bool allRefunded =
        std::all_of(c.recipients.begin(), c.recipients.end(), [](const CommittedRecipient& rc) { return rc.refunded; });
    bool messageNow = false;
    if (allRefunded && !c.messageRefunded) {
        for (const auto& h : c.message)
            giveBack(h, true);
        c.messageRefunded = true;
        messageNow = true;
    }
    std::string qid = util::printable(queueId, 40);
    if (result.recipients > 0 || messageNow) {
        markCommit(it->first, c);
        result.status = RefundResult::Status::Refunded;
        result.text = "refunded " + std::to_string(result.recipients) + " recipient" +
                      (result.recipients == 1 ? "" : "s") + " of " + qid;
        if (!result.unknown.empty()) result.text += "; not in the message: " + util::join(result.unknown, ", ");
    } else if (!result.unknown.empty() && !anyAlready) {
        result.status = RefundResult::Status::UnknownRecipient;
        result.text = qid + " has no recipient " + util::join(result.unknown, ", ");
    } else {
        result.status = RefundResult::Status::AlreadyRefunded;
        result.text = qid + " was already refunded";
        if (!result.unknown.empty()) result.text += "; not in the message: " + util::join(result.unknown, ", ");
    }
    return result;
}

const ScopeEntry* State::find(std::string_view key) const {
    auto it = scopes_.find(key);
    return it == scopes_.end() ? nullptr : &it->second;
}

const Reservation* State::reservation(std::string_view instance) const {
    auto it = reservations_.find(instance);
    return it == reservations_.end() ? nullptr : &it->second;
}

const Commit* State::committed(std::string_view queueId) const {
    auto it = commits_.find(queueId);
    return it == commits_.end() ? nullptr : &it->second;
}

bool State::operator==(const State& o) const {
    return scopes_ == o.scopes_ && reservations_ == o.reservations_ && commits_ == o.commits_ && pauses_ == o.pauses_;
}

void State::clear() {
    changedScopes_.clear();
    deletedScopes_.clear();
    changedReservations_.clear();
    changedCommits_.clear();
    pausesChanged_ = false;
    reservationOrder_.clear();
    commitOrder_.clear();
    scanCursor_.clear();
    reservations_.clear();
    commits_.clear();
    scopes_.clear();
    pauses_.clear();
}

}  // namespace rampart::policyd
