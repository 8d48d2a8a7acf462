// Bounce and complaint reports: RFC 3464 delivery status notifications (DSN), RFC 5965 abuse
// reports (ARF), and mailto unsubscribe requests, parsed from one message on stdin by
// `rampartctl ingest`. Classification follows RFC 3463 status codes plus a rule file of provider
// texts, into KumoMTA's bounce categories (PowerMTA lineage) and five action classes.
//
// Input is untrusted and often malformed: nothing here throws; what cannot be read is a Result
// error or an Unknown report. docs/bounces.md describes the categories, the rule file and what
// ingestion does with each action class.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/header.h"
#include "util/result.h"

namespace rampart::feedback {

// ---------------------------------------------------------------- MIME (just enough for reports)
// One MIME entity. Header values are as in mail/header.h (raw, folds joined by CRLF).
//   multipart/*:                                children are the parts; body is empty (or the raw
//                                               text when no delimiter was found)
//   message/rfc822, message/global:             children[0] is the enclosed message; body is empty
//   text/rfc822-headers, message/global-headers: children[0] holds the header block (headers only);
//                                               body keeps the text
//   anything else:                              body, decoded from base64 / quoted-printable
struct MimePart {
    mail::HeaderFields headers;
    std::string contentType;  // lower-case "type/subtype"; "text/plain" when absent or invalid
    std::string boundary;     // multipart only
    std::string body;
    std::vector<MimePart> children;
};
// Parses a message (CRLF or LF line ends, mixed too), nesting at most `maxDepth` levels (each
// multipart part and each enclosed message is one level; maxDepth is capped at 64). Errors: empty
// input, input over 64 MiB, nesting deeper than maxDepth, more than 10000 parts. A multipart
// without its closing delimiter ends at the end of the input.
util::Result<MimePart> parseMime(std::string_view message, int maxDepth = 8);

// ---------------------------------------------------------------- reports
struct DsnRecipient {
    std::string finalRecipient;     // address, without "rfc822;" and angle brackets
    std::string originalRecipient;  // ORCPT, if any (same form)
    // failed, delayed, delivered, relayed, expanded (lower-case); when absent, inferred from the
    // status class (5 failed, 4 delayed, 2 delivered)
    std::string action;
    // "5.1.1"; when Status is absent or invalid, the enhanced code of the diagnostic, else
    // "5.0.0" / "4.0.0" from its reply code, else ""
    std::string status;
    std::string diagnostic;  // "smtp; 550 5.1.1 <x@y>: user unknown" (unfolded, spaces collapsed)
    std::string remoteMta;   // without "dns;"
};

struct Report {
    enum class Kind { Dsn, Arf, Unsubscribe, Unknown };
    Kind kind = Kind::Unknown;
    std::vector<DsnRecipient> recipients;  // Dsn: at least one
    std::string reportingMta;              // Dsn, Arf: Reporting-MTA without "dns;"
    std::string originalEnvelopeId;        // Dsn: Original-Envelope-Id (ENVID), if any
    bool heuristic = false;                // Dsn: read from a non-standard (plain text) bounce
    // Arf: abuse, fraud, not-spam, other, virus (lower-case; empty when the report omits it)
    std::string feedbackType;
    std::string userAgent;    // Arf
    std::string arrivalDate;  // Arf (as written)
    // Arf: the Original-Rcpt-To address; empty when absent or redacted ("<redacted>",
    // "redacted@...", "xxxxx@...", not an address)
    std::string originalRcptTo;
    std::string originalMailFrom;  // Arf (without angle brackets)
    std::string sourceIp;          // Arf
    // The returned message's (or its headers part's) header block, for Dsn and Arf and the
    // non-standard bounces that quote it; empty when the report returned neither.
    mail::HeaderFields originalHeaders;
    std::string unsubscribeToken;  // Unsubscribe: the token from the address or subject
    std::string from;              // the report's own From (unfolded)
    std::string subject;           // the report's own Subject (unfolded, RFC 2047 decoded)
    std::string why;               // Unknown: why it was not understood
};

// Recognises, in this order: a DSN or ARF report (a message/delivery-status or
// message/global-delivery-status part, or a message/feedback-report part, in the message or its
// multipart parts); an unsubscribe request whose `envelopeRecipient` (or, without one, whose
// Delivered-To / X-Original-To / To header) is "unsubscribe+TOKEN@..." ("unsub+", or '-' for '+');
// a non-standard bounce (From MAILER-DAEMON / postmaster / "Mail Delivery ...", or a bounce-like
// Subject, with an address and an SMTP status in its text: qmail, Exim, plain-text provider forms);
// an unsubscribe request with a token in the Subject ("unsubscribe TOKEN", or a lone token).
// Anything else is Unknown, with `why`. Tokens are base64url, 40 to 1024 characters, returned as
// written (case matters).
Report parseReport(std::string_view message, std::string_view envelopeRecipient = {});

// The first token-like value (base64url, 40 to 1024 characters; angle brackets, quotes and spaces
// around it ignored) of the header `name` (case-insensitive) in `headers`; empty if none. For the
// reference stamp in a report's originalHeaders: referenceToken(report.originalHeaders,
// "X-Rampart-Ref").
std::string referenceToken(const mail::HeaderFields& headers, std::string_view name);

// ---------------------------------------------------------------- classification
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
