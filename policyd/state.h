// rampart-policyd's in-memory state: per (limit, scope values) the calendar counters, the GCRA
// theoretical arrival time, the spacing clock and the warmup progress; reservations by transaction
// instance; commits by queue id (for refunds); admin pauses. Counters are keyed by limit NAME and
// scope, never by cap, so a changed cap applies to today's counts at once.
//
// Single-threaded by design (the daemon's event loop owns it). Time always comes in as a parameter.
// Every entity carries absolute values, and the journal (journal.h) records the entities changed
// since the last takeChanges() as absolute upserts/deletes, so replaying a journal is idempotent.
#pragma once

#include <chrono>
#include <climits>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policyd/calendar.h"
#include "policyd/limits.h"
#include "util/clock.h"
#include "util/result.h"

namespace rampart::policyd {

constexpr int64_t kNoPeriod = INT64_MIN;
constexpr int32_t kNoDay = INT32_MIN;

// State keys: the limit name, '\x1e', then the scope values in the limit's scope order joined by
// '\x1f'. Values are lower-case; neither separator can occur in a name or a protocol value.
constexpr char kKeyLimitSep = '\x1e';
constexpr char kKeyValueSep = '\x1f';

// What one limit takes for one request in one scope (decide()'s output); State::reserve() binds it to
// the scope entry as a Held, so it can be given back exactly (release, refund).
struct Holding {
    std::string key;
    int64_t capPeriod = kNoPeriod;  // start (unix seconds) of the cap's calendar period counted in
    int64_t dayPeriod = kNoPeriod;  // start of the day counted in the warmup's own day counter
    int32_t warmupDay = kNoDay;     // local day (days since 1970-01-01 in the limit's zone) of a send
                                    // that advances the warmup when committed
    int64_t gcraCost = 0;           // nanoseconds added to the rate's TAT
    bool operator==(const Holding&) const = default;
};

// The spacing clock of one key moves on: next send = now + interval + jitter(key, sequence).
struct SpacingStep {
    std::string key;
    int64_t intervalNs = 0;
    int64_t jitterNs = 0;
};

// The deterministic spacing jitter of a key's n-th send, within [-jitter, +jitter] ns: a hash of
// the key (limit and scope) and the sequence number, so tests and replays see the same gaps.
int64_t spacingJitter(std::string_view key, uint64_t sequence, int64_t jitterNs);

// What an allowed RCPT changes, and for whom (built by decide(), reserved by State::reserve()).
struct Mutations {
    std::string instance;          // the transaction; "": none, so what it takes counts as sent at once
    std::string recipientAddress;  // lower-case
    util::SystemTime now{};
    std::vector<Holding> recipient;  // counted for this recipient
    std::vector<Holding> message;    // `msgs` counters: once per instance (the first recipient)
    std::vector<SpacingStep> spacing;
    bool empty() const { return recipient.empty() && message.empty() && spacing.empty(); }
};

// One calendar counter period. counter: 0 = the cap's, 1 = the warmup's own day counter.
struct Bucket {
    int64_t start = 0;  // unix seconds
    uint8_t counter = 0;
    uint64_t committed = 0;
    uint64_t reserved = 0;
    bool operator==(const Bucket&) const = default;
};

struct WarmupProgress {
    int32_t activeDays = 0;          // days on which the scope sent (committed something)
    int32_t lastActiveDay = kNoDay;  // local day of the latest of them
    int32_t anchorDay = kNoDay;      // `start` schedules: a reset's override of warmup day 1
    bool empty() const { return activeDays == 0 && lastActiveDay == kNoDay && anchorDay == kNoDay; }
    bool operator==(const WarmupProgress&) const = default;
};

struct ScopeEntry {
    // A few: the current periods, older ones while reservations hold them.
    std::vector<Bucket> buckets;
    int64_t tat = 0;       // GCRA theoretical arrival time, ns since the epoch; 0: idle
    int64_t nextSend = 0;  // spacing: earliest next send, ns since the epoch; 0: none
    uint64_t sends = 0;    // spacing sequence number: seeds the deterministic jitter
    WarmupProgress warmup;
    bool dirty = false;  // changed since the last takeChanges()
    uint32_t refs = 0;   // reservations and commits holding this entry: never pruned while held
    const Bucket* bucket(uint8_t counter, int64_t start) const;
    uint64_t count(uint8_t counter, int64_t start) const;  // committed + reserved
    bool operator==(const ScopeEntry& o) const {
        return buckets == o.buckets && tat == o.tat && nextSend == o.nextSend && sends == o.sends && warmup == o.warmup;
    }
};

using ScopeNode = std::pair<const std::string, ScopeEntry>;

// A Holding bound to its scope entry (the map node: stable until erased, and a held entry is not
// erased), so release, commit and refund need no lookup and no copy of the key.
struct Held {
    ScopeNode* node = nullptr;
    int64_t capPeriod = kNoPeriod;
    int64_t dayPeriod = kNoPeriod;
    int32_t warmupDay = kNoDay;
    int64_t gcraCost = 0;
    const std::string& key() const { return node->first; }
    bool operator==(const Held& o) const {
        return key() == o.key() && capPeriod == o.capPeriod && dayPeriod == o.dayPeriod && warmupDay == o.warmupDay &&
               gcraCost == o.gcraCost;
    }
};

// Recipients are kept as a 64-bit hash of the lower-case address: enough to find the one named at
// END-OF-MESSAGE or in a refund, and far smaller than the address for the commits kept for
// policyd_refund_window.
uint64_t recipientHash(std::string_view address);  // case-insensitive

struct RecipientHold {
    uint64_t recipient = 0;  // recipientHash()
    std::vector<Held> holdings;
    bool operator==(const RecipientHold&) const = default;
};

// A transaction's reservations, in RCPT order.
struct Reservation {
    std::vector<RecipientHold> recipients;
    std::vector<Held> message;  // `msgs` holdings: committed when any recipient is
    int64_t expires = 0;        // ns since the epoch; extended by every RCPT of the instance
    bool dirty = false;
    bool holds(std::string_view key) const;  // some holding of this instance uses key
    bool operator==(const Reservation& o) const {
        return recipients == o.recipients && message == o.message && expires == o.expires;
    }
};

struct CommittedRecipient {
    uint64_t recipient = 0;  // recipientHash()
    std::vector<Held> holdings;
    bool refunded = false;
    bool operator==(const CommittedRecipient&) const = default;
};

// A committed message, kept for policyd_refund_window so the milter can give its counts back.
struct Commit {
    std::vector<CommittedRecipient> recipients;
    std::vector<Held> message;
    bool messageRefunded = false;
    int64_t at = 0;  // ns since the epoch
    bool dirty = false;
    bool operator==(const Commit& o) const {
        return recipients == o.recipients && message == o.message && messageRefunded == o.messageRefunded && at == o.at;
    }
};

// Which scopes an operator command is about: "mailbox=bob@acme-mail.com",
// "sender_domain=acme-mail.com,provider=google", optionally with "limit=NAME" (only that limit).
struct ScopeSpec {
    std::string limit;
    std::vector<std::pair<ScopeKind, std::string>> values;  // lower-case, in the order written
    static util::Result<ScopeSpec> parse(std::string_view text);
    std::string str() const;  // canonical: limit first, then the values as written
    bool empty() const { return limit.empty() && values.empty(); }
    bool operator==(const ScopeSpec&) const = default;
};

struct Pause {
    ScopeSpec spec;
    std::string who;
    std::string why;
    int64_t since = 0;  // ns since the epoch
    bool operator==(const Pause&) const = default;
};

struct StateOptions {
    std::chrono::seconds reservationTimeout{600};  // policyd_reservation_timeout
    std::chrono::seconds refundWindow{3600};       // policyd_refund_window
    // A warmup whose scope sent nothing for this long starts again at day 1 (reputation systems
    // keep about 30 days of history; SendGrid re-warms after 30 idle days). 0: never forget.
    std::chrono::seconds warmupForget{30 * 86400};
};

struct CommitResult {
    size_t committedRecipients = 0;
    size_t releasedRecipients = 0;  // reserved but not among the accepted ones
    bool found = false;             // the instance had a reservation
};

struct RefundResult {
    enum class Status { Refunded, AlreadyRefunded, UnknownQueueId, UnknownRecipient };
    Status status = Status::UnknownQueueId;
    size_t recipients = 0;             // recipients given back by this call
    std::vector<std::string> unknown;  // named recipients the message did not have
    std::string text;                  // for the log and the reply: "refunded 2 recipients of 4F3A2B1C"
};

struct ExpireResult {
    size_t releasedReservations = 0;
    size_t prunedScopes = 0;
    size_t prunedCommits = 0;
};

// One row of `rampartctl status`: a (limit, scope) the state knows.
struct StatusRow {
    std::string limit;
    std::string scope;              // ScopeSpec form ("mailbox=bob@acme-mail.com"): paste into pause/reset
    std::string period;             // of count/cap: "h", "day", "week"; "" when the limit has no cap
    uint64_t count = 0;             // committed + reserved in the current period
    uint64_t reserved = 0;          // of which reserved (transactions in flight)
    std::optional<uint64_t> cap;    // the limit's cap for the period ...
    std::optional<uint64_t> today;  // warmup: today's count (day counter)
    std::optional<uint32_t> warmupDay;
    std::optional<uint64_t> warmupCap;          // ... and today's warmup cap; the tighter one binds
    std::optional<util::SystemTime> nextReset;  // start of the next calendar period (cap or warmup day)
    std::string nextResetText;                  // in the limit's zone: "2026-11-23 00:00 CET"
    std::optional<util::SystemTime> nextSend;   // rate/spacing: earliest next send, when in the future
    bool paused = false;
    std::string pause;  // "by alice at 2026-11-22 10:00 UTC: blocked at gmail"
};

class State {
  public:
    explicit State(StateOptions options = {});
    // Copies rebind the holdings to the copy's own entries.
    State(const State& o);
    State& operator=(const State& o);
    State(State&&) = default;
    State& operator=(State&&) = default;
    ~State() = default;

