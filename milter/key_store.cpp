// DKIM private keys of one generation (key_store.h): read, checked and parsed once, per-domain on use.
#include "milter/key_store.h"

#include <set>

#include "util/log.h"
#include "util/strings.h"

namespace rampart::milter {

std::string expandTemplate(std::string_view text, std::string_view domain) {
    std::string out;
    for (char c : text) {
        if (c == '%') {
            out += domain;
        } else {
            out += c;
        }
    }
    return out;
}

void KeyStore::loadAll(const dkim::KeyTable& table, config::Diagnostics& diags) {
    for (const auto& e : table.entries()) {
        if (e.pathIsTemplate() || loaded_.count(e.keyPath)) continue;
        auto key = dkim::loadKeyFile(e.keyPath, options_);
        if (!key) {
            diags.error(e.where, "key " + e.name + ": " + key.error());
            continue;
        }
        if ((*key)->algorithm() == dkim::KeyAlgorithm::Rsa && (*key)->bits() < 2048) {
            diags.warning(e.where, "key " + e.name + " (" + e.keyPath + ") is RSA-" + std::to_string((*key)->bits()) +
                                       "; receivers expect at least 2048 bits (RFC 8301); replace it with "
                                       "rampartctl dkim keygen");
        }
        loaded_.emplace(e.keyPath, *key);
    }
}

util::Result<std::shared_ptr<const dkim::PrivateKey>> KeyStore::get(const dkim::KeyTableEntry& entry,
                                                                    std::string_view domain) const {
    std::string selectorName = entry.selector + "._domainkey." + std::string(domain);
    if (auto it = refused_.find(selectorName); it != refused_.end()) {
        return util::err("key " + selectorName + " is not used: " + it->second);
    }
    if (!entry.pathIsTemplate()) {
        auto it = loaded_.find(entry.keyPath);
        if (it == loaded_.end()) return util::err("key " + entry.name + " (" + entry.keyPath + ") did not load");
        return it->second;
    }
    std::string path = expandTemplate(entry.keyPath, domain);
    std::lock_guard lock(lazyMutex_);
    auto it = lazy_.find(path);
    if (it == lazy_.end()) {
        auto key = dkim::loadKeyFile(path, options_);
        if (key) {
            log::info("loaded key " + path + " for " + std::string(domain) + " (" +
                      std::string(dkim::algorithmTag((*key)->algorithm())) + ")");
        } else {
            log::warning("key " + entry.name + " for " + std::string(domain) + ": " + key.error());
        }
        it = lazy_.emplace(path, std::move(key)).first;
    }
    return it->second;
}

namespace {
// Domains a '%' KeyTable entry signs for, as far as the SigningTable names them literally
// ("*@example.com", "example.com", ".example.com").
std::set<std::string> literalDomainsFor(const dkim::SigningTable& signing, const std::string& keyName) {
    std::set<std::string> out;
    for (const auto& e : signing.entries()) {
        if (e.keyName != keyName) continue;
        std::string k = e.key;
        if (size_t at = k.rfind('@'); at != std::string::npos) k = k.substr(at + 1);
        while (!k.empty() && k.front() == '.')
            k.erase(0, 1);
        if (!k.empty() && k.find('*') == std::string::npos && k.find('.') != std::string::npos) out.insert(k);
    }
    return out;
}
}  // namespace

KeyCheckPlan planKeyChecks(const dkim::KeyTable& keys, const dkim::SigningTable& signing, const KeyStore& store) {
    KeyCheckPlan plan;
    for (const auto& e : keys.entries()) {
        std::set<std::string> domains;
        if (e.domainIsTemplate()) {
            domains = literalDomainsFor(signing, e.name);
        } else {
            domains.insert(util::toLower(e.domain));
        }
        for (const auto& d : domains) {
            auto key = store.get(e, d);
            if (!key) continue;  // reported when loading
            plan.inputs.push_back({d, e.selector, *key});
            plan.entries.push_back(&e);
        }
    }
    return plan;
}

void KeyStore::refuse(const std::string& domain, const std::string& selector, std::string reason) {
    refused_[selector + "._domainkey." + util::toLower(domain)] = std::move(reason);
}

}  // namespace rampart::milter
