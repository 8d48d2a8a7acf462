// Where the parts of a report are in its MIME tree: finding a part by type (never inside an
// enclosed message: a returned message may itself be a bounce), a report part that lost its proper
// type, the report-type of a multipart/report, and the header block of the returned message.
// Internal to common/feedback.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "feedback/report.h"
#include "mail/mime.h"

namespace rampart::feedback {

using mail::MimePart;

struct Located {
    const MimePart* part = nullptr;
    const MimePart* parent = nullptr;  // the multipart holding it (null for the root)
    size_t index = 0;
};

// message/delivery-status, message/global-delivery-status.
bool isDsnType(std::string_view t);
// Depth-first through the message and its multipart parts, never into enclosed messages; the first
// part `pred` accepts, in *out (left alone if out->part is already set or nothing matches).
void findPart(const MimePart& p, const MimePart* parent, size_t index, bool (*pred)(const MimePart&), Located* out);
// A leaf part whose body reads as report fields with a field `a` (and `b`, unless empty): a report
// part that lost its proper type (text/plain instead of message/...).
bool leafHasField(const MimePart& p, std::string_view a, std::string_view b);
// The report-type parameter of a multipart/report (lower-case); empty for anything else.
std::string reportType(const MimePart* multipart);
// The header block the report returned, into r.originalHeaders: an enclosed message or header part
// among the siblings of the report part, else a later text part that reads as a header block.
void fillOriginalHeaders(const Located& at, Report& r);

}  // namespace rampart::feedback
