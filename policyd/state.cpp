// State: reservations, commits, refunds, operator controls, status, and the record encoding the
// journal writes. Counts move between three places only: reserved (reserve), committed (commit) and
// gone (release, refund, expire); every move is the exact inverse of what a Holding recorded.
#include "policyd/state.h"

#include <algorithm>
#include <cstring>

#include "util/strings.h"

namespace rampart::policyd {

using std::chrono::nanoseconds;

namespace {

// ---- record encoding: little-endian fixed-width integers, u32-length-prefixed strings.
enum RecordType : uint8_t {
    kScopeUpsert = 1,
    kScopeDelete = 2,
    kReservationUpsert = 3,
    kReservationDelete = 4,
    kCommitUpsert = 5,
    kCommitDelete = 6,
    kPauses = 7,
};

class Writer {
  public:
    explicit Writer(std::string& out) : out_(out) {}
    void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u32(uint32_t v) {
        char b[4];
        for (int i = 0; i < 4; ++i)
            b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
        out_.append(b, 4);
    }
    void u64(uint64_t v) {
        char b[8];
        for (int i = 0; i < 8; ++i)
            b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
        out_.append(b, 8);
    }
    void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
    void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
    void str(std::string_view s) {
        u32(static_cast<uint32_t>(s.size()));
        out_.append(s);
    }
    void holding(const Held& h) {
        str(h.key());
        i64(h.capPeriod);
        i64(h.dayPeriod);
        i32(h.warmupDay);
        i64(h.gcraCost);
    }
    void holdings(const std::vector<Held>& hs) {
        u32(static_cast<uint32_t>(hs.size()));
        for (const auto& h : hs)
            holding(h);
    }

  private:
    std::string& out_;
};

class Reader {
  public:
    explicit Reader(std::string_view in) : in_(in) {}
    bool ok() const { return ok_; }
    bool atEnd() const { return pos_ == in_.size(); }
    uint8_t u8() {
        if (!need(1)) return 0;
        return static_cast<uint8_t>(in_[pos_++]);
    }
    uint32_t u32() {
        if (!need(4)) return 0;
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i)
            v |= uint32_t{static_cast<uint8_t>(in_[pos_++])} << (8 * i);
        return v;
    }
    uint64_t u64() {
        if (!need(8)) return 0;
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i)
            v |= uint64_t{static_cast<uint8_t>(in_[pos_++])} << (8 * i);
        return v;
    }
    int64_t i64() { return static_cast<int64_t>(u64()); }
    int32_t i32() { return static_cast<int32_t>(u32()); }
    std::string str() {
        uint32_t n = u32();
        if (!need(n)) return {};
        std::string s(in_.substr(pos_, n));
        pos_ += n;
        return s;
    }
    // A count of items that each take at least `minBytes`: bounded by what is left, so a damaged
    // count cannot make us allocate gigabytes.
    uint32_t count(size_t minBytes) {
        uint32_t n = u32();
        if (ok_ && n > (in_.size() - pos_) / std::max<size_t>(minBytes, 1)) ok_ = false;
        return ok_ ? n : 0;
    }
    Holding holding() {
        Holding h;
        h.key = str();
        h.capPeriod = i64();
        h.dayPeriod = i64();
        h.warmupDay = i32();
        h.gcraCost = i64();
        return h;
    }
    std::vector<Holding> holdings() {
        std::vector<Holding> hs(count(32));
        for (auto& h : hs)
            h = holding();
        return hs;
    }

  private:
    bool need(size_t n) {
        if (!ok_ || in_.size() - pos_ < n) {
            ok_ = false;
            return false;
        }
        return true;
    }
    std::string_view in_;
    size_t pos_ = 0;
    bool ok_ = true;
};

void encodeScope(std::string& out, std::string_view key, const ScopeEntry& e) {
    Writer w(out);
    w.u8(kScopeUpsert);
    w.str(key);
    w.u32(static_cast<uint32_t>(e.buckets.size()));
    for (const auto& b : e.buckets) {
        w.i64(b.start);
        w.u8(b.counter);
        w.u64(b.committed);
        w.u64(b.reserved);
    }
    w.i64(e.tat);
    w.i64(e.nextSend);
    w.u64(e.sends);
    w.i32(e.warmup.activeDays);
    w.i32(e.warmup.lastActiveDay);
    w.i32(e.warmup.anchorDay);
}