    const StateOptions& options() const { return options_; }
    void setOptions(const StateOptions& o) { options_ = o; }

    // ---- the request path
    // Reserves what an allowed request takes: the mutations decide() returns with verdict Allow
    // (the caller calls it for that verdict only).
    void reserve(const Mutations& m);
    // END-OF-MESSAGE: the instance's reservations become counts bound to queueId. When fewer
    // recipients were accepted than reserved: with recipientCount == 1 and `recipient` given, that
    // recipient's reservation is committed; otherwise the first recipientCount in RCPT order. The
    // rest is released. `msgs` holdings are committed when any recipient is.
    CommitResult commit(std::string_view instance, std::string_view queueId, uint64_t recipientCount,
                        std::string_view recipient, util::SystemTime now);
    // A transaction ended without END-OF-MESSAGE: give its reservations back. False: none held.
    bool release(std::string_view instance);
    // Releases reservations past their expiry and forgets commits older than the refund window
    // (both kept in time order: cost proportional to what expires); prunes finished periods, idle
    // rates and forgotten warmups of at most maxScopes scope entries, continuing where the last
    // call stopped. The daemon calls it every second or so with a budget (e.g. 5000) so one call
    // never stalls the event loop; the default examines every entry once.
    ExpireResult expire(util::SystemTime now, size_t maxScopes = SIZE_MAX);
    // Gives back the counts of a committed message (the milter refused it) or of some of its
    // recipients (empty list: all). Idempotent: a recipient is refunded at most once.
    RefundResult refund(std::string_view queueId, const std::vector<std::string>& recipients, util::SystemTime now);

