// The libmilter boundary. adapter.cpp is the only file that includes <libmilter/mfapi.h>: it turns
// libmilter callbacks into Message/Pipeline calls and applies the recorded edits at end-of-message.
// No exception crosses a callback: failures map to milter_on_internal_error and are counted.
#pragma once

#include <string>

#include "milter/runtime.h"
#include "milter/stats.h"
#include "util/result.h"

namespace rampart::milter {

// Registers the filter and creates the listening socket (call as root, before dropping privileges).
util::Result<bool> openMilterSocket(const config::ListenAddress& address, RuntimeHolder* runtime, Stats* stats);
// Serves until stopMilter(); returns 0 on a clean stop.
int runMilter();
void stopMilter();

}  // namespace rampart::milter
