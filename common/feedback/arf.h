// RFC 5965 abuse reports (ARF): reading a message/feedback-report part into a Report. Internal to
// common/feedback; parseReport (report.h) is the entry point.
#pragma once

#include "feedback/report.h"
#include "feedback/report_parts.h"

namespace rampart::feedback {

// Sets r.kind to Arf and reads Feedback-Type, User-Agent, Arrival-Date, Source-IP, Reporting-MTA,
// Original-Mail-From and the first unredacted Original-Rcpt-To of the part at `at`, with the
// returned headers.
void readArf(const Located& at, Report& r);

}  // namespace rampart::feedback
