// rampart-milter's counters (stats.h): totals and per-domain counts, logged periodically and on SIGUSR1.
#include "milter/stats.h"

namespace rampart::milter {

namespace {
constexpr std::string_view kOrder[] = {"messages", "signed",    "passed",        "unsigned", "tempfailed",
                                       "rejected", "discarded", "rcpt_rejected", "errors"};
}

void Stats::count(std::string_view what, const std::vector<std::string>& domains) {
    std::lock_guard lock(mu_);
    ++totals_[std::string(what)];
    for (const auto& d : domains)
        ++byDomain_[d][std::string(what)];
}

uint64_t Stats::total(std::string_view what) const {
    std::lock_guard lock(mu_);
    auto it = totals_.find(what);
    return it == totals_.end() ? 0 : it->second;
}

std::string Stats::line() const {
    std::lock_guard lock(mu_);
    std::string s = "stats:";
    for (auto k : kOrder) {
        auto it = totals_.find(k);
        s += " " + std::string(k) + "=" + std::to_string(it == totals_.end() ? 0 : it->second);
    }
    for (const auto& [k, v] : totals_) {
        bool known = false;
        for (auto o : kOrder)
            known = known || o == k;
        if (!known) s += " " + k + "=" + std::to_string(v);
    }
    if (!byDomain_.empty()) {
        s += "; by domain:";
        for (const auto& [domain, counters] : byDomain_) {
            s += " " + domain;
            for (const auto& [k, v] : counters)
                s += " " + k + "=" + std::to_string(v);
            s += ";";
        }
        s.pop_back();
    }
    return s;
}

}  // namespace rampart::milter
