// Time as a parameter. Logic never calls time(): it receives a Clock (or a time point) so tests can
// drive it with FakeClock instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>

namespace rampart::util {

using SystemTime = std::chrono::system_clock::time_point;

class Clock {
  public:
    virtual ~Clock() = default;
    virtual SystemTime now() const = 0;
};

class SystemClock final : public Clock {
  public:
    SystemTime now() const override { return std::chrono::system_clock::now(); }
};

class FakeClock final : public Clock {
  public:
    explicit FakeClock(SystemTime start = SystemTime{}) : t_(start.time_since_epoch().count()) {}
    SystemTime now() const override { return SystemTime(SystemTime::duration(t_.load())); }
    void set(SystemTime t) { t_.store(t.time_since_epoch().count()); }
    void advance(std::chrono::nanoseconds d) {
        t_.fetch_add(std::chrono::duration_cast<SystemTime::duration>(d).count());
    }

  private:
    std::atomic<SystemTime::rep> t_;
};

}  // namespace rampart::util
