// rampart-policyd: per recipient, pacing and warmup caps (Postfix check_policy_service; Exim via
// ${readsocket}). Start-up and signals only: parse arguments, load and check the configuration and
// the limits file, bind the sockets as root, drop privileges, open the state journal, serve.
// SIGHUP reloads the configuration and limits; SIGUSR1 logs counters; SIGTERM stops cleanly.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>
#include <functional>
#include <iostream>

#include "config/config.h"
#include "policyd/journal.h"
#include "policyd/journal_store.h"
#include "policyd/server.h"
#include "policyd/unsubscribe_http.h"
#include "suppression/follower.h"
#include "util/log.h"
#include "util/process.h"

namespace po = boost::program_options;
namespace asio = boost::asio;
using namespace rampart;

namespace {

void printDiagnostics(const config::Diagnostics& diags, bool toLog) {
    for (const auto& d : diags.all()) {
        if (!toLog) {
            std::cerr << d.str() << "\n";
        } else if (d.warning) {
            log::warning(d.where.str() + ": " + d.message);
        } else {
            log::error(d.where.str() + ": " + d.message);
        }
    }
}

std::string storeDirectory(const config::Config& cfg) {
    return cfg.table("policyd_store").path;
}

}  // namespace

int main(int argc, char** argv) {
    // Until the event loop's signal_set takes them, a SIGTERM or SIGHUP during start-up stays pending
    // instead of killing the daemon half-way.
    sigset_t startup;
    sigemptyset(&startup);
    for (int s : {SIGHUP, SIGTERM, SIGINT, SIGUSR1})
        sigaddset(&startup, s);
    pthread_sigmask(SIG_BLOCK, &startup, nullptr);
    signal(SIGPIPE, SIG_IGN);
    po::options_description opts("rampart-policyd options");
    opts.add_options()("help,h", "show this help")("version,V", "print the version")(
        "config,c", po::value<std::string>()->default_value(RAMPART_DEFAULT_CONFIG), "configuration file")(
        "foreground,f", "stay in the foreground and log to stderr")(
        "check-config,n", "check the configuration and the limits file, print every problem as file:line, exit 0 or 1")(
        "print-defaults,d", "print every key rampart-policyd reads with its default (like postconf -d)")(
        "print-config", "print the settings that differ from their defaults (like postconf -n)")(
        "print-limits", "print the limits file in canonical form");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, opts), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        std::cerr << "rampart-policyd: " << e.what() << "\n" << opts;
        return 2;
    }
    if (vm.count("help")) {
        std::cout << "usage: rampart-policyd [-c FILE] [--foreground] [--check-config]\n" << opts;
        return 0;
    }
    if (vm.count("version")) {
        std::cout << "rampart-policyd " << RAMPART_VERSION << "\n";
        return 0;
    }
    if (vm.count("print-defaults")) {
        std::cout << config::Config::dumpDefaults(config::kPolicyd);
        return 0;
    }
    const std::string path = vm["config"].as<std::string>();
    const bool checkOnly = vm.count("check-config") > 0 || vm.count("print-limits") > 0;
    const bool foreground = vm.count("foreground") > 0 || checkOnly;

    auto loaded = config::loadConfigFile(path);
    if (vm.count("print-config")) {
        printDiagnostics(loaded.diagnostics, false);
        std::cout << loaded.config.dumpNonDefaults(config::kPolicyd);
        return loaded.diagnostics.hasErrors() ? 1 : 0;
    }
    log::useStderr("rampart-policyd");
    log::setLevel(loaded.config.str("log_level"));
    if (loaded.diagnostics.hasErrors()) {
        printDiagnostics(loaded.diagnostics, false);
        std::cerr << "rampart-policyd: " << path << " has errors; not starting\n";
        return 1;
    }
    auto cfg = std::make_shared<const config::Config>(loaded.config);
    config::Diagnostics diags = loaded.diagnostics;
    auto rt = policyd::buildRuntime(cfg, diags);
    if (checkOnly) {
        printDiagnostics(diags, false);
        if (!rt) {
            std::cerr << "rampart-policyd: configuration has errors\n";
            return 1;
        }
        if (vm.count("print-limits")) {
            std::cout << rt->limits->str();
            return 0;
        }
        std::cout << "rampart-policyd: " << path << ": configuration OK; " << rt->limits->limits().size() << " limits, "
                  << rt->limits->warmups().size() << " warmup schedules from " << cfg->str("policyd_limits") << "\n";
        return 0;
    }
    if (!foreground) log::useSyslog("rampart-policyd", cfg->str("syslog_facility"));
    printDiagnostics(diags, true);
    if (!rt) {
        log::error(path + ": configuration has errors; not starting");
        if (!foreground) std::cerr << "rampart-policyd: configuration has errors (see the mail log)\n";
        return 1;
    }
    auto account = util::lookupAccount(cfg->str("rampart_user"));
    if (!account) {
        log::error("rampart_user: " + account.error());
        return 1;
    }
    if (!foreground) util::daemonize();

    try {
        asio::io_context io(1);
        policyd::State state(policyd::stateOptions(*cfg));
        auto clock = std::make_shared<util::SystemClock>();
        // Sockets first, as root; the journal after the privilege drop, so its files belong to
        // rampart_user (the directory is created and handed over here).
        policyd::JournalStore store(state, clock);
        policyd::PolicyService service(rt, store);
        auto server = std::make_unique<policyd::PolicyServer>(io, service);
        for (const auto& a : cfg->listens("policyd_listen")) {
            if (auto r =
                    server->listen(a, cfg->mode("policyd_socket_mode"), *account, cfg->str("policyd_socket_group"));
                !r) {
                log::error("policyd_listen: " + r.error());
                return 1;
            }
        }
        if (auto r = server->listenControl(cfg->listen("policyd_control_socket"), *account); !r) {
            log::error("policyd_control_socket: " + r.error());
            return 1;
        }
        // The one-click endpoint (when unsubscribe_secret is set) and the suppression list.
        const auto& sref = cfg->table("suppression_list");
        std::unique_ptr<suppress::Follower> follower;
        std::shared_ptr<policyd::UnsubscribeHandler> unsubHandler;
        std::unique_ptr<policyd::UnsubscribeServer> unsubServer;
        if (!sref.empty()) {
            suppress::NormalizeOptions norm;
            norm.caseSensitiveLocalPart = cfg->flag("suppression_case_sensitive");
            norm.foldGmail = cfg->flag("suppression_fold_gmail");
            follower = std::make_unique<suppress::Follower>(sref.path, norm);
            service.setSuppression(follower->shared());
            // Its directory belongs to rampart_user: the endpoint writes the store after the drop.
            const std::string sdir =
                sref.path.substr(0, sref.path.rfind('/') == std::string::npos ? 0 : sref.path.rfind('/'));
            if (!sdir.empty() && ::mkdir(sdir.c_str(), 0750) == 0 && geteuid() == 0 &&
                ::chown(sdir.c_str(), account->uid, account->gid) != 0) {
                log::warning("cannot chown " + sdir + " to " + account->name);
            }
            if (!cfg->str("unsubscribe_secret").empty()) {
                unsubHandler = std::make_shared<policyd::UnsubscribeHandler>(sref.path, clock);
                unsubHandler->setSettings(rt->unsubscribe);
                unsubServer = std::make_unique<policyd::UnsubscribeServer>(unsubHandler);
                if (auto r = unsubServer->listen(cfg->listen("unsubscribe_listen"), *account); !r) {
                    log::error("unsubscribe_listen: " + r.error());
                    return 1;
                }
            }
        }
        util::PidFile pidFile(foreground ? std::string() : cfg->str("policyd_pid_file"));
        if (!foreground && !cfg->str("policyd_pid_file").empty()) {
            if (auto r = util::ensureParentDirectory(cfg->str("policyd_pid_file"), *account); !r)
                log::warning(r.error());
            if (auto r = pidFile.write(); !r) log::warning(r.error());
        }
        const std::string dir = storeDirectory(*cfg);
        if (::mkdir(dir.c_str(), 0750) == 0 || errno == EEXIST) {
            if (geteuid() == 0 && ::chown(dir.c_str(), account->uid, account->gid) != 0) {
                log::warning("cannot chown " + dir + " to " + account->name);
            }
        }
        if (auto r = util::dropPrivileges(*account); !r) {
            log::error(r.error());
            return 1;
        }
        policyd::JournalOptions jo;
        jo.syncInterval = std::chrono::duration_cast<std::chrono::milliseconds>(cfg->duration("policyd_sync_interval"));
        auto journal = policyd::Journal::open(dir, state, jo);
        if (!journal) {
            log::error("policyd_store: " + journal.error());
            return 1;
        }
        for (const auto& w : (*journal)->loadReport().warnings)
            log::warning("policyd_store: " + w);
        log::info("state loaded from " + dir + ": " + std::to_string((*journal)->loadReport().records) + " records, " +
                  std::to_string(state.scopeCount()) + " scopes, " + std::to_string(state.reservationCount()) +
                  " open reservations");
        store.setJournal(journal->get());
        if (follower) {
            if (std::string line = follower->poll(); !line.empty()) log::info(line);
            follower->start();
        }
        if (unsubServer) {
            unsubServer->start();
            log::info("one-click unsubscribe endpoint on " + cfg->listen("unsubscribe_listen").toString());
        }
        if (auto r = server->start(); !r) {
            log::error(r.error());
            return 1;
        }

        asio::signal_set signals(io, SIGHUP, SIGTERM, SIGINT);
        signals.add(SIGUSR1);
        std::function<void()> waitSignal;
        waitSignal = [&]() {
            signals.async_wait([&](boost::system::error_code ec, int sig) {
                if (ec) return;
                if (sig == SIGHUP) {
                    log::info("SIGHUP: reloading " + path);
                    auto next = config::loadConfigFile(path);
                    if (next.diagnostics.hasErrors()) {
                        printDiagnostics(next.diagnostics, true);
                        log::error("reload failed; keeping the running configuration and limits");
                    } else {
                        auto running = service.runtime()->config;
                        for (const auto& spec : config::registry()) {
                            if (spec.reloadable || !(spec.programs & config::kPolicyd)) continue;
                            if (running->text(spec.name) == next.config.text(spec.name)) continue;
                            log::warning(next.config.where(spec.name).str() + ": " + std::string(spec.name) +
                                         " changed; restart rampart-policyd to apply it (keeping \"" +
                                         running->text(spec.name) + "\")");
                            next.config.set(spec.name, running->text(spec.name), running->where(spec.name));
                        }
                        config::Diagnostics d;
                        auto nrt = policyd::buildRuntime(std::make_shared<const config::Config>(next.config), d);
                        printDiagnostics(d, true);
                        if (!nrt) {
                            log::error("reload failed; keeping the running configuration and limits");
                        } else {
                            service.setRuntime(nrt);
                            if (unsubHandler) unsubHandler->setSettings(nrt->unsubscribe);
                            log::setLevel(nrt->config->str("log_level"));
                            log::info("reloaded: " + std::to_string(nrt->limits->limits().size()) + " limits from " +
                                      nrt->config->str("policyd_limits"));
                        }
                    }
                } else if (sig == SIGUSR1) {
                    log::info(server->statsLine());
                } else {
                    log::info(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": stopping");
                    server->stop();
                    io.stop();
                    return;
                }
                waitSignal();
            });
        };
        waitSignal();
        pthread_sigmask(SIG_UNBLOCK, &startup, nullptr);  // the signal_set handles them from here
        std::string listening;
        for (const auto& a : cfg->listens("policyd_listen"))
            listening += (listening.empty() ? "" : ", ") + a.toString();
        log::info("listening on " + listening + " as " + account->name + "; " +
                  std::to_string(rt->limits->limits().size()) + " limits from " + cfg->str("policyd_limits"));
        io.run();
        if (auto r = (*journal)->snapshotNow(state); !r) log::error("final snapshot: " + r.error());
        if (unsubServer) unsubServer->stop();
        if (follower) follower->stop();
        log::info("stopped; " + server->statsLine());
        server.reset();
        return 0;
    } catch (const std::exception& e) {
        log::error(std::string("fatal: ") + e.what());
        return 1;
    }
}
