// Hygiene rules about the fields that identify a message (see hygiene_stage.h for what each rule
// does): from, from-mailbox, date, message-id, message-id-internal, duplicate-headers and
// mime-version. The RFC 5322 syntax they check lives in common/mail (address, date, message_id).
#include <array>

#include "mail/address.h"
#include "mail/date.h"
#include "mail/domain.h"
#include "mail/header.h"
#include "mail/message_id.h"
#include "milter/stages/hygiene_rules.h"
#include "net/cidr.h"
#include "util/strings.h"
#include "util/utf8.h"

namespace rampart::milter::hygiene {

namespace {

constexpr const char* kGmailRfcPage = "https://support.google.com/mail/?p=RfcMessageNonCompliant";

// At most once (RFC 5322 3.6, RFC 2045, Gmail's Feedback-ID page). From, Date and Message-ID have
// their own rules; List-Unsubscribe and List-Unsubscribe-Post belong to the stamp stage after this
// one, which replaces duplicates with one valid one-click pair (docs/unsubscribe.md).
constexpr std::array<const char*, 13> kSingleInstance = {"Subject",
                                                         "To",
                                                         "Cc",
                                                         "Bcc",
                                                         "Reply-To",
                                                         "Sender",
                                                         "In-Reply-To",
                                                         "References",
                                                         "MIME-Version",
                                                         "Content-Type",
                                                         "Content-Transfer-Encoding",
                                                         "List-Id",
                                                         "Feedback-ID"};

}  // namespace

// ---- from
bool Run::from() {
    const size_t n = msg_.count("From");
    if (n == 1) return true;
    if (n == 0) {
        return decide("from", "no From header field",
                      "This message is not RFC 5322 compliant: 'From' header is missing. Gmail, Yahoo and "
                      "Outlook.com need exactly one From header field; see " +
                          std::string(kGmailRfcPage)) != Step::Stop;
    }
    return decide("from", std::to_string(n) + " From header fields",
                  "This message is not RFC 5322 compliant: Multiple 'From' headers found (" + std::to_string(n) +
                      "). Send it with exactly one From header field; see " + std::string(kGmailRfcPage)) != Step::Stop;
}

// ---- from-mailbox
bool Run::fromMailbox() {
    const size_t idx = msg_.find("From");
    if (idx == std::string_view::npos) return true;
    auto list = mail::parseAddressList(fields()[idx].value);
    std::string problem;
    std::string detail;
    bool multiple = false;
    if (!list) {
        problem = "the From header field cannot be parsed: " + list.error();
        detail = list.error();
    } else if (list->empty()) {
        problem = "the From header field holds no address";
        detail = "the From header field holds no address";
    } else if (list->size() > 1) {
        problem = "the From header field holds " + std::to_string(list->size()) + " addresses";
        multiple = true;
    } else {
        const mail::Mailbox& mb = list->front();
        auto ascii = mb.domain.empty() || mb.domain.front() == '['
                         ? util::Result<std::string>(util::err("a domain literal"))
                         : mail::toAsciiDomain(mb.domain);
        if (!ascii) {
            detail = "the domain " + util::quoted(mb.domain) + " is not a valid domain name (" + ascii.error() + ")";
        } else if (ascii->find('.') == std::string::npos) {
            detail = "the domain " + util::quoted(*ascii) + " is not a fully qualified domain name";
        } else {
            fromDomain_ = *ascii;
            return true;
        }
        problem = "From address " + util::quoted(mb.address()) + ": " + detail;
    }
    if (multiple) {
        return decide("from-mailbox", problem,
                      "Multiple addresses in the From: header are not accepted (" + std::to_string(list->size()) +
                          " addresses). Put one address in From, and the others in Reply-To") != Step::Stop;
    }
    return decide("from-mailbox", problem,
                  "Messages missing a valid address in the From: header, or having no From: header, are not "
                  "accepted (" +
                      detail + ")") != Step::Stop;
}

// ---- duplicate-headers
bool Run::duplicates() {
    std::vector<std::pair<std::string, size_t>> dups;
    for (const char* name : kSingleInstance) {
        size_t n = msg_.count(name);
        if (n > 1) dups.emplace_back(name, n);
    }
    if (dups.empty()) return true;
    std::string problem;
    for (const auto& [name, n] : dups)
        problem += (problem.empty() ? "" : ", ") + name + " (" + std::to_string(n) + ")";
    problem = "multiple " + problem;
    std::string reply = "This message is not RFC 5322 compliant. There are multiple " + dups.front().first + " headers";
    if (dups.size() > 1) {
        std::string others;
        for (size_t k = 1; k < dups.size(); ++k)
            others += (k > 1 ? ", " : "") + dups[k].first;
        reply += " (and multiple " + others + ")";
    }
    reply += ". Gmail and Yahoo refuse duplicate headers; send each of these fields once";
    return decide("duplicate-headers", problem, reply, false) != Step::Stop;
}

// ---- date (several)
bool Run::singleDate() {
    const size_t n = msg_.count("Date");
    if (n <= 1) return true;
    return decide("date", std::to_string(n) + " Date header fields",
                  "This message is not RFC 5322 compliant: Multiple 'Date' headers found (" + std::to_string(n) +
                      "). Send it with exactly one Date header field",
                  false) != Step::Stop;
}

// ---- message-id (several)
bool Run::singleMessageId() {
    const size_t n = msg_.count("Message-ID");
    if (n <= 1) return true;
    return decide("message-id", std::to_string(n) + " Message-ID header fields",
                  "This message is not RFC 5322 compliant: Multiple 'Message-ID' headers found (" + std::to_string(n) +
                      "). Send it with exactly one Message-ID header field",
                  false) != Step::Stop;
}

// ---- date
bool Run::date() {
    const size_t n = msg_.count("Date");
    if (n > 1) return true;  // singleDate decided
    if (n == 0) {
        Step step = decide("date", "no Date header field",
                           "This message is not RFC 5322 compliant: 'Date' header is missing. Send it with one "
                           "Date header field");
        if (step == Step::Apply) {
            msg_.appendHeader("Date", " " + mail::formatDate(clock_.now()));
            note("added Date");
        }
        return step != Step::Stop;
    }
    const size_t idx = msg_.find("Date");
    const std::string& value = fields()[idx].value;
    const bool eight = !smtputf8() && util::has8bit(value);
    if (!eight && mail::isDateTime(mail::unfold(value))) return true;
    const std::string shown = util::quoted(mail::unfold(value), 60);
    const std::string what = eight ? "Date " + shown + " has 8-bit characters" : "unparseable Date " + shown;
    Step step = decide("date", what,
                       "the Date header field " + shown +
                           " is not an RFC 5322 date-time (Yahoo: \"Header value can not be decoded\")");
    if (step == Step::Apply) {
        msg_.changeHeader(idx, " " + mail::formatDate(clock_.now()));
        note("replaced " + what);
    }
    return step != Step::Stop;
}

// ---- message-id, message-id-internal
bool Run::internalHost(std::string_view right) const {
    const std::string r = util::toLower(right);
    if (r.empty() || r.front() == '[' || net::parseIp(r)) return true;
    if (r.find('.') == std::string::npos) return true;
    for (const auto& d : s_.internalDomains) {
        if (d.empty()) continue;
        if (d.front() == '.') {
            if (util::endsWithNoCase(r, d) || r == std::string_view(d).substr(1)) return true;
        } else if (r == d) {
            return true;
        }
    }
    return false;
}

// The domain for generated Message-IDs: hygiene_message_id_domain, else the From domain, else
// the envelope sender's; never an internal name. "" if there is none.
std::string Run::idDomain() const {
    if (!s_.messageIdDomain.empty()) return s_.messageIdDomain;
    if (!fromDomain_.empty() && !internalHost(fromDomain_)) return fromDomain_;
    const size_t idx = msg_.find("From");
    if (idx != std::string_view::npos) {
        auto list = mail::parseAddressList(fields()[idx].value);
        if (list && list->size() == 1) {
            auto ascii = mail::toAsciiDomain(list->front().domain);
            if (ascii && !internalHost(*ascii)) return *ascii;
        }
    }
    if (auto env = mail::parseEnvelopeAddress(msg_.envelope.sender); env && !env->domain.empty()) {
        auto ascii = mail::toAsciiDomain(env->domain);
        if (ascii && !internalHost(*ascii)) return *ascii;
    }
    return {};
}

// A fresh Message-ID for `domain`; a temporary failure when there are no random bytes for it.
std::optional<std::string> Run::generateId(const std::string& domain) {
    auto id = mail::generateMessageId(domain, clock_.now());
    if (!id) {
        verdict_ =
            Verdict::tempfail("451", "4.3.0", "rampart: no random bytes for a Message-ID, try again later", "error");
    }
    return id;
}

bool Run::messageId() {
    const size_t n = msg_.count("Message-ID");
    if (n > 1) return true;  // singleMessageId decided
    const std::string missingReply = "Messages missing a valid Message-ID: header are not accepted";
    if (n == 0) {
        Step step = decide("message-id", "no Message-ID header field", missingReply + " (the message has none)");
        if (step == Step::Apply) {
            const std::string domain = idDomain();
            if (domain.empty()) {
                note("cannot add a Message-ID: no domain for it (set hygiene_message_id_domain)");
                return true;
            }
            auto id = generateId(domain);
            if (!id) return false;
            msg_.appendHeader("Message-ID", " " + *id);
            note("added Message-ID");
        }
        return step != Step::Stop;
    }
    const size_t idx = msg_.find("Message-ID");
    const std::string& value = fields()[idx].value;
    auto parsed = mail::parseMessageId(value, smtputf8());
    if (!parsed) {
        const std::string shown = util::quoted(mail::unfold(value), 60);
        Step step = decide("message-id", "malformed Message-ID " + shown,
                           missingReply + " (" + shown + " is not <left@right>" +
                               (!smtputf8() && util::has8bit(value) ? " in ASCII" : "") + ")");
        if (step == Step::Apply) {
            const std::string domain = idDomain();
            if (domain.empty()) {
                note("cannot replace the malformed Message-ID: no domain for it (set hygiene_message_id_domain)");
                return true;
            }
            auto id = generateId(domain);
            if (!id) return false;
            msg_.changeHeader(idx, " " + *id);
            note("replaced malformed Message-ID " + shown);
        }
        return step != Step::Stop;
    }
    if (!internalHost(parsed->right)) return true;
    const std::string host = util::quoted(parsed->right, 60);
    Step step = decide("message-id-internal", "Message-ID host " + host + " is an internal name",
                       "the Message-ID discloses the internal host name " + host);
    if (step == Step::Apply) {
        const std::string domain = idDomain();
        if (domain.empty()) {
            note("cannot replace Message-ID host " + host + ": no domain for it (set hygiene_message_id_domain)");
            return true;
        }
        std::string id = "<" + parsed->left + "@" + domain + ">";
        if (id.size() > mail::kMaxMessageIdLength) {
            auto fresh = generateId(domain);
            if (!fresh) return false;
            id = *fresh;
        }
        msg_.changeHeader(idx, " " + id);
        note("replaced Message-ID host " + host);
    }
    return step != Step::Stop;
}

// ---- mime-version
bool Run::mimeVersion() {
    if (msg_.count("MIME-Version") > 0) return true;
    if (msg_.count("Content-Type") == 0 && msg_.count("Content-Transfer-Encoding") == 0) return true;
    Step step = decide("mime-version", "Content-Type without MIME-Version", "");
    if (step == Step::Apply) {
        msg_.appendHeader("MIME-Version", " 1.0");
        note("added MIME-Version");
    }
    return step != Step::Stop;
}

}  // namespace rampart::milter::hygiene