void encodeReservation(std::string& out, std::string_view instance, const Reservation& r) {
    Writer w(out);
    w.u8(kReservationUpsert);
    w.str(instance);
    w.u32(static_cast<uint32_t>(r.recipients.size()));
    for (const auto& rc : r.recipients) {
        w.u64(rc.recipient);
        w.holdings(rc.holdings);
    }
    w.holdings(r.message);
    w.i64(r.expires);
}

void encodeCommit(std::string& out, std::string_view queueId, const Commit& c) {
    Writer w(out);
    w.u8(kCommitUpsert);
    w.str(queueId);
    w.u32(static_cast<uint32_t>(c.recipients.size()));
    for (const auto& rc : c.recipients) {
        w.u64(rc.recipient);
        w.u8(rc.refunded ? 1 : 0);
        w.holdings(rc.holdings);
    }
    w.holdings(c.message);
    w.u8(c.messageRefunded ? 1 : 0);
    w.i64(c.at);
}

void encodeDelete(std::string& out, RecordType type, std::string_view key) {
    Writer w(out);
    w.u8(type);
    w.str(key);
}

void encodePauses(std::string& out, const std::vector<Pause>& pauses) {
    Writer w(out);
    w.u8(kPauses);
    w.u32(static_cast<uint32_t>(pauses.size()));
    for (const auto& p : pauses) {
        w.str(p.spec.str());
        w.str(p.who);
        w.str(p.why);
        w.i64(p.since);
    }
}

// The limit name and the scope values of a state key.
std::string_view keyLimit(std::string_view key) {
    return key.substr(0, key.find(kKeyLimitSep));
}

std::vector<std::string_view> keyValues(std::string_view key) {
    size_t sep = key.find(kKeyLimitSep);
    if (sep == std::string_view::npos) return {};
    return util::splitExact(key.substr(sep + 1), kKeyValueSep);
}

// Does spec select the entry `key` of limit `lim`? Every value the spec names must be one of the
// limit's scopes with that value.
bool specSelects(const ScopeSpec& spec, const Limit& lim, const std::vector<std::string_view>& values) {
    if (!spec.limit.empty() && spec.limit != lim.name) return false;
    for (const auto& [kind, value] : spec.values) {
        auto it = std::find(lim.scopes.begin(), lim.scopes.end(), kind);
        if (it == lim.scopes.end()) return false;
        size_t i = static_cast<size_t>(it - lim.scopes.begin());
        if (i >= values.size() || values[i] != value) return false;
    }
    return true;
}

std::string scopeSpecText(const Limit& lim, const std::vector<std::string_view>& values) {
    std::string out;
    for (size_t i = 0; i < lim.scopes.size() && i < values.size(); ++i) {
        if (!out.empty()) out += ",";
        out += std::string(scopeName(lim.scopes[i])) + "=" + std::string(values[i]);
    }
    return out;
}

std::string jsonString(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

}  // namespace

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

util::Result<ScopeSpec> ScopeSpec::parse(std::string_view text) {
    const std::string expected =
        " (expected SCOPE=VALUE[,SCOPE=VALUE...] such as mailbox=bob@example.com or "
        "sender_domain=example.com,provider=google; limit=NAME selects one limit)";
    ScopeSpec spec;
    auto items = util::splitList(text, ",");
    if (items.empty()) return util::err("missing scope" + expected);
    for (const auto& item : items) {
        size_t eq = item.find('=');
        if (eq == std::string::npos) return util::err("cannot read \"" + util::printable(item) + "\"" + expected);
        std::string name(util::trim(std::string_view(item).substr(0, eq)));
        std::string value = util::toLower(util::trim(std::string_view(item).substr(eq + 1)));
        if (value.empty()) return util::err("missing value after \"" + name + "=\"" + expected);
        if (value.find(kKeyLimitSep) != std::string::npos || value.find(kKeyValueSep) != std::string::npos) {
            return util::err("bad value \"" + util::printable(value) + "\"");
        }
        if (name == "limit") {
            if (!spec.limit.empty()) return util::err("limit= given twice");
            spec.limit = std::string(util::trim(std::string_view(item).substr(eq + 1)));
            continue;
        }
        auto kind = parseScopeKind(name);
        if (!kind) return util::err("unknown scope \"" + util::printable(name) + "\"" + expected);
        for (const auto& [k, v] : spec.values) {
            if (k == *kind) return util::err(name + "= given twice");
        }
        spec.values.emplace_back(*kind, std::move(value));
    }
    return spec;
}

