// decide(): exemptions, pauses, then every applicable limit, evaluated completely before anything
// is reserved, so a refusal by any limit leaves every counter as it was (the mutations are only
// returned, and the caller reserves them with State::reserve()). Everything time-related is
// computed from `now` and the limit's zone (calendar.h); nothing here reads a clock.
#include "policyd/decide.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>

#include "policyd/windows.h"
#include "util/strings.h"

namespace rampart::policyd {

using std::chrono::nanoseconds;
using std::chrono::seconds;

namespace {

// Lower-case values of every attribute of a request; "" where the request has none.
struct RequestValues {
    std::array<std::string, kAttributes> v;
    const std::string& operator[](Attribute a) const { return v[static_cast<size_t>(a)]; }
    std::string& operator[](Attribute a) { return v[static_cast<size_t>(a)]; }
};

std::string_view domainOf(std::string_view address) {
    size_t at = address.rfind('@');
    if (at == std::string_view::npos) return {};
    return address.substr(at + 1);
}

RequestValues valuesOf(const Request& r) {
    RequestValues out;
    std::string sender = util::toLower(r.sender);
    if (sender == "<>") sender.clear();
    out[Attribute::SaslUsername] = util::toLower(r.saslUsername);
    out[Attribute::Mailbox] = out[Attribute::SaslUsername].empty() ? sender : out[Attribute::SaslUsername];
    out[Attribute::SenderDomain] = std::string(domainOf(sender));
    out[Attribute::Sender] = std::move(sender);
    out[Attribute::ClientAddress] = util::toLower(r.clientAddress);
    out[Attribute::Listener] = util::toLower(r.policyContext);
    out[Attribute::Recipient] = util::toLower(r.recipient);
    out[Attribute::RecipientDomain] = std::string(domainOf(out[Attribute::Recipient]));
    out[Attribute::Provider] = r.provider.empty() ? out[Attribute::RecipientDomain] : util::toLower(r.provider);
    return out;
}

bool specMatches(const ScopeSpec& spec, const RequestValues& values) {
    for (const auto& [kind, value] : spec.values) {
        if (values[toAttribute(kind)] != value) return false;
    }
    return true;
}

std::string scopeText(const std::vector<std::pair<ScopeKind, std::string>>& pairs) {
    std::string out;
    for (const auto& [k, v] : pairs) {
        if (!out.empty()) out += ", ";
        out += std::string(scopeName(k)) + " " + v;
    }
    return out;
}

// A refusal found while evaluating; its text is only written for the refusals that are reported
// (the binding one, monitor-only ones), because formatting times is the slow part.
struct Candidate {
    Reason reason = Reason::Cap;
    const Limit* limit = nullptr;  // null: a pause that names no limit
    const Pause* pause = nullptr;
    std::optional<util::SystemTime> retryAt;
    Action action = Action::DeferIfPermit;
    bool monitor = false;
    uint32_t warmupDay = 0;
    uint64_t warmupCap = 0;
};

std::string_view actionPrefix(Action a) {
    switch (a) {
        case Action::DeferIfPermit:
            return "DEFER_IF_PERMIT 4.7.1 rampart: ";
        case Action::Defer:
            return "DEFER 4.7.1 rampart: ";
        case Action::Reject:
            return "REJECT 5.7.1 rampart: ";
    }
    return "DEFER_IF_PERMIT 4.7.1 rampart: ";
}

Refusal describe(const Candidate& c, const RequestValues& values) {
    Refusal r;
    r.reason = c.reason;
    r.retryAt = c.retryAt;
    r.action = c.action;
    r.monitor = c.monitor;
    if (!c.limit) {
        r.scope = scopeText(c.pause->spec.values);
        r.text = r.scope + " paused by admin" + (c.pause->why.empty() ? "" : ": " + c.pause->why);
        return r;
    }
    const Limit& lim = *c.limit;
    r.limit = lim.name;
    std::vector<std::pair<ScopeKind, std::string>> pairs;
    for (auto k : lim.scopes)
        pairs.emplace_back(k, values[toAttribute(k)]);
    r.scope = scopeText(pairs);
    const std::string tail = " (limit " + lim.name + ")";
    const date::time_zone* zone = lim.zone;
    switch (c.reason) {
        case Reason::Pause:
            r.text = r.scope + " paused by admin" + (c.pause->why.empty() ? "" : ": " + c.pause->why) + tail;
            break;
        case Reason::Cap:
            r.text = r.scope + " reached cap " + lim.cap->str() + tail;
            break;
        case Reason::WarmupCap:
            r.text = r.scope + " reached warmup cap " + std::to_string(c.warmupCap) +
                     (lim.warmupMessages ? " msgs" : "") + "/day (day " + std::to_string(c.warmupDay) + ", limit " +
                     lim.name + ")";
            break;
        case Reason::Rate:
            r.text = r.scope + " paced at " + lim.rate->str() + tail;
            break;
        case Reason::Spacing:
            r.text = r.scope + " keeps " + lim.spacing->str() + " between sends" + tail;
            break;
        case Reason::Window:
            r.text = r.scope + " is outside sending window " + lim.window->str() + tail;
            zone = lim.window->zone;
            break;
    }
    if (r.retryAt && r.action != Action::Reject) {
        r.text += "; retry after " + formatTime(*r.retryAt, zone);
    }
    return r;
}

// Later retry binds; none (a pause) is latest of all.
bool later(const std::optional<util::SystemTime>& a, const std::optional<util::SystemTime>& b) {
    if (!a) return b.has_value();
    if (!b) return false;
    return *a > *b;
}

}  // namespace

std::string_view verdictName(Verdict v) {
    switch (v) {
        case Verdict::NotApplicable:
            return "not-applicable";
        case Verdict::Exempt:
            return "exempt";
        case Verdict::Allow:
            return "allow";
        case Verdict::Refuse:
            return "refuse";
    }
    return "?";
}

std::string_view reasonName(Reason r) {
    switch (r) {
        case Reason::Cap:
            return "cap";
        case Reason::WarmupCap:
            return "warmup";
        case Reason::Rate:
            return "rate";
        case Reason::Spacing:
            return "spacing";
        case Reason::Window:
            return "window";
        case Reason::Pause:
            return "pause";
    }
    return "?";
}

namespace {

// The zone offsets decide() needs, looked up once per zone per request (limits share a few zones).
class ZoneCache {
  public:
    explicit ZoneCache(int64_t nowSec) : now_(nowSec) {}
    const ZoneNow& operator()(const date::time_zone* zone) {
        for (size_t i = 0; i < used_; ++i) {
            if (zones_[i] == zone) return values_[i];
        }
        size_t slot = used_ < kSlots ? used_++ : 0;
        zones_[slot] = zone;
        values_[slot] = zoneNow(zone, now_);
        return values_[slot];
    }

