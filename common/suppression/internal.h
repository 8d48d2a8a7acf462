// Helpers the suppression files share among themselves (not for callers outside common/suppression):
// message quoting, tenant checks, the checks every store applies to an entry before writing it, the
// order of a lookup's probes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "suppression/model.h"
#include "util/result.h"
#include "util/strings.h"

namespace rampart::suppress::detail {

// How much of a rejected text error messages quote (util::quoted(s, kQuotedMax)).
inline constexpr size_t kQuotedMax = 120;

// A tenant name as stored (lower-case), or why it cannot be one.
util::Result<std::string> checkTenant(std::string_view t);

// Entries come from callers (ctl, ingestion, the one-click endpoint): canonical scope values, a
// plausible normalized target, an expiry after the creation time, a bounded note (cut at 4 KiB).
// `created` 0 becomes `now`.
util::Result<Entry> canonicalEntry(const Entry& in, int64_t now);

// The scope column for a caller's Scope: tenant names and domains compared case-insensitively.
std::string scopeKey(const Scope& s);
// Scope::str() of a scope given as kind and value.
std::string scopeText(Scope::Kind k, std::string_view v);

// The (scope, key) pairs a lookup checks, in order: global, tenant, from_domain; in each the address
// before its domain. `scopes`: ScopeMask bits; empty tenant / fromDomain: not checked.
struct Probe {
    Scope::Kind kind;
    std::string_view value;
    std::string_view target;
};
size_t probes(std::string_view address, std::string_view tenant, std::string_view fromDomain, unsigned scopes,
              Probe (&out)[6]);

}  // namespace rampart::suppress::detail
