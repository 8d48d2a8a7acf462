// rampartctl's command table (commands.h) and the usage text printed from it.
#include "ctl/commands.h"

#include <iostream>
#include <utility>

#include "ctl/ctl.h"

namespace rampart::ctl {

namespace {

int runCheckConfig(Context& ctx, const std::string&, Args args) {
    return cmdCheckConfig(ctx, args);
}
int runConfig(Context& ctx, const std::string&, Args args) {
    return cmdConfig(ctx, args);
}
int runDkim(Context& ctx, const std::string&, Args args) {
    return cmdDkim(ctx, args);
}
int runPolicyd(Context& ctx, const std::string& word, Args args) {
    return cmdPolicyd(ctx, word, std::move(args));
}
int runSuppress(Context& ctx, const std::string&, Args args) {
    return cmdSuppress(ctx, std::move(args));
}
int runIngest(Context& ctx, const std::string&, Args args) {
    return cmdIngest(ctx, std::move(args));
}
int runHelp(Context&, const std::string&, Args) {
    std::cout << usage();
    return 0;
}

// Where a row's summary starts when "  NAME SYNOPSIS" is short enough; else on the next line.
constexpr size_t kSummaryColumn = 33;

}  // namespace

const std::vector<Command>& commands() {
    static const std::vector<Command> table{
        {"check-config", "", "check rampart.conf, its tables and keys (no network); exit 0 or 1", runCheckConfig},
        {"config defaults", "", "every key with its default", runConfig},
        {"config show", "", "the settings that differ from their defaults", runConfig},
        {"config reference", "", "the Markdown reference generated from the key registry", runConfig},
        {"config man", "", "rampart.conf(5), generated from the key registry", runConfig},
        {"config example", "", "an example rampart.conf with every key commented out", runConfig},
        {"dkim keygen", "DOMAIN SELECTOR [--type rsa|ed25519] [--bits N] [--output FILE] [--owner USER] [--force]",
         "write a new private key (mode 0600) and print the DNS record", runDkim},
        {"dkim record", "KEYFILE", "print the DNS TXT record for an existing private key", runDkim},
        {"dkim check", "[--json]", "compare every selector of the key table with DNS", runDkim},
        {"status", "[SCOPE] [--json]", "rampart-policyd: counts, caps, warmup day and next reset per limit and scope",
         runPolicyd},
        {"pause", "SCOPE [--reason TEXT]", "defer everything matching SCOPE until resumed (a kill switch)", runPolicyd},
        {"resume", "SCOPE", "end a pause", runPolicyd},
        {"reset", "SCOPE [--warmup-day N] [--reason TEXT]", "clear counts (and move the warmup to day N)", runPolicyd},
        {"suppress add", "TARGET [--reason R] [--scope S] [--expires 30d|YYYY-MM-DD] [--note TEXT]",
         "suppress an address or a whole domain (@example.com)", runSuppress},
        {"suppress remove", "TARGET [--scope S] [--force] [--why TEXT]", "remove an entry (sticky ones need --force)",
         runSuppress},
        {"suppress check", "ADDRESS [--tenant T] [--from-domain D]", "exit 0 if suppressed, 1 if not", runSuppress},
        {"suppress list", "[--scope S] [--reason R] [--prefix P] [--limit N] [--json]", "the entries", runSuppress},
        {"suppress import", "FILE|- [--format generic|ses] [--scope S]", "add the entries of a CSV file", runSuppress},
        {"suppress export", "[--format generic|ses] [FILE]", "the entries as CSV", runSuppress},
        {"suppress audit", "[TARGET] [--limit N] [--json]", "the last changes, who made them and why", runSuppress},
        {"suppress expire", "", "drop the entries whose expiry passed", runSuppress},
        {"ingest", "[--recipient ADDRESS] [--file FILE] [--dry-run] < MESSAGE",
         "a bounce (DSN), complaint (ARF) or mailto unsubscribe on stdin -> suppressions (exit 75: retry later)",
         runIngest},
        {"help", "", "this list", runHelp},
    };
    return table;
}

Handler findHandler(std::string_view word) {
    for (const auto& c : commands()) {
        if (c.name.substr(0, c.name.find(' ')) == word) return c.run;
    }
    return nullptr;
}

std::string usage() {
    std::string out = "usage: rampartctl [-c FILE] COMMAND [ARGS]\n\n";
    for (const auto& c : commands()) {
        std::string line = "  " + std::string(c.name);
        if (!c.synopsis.empty()) line += " " + std::string(c.synopsis);
        if (line.size() + 2 < kSummaryColumn) {
            line.resize(kSummaryColumn - 1, ' ');
        } else {
            line += "\n" + std::string(kSummaryColumn - 1, ' ');
        }
        out += line + std::string(c.summary) + "\n";
    }
    out +=
        "\nSCOPE: KIND=VALUE[,KIND=VALUE...], e.g. mailbox=bob@acme-mail.com, "
        "sender_domain=acme-mail.com,provider=google\n";
    out +=
        "TARGET: an address (user@example.com) or a whole domain (@example.com); more in rampartctl suppress help\n\n";
    out += "  -c, --config FILE  configuration file (default " + std::string(RAMPART_DEFAULT_CONFIG) + ")\n";
    out += "  -h, --help         this list\n";
    out += "  -V, --version      rampartctl's version\n";
    return out;
}

}  // namespace rampart::ctl
