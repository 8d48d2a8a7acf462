// State's journal records (journal.h writes and replays them): every entity as an absolute upsert
// or a deletion, encoded as little-endian fixed-width integers and u32-length-prefixed strings.
// takeChanges() hands out what changed since its last call, snapshot() everything, and
// applyRecord() replays one record, so replaying a journal is idempotent.
#include <algorithm>

#include "policyd/state.h"

namespace rampart::policyd {

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

}  // namespace

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

}  // namespace rampart::policyd
