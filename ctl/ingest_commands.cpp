// rampartctl ingest: one bounce, complaint report or mailto unsubscribe on stdin, as a Postfix pipe
// transport delivers it (see contrib/postfix/README.md), turned into suppressions. This file is the
// I/O: reading the message, the suppression store and ingestion's counters (SQLite), printing and
// logging. What each kind of report leads to (hard bounces, the soft-bounce limit, sender-policy
// failures, complaints, unsubscribes) is the policy in common/feedback/ingest_policy.h.
//
// Input that cannot be understood exits 0 with a log line (Postfix must not bounce the bounce); a
// store that cannot be written exits 75 (EX_TEMPFAIL), so Postfix keeps the report and retries.
#include <sysexits.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "ctl/ctl.h"
#include "feedback/ingest_policy.h"
#include "feedback/report.h"
#include "suppression/suppression.h"
#include "util/log.h"
#include "util/sqlite.h"
#include "util/strings.h"
#include "util/tokens.h"
#include "util/unix_time.h"

namespace rampart::ctl {

namespace {

constexpr size_t kMaxInput = 20 * 1024 * 1024;

// Ingestion's own counters, in the suppression store's file: soft bounces per address and
// sender-policy failures per sending domain (for a later circuit breaker).
class Counts {
  public:
    util::Result<bool> open(const std::string& path) {
        auto db = sqlite::Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 5000);
        if (!db) return util::err(std::string("cannot open ") + path + ": " + db.error());
        db_ = std::move(db).value();
        return db_.exec(
            "CREATE TABLE IF NOT EXISTS ingest_soft_bounces (target TEXT NOT NULL, at INTEGER NOT NULL, "
            "category TEXT, diagnostic TEXT);"
            "CREATE INDEX IF NOT EXISTS ingest_soft_bounces_target ON ingest_soft_bounces(target, at);"
            "CREATE TABLE IF NOT EXISTS ingest_sender_policy (domain TEXT NOT NULL, at INTEGER NOT NULL, "
            "category TEXT, recipient_domain TEXT, diagnostic TEXT);"
            "CREATE INDEX IF NOT EXISTS ingest_sender_policy_domain ON ingest_sender_policy(domain, at);");
    }
    // Records a soft bounce; returns how many this address had within the window (this one included).
    util::Result<int64_t> softBounce(const std::string& target, int64_t now, int64_t window,
                                     const std::string& category, const std::string& diagnostic) {
        if (auto r = run("INSERT INTO ingest_soft_bounces(target, at, category, diagnostic) VALUES(?1, ?2, ?3, ?4)",
                         {target, std::to_string(now), category, diagnostic});
            !r) {
            return util::err(r.error());
        }
        // Pruning old rows only keeps the table small; a failure there changes no count, but is said.
        if (auto pruned = run("DELETE FROM ingest_soft_bounces WHERE at < ?1", {std::to_string(now - window)});
            !pruned) {
            log::warning("ingest: pruning old soft bounces failed: " + pruned.error());
        }
        return countWhere("SELECT count(*) FROM ingest_soft_bounces WHERE target = ?1 AND at >= ?2",
                          {target, std::to_string(now - window)});
    }
    util::Result<int64_t> senderPolicy(const std::string& domain, int64_t now, const std::string& category,
                                       const std::string& rcptDomain, const std::string& diagnostic) {
        if (auto r = run("INSERT INTO ingest_sender_policy(domain, at, category, recipient_domain, diagnostic) "
                         "VALUES(?1, ?2, ?3, ?4, ?5)",
                         {domain, std::to_string(now), category, rcptDomain, diagnostic});
            !r) {
            return util::err(r.error());
        }
        return countWhere("SELECT count(*) FROM ingest_sender_policy WHERE domain = ?1 AND at >= ?2",
                          {domain, std::to_string(now - 86400)});
    }

  private:
    // Prepares `sql` and runs `use` on a Query with `args` bound as text (?1, ?2, ...).
    template <typename T, typename Use>
    util::Result<T> with(const char* sql, const std::vector<std::string>& args, Use use) {
        auto st = db_.prepare(sql);
        if (!st) return util::err(st.error());
        sqlite::Query q(*st);
        for (size_t i = 0; i < args.size(); ++i)
            q.text(static_cast<int>(i + 1), args[i]);
        return use(q);
    }
    util::Result<bool> run(const char* sql, const std::vector<std::string>& args) {
        return with<bool>(sql, args, [this](sqlite::Query& q) -> util::Result<bool> {
            if (q.step() != SQLITE_DONE) return util::err(db_.errmsg());
            return true;
        });
    }
    util::Result<int64_t> countWhere(const char* sql, const std::vector<std::string>& args) {
        return with<int64_t>(sql, args, [this](sqlite::Query& q) -> util::Result<int64_t> {
            if (q.step() != SQLITE_ROW) return util::err(db_.errmsg());
            return q.colI64(0);
        });
    }
    sqlite::Db db_;
};

// The policy's writes, into the suppression store and ingestion's counters.
class StoreEffects : public feedback::IngestEffects {
  public:
    StoreEffects(suppress::Store& s, Counts& n) : store_(s), counts_(n) {}
    util::Result<suppress::AddOutcome> addSuppression(const suppress::Entry& e, const std::string& source) override {
        return store_.add(e, "rampartctl ingest", source);
    }
    util::Result<int64_t> countSoftBounce(const std::string& target, int64_t now, int64_t window,
                                          const std::string& category, const std::string& diagnostic) override {
        return counts_.softBounce(target, now, window, category, diagnostic);
    }
    util::Result<int64_t> countSenderPolicy(const std::string& domain, int64_t now, const std::string& category,
                                            const std::string& recipientDomain,
                                            const std::string& diagnostic) override {
        return counts_.senderPolicy(domain, now, category, recipientDomain, diagnostic);
    }

