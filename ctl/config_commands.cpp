// rampartctl check-config and config ...: validation and the documents generated from the registry.
#include <iostream>

#include "config/docs.h"
#include "ctl/ctl.h"
#include "milter/runtime.h"

namespace rampart::ctl {

int cmdCheckConfig(Context& ctx, const Args& args) {
    if (!args.empty()) {
        std::cerr << "usage: rampartctl [-c FILE] check-config\n";
        return 2;
    }
    auto loaded = config::loadConfigFile(ctx.configPath);
    config::Diagnostics diags = loaded.diagnostics;
    std::string summary;
    if (!loaded.diagnostics.hasErrors()) {
        auto cfg = std::make_shared<const config::Config>(loaded.config);
        milter::BuildOptions opts;
        auto rt = milter::buildRuntime(cfg, opts, diags);
        if (rt) summary = "rampart-milter: " + rt->summary;
    }
    for (const auto& d : diags.all()) std::cerr << d.str() << "\n";
    if (diags.hasErrors()) {
        std::cerr << ctx.configPath << ": configuration has errors\n";
        return 1;
    }
    std::cout << ctx.configPath << ": configuration OK\n  " << summary << "\n";
    return 0;
}

int cmdConfig(Context& ctx, const Args& args) {
    const std::string usage = "usage: rampartctl config defaults|show|reference|man|example\n";
    if (args.size() != 1) {
        std::cerr << usage;
        return 2;
    }
    const std::string& what = args[0];
    if (what == "defaults") {
        std::cout << config::Config::dumpDefaults(config::kAll);
    } else if (what == "show") {
        const config::Config* c = ctx.config();
        if (!c) return 1;
        std::cout << c->dumpNonDefaults(config::kAll);
    } else if (what == "reference") {
        std::cout << config::renderMarkdownReference();
    } else if (what == "man") {
        std::cout << config::renderManPage();
    } else if (what == "example") {
        std::cout << config::renderExampleConfig();
    } else {
        std::cerr << usage;
        return 2;
    }
    return 0;
}

}  // namespace rampart::ctl
