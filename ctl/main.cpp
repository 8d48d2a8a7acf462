// rampartctl [-c FILE] COMMAND ...: check configuration, manage DKIM keys, inspect state. The global
// options are read here; the commands come from the table in commands.cpp.
#include <iostream>

#include "ctl/commands.h"
#include "util/log.h"

using namespace rampart;

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
            std::cout << ctl::usage();
            return 0;
        } else if (a == "-V" || a == "--version") {
            std::cout << "rampartctl " << RAMPART_VERSION << "\n";
            return 0;
        } else {
            std::cerr << "rampartctl: unknown option " << a << "\n" << ctl::usage();
            return 2;
        }
    }
    if (args.empty()) {
        std::cerr << ctl::usage();
        return 2;
    }
    std::string cmd = args.front();
    args.erase(args.begin());
    if (ctl::Handler run = ctl::findHandler(cmd)) {
        try {
            return run(ctx, cmd, std::move(args));
        } catch (const std::exception& e) {
            std::cerr << "rampartctl: " << e.what() << "\n";
            return 1;
        }
    }
    std::cerr << "rampartctl: unknown command \"" << cmd << "\"\n" << ctl::usage();
    return 2;
}
