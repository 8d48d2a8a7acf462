// DKIM private keys: parsed once into an EVP_PKEY and shared read-only by every signing thread
// (OpenSSL 3 allows concurrent signing with one EVP_PKEY and per-call contexts). Key type comes from
// the key itself, never from configuration.
#pragma once

#include <openssl/evp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace rampart::dkim {

enum class KeyAlgorithm { Rsa, Ed25519 };

std::string_view algorithmTag(KeyAlgorithm a);  // "rsa-sha256" / "ed25519-sha256" (a=)
std::string_view keyTypeTag(KeyAlgorithm a);    // "rsa" / "ed25519" (k= in DNS)

struct EvpPkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

// SHA-256 fetched once per process. OpenSSL 3 looks an implicit EVP_sha256() up in its provider
// store (under a lock) on every init; a fetched EVP_MD skips that on the message path.
const EVP_MD* sha256();

class PrivateKey {
  public:
    // PEM (PKCS#1 "RSA PRIVATE KEY", PKCS#8 "PRIVATE KEY") or base64 DER. RSA keys under 1024
    // bits are refused; other key types (EC, DSA...) are refused with their name.
    static util::Result<std::shared_ptr<const PrivateKey>> fromPem(std::string_view text);
    static util::Result<std::shared_ptr<const PrivateKey>> generate(KeyAlgorithm a, int rsaBits);

    KeyAlgorithm algorithm() const { return algorithm_; }
    int bits() const { return bits_; }  // RSA modulus bits; 256 for Ed25519
    // The p= value to publish: base64 SubjectPublicKeyInfo (RSA) or the raw 32-byte key (Ed25519).
    std::string publicKeyBase64() const;
    // "v=DKIM1; k=rsa; p=..." as published in DNS.
    std::string dnsRecord() const;
    std::string pemPrivate() const;  // PKCS#8 PEM, for keygen

    // Signs SHA-256(data) as DKIM does: RSASSA-PKCS1-v1_5 with SHA-256 for RSA; PureEd25519 over
    // the 32-byte SHA-256 digest for Ed25519 (RFC 8463). Returns the raw signature.
    util::Result<std::vector<uint8_t>> signDigest(const uint8_t digest[32]) const;

    explicit PrivateKey(EvpPkeyPtr key);

  private:
    struct PkeyCtxFree {
        void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
    };
    struct MdCtxFree {
        void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
    };
    EvpPkeyPtr key_;
    // Signing contexts prepared once (algorithm fetched, padding and digest set) and duplicated per
    // signature: the message path never repeats OpenSSL's algorithm lookup. Read-only after
    // construction, so shared by every thread.
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> rsaTemplate_;
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> edTemplate_;
    KeyAlgorithm algorithm_ = KeyAlgorithm::Rsa;
    int bits_ = 0;
};

// OpenDKIM-style RequireSafeKeys: the file's owner must be root or `allowedUid`; no permission bits
// for others; group bits only if the group is `allowedGid`, never group-write; the directory holding
// it must not be writable by others (unless sticky) nor by a group other than root's or allowedGid.
util::Result<bool> checkKeyFileSafety(const std::string& path, uid_t allowedUid, gid_t allowedGid);

struct KeyFileOptions {
    bool requireSafe = true;
    uid_t allowedUid = 0;
    gid_t allowedGid = 0;
};
// Reads, checks (when requireSafe) and parses a key file. Errors name the file.
util::Result<std::shared_ptr<const PrivateKey>> loadKeyFile(const std::string& path, const KeyFileOptions& opts);

// A published DKIM record ("v=DKIM1; k=ed25519; p=..."), parsed for checks.
struct PublicKeyRecord {
    std::string version;   // v= (may be empty)
    std::string keyType;   // k= ("rsa" when absent)
    std::string p;         // base64, whitespace removed; empty = revoked
    bool testing = false;  // t=y
};
util::Result<PublicKeyRecord> parsePublicKeyRecord(std::string_view txt);
// Bits of a published RSA key (0 if p= does not decode as an RSA SubjectPublicKeyInfo).
int publishedRsaBits(const PublicKeyRecord& rec);

}  // namespace rampart::dkim
