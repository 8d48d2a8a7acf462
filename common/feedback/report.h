// Bounce and complaint reports: RFC 3464 delivery status notifications (DSN), RFC 5965 abuse
// reports (ARF), and mailto unsubscribe requests, parsed from one message on stdin by
// `rampartctl ingest`. Classification follows RFC 3463 status codes plus a rule file of provider
// texts, into KumoMTA's bounce categories (PowerMTA lineage) and five action classes.
//
// Input is untrusted and often malformed: nothing here throws; what cannot be read is a Result error
// or an Unknown report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/header.h"
#include "util/result.h"

namespace rampart::feedback {

// ---------------------------------------------------------------- MIME (just enough for reports)
struct MimePart {
    mail::HeaderFields headers;
    std::string contentType;         // lower-case "type/subtype"
    std::string boundary;            // multipart only
    std::string body;                // decoded (base64 / quoted-printable) unless multipart
    std::vector<MimePart> children;  // multipart: the parts; message/rfc822: the enclosed message
};
// Parses a message (CRLF or LF line ends), nesting at most `maxDepth` levels.
util::Result<MimePart> parseMime(std::string_view message, int maxDepth = 8);

// ---------------------------------------------------------------- reports
struct DsnRecipient {
    std::string finalRecipient;     // address, without "rfc822;"
    std::string originalRecipient;  // ORCPT, if any
    std::string action;             // failed, delayed, delivered, relayed, expanded (lower-case)
    std::string status;             // "5.1.1"
    std::string diagnostic;         // "smtp; 550 5.1.1 <x@y>: user unknown"
    std::string remoteMta;
};

struct Report {
    enum class Kind { Dsn, Arf, Unsubscribe, Unknown };
    Kind kind = Kind::Unknown;
    std::vector<DsnRecipient> recipients;  // Dsn
    std::string reportingMta;              // Dsn: Reporting-MTA
    std::string feedbackType;              // Arf: abuse, fraud, not-spam, ...
    std::string originalRcptTo;            // Arf: Original-Rcpt-To (often redacted or absent)
    std::string originalMailFrom;          // Arf
    std::string sourceIp;                  // Arf
    mail::HeaderFields originalHeaders;    // the returned message's (or its headers part's) header block
    std::string unsubscribeToken;          // Unsubscribe: the token from the address or subject
    std::string from;                      // the report's own From
    std::string subject;
    std::string why;                       // Unknown: why it was not understood
};

// Recognises a DSN (multipart/report; report-type=delivery-status, or a non-standard bounce with a
// recognisable status line), an ARF report (report-type=feedback-report), or an unsubscribe request
// (a token in the recipient address "unsubscribe+TOKEN@..." given as `envelopeRecipient`, or in the
// Subject). Anything else is Unknown.
Report parseReport(std::string_view message, std::string_view envelopeRecipient = {});

// ---------------------------------------------------------------- classification
enum class ActionClass { HardAddress, SoftAddress, SenderPolicy, Infrastructure, NonBounce };
std::string_view actionClassName(ActionClass a);  // "hard", "soft", "sender-policy", "infrastructure", "non-bounce"

struct Classification {
    std::string category;  // KumoMTA names: InvalidRecipient, QuotaIssues, SpamBlock, ... plus RateLimited,
                           // RequirePTR, RFCNonCompliant
    ActionClass action = ActionClass::SoftAddress;
    std::string rule;      // what matched: "status 5.1.1", "rules:12 (gmail inactive)"
};

// Rules: built-in RFC 3463 mapping plus a rule file (one rule per line:
//   CATEGORY  /regex/   (matched case-insensitively against "status diagnostic")
// tried first, in file order). Unknown categories in the file are errors with file:line.
class Classifier {
public:
    Classifier();  // built-in rules only
    static util::Result<Classifier> load(const std::string& ruleFile);
    Classification classify(std::string_view status, std::string_view diagnostic) const;
    struct Rule;

private:
    std::vector<std::shared_ptr<const Rule>> rules_;
};

ActionClass actionOf(std::string_view category);  // the action class of a category name

}  // namespace rampart::feedback
