// The Postfix policy delegation protocol (protocol.h): reading requests, writing "action=" answers.
#include "policyd/protocol.h"

#include <cstring>

#include "util/strings.h"

namespace rampart::policyd {

namespace {

void assign(Request& r, std::string_view name, std::string_view value) {
    auto num = [](std::string_view v) { return util::parseUnsigned(v).value_or(0); };
    if (name == "request") {
        r.request = std::string(value);
    } else if (name == "protocol_state") {
        r.protocolState = std::string(value);
        for (char& c : r.protocolState)
            c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    } else if (name == "instance") {
        r.instance = std::string(value);
    } else if (name == "queue_id") {
        r.queueId = std::string(value);
    } else if (name == "sender") {
        r.sender = std::string(value);
    } else if (name == "recipient") {
        r.recipient = std::string(value);
    } else if (name == "sasl_username") {
        r.saslUsername = std::string(value);
    } else if (name == "client_address") {
        r.clientAddress = std::string(value);
    } else if (name == "policy_context") {
        r.policyContext = std::string(value);
    } else if (name == "recipient_count") {
        r.recipientCount = num(value);
    } else if (name == "size") {
        r.size = num(value);
    } else if (name == "recipients") {
        r.refundRecipients = util::splitList(value, ", ");
    }
}

std::string_view stripAngles(std::string_view v) {
    if (v.size() >= 2 && v.front() == '<' && v.back() == '>') return v.substr(1, v.size() - 2);
    return v;
}

}  // namespace

ParseResult parseRequest(std::string_view buffer, const ProtocolLimits& limits, Request& out) {
    ParseResult res;
    Request req;
    size_t pos = 0;
    size_t attributes = 0;
    while (true) {
        size_t nl = buffer.find('\n', pos);
        if (nl == std::string_view::npos) {
            // Incomplete: garbage already if it cannot fit, or holds a NUL.
            if (buffer.size() > limits.maxRequestBytes) {
                res.status = ParseStatus::Garbage;
                res.error = "request longer than " + std::to_string(limits.maxRequestBytes) + " bytes";
            } else if (std::memchr(buffer.data() + pos, '\0', buffer.size() - pos) != nullptr) {
                res.status = ParseStatus::Garbage;
                res.error = "NUL byte in request";
            }
            return res;
        }
        if (nl + 1 > limits.maxRequestBytes) {
            res.status = ParseStatus::Garbage;
            res.error = "request longer than " + std::to_string(limits.maxRequestBytes) + " bytes";
            return res;
        }
        std::string_view line = buffer.substr(pos, nl - pos);
        pos = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) {
            if (attributes == 0) {
                res.status = ParseStatus::Garbage;
                res.error = "empty request";
                return res;
            }
            res.status = ParseStatus::Complete;
            res.consumed = pos;
            req.sender = std::string(stripAngles(req.sender));
            req.recipient = std::string(stripAngles(req.recipient));
            out = std::move(req);
            return res;
        }
        if (++attributes > limits.maxAttributes) {
            res.status = ParseStatus::Garbage;
            res.error = "more than " + std::to_string(limits.maxAttributes) + " attributes";
            return res;
        }
        size_t eq = line.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            res.status = ParseStatus::Garbage;
            res.error = "not a name=value line: " + util::quoted(line, 80);
            return res;
        }
        if (std::memchr(line.data(), '\0', line.size()) != nullptr) {
            res.status = ParseStatus::Garbage;
            res.error = "NUL byte in request";
            return res;
        }
        assign(req, line.substr(0, eq), line.substr(eq + 1));
    }
}

std::string formatReply(std::string_view action) {
    std::string out = "action=";
    out.reserve(action.size() + 10);
    for (char c : action)
        out += (c == '\n' || c == '\r') ? ' ' : c;
    out += "\n\n";
    return out;
}

}  // namespace rampart::policyd
