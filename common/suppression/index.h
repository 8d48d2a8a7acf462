// The daemons' in-memory suppression index: fingerprints of every entry's (scope, target) with its
// reason and expiry, loaded from a Store and kept current by following its audit trail.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "suppression/model.h"
#include "suppression/normalize.h"
#include "suppression/store.h"
#include "util/result.h"

namespace rampart::suppress {

// The daemons' in-memory index: compact fingerprints of (scope, target) for every entry, with each
// entry's reason and expiry, in an open-addressing hash table of 16-byte slots (about 27 bytes per
// entry at the table's load factor: 10M entries in ~260 MB). Thread-safe: lookups take a shared lock;
// refresh() applies the audit trail since the last refresh under short exclusive locks (at most 512
// changes each); a table that must grow, or a full reload, is built beside the live one and swapped in.
//
// Fingerprints: 64 bits (which choose the slot and are compared) plus 24 check bits from a second
// hash: two different keys are taken for one with probability 2^-88. That would make a lookup match
// an entry it should not, or an add or removal overwrite or remove another entry's slot; counting
// every stored entry against each of a lookup's six probes, at 10M entries that happens at most once
// in about 5 * 10^18 lookups.
class Index {
  public:
    explicit Index(NormalizeOptions norm);
    // Full load from the store (start-up). Returns the number of entries.
    util::Result<size_t> load(const Store& store);
    // Applies what changed since the last load/refresh (a full reload when that is cheaper, or when
    // the store was replaced). Returns the number of audit records applied (after a replaced store:
    // the number of entries loaded).
    util::Result<size_t> refresh(const Store& store);
    // Is `recipient` suppressed for these scopes? Checks the address and its domain, globally,
    // for ctx.tenant and for ctx.fromDomain (each only when non-empty), as allowed by `scopes`, in that
    // order (address before domain). Expired entries do not match. The recipient is normalized here;
    // one that does not normalize (not an address) is not suppressed.
    using ScopeMask = suppress::ScopeMask;  // (model.h)
    static constexpr ScopeMask kGlobal = suppress::kGlobal, kTenant = suppress::kTenant,
                               kFromDomain = suppress::kFromDomain, kAll = suppress::kAll;
    std::optional<Hit> lookup(std::string_view recipient, const LookupContext& ctx, unsigned scopes, int64_t now) const;
    size_t size() const;
    int64_t lastAuditId() const;
    size_t memoryBytes() const;  // the table's size

    struct Impl;

  private:
    NormalizeOptions norm_;
    std::shared_ptr<Impl> impl_;
};

}  // namespace rampart::suppress
