// Suppression, after hygiene and before signing: a recipient on the suppression list is not mailed.
//
//   RCPT time:  a recipient suppressed globally, or for the message's tenant (tenant_map), is
//               refused with 550 5.7.1 and the entry's reason; the other recipients go on.
//   end of message: recipients suppressed for the From header's domain (scope from_domain; the From
//               domain is only known once the headers are in) are removed (smfi_delrcpt); when none
//               remain the message is refused with 550 5.7.1.
//
// Lookups go to the daemon's in-memory Index, which a Follower keeps in step with the store.
#pragma once

#include <memory>

#include "mail/tenants.h"
#include "milter/stage.h"
#include "suppression/suppression.h"
#include "util/clock.h"

namespace rampart::milter {

// From the first From header's first mailbox: the lower-case A-label domain, or "" if unreadable.
std::string fromHeaderDomain(const Message& msg);

class SuppressionStage final : public Stage {
  public:
    SuppressionStage(std::shared_ptr<const suppress::Index> index, std::shared_ptr<const mail::TenantMap> tenants,
                     std::shared_ptr<const util::Clock> clock)
        : index_(std::move(index)), tenants_(std::move(tenants)), clock_(std::move(clock)) {}
    std::string_view name() const override { return "suppression"; }
    bool wantsRecipients() const override { return true; }
    Verdict onRecipient(const Envelope& env, std::string_view rcpt, Notes& notes) const override;
    Verdict onEndOfMessage(Message& msg, BodyObserver* observer, Notes& notes) const override;

  private:
    int64_t now() const;
    std::shared_ptr<const suppress::Index> index_;
    std::shared_ptr<const mail::TenantMap> tenants_;
    std::shared_ptr<const util::Clock> clock_;
};

}  // namespace rampart::milter