  private:
    suppress::Store& store_;
    Counts& counts_;
};

}  // namespace

int cmdIngest(Context& ctx, Args args) {
    const bool dryRun = takeFlag(args, "--dry-run");
    const auto recipient = takeOption(args, "--recipient");
    const auto file = takeOption(args, "--file");
    if (!args.empty()) {
        std::cerr << "usage: rampartctl ingest [--recipient ADDRESS] [--file FILE] [--dry-run] < MESSAGE\n";
        return EX_USAGE;
    }
    // A pipe transport: syslog, like the daemons; a terminal also sees the lines on stdout.
    const config::Config* cfg = ctx.config(true);
    if (!cfg) return EX_CONFIG;  // Postfix keeps the report (the config is broken) and says why
    log::useSyslog("rampartctl/ingest", cfg->str("syslog_facility"));

    std::string message;
    {
        std::istream* in = &std::cin;
        std::ifstream f;
        if (file) {
            f.open(*file, std::ios::binary);
            if (!f) {
                std::cerr << "rampartctl ingest: cannot read " << *file << "\n";
                return EX_NOINPUT;
            }
            in = &f;
        }
        char buf[65536];
        while (in->read(buf, sizeof buf) || in->gcount() > 0) {
            if (message.size() < kMaxInput) message.append(buf, static_cast<size_t>(in->gcount()));
        }
    }
    auto report = [&](const std::string& line) {
        log::info(line);
        std::cout << line << "\n";
    };
    if (message.size() >= kMaxInput) {
        report("ingest: message over " + std::to_string(kMaxInput) + " bytes; only its start was read");
    }

    const auto& sref = cfg->table("suppression_list");
    if (sref.empty()) {
        report("ingest: suppression_list is empty: nothing can be suppressed; message ignored");
        return 0;
    }
    auto store = suppress::Store::open(sref.path, false);
    if (!store) {
        std::string e = "ingest: cannot open the suppression list " + sref.path + ": " + store.error();
        log::error(e);
        std::cerr << e << "\n";
        return EX_TEMPFAIL;
    }
    Counts counts;
    if (auto r = counts.open(sref.path); !r) {
        log::error("ingest: " + r.error());
        std::cerr << "ingest: " << r.error() << "\n";
        return EX_TEMPFAIL;
    }
    feedback::Classifier classifier;
    if (const auto& rules = cfg->table("ingest_rules"); !rules.empty()) {
        auto c = feedback::Classifier::load(rules.path);
        if (!c) {
            log::error("ingest: ingest_rules: " + c.error());
            std::cerr << "ingest: ingest_rules: " << c.error() << "\n";
            return EX_CONFIG;
        }
        classifier = std::move(c).value();
    }
    feedback::IngestSettings settings;
    settings.referenceHeader = cfg->str("reference_header");
    settings.tokenLifetime = cfg->duration("unsubscribe_token_lifetime");
    settings.hardBounceExpiry = cfg->duration("ingest_hard_bounce_expiry").count();
    settings.softBounceWindow = cfg->duration("ingest_soft_bounce_window").count();
    settings.softBounceLimit = cfg->integer("ingest_soft_bounce_limit");
    settings.norm.caseSensitiveLocalPart = cfg->flag("suppression_case_sensitive");
    settings.norm.foldGmail = cfg->flag("suppression_fold_gmail");
    settings.now = util::unixNow();
    settings.dryRun = dryRun;
    std::optional<util::Keyring> keys;
    if (const std::string secret = cfg->str("unsubscribe_secret"); !secret.empty()) {
        auto k = util::Keyring::load(secret);
        if (k) {
            keys = std::move(k).value();
        } else {
            log::warning("ingest: unsubscribe_secret: " + k.error() + "; reference stamps cannot be read");
        }
    }
    if (keys) settings.keys = &*keys;

    feedback::Report rep = feedback::parseReport(message, recipient ? *recipient : std::string());
    StoreEffects effects(**store, counts);
    const feedback::IngestOutcome outcome = feedback::applyIngestPolicy(rep, classifier, settings, effects);
    for (const auto& line : outcome.lines)
        report(line);
    if (outcome.writeFailed) {
        std::cerr << "rampartctl ingest: the suppression list could not be written; exit 75 so the MTA retries\n";
        return EX_TEMPFAIL;
    }
    return 0;
}

}  // namespace rampart::ctl
