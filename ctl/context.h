// What every rampartctl command receives: the -c configuration file, loaded on demand, and the
// command's arguments.
#pragma once

#include <memory>
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

}  // namespace rampart::ctl
