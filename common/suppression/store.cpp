// suppress::Store: opening the store a suppression_list path names (the one place that chooses an
// implementation), and what the interface provides on top of its implementations' methods.
#include "suppression/store.h"

#include "suppression/sqlite_store.h"

namespace rampart::suppress {

util::Result<std::unique_ptr<Store>> Store::open(const std::string& path, bool readOnly) {
    auto s = SqliteStore::open(path, readOnly);
    if (!s) return util::err(s.error());
    return std::unique_ptr<Store>(std::move(s).value());
}

util::Result<std::vector<Entry>> Store::list(std::optional<Scope> scope, std::optional<Reason> reason,
                                             std::string_view targetPrefix, size_t limit) const {
    std::vector<Entry> out;
    auto r = scan(std::move(scope), reason, targetPrefix, limit, [&out](const Entry& e) { out.push_back(e); });
    if (!r) return util::err(r.error());
    return out;
}

}  // namespace rampart::suppress
