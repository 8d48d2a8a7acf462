// rampartctl [-c FILE] COMMAND ...: check configuration, manage DKIM keys, inspect state.
#include <sys/stat.h>

#include <iostream>
#include <memory>

#include "ctl/ctl.h"
#include "util/log.h"

using namespace rampart;

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

bool takeFlag(Args& args, const std::string& flag) {
    for (auto it = args.begin(); it != args.end(); ++it) {
        if (*it == flag) {
            args.erase(it);
            return true;
        }
    }
    return false;
}

std::optional<std::string> takeOption(Args& args, const std::string& option) {
    for (auto it = args.begin(); it != args.end(); ++it) {
        if (*it == option && it + 1 != args.end()) {
            std::string v = *(it + 1);
            args.erase(it, it + 2);
            return v;
        }
        if (it->rfind(option + "=", 0) == 0) {
            std::string v = it->substr(option.size() + 1);
            args.erase(it);
            return v;
        }
    }
    return std::nullopt;
}

}  // namespace rampart::ctl

namespace {

constexpr const char* kUsage =
    "usage: rampartctl [-c FILE] COMMAND [ARGS]\n"
    "\n"
    "  check-config                 check rampart.conf, its tables and keys (no network); exit 0 or 1\n"
    "  config defaults|show         every key with its default / the settings that differ\n"
    "  config reference|man|example the documents generated from the key registry\n"
    "  dkim keygen DOMAIN SELECTOR [--type rsa|ed25519] [--bits N] [--output FILE] [--owner USER] [--force]\n"
    "                               write a new private key (mode 0600) and print the DNS record\n"
    "  dkim record KEYFILE          print the DNS TXT record for an existing private key\n"
    "  dkim check [--json]          compare every selector of the key table with DNS\n"
    "  status [SCOPE] [--json]      rampart-policyd: counts, caps, warmup day and next reset per limit and scope\n"
    "  pause SCOPE [--reason TEXT]  defer everything matching SCOPE until resumed (a kill switch)\n"
    "  resume SCOPE\n"
    "  reset SCOPE [--warmup-day N] [--reason TEXT]   clear counts (and move the warmup to day N)\n"
    "     SCOPE: KIND=VALUE[,KIND=VALUE...], e.g. mailbox=bob@acme-mail.com, "
    "sender_domain=acme-mail.com,provider=google\n"
    "  suppress add TARGET [--reason R] [--scope S] [--expires 30d|YYYY-MM-DD] [--note TEXT]\n"
    "                               suppress an address or a whole domain (@example.com)\n"
    "  suppress remove TARGET [--scope S] [--force] [--why TEXT]\n"
    "  suppress check ADDRESS [--tenant T] [--from-domain D]   exit 0 if suppressed, 1 if not\n"
    "  suppress list|import|export|audit|expire ...   (rampartctl suppress help)\n"
    "  ingest [--recipient ADDRESS] [--dry-run] < MESSAGE\n"
    "                               one bounce (DSN), complaint (ARF) or mailto unsubscribe on stdin -> suppressions\n"
    "                               (a Postfix pipe transport; exit 0 unless the list cannot be written: 75)\n"
    "\n"
    "  -c FILE   configuration file (default " RAMPART_DEFAULT_CONFIG ")\n";

}  // namespace

int main(int argc, char** argv) {
    log::useStderr("rampartctl");
    ctl::Context ctx;
    ctx.configPath = RAMPART_DEFAULT_CONFIG;
    ctl::Args args(argv + 1, argv + argc);
    while (!args.empty() && !args.front().empty() && args.front()[0] == '-') {
        std::string a = args.front();
        args.erase(args.begin());
        if ((a == "-c" || a == "--config") && !args.empty()) {
            ctx.configPath = args.front();
            ctx.configGiven = true;
            args.erase(args.begin());
        } else if (a.rfind("--config=", 0) == 0) {
            ctx.configPath = a.substr(9);
            ctx.configGiven = true;
        } else if (a == "-h" || a == "--help") {
            std::cout << kUsage;
            return 0;
        } else if (a == "-V" || a == "--version") {
            std::cout << "rampartctl " << RAMPART_VERSION << "\n";
            return 0;
        } else {
            std::cerr << "rampartctl: unknown option " << a << "\n" << kUsage;
            return 2;
        }
    }
    if (args.empty()) {
        std::cerr << kUsage;
        return 2;
    }
    std::string cmd = args.front();
    args.erase(args.begin());
    try {
        if (cmd == "check-config") return ctl::cmdCheckConfig(ctx, args);
        if (cmd == "config") return ctl::cmdConfig(ctx, args);
        if (cmd == "dkim") return ctl::cmdDkim(ctx, args);
        if (cmd == "ingest") return ctl::cmdIngest(ctx, args);
        if (cmd == "status" || cmd == "pause" || cmd == "resume" || cmd == "reset")
            return ctl::cmdPolicyd(ctx, cmd, args);
        if (cmd == "suppress") return ctl::cmdSuppress(ctx, args);
    } catch (const std::exception& e) {
        std::cerr << "rampartctl: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "rampartctl: unknown command \"" << cmd << "\"\n" << kUsage;
    return 2;
}
