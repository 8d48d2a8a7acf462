// rampartctl dkim keygen | record | check.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ctl/ctl.h"
#include "dkim/dns_check.h"
#include "dkim/key.h"
#include "dkim/tables.h"
#include "dns/resolver.h"
#include "mail/domain.h"
#include "milter/key_store.h"
#include "util/json.h"
#include "util/process.h"
#include "util/strings.h"

namespace rampart::ctl {

namespace {

// A zone-file line with the record split into 255-byte character-strings.
std::string zoneLine(const std::string& name, const std::string& record) {
    std::string s = name + ". 3600 IN TXT (";
    for (size_t i = 0; i < record.size(); i += 250)
        s += " \"" + record.substr(i, 250) + "\"";
    return s + " )";
}

util::Result<bool> makeKeyDirectory(const std::filesystem::path& dir, const util::Account& owner) {
    std::error_code ec;
    if (std::filesystem::exists(dir, ec)) return true;
    if (auto parent = dir.parent_path(); !parent.empty() && parent != dir) {
        if (auto r = makeKeyDirectory(parent, owner); !r) return r;
    }
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
        return util::err("cannot create " + dir.string() + ": " + std::strerror(errno));
    }
    if (geteuid() == 0 && ::chown(dir.c_str(), owner.uid, owner.gid) != 0) {
        return util::err("cannot chown " + dir.string() + ": " + std::strerror(errno));
    }
    return true;
}

int keygen(Context& ctx, Args args) {
    const std::string usage =
        "usage: rampartctl dkim keygen DOMAIN SELECTOR [--type rsa|ed25519] [--bits N] [--output FILE] "
        "[--owner USER] [--force]\n";
    std::string type = takeOption(args, "--type").value_or("rsa");
    auto bitsText = takeOption(args, "--bits");
    auto output = takeOption(args, "--output");
    auto ownerName = takeOption(args, "--owner");
    bool force = takeFlag(args, "--force");
    if (args.size() != 2) {
        std::cerr << usage;
        return 2;
    }
    auto domain = mail::toAsciiDomain(args[0]);
    if (!domain || domain->find('.') == std::string::npos) {
        std::cerr << "rampartctl: \"" << args[0] << "\" is not a domain name\n";
        return 2;
    }
    const std::string& selector = args[1];
    for (char c : selector) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) {
            std::cerr << "rampartctl: bad selector \"" << selector << "\" (letters, digits, '-', '.', '_')\n";
            return 2;
        }
    }
    dkim::KeyAlgorithm alg;
    int bits = 2048;
    if (type == "rsa") {
        alg = dkim::KeyAlgorithm::Rsa;
        if (bitsText) {
            auto b = util::parseUnsigned(*bitsText);
            if (!b || *b < 1024 || *b > 8192) {
                std::cerr << "rampartctl: --bits must be between 1024 and 8192\n";
                return 2;
            }
            bits = static_cast<int>(*b);
        }
        if (bits < 2048) std::cerr << "warning: RSA keys under 2048 bits are discouraged (RFC 8301)\n";
        if (bits > 2048) {
            std::cerr << "note: RSA-" << bits << " signs several times slower than RSA-2048 and its DNS record "
                      << "needs several TXT strings; 2048 is what receivers expect\n";
        }
    } else if (type == "ed25519") {
        alg = dkim::KeyAlgorithm::Ed25519;
        if (bitsText) {
            std::cerr << "rampartctl: --bits does not apply to ed25519\n";
            return 2;
        }
        bits = 256;
    } else {
        std::cerr << "rampartctl: --type must be rsa or ed25519\n";
        return 2;
    }
    const config::Config* cfg = ctx.config(/*missingOk=*/true);
    if (!cfg) return 1;
    std::string ownerUser = ownerName.value_or(cfg->str("rampart_user"));
    util::Account owner{"root", 0, 0};
    if (geteuid() == 0) {
        auto acct = util::lookupAccount(ownerUser);
        if (!acct) {
            std::cerr << "rampartctl: " << acct.error() << " (the key must belong to rampart_user; create the "
                      << "account with: useradd --system --no-create-home " << ownerUser << ", or use --owner)\n";
            return 1;
        }
        owner = *acct;
    } else {
        owner = {"(current user)", geteuid(), getegid()};
    }
    std::filesystem::path path =
        output ? std::filesystem::path(*output)
               : std::filesystem::path(ctx.configPath).parent_path() / "keys" / *domain / (selector + ".private");
    if (auto r = makeKeyDirectory(path.parent_path(), owner); !r) {
        std::cerr << "rampartctl: " << r.error() << "\n";
        return 1;
    }
    auto key = dkim::PrivateKey::generate(alg, bits);
    if (!key) {
        std::cerr << "rampartctl: " << key.error() << "\n";
        return 1;
    }
    std::string pem = (*key)->pemPrivate();
    int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | (force ? O_TRUNC : O_EXCL);
    int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0) {
        std::cerr << "rampartctl: cannot write " << path.string() << ": " << std::strerror(errno)
                  << (errno == EEXIST ? " (use --force to replace it; the old key stops working)" : "") << "\n";
        return 1;
    }
    bool ok = ::fchmod(fd, 0600) == 0 && (geteuid() != 0 || ::fchown(fd, owner.uid, owner.gid) == 0) &&
              ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
        std::cerr << "rampartctl: writing " << path.string() << " failed: " << std::strerror(errno) << "\n";
        return 1;
    }
    const std::string name = selector + "._domainkey." + *domain;
    const std::string record = (*key)->dnsRecord();
    std::cout << "Wrote " << path.string() << " ("
              << (alg == dkim::KeyAlgorithm::Rsa ? "RSA-" + std::to_string(bits) : "Ed25519") << ", owner "
              << owner.name << ", mode 0600).\n\n"
              << "Publish this DNS record:\n"
              << zoneLine(name, record) << "\n\n"
              << "Then add to the key table (dkim_key_table):\n"
              << name << " " << *domain << ":" << selector << ":" << path.string() << "\n"
              << "and to the signing table (dkim_signing_table, refile: format):\n"
              << "*@" << *domain << " " << name << "\n\n"
              << "Check the published record with: rampartctl dkim check\n";
    return 0;
}

