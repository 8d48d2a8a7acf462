// rampartctl: the sysadmin's tool. The handlers of its command groups, each defined in its own
// *_commands.cpp; the command table (commands.h) maps command words to them.
#pragma once

#include <string>

#include "ctl/args.h"
#include "ctl/context.h"

namespace rampart::ctl {

int cmdCheckConfig(Context& ctx, const Args& args);
int cmdConfig(Context& ctx, const Args& args);
int cmdDkim(Context& ctx, const Args& args);
int cmdPolicyd(Context& ctx, const std::string& verb, Args args);  // status, pause, resume, reset
int cmdIngest(Context& ctx, Args args);                            // one bounce / complaint / unsubscribe on stdin
int cmdSuppress(Context& ctx, Args args);  // suppress add|remove|check|list|import|export|audit|expire

}  // namespace rampart::ctl
