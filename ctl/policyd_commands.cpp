// rampartctl status | pause | resume | reset: rampart-policyd's state. While the daemon runs they go
// through its control socket (policyd_control_socket), so the change is made, journaled and logged by
// the daemon itself; when it does not run, they read (status) or lock and write (the others) the
// journal directory (policyd_store) directly. Every change records who (the invoking user) and why.
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>

#include "ctl/ctl.h"
#include "date/tz.h"
#include "policyd/journal.h"
#include "policyd/limits.h"
#include "policyd/state.h"
#include "util/process.h"
#include "util/strings.h"

namespace rampart::ctl {

namespace {

std::string invoker() {
    if (const char* s = std::getenv("SUDO_USER"); s && *s) return s;
    if (passwd* pw = getpwuid(getuid())) return pw->pw_name;
    return "uid " + std::to_string(getuid());
}

// One command over the control socket. nullopt: nobody listens (the daemon is not running).
std::optional<std::string> askDaemon(const std::string& path, const std::string& command) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        ::close(fd);
        return std::nullopt;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return std::nullopt;
    }
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string line = command + "\n";
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        ::close(fd);
        return std::nullopt;
    }
    std::string reply;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        reply.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return reply;
}

struct Offline {
    policyd::LimitSet limits;
    policyd::State state;
};

// Loads the limits file (needed to compute caps and warmup days).
bool loadLimits(const config::Config& cfg, policyd::LimitSet& out) {
    config::Diagnostics diags;
    const date::time_zone* zone = date::locate_zone(cfg.str("policyd_timezone"));
    out = policyd::LimitSet::load(cfg.str("policyd_limits"), zone, diags);
    for (const auto& d : diags.all())
        std::cerr << d.str() << "\n";
    return !diags.hasErrors();
}

std::string optText(const std::optional<uint64_t>& v) {
    return v ? std::to_string(*v) : std::string("-");
}

int printRows(const std::vector<policyd::StatusRow>& rows, const std::vector<policyd::Pause>& pauses) {
    std::vector<std::vector<std::string>> table{
        {"LIMIT", "SCOPE", "COUNT", "CAP", "WARMUP", "RESERVED", "NEXT RESET", "STATE"}};
    for (const auto& r : rows) {
        std::string cap = r.cap ? optText(r.cap) + "/" + r.period : std::string("-");
        std::string warm =
            r.warmupDay ? "day " + std::to_string(*r.warmupDay) + ": " + optText(r.today) + "/" + optText(r.warmupCap)
                        : std::string("-");
        std::string state = r.paused ? "paused" : "active";
        table.push_back({r.limit, r.scope, std::to_string(r.count), cap, warm, std::to_string(r.reserved),
                         r.nextResetText.empty() ? "-" : r.nextResetText, state});
    }
    std::vector<size_t> width(table[0].size(), 0);
    for (const auto& row : table) {
        for (size_t i = 0; i < row.size(); ++i)
            width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : table) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
        }
        std::cout << util::trim(line) << "\n";
    }
    if (rows.empty()) std::cout << "(no counters yet)\n";
    for (const auto& p : pauses) {
        std::cout << "paused: " << p.spec.str() << " by " << p.who << (p.why.empty() ? "" : ": " + p.why) << "\n";
    }
    return 0;
}

}  // namespace