std::string ScopeSpec::str() const {
    std::string out;
    if (!limit.empty()) out = "limit=" + limit;
    for (const auto& [k, v] : values) {
        if (!out.empty()) out += ",";
        out += std::string(scopeName(k)) + "=" + v;
    }
    return out;
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

util::Result<bool> State::pause(const ScopeSpec& spec, std::string_view who, std::string_view why,
                                util::SystemTime now) {
    if (spec.empty()) return util::err("a pause needs a scope, such as mailbox=bob@example.com");
    Pause p{spec, std::string(who), std::string(why), unixNanos(now)};
    auto it = std::find_if(pauses_.begin(), pauses_.end(), [&](const Pause& o) { return o.spec == spec; });
    bool replaced = it != pauses_.end();
    if (replaced) {
        *it = std::move(p);
    } else {
        pauses_.push_back(std::move(p));
    }
    pausesChanged_ = true;
    return replaced;
}

bool State::resume(const ScopeSpec& spec) {
    size_t n = std::erase_if(pauses_, [&](const Pause& p) { return p.spec == spec; });
    if (n > 0) pausesChanged_ = true;
    return n > 0;
}

bool State::pausesNeedProvider() const {
    for (const auto& p : pauses_) {
        for (const auto& [k, v] : p.spec.values) {
            if (k == ScopeKind::Provider) return true;
        }
    }
    return false;
}

size_t State::reset(const ScopeSpec& spec, std::optional<uint32_t> warmupDay, const LimitSet& limits,
                    util::SystemTime now) {
    size_t changed = 0;
    auto setWarmup = [&](const Limit& lim, ScopeEntry& e) {
        const WarmupSchedule* ws = limits.warmupOf(lim);
        if (!warmupDay || !ws) return;
        uint32_t day = std::max<uint32_t>(*warmupDay, 1);
        if (ws->startDay) {
            e.warmup.anchorDay = localDay(lim.zone, now) - static_cast<int32_t>(day - 1);
        } else {
            // Today becomes day N: N-1 days done, today not yet counted.
            e.warmup.activeDays = static_cast<int32_t>(day - 1);
            e.warmup.lastActiveDay = kNoDay;
        }
    };
    std::vector<bool> touchedLimit(limits.limits().size(), false);
    for (auto& n : scopes_) {
        const std::string& key = n.first;
        ScopeEntry& e = n.second;
        const Limit* lim = limits.find(keyLimit(key));
        if (!lim) continue;
        auto values = keyValues(key);
        if (!specSelects(spec, *lim, values)) continue;
        for (auto& b : e.buckets)
            b.committed = 0;  // reservations in flight stay theirs
        e.tat = 0;
        e.nextSend = 0;
        setWarmup(*lim, e);
        markScope(n);
        touchedLimit[static_cast<size_t>(lim - limits.limits().data())] = true;
        ++changed;
    }
    if (!warmupDay) return changed;
    // A scope that never sent: create its warmup progress when the spec names every value.
    for (size_t i = 0; i < limits.limits().size(); ++i) {
        const Limit& lim = limits.limits()[i];
        if (touchedLimit[i] || lim.warmup < 0) continue;
        if (!spec.limit.empty() && spec.limit != lim.name) continue;
        if (spec.values.size() != lim.scopes.size()) continue;
        std::string key = lim.name + kKeyLimitSep;
        bool complete = true;
        for (size_t s = 0; s < lim.scopes.size(); ++s) {
            auto it = std::find_if(spec.values.begin(), spec.values.end(),
                                   [&](const auto& kv) { return kv.first == lim.scopes[s]; });
            if (it == spec.values.end()) {
                complete = false;
                break;
            }
            if (s > 0) key += kKeyValueSep;
            key += it->second;
        }
        if (!complete) continue;
        ScopeNode& n = node(key);
        setWarmup(lim, n.second);
        markScope(n);
        ++changed;
    }
    return changed;
}

std::vector<StatusRow> State::status(const LimitSet& limits, const ScopeSpec* filter, util::SystemTime now) const {
    std::vector<std::pair<size_t, StatusRow>> rows;
    const int64_t nowNs = unixNanos(now);
    for (const auto& [key, e] : scopes_) {
        const Limit* lim = limits.find(keyLimit(key));
        if (!lim) continue;
        auto values = keyValues(key);
        if (filter && !specSelects(*filter, *lim, values)) continue;
        StatusRow row;
        row.limit = lim->name;
        row.scope = scopeSpecText(*lim, values);
        int64_t nextReset = INT64_MAX;
        if (lim->cap) {
            int64_t start = periodStart(lim->cap->period, lim->zone, now);
            row.period = lim->cap->period == CalendarPeriod::Hour  ? "h"
                         : lim->cap->period == CalendarPeriod::Day ? "day"
                                                                   : "week";
            row.count = e.count(0, start);
            if (const Bucket* b = e.bucket(0, start)) row.reserved = b->reserved;
            row.cap = lim->cap->count;
            nextReset = nextPeriodStart(lim->cap->period, lim->zone, now);
        }
        if (const WarmupSchedule* ws = limits.warmupOf(*lim)) {
            int32_t today = localDay(lim->zone, now);
            uint32_t day = warmupDayOf(*ws, e.warmup, today);
            row.warmupDay = day;
            row.warmupCap = ws->capOnDay(day);
            int64_t dayStart = periodStart(CalendarPeriod::Day, lim->zone, now);
            row.today = lim->warmupSharesCapCounter ? e.count(0, dayStart) : e.count(1, dayStart);
            nextReset = std::min(nextReset, nextPeriodStart(CalendarPeriod::Day, lim->zone, now));
        }
        if (nextReset != INT64_MAX) {
            row.nextReset = util::SystemTime(std::chrono::seconds(nextReset));
            row.nextResetText = formatTime(*row.nextReset, lim->zone);
        }
        int64_t next = 0;
        if (lim->rate && e.tat > 0) {
            int64_t allowedAt = std::max(e.tat, nowNs) + lim->rate->emission.count() -
                                static_cast<int64_t>(lim->rate->burst) * lim->rate->emission.count();
            next = std::max(next, allowedAt);
        }
        if (lim->spacing) next = std::max(next, e.nextSend);
        if (next > nowNs) row.nextSend = fromNanos(next);
        for (const auto& p : pauses_) {
            if (!p.spec.limit.empty() && p.spec.limit != lim->name) continue;
            ScopeSpec valuesOnly = p.spec;
            valuesOnly.limit.clear();
            if (!specSelects(valuesOnly, *lim, values)) continue;
            row.paused = true;
            row.pause = "by " + (p.who.empty() ? std::string("?") : p.who) + " at " +
                        formatTime(fromNanos(p.since), lim->zone) + (p.why.empty() ? "" : ": " + p.why);
            break;
        }
        size_t order = static_cast<size_t>(lim - limits.limits().data());
        rows.emplace_back(order, std::move(row));
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
        if (a.first != b.first) return a.first < b.first;
        return a.second.scope < b.second.scope;
    });
    std::vector<StatusRow> out;
    out.reserve(rows.size());
    for (auto& r : rows)
        out.push_back(std::move(r.second));
    return out;
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

void State::trackChanges(bool on) {
    tracking_ = on;
    if (!on) {
        for (ScopeNode* n : changedScopes_)
            n->second.dirty = false;
        for (const auto& k : changedReservations_) {
            if (auto it = reservations_.find(k); it != reservations_.end()) it->second.dirty = false;
        }
        for (const auto& k : changedCommits_) {
            if (auto it = commits_.find(k); it != commits_.end()) it->second.dirty = false;
        }
        changedScopes_.clear();
        deletedScopes_.clear();
        changedReservations_.clear();
        changedCommits_.clear();
        pausesChanged_ = false;
    }
}

void State::takeChanges(const std::function<void(std::string_view)>& sink) {
    // Reservations and commits before scope entries: a replayed scope deletion then never finds
    // the entry still held (the holders' deletions came first).
    std::string buf;
    for (const auto& key : changedReservations_) {
        buf.clear();
        auto it = reservations_.find(key);
        if (it == reservations_.end()) {
            encodeDelete(buf, kReservationDelete, key);
        } else if (it->second.dirty) {
            it->second.dirty = false;
            encodeReservation(buf, key, it->second);
        } else {
            continue;  // already written by an earlier mention of the same key
        }
        sink(buf);
    }
    for (const auto& key : changedCommits_) {
        buf.clear();
        auto it = commits_.find(key);
        if (it == commits_.end()) {
            encodeDelete(buf, kCommitDelete, key);
        } else if (it->second.dirty) {
            it->second.dirty = false;
            encodeCommit(buf, key, it->second);
        } else {
            continue;
        }
        sink(buf);
    }
    // Deletions first: a key erased and created again within one turn ends up present.
    for (const auto& key : deletedScopes_) {
        if (scopes_.find(key) != scopes_.end()) continue;  // created again: written below
        buf.clear();
        encodeDelete(buf, kScopeDelete, key);
        sink(buf);
    }
    for (ScopeNode* n : changedScopes_) {
        if (!n->second.dirty) continue;  // listed twice
        n->second.dirty = false;
        buf.clear();
        encodeScope(buf, n->first, n->second);
        sink(buf);
    }
    if (pausesChanged_) {
        buf.clear();
        encodePauses(buf, pauses_);
        sink(buf);
    }
    changedScopes_.clear();
    deletedScopes_.clear();
    changedReservations_.clear();
    changedCommits_.clear();
    pausesChanged_ = false;
}

void State::snapshot(const std::function<void(std::string_view)>& sink) const {
    std::string buf;
    for (const auto& [key, e] : scopes_) {
        buf.clear();
        encodeScope(buf, key, e);
        sink(buf);
    }
    for (const auto& [key, r] : reservations_) {
        buf.clear();
        encodeReservation(buf, key, r);
        sink(buf);
    }
    for (const auto& [key, c] : commits_) {
        buf.clear();
        encodeCommit(buf, key, c);
        sink(buf);
    }
    buf.clear();
    encodePauses(buf, pauses_);
    sink(buf);
}

util::Result<bool> State::applyRecord(std::string_view payload) {
    Reader r(payload);
    uint8_t type = r.u8();
    switch (type) {
        case kScopeUpsert: {
            std::string key = r.str();
            ScopeEntry e;
            e.buckets.resize(r.count(25));
            for (auto& b : e.buckets) {
                b.start = r.i64();
                b.counter = r.u8();
                b.committed = r.u64();
                b.reserved = r.u64();
            }
            e.tat = r.i64();
            e.nextSend = r.i64();
            e.sends = r.u64();
            e.warmup.activeDays = r.i32();
            e.warmup.lastActiveDay = r.i32();
            e.warmup.anchorDay = r.i32();
            if (!r.ok() || !r.atEnd()) break;
            auto it = scopes_.find(key);
            if (it == scopes_.end()) {
                scopes_.emplace(std::move(key), std::move(e));
            } else {
                e.refs = it->second.refs;  // the node stays: holdings point at it
                it->second = std::move(e);
            }
            return true;
        }
        case kReservationUpsert: {
            std::string key = r.str();
            std::vector<std::pair<uint64_t, std::vector<Holding>>> rcpts(r.count(12));
            for (auto& [name, hs] : rcpts) {
                name = r.u64();
                hs = r.holdings();
            }
            std::vector<Holding> message = r.holdings();
            int64_t expires = r.i64();
            if (!r.ok() || !r.atEnd()) break;
            Reservation res;
            for (auto& [name, hs] : rcpts)
                res.recipients.push_back({name, bind(hs)});
            res.message = bind(message);
            res.expires = expires;
            reservationOrder_.emplace_back(res.expires, key);
            auto it = reservations_.find(key);
            if (it != reservations_.end()) {
                unref(it->second);
                it->second = std::move(res);
            } else {
                reservations_.emplace(std::move(key), std::move(res));
            }
            return true;
        }
        case kCommitUpsert: {
            std::string key = r.str();
            struct Raw {
                uint64_t name = 0;
                bool refunded = false;
                std::vector<Holding> hs;
            };
            std::vector<Raw> rcpts(r.count(13));
            for (auto& raw : rcpts) {
                raw.name = r.u64();
                raw.refunded = r.u8() != 0;
                raw.hs = r.holdings();
            }
            std::vector<Holding> message = r.holdings();
            Commit c;
            c.messageRefunded = r.u8() != 0;
            c.at = r.i64();
            if (!r.ok() || !r.atEnd()) break;
            for (auto& raw : rcpts) {
                c.recipients.push_back({raw.name, bind(raw.hs), raw.refunded});
            }
            c.message = bind(message);
            commitOrder_.emplace_back(c.at, key);
            auto it = commits_.find(key);
            if (it != commits_.end()) {
                unref(it->second);
                it->second = std::move(c);
            } else {
                commits_.emplace(std::move(key), std::move(c));
            }
            return true;
        }
        case kScopeDelete:
        case kReservationDelete:
        case kCommitDelete: {
            std::string key = r.str();
            if (!r.ok() || !r.atEnd()) break;
            if (type == kScopeDelete) {
                auto it = scopes_.find(key);
                if (it != scopes_.end() && (it->second.refs > 0 || it->second.dirty)) {
                    // Still held (only after damage) or listed as changed: keep the node, drop
                    // its counts.
                    ScopeEntry cleared;
                    cleared.refs = it->second.refs;
                    cleared.dirty = it->second.dirty;
                    it->second = std::move(cleared);
                } else if (it != scopes_.end()) {
                    scopes_.erase(it);
                }
            } else if (type == kReservationDelete) {
                auto it = reservations_.find(key);
                if (it != reservations_.end()) {
                    unref(it->second);
                    reservations_.erase(it);
                }
            } else {
                auto it = commits_.find(key);
                if (it != commits_.end()) {
                    unref(it->second);
                    commits_.erase(it);
                }
            }
            return true;
        }
        case kPauses: {
            std::vector<Pause> pauses(r.count(20));
            for (auto& p : pauses) {
                auto spec = ScopeSpec::parse(r.str());
                if (!spec) return util::err("a pause record with a bad scope: " + spec.error());
                p.spec = std::move(spec.value());
                p.who = r.str();
                p.why = r.str();
                p.since = r.i64();
            }
            if (!r.ok() || !r.atEnd()) break;
            pauses_ = std::move(pauses);
            return true;
        }
        default:
            return util::err("unknown record type " + std::to_string(type));
    }
    return util::err("malformed record of type " + std::to_string(type));
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

// ------------------------------------------------------------------------------ JSON

std::string statusJson(const std::vector<StatusRow>& rows, const std::vector<Pause>& pauses) {
    auto time = [](const std::optional<util::SystemTime>& t) -> std::string {
        if (!t) return "null";
        return jsonString(formatUtcIso(*t));
    };
    auto num = [](const auto& v) -> std::string { return v ? std::to_string(*v) : "null"; };
    std::string out = "{\"scopes\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        if (i > 0) out += ",";
        out += "{\"limit\":" + jsonString(r.limit) + ",\"scope\":" + jsonString(r.scope) +
               ",\"period\":" + (r.period.empty() ? "null" : jsonString(r.period)) +
               ",\"count\":" + std::to_string(r.count) + ",\"reserved\":" + std::to_string(r.reserved) +
               ",\"cap\":" + num(r.cap) + ",\"today\":" + num(r.today) + ",\"warmup_day\":" + num(r.warmupDay) +
               ",\"warmup_cap\":" + num(r.warmupCap) + ",\"next_reset\":" + time(r.nextReset) +
               ",\"next_reset_local\":" + (r.nextResetText.empty() ? "null" : jsonString(r.nextResetText)) +
               ",\"next_send\":" + time(r.nextSend) + ",\"paused\":" + (r.paused ? "true" : "false") +
               ",\"pause\":" + (r.pause.empty() ? "null" : jsonString(r.pause)) + "}";
    }
    out += "],\"pauses\":[";
    for (size_t i = 0; i < pauses.size(); ++i) {
        const auto& p = pauses[i];
        if (i > 0) out += ",";
        out += "{\"scope\":" + jsonString(p.spec.str()) + ",\"who\":" + jsonString(p.who) +
               ",\"why\":" + jsonString(p.why) + ",\"since\":" + time(fromNanos(p.since)) + "}";
    }
    out += "]}";
    return out;
}

}  // namespace rampart::policyd
