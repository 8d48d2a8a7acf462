// rampartctl ingest: one bounce, complaint report or mailto unsubscribe on stdin, as a Postfix pipe
// transport delivers it (see contrib/postfix/README.md), turned into suppressions:
//
//   DSN, hard address failure (user unknown...)   -> global hard_bounce, expiring after
//                                                     ingest_hard_bounce_expiry
//   DSN, soft address failure (mailbox full...)   -> counted; ingest_soft_bounce_limit of them within
//                                                     ingest_soft_bounce_window suppress (soft_bounce)
//   DSN, sender-policy failure (spam block,       -> never suppresses the recipient: logged and
//        authentication, rate limit)                  counted per sending domain
//   ARF complaint                                 -> complaint, for the tenant (else the From domain)
//   mailto unsubscribe (token in the subject)     -> unsubscribe, for the tenant (else the From domain)
//
// Whom a report is about comes from the report, and from the reference stamp (reference_header) in
// the returned headers when the report redacts the recipient. Input that cannot be understood exits
// 0 with a log line (Postfix must not bounce the bounce); a store that cannot be written exits 75
// (EX_TEMPFAIL), so Postfix keeps the report and retries.
#include <sqlite3.h>
#include <sysexits.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "ctl/ctl.h"
#include "feedback/report.h"
#include "mail/address.h"
#include "mail/domain.h"
#include "suppression/suppression.h"
#include "util/log.h"
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
    ~Counts() {
        if (db_) sqlite3_close(db_);
    }
    util::Result<bool> open(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
            return util::err(std::string("cannot open ") + path + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory"));
        }
        sqlite3_busy_timeout(db_, 5000);
        return exec(
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
    util::Result<bool> exec(const char* sql) {
        char* msg = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
            std::string e = msg ? msg : "unknown error";
            sqlite3_free(msg);
            return util::err(e);
        }
        return true;
    }
    struct Stmt {
        sqlite3_stmt* s = nullptr;
        ~Stmt() {
            if (s) sqlite3_finalize(s);
        }
    };
    util::Result<bool> prepare(Stmt& st, const char* sql, const std::vector<std::string>& args) {
        if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK) return util::err(sqlite3_errmsg(db_));
        for (size_t i = 0; i < args.size(); ++i) {
            sqlite3_bind_text(st.s, static_cast<int>(i + 1), args[i].data(), static_cast<int>(args[i].size()),
                              SQLITE_TRANSIENT);
        }
        return true;
    }
    util::Result<bool> run(const char* sql, const std::vector<std::string>& args) {
        Stmt st;
        if (auto r = prepare(st, sql, args); !r) return r;
        if (sqlite3_step(st.s) != SQLITE_DONE) return util::err(sqlite3_errmsg(db_));
        return true;
    }
    util::Result<int64_t> countWhere(const char* sql, const std::vector<std::string>& args) {
        Stmt st;
        if (auto r = prepare(st, sql, args); !r) return util::err(r.error());
        if (sqlite3_step(st.s) != SQLITE_ROW) return util::err(sqlite3_errmsg(db_));
        return static_cast<int64_t>(sqlite3_column_int64(st.s, 0));
    }
    sqlite3* db_ = nullptr;
};

bool redacted(std::string_view address) {
    std::string a = util::toLower(util::trim(address));
    return a.empty() || a.find('@') == std::string::npos || a.find("redacted") != std::string::npos ||
           a.rfind("xxx", 0) == 0 || a.find("***") != std::string::npos;
}

std::string domainOfAddress(std::string_view a) {
    auto at = a.rfind('@');
    return at == std::string_view::npos ? std::string() : util::toLower(a.substr(at + 1));
}

// The From domain of a header block ("" if none).
std::string fromDomainOf(const mail::HeaderFields& headers) {
    size_t i = mail::findHeader(headers, "From");
    if (i >= headers.size()) return {};
    auto boxes = mail::parseAddressList(headers[i].value);
    if (!boxes || boxes->empty()) return {};
    auto d = mail::toAsciiDomain(boxes->front().domain);
    return d ? util::toLower(*d) : std::string();
}

struct Ingest {
    Ingest(const config::Config& c, suppress::Store& s, Counts& n) : cfg(c), store(s), counts(n) {}
    const config::Config& cfg;
    suppress::Store& store;
    Counts& counts;
    suppress::NormalizeOptions norm;
    std::optional<util::Keyring> keys;
    int64_t now = 0;
    bool dryRun = false;
    std::vector<std::string> out;  // one line per action, printed and logged
    bool writeFailed = false;

    std::optional<util::MessageClaim> claimFrom(const mail::HeaderFields& headers, std::string_view purpose) {
        const std::string name = cfg.str("reference_header");
        if (!keys || name.empty()) return std::nullopt;
        size_t i = mail::findHeader(headers, name);
        if (i >= headers.size()) return std::nullopt;
        std::string token;
        for (char c : mail::unfold(headers[i].value)) {
            if (!util::isSpace(c)) token += c;
        }
        auto c = util::openClaim(*keys, token, purpose, now, cfg.duration("unsubscribe_token_lifetime"));
        if (!c) {
            out.push_back("reference " + name + " not usable: " + c.error());
            return std::nullopt;
        }
        return *c;
    }

