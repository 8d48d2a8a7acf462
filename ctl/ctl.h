// rampartctl: the sysadmin's tool. Each command group lives in its own file and registers here.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace rampart::ctl {

struct Context {
    std::string configPath;
    bool configGiven = false;  // -c on the command line
    // Loads the configuration; on errors prints them and returns nullptr. `missingOk`: use the
    // defaults when the file does not exist (keygen works before rampart.conf is written).
    const config::Config* config(bool missingOk = false);

  private:
    std::unique_ptr<config::Config> loaded_;
};

using Args = std::vector<std::string>;

int cmdCheckConfig(Context& ctx, const Args& args);
int cmdConfig(Context& ctx, const Args& args);
int cmdDkim(Context& ctx, const Args& args);
int cmdPolicyd(Context& ctx, const std::string& verb, Args args);  // status, pause, resume, reset
int cmdIngest(Context& ctx, Args args);                            // one bounce / complaint / unsubscribe on stdin
int cmdSuppress(Context& ctx, Args args);  // suppress add|remove|check|list|import|export|audit|expire

// Small option helpers: find "--name VALUE" / "--flag" in args (removing them).
bool takeFlag(Args& args, const std::string& flag);
std::optional<std::string> takeOption(Args& args, const std::string& option);

}  // namespace rampart::ctl
