// Parsed DKIM private keys of one configuration generation. Every key file named literally in the
// KeyTable is read, checked (dkim_require_safe_keys) and parsed once when the generation is built;
// a path with "%" (one file per From domain) is loaded on first use and cached for the generation.
// The message path never parses a key twice and never touches a file it has loaded before.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "dkim/dns_check.h"
#include "dkim/key.h"
#include "dkim/tables.h"
#include "util/result.h"

namespace rampart::milter {

class KeyStore {
  public:
    explicit KeyStore(dkim::KeyFileOptions options) : options_(options) {}

    // Loads the literal paths of `table`; problems go to `diags` at the KeyTable line.
    void loadAll(const dkim::KeyTable& table, config::Diagnostics& diags);

    // The key to sign `domain` with under `entry`. Errors say which file and why.
    util::Result<std::shared_ptr<const dkim::PrivateKey>> get(const dkim::KeyTableEntry& entry,
                                                              std::string_view domain) const;

    // dkim_key_dns_check = enforce: never sign as SELECTOR._domainkey.DOMAIN; `reason` is logged.
    void refuse(const std::string& domain, const std::string& selector, std::string reason);
    size_t loadedCount() const { return loaded_.size(); }

  private:
    dkim::KeyFileOptions options_;
    std::map<std::string, std::shared_ptr<const dkim::PrivateKey>, std::less<>> loaded_;  // by path
    std::map<std::string, std::string, std::less<>> refused_;  // "selector._domainkey.domain" -> reason
    mutable std::mutex lazyMutex_;
    mutable std::map<std::string, util::Result<std::shared_ptr<const dkim::PrivateKey>>, std::less<>> lazy_;
};

std::string expandTemplate(std::string_view text, std::string_view domain);  // '%' -> domain

// The (domain, selector, key) triples whose DNS records should be checked: every KeyTable entry with
// a literal domain, and for "%" entries every domain the SigningTable names literally for them.
struct KeyCheckPlan {
    std::vector<dkim::KeyCheckInput> inputs;
    std::vector<const dkim::KeyTableEntry*> entries;  // parallel to inputs
};
KeyCheckPlan planKeyChecks(const dkim::KeyTable& keys, const dkim::SigningTable& signing, const KeyStore& store);

}  // namespace rampart::milter
