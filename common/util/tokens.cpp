// Sealed tokens (util/tokens.h): the keyring, AES-256-GCM sealing of claims, base64url text.
#include "util/tokens.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "util/base64.h"
#include "util/strings.h"

namespace rampart::util {

namespace {

constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;

struct CipherCtxFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// The key for a secret: SHA-256 with a domain-separation prefix (the secret is operator-chosen text).
std::array<uint8_t, 32> deriveKey(std::string_view secret) {
    std::string in = "rampart-token-key-v1:";
    in.append(secret);
    std::array<uint8_t, 32> out{};
    SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), out.data());
    return out;
}

void putU32(std::string& s, uint32_t v) {
    for (int i = 3; i >= 0; --i)
        s += static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

Keyring Keyring::fromSecret(std::string_view secret, uint8_t id) {
    Keyring k;
    k.keys_.push_back({id, deriveKey(secret)});
    return k;
}

Result<Keyring> Keyring::load(std::string_view spec) {
    std::string_view s = trim(spec);
    if (s.empty()) return err("no secret");
    if (s.substr(0, 5) != "file:") {
        if (s.size() < 16) return err("the secret is too short (at least 16 characters; use 32 random ones)");
        return fromSecret(s, 1);
    }
    std::string path(s.substr(5));
    std::ifstream in(path);
    if (!in) return err("cannot read " + path);
    Keyring k;
    std::string line;
    int lineNo = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        std::string_view l = trim(line);
        if (l.empty() || l.front() == '#') continue;
        size_t sp = l.find_first_of(" \t");
        if (sp == std::string_view::npos) return err(path + ":" + std::to_string(lineNo) + ": expected \"ID SECRET\"");
        std::vector<std::string> parts{std::string(l.substr(0, sp)), std::string(trim(l.substr(sp)))};
        auto id = parseUnsigned(parts[0]);
        if (!id || *id == 0 || *id > 255) return err(path + ":" + std::to_string(lineNo) + ": key id must be 1..255");
        if (parts[1].size() < 16)
            return err(path + ":" + std::to_string(lineNo) + ": secret too short (at least 16 characters)");
        for (const auto& existing : k.keys_) {
            if (existing.id == *id)
                return err(path + ":" + std::to_string(lineNo) + ": key id " + parts[0] + " listed twice");
        }
        k.keys_.push_back({static_cast<uint8_t>(*id), deriveKey(parts[1])});
    }
    if (k.keys_.empty()) return err(path + ": no key");
    return k;
}

std::string Keyring::seal(std::string_view plaintext, std::string_view purpose) const {
    const Key& key = keys_.front();
    std::string out(1, static_cast<char>(key.id));
    unsigned char nonce[kNonce];
    RAND_bytes(nonce, kNonce);
    out.append(reinterpret_cast<char*>(nonce), kNonce);
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    std::string ct(plaintext.size(), '\0');
    unsigned char tag[kTag];
    EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(), nonce);
    EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(purpose.data()),
                      static_cast<int>(purpose.size()));
    EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(ct.data()), &len,
                      reinterpret_cast<const unsigned char*>(plaintext.data()), static_cast<int>(plaintext.size()));
    EVP_EncryptFinal_ex(ctx.get(), nullptr, &len);
    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, tag);
    out += ct;
    out.append(reinterpret_cast<char*>(tag), kTag);
    return base64UrlEncode(out);
}

Result<std::string> Keyring::open(std::string_view token, std::string_view purpose) const {
    if (token.size() > 4096) return err("not a token (too long)");
    auto raw = base64UrlDecode(token);
    if (!raw) return err("not a token (bad character)");
    if (raw->size() < 1 + kNonce + kTag) return err("not a token (too short)");
    uint8_t id = static_cast<uint8_t>((*raw)[0]);
    const Key* key = nullptr;
    for (const auto& k : keys_) {
        if (k.id == id) key = &k;
    }
    if (!key) return err("token sealed with key " + std::to_string(id) + ", which is not (or no longer) configured");
    const auto* nonce = reinterpret_cast<const unsigned char*>(raw->data() + 1);
    size_t ctLen = raw->size() - 1 - kNonce - kTag;
    const auto* ct = reinterpret_cast<const unsigned char*>(raw->data() + 1 + kNonce);
    std::string tag = raw->substr(raw->size() - kTag);
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    std::string pt(ctLen, '\0');
    EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key->bytes.data(), nonce);
    EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(purpose.data()),
                      static_cast<int>(purpose.size()));
    EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(pt.data()), &len, ct, static_cast<int>(ctLen));
    EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data());
    if (EVP_DecryptFinal_ex(ctx.get(), nullptr, &len) != 1) return err("token altered or not ours");
    return pt;
}

std::string sealClaim(const Keyring& keys, const MessageClaim& c, std::string_view purpose) {
    std::string pt(1, '\x01');                         // format version
    putU32(pt, static_cast<uint32_t>(c.issued / 60));  // minutes: fits until 10136
    pt += c.recipient;
    pt += '\0';
    pt += c.fromDomain;
    pt += '\0';
    pt += c.tenant;
    return keys.seal(pt, purpose);
}

Result<MessageClaim> openClaim(const Keyring& keys, std::string_view token, std::string_view purpose, int64_t now,
                               std::chrono::seconds lifetime) {
    auto pt = keys.open(token, purpose);
    if (!pt) return err(pt.error());
    const std::string& p = *pt;
    if (p.size() < 5 || p[0] != '\x01') return err("token of an unknown format");
    uint32_t minutes = 0;
    for (size_t i = 1; i < 5; ++i)
        minutes = (minutes << 8) | static_cast<uint8_t>(p[i]);
    auto fields = splitExact(std::string_view(p).substr(5), '\0');
    if (fields.size() != 3) return err("token of an unknown format");
    MessageClaim c{std::string(fields[0]), std::string(fields[1]), std::string(fields[2]), int64_t{minutes} * 60};
    if (lifetime.count() > 0 && now - c.issued > lifetime.count()) return err("token expired");
    return c;
}

}  // namespace rampart::util