    void suppressAddress(const std::string& address, suppress::Scope scope, suppress::Reason reason,
                         const std::string& source, std::optional<int64_t> expires, const std::string& note) {
        auto target = suppress::normalizeTarget(address, norm);
        if (!target) {
            out.push_back("not suppressed: \"" + util::printable(address) + "\": " + target.error());
            return;
        }
        suppress::Entry e;
        e.target = *target;
        e.scope = std::move(scope);
        e.reason = reason;
        e.source = source;
        e.created = now;
        e.expires = expires;
        e.note = note.substr(0, 500);
        std::string what = std::string(suppress::reasonName(reason)) + " " + e.target + " (" + e.scope.str() + ")";
        if (dryRun) {
            out.push_back("would suppress " + what);
            return;
        }
        auto r = store.add(e, "rampartctl ingest", source);
        if (!r) {
            out.push_back("FAILED to suppress " + what + ": " + r.error());
            writeFailed = true;
            return;
        }
        out.push_back(std::string(*r == suppress::AddOutcome::Added     ? "suppressed "
                                  : *r == suppress::AddOutcome::Updated ? "updated "
                                                                        : "already suppressed ") +
                      what);
    }

    // Tenant scope when the message had a tenant, else its From domain, else global.
    static suppress::Scope scopeFor(const std::optional<util::MessageClaim>& claim, const std::string& fromDomain) {
        if (claim && !claim->tenant.empty()) return {suppress::Scope::Kind::Tenant, claim->tenant};
        if (claim && !claim->fromDomain.empty()) return {suppress::Scope::Kind::FromDomain, claim->fromDomain};
        if (!fromDomain.empty()) return {suppress::Scope::Kind::FromDomain, fromDomain};
        return {};
    }

    void dsn(const feedback::Report& rep, const feedback::Classifier& classifier) {
        auto claim = claimFrom(rep.originalHeaders, util::kReferencePurpose);
        const std::string sendingDomain = claim ? claim->fromDomain : fromDomainOf(rep.originalHeaders);
        if (rep.recipients.empty()) out.push_back("delivery report without recipients: nothing to do");
        for (const auto& r : rep.recipients) {
            std::string rcpt = !redacted(r.finalRecipient)      ? r.finalRecipient
                               : !redacted(r.originalRecipient) ? r.originalRecipient
                               : claim                          ? claim->recipient
                                                                : std::string();
            const std::string status = r.status;
            if (r.action != "failed" && r.action != "delayed") {
                out.push_back("<" + rcpt + ">: action " + (r.action.empty() ? "(none)" : r.action) + ": nothing to do");
                continue;
            }
            feedback::Classification c = classifier.classify(status, r.diagnostic);
            std::string head = "<" + (rcpt.empty() ? std::string("unknown recipient") : rcpt) + "> " + r.action + " " +
                               status + " " + c.category + " (" + std::string(feedback::actionClassName(c.action)) +
                               ", " + c.rule + ")";
            if (rcpt.empty()) {
                out.push_back(head + ": no recipient in the report or its reference; nothing suppressed");
                continue;
            }
            switch (c.action) {
                case feedback::ActionClass::HardAddress: {
                    if (r.action != "failed") {
                        out.push_back(head + ": delayed, not final; nothing suppressed");
                        break;
                    }
                    auto exp = cfg.duration("ingest_hard_bounce_expiry").count();
                    out.push_back(head);
                    suppressAddress(rcpt, {}, suppress::Reason::HardBounce, "dsn",
                                    exp > 0 ? std::optional<int64_t>(now + exp) : std::nullopt,
                                    status + " " + r.diagnostic);
                    break;
                }
                case feedback::ActionClass::SoftAddress: {
                    if (r.action != "failed") {
                        out.push_back(head + ": delayed; not counted");
                        break;
                    }
                    auto target = suppress::normalizeTarget(rcpt, norm);
                    if (!target) {
                        out.push_back(head + ": " + target.error());
                        break;
                    }
                    const int64_t window = cfg.duration("ingest_soft_bounce_window").count();
                    const int64_t limit = cfg.integer("ingest_soft_bounce_limit");
                    if (dryRun) {
                        out.push_back(head + ": would count a soft bounce");
                        break;
                    }
                    auto n = counts.softBounce(*target, now, window, c.category, r.diagnostic);
                    if (!n) {
                        out.push_back(head + ": FAILED to count: " + n.error());
                        writeFailed = true;
                        break;
                    }
                    out.push_back(head + ": soft bounce " + std::to_string(*n) + " of " + std::to_string(limit) +
                                  " within " + std::to_string(window / 86400) + "d");
                    if (*n >= limit) {
                        suppressAddress(rcpt, {}, suppress::Reason::SoftBounce, "dsn",
                                        std::optional<int64_t>(now + window), status + " " + r.diagnostic);
                    }
                    break;
                }
                case feedback::ActionClass::SenderPolicy: {
                    const std::string d = sendingDomain.empty() ? std::string("(unknown)") : sendingDomain;
                    if (dryRun) {
                        out.push_back(head + ": sender-policy failure of " + d +
                                      "; would be counted; recipient not suppressed");
                        break;
                    }
                    auto n = counts.senderPolicy(d, now, c.category, domainOfAddress(rcpt), r.diagnostic);
                    if (!n) {
                        out.push_back(head + ": FAILED to count: " + n.error());
                        writeFailed = true;
                        break;
                    }
                    out.push_back(head + ": sender-policy failure of " + d + " (" + std::to_string(*n) +
                                  " in 24h); the recipient is not suppressed");
                    break;
                }
                case feedback::ActionClass::Infrastructure:
                case feedback::ActionClass::NonBounce:
                    out.push_back(head + ": nothing to do");
                    break;
            }
        }
    }

