// Times as suppression lists show and accept them: expiries as operators write them, and unix
// seconds as ISO 8601 UTC text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace rampart::suppress {

// An expiry as operators write it: "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM:SSZ", a duration
// from `now` ("30d", "12h", "2w"), or "" / "never" (none).
util::Result<std::optional<int64_t>> parseExpiry(std::string_view text, int64_t now);
// Unix seconds as "2026-11-22T19:00:00Z".
std::string formatTime(int64_t unixSeconds);

}  // namespace rampart::suppress
