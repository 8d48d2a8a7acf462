// One policy request as rampart-policyd sees it: the Postfix policy delegation attributes it uses
// (SMTPD_POLICY_README), and Rampart's own "rampart_refund" request from rampart-milter.
// Filled by the protocol parser (policyd/protocol.h); pure data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rampart::policyd {

struct Request {
    std::string request;        // "smtpd_access_policy" (Postfix, Exim ACL) or "rampart_refund"
    std::string protocolState;  // "RCPT", "END-OF-MESSAGE", "DATA", ... (upper-case)
    std::string instance;       // correlates one transaction (never the connection)
    std::string queueId;        // known at END-OF-MESSAGE
    std::string sender;         // envelope sender, no angle brackets; "" = null sender
    std::string recipient;      // at RCPT; at END-OF-MESSAGE only when there is exactly one
    std::string saslUsername;
    std::string clientAddress;
    std::string policyContext;    // Postfix >= 3.1: check_policy_service { ..., policy_context=X }
    uint64_t recipientCount = 0;  // END-OF-MESSAGE: accepted recipients
    uint64_t size = 0;
    std::vector<std::string> refundRecipients;  // rampart_refund: "recipients=a@x,b@y" (empty: all)

    // Set by the daemon before deciding: the recipient's mailbox provider ("google", ...), or the
    // recipient domain when the provider is unknown or the lookup failed. Empty when no limit needs it.
    std::string provider;
};

}  // namespace rampart::policyd
