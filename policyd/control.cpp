// rampart-policyd's control commands (see control.h): status, pause, resume, reset and stats, over
// the request service's store.
#include "policyd/control.h"

#include "util/log.h"
#include "util/strings.h"

namespace rampart::policyd {

namespace {

std::string command(std::string_view line, PolicyService& service, const std::function<std::string()>& statsLine,
                    util::SystemTime now) {
    StateStore& store = service.store();
    auto f = util::splitExact(line, '\t');
    const std::string cmd(f.empty() ? std::string_view() : f[0]);
    auto spec = [&](size_t i) -> util::Result<ScopeSpec> {
        if (f.size() <= i || f[i].empty()) return util::err("a scope is needed, e.g. mailbox=bob@example.com");
        return ScopeSpec::parse(f[i]);
    };
    if (cmd == "stats") return "ok\n" + statsLine() + "\n";
    if (cmd == "status") {
        std::optional<ScopeSpec> filter;
        if (f.size() > 1 && !f[1].empty()) {
            auto s = ScopeSpec::parse(f[1]);
            if (!s) return "error: " + s.error() + "\n";
            filter = *s;
        }
        auto rows = store.status(*service.runtime()->limits, filter ? &*filter : nullptr, now);
        return "ok\n" + statusJson(rows, store.pauses()) + "\n";
    }
    if (cmd == "pause") {
        auto s = spec(1);
        if (!s) return "error: " + s.error() + "\n";
        std::string who(f.size() > 2 ? f[2] : "rampartctl"), why(f.size() > 3 ? f[3] : "");
        auto r = store.pause(*s, who, why, now);
        if (!r) return "error: " + r.error() + "\n";
        log::warning("paused " + s->str() + " by " + who + (why.empty() ? "" : ": " + why));
        return "ok\npaused " + s->str() + "\n";
    }
    if (cmd == "resume") {
        auto s = spec(1);
        if (!s) return "error: " + s.error() + "\n";
        std::string who(f.size() > 2 ? f[2] : "rampartctl");
        if (!store.resume(*s)) return "error: " + s->str() + " is not paused\n";
        log::warning("resumed " + s->str() + " by " + who);
        return "ok\nresumed " + s->str() + "\n";
    }
    if (cmd == "reset") {
        auto s = spec(1);
        if (!s) return "error: " + s.error() + "\n";
        std::optional<uint32_t> day;
        if (f.size() > 2 && !f[2].empty() && f[2] != "-") {
            auto d = util::parseUnsigned(f[2]);
            if (!d || *d == 0 || *d > 100000) return "error: --warmup-day needs a day number from 1\n";
            day = static_cast<uint32_t>(*d);
        }
        std::string who(f.size() > 3 ? f[3] : "rampartctl"), why(f.size() > 4 ? f[4] : "");
        size_t n = store.reset(*s, day, *service.runtime()->limits, now);
        log::warning("reset " + s->str() + (day ? " to warmup day " + std::to_string(*day) : "") + " by " + who +
                     (why.empty() ? "" : ": " + why) + " (" + std::to_string(n) + " entries)");
        return "ok\nreset " + std::to_string(n) + " entr" + (n == 1 ? "y" : "ies") + "\n";
    }
    return "error: unknown command " + util::quoted(cmd, 40) + "\n";
}

}  // namespace

std::string runControl(std::string_view line, PolicyService& service, const std::function<std::string()>& statsLine,
                       util::SystemTime now) {
    std::string reply;
    try {
        reply = command(line, service, statsLine, now);
    } catch (const std::exception& e) {
        reply = std::string("error: ") + e.what() + "\n";
    }
    // Operator changes are journaled like any other before the answer.
    if (auto r = service.store().flush(); !r) reply = "error: journal: " + r.error() + "\n";
    return reply;
}

}  // namespace rampart::policyd
