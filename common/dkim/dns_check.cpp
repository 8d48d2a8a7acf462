// checkPublishedKeys (see dns_check.h): one concurrent TXT batch for all selectors, then each
// published record is judged against the signing key. TXT data is untrusted: it is only parsed
// (parsePublicKeyRecord, OpenSSL d2i), and quoted in details through util::printable.
#include "dkim/dns_check.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <string_view>

#include "dkim/canon.h"
#include "util/strings.h"

namespace rampart::dkim {

const char* keyCheckStatusName(KeyCheckStatus s) {
    switch (s) {
        case KeyCheckStatus::Ok:
            return "ok";
        case KeyCheckStatus::Missing:
            return "missing";
        case KeyCheckStatus::Mismatch:
            return "mismatch";
        case KeyCheckStatus::Revoked:
            return "revoked";
        case KeyCheckStatus::TooShort:
            return "too short";
        case KeyCheckStatus::WrongType:
            return "wrong type";
        case KeyCheckStatus::Malformed:
            return "malformed";
        case KeyCheckStatus::DnsError:
            return "dns error";
    }
    return "dns error";
}

bool KeyCheckResult::failing() const {
    return status != KeyCheckStatus::Ok && status != KeyCheckStatus::DnsError;
}

namespace {

constexpr int kMinPublishedRsaBits = 1024;  // RFC 8301: verifiers must not accept smaller keys
constexpr size_t kEd25519KeySize = 32;

// Is this TXT record meant as a DKIM key record? It has a p= tag, or starts with v=DKIM1.
bool looksLikeDkim(std::string_view record) {
    size_t index = 0;
    for (std::string_view spec : util::splitExact(record, ';')) {
        const std::string_view s = util::trim(spec);
        const size_t eq = s.find('=');
        if (eq != std::string_view::npos) {
            const std::string_view name = util::trim(s.substr(0, eq));
            const std::string_view value = util::trim(s.substr(eq + 1));
            if (name == "p") return true;
            if (index == 0 && name == "v" && util::startsWithNoCase(value, "DKIM")) return true;
        }
        ++index;
    }
    return false;
}

EvpPkeyPtr decodeSpki(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    ERR_clear_error();
    return key;
}

// RSA p= values: SubjectPublicKeyInfo (RFC 6376), or a bare PKCS#1 RSAPublicKey, which some
// publishers use and common verifiers accept.
EvpPkeyPtr decodeRsa(const std::string& der) {
    EvpPkeyPtr key = decodeSpki(der);
    if (key && EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA) return key;
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    key.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
    ERR_clear_error();
    return key;
}

struct Verdict {
    KeyCheckStatus status = KeyCheckStatus::Malformed;
    std::string what;  // what was found, completing "the record at NAME ..."
};

Verdict judge(const std::string& txt, const PrivateKey& key) {
    auto rec = parsePublicKeyRecord(txt);
    if (!rec) return {KeyCheckStatus::Malformed, "is not a valid DKIM key record (" + rec.error() + ")"};
    if (rec->p.empty()) return {KeyCheckStatus::Revoked, "is revoked (empty p=)"};
    const std::string_view ourType = keyTypeTag(key.algorithm());
    if (rec->keyType != ourType) {
        return {KeyCheckStatus::WrongType,
                "has k=" + util::printable(rec->keyType, 40) + " but the signing key is " + std::string(ourType)};
    }
    auto der = base64Decode(rec->p);
    if (!der) return {KeyCheckStatus::Malformed, "has a p= that is not base64 (" + der.error() + ")"};
    auto ours = base64Decode(key.publicKeyBase64());
    if (!ours) return {KeyCheckStatus::Mismatch, "cannot be compared (" + ours.error() + ")"};

    if (key.algorithm() == KeyAlgorithm::Ed25519) {
        if (der->size() != kEd25519KeySize) {
            EvpPkeyPtr spki = decodeSpki(*der);
            if (spki && EVP_PKEY_get_base_id(spki.get()) == EVP_PKEY_ED25519) {
                return {KeyCheckStatus::Malformed,
                        "has an Ed25519 p= in SubjectPublicKeyInfo form, but RFC 8463 wants the bare "
                        "32-byte key"};
            }
            return {KeyCheckStatus::Malformed,
                    "has a p= of " + std::to_string(der->size()) + " bytes, not a 32-byte Ed25519 key"};
        }
        if (*der != *ours) return {KeyCheckStatus::Mismatch, "holds a different Ed25519 key"};
        return {KeyCheckStatus::Ok, "holds the signing key (k=ed25519)"};
    }

    EvpPkeyPtr published = decodeRsa(*der);
    if (!published) return {KeyCheckStatus::Malformed, "has a p= that is not an RSA public key"};
    const int bits = EVP_PKEY_get_bits(published.get());
    if (bits < kMinPublishedRsaBits) {
        return {KeyCheckStatus::TooShort, "holds a " + std::to_string(bits) +
                                              "-bit RSA key, and receivers ignore keys under " +
                                              std::to_string(kMinPublishedRsaBits) + " bits"};
    }
    EvpPkeyPtr own = decodeSpki(*ours);
    if (!own || EVP_PKEY_eq(own.get(), published.get()) != 1) {
        ERR_clear_error();
        return {KeyCheckStatus::Mismatch, "holds a different RSA key (" + std::to_string(bits) + " bits)"};
    }
    return {KeyCheckStatus::Ok, "holds the signing key (k=rsa, " + std::to_string(bits) + " bits)"};
}

std::string publishHint(const PrivateKey& key) {
    return "; publish: " + key.dnsRecord();
}

void judgeAnswer(KeyCheckResult& r, const dns::TxtAnswer& answer, const PrivateKey& key) {
    switch (answer.status) {
        case dns::Status::NxDomain:
        case dns::Status::NoData:
            r.status = KeyCheckStatus::Missing;
            r.detail = "no DKIM key is published at " + r.name + " (" +
                       (answer.status == dns::Status::NxDomain ? "no such name" : "no TXT record") + ")" +
                       publishHint(key);
            return;
        case dns::Status::Timeout:
        case dns::Status::Error:
            r.status = KeyCheckStatus::DnsError;
            r.detail = "the DNS lookup of " + r.name + " failed (" + dns::statusName(answer.status) +
                       (answer.error.empty() ? "" : ": " + answer.error) + "), so the published key is unknown";
            return;
        case dns::Status::Ok:
            break;
    }

    std::vector<const std::string*> dkim;
    for (const auto& rec : answer.records) {
        if (looksLikeDkim(rec)) dkim.push_back(&rec);
    }
    if (dkim.empty()) {
        r.status = KeyCheckStatus::Malformed;
        r.detail = answer.records.size() == 1
                       ? "the TXT record at " + r.name + " is not a DKIM key record (\"" +
                             util::printable(answer.records[0], 80) + "\")" + publishHint(key)
                       : "none of the " + std::to_string(answer.records.size()) + " TXT records at " + r.name +
                             " is a DKIM key record" + publishHint(key);
        return;
    }

    std::vector<Verdict> verdicts;
    for (const std::string* rec : dkim)
        verdicts.push_back(judge(*rec, key));
    const auto ok =
        std::find_if(verdicts.begin(), verdicts.end(), [](const Verdict& v) { return v.status == KeyCheckStatus::Ok; });
    if (ok != verdicts.end()) {
        r.status = KeyCheckStatus::Ok;
        r.detail = "the record at " + r.name + " " + ok->what;
        if (verdicts.size() > 1) {
            r.detail += ", but " + std::to_string(verdicts.size() - 1) +
                        " other DKIM record(s) are published there too: remove them, receivers may "
                        "pick any of them";
        }
        return;
    }
    if (verdicts.size() == 1) {
        r.status = verdicts[0].status;
        r.detail = "the record at " + r.name + " " + verdicts[0].what + publishHint(key);
        return;
    }
    const bool same =
        std::all_of(verdicts.begin(), verdicts.end(), [&](const Verdict& v) { return v.status == verdicts[0].status; });
    const std::string count = std::to_string(verdicts.size());
    if (same && verdicts[0].status != KeyCheckStatus::Mismatch) {
        r.status = verdicts[0].status;
        r.detail = "all " + count + " DKIM records at " + r.name + " are " + keyCheckStatusName(r.status) +
                   " (the first " + verdicts[0].what + ")" + publishHint(key);
        return;
    }
    r.status = KeyCheckStatus::Mismatch;
    std::vector<std::string> found;
    for (const auto& v : verdicts)
        found.push_back(keyCheckStatusName(v.status));
    r.detail = count + " different DKIM records are published at " + r.name + " and none is the signing key (" +
               util::join(found, ", ") + "); publish only one: " + key.dnsRecord();
}

}  // namespace

std::vector<KeyCheckResult> checkPublishedKeys(const std::vector<KeyCheckInput>& keys, dns::Resolver& resolver) {
    std::vector<KeyCheckResult> results(keys.size());
    std::vector<std::string> names;
    std::vector<size_t> asked;  // index into results of each name
    for (size_t i = 0; i < keys.size(); ++i) {
        KeyCheckResult& r = results[i];
        r.domain = keys[i].domain;
        r.selector = keys[i].selector;
        std::string domain = keys[i].domain;
        while (!domain.empty() && domain.back() == '.')
            domain.pop_back();
        r.name = keys[i].selector + "._domainkey." + domain;
        if (!keys[i].key) {
            r.status = KeyCheckStatus::Mismatch;
            r.detail = "no signing key is loaded for " + r.name;
            continue;
        }
        names.push_back(r.name);
        asked.push_back(i);
    }
    const std::vector<dns::TxtAnswer> answers = resolver.lookupTxt(names);
    for (size_t k = 0; k < asked.size() && k < answers.size(); ++k) {
        const size_t i = asked[k];
        judgeAnswer(results[i], answers[k], *keys[i].key);
    }
    return results;
}

}  // namespace rampart::dkim
