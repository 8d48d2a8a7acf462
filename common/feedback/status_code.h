// SMTP status codes in reports: RFC 3463 enhanced codes ("5.1.1") and reply codes ("550") found
// in Status fields and diagnostics, the status a DSN recipient gets, and what a code means as a
// bounce category (RFC 3463 and the IANA registry). Internal to common/feedback.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rampart::feedback {

struct StatusCode {
    int cls = 0;  // 2, 4 or 5
    int subject = 0;
    int detail = 0;
    std::string str() const {
        return std::to_string(cls) + "." + std::to_string(subject) + "." + std::to_string(detail);
    }
};

// An enhanced status code "c.s.d" at s[i], not part of a longer dotted number (an IP address, a
// version) nor glued to letters.
std::optional<StatusCode> codeAt(std::string_view s, size_t i);
// The Status field: a code at its start.
std::optional<StatusCode> statusCode(std::string_view status);
// The first enhanced code of class 4 or 5 in a text (a diagnostic, a line of a bounce).
std::optional<StatusCode> findEnhancedCode(std::string_view s);
// Where the first SMTP reply code 4yz / 5yz (y 0-5) standing on its own ("550 ", "550-", "554:")
// starts; npos if none.
size_t findReplyCodePos(std::string_view s);
// The first SMTP reply code as a number; 0 if none.
int findReplyCode(std::string_view s);
// "550-5.7.1 a b 550-5.7.1 c 550 5.7.1 d" -> "550-5.7.1 a b c d" (in collapsed text).
std::string joinContinuations(std::string_view text);
// "smtp; 550 ..." -> "550 ..." (the diagnostic type is not part of what the server said).
std::string_view withoutDiagnosticType(std::string_view d);

// The DSN Action a status implies: 5 failed, 4 delayed, 2 delivered, else "".
std::string inferredAction(std::string_view status);
// Status as written when it is a code, else what the diagnostic says (its enhanced code, else
// "5.0.0" / "4.0.0" from its reply code), else "".
std::string effectiveStatus(std::string_view status, std::string_view diagnostic);

// A code that says little (X.0.X, X.1.0, X.2.0, X.3.0, X.5.0).
bool generic(const StatusCode& c);
// The bounce category (KumoMTA name) of an enhanced code; empty when it names none.
std::string_view codeCategory(const StatusCode& c);
// The bounce category of a reply code (421, 450, 451, 452, 551, 552); empty for others.
std::string_view replyCategory(int reply);

}  // namespace rampart::feedback
