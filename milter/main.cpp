// rampart-milter: per message, on Postfix's smtpd_milters: header hygiene, suppression, DKIM signing.
// This file is start-up and signals only: parse arguments, load and check the configuration, open the
// socket as root, drop privileges, serve; SIGHUP reloads, SIGUSR1 logs counters, SIGTERM stops.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "config/config.h"
#include "milter/adapter.h"
#include "milter/runtime.h"
#include "milter/stats.h"
#include "suppression/follower.h"
#include "util/log.h"
#include "util/process.h"

namespace po = boost::program_options;
using namespace rampart;

namespace {

void printDiagnostics(const config::Diagnostics& diags, bool toLog) {
    for (const auto& d : diags.all()) {
        if (toLog) {
            if (d.warning) {
                log::warning(d.where.str() + ": " + d.message);
            } else {
                log::error(d.where.str() + ": " + d.message);
            }
        } else {
            std::cerr << d.str() << "\n";
        }
    }
}

// Keys that only a restart can change keep their running value on reload; say so.
void keepRestartOnlyKeys(const config::Config& running, config::Config& next) {
    for (const auto& spec : config::registry()) {
        if (spec.reloadable || !(spec.programs & config::kMilter)) continue;
        if (running.text(spec.name) == next.text(spec.name)) continue;
        log::warning(next.where(spec.name).str() + ": " + std::string(spec.name) + " changed to \"" +
                     next.text(spec.name) + "\"; restart rampart-milter to apply it (keeping \"" +
                     running.text(spec.name) + "\")");
        next.set(spec.name, running.text(spec.name), running.where(spec.name));
    }
}

struct Control {
    std::string configPath;
    milter::RuntimeHolder* holder;
    milter::Stats* stats;
    std::shared_ptr<const suppress::Index> suppression;
    std::atomic<bool> stopping{false};

    void reload() {
        auto running = holder->get();
        auto loaded = config::loadConfigFile(configPath);
        if (loaded.diagnostics.hasErrors()) {
            printDiagnostics(loaded.diagnostics, true);
            log::error("reload failed: configuration has errors; keeping the running configuration (generation " +
                       std::to_string(running->generation) + ")");
            return;
        }
        keepRestartOnlyKeys(*running->config, loaded.config);
        auto cfg = std::make_shared<const config::Config>(loaded.config);
        config::Diagnostics diags;
        milter::BuildOptions opts;
        opts.dnsCheck = true;
        opts.suppression = suppression;
        auto rt = milter::buildRuntime(cfg, opts, diags);
        printDiagnostics(diags, true);
        if (!rt) {
            log::error("reload failed; keeping the running configuration (generation " +
                       std::to_string(running->generation) + ")");
            return;
        }
        log::setLevel(cfg->str("log_level"));
        holder->set(rt);
        log::info("reloaded " + configPath + ": " + rt->summary + " (generation " + std::to_string(rt->generation) +
                  ")");
    }

