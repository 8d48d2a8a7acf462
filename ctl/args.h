// Option helpers for rampartctl's commands: take "--flag" and "--name VALUE" / "--name=VALUE" out of
// a command's arguments, leaving the positional ones.
#pragma once

#include <optional>
#include <string>

#include "ctl/context.h"

namespace rampart::ctl {

// True (and removes it) when `flag` is among `args`.
bool takeFlag(Args& args, const std::string& flag);
// The value of the first "--name VALUE" or "--name=VALUE" (both removed); nullopt when absent.
std::optional<std::string> takeOption(Args& args, const std::string& option);

}  // namespace rampart::ctl
