// RFC 3464 delivery status notifications: reading a message/delivery-status (or
// message/global-delivery-status) part into a Report. Internal to common/feedback; parseReport
// (report.h) is the entry point.
#pragma once

#include "feedback/report.h"
#include "feedback/report_parts.h"

namespace rampart::feedback {

// Reads the per-message fields (Reporting-MTA, Original-Envelope-Id) and one DsnRecipient per
// recipient group of the part at `at` into r, with the returned headers; on success r.kind is Dsn.
// False (r.kind unchanged) when no group names a recipient with an action or a status.
bool readDsn(const Located& at, Report& r);

}  // namespace rampart::feedback
