// Bounce classification: a DSN recipient's status and diagnostic to one of KumoMTA's bounce
// categories (PowerMTA lineage) and one of five action classes, by a rule file of provider texts,
// built-in wording and RFC 3463 status codes. docs/bounces.md describes the categories and the rule
// file. Nothing here throws.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace rampart::feedback {

enum class ActionClass { HardAddress, SoftAddress, SenderPolicy, Infrastructure, NonBounce };
// "hard", "soft", "sender-policy", "infrastructure", "non-bounce"
std::string_view actionClassName(ActionClass a);

struct Classification {
    // KumoMTA names: InvalidRecipient, QuotaIssues, SpamBlock, ... plus RateLimited, RequirePTR,
    // RFCNonCompliant, and Delivered (a 2.x.x status: not a bounce)
    std::string category;
    ActionClass action = ActionClass::SoftAddress;
    // What matched: "/etc/rampart/bounce-rules.conf:12", "builtin: blocklist", "status 5.1.1",
    // "reply 552", "class 5", "no status". A hard category under a temporary (4.x.x / 4xx) code
    // becomes TransientFailure, noted by " (temporary)" after the rule.
    std::string rule;
};

// Rules, tried in this order, first match wins:
//   1. a 2.x.x status: Delivered;
//   2. the rule file, in file order: one rule per line
//        CATEGORY  /regex/       # optional comment
//      matched case-insensitively (ECMAScript syntax) against "status diagnostic" with runs of
//      white space collapsed to one space and the continuation prefixes of multi-line replies
//      ("550-5.1.1 ") removed (the first 2048 bytes); '#' comments and blank lines;
//   3. built-in wording that overrides codes (blocklists, spam, authentication, PTR, rate, relay,
//      virus, RFC 5322 compliance, invalid sender);
//   4. the RFC 3463 enhanced code (the diagnostic's, else the Status) unless generic (X.0.X, X.1.0,
//      X.2.0, X.3.0, X.5.0);
//   5. built-in wording for addresses and delivery (user unknown, mailbox full, disabled, ...);
//   6. the reply code, then the class: 4 TransientFailure, 5 or none Uncategorized.
// Category names in the file are KumoMTA's (case-insensitive; "AuthenticationFailure" is accepted
// for AuthenticationFailed); an unknown category, a missing or bad regex gives
// "file:line: message".
class Classifier {
  public:
    Classifier();  // built-in rules only
    static util::Result<Classifier> load(const std::string& ruleFile);
    Classification classify(std::string_view status, std::string_view diagnostic) const;
    size_t ruleCount() const { return rules_.size(); }  // rules from the file
    struct Rule;

  private:
    std::vector<std::shared_ptr<const Rule>> rules_;
};

// The action class of a category name (case-insensitive); unknown names are SoftAddress, like
// Uncategorized.
ActionClass actionOf(std::string_view category);
// The canonical spelling of a category name (case-insensitive, aliases resolved), or nullopt.
std::optional<std::string> canonicalCategory(std::string_view category);

}  // namespace rampart::feedback
