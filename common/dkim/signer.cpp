// DKIM-Signature generation (RFC 6376 sections 3.5 and 3.7, RFC 8463). The header value is laid
// out once with an empty b=, hashed exactly as a verifier will reconstruct it, then completed
// with the folded signature; the layout before b= never depends on the signature.
#include "dkim/signer.h"

#include <openssl/evp.h>

#include "util/strings.h"
#include "util/unix_time.h"

namespace rampart::dkim {

namespace {

constexpr size_t kMaxLine = 78;
constexpr std::string_view kFold = "\r\n\t";

struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// Lays out "tag=value;" items on lines of at most kMaxLine characters (when an item fits at all),
// folding with CRLF TAB. The column counts the "DKIM-Signature:" name on the first line.
class Folder {
  public:
    explicit Folder(size_t startColumn) : col_(startColumn) {}

    // Appends `piece` after a space, or on a new line if it does not fit.
    void item(std::string_view piece) {
        if (col_ + 1 + piece.size() > kMaxLine && !out_.empty()) {
            newLine();
        } else {
            out_.push_back(' ');
            ++col_;
        }
        append(piece);
    }
    // Appends `piece` directly, or on a new line if it does not fit (FWS is allowed there).
    void glued(std::string_view piece) {
        if (col_ + piece.size() > kMaxLine) newLine();
        append(piece);
    }
    size_t room() const { return col_ >= kMaxLine ? 0 : kMaxLine - col_; }
    void newLine() {
        out_.append(kFold);
        col_ = 1;
    }
    void append(std::string_view piece) {
        out_.append(piece);
        col_ += piece.size();
    }
    const std::string& str() const { return out_; }

  private:
    std::string out_;
    size_t col_;
};

bool validTagText(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c <= 0x20 || c >= 0x7F || c == ';' || c == ':' || c == '=') return false;
    }
    return true;
}

bool validHeaderName(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (c <= 0x20 || c >= 0x7F || c == ':' || c == ';') return false;
    }
    return true;
}

}  // namespace

std::vector<std::string> selectHeaders(const mail::HeaderFields& headers, const SignatureSpec& spec) {
    // Distinct names in configured order (signed first, then oversigned-only), From first if
    // the configuration forgot it; each listed once per instance, oversigned names once more.
    std::vector<std::string> names;
    auto addName = [&names](const std::string& n) {
        for (const auto& existing : names) {
            if (util::iequals(existing, n)) return;
        }
        names.push_back(n);
    };
    bool haveFrom = false;
    for (const auto& n : spec.signedHeaders)
        haveFrom = haveFrom || util::iequals(n, "From");
    for (const auto& n : spec.oversignedHeaders)
        haveFrom = haveFrom || util::iequals(n, "From");
    if (!haveFrom) names.emplace_back("From");
    for (const auto& n : spec.signedHeaders) {
        if (validHeaderName(n)) addName(n);
    }
    for (const auto& n : spec.oversignedHeaders) {
        if (validHeaderName(n)) addName(n);
    }

    std::vector<std::string> out;
    for (const auto& n : names) {
        size_t count = mail::countHeaders(headers, n);
        bool over = false;
        for (const auto& o : spec.oversignedHeaders)
            over = over || util::iequals(o, n);
        if (over) ++count;
        // From must appear in h= even when the message has none (RFC 6376 section 5.4).
        if (count == 0 && util::iequals(n, "From")) count = 1;
        for (size_t i = 0; i < count; ++i)
            out.push_back(n);
    }
    return out;
}

