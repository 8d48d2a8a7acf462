// DKIM private keys with OpenSSL 3 EVP: parsing (PEM, base64 DER, raw Ed25519 seeds), signing of
// SHA-256 digests with per-call contexts, public key rendering for DNS, key file safety checks in
// the spirit of OpenDKIM's RequireSafeKeys, and parsing of published key records.
#include "dkim/key.h"

#include <fcntl.h>
#include <grp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "dkim/canon.h"
#include "util/strings.h"

namespace rampart::dkim {

namespace {

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

constexpr int kMinRsaBits = 1024;
constexpr int kMaxRsaBits = 16384;
constexpr size_t kMaxKeyFileSize = 1 << 20;

// The most recent OpenSSL error, for error texts; clears the thread's error queue.
std::string opensslError() {
    unsigned long code = ERR_get_error();
    unsigned long last = code;
    while (code != 0) {
        last = code;
        code = ERR_get_error();
    }
    if (last == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(last, buf, sizeof buf);
    return buf;
}

// Never prompts for a passphrase: encrypted keys are refused.
int noPassword(char*, int, int, void*) {
    return -1;
}

std::string keyTypeName(const EVP_PKEY* k) {
    const char* name = EVP_PKEY_get0_type_name(k);
    return name != nullptr ? name : "unknown";
}

std::string modeText(mode_t m) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
    return buf;
}

// The login name of a uid, or the number when there is none.
std::string bareUserName(uid_t uid) {
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    std::string buf(size > 0 ? static_cast<size_t>(size) : 16384, '\0');
    struct passwd pw;
    struct passwd* res = nullptr;
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res != nullptr) {
        return res->pw_name;
    }
    return std::to_string(uid);
}

std::string userName(uid_t uid) {
    std::string name = bareUserName(uid);
    std::string out = "uid " + std::to_string(uid);
    if (name != std::to_string(uid)) out += " (" + name + ")";
    return out;
}

std::string groupName(gid_t gid) {
    std::string out = "gid " + std::to_string(gid);
    long size = sysconf(_SC_GETGR_R_SIZE_MAX);
    std::string buf(size > 0 ? static_cast<size_t>(size) : 16384, '\0');
    struct group gr;
    struct group* res = nullptr;
    if (getgrgid_r(gid, &gr, buf.data(), buf.size(), &res) == 0 && res != nullptr) {
        out += " (" + std::string(res->gr_name) + ")";
    }
    return out;
}

std::string parentDir(const std::string& path) {
    size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// The key file itself, from stat() of the file (symlinks followed).
util::Result<bool> checkFileStat(const std::string& path, const struct stat& st, uid_t allowedUid, gid_t allowedGid) {
    if (!S_ISREG(st.st_mode)) return util::err(path + " is not a regular file");
    if (st.st_uid != 0 && st.st_uid != allowedUid) {
        return util::err(path + " is owned by " + userName(st.st_uid) + "; it must belong to root or to " +
                         userName(allowedUid) + "; run: chown " + bareUserName(allowedUid) + " " + path);
    }
    mode_t mode = st.st_mode;
    if ((mode & S_IROTH) != 0) {
        return util::err(path + " is readable by other users (mode " + modeText(mode) + "); run: chmod 600 " + path);
    }
    if ((mode & (S_IWOTH | S_IXOTH)) != 0) {
        return util::err(path + " is accessible by other users (mode " + modeText(mode) + "); run: chmod 600 " + path);
    }
    if ((mode & S_IWGRP) != 0) {
        return util::err(path + " is writable by its group (mode " + modeText(mode) + "); run: chmod 600 " + path);
    }
    if ((mode & (S_IRGRP | S_IXGRP)) != 0 && st.st_gid != allowedGid) {
        return util::err(path + " is readable by group " + groupName(st.st_gid) + " (mode " + modeText(mode) +
                         "), which is not rampart's group " + groupName(allowedGid) + "; run: chmod 600 " + path);
    }
    return true;
}

util::Result<bool> checkDirectory(const std::string& dir, gid_t allowedGid) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) {
        return util::err("cannot check directory " + dir + ": " + std::strerror(errno));
    }
    mode_t mode = st.st_mode;
    if ((mode & S_IWOTH) != 0 && (mode & S_ISVTX) == 0) {
        return util::err("directory " + dir + " is writable by other users (mode " + modeText(mode) +
                         "), so anyone can replace the key; run: chmod o-w " + dir);
    }
    if ((mode & S_IWGRP) != 0 && st.st_gid != 0 && st.st_gid != allowedGid) {
        return util::err("directory " + dir + " is writable by group " + groupName(st.st_gid) + " (mode " +
                         modeText(mode) + "), so its members can replace the key; run: chmod g-w " + dir);
    }
    return true;
}