    // ---- operator controls (rampartctl)
    // A pause defers every request matching spec until resumed (replaces an existing pause of the
    // same spec). Error: a spec without scope values or limit.
    util::Result<bool> pause(const ScopeSpec& spec, std::string_view who, std::string_view why, util::SystemTime now);
    bool resume(const ScopeSpec& spec);  // false: no such pause
    // Clears the counts, rate and spacing of every (limit, scope) matching spec. With warmupDay,
    // the matching scopes of limits with a warmup are moved so that today is that warmup day
    // (created when the scope never sent and the spec names every scope value of the limit).
    // Returns how many (limit, scope) entries it changed.
    size_t reset(const ScopeSpec& spec, std::optional<uint32_t> warmupDay, const LimitSet& limits,
                 util::SystemTime now);
    // The rows for `rampartctl status` (filter: only matching entries; nullptr: all), sorted by
    // limit (file order) then scope. Entries of limits no longer in the file are skipped.
    std::vector<StatusRow> status(const LimitSet& limits, const ScopeSpec* filter, util::SystemTime now) const;

    // ---- read access (decide(), status, tests)
    const ScopeEntry* find(std::string_view key) const;
    const Reservation* reservation(std::string_view instance) const;
    const Commit* committed(std::string_view queueId) const;
    const std::vector<Pause>& pauses() const { return pauses_; }
    bool pausesNeedProvider() const;
    size_t scopeCount() const { return scopes_.size(); }
    size_t reservationCount() const { return reservations_.size(); }
    size_t commitCount() const { return commits_.size(); }
    bool operator==(const State& o) const;  // same entities (tests: replay equals the live state)

