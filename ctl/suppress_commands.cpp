// rampartctl suppress add | remove | check | list | import | export | audit | expire: the suppression
// list (suppression_list, an SQLite file) read and written directly; rampart-milter and
// rampart-policyd follow its audit trail and see a change within about a second. Every change is
// audited with who (the invoking user) and why. One file (about 600 lines) because the eight
// subcommands share the store opening, option parsing and entry printing defined at the top.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "ctl/ctl.h"
#include "mail/domain.h"
#include "suppression/suppression.h"
#include "util/json.h"
#include "util/strings.h"
#include "util/unix_time.h"

namespace rampart::ctl {

namespace {

using suppress::Entry;
using suppress::Scope;
using suppress::Store;

constexpr const char* kUsage =
    "usage: rampartctl suppress VERB ...\n"
    "  add TARGET [--reason R] [--scope S] [--expires 30d|YYYY-MM-DD] [--note TEXT] [--source S] [--why TEXT]\n"
    "  remove TARGET [--scope S] [--force] [--why TEXT]\n"
    "  check ADDRESS [--tenant T] [--from-domain D]      exit 0: suppressed, 1: not suppressed\n"
    "  list [--scope S] [--reason R] [--prefix P] [--limit N] [--json]\n"
    "  import FILE|- [--format generic|ses] [--scope S]\n"
    "  export [--format generic|ses] [FILE]\n"
    "  audit [TARGET] [--limit N] [--json]\n"
    "  expire                                             drop the entries whose expiry passed\n"
    "TARGET: an address (user@example.com) or a whole domain (@example.com)\n"
    "R: hard_bounce, soft_bounce, complaint, unsubscribe, manual (default) or legal\n"
    "S: global (default), tenant:NAME or from_domain:DOMAIN\n";

constexpr const char* kReasons = " (hard_bounce, soft_bounce, complaint, unsubscribe, manual or legal)";

int usageError(const std::string& message) {
    std::cerr << "rampartctl suppress: " << message << "\n" << kUsage;
    return 2;
}

// A value the operator mistyped: the message is enough, without the whole usage.
int badValue(const std::string& message) {
    std::cerr << "rampartctl suppress: " << message << "\n";
    return 2;
}

std::string entries(size_t n) {
    return std::to_string(n) + (n == 1 ? " entry" : " entries");
}

// The audit's "who": the account running rampartctl, and the sudo user behind it.
std::string who() {
    std::string name;
    if (passwd* pw = getpwuid(getuid())) {
        name = pw->pw_name;
    } else {
        name = "uid " + std::to_string(getuid());
    }
    if (const char* s = std::getenv("SUDO_USER"); s != nullptr && *s != '\0' && name != s) {
        name += std::string(" (sudo ") + s + ")";
    }
    return name + " via rampartctl";
}

struct Setup {
    std::string path;
    std::string user;  // rampart_user
    suppress::NormalizeOptions norm;
};

std::optional<Setup> setup(Context& ctx) {
    const config::Config* cfg = ctx.config(true);
    if (cfg == nullptr) return std::nullopt;
    const config::TableRef& ref = cfg->table("suppression_list");
    if (ref.empty()) {
        std::cerr << "rampartctl suppress: suppression_list is empty in " << ctx.configPath
                  << ": no suppression list is configured\n";
        return std::nullopt;
    }
    if (ref.type != "sqlite") {
        std::cerr << "rampartctl suppress: suppression_list = " << ref.toString()
                  << ": only sqlite:/path is supported\n";
        return std::nullopt;
    }
    Setup s;
    s.path = ref.path;
    s.user = cfg->str("rampart_user");
    s.norm.caseSensitiveLocalPart = cfg->flag("suppression_case_sensitive");
    s.norm.foldGmail = cfg->flag("suppression_fold_gmail");
    return s;
}

std::unique_ptr<Store> openStore(const Setup& s, bool write) {
    auto st = Store::open(s.path, !write);
    if (!st) {
        std::cerr << "rampartctl suppress: " << st.error() << "\n";
        return nullptr;
    }
    return std::move(st).value();
}

bool storeExists(const Setup& s) {
    struct stat st {};
    return ::stat(s.path.c_str(), &st) == 0;
}

// After a write as root: the daemons (rampart_user) must still be able to read the files.
void share(const Setup& s) {
    auto r = suppress::SqliteStore::shareWith(s.path, s.user);
    if (!r) {
        std::cerr << "rampartctl suppress: warning: " << r.error() << "\n";
    } else if (!r->empty()) {
        std::cerr << "rampartctl suppress: " << *r << "\n";
    }
}

// Options left after the known ones were taken are mistakes: say which.
bool leftoverOptions(const Args& args, std::initializer_list<const char*> known) {
    for (const auto& a : args) {
        if (a.size() > 1 && a[0] == '-') {
            for (const char* k : known) {
                if (a == k) {
                    usageError("option " + a + " needs a value");
                    return true;
                }
            }
            usageError("unknown option " + a);
            return true;
        }
    }
    return false;
}

std::optional<size_t> limitOption(Args& args, size_t dflt, bool& bad) {
    auto v = takeOption(args, "--limit");
    if (!v) return dflt;
    auto n = util::parseUnsigned(*v);
    if (!n) {
        badValue("--limit expects a number, got " + util::quoted(*v, 200));
        bad = true;
        return std::nullopt;
    }
    return static_cast<size_t>(*n);
}

std::string expiryText(const std::optional<int64_t>& e) {
    return e ? suppress::formatTime(*e) : std::string("never");
}

std::string describe(const Entry& e) {
    std::string out = e.target + " " + e.scope.str() + " " + std::string(suppress::reasonName(e.reason)) + " (since " +
                      suppress::formatTime(e.created) + ", expires " + expiryText(e.expires);
    if (!e.source.empty()) out += ", source " + util::printable(e.source, 80);
    out += ")";
    if (!e.note.empty()) out += ": " + util::printable(e.note, 200);
    return out;
}

std::string tsv(std::string_view s) {
    std::string out = util::printable(s, 1000);
    for (char& c : out) {
        if (c == '\t') c = ' ';
    }
    return out;
}

std::string entryJson(const Entry& e) {
    return "{\"target\":" + util::jsonString(e.target) + ",\"scope\":" + util::jsonString(e.scope.str()) +
           ",\"reason\":" + util::jsonString(suppress::reasonName(e.reason)) +
           ",\"source\":" + util::jsonString(e.source) +
           ",\"created\":" + util::jsonString(suppress::formatTime(e.created)) +
           ",\"expires\":" + (e.expires ? util::jsonString(suppress::formatTime(*e.expires)) : std::string("null")) +
           ",\"note\":" + util::jsonString(e.note) + "}";
}

std::optional<Scope> scopeOption(Args& args) {
    auto v = takeOption(args, "--scope");
    if (!v) return Scope{};
    auto s = Scope::parse(*v);
    if (!s) {
        badValue(s.error());
        return std::nullopt;
    }
    return std::move(s).value();
}

std::optional<suppress::CsvFormat> formatOption(Args& args) {
    auto v = takeOption(args, "--format");
    if (!v || util::iequals(*v, "generic")) return suppress::CsvFormat::Generic;
    if (util::iequals(*v, "ses")) return suppress::CsvFormat::Ses;
    badValue("--format expects generic or ses, got " + util::quoted(*v, 200));
    return std::nullopt;
}

// The normalized target, or a message (exit 2) for what is not an address or domain.
std::optional<std::string> normalized(const Setup& s, const std::string& text) {
    auto t = suppress::normalizeTarget(text, s.norm);
    if (!t) {
        std::cerr << "rampartctl suppress: " << t.error() << "\n";
        return std::nullopt;
    }
    return std::move(t).value();
}

// ------------------------------------------------------------------------------ verbs

int verbAdd(const Setup& s, Args args) {
    auto reasonText = takeOption(args, "--reason");
    auto scope = scopeOption(args);
    if (!scope) return 2;
    auto expiresText = takeOption(args, "--expires");
    auto note = takeOption(args, "--note");
    auto source = takeOption(args, "--source");
    auto why = takeOption(args, "--why");
    if (leftoverOptions(args, {"--reason", "--scope", "--expires", "--note", "--source", "--why"})) return 2;
    if (args.size() != 1) return usageError("add takes one TARGET");
    auto target = normalized(s, args[0]);
    if (!target) return 2;
    Entry e;
    e.target = *target;
    e.scope = *scope;
    e.reason = suppress::Reason::Manual;
    if (reasonText) {
        auto r = suppress::parseReason(*reasonText);
        if (!r) return badValue("unknown reason " + util::quoted(*reasonText, 200) + kReasons);
        e.reason = *r;
    }
    const int64_t t = util::unixNow();
    e.created = t;
    if (expiresText) {
        auto x = suppress::parseExpiry(*expiresText, t);
        if (!x) return badValue(x.error());
        if (*x && **x <= t) return badValue("the expiry " + util::printable(*expiresText) + " has already passed");
        e.expires = *x;
    }
    e.source = source ? *source : "rampartctl";
    e.note = note ? *note : "";
    auto store = openStore(s, true);
    if (!store) return 1;
    auto r = store->add(e, who(), why ? *why : "");
    if (!r) {
        std::cerr << "rampartctl suppress: " << r.error() << "\n";
        return 1;
    }
    share(s);
    const std::string shown =
        *target == util::trim(args[0]) ? *target : *target + " (from " + util::printable(args[0]) + ")";
    switch (*r) {
        case suppress::AddOutcome::Added:
            std::cout << "added: " << shown << " " << e.scope.str() << " " << suppress::reasonName(e.reason)
                      << ", expires " << expiryText(e.expires) << "\n";
            break;
        case suppress::AddOutcome::Updated:
        case suppress::AddOutcome::AlreadyThere: {
            auto current = store->find(*target, e.scope);
            std::cout << (*r == suppress::AddOutcome::Updated ? "updated: " : "already suppressed, unchanged: ");
            if (current && *current) {
                std::cout << describe(**current) << "\n";
            } else {
                std::cout << shown << "\n";
            }
            break;
        }
    }
    return 0;
}

int verbRemove(const Setup& s, Args args) {
    auto scope = scopeOption(args);
    if (!scope) return 2;
    bool force = takeFlag(args, "--force");
    auto why = takeOption(args, "--why");
    if (leftoverOptions(args, {"--scope", "--why"})) return 2;
    if (args.size() != 1) return usageError("remove takes one TARGET");
    auto target = normalized(s, args[0]);
    if (!target) return 2;
    if (!storeExists(s)) {
        std::cerr << "rampartctl suppress: " << *target << " is not suppressed (no suppression list at " << s.path
                  << " yet)\n";
        return 1;
    }
    auto store = openStore(s, true);
    if (!store) return 1;
    auto before = store->find(*target, *scope);
    if (!before) {
        std::cerr << "rampartctl suppress: " << before.error() << "\n";
        return 1;
    }
    auto r = store->remove(*target, *scope, who(), why ? *why : "", force);
    if (!r) {
        std::cerr << "rampartctl suppress: " << r.error() << "\n";
        return 1;
    }
    switch (*r) {
        case suppress::RemoveOutcome::Removed:
            share(s);
            std::cout << "removed: " << (*before ? describe(**before) : *target) << "\n";
            return 0;
        case suppress::RemoveOutcome::NotFound: {
            std::cerr << "rampartctl suppress: " << *target << " is not in the suppression list in scope "
                      << scope->str() << "\n";
            auto others = store->list(std::nullopt, std::nullopt, *target, 0);
            if (others) {
                for (const auto& e : *others) {
                    if (e.target == *target)
                        std::cerr << "  listed in scope " << e.scope.str() << " (use --scope " << e.scope.str()
                                  << ")\n";
                }
            }
            return 1;
        }
        case suppress::RemoveOutcome::NeedsForce: {
            const std::string reason(suppress::reasonName((*before)->reason));
            std::cerr << "rampartctl suppress: " << *target << " is suppressed as " << reason << " in scope "
                      << scope->str() << " (since " << suppress::formatTime((*before)->created) << ", source "
                      << util::printable((*before)->source, 80) << ").\n"
                      << "  complaint, unsubscribe and legal entries are the recipient's or a court's word and are\n"
                      << "  not removed by mistake. If it must go (the recipient asked to get mail again), run:\n"
                      << "  rampartctl suppress remove " << *target
                      << (scope->kind == Scope::Kind::Global ? std::string() : " --scope " + scope->str())
                      << " --force --why 'WHO ASKED, WHEN'\n";
            return 1;
        }
    }
    return 1;
}

int verbCheck(const Setup& s, Args args) {
    auto tenant = takeOption(args, "--tenant");
    auto fromDomain = takeOption(args, "--from-domain");
    if (leftoverOptions(args, {"--tenant", "--from-domain"})) return 2;
    if (args.size() != 1) return usageError("check takes one ADDRESS");
    auto target = normalized(s, args[0]);
    if (!target) return 2;
    suppress::LookupContext ctx;
    if (tenant) ctx.tenant = util::toLower(util::trim(*tenant));
    if (fromDomain) {
        auto d = mail::toAsciiDomain(*fromDomain);
        if (!d) return badValue("--from-domain: " + d.error());
        ctx.fromDomain = *d;
    }
    if (!storeExists(s)) {
        std::cout << "not suppressed: " << *target << " (no suppression list at " << s.path << " yet)\n";
        return 1;
    }
    auto store = openStore(s, false);
    if (!store) return 2;
    auto m = store->matches(*target, ctx, suppress::Index::kAll, util::unixNow(), s.norm);
    if (!m) {
        std::cerr << "rampartctl suppress: " << m.error() << "\n";
        return 2;
    }
    for (const auto& e : *m)
        std::cout << "suppressed: " << describe(e) << "\n";
    if (m->empty()) std::cout << "not suppressed: " << *target << "\n";
    // Entries in scopes this check did not cover: worth knowing, not a match.
    if (tenant == std::nullopt || fromDomain == std::nullopt) {
        std::vector<Entry> others;
        const size_t at = target->rfind('@');
        for (const std::string& key : {*target, target->substr(at)}) {
            auto l = store->list(std::nullopt, std::nullopt, key, 0);
            if (!l) break;
            for (auto& e : *l) {
                if (e.target == key) others.push_back(std::move(e));
            }
            if (at == 0) break;
        }
        {
            for (const auto& e : others) {
                if (e.scope.kind == Scope::Kind::Global) continue;
                if (e.scope.kind == Scope::Kind::Tenant && tenant) continue;
                if (e.scope.kind == Scope::Kind::FromDomain && fromDomain) continue;
                std::cout << "  also listed: " << e.target << " in scope " << e.scope.str() << " (not checked: give "
                          << (e.scope.kind == Scope::Kind::Tenant ? "--tenant" : "--from-domain") << ")\n";
            }
        }
    }
    return m->empty() ? 1 : 0;
}

int verbList(const Setup& s, Args args) {
    std::optional<Scope> scope;
    if (auto v = takeOption(args, "--scope")) {
        auto p = Scope::parse(*v);
        if (!p) return badValue(p.error());
        scope = *p;
    }
    std::optional<suppress::Reason> reason;
    if (auto v = takeOption(args, "--reason")) {
        reason = suppress::parseReason(*v);
        if (!reason) return badValue("unknown reason " + util::quoted(*v, 200) + kReasons);
    }
    auto prefix = takeOption(args, "--prefix");
    bool bad = false;
    auto limit = limitOption(args, 0, bad);
    if (bad) return 2;
    bool asJson = takeFlag(args, "--json");
    if (leftoverOptions(args, {"--scope", "--reason", "--prefix", "--limit"})) return 2;
    if (!args.empty()) return usageError("list takes no arguments besides options");
    if (!storeExists(s)) {
        std::cerr << "rampartctl suppress: no suppression list at " << s.path << " yet\n";
        if (asJson) std::cout << "[]\n";
        return 0;
    }
    auto store = openStore(s, false);
    if (!store) return 1;
    std::string p = prefix ? std::string(util::trim(*prefix)) : std::string();
    if (!s.norm.caseSensitiveLocalPart) p = util::toLower(p);
    size_t n = 0;
    if (asJson) std::cout << "[";
    if (!asJson) std::cout << "TARGET\tSCOPE\tREASON\tCREATED\tEXPIRES\tSOURCE\tNOTE\n";
    auto r = store->scan(scope, reason, p, *limit, [&](const Entry& e) {
        if (asJson) {
            std::cout << (n == 0 ? "\n" : ",\n") << entryJson(e);
        } else {
            std::cout << e.target << "\t" << e.scope.str() << "\t" << suppress::reasonName(e.reason) << "\t"
                      << suppress::formatTime(e.created) << "\t" << expiryText(e.expires) << "\t" << tsv(e.source)
                      << "\t" << tsv(e.note) << "\n";
        }
        ++n;
    });
    if (asJson) std::cout << (n == 0 ? "]\n" : "\n]\n");
    if (!r) {
        std::cerr << "rampartctl suppress: " << r.error() << "\n";
        return 1;
    }
    return 0;
}

int verbImport(const Setup& s, Args args) {
    auto format = formatOption(args);
    if (!format) return 2;
    auto scope = scopeOption(args);
    if (!scope) return 2;
    // "-" is stdin, not an option.
    Args rest;
    for (const auto& a : args) {
        if (a != "-") rest.push_back(a);
    }
    if (leftoverOptions(rest, {"--format", "--scope"})) return 2;
    if (args.size() != 1) return usageError("import takes one FILE (- for standard input)");
    const std::string file = args[0];
    std::ifstream f;
    if (file != "-") {
        f.open(file, std::ios::binary);
        if (!f) {
            std::cerr << "rampartctl suppress: cannot open " << file << ": " << std::strerror(errno) << "\n";
            return 1;
        }
    }
    std::istream& in = file == "-" ? std::cin : f;
    auto store = openStore(s, true);
    if (!store) return 1;
    auto rep = suppress::importCsv(*store, in, file, *format, *scope, s.norm, who(), util::unixNow());
    share(s);
    constexpr size_t kShown = 1000;
    for (size_t i = 0; i < rep.errors.size() && i < kShown; ++i)
        std::cerr << rep.errors[i] << "\n";
    if (rep.errors.size() > kShown) std::cerr << "... and " << rep.errors.size() - kShown << " more errors\n";
    std::cout << (file == "-" ? std::string("stdin") : file) << ": " << rep.added << " added, " << rep.updated
              << " updated, " << rep.unchanged << " unchanged, " << rep.errors.size() << " errors\n";
    return rep.errors.empty() ? 0 : 1;
}

int verbExport(const Setup& s, Args args) {
    auto format = formatOption(args);
    if (!format) return 2;
    if (leftoverOptions(args, {"--format"})) return 2;
    if (args.size() > 1) return usageError("export takes at most one FILE");
    if (!storeExists(s)) {
        std::cerr << "rampartctl suppress: no suppression list at " << s.path << " yet\n";
        return 1;
    }
    auto store = openStore(s, false);
    if (!store) return 1;
    const char* what = *format == suppress::CsvFormat::Ses ? " (ses format: global entries only)" : "";
    if (args.empty()) {
        auto n = suppress::exportCsv(*store, std::cout, *format, util::unixNow());
        if (!n) {
            std::cerr << "rampartctl suppress: " << n.error() << "\n";
            return 1;
        }
        std::cerr << "exported " << entries(*n) << what << "\n";
        return 0;
    }
    // Addresses are personal data: written mode 0640 to a temporary file, renamed when complete.
    const std::string file = args[0];
    std::string tmpl = file + ".XXXXXX";
    int fd = ::mkstemp(tmpl.data());
    if (fd < 0) {
        std::cerr << "rampartctl suppress: cannot create " << file << ": " << std::strerror(errno) << "\n";
        return 1;
    }
    ::fchmod(fd, 0640);
    ::close(fd);
    util::Result<size_t> n = util::err("not written");
    {
        std::ofstream out(tmpl, std::ios::binary | std::ios::trunc);
        n = suppress::exportCsv(*store, out, *format, util::unixNow());
        out.close();
        if (n && !out) n = util::err("write error");
    }
    if (!n || ::rename(tmpl.c_str(), file.c_str()) != 0) {
        std::string msg = n ? std::string(std::strerror(errno)) : n.error();
        ::unlink(tmpl.c_str());
        std::cerr << "rampartctl suppress: cannot write " << file << ": " << msg << "\n";
        return 1;
    }
    std::cerr << "exported " << entries(*n) << " to " << file << what << "\n";
    return 0;
}

int verbAudit(const Setup& s, Args args) {
    bool bad = false;
    auto limit = limitOption(args, 50, bad);
    if (bad) return 2;
    bool asJson = takeFlag(args, "--json");
    if (leftoverOptions(args, {"--limit"})) return 2;
    if (args.size() > 1) return usageError("audit takes at most one TARGET");
    std::string target;
    if (!args.empty()) {
        auto t = normalized(s, args[0]);
        if (!t) return 2;
        target = *t;
    }
    if (!storeExists(s)) {
        std::cerr << "rampartctl suppress: no suppression list at " << s.path << " yet\n";
        if (asJson) std::cout << "[]\n";
        return 0;
    }
    auto store = openStore(s, false);
    if (!store) return 1;
    auto recs = store->auditTail(target, *limit);
    if (!recs) {
        std::cerr << "rampartctl suppress: " << recs.error() << "\n";
        return 1;
    }
    if (asJson) {
        std::cout << "[";
        for (size_t i = 0; i < recs->size(); ++i) {
            const auto& a = (*recs)[i];
            std::cout << (i == 0 ? "\n" : ",\n") << "{\"id\":" << a.id
                      << ",\"at\":" << util::jsonString(suppress::formatTime(a.at))
                      << ",\"action\":" << util::jsonString(a.action) << ",\"who\":" << util::jsonString(a.who)
                      << ",\"why\":" << util::jsonString(a.why) << ",\"entry\":" << entryJson(a.entry) << "}";
        }
        std::cout << (recs->empty() ? "]\n" : "\n]\n");
        return 0;
    }
    std::cout << "ID\tAT\tACTION\tTARGET\tSCOPE\tREASON\tEXPIRES\tSOURCE\tWHO\tWHY\tNOTE\n";
    for (const auto& a : *recs) {
        std::cout << a.id << "\t" << suppress::formatTime(a.at) << "\t" << a.action << "\t" << a.entry.target << "\t"
                  << a.entry.scope.str() << "\t" << suppress::reasonName(a.entry.reason) << "\t"
                  << expiryText(a.entry.expires) << "\t" << tsv(a.entry.source) << "\t" << tsv(a.who) << "\t"
                  << tsv(a.why) << "\t" << tsv(a.entry.note) << "\n";
    }
    return 0;
}

int verbExpire(const Setup& s, Args args) {
    if (leftoverOptions(args, {})) return 2;
    if (!args.empty()) return usageError("expire takes no arguments");
    if (!storeExists(s)) {
        std::cout << "expired 0 entries (no suppression list at " << s.path << " yet)\n";
        return 0;
    }
    auto store = openStore(s, true);
    if (!store) return 1;
    auto n = store->expire(util::unixNow());
    if (!n) {
        std::cerr << "rampartctl suppress: " << n.error() << "\n";
        return 1;
    }
    share(s);
    std::cout << "expired " << entries(*n) << "\n";
    return 0;
}

}  // namespace

int cmdSuppress(Context& ctx, Args args) {
    if (args.empty()) {
        std::cerr << kUsage;
        return 2;
    }
    const std::string verb = args.front();
    args.erase(args.begin());
    if (verb == "help" || verb == "-h" || verb == "--help") {
        std::cout << kUsage;
        return 0;
    }
    using Verb = int (*)(const Setup&, Args);
    Verb fn = verb == "add"      ? verbAdd
              : verb == "remove" ? verbRemove
              : verb == "check"  ? verbCheck
              : verb == "list"   ? verbList
              : verb == "import" ? verbImport
              : verb == "export" ? verbExport
              : verb == "audit"  ? verbAudit
              : verb == "expire" ? verbExpire
                                 : nullptr;
    if (fn == nullptr) return usageError("unknown verb " + util::quoted(verb, 200));
    auto s = setup(ctx);
    if (!s) return 2;
    return fn(*s, std::move(args));
}

}  // namespace rampart::ctl