util::Result<bool> checkDirectories(const std::string& path, gid_t allowedGid) {
    // The directory holding the name, and (for a symlink) the one holding the real file.
    std::string dir = parentDir(path);
    auto r = checkDirectory(dir, allowedGid);
    if (!r) return r;
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) != nullptr) {
        std::string realDir = parentDir(resolved);
        char dirResolved[PATH_MAX];
        if (::realpath(dir.c_str(), dirResolved) == nullptr || realDir != dirResolved) {
            return checkDirectory(realDir, allowedGid);
        }
    }
    return true;
}

util::Result<std::shared_ptr<const PrivateKey>> fromEvp(EvpPkeyPtr key) {
    int id = EVP_PKEY_get_base_id(key.get());
    if (id == EVP_PKEY_RSA) {
        int bits = EVP_PKEY_get_bits(key.get());
        if (bits < kMinRsaBits) {
            return util::err("RSA key of " + std::to_string(bits) + " bits is too short (minimum " +
                             std::to_string(kMinRsaBits) + ")");
        }
        if (bits > kMaxRsaBits) {
            return util::err("RSA key of " + std::to_string(bits) + " bits is too long (maximum " +
                             std::to_string(kMaxRsaBits) + ")");
        }
    } else if (id != EVP_PKEY_ED25519) {
        return util::err("unsupported key type " + keyTypeName(key.get()) + " (DKIM keys are RSA or Ed25519)");
    }
    return std::make_shared<const PrivateKey>(std::move(key));
}

bool isValChar(char c) {
    return c >= 0x21 && c <= 0x7E && c != ';';
}

}  // namespace

std::string_view algorithmTag(KeyAlgorithm a) {
    return a == KeyAlgorithm::Rsa ? "rsa-sha256" : "ed25519-sha256";
}

std::string_view keyTypeTag(KeyAlgorithm a) {
    return a == KeyAlgorithm::Rsa ? "rsa" : "ed25519";
}

const EVP_MD* sha256() {
    static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return md ? md : EVP_sha256();
}

PrivateKey::PrivateKey(EvpPkeyPtr key) : key_(std::move(key)) {
    if (EVP_PKEY_get_base_id(key_.get()) == EVP_PKEY_ED25519) {
        algorithm_ = KeyAlgorithm::Ed25519;
        bits_ = 256;
        edTemplate_.reset(EVP_MD_CTX_new());
        if (edTemplate_ &&
            EVP_DigestSignInit_ex(edTemplate_.get(), nullptr, nullptr, nullptr, nullptr, key_.get(), nullptr) != 1) {
            edTemplate_.reset();
        }
    } else {
        algorithm_ = KeyAlgorithm::Rsa;
        bits_ = EVP_PKEY_get_bits(key_.get());
        rsaTemplate_.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
        if (rsaTemplate_ && (EVP_PKEY_sign_init(rsaTemplate_.get()) != 1 ||
                             EVP_PKEY_CTX_set_rsa_padding(rsaTemplate_.get(), RSA_PKCS1_PADDING) != 1 ||
                             EVP_PKEY_CTX_set_signature_md(rsaTemplate_.get(), sha256()) != 1)) {
            rsaTemplate_.reset();
        }
    }
    ERR_clear_error();
}

