// Keeps a daemon's in-memory suppression Index in step with the SQLite store that rampartctl, the
// one-click endpoint and bounce ingestion write. A background thread polls the audit trail every
// `interval` (0.5 s by default), so a change is seen within a second without a restart.
//
// A store that does not exist yet is not an error: the daemons start before anyone has suppressed
// anything; lookups find nothing until the file appears, and the follower then loads it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "suppression/index.h"
#include "suppression/store.h"

namespace rampart::suppress {

class Follower {
  public:
    Follower(std::string path, NormalizeOptions norm,
             std::chrono::milliseconds interval = std::chrono::milliseconds(500));
    ~Follower();
    Follower(const Follower&) = delete;
    Follower& operator=(const Follower&) = delete;

    // One poll: opens the store if it appeared, loads or refreshes the index. Returns a line for the
    // log when something noteworthy happened (first load, error, recovery), else "".
    std::string poll();
    // Starts / stops the background thread (start after dropping privileges: the store is opened
    // with the daemon's own rights).
    void start();
    void stop();

    const Index& index() const { return *index_; }
    std::shared_ptr<const Index> shared() const { return index_; }
    const std::string& path() const { return path_; }
    bool loaded() const { return loaded_.load(); }

  private:
    std::string path_;
    std::chrono::milliseconds interval_;
    std::shared_ptr<Index> index_;
    std::unique_ptr<Store> store_;
    std::atomic<bool> loaded_{false};
    std::string lastError_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace rampart::suppress