    // ---- durability (journal.h)
    // While tracking, every changed entity is remembered until takeChanges() hands it out.
    void trackChanges(bool on);
    // Calls sink with one record payload per entity changed since the last call: its absolute
    // value, or its deletion. Replaying the payloads in order with applyRecord() reproduces the
    // state.
    void takeChanges(const std::function<void(std::string_view)>& sink);
    // Every entity as a record payload (a snapshot).
    void snapshot(const std::function<void(std::string_view)>& sink) const;
    // Replays one record payload; an error for a payload this version cannot read.
    util::Result<bool> applyRecord(std::string_view payload);
    void clear();

  private:
    ScopeNode& node(std::string_view key);
    ScopeEntry& entry(std::string_view key) { return node(key).second; }
    Bucket& bucket(ScopeEntry& e, uint8_t counter, int64_t start);
    void markScope(ScopeNode& n);
    void markReservation(std::string_view instance, Reservation& r);
    void markCommit(std::string_view queueId, Commit& c);
    Held hold(const Holding& h);  // binds (creating the entry) and counts the reference
    std::vector<Held> bind(const std::vector<Holding>& hs);
    void unref(const std::vector<Held>& hs);
    void unref(const Reservation& r);
    void unref(const Commit& c);
    void giveBack(const Held& h, bool committed);
    void commitHeld(const Held& h);
    void rebind();  // after a copy: point every Held at this state's own entries

    // Transparent (lookups by string_view allocate nothing). Deliberately not noexcept: libstdc++
    // then stores each node's hash, so walking a bucket and erasing never re-hash the keys.
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const;
    };
    template <typename T>
    using Map = std::unordered_map<std::string, T, Hash, std::equal_to<>>;

    StateOptions options_;
    Map<ScopeEntry> scopes_;
    Map<Reservation> reservations_;
    Map<Commit> commits_;
    std::vector<Pause> pauses_;

    bool tracking_ = false;
    // Changed entities since the last takeChanges(). Scope entries by node: an entry with a
    // pending change is never erased (expire() leaves it for its next call).
    std::vector<ScopeNode*> changedScopes_;
    std::vector<std::string> deletedScopes_;
    std::vector<std::string> changedReservations_;
    std::vector<std::string> changedCommits_;
    bool pausesChanged_ = false;

    // Expiry queues, oldest first (entries may be stale: checked against the map when popped).
    std::deque<std::pair<int64_t, std::string>> reservationOrder_;  // (expires, instance)
    std::deque<std::pair<int64_t, std::string>> commitOrder_;       // (committed at, queue id)
    std::string scanCursor_;  // the key expire()'s scope scan continues at ("": the start)
};

// `rampartctl status --json`: {"scopes":[{...}], "pauses":[{...}]}.
std::string statusJson(const std::vector<StatusRow>& rows, const std::vector<Pause>& pauses);

}  // namespace rampart::policyd
