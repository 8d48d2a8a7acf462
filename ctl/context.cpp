// rampartctl's Context: the configuration file named by -c, loaded once, when a command first needs it.
#include "ctl/context.h"

#include <sys/stat.h>

#include <iostream>

namespace rampart::ctl {

const config::Config* Context::config(bool missingOk) {
    if (loaded_) return loaded_.get();
    struct stat st {};
    if (missingOk && ::stat(configPath.c_str(), &st) != 0) {
        loaded_ = std::make_unique<config::Config>();
        return loaded_.get();
    }
    auto r = config::loadConfigFile(configPath);
    for (const auto& d : r.diagnostics.all())
        std::cerr << d.str() << "\n";
    if (r.diagnostics.hasErrors()) return nullptr;
    loaded_ = std::make_unique<config::Config>(r.config);
    return loaded_.get();
}

}  // namespace rampart::ctl
