// Tenants: the sysadmin's customers. tenant_map maps SASL logins (or patterns with '*') to tenant
// names, one "PATTERN TENANT" per line (file: exact logins and "*@domain" style patterns; refile:
// patterns tried in file order). A login without an entry is its own tenant. Without a login, the
// envelope sender is looked up the same way; when nothing matches there is no tenant.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "config/values.h"

namespace rampart::mail {

class TenantMap {
  public:
    TenantMap() = default;
    static TenantMap load(const config::TableRef& ref, config::Diagnostics& diags);
    // A file: table's text (exact keys, "*@domain", "*").
    static TenantMap parse(std::string_view text, const std::string& fileName, config::Diagnostics& diags);
    // The tenant of a message: from its SASL login, else its envelope sender; "" = none.
    std::string tenantOf(std::string_view saslLogin, std::string_view envelopeSender) const;
    size_t size() const { return entries_.size(); }

  private:
    struct Entry {
        std::string pattern;  // lower-case; may contain '*'
        std::string tenant;   // lower-case: tenant names are case-insensitive, as suppression scopes
    };
    static TenantMap parseTable(std::string_view text, const std::string& fileName, bool regexStyle,
                                config::Diagnostics& diags);
    std::string match(std::string_view key) const;
    std::vector<Entry> entries_;
    std::vector<int> lines_;                         // line of each entry
    bool refile_ = false;                            // refile: wildcards in file order
    std::unordered_map<std::string, size_t> exact_;  // file: pattern -> index in entries_
};

}  // namespace rampart::mail
