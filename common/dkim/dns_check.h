// Does the key published in DNS match the private key we sign with? Used by `rampartctl dkim check`
// and by rampart-milter at start-up and reload (dkim_key_dns_check): a mismatch silently fails DKIM
// on every message, so it must be caught before mail goes out.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dkim/key.h"
#include "dns/resolver.h"

namespace rampart::dkim {

enum class KeyCheckStatus {
    Ok,         // published, same public key, usable
    Missing,    // no TXT record at SELECTOR._domainkey.DOMAIN (NXDOMAIN or no TXT)
    Mismatch,   // a record is published but its public key differs from ours
    Revoked,    // p= is empty
    TooShort,   // published RSA key under 1024 bits (receivers ignore it)
    WrongType,  // k= does not match our key type (e.g. k=rsa for an Ed25519 key)
    Malformed,  // the TXT record is not a DKIM key record
    DnsError,   // timeout / SERVFAIL: unknown, never a reason to stop signing
};
const char* keyCheckStatusName(
    KeyCheckStatus s);  // "ok", "missing", "mismatch", "revoked", "too short", "wrong type", "malformed", "dns error"

struct KeyCheckInput {
    std::string domain;
    std::string selector;
    std::shared_ptr<const PrivateKey> key;
};

struct KeyCheckResult {
    std::string domain;
    std::string selector;
    std::string name;  // SELECTOR._domainkey.DOMAIN
    KeyCheckStatus status = KeyCheckStatus::DnsError;
    std::string detail;  // one sentence for humans: what was found and what to do
    // True when signing with this key would produce signatures that fail (missing, mismatch, revoked,
    // too short, wrong type, malformed). DnsError is not a failure: the state is unknown.
    bool failing() const;
};

// Looks up all selectors concurrently (one Resolver batch); results are in the order of `keys`.
// Among several TXT records at a name, the DKIM ones (a p= tag, or v=DKIM1) are judged: any match
// is Ok (the detail warns about the others), none: their common status, or Mismatch when they
// differ. RSA p= may be SubjectPublicKeyInfo or PKCS#1 RSAPublicKey. A null `key` is Mismatch
// without a lookup. Details of failing statuses end with the record to publish.
std::vector<KeyCheckResult> checkPublishedKeys(const std::vector<KeyCheckInput>& keys, dns::Resolver& resolver);

}  // namespace rampart::dkim
