// rampart-milter's counters: totals and per domain (the signing domain for signed mail, the From
// domain otherwise), logged as one line every milter_stats_interval and on SIGUSR1.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::milter {

class Stats {
  public:
    // what: "signed", "passed" (not our users' mail), "tempfailed", "rejected", "discarded",
    // "unsigned" (accepted without signature), "errors", "rcpt_rejected".
    void count(std::string_view what, const std::vector<std::string>& domains = {});
    uint64_t total(std::string_view what) const;
    std::string line() const;  // "stats: signed=12 passed=3 ...; example.com signed=10 ..."

  private:
    mutable std::mutex mu_;
    std::map<std::string, uint64_t, std::less<>> totals_;
    std::map<std::string, std::map<std::string, uint64_t, std::less<>>, std::less<>> byDomain_;
};

}  // namespace rampart::milter