    void arf(const feedback::Report& rep) {
        std::string type = util::toLower(rep.feedbackType);
        if (type == "not-spam") {
            out.push_back("feedback report (not-spam): nothing to do");
            return;
        }
        auto claim = claimFrom(rep.originalHeaders, util::kReferencePurpose);
        std::string rcpt = !redacted(rep.originalRcptTo) ? rep.originalRcptTo
                           : claim                       ? claim->recipient
                                                         : std::string();
        if (rcpt.empty()) {
            out.push_back("complaint (" + (type.empty() ? std::string("abuse") : type) +
                          ") without a recipient or a usable " + cfg.str("reference_header") + ": nothing suppressed");
            return;
        }
        out.push_back("complaint (" + (type.empty() ? std::string("abuse") : type) + ") about <" + rcpt + ">" +
                      (redacted(rep.originalRcptTo) && claim ? " (recipient from the reference stamp)" : ""));
        suppressAddress(rcpt, scopeFor(claim, fromDomainOf(rep.originalHeaders)), suppress::Reason::Complaint, "arf",
                        std::nullopt,
                        "feedback report " + type + (rep.sourceIp.empty() ? "" : " source " + rep.sourceIp));
    }

    void unsubscribe(const feedback::Report& rep) {
        if (!keys) {
            out.push_back("unsubscribe request, but unsubscribe_secret is not set: cannot read its token");
            return;
        }
        auto c = util::openClaim(*keys, rep.unsubscribeToken, util::kUnsubscribePurpose, now,
                                 cfg.duration("unsubscribe_token_lifetime"));
        if (!c) {
            out.push_back("unsubscribe request with a token that does not open (" + c.error() + "): nothing changed");
            return;
        }
        out.push_back("mailto unsubscribe of <" + c->recipient + "> from " + c->fromDomain);
        suppressAddress(
            c->recipient, scopeFor(std::optional<util::MessageClaim>(*c), {}), suppress::Reason::Unsubscribe, "mailto",
            std::nullopt,
            "mailto unsubscribe" + (rep.from.empty() ? std::string() : " from " + util::printable(rep.from, 100)));
    }
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
    Ingest ing(*cfg, **store, counts);
    ing.norm.caseSensitiveLocalPart = cfg->flag("suppression_case_sensitive");
    ing.norm.foldGmail = cfg->flag("suppression_fold_gmail");
    ing.now = util::unixNow();
    ing.dryRun = dryRun;
    if (const std::string secret = cfg->str("unsubscribe_secret"); !secret.empty()) {
        auto k = util::Keyring::load(secret);
        if (k) {
            ing.keys = std::move(k).value();
        } else {
            log::warning("ingest: unsubscribe_secret: " + k.error() + "; reference stamps cannot be read");
        }
    }

    feedback::Report rep = feedback::parseReport(message, recipient ? *recipient : std::string());
    std::string what;
    switch (rep.kind) {
        case feedback::Report::Kind::Dsn:
            what = "delivery status notification" + (rep.reportingMta.empty() ? "" : " from " + rep.reportingMta);
            ing.dsn(rep, classifier);
            break;
        case feedback::Report::Kind::Arf:
            what = "feedback report";
            ing.arf(rep);
            break;
        case feedback::Report::Kind::Unsubscribe:
            what = "unsubscribe request";
            ing.unsubscribe(rep);
            break;
        case feedback::Report::Kind::Unknown:
            report("ingest: not a bounce, complaint or unsubscribe request (" + rep.why + "), subject \"" +
                   util::printable(rep.subject, 80) + "\"; nothing done");
            return 0;
    }
    for (const auto& line : ing.out)
        report("ingest: " + what + ": " + line);
    if (ing.writeFailed) {
        std::cerr << "rampartctl ingest: the suppression list could not be written; exit 75 so the MTA retries\n";
        return EX_TEMPFAIL;
    }
    return 0;
}

}  // namespace rampart::ctl
