// Building DKIM-Signature header fields (RFC 6376 section 3.5, RFC 8463 for Ed25519).
//
// Header selection: for every name in `signedHeaders` present in the message, each instance is
// listed in h= (bottom-up order is what verifiers consume; we list names once per instance). Names
// in `oversignedHeaders` are listed once more than they occur (so that no further instance can be
// added), even when absent. From is always signed (listed first if not configured, and at least
// once). Configured names match case-insensitively (one configured twice counts once) and are
// spelled in h= as configured; a name that cannot be a header field name makes signMessage fail
// (selectHeaders skips it).
//
// The produced value follows the HeaderField convention (leading space, CRLF folding, lines kept
// under 78 columns where possible) and is byte-for-byte what the verifier sees, under both simple
// and relaxed header canonicalisation.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dkim/canon.h"
#include "dkim/key.h"
#include "mail/header.h"
#include "util/result.h"

namespace rampart::dkim {

struct SignatureSpec {
    std::string domain;    // d=, lower-case A-label
    std::string selector;  // s=
    std::shared_ptr<const PrivateKey> key;
    Canonicalization canon;
    std::vector<std::string> signedHeaders;
    std::vector<std::string> oversignedHeaders;
    std::chrono::seconds ttl{0};  // x= = t= + ttl when > 0
};

// Returns the DKIM-Signature value (without the "DKIM-Signature:" name). `headers` is the message's
// final header block in order (top first); `bodyHash` was computed with spec.canon.body.
util::Result<std::string> signMessage(const mail::HeaderFields& headers, const Sha256& bodyHash,
                                      const SignatureSpec& spec, std::chrono::system_clock::time_point now);

// The h= list signMessage would use for these headers (exposed for tests and logs).
std::vector<std::string> selectHeaders(const mail::HeaderFields& headers, const SignatureSpec& spec);

}  // namespace rampart::dkim
