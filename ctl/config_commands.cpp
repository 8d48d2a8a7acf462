// rampartctl check-config and config ...: validation and the documents generated from the registry.
#include <sys/stat.h>

#include <iostream>

#include "config/docs.h"
#include "ctl/ctl.h"
#include "feedback/report.h"
#include "milter/runtime.h"
#include "policyd/runtime.h"
#include "suppression/suppression.h"

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
        // rampart-policyd is checked when it is configured: policyd_limits set, or the default file there.
        struct stat st {};
        bool policydConfigured =
            !cfg->isDefault("policyd_limits") || ::stat(cfg->str("policyd_limits").c_str(), &st) == 0;
        auto prt = policydConfigured ? policyd::buildRuntime(cfg, diags) : nullptr;
        if (!policydConfigured) {
            summary += "\n  rampart-policyd: not configured (no " + cfg->str("policyd_limits") + ")";
        } else if (prt) {
            summary += "\n  rampart-policyd: " + std::to_string(prt->limits->limits().size()) + " limits, " +
                       std::to_string(prt->limits->warmups().size()) + " warmup schedules from " +
                       cfg->str("policyd_limits");
        }
        // Bounce classification rules (rampartctl ingest) and the suppression list.
        if (const auto& rules = cfg->table("ingest_rules"); !rules.empty()) {
            auto c = feedback::Classifier::load(rules.path);
            if (!c) {
                diags.error(cfg->where("ingest_rules"), "ingest_rules: " + c.error());
            } else {
                summary += "\n  ingest: " + std::to_string(c->ruleCount()) + " rules from " + rules.path;
            }
        }
        if (const auto& sref = cfg->table("suppression_list"); !sref.empty()) {
            if (::stat(sref.path.c_str(), &st) != 0) {
                summary += "\n  suppression list: " + sref.path +
                           " does not exist yet (created by the first rampartctl suppress)";
            } else if (auto store = suppress::Store::open(sref.path, true); !store) {
                diags.error(cfg->where("suppression_list"), "suppression_list: " + store.error());
            } else if (auto n = (*store)->count(); !n) {
                diags.error(cfg->where("suppression_list"), "suppression_list: " + n.error());
            } else {
                summary += "\n  suppression list: " + sref.path + ", " + std::to_string(*n) + " entries";
            }
        }
    }
    for (const auto& d : diags.all())
        std::cerr << d.str() << "\n";
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
