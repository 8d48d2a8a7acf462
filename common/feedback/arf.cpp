// RFC 5965 abuse reports (arf.h): the fields of a message/feedback-report part, read into a Report.
#include "feedback/arf.h"

#include "feedback/report_text.h"
#include "mail/mime.h"
#include "util/strings.h"

namespace rampart::feedback {

namespace {

using mail::headerValue;
using mail::parseFields;
using util::toLower;
constexpr size_t npos = std::string_view::npos;

}  // namespace

void readArf(const Located& at, Report& r) {
    r.kind = Report::Kind::Arf;
    size_t ignored = 0;
    auto f = parseFields(at.part->body, &ignored, true);
    r.feedbackType = toLower(collapse(headerValue(f, "Feedback-Type"), 64));
    size_t sp = r.feedbackType.find_first_of(" (;");
    if (sp != npos) r.feedbackType.resize(sp);
    r.userAgent = collapse(headerValue(f, "User-Agent"), 256);
    r.arrivalDate = collapse(headerValue(f, "Arrival-Date"), 256);
    r.sourceIp = collapse(headerValue(f, "Source-IP"), 64);
    r.reportingMta = collapse(stripType(headerValue(f, "Reporting-MTA")), kMaxAddress);
    r.originalMailFrom = cleanAddress(headerValue(f, "Original-Mail-From"));
    for (size_t i = mail::findHeader(f, "Original-Rcpt-To"); i != npos;
         i = mail::findHeader(f, "Original-Rcpt-To", i + 1)) {
        std::string a = cleanAddress(mail::unfold(f[i].value));
        if (!looksRedacted(a)) {
            r.originalRcptTo = a;
            break;
        }
    }
    fillOriginalHeaders(at, r);
}

}  // namespace rampart::feedback
