// The per-recipient stamps, after suppression and before signing (so the DKIM signature covers them):
//
//   - List-Unsubscribe: <https://BASE/TOKEN>, <mailto:ADDRESS?subject=unsubscribe%20TOKEN> and
//     List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058), for the From domain's URL base and
//     mailto address (unsubscribe_domains, else unsubscribe_url / unsubscribe_mailto). A sender's own
//     well-formed one-click pair is kept; a missing, malformed or non-one-click one is replaced.
//   - the reference stamp (reference_header, X-Rampart-Ref by default): an opaque token from which
//     bounce and complaint ingestion recovers tenant, From domain and recipient, even when a report
//     redacts the recipient. A client-supplied field of that name is always removed (it would be a
//     forgery).
//
// Tokens are sealed with unsubscribe_secret (AES-256-GCM, util/tokens.h) and carry recipient, From
// domain, tenant and issue time. Links are per recipient, so only single-recipient messages get them;
// for others the log line says why none were added.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "mail/tenants.h"
#include "milter/stage.h"
#include "util/clock.h"
#include "util/tokens.h"

namespace rampart::milter {

using util::kReferencePurpose;
using util::kUnsubscribePurpose;

struct UnsubscribeTarget {
    std::string urlBase;  // "https://unsub.example.com/u/" (the token is appended); "" = none
    std::string mailto;   // "unsubscribe@example.com"; "" = none
};

struct StampSettings {
    std::shared_ptr<const util::Keyring> keys;  // null: no tokens at all (unsubscribe_secret unset)
    UnsubscribeTarget defaults;
    struct DomainEntry {
        std::string pattern;  // "example.com" or "*.example.com"
        UnsubscribeTarget target;
    };
    std::vector<DomainEntry> domains;
    std::string referenceHeader;  // "" = no reference stamp
    // From config; problems to diags with file:line (unsubscribe_domains lines included).
    static StampSettings fromConfig(const config::Config& cfg, config::Diagnostics& diags);
    // The target for a From domain: the first matching unsubscribe_domains line, else the defaults.
    UnsubscribeTarget targetFor(std::string_view fromDomain) const;
    bool active() const {
        return keys &&
               (!referenceHeader.empty() || !defaults.urlBase.empty() || !defaults.mailto.empty() || !domains.empty());
    }
};

// Whether an existing List-Unsubscribe (+ -Post) pair is a usable RFC 8058 one-click pair.
struct ListUnsubscribeCheck {
    bool present = false;
    bool wellFormed = false;  // exactly one field, every item "<scheme:...>"
    bool oneClick = false;    // well formed, an https URI, exactly one correct List-Unsubscribe-Post
    std::string problem;      // why not, for the log
};
ListUnsubscribeCheck checkListUnsubscribe(const Message& msg);

class StampStage final : public Stage {
  public:
    StampStage(StampSettings settings, std::shared_ptr<const mail::TenantMap> tenants,
               std::shared_ptr<const util::Clock> clock)
        : settings_(std::move(settings)), tenants_(std::move(tenants)), clock_(std::move(clock)) {}
    std::string_view name() const override { return "stamp"; }
    bool wantsRecipients() const override { return settings_.active(); }  // links are per recipient
    Verdict onEndOfMessage(Message& msg, BodyObserver* observer, Notes& notes) const override;

  private:
    StampSettings settings_;
    std::shared_ptr<const mail::TenantMap> tenants_;
    std::shared_ptr<const util::Clock> clock_;
};

}  // namespace rampart::milter
