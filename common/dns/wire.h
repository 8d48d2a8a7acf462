// Minimal reading of raw DNS messages (RFC 1035 wire format) for what c-ares 1.18's record parsers
// do not report: TTLs. The message comes from the network, so it is untrusted: every read is
// bounds-checked and a malformed message is an error value, never an exception or an overread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "util/result.h"

namespace rampart::dns::wire {

struct TtlInfo {
    // Smallest TTL of the answer section's records (CNAMEs of the chain included); none if empty.
    std::optional<uint32_t> answer;
    // Negative-caching TTL (RFC 2308 section 5): min(SOA TTL, SOA MINIMUM) of the first SOA in the
    // authority section; none if there is no SOA.
    std::optional<uint32_t> negative;
};

// TTLs above 2^31-1 count as 0 (RFC 2181 section 8).
util::Result<TtlInfo> scanTtls(const unsigned char* message, size_t length);

}  // namespace rampart::dns::wire