util::Result<std::shared_ptr<const PrivateKey>> PrivateKey::fromPem(std::string_view text) {
    std::string_view t = util::trim(text);
    if (t.empty()) return util::err("no key data");
    if (t.size() > kMaxKeyFileSize) return util::err("key data too large");
    EvpPkeyPtr key;
    if (t.substr(0, 11) == "-----BEGIN ") {
        if (t.find("ENCRYPTED") != std::string_view::npos) {
            return util::err("the key is encrypted; DKIM keys must be stored without a passphrase");
        }
        BioPtr bio(BIO_new_mem_buf(t.data(), static_cast<int>(t.size())));
        if (!bio) return util::err("out of memory");
        key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassword, nullptr));
        if (!key) {
            std::string why = opensslError();
            if (t.find("PUBLIC KEY") != std::string_view::npos) {
                return util::err("this is a public key; a private key is needed");
            }
            return util::err("cannot parse PEM private key: " + why);
        }
    } else {
        auto der = base64Decode(t);
        if (!der) {
            return util::err("not a PEM private key, and not base64 DER (" + der.error() + ")");
        }
        const auto* p = reinterpret_cast<const unsigned char*>(der->data());
        if (der->size() == 32) {
            // A raw Ed25519 seed, as dkimpy's dknewkey writes it.
            key.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, p, 32));
        } else {
            key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der->size())));
        }
        if (!key) {
            return util::err("cannot parse base64 DER private key: " + opensslError());
        }
    }
    ERR_clear_error();
    return fromEvp(std::move(key));
}

util::Result<std::shared_ptr<const PrivateKey>> PrivateKey::generate(KeyAlgorithm a, int rsaBits) {
    EvpPkeyPtr key;
    if (a == KeyAlgorithm::Rsa) {
        if (rsaBits < kMinRsaBits || rsaBits > kMaxRsaBits) {
            return util::err("RSA key size must be between " + std::to_string(kMinRsaBits) + " and " +
                             std::to_string(kMaxRsaBits) + " bits, not " + std::to_string(rsaBits));
        }
        key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(rsaBits)));
    } else {
        key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    }
    if (!key) return util::err("key generation failed: " + opensslError());
    return fromEvp(std::move(key));
}

std::string PrivateKey::publicKeyBase64() const {
    if (algorithm_ == KeyAlgorithm::Ed25519) {
        uint8_t raw[32];
        size_t len = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(key_.get(), raw, &len) != 1) return {};
        return base64(raw, len);
    }
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(key_.get(), &der);
    if (len <= 0) return {};
    std::string out = base64(der, static_cast<size_t>(len));
    OPENSSL_free(der);
    return out;
}

std::string PrivateKey::dnsRecord() const {
    return "v=DKIM1; k=" + std::string(keyTypeTag(algorithm_)) + "; p=" + publicKeyBase64();
}

std::string PrivateKey::pemPrivate() const {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio) return {};
    if (PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        return {};
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

util::Result<std::vector<uint8_t>> PrivateKey::signDigest(const uint8_t digest[32]) const {
    std::vector<uint8_t> sig;
    size_t len = 0;
    if (algorithm_ == KeyAlgorithm::Rsa) {
        PkeyCtxPtr ctx(rsaTemplate_ ? EVP_PKEY_CTX_dup(rsaTemplate_.get()) : nullptr);
        if (!ctx) {  // no prepared context: set one up the slow way
            ctx.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
            if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
                EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
                EVP_PKEY_CTX_set_signature_md(ctx.get(), sha256()) != 1) {
                return util::err("RSA signing failed: " + opensslError());
            }
        }
        if (EVP_PKEY_sign(ctx.get(), nullptr, &len, digest, 32) != 1) {
            return util::err("RSA signing failed: " + opensslError());
        }
        sig.resize(len);
        if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest, 32) != 1) {
            return util::err("RSA signing failed: " + opensslError());
        }
    } else {
        MdCtxPtr ctx(EVP_MD_CTX_new());
        bool ready = ctx && edTemplate_ && EVP_MD_CTX_copy_ex(ctx.get(), edTemplate_.get()) == 1;
        if (!ready &&
            (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, key_.get(), nullptr) != 1)) {
            return util::err("Ed25519 signing failed: " + opensslError());
        }
        if (EVP_DigestSign(ctx.get(), nullptr, &len, digest, 32) != 1) {
            return util::err("Ed25519 signing failed: " + opensslError());
        }
        sig.resize(len);
        if (EVP_DigestSign(ctx.get(), sig.data(), &len, digest, 32) != 1) {
            return util::err("Ed25519 signing failed: " + opensslError());
        }
    }
    sig.resize(len);
    return sig;
}

util::Result<bool> checkKeyFileSafety(const std::string& path, uid_t allowedUid, gid_t allowedGid) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        return util::err("cannot check " + path + ": " + std::strerror(errno));
    }
    auto r = checkFileStat(path, st, allowedUid, allowedGid);
    if (!r) return r;
    return checkDirectories(path, allowedGid);
}