util::Result<std::string> signMessage(const mail::HeaderFields& headers, const Sha256& bodyHash,
                                      const SignatureSpec& spec, std::chrono::system_clock::time_point now) {
    if (!spec.key) return util::err("no signing key");
    if (!validTagText(spec.domain)) {
        return util::err("invalid signing domain " + util::quoted(spec.domain, 200));
    }
    if (!validTagText(spec.selector)) {
        return util::err("invalid selector " + util::quoted(spec.selector, 200));
    }
    for (const auto* list : {&spec.signedHeaders, &spec.oversignedHeaders}) {
        for (const auto& n : *list) {
            if (!validHeaderName(n)) {
                return util::err("invalid header field name " + util::quoted(n, 200));
            }
        }
    }
    const std::vector<std::string> h = selectHeaders(headers, spec);

    const int64_t t = util::unixSeconds(now);
    Folder f(std::string_view("DKIM-Signature:").size());
    f.item("v=1;");
    f.item("a=" + std::string(algorithmTag(spec.key->algorithm())) + ";");
    f.item("c=" + spec.canon.str() + ";");
    f.item("d=" + spec.domain + ";");
    f.item("s=" + spec.selector + ";");
    f.item("t=" + std::to_string(t) + ";");
    if (spec.ttl.count() > 0) f.item("x=" + std::to_string(t + spec.ttl.count()) + ";");
    for (size_t i = 0; i < h.size(); ++i) {
        std::string piece = (i == 0 ? "h=" : "") + h[i] + (i + 1 == h.size() ? ";" : ":");
        if (i == 0) {
            f.item(piece);
        } else {
            f.glued(piece);
        }
    }
    f.item("bh=" + base64(bodyHash.data(), bodyHash.size()) + ";");
    // b= starts where at least a few signature characters fit on the same line, so that the
    // part a verifier blanks out is exactly what follows "b=".
    if (f.room() < 1 + 2 + 8) {
        f.newLine();
        f.append("b=");
    } else {
        f.item("b=");
    }
    const std::string unsignedValue = f.str();

    // Hash the selected headers (each name takes the next instance from the bottom), then the
    // signature header itself without its final CRLF.
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
    if (!md || EVP_DigestInit_ex2(md.get(), sha256(), nullptr) != 1) {
        return util::err("cannot initialise SHA-256");
    }
    std::vector<std::pair<std::string, size_t>> nextFromBottom;  // lower-case name -> index
    for (const auto& name : h) {
        std::string lower = util::toLower(name);
        size_t* pos = nullptr;
        for (auto& entry : nextFromBottom) {
            if (entry.first == lower) pos = &entry.second;
        }
        if (pos == nullptr) {
            nextFromBottom.emplace_back(lower, headers.size());
            pos = &nextFromBottom.back().second;
        }
        while (*pos > 0) {
            --*pos;
            const mail::HeaderField& field = headers[*pos];
            if (util::iequals(field.name, lower)) {
                std::string c = canonicalizeHeader(spec.canon.header, field.name, field.value);
                EVP_DigestUpdate(md.get(), c.data(), c.size());
                break;
            }
        }
    }
    std::string self = canonicalizeHeader(spec.canon.header, "DKIM-Signature", unsignedValue);
    self.resize(self.size() - 2);  // without CRLF
    EVP_DigestUpdate(md.get(), self.data(), self.size());
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int digestLen = 0;
    if (EVP_DigestFinal_ex(md.get(), digest, &digestLen) != 1 || digestLen != 32) {
        return util::err("SHA-256 failed");
    }
    auto sig = spec.key->signDigest(digest);
    if (!sig) return util::err(sig.error());
    const std::string b = base64(sig->data(), sig->size());

    // The signature, folded: as much as fits after "b=", then full continuation lines.
    std::string value = unsignedValue;
    const size_t lastBreak = value.rfind('\n');
    const size_t col = lastBreak == std::string::npos ? value.size() + std::string_view("DKIM-Signature:").size()
                                                      : value.size() - lastBreak - 1;
    size_t pos = 0;
    size_t room = col < kMaxLine ? kMaxLine - col : 0;
    while (pos < b.size()) {
        if (room == 0) {
            value.append(kFold);
            room = kMaxLine - 1;
        }
        size_t n = std::min(room, b.size() - pos);
        value.append(b, pos, n);
        pos += n;
        room -= n;
    }
    return value;
}

}  // namespace rampart::dkim
