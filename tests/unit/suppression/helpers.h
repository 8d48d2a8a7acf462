// Helpers shared by the suppression unit tests: a temporary directory, stores opened with REQUIREd
// success, entries, adds and removals that must succeed, audit reads, scopes, index refreshes.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "suppression/suppression.h"
#include "temp_dir.h"

namespace rampart::test::suppression {

using namespace rampart::suppress;

struct TempDir : test::TempDir {
    TempDir() : test::TempDir("suppression") {}
};

inline const NormalizeOptions kDefault;
inline constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z
inline constexpr int64_t kDay = 86400;

inline std::string norm(std::string_view s, const NormalizeOptions& o = kDefault) {
    auto r = normalizeTarget(s, o);
    INFO(std::string(s) << " -> " << (r ? *r : "error: " + r.error()));
    REQUIRE(r.ok());
    return *r;
}

inline std::string normError(std::string_view s, const NormalizeOptions& o = kDefault) {
    auto r = normalizeTarget(s, o);
    INFO(std::string(s) << " -> " << (r ? *r : std::string()));
    REQUIRE_FALSE(r.ok());
    return r.error();
}

inline std::unique_ptr<Store> openStore(const std::string& path, bool readOnly = false) {
    auto s = Store::open(path, readOnly);
    INFO((s ? std::string() : s.error()));
    REQUIRE(s.ok());
    return std::move(s).value();
}

inline Entry entry(const std::string& target, Reason reason, Scope scope = {}, int64_t created = kNow,
                   std::optional<int64_t> expires = std::nullopt) {
    Entry e;
    e.target = target;
    e.scope = std::move(scope);
    e.reason = reason;
    e.source = "test";
    e.created = created;
    e.expires = expires;
    return e;
}

inline AddOutcome add(Store& s, const Entry& e, std::string_view who = "tester", std::string_view why = "") {
    auto r = s.add(e, who, why);
    INFO((r ? std::string() : r.error()));
    REQUIRE(r.ok());
    return *r;
}

inline RemoveOutcome removeEntry(Store& s, const std::string& target, const Scope& scope, bool force) {
    auto r = s.remove(target, scope, "tester", "asked", force);
    INFO((r ? std::string() : r.error()));
    REQUIRE(r.ok());
    return *r;
}

inline std::optional<Entry> find(const Store& s, const std::string& target, const Scope& scope = {}) {
    auto r = s.find(target, scope);
    REQUIRE(r.ok());
    return *r;
}

inline std::vector<AuditRecord> audit(const Store& s) {
    auto r = s.auditSince(0, 0);
    REQUIRE(r.ok());
    return *r;
}

inline Scope tenant(const std::string& t) {
    return Scope{Scope::Kind::Tenant, t};
}
inline Scope fromDomain(const std::string& d) {
    return Scope{Scope::Kind::FromDomain, d};
}

inline size_t refresh(Index& idx, const Store& s) {
    auto r = idx.refresh(s);
    INFO((r ? std::string() : r.error()));
    REQUIRE(r.ok());
    return *r;
}

}  // namespace rampart::test::suppression
