// The suppression follower (follower.h): a thread that polls the audit trail and updates the Index.
#include "suppression/follower.h"

#include <sys/stat.h>

#include "util/log.h"

namespace rampart::suppress {

Follower::Follower(std::string path, NormalizeOptions norm, std::chrono::milliseconds interval)
    : path_(std::move(path)), interval_(interval), index_(std::make_shared<Index>(norm)) {}

Follower::~Follower() {
    stop();
}

std::string Follower::poll() {
    try {
        if (!store_) {
            struct stat st {};
            if (::stat(path_.c_str(), &st) != 0) {
                std::string e = "suppression list " + path_ +
                                " does not exist yet: nothing is suppressed until "
                                "rampartctl suppress (or the one-click endpoint, or ingest) creates it";
                if (e == lastError_) return {};
                lastError_ = e;
                return e;
            }
            auto s = Store::open(path_, true);
            if (!s) {
                std::string e = "suppression list " + path_ + ": " + s.error();
                if (e == lastError_) return {};
                lastError_ = e;
                return e;
            }
            auto n = index_->load(**s);
            if (!n) {
                std::string e = "suppression list " + path_ + ": " + n.error();
                if (e == lastError_) return {};
                lastError_ = e;
                return e;
            }
            store_ = std::move(s).value();
            loaded_ = true;
            lastError_.clear();
            return "suppression list " + path_ + ": " + std::to_string(*n) + " entries loaded";
        }
        // Follow the audit trail; a large import arrives in several batches.
        for (int i = 0; i < 1000; ++i) {
            auto n = index_->refresh(*store_);
            if (!n) {
                std::string e = "suppression list " + path_ + ": refresh failed: " + n.error();
                if (e == lastError_) return {};
                lastError_ = e;
                return e;
            }
            if (*n == 0) break;
        }
        if (!lastError_.empty()) {
            lastError_.clear();
            return "suppression list " + path_ + ": refresh works again";
        }
        return {};
    } catch (const std::exception& e) {
        return std::string("suppression list ") + path_ + ": " + e.what();
    }
}

void Follower::start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] {
        std::unique_lock lock(mu_);
        while (!stopping_) {
            lock.unlock();
            std::string line = poll();
            if (!line.empty()) log::info(line);
            lock.lock();
            cv_.wait_for(lock, interval_, [this] { return stopping_; });
        }
    });
}

void Follower::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

}  // namespace rampart::suppress