  private:
    static constexpr size_t kSlots = 4;
    int64_t now_;
    size_t used_ = 0;
    std::array<const date::time_zone*, kSlots> zones_{};
    std::array<ZoneNow, kSlots> values_{};
};

}  // namespace

Decision decide(const Request& req, const LimitSet& limits, const State& state, util::SystemTime now,
                bool monitorOnly) {
    Decision d;
    if (req.protocolState != "RCPT") return d;
    if (!req.request.empty() && req.request != "smtpd_access_policy") return d;

    RequestValues values = valuesOf(req);

    // Exemptions: DUNNO without counting.
    const Exemptions& ex = limits.exemptions();
    for (size_t a = 0; a < kAttributes; ++a) {
        const auto& v = values.v[a];
        if (!v.empty() && !ex.values[a].empty() && ex.values[a].count(v)) {
            d.verdict = Verdict::Exempt;
            return d;
        }
    }
    if (!ex.networks.networks().empty() && !values[Attribute::ClientAddress].empty() &&
        ex.networks.contains(values[Attribute::ClientAddress])) {
        d.verdict = Verdict::Exempt;
        return d;
    }

    const int64_t nowNs = unixNanos(now);
    const int64_t nowSec = unixSeconds(now);
    const Reservation* res = req.instance.empty() ? nullptr : state.reservation(req.instance);

    std::vector<Candidate> refusals;
    ZoneCache zones(nowSec);

    // Pauses that name no limit stop the request whatever limits apply.
    for (const auto& p : state.pauses()) {
        if (!p.spec.limit.empty() || !specMatches(p.spec, values)) continue;
        Candidate c;
        c.reason = Reason::Pause;
        c.pause = &p;
        c.monitor = monitorOnly;
        refusals.push_back(c);
    }

    std::string key;
    for (const Limit& lim : limits.limits()) {
        bool applies = true;
        for (const auto& c : lim.when) {
            if (!c.matches(values[c.attribute])) {
                applies = false;
                break;
            }
        }
        if (!applies) continue;
        key.assign(lim.name);
        key += kKeyLimitSep;
        for (size_t i = 0; i < lim.scopes.size(); ++i) {
            const std::string& v = values[toAttribute(lim.scopes[i])];
            if (v.empty()) {
                applies = false;
                break;
            }
            if (i > 0) key += kKeyValueSep;
            key += v;
        }
        if (!applies) continue;
        ++d.limitsApplied;
        const bool monitor = monitorOnly || lim.monitor;
        auto refuse = [&](Reason reason, std::optional<util::SystemTime> retryAt) -> Candidate& {
            Candidate c;
            c.reason = reason;
            c.limit = &lim;
            c.retryAt = retryAt;
            c.action = lim.action;
            c.monitor = monitor;
            refusals.push_back(c);
            return refusals.back();
        };
        size_t before = refusals.size();

        for (const auto& p : state.pauses()) {
            if (p.spec.limit != lim.name || !specMatches(p.spec, values)) continue;
            Candidate& c = refuse(Reason::Pause, std::nullopt);
            c.pause = &p;
            c.action = Action::DeferIfPermit;  // a pause is temporary, whatever the limit's action
        }

        const ScopeEntry* e = state.find(key);
        const bool heldByInstance = res && res->holds(key);
        bool messageCounted = false;  // this instance already holds the limit's `msgs` counts
        if (res) {
            for (const auto& h : res->message) {
                if (h.key() == key) {
                    messageCounted = true;
                    break;
                }
            }
        }

        if (lim.window && !insideWindow(*lim.window, zones(lim.window->zone).local)) {
            refuse(Reason::Window, fromSeconds(nextOpening(*lim.window, nowSec)));
        }

        const WarmupSchedule* ws = limits.warmupOf(lim);
        int32_t today = kNoDay;
        uint32_t warmupDay = 0;
        uint64_t warmupCap = 0;
        if (ws) {
            today = localDayAt(zones(lim.zone));
            warmupDay = warmupDayOf(*ws, e ? e->warmup : WarmupProgress{}, today);
            warmupCap = ws->capOnDay(warmupDay);
        }

        int64_t capStart = kNoPeriod;
        if (lim.cap) {
            capStart = periodStartAt(lim.cap->period, lim.zone, zones(lim.zone));
            uint64_t inc = (lim.cap->messages && messageCounted) ? 0 : 1;
            uint64_t limit = lim.cap->count;
            bool warmupBinds = false;
            if (ws && lim.warmupSharesCapCounter && warmupCap < limit) {
                limit = warmupCap;
                warmupBinds = true;
            }
            uint64_t count = e ? e->count(0, capStart) : 0;
            if (inc > 0 && count + inc > limit) {
                Candidate& c = refuse(warmupBinds ? Reason::WarmupCap : Reason::Cap,
                                      fromSeconds(nextPeriodStartAt(lim.cap->period, lim.zone, zones(lim.zone))));
                c.warmupDay = warmupDay;
                c.warmupCap = warmupCap;
            }
        }
        int64_t dayStart = kNoPeriod;
        if (ws && !lim.warmupSharesCapCounter) {
            dayStart = periodStartAt(CalendarPeriod::Day, lim.zone, zones(lim.zone));
            uint64_t inc = (lim.warmupMessages && messageCounted) ? 0 : 1;
            uint64_t count = e ? e->count(1, dayStart) : 0;
            if (inc > 0 && count + inc > warmupCap) {
                Candidate& c = refuse(Reason::WarmupCap,
                                      fromSeconds(nextPeriodStartAt(CalendarPeriod::Day, lim.zone, zones(lim.zone))));
                c.warmupDay = warmupDay;
                c.warmupCap = warmupCap;
            }
        }
        if (lim.rate && !(lim.rate->rate.messages && messageCounted)) {
            const int64_t emission = lim.rate->emission.count();
            const int64_t tat = std::max(e ? e->tat : 0, nowNs);
            const int64_t newTat = tat + emission;
            const int64_t allowedAt = newTat - static_cast<int64_t>(lim.rate->burst) * emission;
            if (nowNs < allowedAt) refuse(Reason::Rate, fromNanos(allowedAt));
        }
        if (lim.spacing && !heldByInstance && e && nowNs < e->nextSend) {
            refuse(Reason::Spacing, fromNanos(e->nextSend));
        }

        bool refusedHere = false;
        for (size_t i = before; i < refusals.size(); ++i) {
            if (!refusals[i].monitor) refusedHere = true;
        }
        if (refusedHere) continue;  // nothing will be applied anyway

        // Within this limit (or monitor-only): what an allowed request takes.
        Holding perRcpt;
        Holding perMsg;
        bool needRcpt = false, needMsg = false;
        if (lim.cap) {
            Holding& h = lim.cap->messages ? perMsg : perRcpt;
            (lim.cap->messages ? needMsg : needRcpt) = true;
            h.capPeriod = capStart;
            if (ws && lim.warmupSharesCapCounter) h.warmupDay = today;
        }
        if (ws && !lim.warmupSharesCapCounter) {
            Holding& h = lim.warmupMessages ? perMsg : perRcpt;
            (lim.warmupMessages ? needMsg : needRcpt) = true;
            h.dayPeriod = dayStart;
            h.warmupDay = today;
        }
        if (lim.rate) {
            Holding& h = lim.rate->rate.messages ? perMsg : perRcpt;
            (lim.rate->rate.messages ? needMsg : needRcpt) = true;
            h.gcraCost = lim.rate->emission.count();
        }
        if (lim.spacing) needRcpt = true;  // marks the instance: its later recipients skip spacing
        if (needMsg && !messageCounted) {
            perMsg.key = key;
            d.mutations.message.push_back(std::move(perMsg));
        }
        if (needRcpt) {
            perRcpt.key = key;
            d.mutations.recipient.push_back(std::move(perRcpt));
        }
        if (lim.spacing && !heldByInstance) {
            SpacingStep st;
            st.key = key;
            st.intervalNs = std::chrono::duration_cast<nanoseconds>(lim.spacing->interval).count();
            st.jitterNs = std::chrono::duration_cast<nanoseconds>(lim.spacing->jitter).count();
            d.mutations.spacing.push_back(std::move(st));
        }
    }

    // The binding refusal among those that are answered.
    const Candidate* binding = nullptr;
    for (const auto& c : refusals) {
        if (c.monitor) continue;
        if (!binding) {
            binding = &c;
            continue;
        }
        bool cReject = c.action == Action::Reject;
        bool bReject = binding->action == Action::Reject;
        if (cReject != bReject) {
            if (cReject) binding = &c;
            continue;
        }
        if (later(c.retryAt, binding->retryAt)) binding = &c;
    }
    if (binding) {
        d.verdict = Verdict::Refuse;
        d.refusal = describe(*binding, values);
        d.action = std::string(actionPrefix(d.refusal->action)) + d.refusal->text;
        d.mutations = Mutations{};
        return d;
    }
    for (const auto& c : refusals)
        d.wouldDefer.push_back(describe(c, values));
    if (d.limitsApplied == 0 && d.wouldDefer.empty()) return d;  // NotApplicable
    d.verdict = Verdict::Allow;
    d.mutations.instance = req.instance;
    d.mutations.recipientAddress = values[Attribute::Recipient];
    d.mutations.now = now;
    return d;
}

}  // namespace rampart::policyd
