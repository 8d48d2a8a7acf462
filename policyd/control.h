// rampart-policyd's control commands, from rampartctl over the control socket: one line, fields
// separated by tabs, answered by "ok" or "error: ..." and the text. No sockets here (server.cpp
// moves the bytes): the commands act on the request service's store and runtime.
//
//   status [SCOPE]              -> "ok", then JSON (statusJson)
//   pause SCOPE [WHO [WHY]]
//   resume SCOPE [WHO]
//   reset SCOPE [WARMUP_DAY|-] [WHO [WHY]]
//   stats                       -> "ok", then the stats line
//
// Operator changes are made durable (the store's flush()) before the answer, like permits.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "policyd/service.h"
#include "util/clock.h"

namespace rampart::policyd {

// statsLine: the daemon's stats line (it knows connections and MX counters the service does not).
std::string runControl(std::string_view line, PolicyService& service, const std::function<std::string()>& statsLine,
                       util::SystemTime now);

}  // namespace rampart::policyd