    // Runs in its own thread with HUP/TERM/USR1 blocked everywhere else.
    void loop() {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR1);
        auto nextStats = std::chrono::steady_clock::now() + holder->get()->statsInterval;
        while (!stopping.load()) {
            timespec ts{1, 0};
            int sig = sigtimedwait(&set, nullptr, &ts);
            try {
                if (sig == SIGHUP) {
                    log::info("SIGHUP: reloading " + configPath);
                    reload();
                } else if (sig == SIGUSR1) {
                    log::info(stats->line());
                } else if (sig == SIGTERM) {
                    log::info("SIGTERM: stopping");
                    stopping = true;
                    milter::stopMilter();
                }
                auto interval = holder->get()->statsInterval;
                auto now = std::chrono::steady_clock::now();
                if (interval.count() > 0 && now >= nextStats) {
                    log::info(stats->line());
                    nextStats = now + interval;
                } else if (interval.count() > 0 && nextStats > now + interval) {
                    nextStats = now + interval;  // the interval was shortened by a reload
                }
            } catch (const std::exception& e) {
                log::error(std::string("control thread: ") + e.what());
            }
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    // Signals: HUP/TERM/USR1 are blocked from the start in every thread (threads inherit the mask)
    // and taken by the control thread once we serve.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    po::options_description opts("rampart-milter options");
    opts.add_options()("help,h", "show this help")("version,V", "print the version")(
        "config,c", po::value<std::string>()->default_value(RAMPART_DEFAULT_CONFIG), "configuration file")(
        "foreground,f", "stay in the foreground and log to stderr")(
        "check-config,n",
        "check the configuration (tables and keys too), print every problem as file:line, exit 0 or 1")(
        "print-defaults,d", "print every key rampart-milter reads with its default (like postconf -d)")(
        "print-config", "print the settings that differ from their defaults (like postconf -n)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, opts), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::cerr << "rampart-milter: " << e.what() << "\n" << opts;
        return 2;
    }
    if (vm.count("help")) {
        std::cout << "usage: rampart-milter [-c FILE] [--foreground] [--check-config]\n" << opts;
        return 0;
    }
    if (vm.count("version")) {
        std::cout << "rampart-milter " << RAMPART_VERSION << "\n";
        return 0;
    }
    if (vm.count("print-defaults")) {
        std::cout << config::Config::dumpDefaults(config::kMilter);
        return 0;
    }
    const std::string path = vm["config"].as<std::string>();
    const bool checkOnly = vm.count("check-config") > 0;
    const bool foreground = vm.count("foreground") > 0 || checkOnly;

    auto loaded = config::loadConfigFile(path);
    if (vm.count("print-config")) {
        printDiagnostics(loaded.diagnostics, false);
        std::cout << loaded.config.dumpNonDefaults(config::kMilter);
        return loaded.diagnostics.hasErrors() ? 1 : 0;
    }
    log::useStderr("rampart-milter");
    log::setLevel(loaded.config.str("log_level"));
    if (loaded.diagnostics.hasErrors()) {
        printDiagnostics(loaded.diagnostics, false);
        std::cerr << "rampart-milter: " << path << " has errors; not starting\n";
        return 1;
    }
    auto cfg = std::make_shared<const config::Config>(loaded.config);
    config::Diagnostics diags = loaded.diagnostics;
    // The suppression list: its index lives for the whole process (the store is not reloadable) and
    // a follower thread keeps it current; every runtime generation looks up in it.
    std::unique_ptr<suppress::Follower> follower;
    if (const auto& sref = cfg->table("suppression_list"); !sref.empty()) {
        suppress::NormalizeOptions norm;
        norm.caseSensitiveLocalPart = cfg->flag("suppression_case_sensitive");
        norm.foldGmail = cfg->flag("suppression_fold_gmail");
        follower = std::make_unique<suppress::Follower>(sref.path, norm);
    }
    milter::BuildOptions buildOpts;
    buildOpts.dnsCheck = !checkOnly && cfg->str("dkim_key_dns_check") != "off";
    if (follower) buildOpts.suppression = follower->shared();
    auto rt = milter::buildRuntime(cfg, buildOpts, diags);
    if (checkOnly) {
        printDiagnostics(diags, false);
        if (!rt) {
            std::cerr << "rampart-milter: " << path << ": configuration has errors\n";
            return 1;
        }
        std::cout << "rampart-milter: " << path << ": configuration OK; " << rt->summary << "\n";
        return 0;
    }
    if (!foreground) log::useSyslog("rampart-milter", cfg->str("syslog_facility"));
    printDiagnostics(diags, true);
    if (!rt) {
        log::error(path + ": configuration has errors; not starting");
        if (!foreground) std::cerr << "rampart-milter: configuration has errors (see the mail log)\n";
        return 1;
    }

    auto account = util::lookupAccount(cfg->str("rampart_user"));
    if (!account) {
        log::error("rampart_user: " + account.error());
        return 1;
    }
    milter::RuntimeHolder holder;
    holder.set(rt);
    milter::Stats stats;

    const auto& listen = cfg->listen("milter_listen");
    if (listen.kind == config::ListenAddress::Kind::Unix) {
        if (auto r = util::ensureParentDirectory(listen.path, *account); !r) {
            log::error(r.error());
            return 1;
        }
    }
    if (auto r = milter::openMilterSocket(listen, &holder, &stats); !r) {
        log::error("milter_listen: " + r.error());
        return 1;
    }
    if (listen.kind == config::ListenAddress::Kind::Unix) {
        if (auto r = util::setSocketOwnership(listen.path, cfg->mode("milter_socket_mode"), *account,
                                              cfg->str("milter_socket_group"));
            !r) {
            log::error("milter socket: " + r.error());
            return 1;
        }
    }
    if (!foreground) util::daemonize();
    util::PidFile pidFile(foreground ? std::string() : cfg->str("milter_pid_file"));
    if (!foreground && !cfg->str("milter_pid_file").empty()) {
        if (auto r = util::ensureParentDirectory(cfg->str("milter_pid_file"), *account); !r) log::warning(r.error());
        if (auto r = pidFile.write(); !r) log::warning(r.error());
    }
    if (auto r = util::dropPrivileges(*account); !r) {
        log::error(r.error());
        return 1;
    }

    if (follower) {
        // Loaded with the daemon's own rights, before the first message.
        if (std::string line = follower->poll(); !line.empty()) log::info(line);
        follower->start();
    }
    Control control{path, &holder, &stats, buildOpts.suppression};
    std::thread controlThread([&] { control.loop(); });
    log::info("listening on " + listen.toString() + " as " + account->name + "; " + rt->summary);
    int rc = milter::runMilter();
    control.stopping = true;
    controlThread.join();
    if (follower) follower->stop();
    log::info("stopped; " + stats.line());
    return rc;
}
