// State's operator controls and status (rampartctl): scope specs ("mailbox=bob@example.com"),
// pause/resume, reset (counts, and the warmup day), the rows of `rampartctl status` and their JSON.
#include <algorithm>

#include "policyd/calendar.h"
#include "policyd/state.h"
#include "util/json.h"
#include "util/strings.h"
#include "util/unix_time.h"

namespace rampart::policyd {

using util::jsonString;

namespace {

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

}  // namespace

util::Result<ScopeSpec> ScopeSpec::parse(std::string_view text) {
    const std::string expected =
        " (expected SCOPE=VALUE[,SCOPE=VALUE...] such as mailbox=bob@example.com or "
        "sender_domain=example.com,provider=google; limit=NAME selects one limit)";
    ScopeSpec spec;
    auto items = util::splitList(text, ",");
    if (items.empty()) return util::err("missing scope" + expected);
    for (const auto& item : items) {
        size_t eq = item.find('=');
        if (eq == std::string::npos) return util::err("cannot read " + util::quoted(item, 200) + expected);
        std::string name(util::trim(std::string_view(item).substr(0, eq)));
        std::string value = util::toLower(util::trim(std::string_view(item).substr(eq + 1)));
        if (value.empty()) return util::err("missing value after \"" + name + "=\"" + expected);
        if (value.find(kKeyLimitSep) != std::string::npos || value.find(kKeyValueSep) != std::string::npos) {
            return util::err("bad value " + util::quoted(value, 200));
        }
        if (name == "limit") {
            if (!spec.limit.empty()) return util::err("limit= given twice");
            spec.limit = std::string(util::trim(std::string_view(item).substr(eq + 1)));
            continue;
        }
        auto kind = parseScopeKind(name);
        if (!kind) return util::err("unknown scope " + util::quoted(name, 200) + expected);
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

std::string statusJson(const std::vector<StatusRow>& rows, const std::vector<Pause>& pauses) {
    auto time = [](const std::optional<util::SystemTime>& t) -> std::string {
        if (!t) return "null";
        return jsonString(util::formatUtc(unixSeconds(*t)));
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
