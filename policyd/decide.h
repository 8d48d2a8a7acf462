// The decision core: one RCPT request against the limits and the current state. decide() is PURE
// (no clock, no I/O, no globals): it returns what to answer and, for an allowed request, the
// mutations the caller then reserves with State::reserve(). Reservation is all-or-nothing: when any limit refuses,
// nothing is counted anywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/calendar.h"
#include "policyd/limits.h"
#include "policyd/request.h"
#include "policyd/state.h"
#include "util/clock.h"

namespace rampart::policyd {

enum class Verdict : uint8_t {
    NotApplicable,  // not a RCPT request, or no limit applies: DUNNO, nothing counted
    Exempt,         // matched [exempt]: DUNNO, nothing counted
    Allow,          // within every limit (monitor-only refusals aside): DUNNO, counted by State::reserve()
    Refuse,         // the binding limit's action
};
std::string_view verdictName(Verdict v);  // "not-applicable", "exempt", "allow", "refuse"

enum class Reason : uint8_t { Cap, WarmupCap, Rate, Spacing, Window, Pause };
std::string_view reasonName(Reason r);  // "cap", "warmup", "rate", "spacing", "window", "pause"

struct Refusal {
    Reason reason = Reason::Cap;
    std::string limit;                        // empty: a pause that names no limit
    std::string scope;                        // "mailbox bob@acme-mail.com", "sender_domain acme.com, provider google"
    std::optional<util::SystemTime> retryAt;  // none: a pause (until resumed)
    Action action = Action::DeferIfPermit;
    bool monitor = false;  // a monitor-only limit (or the global flag): "would defer", not answered
    // "mailbox bob@acme-mail.com reached warmup cap 15/day (day 3, limit cold-mailbox); retry after
    // 2026-11-23 00:00 CET"
    std::string text;
};

struct Decision {
    Verdict verdict = Verdict::NotApplicable;
    // The reply's action: "DUNNO", "DEFER_IF_PERMIT 4.7.1 rampart: TEXT", "DEFER 4.7.1 rampart:
    // TEXT" or "REJECT 5.7.1 rampart: TEXT".
    std::string action = "DUNNO";
    std::optional<Refusal> refusal;   // the binding refusal (verdict Refuse)
    std::vector<Refusal> wouldDefer;  // monitor-only refusals of an allowed request: log them
    size_t limitsApplied = 0;         // limits whose conditions and scopes matched

    // What the caller reserves with State::reserve() when the verdict is Allow (for any other
    // verdict it holds nothing).
    Mutations mutations;
};

// monitorOnly: policyd_monitor_only, every limit answers as if it were `monitor = yes`.
//
// The binding refusal: a `reject` limit's refusal wins over deferrals (a 5xx is final); among the
// rest, the one whose retry time is latest (a pause: never), ties going to the earlier limit.
Decision decide(const Request& request, const LimitSet& limits, const State& state, util::SystemTime now,
                bool monitorOnly = false);

}  // namespace rampart::policyd
