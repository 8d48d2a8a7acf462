// Non-standard bounces: messages from MAILER-DAEMON or with a bounce-like subject that carry no
// delivery-status part, read from their human-readable text (qmail, Exim, Exchange, Gmail and other
// plain-text forms). Internal to common/feedback; parseReport (report.h) is the entry point.
#pragma once

#include <string_view>

#include "feedback/report.h"
#include "mail/mime.h"

namespace rampart::feedback {

// A From that is a mailer daemon or postmaster, or says "Mail Delivery" / "mailer-daemon".
bool daemonSender(std::string_view from);
// A subject that says the message was not delivered (several languages).
bool bounceSubject(std::string_view subject);
// An auto-reply (Auto-Submitted: auto-replied, X-Autoreply, X-Autorespond, or an out-of-office
// subject).
bool autoReply(const mail::MimePart& root, std::string_view subject);

// Reads a plain-text bounce: recipients from address-only lines (qmail, Exim, Exchange, Gmail
// plain-text forms) each with the first status line after it; else the first status line with an
// address in it or just above it. The returned message's headers go to r.originalHeaders. On
// success r.kind is Dsn and r.heuristic is set; false when no recipient with a status was found.
bool readPlainBounce(const mail::MimePart& root, Report& r);

}  // namespace rampart::feedback
