// LockGuarded<T>: data that can only be reached while holding its mutex (after PowerDNS).
#pragma once

#include <mutex>
#include <utility>

namespace rampart::util {

template <typename T>
class LockGuarded {
  public:
    template <typename... Args>
    explicit LockGuarded(Args&&... args) : value_(std::forward<Args>(args)...) {}

    class Holder {
      public:
        Holder(T& v, std::mutex& m) : lock_(m), v_(v) {}
        T* operator->() { return &v_; }
        T& operator*() { return v_; }

      private:
        std::unique_lock<std::mutex> lock_;
        T& v_;
    };

    Holder lock() { return Holder(value_, mutex_); }

  private:
    std::mutex mutex_;
    T value_;
};

}  // namespace rampart::util