util::Result<std::shared_ptr<const PrivateKey>> loadKeyFile(const std::string& path, const KeyFileOptions& opts) {
    // Open first and check what was opened, so the file checked is the file read.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return util::err(path + ": cannot open: " + std::strerror(errno));
    struct FdClose {
        int fd;
        ~FdClose() { ::close(fd); }
    } closer{fd};
    struct stat st;
    if (::fstat(fd, &st) != 0) return util::err(path + ": " + std::strerror(errno));
    if (opts.requireSafe) {
        auto r = checkFileStat(path, st, opts.allowedUid, opts.allowedGid);
        if (!r) return util::err(r.error());
        r = checkDirectories(path, opts.allowedGid);
        if (!r) return util::err(r.error());
    } else if (!S_ISREG(st.st_mode)) {
        return util::err(path + " is not a regular file");
    }
    if (static_cast<uint64_t>(st.st_size) > kMaxKeyFileSize) {
        return util::err(path + ": too large for a key file (" + std::to_string(st.st_size) + " bytes)");
    }
    std::string text;
    char buf[8192];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return util::err(path + ": read error: " + std::strerror(errno));
        }
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > kMaxKeyFileSize) return util::err(path + ": too large for a key file");
    }
    auto key = PrivateKey::fromPem(text);
    OPENSSL_cleanse(text.data(), text.size());
    OPENSSL_cleanse(buf, sizeof buf);
    if (!key) return util::err(path + ": " + key.error());
    return key;
}

util::Result<PublicKeyRecord> parsePublicKeyRecord(std::string_view txt) {
    PublicKeyRecord rec;
    rec.keyType = "rsa";
    std::set<std::string> seen;
    bool haveP = false;
    size_t index = 0;
    for (std::string_view spec : util::splitExact(txt, ';')) {
        std::string_view s = util::trim(spec);
        if (s.empty()) {
            // Only a trailing ";" (or an empty record) is allowed.
            if (index == 0 && util::trim(txt).empty()) return util::err("empty key record");
            ++index;
            continue;
        }
        size_t eq = s.find('=');
        if (eq == std::string_view::npos) {
            return util::err("malformed tag " + util::quoted(s, 40) + " (expected name=value)");
        }
        std::string name(util::trim(s.substr(0, eq)));
        std::string_view value = util::trim(s.substr(eq + 1));
        bool nameOk = !name.empty() && std::isalpha(static_cast<unsigned char>(name[0])) != 0;
        for (char c : name) {
            if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') nameOk = false;
        }
        if (!nameOk) return util::err("invalid tag name " + util::quoted(name, 40));
        if (!seen.insert(name).second) return util::err("duplicate tag " + name + "=");
        // tag-value: VALCHARs, with whitespace only between them.
        for (char c : value) {
            if (!isValChar(c) && !util::isSpace(c)) {
                return util::err("invalid character in " + name + "= value");
            }
        }
        if (name == "v") {
            if (index != 0) return util::err("v= must be the first tag");
            if (value != "DKIM1") {
                return util::err("unsupported version v=" + util::printable(value, 40) + " (expected DKIM1)");
            }
            rec.version = std::string(value);
        } else if (name == "k") {
            rec.keyType = util::toLower(value);
        } else if (name == "p") {
            haveP = true;
            for (char c : value) {
                if (!util::isSpace(c)) rec.p.push_back(c);
            }
            if (!rec.p.empty()) {
                auto decoded = base64Decode(rec.p);
                if (!decoded) return util::err("p= is not valid base64 (" + decoded.error() + ")");
            }
        } else if (name == "t") {
            for (const std::string& flag : util::splitList(value, ":")) {
                if (flag == "y") rec.testing = true;
            }
        }
        ++index;
    }
    if (!haveP) return util::err("no p= tag (the public key)");
    return rec;
}

int publishedRsaBits(const PublicKeyRecord& rec) {
    if (rec.p.empty()) return 0;
    auto der = base64Decode(rec.p);
    if (!der) return 0;
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size())));
    if (!key) {
        ERR_clear_error();
        return 0;
    }
    if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) return 0;
    return EVP_PKEY_get_bits(key.get());
}

}  // namespace rampart::dkim
