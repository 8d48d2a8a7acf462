// Bounce and complaint reports: RFC 3464 delivery status notifications (DSN), RFC 5965 abuse
// reports (ARF), and mailto unsubscribe requests, parsed from one message on stdin by
// `rampartctl ingest`. Classification follows RFC 3463 status codes plus a rule file of provider
// texts, into KumoMTA's bounce categories (PowerMTA lineage) and five action classes.
//
// Input is untrusted and often malformed: nothing here throws; what cannot be read is a Result
// error or an Unknown report. docs/bounces.md describes the categories, the rule file and what
// ingestion does with each action class.
//
// This header is the entry point: the report model and parseReport, plus (included) the classifier
// (classifier.h) and the token readers (report_tokens.h). The pieces: mail/mime.h reads MIME,
// dsn.h / arf.h / plain_bounce.h read the report kinds, status_code.h the SMTP codes,
// ingest_policy.h decides what `rampartctl ingest` does with a report.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "feedback/classifier.h"
#include "feedback/report_tokens.h"
#include "mail/header.h"

namespace rampart::feedback {

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

}  // namespace rampart::feedback
