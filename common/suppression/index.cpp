// The daemons' in-memory suppression index: 88-bit fingerprints of (scope, target) in an
// open-addressing table of 16-byte slots, loaded whole from a Store (built beside the live table and
// swapped in) and refreshed from its audit trail in short exclusive slices, so lookups never wait long.
#include "suppression/index.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "suppression/hash64.h"
#include "suppression/internal.h"
#include "util/strings.h"

namespace rampart::suppress {

namespace {

using detail::hash64;
using detail::Probe;
using detail::probes;

char kindChar(Scope::Kind k) {
    switch (k) {
        case Scope::Kind::Global:
            return 'g';
        case Scope::Kind::Tenant:
            return 't';
        case Scope::Kind::FromDomain:
            return 'f';
    }
    return 'g';
}

constexpr uint64_t kSeedSlot = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kSeedCheck = 0xc2b2ae3d27d4eb4fULL;
constexpr uint32_t kReasonBits = 0xFFu;

struct Key {
    uint64_t fp;     // never 0 (0 marks an empty slot); its low bits choose the slot
    uint32_t check;  // 24 bits of a second hash, in the high bits
};

// "g\x1f" target, "t<tenant>\x1f" target, "f<domain>\x1f" target: 0x1F occurs in none of them.
Key makeKey(Scope::Kind kind, std::string_view value, std::string_view target, std::string& buf) {
    buf.clear();
    buf += kindChar(kind);
    buf += value;
    buf += '\x1f';
    buf += target;
    Key k{hash64(buf, kSeedSlot), static_cast<uint32_t>(hash64(buf, kSeedCheck)) & ~kReasonBits};
    if (k.fp == 0) k.fp = 1;
    return k;
}

uint32_t packExpiry(const std::optional<int64_t>& e) {
    if (!e) return 0;
    return static_cast<uint32_t>(std::clamp<int64_t>(*e, 1, std::numeric_limits<uint32_t>::max()));
}

// 16 bytes per slot: the fingerprint, the expiry (unix seconds, 0 = never; unsigned 32 bits reach
// 2106) and the check bits with the reason in the low byte.
struct Slot {
    uint64_t fp = 0;
    uint32_t expires = 0;
    uint32_t tag = 0;
};
static_assert(sizeof(Slot) == 16);

// Open addressing with linear probing (a probe sequence stays in one or two cache lines), at most
// 70% full (an absent key costs about 6 slot reads on average at that load, 2.5 at 50%), deletion by
// backward shift (no tombstones to degrade lookups after many removals).
class Table {
  public:
    Table() : Table(0) {}
    explicit Table(size_t expected) {
        size_t cap = 1024;
        while (cap * 3 < expected * 5)
            cap <<= 1;  // at most 60% full when built
        slots_.assign(cap, Slot{});
        mask_ = cap - 1;
    }

    size_t size() const { return count_; }
    size_t bytes() const { return slots_.size() * sizeof(Slot); }
    bool roomFor(size_t extra) const { return (count_ + extra) * 10 <= slots_.size() * 7; }

    const Slot* find(Key k) const {
        for (size_t i = k.fp & mask_;; i = (i + 1) & mask_) {
            const Slot& s = slots_[i];
            if (s.fp == 0) return nullptr;
            if (s.fp == k.fp && (s.tag & ~kReasonBits) == k.check) return &s;
        }
    }

    void put(Key k, Reason reason, uint32_t expires) {
        for (size_t i = k.fp & mask_;; i = (i + 1) & mask_) {
            Slot& s = slots_[i];
            if (s.fp == 0) ++count_;
            if (s.fp == 0 || (s.fp == k.fp && (s.tag & ~kReasonBits) == k.check)) {
                s = Slot{k.fp, expires, k.check | static_cast<uint32_t>(reason)};
                return;
            }
        }
    }

    void erase(Key k) {
        size_t i = k.fp & mask_;
        while (true) {
            const Slot& s = slots_[i];
            if (s.fp == 0) return;
            if (s.fp == k.fp && (s.tag & ~kReasonBits) == k.check) break;
            i = (i + 1) & mask_;
        }
        // Move back every later slot of the cluster whose home is not between the hole and itself.
        for (size_t j = (i + 1) & mask_; slots_[j].fp != 0; j = (j + 1) & mask_) {
            const size_t home = slots_[j].fp & mask_;
            const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!stays) {
                slots_[i] = slots_[j];
                i = j;
            }
        }
        slots_[i] = Slot{};
        --count_;
    }

