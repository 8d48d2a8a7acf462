// Bounce and complaint reports (report.h): which kind of report a message is (DSN, ARF,
// unsubscribe request, non-standard bounce, or none), trying the readers of dsn.h, arf.h,
// report_tokens.h and plain_bounce.h in order. The MIME reader is mail/mime.h, the classifier
// classifier.h. Everything here reads untrusted mail: no exception leaves parseReport.
#include "feedback/report.h"

#include "feedback/arf.h"
#include "feedback/dsn.h"
#include "feedback/plain_bounce.h"
#include "feedback/report_parts.h"
#include "feedback/report_text.h"
#include "feedback/report_tokens.h"
#include "mail/mime.h"
#include "util/strings.h"

namespace rampart::feedback {

namespace {

using mail::decodeEncodedWords;
using mail::headerValue;
using mail::parseMime;
using util::trim;
constexpr size_t npos = std::string_view::npos;

void parseReportInto(std::string_view message, std::string_view envelopeRecipient, Report& r) {
    auto mime = parseMime(message);
    if (!mime) {
        r.unsubscribeToken = tokenFromAddress(envelopeRecipient);
        if (!r.unsubscribeToken.empty()) {
            r.kind = Report::Kind::Unsubscribe;
            return;
        }
        r.why = "unreadable message: " + mime.error();
        return;
    }
    const MimePart& root = *mime;
    r.from = collapse(headerValue(root.headers, "From"), kMaxAddress);
    std::string subject = headerValue(root.headers, "Subject");
    if (subject.size() > 4 * kMaxAddress) subject.resize(4 * kMaxAddress);
    r.subject = collapse(decodeEncodedWords(subject), kMaxAddress);

    // 1. DSN and ARF
    Located dsn;
    findPart(
        root, nullptr, 0, [](const MimePart& p) { return isDsnType(p.contentType); }, &dsn);
    Located arf;
    findPart(
        root, nullptr, 0, [](const MimePart& p) { return p.contentType == "message/feedback-report"; }, &arf);
    if (!dsn.part && !arf.part) {
        // A multipart/report whose report part is mislabelled (text/plain): known by its fields.
        Located report;
        findPart(
            root, nullptr, 0, [](const MimePart& p) { return p.contentType == "multipart/report"; }, &report);
        if (report.part) {
            std::string type = reportType(report.part);
            for (size_t i = 0; i < report.part->children.size(); ++i) {
                const MimePart& c = report.part->children[i];
                if (type != "delivery-status" && leafHasField(c, "Feedback-Type", "")) {
                    arf = {&c, report.part, i};
                    break;
                }
                if (type != "feedback-report" && leafHasField(c, "Final-Recipient", "Status")) {
                    dsn = {&c, report.part, i};
                    break;
                }
            }
        }
    }
    if (dsn.part) {
        if (readDsn(dsn, r)) return;
        r.reportingMta.clear();
        r.originalEnvelopeId.clear();
    }
    if (arf.part) {
        readArf(arf, r);
        return;
    }

    // 2. unsubscribe+TOKEN@ in the envelope recipient (or, without one, the delivery headers)
    if (!trim(envelopeRecipient).empty()) {
        r.unsubscribeToken = tokenFromAddress(envelopeRecipient);
    } else {
        for (std::string_view name : {"Delivered-To", "X-Original-To", "To"}) {
            for (size_t i = mail::findHeader(root.headers, name); i != npos && r.unsubscribeToken.empty();
                 i = mail::findHeader(root.headers, name, i + 1)) {
                r.unsubscribeToken = tokenFromAddress(mail::unfold(root.headers[i].value));
            }
            if (!r.unsubscribeToken.empty()) break;
        }
    }
    if (!r.unsubscribeToken.empty()) {
        r.kind = Report::Kind::Unsubscribe;
        return;
    }

    // 3. non-standard bounces
    bool bounceLike = daemonSender(r.from) || bounceSubject(r.subject) || dsn.part;
    if (bounceLike) {
        r.originalHeaders.clear();
        if (readPlainBounce(root, r)) return;
        r.originalHeaders.clear();
        r.recipients.clear();
    }

    // 4. a token in the subject
    if (!bounceLike) {
        r.unsubscribeToken = tokenFromSubject(r.subject);
        if (!r.unsubscribeToken.empty()) {
            r.kind = Report::Kind::Unsubscribe;
            return;
        }
    }

    if (root.headers.empty()) {
        r.why = "not a mail message (no header fields)";
    } else if (dsn.part) {
        r.why = "delivery-status report without recipients";
    } else if (!daemonSender(r.from) && autoReply(root, r.subject)) {
        r.why = "auto-reply (not a bounce)";
    } else if (bounceLike) {
        r.why = "bounce-like message without a recognisable recipient and status";
    } else {
        r.why = "neither a delivery status notification, a feedback report nor an unsubscribe request";
    }
}

}  // namespace

Report parseReport(std::string_view message, std::string_view envelopeRecipient) {
    Report r;
    try {
        parseReportInto(message, envelopeRecipient, r);
    } catch (const std::exception& e) {
        r = Report{};
        r.why = std::string("cannot parse the message: ") + e.what();
    } catch (...) {
        r = Report{};
        r.why = "cannot parse the message";
    }
    return r;
}

}  // namespace rampart::feedback
