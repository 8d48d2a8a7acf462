// RFC 3464 delivery status notifications (dsn.h): the per-message and per-recipient field groups of
// a message/delivery-status part, read into a Report.
#include "feedback/dsn.h"

#include <vector>

#include "feedback/report_text.h"
#include "feedback/status_code.h"
#include "mail/mime.h"
#include "util/strings.h"

namespace rampart::feedback {

namespace {

using mail::headerValue;
using mail::isBlankLine;
using mail::Line;
using mail::lineAt;
using mail::parseFields;
using util::toLower;
constexpr size_t npos = std::string_view::npos;

// Blank-line separated groups of a delivery-status body.
std::vector<std::string_view> fieldGroups(std::string_view body) {
    std::vector<std::string_view> groups;
    size_t pos = 0;
    size_t start = npos;
    size_t last = 0;
    while (pos < body.size()) {
        Line l = lineAt(body, pos);
        if (isBlankLine(body.substr(l.begin, l.end - l.begin))) {
            if (start != npos) groups.push_back(body.substr(start, last - start));
            start = npos;
        } else {
            if (start == npos) start = l.begin;
            last = l.next;
        }
        pos = l.next;
    }
    if (start != npos) groups.push_back(body.substr(start, last - start));
    return groups;
}

}  // namespace

bool readDsn(const Located& at, Report& r) {
    for (std::string_view group : fieldGroups(at.part->body)) {
        size_t ignored = 0;
        auto f = parseFields(group, &ignored, true);
        std::string finalRcpt = cleanAddress(stripType(headerValue(f, "Final-Recipient")));
        std::string origRcpt = cleanAddress(stripType(headerValue(f, "Original-Recipient")));
        if (finalRcpt.empty() && origRcpt.empty()) {
            if (r.reportingMta.empty()) r.reportingMta = stripType(headerValue(f, "Reporting-MTA"));
            if (r.originalEnvelopeId.empty()) r.originalEnvelopeId = headerValue(f, "Original-Envelope-Id");
            continue;
        }
        if (r.recipients.size() >= kMaxRecipients) break;
        DsnRecipient d;
        d.finalRecipient = finalRcpt.empty() ? origRcpt : finalRcpt;
        d.originalRecipient = origRcpt;
        d.diagnostic = collapse(headerValue(f, "Diagnostic-Code"), kMaxDiagnostic);
        d.status = effectiveStatus(headerValue(f, "Status"), d.diagnostic);
        d.action = toLower(collapse(headerValue(f, "Action"), 64));
        size_t sp = d.action.find_first_of(" (");
        if (sp != npos) d.action.resize(sp);
        if (d.action.empty() && d.status.empty()) continue;  // truncated or not a recipient group
        if (d.action.empty()) d.action = inferredAction(d.status);
        d.remoteMta = collapse(stripType(headerValue(f, "Remote-MTA")), kMaxAddress);
        if (r.reportingMta.empty()) r.reportingMta = stripType(headerValue(f, "Reporting-MTA"));
        r.recipients.push_back(std::move(d));
    }
    if (r.recipients.empty()) return false;
    r.kind = Report::Kind::Dsn;
    fillOriginalHeaders(at, r);
    return true;
}

}  // namespace rampart::feedback
