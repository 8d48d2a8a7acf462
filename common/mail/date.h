// RFC 5322 date-time (section 3.3, obsolete forms of section 4.3): the check the hygiene rules use
// to decide whether a Date field can stay, and the formatter for the Date they add.
#pragma once

#include <string>
#include <string_view>

#include "util/clock.h"

namespace rampart::mail {

// "Sun, 22 Nov 2026 10:00:00 +0000" (UTC).
std::string formatDate(util::SystemTime t);

// True for an RFC 5322 date-time (an unfolded Date value), obsolete forms included (two- and
// three-digit years, zone names, no day of week, comments anywhere), and for the lenient forms that
// are still plainly dates: full day and month names, a missing comma after the day name, no
// seconds, no zone, a zone abbreviation after the numeric zone. ISO 8601, asctime() and other
// formats are not RFC 5322.
bool isDateTime(std::string_view value);

}  // namespace rampart::mail
