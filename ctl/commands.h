// rampartctl's command table: every command and verb with its synopsis and a one-line description.
// main() dispatches from it, and `rampartctl --help` (and `help`, and a usage error) prints its
// list; tests/ctl_command_table.py checks that man/rampartctl.8 documents the same commands.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ctl/context.h"

namespace rampart::ctl {

// `word`: the command word the user typed ("dkim", "status"); `args`: the words after it.
using Handler = int (*)(Context& ctx, const std::string& word, Args args);

struct Command {
    std::string_view name;      // the words that select it: "check-config", "dkim keygen"
    std::string_view synopsis;  // its arguments, as in the man page's synopsis: "DOMAIN SELECTOR [--type rsa|ed25519]"
    std::string_view summary;   // one line
    // Receives every command whose name starts with the same first word: a group ("dkim") reads
    // its verb from `args`, so the rows of a group share one handler.
    Handler run;
};

// In the order --help lists them.
const std::vector<Command>& commands();

// The handler for the first word of a command line; nullptr when no command starts with it.
Handler findHandler(std::string_view word);

// The usage text: synopsis, the command list, notes and the global options.
std::string usage();

}  // namespace rampart::ctl
