// Sending windows of a limit (`window = DAYS HH:MM-HH:MM [; ...] [ZONE]`, docs/limits.md): parsing
// a window line, and whether a local time is inside a window and when it next opens. The Window
// type itself is in limits.h.
#pragma once

#include <cstdint>
#include <string_view>

#include "policyd/limits.h"
#include "util/result.h"

namespace rampart::policyd {

// DAYS HH:MM-HH:MM [; DAYS HH:MM-HH:MM ...] [ZONE]; fallback: the zone when the line names none.
// An error is the text that follows "window: " in the diagnostic.
util::Result<Window> parseWindow(std::string_view text, const date::time_zone* fallback);

// Is a local time (local seconds in the window's zone) inside the window?
bool insideWindow(const Window& w, int64_t localSeconds);

// The next opening of the window after nowSec (unix seconds; outside the window), as unix seconds.
int64_t nextOpening(const Window& w, int64_t nowSec);

}  // namespace rampart::policyd
