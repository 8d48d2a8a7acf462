// Opaque, authenticated tokens: one-click unsubscribe links, the per-message reference stamp that
// lets bounce and complaint ingestion find the tenant, From domain and recipient again. AES-256-GCM
// (OpenSSL): nothing is readable in clear and nothing can be forged or altered.
//
// Keys come from `unsubscribe_secret`: a literal secret (key id 1), or file:/path with lines
// "ID SECRET" (ID 1..255). The first line's key seals new tokens; every listed key opens tokens, so
// keys rotate by adding a new first line and removing the old one once its tokens have aged out.
// A token carries its key id and its issue time; it is refused after `lifetime`.
//
// Format: base64url(key id (1) | nonce (12) | ciphertext | tag (16)); the purpose ("unsubscribe",
// "reference") is bound as associated data, so a token of one kind is never accepted as another.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace rampart::util {

class Keyring {
  public:
    // `spec`: a literal secret, or "file:/path". Secrets shorter than 16 bytes are refused.
    static Result<Keyring> load(std::string_view spec);
    static Keyring fromSecret(std::string_view secret, uint8_t id = 1);
    bool empty() const { return keys_.empty(); }
    uint8_t currentId() const { return keys_.empty() ? 0 : keys_.front().id; }

    std::string seal(std::string_view plaintext, std::string_view purpose) const;
    Result<std::string> open(std::string_view token, std::string_view purpose) const;

  private:
    struct Key {
        uint8_t id;
        std::array<uint8_t, 32> bytes;
    };
    std::vector<Key> keys_;
};

// The purposes tokens are sealed for, shared by the milter (which seals), policyd's one-click
// endpoint and rampartctl ingest (which open): one definition, so they cannot drift apart.
constexpr std::string_view kUnsubscribePurpose = "unsubscribe";
constexpr std::string_view kReferencePurpose = "reference";

// What a one-click unsubscribe link or a reference stamp stands for.
struct MessageClaim {
    std::string recipient;   // normalized address
    std::string fromDomain;  // the From header's domain
    std::string tenant;      // may be empty
    int64_t issued = 0;      // unix seconds
    bool operator==(const MessageClaim&) const = default;
};

std::string sealClaim(const Keyring& keys, const MessageClaim& c, std::string_view purpose);
// Errors: not a token of ours, altered, sealed with a key no longer listed, or older than lifetime.
Result<MessageClaim> openClaim(const Keyring& keys, std::string_view token, std::string_view purpose, int64_t now,
                               std::chrono::seconds lifetime);

}  // namespace rampart::util