    // Many slots at once, prefetching the home slot of the one a few places ahead: a large table
    // misses the cache on nearly every insert, and the misses then overlap instead of queueing.
    void putAll(const std::vector<Slot>& in) {
        constexpr size_t kAhead = 16;
        for (size_t i = 0; i < in.size(); ++i) {
            if (i + kAhead < in.size()) __builtin_prefetch(&slots_[in[i + kAhead].fp & mask_], 1);
            const Slot& s = in[i];
            put(Key{s.fp, s.tag & ~kReasonBits}, static_cast<Reason>(s.tag & kReasonBits), s.expires);
        }
    }

    Table grown(size_t extra) const {
        Table t(count_ + extra);
        for (const Slot& s : slots_) {
            if (s.fp != 0) t.insertNew(s);
        }
        return t;
    }

  private:
    void insertNew(const Slot& s) {
        size_t i = s.fp & mask_;
        while (slots_[i].fp != 0)
            i = (i + 1) & mask_;
        slots_[i] = s;
        ++count_;
    }

    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t count_ = 0;
};

struct Built {
    Table table;
    int64_t auditId = 0;
};

struct Change {
    int64_t id = 0;
    bool erase = false;
    Key key{};
    Reason reason = Reason::Manual;
    uint32_t expires = 0;
};

constexpr size_t kRefreshBatch = 8192;

}  // namespace

struct Index::Impl {
    mutable std::shared_mutex mu;  // guards table
    Table table;
    std::atomic<int64_t> lastAudit{0};
    std::mutex refreshMu;  // one load or refresh at a time: only they change the table
};

namespace {

// The whole store in one read snapshot, into a new table (the live one keeps serving meanwhile).
// The slots are collected first and inserted once their number is known: no count(*) pass over the
// table, and the inserts, which miss the cache on every slot of a large table, prefetch ahead.
util::Result<Built> build(const Store& store) {
    std::vector<Slot> slots;
    slots.reserve(1 << 16);
    std::string buf;
    auto last = store.forEachKey([&](const EntryKey& e) {
        const Key k = makeKey(e.kind, e.scopeValue, e.target, buf);
        slots.push_back(Slot{k.fp, packExpiry(e.expires), k.check | static_cast<uint32_t>(e.reason)});
    });
    if (!last) return util::err(last.error());
    Built b{Table(slots.size()), *last};
    b.table.putAll(slots);
    return b;
}

util::Result<std::vector<Change>> readChanges(const Store& store, int64_t after) {
    std::vector<Change> out;
    std::string buf;
    auto n = store.keyChangesSince(after, kRefreshBatch, [&](const KeyChange& kc) {
        Change c;
        c.id = kc.id;
        if (kc.kind == KeyChange::Kind::Unknown) {
            // Skipped, but the position still moves past it.
            c.erase = true;
            c.key = Key{0, 0};
            out.push_back(c);
            return;
        }
        c.erase = kc.kind == KeyChange::Kind::Erase;
        c.key = makeKey(kc.key.kind, kc.key.scopeValue, kc.key.target, buf);
        c.reason = kc.key.reason;
        c.expires = packExpiry(kc.key.expires);
        out.push_back(c);
    });
    if (!n) return util::err(n.error());
    return out;
}

}  // namespace

Index::Index(NormalizeOptions norm) : norm_(norm), impl_(std::make_shared<Impl>()) {}

util::Result<size_t> Index::load(const Store& store) {
    std::lock_guard refreshing(impl_->refreshMu);
    auto b = build(store);
    if (!b) return util::err(b.error());
    Built built = std::move(b).value();
    const size_t n = built.table.size();
    {
        std::unique_lock lock(impl_->mu);
        std::swap(impl_->table, built.table);
        impl_->lastAudit.store(built.auditId);
    }
    return n;  // the old table is freed here, outside the lock
}

