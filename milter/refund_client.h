// The milter's side of refunds: when rampart-milter refuses a message at end-of-message, or removes
// recipients, after Postfix's END-OF-MESSAGE policy check has already counted them, it tells
// rampart-policyd the queue id (and the removed recipients) so the pacing caps count only what was
// sent. One short blocking exchange in the policy protocol on milter_refund_socket:
//
//   request=rampart_refund  queue_id=QID  [recipients=a@x,b@y]   ->   action=OK refunded ...
//
// This file owns that socket. A refund that fails is logged and the cap over-counts: the safe side.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/values.h"
#include "util/result.h"

namespace rampart::milter {

class RefundClient {
  public:
    explicit RefundClient(config::ListenAddress address,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(2000))
        : address_(std::move(address)), timeout_(timeout) {}
    // Returns policyd's answer ("OK refunded 1 recipient of QID", "DUNNO ...").
    util::Result<std::string> refund(const std::string& queueId, const std::vector<std::string>& recipients) const;
    std::string describe() const;

  private:
    config::ListenAddress address_;
    std::chrono::milliseconds timeout_;
};

}  // namespace rampart::milter