int cmdPolicyd(Context& ctx, const std::string& verb, Args args) {
    const config::Config* cfg = ctx.config();
    if (!cfg) return 2;
    const std::string socketPath = cfg->listen("policyd_control_socket").path;
    const std::string dir = cfg->table("policyd_store").path;
    bool json = takeFlag(args, "--json");
    auto reason = takeOption(args, "--reason");
    auto warmupDay = takeOption(args, "--warmup-day");
    if (verb == "status") {
        if (args.size() > 1) {
            std::cerr << "usage: rampartctl status [SCOPE] [--json]\n";
            return 2;
        }
    } else if (args.size() != 1) {
        std::cerr << "usage: rampartctl " << verb << " SCOPE" << (verb == "reset" ? " [--warmup-day N]" : "")
                  << (verb == "resume" ? "" : " [--reason TEXT]") << "\n"
                  << "  SCOPE: KIND=VALUE[,KIND=VALUE...] with KIND a scope of the limits file, e.g. "
                     "mailbox=bob@acme-mail.com or sender_domain=acme-mail.com,provider=google; limit=NAME "
                     "narrows it to one limit\n";
        return 2;
    }
    std::optional<policyd::ScopeSpec> spec;
    if (!args.empty()) {
        auto s = policyd::ScopeSpec::parse(args[0]);
        if (!s) {
            std::cerr << "rampartctl: " << s.error() << "\n";
            return 2;
        }
        spec = *s;
    }
    if (warmupDay && verb != "reset") {
        std::cerr << "rampartctl: --warmup-day applies to reset only\n";
        return 2;
    }
    // The command for the daemon.
    std::string cmd = verb;
    std::string scopeText = spec ? spec->str() : "";
    const std::string who = invoker();
    if (verb == "status") cmd += "\t" + scopeText;
    if (verb == "pause") cmd += "\t" + scopeText + "\t" + who + "\t" + reason.value_or("");
    if (verb == "resume") cmd += "\t" + scopeText + "\t" + who;
    if (verb == "reset")
        cmd += "\t" + scopeText + "\t" + warmupDay.value_or("-") + "\t" + who + "\t" + reason.value_or("");

    if (auto reply = askDaemon(socketPath, cmd)) {
        size_t nl = reply->find('\n');
        std::string head = reply->substr(0, nl);
        std::string body = nl == std::string::npos ? std::string() : reply->substr(nl + 1);
        if (head != "ok") {
            std::cerr << "rampartctl: " << (head.rfind("error: ", 0) == 0 ? head.substr(7) : head) << "\n";
            return 1;
        }
        if (verb != "status" || json) {
            std::cout << body;
            return 0;
        }
        // A table from the daemon's rows: parse the JSON we just got through the same State code
        // path would need a JSON reader; instead ask for the state offline when it is readable, else
        // print the JSON.
        policyd::LimitSet limits;
        policyd::State state;
        auto load = [&] {
            if (policyd::Journal::loadReadOnly(dir, state)) return true;
            state = policyd::State();  // the daemon may have replaced a journal while we read: retry once
            return static_cast<bool>(policyd::Journal::loadReadOnly(dir, state));
        };
        if (loadLimits(*cfg, limits) && load()) {
            auto now = std::chrono::system_clock::now();
            return printRows(state.status(limits, spec ? &*spec : nullptr, now), state.pauses());
        }
        std::cout << body;
        return 0;
    }

    // The daemon is not running: work on the journal directly.
    policyd::LimitSet limits;
    if (!loadLimits(*cfg, limits)) return 2;
    auto now = std::chrono::system_clock::now();
    if (verb == "status") {
        policyd::State state;
        auto r = policyd::Journal::loadReadOnly(dir, state);
        if (!r) {
            state = policyd::State();
            r = policyd::Journal::loadReadOnly(dir, state);
        }
        if (!r) {
            std::cerr << "rampartctl: rampart-policyd is not running and " << dir << " cannot be read: " << r.error()
                      << "\n";
            return 1;
        }
        auto rows = state.status(limits, spec ? &*spec : nullptr, now);
        if (json) {
            std::cout << policyd::statusJson(rows, state.pauses()) << "\n";
            return 0;
        }
        std::cerr << "(rampart-policyd is not running; state read from " << dir << ")\n";
        return printRows(rows, state.pauses());
    }
    // Write as the directory's owner (rampart_user), so the daemon can read what we write.
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && geteuid() == 0 && st.st_uid != 0) {
        passwd* pw = getpwuid(st.st_uid);
        util::Account owner{pw ? pw->pw_name : std::to_string(st.st_uid), st.st_uid, st.st_gid};
        if (auto r = util::dropPrivileges(owner); !r) {
            std::cerr << "rampartctl: " << r.error() << "\n";
            return 1;
        }
    }
    policyd::State state(policyd::StateOptions{});
    auto journal = policyd::Journal::open(dir, state);
    if (!journal) {
        std::cerr << "rampartctl: rampart-policyd is not running, and " << dir
                  << " cannot be opened: " << journal.error() << "\n";
        return 1;
    }
    std::string done;
    if (verb == "pause") {
        auto r = state.pause(*spec, who, reason.value_or(""), now);
        if (!r) {
            std::cerr << "rampartctl: " << r.error() << "\n";
            return 1;
        }
        done = "paused " + spec->str();
    } else if (verb == "resume") {
        if (!state.resume(*spec)) {
            std::cerr << "rampartctl: " << spec->str() << " is not paused\n";
            return 1;
        }
        done = "resumed " + spec->str();
    } else if (verb == "reset") {
        std::optional<uint32_t> day;
        if (warmupDay) {
            auto d = util::parseUnsigned(*warmupDay);
            if (!d || *d == 0) {
                std::cerr << "rampartctl: --warmup-day needs a day number from 1\n";
                return 2;
            }
            day = static_cast<uint32_t>(*d);
        }
        size_t n = state.reset(*spec, day, limits, now);
        done = "reset " + std::to_string(n) + " entr" + (n == 1 ? "y" : "ies");
    }
    (*journal)->append(state);
    if (auto r = (*journal)->flush(); !r) {
        std::cerr << "rampartctl: journal: " << r.error() << "\n";
        return 1;
    }
    std::cout << done << " (rampart-policyd is not running; written to " << dir << " by " << who << ")\n";
    return 0;
}

}  // namespace rampart::ctl