util::Result<size_t> Index::refresh(const Store& store) {
    std::lock_guard refreshing(impl_->refreshMu);
    auto last = store.lastAuditId();
    if (!last) return util::err(last.error());
    int64_t cur = impl_->lastAudit.load();
    if (*last == cur) return 0;
    size_t live = size();
    // The trail went backwards: the database was replaced (restored, recreated). Or so much changed
    // (a large import) that reading the entries is cheaper than replaying the trail.
    if (*last < cur || static_cast<uint64_t>(*last - cur) > std::max<uint64_t>(100000, live / 4)) {
        auto b = build(store);
        if (!b) return util::err(b.error());
        Built built = std::move(b).value();
        const size_t loaded = built.table.size();
        {
            std::unique_lock lock(impl_->mu);
            std::swap(impl_->table, built.table);
            impl_->lastAudit.store(built.auditId);
        }
        return *last > cur ? static_cast<size_t>(*last - cur) : loaded;
    }
    size_t applied = 0;
    while (true) {
        auto changes = readChanges(store, cur);
        if (!changes) return util::err(changes.error());
        if (changes->empty()) break;
        size_t adds = 0;
        for (const auto& c : *changes)
            adds += c.erase ? 0 : 1;
        std::optional<Table> bigger;
        {
            // Only this function changes the table (under refreshMu), so it can be copied under the
            // shared lock while lookups go on.
            std::shared_lock lock(impl_->mu);
            if (!impl_->table.roomFor(adds)) bigger = impl_->table.grown(adds);
        }
        if (bigger) {
            std::unique_lock lock(impl_->mu);
            std::swap(impl_->table, *bigger);
        }
        // In slices, so that a lookup never waits for more than a few hundred table writes. A lookup
        // between two slices sees the first changes and not yet the later ones: each change stands
        // alone, in trail order, so that is just an earlier moment of the list.
        constexpr size_t kSlice = 512;
        for (size_t from = 0; from < changes->size(); from += kSlice) {
            std::unique_lock lock(impl_->mu);
            const size_t to = std::min(changes->size(), from + kSlice);
            for (size_t k = from; k < to; ++k) {
                const Change& c = (*changes)[k];
                if (c.key.fp == 0) continue;
                if (c.erase) {
                    impl_->table.erase(c.key);
                } else {
                    impl_->table.put(c.key, c.reason, c.expires);
                }
            }
        }
        impl_->lastAudit.store(changes->back().id);
        bigger.reset();  // the old table, freed outside the lock
        applied += changes->size();
        cur = changes->back().id;
        if (changes->size() < kRefreshBatch) break;
    }
    return applied;
}

std::optional<Hit> Index::lookup(std::string_view recipient, const LookupContext& ctx, unsigned scopes,
                                 int64_t now) const {
    auto target = normalizeTarget(recipient, norm_);
    if (!target) return std::nullopt;
    std::string tenant, fromDomain;
    if ((scopes & kTenant) && !ctx.tenant.empty()) tenant = util::toLower(ctx.tenant);
    if ((scopes & kFromDomain) && !ctx.fromDomain.empty()) fromDomain = util::toLower(ctx.fromDomain);
    Probe ps[6];
    const size_t n = probes(*target, tenant, fromDomain, scopes, ps);
    Key keys[6];
    std::string buf;
    buf.reserve(target->size() + tenant.size() + fromDomain.size() + 8);
    for (size_t i = 0; i < n; ++i)
        keys[i] = makeKey(ps[i].kind, ps[i].value, ps[i].target, buf);
    size_t found = n;
    Reason reason = Reason::Manual;
    {
        std::shared_lock lock(impl_->mu);
        for (size_t i = 0; i < n && found == n; ++i) {
            const Slot* s = impl_->table.find(keys[i]);
            if (s != nullptr && (s->expires == 0 || static_cast<int64_t>(s->expires) > now)) {
                found = i;
                reason = static_cast<Reason>(s->tag & kReasonBits);
            }
        }
    }
    if (found == n) return std::nullopt;
    return Hit{std::string(ps[found].target), Scope{ps[found].kind, std::string(ps[found].value)}, reason};
}

size_t Index::size() const {
    std::shared_lock lock(impl_->mu);
    return impl_->table.size();
}

int64_t Index::lastAuditId() const {
    return impl_->lastAudit.load();
}

size_t Index::memoryBytes() const {
    std::shared_lock lock(impl_->mu);
    return impl_->table.bytes();
}

}  // namespace rampart::suppress
