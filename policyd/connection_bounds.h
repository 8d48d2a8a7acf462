// The bounds of one policy connection's memory and of the connections one peer may hold (Rampart
// issue 9), as pure code the server (server.cpp) applies and unit tests check without sockets:
// - InputBuffer: received bytes not yet parsed; consumed bytes are dropped (at once when all are,
//   else once they are half the buffer), so pipelined or split requests cannot grow it.
// - FlowLimits: when to stop reading (a request cannot be longer than policyd_max_request_size, and
//   replies the client does not read stop the reading at policyd_max_pending_replies) and when to
//   give up on a client whose unread replies still pile up (kHardPendingFactor times that).
// - PeerCounts: connections per peer (a unix client's uid, an inet client's address) against
//   policyd_max_connections_per_peer.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace rampart::policyd {

class InputBuffer {
  public:
    std::string_view unread() const { return std::string_view(data_).substr(offset_); }
    size_t unreadSize() const { return data_.size() - offset_; }
    bool empty() const { return offset_ == data_.size(); }
    size_t stored() const { return data_.size(); }  // bytes held, consumed ones not yet dropped included

    void append(const char* bytes, size_t n) { data_.append(bytes, n); }

    // Marks n unread bytes as parsed; drops the consumed prefix when it is all, or half, of the buffer
    // (each byte is moved at most once on average).
    void consume(size_t n) {
        offset_ += n < unreadSize() ? n : unreadSize();
        if (offset_ == data_.size()) {
            data_.clear();
            offset_ = 0;
        } else if (offset_ >= data_.size() / 2) {
            data_.erase(0, offset_);
            offset_ = 0;
        }
    }

  private:
    std::string data_;
    size_t offset_ = 0;
};

struct FlowLimits {
    // A client whose unread replies reach kHardPendingFactor * maxPendingReplies is closed (it is
    // not read meanwhile; only requests it had sent already can add replies).
    static constexpr size_t kHardPendingFactor = 4;

    size_t maxRequestBytes = 16 * 1024;    // policyd_max_request_size
    size_t maxPendingReplies = 64 * 1024;  // policyd_max_pending_replies

    // Whether to read more: not while a whole request's worth of bytes waits unparsed (the parser is
    // suspended for an MX lookup; one more read would add at most a read chunk), nor while the
    // client's replies are backed up.
    bool mayRead(size_t unreadBytes, size_t pendingReplyBytes) const {
        return unreadBytes <= maxRequestBytes && pendingReplyBytes < maxPendingReplies;
    }
    size_t hardPendingLimit() const { return kHardPendingFactor * maxPendingReplies; }
    bool overHardLimit(size_t pendingReplyBytes) const { return pendingReplyBytes > hardPendingLimit(); }
};

// Open connections per peer key. acquire() counts the connection unless the peer already holds `max`.
class PeerCounts {
  public:
    bool acquire(const std::string& peer, size_t max) {
        size_t& n = counts_[peer];
        if (n >= max) {
            if (n == 0) counts_.erase(peer);
            return false;
        }
        ++n;
        return true;
    }
    void release(const std::string& peer) {
        auto it = counts_.find(peer);
        if (it == counts_.end()) return;
        if (--it->second == 0) counts_.erase(it);
    }
    size_t count(const std::string& peer) const {
        auto it = counts_.find(peer);
        return it == counts_.end() ? 0 : it->second;
    }
    size_t peers() const { return counts_.size(); }

  private:
    std::map<std::string, size_t> counts_;
};

}  // namespace rampart::policyd
