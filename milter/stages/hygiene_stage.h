// Header hygiene, before suppression and signing: the defects Gmail, Yahoo and Outlook.com refuse at
// SMTP time are repaired or refused here, so the DKIM signature covers the repaired message. Each rule
// has an id, a documented reason, a default action, and a reply text that mirrors the providers' own
// wording so users recognise it. Actions: reject (550 at end of message), fix (repair), strip (remove
// header fields), warn (log only), off. hygiene_dry_run logs what would change and changes nothing.
// The reference page is docs/hygiene.md.
//
// Rules (id: default action — what):
//   from                 reject  exactly one From header field                 (RFC 5322 3.6; Gmail 5.7.1)
//   from-mailbox         reject  the From field holds exactly one valid mailbox (Gmail "multiple addresses")
//   date                 fix     exactly one valid Date: added if missing, replaced if unparseable
//                                (several Date fields: reject)
//   message-id           fix     exactly one well-formed Message-ID, generated <random@domain> if
//                                missing or malformed (several: reject)
//   message-id-internal  fix     a Message-ID right-hand side that leaks an internal host name
//                                (no dot, .local, .lan, .internal, an IP literal...) is replaced
//   duplicate-headers    reject  at most one Subject, To, Cc, Bcc, Reply-To, Sender, In-Reply-To,
//                                References, MIME-Version, Content-Type, Content-Transfer-Encoding,
//                                List-Id, Feedback-ID (List-Unsubscribe: the stamp stage's)
//   line-length          fix     header lines over 998 octets are refolded at whitespace; a line
//                                that cannot be refolded is refused
//   header-size          reject  the header block stays under hygiene_header_size_limit and 5,000
//                                fields (552 5.3.4, as Gmail answers)
//   8bit-headers         fix     raw 8-bit in header fields without SMTPUTF8: RFC 2047-encoded where
//                                that is legal (Subject, unstructured fields, display names),
//                                IDNA A-labels for domains, refused where neither is possible
//                                (address local parts, other structured fields)
//   strip-headers        strip   infrastructure leaks: hygiene_strip_headers (X-Originating-IP,
//                                X-Mailer, User-Agent, X-PHP-Originating-Script, ...)
//   private-received     strip   client-supplied Received fields from private or loopback addresses
//   forged-auth          strip   client-supplied Authentication-Results, DKIM-Signature, ARC-*
//   mime-version         fix     MIME-Version: 1.0 added when Content-Type is present without it
//
// Every edit goes through Message, so the stages after this one (DKIM last) see the repaired block.
// Each applied rule adds one note ("hygiene: added Date", "hygiene: stripped X-Mailer (2)"); warn adds
// "hygiene: warn RULE: ..."; in dry run the notes say "hygiene: would fix|strip|reject RULE: ..." and
// the stage answers Continue without editing. Time comes only from the injected clock.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "milter/stage.h"
#include "util/clock.h"

namespace rampart::milter {

enum class RuleAction { Off, Warn, Strip, Fix, Reject };
std::string_view ruleActionName(RuleAction a);

struct HygieneRule {
    std::string id;
    RuleAction defaultAction;
    std::vector<RuleAction> allowed;  // the actions this rule can take
    std::string reason;               // one sentence, documented
};
const std::vector<HygieneRule>& hygieneRules();

struct HygieneSettings {
    std::map<std::string, RuleAction> actions;  // every rule id -> action (defaults filled in)
    bool dryRun = false;
    std::vector<std::string> stripHeaders;     // names; "X-Source*" wildcard allowed
    std::vector<std::string> internalDomains;  // ".local", "localhost", ...
    std::string messageIdDomain;               // "" = the From header's domain
    uint64_t headerSizeLimit = 256 * 1024;
    // Parses hygiene_rules ("id=action, ..."), reporting unknown ids and actions a rule cannot take.
    static HygieneSettings fromConfig(const config::Config& cfg, config::Diagnostics& diags);
    // Every rule at its default action, the registry defaults for the lists (for tests and tools).
    static HygieneSettings defaults();
    RuleAction action(std::string_view ruleId) const;  // Off for an unknown id
};

class HygieneStage final : public Stage {
  public:
    HygieneStage(HygieneSettings settings, std::shared_ptr<const util::Clock> clock);
    std::string_view name() const override { return "hygiene"; }
    Verdict onEndOfMessage(Message& msg, BodyObserver* observer, Notes& notes) const override;

  private:
    HygieneSettings settings_;
    std::shared_ptr<const util::Clock> clock_;
};

}  // namespace rampart::milter