int record(Args args) {
    if (args.size() != 1) {
        std::cerr << "usage: rampartctl dkim record KEYFILE\n";
        return 2;
    }
    dkim::KeyFileOptions opts;
    opts.requireSafe = false;
    auto key = dkim::loadKeyFile(args[0], opts);
    if (!key) {
        std::cerr << "rampartctl: " << key.error() << "\n";
        return 1;
    }
    std::cout << (*key)->dnsRecord() << "\n";
    return 0;
}

int check(Context& ctx, Args args) {
    bool json = takeFlag(args, "--json");
    if (!args.empty()) {
        std::cerr << "usage: rampartctl [-c FILE] dkim check [--json]\n";
        return 2;
    }
    const config::Config* cfg = ctx.config();
    if (!cfg) return 2;
    if (cfg->table("dkim_key_table").empty()) {
        std::cerr << "rampartctl: dkim_key_table is not set in " << ctx.configPath << "\n";
        return 2;
    }
    config::Diagnostics diags;
    auto keys = dkim::KeyTable::load(cfg->table("dkim_key_table"), diags);
    auto signing = cfg->table("dkim_signing_table").empty()
                       ? dkim::SigningTable()
                       : dkim::SigningTable::load(cfg->table("dkim_signing_table"), diags);
    dkim::KeyFileOptions kfo;
    kfo.requireSafe = false;  // a check of DNS, not of file permissions (check-config does that)
    milter::KeyStore store(kfo);
    store.loadAll(keys, diags);
    for (const auto& d : diags.all())
        std::cerr << d.str() << "\n";
    auto plan = milter::planKeyChecks(keys, signing, store);
    dns::ResolverOptions ro;
    ro.servers = cfg->list("dns_servers");
    ro.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg->duration("dns_timeout"));
    dns::Resolver resolver(ro);
    auto results = dkim::checkPublishedKeys(plan.inputs, resolver);
    int rc = diags.hasErrors() ? 1 : 0;
    if (json) {
        std::cout << "[";
        for (size_t i = 0; i < results.size(); ++i) {
            const auto& r = results[i];
            const auto& key = plan.inputs[i].key;
            std::cout << (i ? "," : "") << "\n  {\"name\": " << util::jsonString(r.name)
                      << ", \"domain\": " << util::jsonString(r.domain)
                      << ", \"selector\": " << util::jsonString(r.selector) << ", \"key\": \""
                      << dkim::keyTypeTag(key->algorithm()) << "-" << key->bits() << "\", \"status\": \""
                      << dkim::keyCheckStatusName(r.status) << "\", \"detail\": " << util::jsonString(r.detail) << "}";
        }
        std::cout << (results.empty() ? "]\n" : "\n]\n");
    } else {
        size_t width = 8;
        for (const auto& r : results)
            width = std::max(width, r.name.size());
        std::cout << std::string("SELECTOR") << std::string(width - 8 + 2, ' ') << "KEY          STATUS      DETAIL\n";
        for (size_t i = 0; i < results.size(); ++i) {
            const auto& r = results[i];
            const auto& key = plan.inputs[i].key;
            std::string k = std::string(dkim::keyTypeTag(key->algorithm())) + "-" + std::to_string(key->bits());
            std::string st = dkim::keyCheckStatusName(r.status);
            std::cout << r.name << std::string(width - r.name.size() + 2, ' ') << k
                      << std::string(k.size() < 13 ? 13 - k.size() : 1, ' ') << st
                      << std::string(st.size() < 12 ? 12 - st.size() : 1, ' ')
                      << (r.status == dkim::KeyCheckStatus::Ok ? "" : r.detail) << "\n";
        }
        if (results.empty()) std::cout << "(no selectors to check)\n";
    }
    for (const auto& r : results) {
        if (r.status != dkim::KeyCheckStatus::Ok) rc = 1;
    }
    return rc;
}

}  // namespace

int cmdDkim(Context& ctx, const Args& args) {
    if (args.empty()) {
        std::cerr << "usage: rampartctl dkim keygen|record|check ...\n";
        return 2;
    }
    Args rest(args.begin() + 1, args.end());
    if (args[0] == "keygen") return keygen(ctx, rest);
    if (args[0] == "record") return record(rest);
    if (args[0] == "check") return check(ctx, rest);
    std::cerr << "rampartctl: unknown dkim command \"" << args[0] << "\"\n";
    return 2;
}

}  // namespace rampart::ctl
