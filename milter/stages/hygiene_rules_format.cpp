// Hygiene rules about the header block's form on the wire (see hygiene_stage.h): header-size,
// 8bit-headers and line-length. The RFC 2047 encoding and the refolding they apply live in
// common/mail (encoded_word, folding).
#include <algorithm>

#include "mail/encoded_word.h"
#include "mail/folding.h"
#include "milter/stages/hygiene_rules.h"
#include "util/strings.h"
#include "util/utf8.h"

namespace rampart::milter::hygiene {

namespace {

constexpr size_t kMaxFields = 5000;  // Gmail's header field limit

// Which encoder an 8-bit field gets: unstructured text, or an address list.
bool inList(std::string_view name, std::initializer_list<std::string_view> names) {
    return std::any_of(names.begin(), names.end(), [&](std::string_view n) { return util::iequals(name, n); });
}

bool isUnstructured(std::string_view name) {
    return util::startsWithNoCase(name, "X-") ||
           inList(name, {"Subject", "Comments", "Keywords", "Content-Description", "Organization", "Thread-Topic"});
}

bool isAddressField(std::string_view name) {
    return inList(name, {"From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Resent-From", "Resent-Sender",
                         "Resent-Reply-To", "Resent-To", "Resent-Cc", "Resent-Bcc", "Disposition-Notification-To"});
}

}  // namespace

// ---- header-size
bool Run::headerSize() {
    uint64_t bytes = 0;
    for (const auto& f : fields())
        bytes += f.name.size() + f.value.size() + 3;
    std::string problem, reply;
    if (bytes > s_.headerSizeLimit) {
        problem = "the header block is " + std::to_string(bytes) + " bytes (hygiene_header_size_limit is " +
                  std::to_string(s_.headerSizeLimit) + ")";
        reply = "Your message exceeded the message header size limit: the header block is " + std::to_string(bytes) +
                " bytes, the limit is " + std::to_string(s_.headerSizeLimit) +
                ". Gmail and Yahoo refuse oversized headers (\"Header too big\")";
    } else if (fields().size() > kMaxFields) {
        problem = "the header block has " + std::to_string(fields().size()) + " fields (the limit is 5000)";
        reply = "Your message exceeded the message header size limits: " + std::to_string(fields().size()) +
                " header fields, the limit is 5000 (Gmail's limit)";
    } else {
        return true;
    }
    return decide("header-size", problem, reply, false, "552", "5.3.4") != Step::Stop;
}

// ---- 8bit-headers
bool Run::eightBit() {
    struct Fix {
        size_t index;
        std::string value;
    };
    std::vector<Fix> fixes;
    NameCounts fixed;
    std::string refusal;
    for (size_t i = 0; i < fields().size() && refusal.empty(); ++i) {
        const auto& f = fields()[i];
        if (!util::has8bit(f.value)) continue;
        const bool utf8 = util::validUtf8(f.value);
        if (smtputf8() && utf8) continue;  // RFC 6532
        // Date and Message-ID belong to their own rules, which replace them.
        if (util::iequals(f.name, "Date") && s_.action("date") == A::Fix) continue;
        if (util::iequals(f.name, "Message-ID") && s_.action("message-id") == A::Fix) continue;
        const std::string_view charset = utf8 ? "UTF-8" : "windows-1252";
        const std::string name = util::printable(f.name, 80);
        if (isUnstructured(f.name)) {
            fixes.push_back({i, mail::encodeUnstructured(f.name, f.value, charset)});
            fixed.add(f.name);
        } else if (isAddressField(f.name)) {
            mail::FieldRepair r = mail::encodeAddressField(f.name, f.value, charset);
            if (!r.refusal.empty()) {
                refusal = r.refusal;
            } else {
                fixes.push_back({i, std::move(r.value)});
                fixed.add(f.name);
            }
        } else {
            refusal = "8-bit characters in " + name + ", a structured header field";
        }
        if (!refusal.empty()) {
            refusal += smtputf8() ? " (and not valid UTF-8)" : " and the message was not sent with SMTPUTF8";
        }
    }
    if (!refusal.empty()) {
        Step step = decide("8bit-headers", refusal,
                           "The message contains a unicode character in a disallowed header: " + refusal +
                               ". Use ASCII there, or a mail client that sends SMTPUTF8",
                           false);
        if (step == Step::Stop) return false;
    }
    if (fixes.empty()) return true;
    const std::string what = "raw 8-bit in " + fixed.names();
    Step step = decide("8bit-headers", what,
                       "The message contains a unicode character in a disallowed header: " + what +
                           (smtputf8() ? " is not valid UTF-8" : " and the message was not sent with SMTPUTF8") +
                           ". Use a mail client that encodes such text (RFC 2047) or sends SMTPUTF8");
    if (step == Step::Apply) {
        for (auto& f : fixes)
            msg_.changeHeader(f.index, std::move(f.value));
        note("RFC 2047-encoded 8-bit in " + fixed.names());
    }
    return step != Step::Stop;
}

// ---- line-length
bool Run::lineLength() {
    std::vector<std::pair<size_t, std::string>> fixes;
    NameCounts fixed;
    std::string refusal;
    for (size_t i = 0; i < fields().size(); ++i) {
        const auto& f = fields()[i];
        if (f.name.size() + 1 + f.value.size() <= mail::kMaxLineLength) continue;  // quick: no line can be too long
        const size_t longest = mail::longestLine(f.name, f.value);
        if (longest <= mail::kMaxLineLength) continue;
        auto folded = mail::refold(f.name, f.value);
        if (!folded) {
            refusal = "the " + util::printable(f.name, 80) + " header field has a line of " + std::to_string(longest) +
                      " octets without whitespace to fold at";
            break;
        }
        fixes.emplace_back(i, std::move(*folded));
        fixed.add(f.name);
    }
    if (!refusal.empty()) {
        Step step = decide("line-length", refusal,
                           "This message is not RFC 5322 compliant: " + refusal +
                               " (the limit is 998 octets per line, RFC 5322 section 2.1.1)",
                           false);
        if (step == Step::Stop) return false;
    }
    if (fixes.empty()) return true;
    const std::string what = "lines over 998 octets in " + fixed.names();
    Step step = decide("line-length", what,
                       "This message is not RFC 5322 compliant: " + what +
                           " (the limit is 998 octets per line, RFC 5322 section 2.1.1)");
    if (step == Step::Apply) {
        for (auto& [i, v] : fixes)
            msg_.changeHeader(i, std::move(v));
        note("refolded " + fixed.names());
    }
    return step != Step::Stop;
}

}  // namespace rampart::milter::hygiene
