// Hygiene rules against infrastructure leaks and client-supplied claims (see hygiene_stage.h):
// strip-headers, private-received and forged-auth. All three strip header fields.
#include <algorithm>

#include "mail/received.h"
#include "milter/stages/hygiene_rules.h"
#include "net/cidr.h"
#include "util/strings.h"

namespace rampart::milter::hygiene {

namespace {

// Authentication-Results (RFC 8601), DKIM-Signature and ARC-* (RFC 8617) from the client: unverified.
bool isForgedAuthField(std::string_view name) {
    return util::iequals(name, "Authentication-Results") || util::iequals(name, "DKIM-Signature") ||
           util::startsWithNoCase(name, "ARC-");
}

}  // namespace

bool matchesPattern(std::string_view name, std::string_view pattern) {
    if (!pattern.empty() && pattern.back() == '*')
        return util::startsWithNoCase(name, pattern.substr(0, pattern.size() - 1));
    return util::iequals(name, pattern);
}

// Removes the fields at `indexes` (ascending), last first so earlier indexes stay valid.
void Run::removeAll(const std::vector<size_t>& indexes) {
    for (auto it = indexes.rbegin(); it != indexes.rend(); ++it)
        msg_.removeHeader(*it);
}

// ---- strip-headers
bool Run::stripHeaders() {
    if (s_.stripHeaders.empty()) return true;
    std::vector<size_t> hits;
    NameCounts counts;
    for (size_t i = 0; i < fields().size(); ++i) {
        const auto& name = fields()[i].name;
        for (const auto& pattern : s_.stripHeaders) {
            if (matchesPattern(name, pattern)) {
                hits.push_back(i);
                counts.add(name);
                break;
            }
        }
    }
    if (hits.empty()) return true;
    Step step = decide("strip-headers", counts.str(), "");
    if (step == Step::Apply) {
        removeAll(hits);
        note("stripped " + counts.str());
    }
    return step != Step::Stop;
}

// ---- private-received
bool Run::privateReceived() {
    std::vector<size_t> hits;
    std::vector<std::string> addresses;  // the first few, for the note
    bool more = false;
    for (size_t i = 0; i < fields().size(); ++i) {
        if (!util::iequals(fields()[i].name, "Received")) continue;
        for (const auto& ip : mail::receivedFromAddresses(fields()[i].value)) {
            if (!net::isPrivateOrLoopback(ip)) continue;
            hits.push_back(i);
            std::string text = net::formatIp(ip);
            if (std::find(addresses.begin(), addresses.end(), text) == addresses.end()) {
                if (addresses.size() < 4) {
                    addresses.push_back(std::move(text));
                } else {
                    more = true;
                }
            }
            break;
        }
    }
    if (hits.empty()) return true;
    const std::string what = "Received (" + std::to_string(hits.size()) + ") from private or loopback addresses (" +
                             util::join(addresses, ", ") + (more ? ", ..." : "") + ")";
    Step step = decide("private-received", what, "");
    if (step == Step::Apply) {
        removeAll(hits);
        note("stripped " + what);
    }
    return step != Step::Stop;
}

// ---- forged-auth
bool Run::forgedAuth() {
    std::vector<size_t> hits;
    NameCounts counts;
    for (size_t i = 0; i < fields().size(); ++i) {
        if (isForgedAuthField(fields()[i].name)) {
            hits.push_back(i);
            counts.add(fields()[i].name);
        }
    }
    if (hits.empty()) return true;
    Step step = decide("forged-auth", "client-supplied " + counts.str(), "");
    if (step == Step::Apply) {
        removeAll(hits);
        note("stripped client-supplied " + counts.str());
    }
    return step != Step::Stop;
}

}  // namespace rampart::milter::hygiene
