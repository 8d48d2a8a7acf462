// The Postfix policy delegation protocol (SMTPD_POLICY_README): a request is "name=value" lines
// ended by an empty line; the answer is "action=..." and an empty line. Postfix keeps the
// connection for many requests; Exim's ${readsocket} sends one request, half-closes and reads until
// the server closes. Pure code: bytes in, Request out.
//
// Untrusted input: a line longer than the request size limit, more attributes than allowed, a NUL
// byte, or a line without '=' is garbage. The protocol says a server must not answer garbage but
// log it and close the connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "policyd/request.h"

namespace rampart::policyd {

struct ProtocolLimits {
    size_t maxRequestBytes = 16 * 1024;
    size_t maxAttributes = 200;
};

enum class ParseStatus { NeedMore, Complete, Garbage };

struct ParseResult {
    ParseStatus status = ParseStatus::NeedMore;
    size_t consumed = 0;  // Complete: bytes of this request, blank line included
    std::string error;    // Garbage: what was wrong, printable
};

// Parses the first request in `buffer`. Unknown attributes are ignored; a repeated attribute keeps
// its last value; values are kept verbatim (no trimming), except that a trailing CR is dropped so
// "\r\n" line ends work too.
ParseResult parseRequest(std::string_view buffer, const ProtocolLimits& limits, Request& out);

// "action=DUNNO\n\n"; `action` must not contain a newline (replaced by a space if it does).
std::string formatReply(std::string_view action);

}  // namespace rampart::policyd
