// DKIM canonicalisation (RFC 6376 section 3.4). The body hasher is a small state
// machine over chunks: line content is scanned with memchr and hashed in spans straight from the
// caller's buffer; only line ends and whitespace runs are held back until the next byte shows
// whether they are trailing.
#include "dkim/canon.h"

#include <cstring>
#include <new>
#include <stdexcept>

#include "dkim/key.h"
#include "util/strings.h"

namespace rampart::dkim {

namespace {

bool isWsp(char c) {
    return c == ' ' || c == '\t';
}

}  // namespace

util::Result<Canonicalization> Canonicalization::parse(std::string_view text) {
    auto word = [](std::string_view w) -> util::Result<Canon> {
        std::string_view t = util::trim(w);
        if (util::iequals(t, "simple")) return Canon::Simple;
        if (util::iequals(t, "relaxed")) return Canon::Relaxed;
        return util::err("unknown canonicalization \"" + util::printable(t) +
                         "\" (use simple or relaxed, e.g. relaxed/relaxed)");
    };
    std::string_view t = util::trim(text);
    size_t slash = t.find('/');
    if (slash != std::string_view::npos && t.find('/', slash + 1) != std::string_view::npos) {
        return util::err("expected header/body canonicalization such as relaxed/simple, got \"" + util::printable(t) +
                         "\"");
    }
    auto h = word(t.substr(0, slash));
    if (!h) return util::err(h.error());
    Canonicalization c;
    c.header = *h;
    c.body = Canon::Simple;
    if (slash != std::string_view::npos) {
        auto b = word(t.substr(slash + 1));
        if (!b) return util::err(b.error());
        c.body = *b;
    }
    return c;
}

std::string Canonicalization::str() const {
    std::string s = header == Canon::Simple ? "simple" : "relaxed";
    s += body == Canon::Simple ? "/simple" : "/relaxed";
    return s;
}

std::string canonicalizeHeader(Canon c, std::string_view name, std::string_view value) {
    std::string out;
    if (c == Canon::Simple) {
        out.reserve(name.size() + value.size() + 8);
        out.append(name);
        out.push_back(':');
        // The value is CRLF-folded already; a bare LF would go out as CRLF on the wire.
        for (size_t i = 0; i < value.size(); ++i) {
            if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) out.push_back('\r');
            out.push_back(value[i]);
        }
        out.append("\r\n");
        return out;
    }
    out.reserve(name.size() + value.size() + 3);
    while (!name.empty() && isWsp(name.back()))
        name.remove_suffix(1);
    for (char ch : name)
        out.push_back(util::toLowerAscii(ch));
    out.push_back(':');
    bool wsp = false;
    bool any = false;
    for (size_t i = 0; i < value.size(); ++i) {
        char ch = value[i];
        // Unfold: line breaks go, the whitespace after them stays (and is collapsed).
        if (ch == '\n') continue;
        if (ch == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
        if (isWsp(ch)) {
            wsp = true;
            continue;
        }
        if (wsp && any) out.push_back(' ');
        wsp = false;
        any = true;
        out.push_back(ch);
    }
    out.append("\r\n");
    return out;
}

BodyHasher::BodyHasher(Canon c) : canon_(c), md_(EVP_MD_CTX_new()) {
    if (md_ == nullptr) throw std::bad_alloc();
    if (EVP_DigestInit_ex2(md_, sha256(), nullptr) != 1) {
        EVP_MD_CTX_free(md_);
        throw std::runtime_error("OpenSSL cannot initialise SHA-256");
    }
}

BodyHasher::~BodyHasher() {
    EVP_MD_CTX_free(md_);
}

void BodyHasher::flushBuffer() {
    if (bufLen_ > 0) {
        EVP_DigestUpdate(md_, buf_.data(), bufLen_);
        bufLen_ = 0;
    }
}

void BodyHasher::emit(const char* p, size_t n) {
    length_ += n;
    if (n >= 256) {
        flushBuffer();
        EVP_DigestUpdate(md_, p, n);
        return;
    }
    if (bufLen_ + n > buf_.size()) flushBuffer();
    std::memcpy(buf_.data() + bufLen_, p, n);
    bufLen_ += n;
}

void BodyHasher::flushPendingLines() {
    static constexpr char kCrlfs[] =
        "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n";  // 16 line ends
    while (pendingCRLFs_ > 0) {
        uint64_t n = pendingCRLFs_ < 16 ? pendingCRLFs_ : 16;
        emit(kCrlfs, static_cast<size_t>(n * 2));
        pendingCRLFs_ -= n;
    }
}

void BodyHasher::relaxedSpan(const char* p, size_t n) {
    const char* const e = p + n;
    while (p < e) {
        if (isWsp(*p)) {  // a run becomes one SP, if content follows on this line
            pendingWsp_ = true;
            ++p;
            continue;
        }
        // Text that relaxed canonicalisation leaves alone: no tab, no run, nothing trailing.
        const char* q = p;
        while (q < e) {
            if (*q == '\t') break;
            if (*q == ' ') {
                if (q + 1 < e && !isWsp(q[1])) {
                    q += 2;
                    continue;
                }
                break;
            }
            ++q;
        }
        flushPendingLines();
        if (pendingWsp_) emit(" ", 1);
        pendingWsp_ = false;
        anyContent_ = true;
        emit(p, static_cast<size_t>(q - p));
        p = q;
    }
}

void BodyHasher::contentSpan(const char* p, size_t n) {
    if (n == 0) return;
    if (canon_ == Canon::Relaxed) {
        relaxedSpan(p, n);
        return;
    }
    flushPendingLines();
    anyContent_ = true;
    emit(p, n);
}

void BodyHasher::update(std::string_view chunk) {
    if (finished_ || chunk.empty()) return;
    const char* p = chunk.data();
    const char* const end = p + chunk.size();
    if (pendingCR_) {
        pendingCR_ = false;
        if (*p == '\n') {
            lineEnd();
            ++p;
        } else {
            contentSpan("\r", 1);
        }
    }
    while (p < end) {
        const void* found = std::memchr(p, '\n', static_cast<size_t>(end - p));
        if (found == nullptr) {
            // No line end in the rest of the chunk: a final CR may be half of a CRLF.
            const char* stop = end;
            if (end[-1] == '\r') {
                pendingCR_ = true;
                --stop;
            }
            contentSpan(p, static_cast<size_t>(stop - p));
            return;
        }
        const char* lf = static_cast<const char*>(found);
        const char* stop = (lf > p && lf[-1] == '\r') ? lf - 1 : lf;  // CRLF or bare LF
        contentSpan(p, static_cast<size_t>(stop - p));
        lineEnd();
        p = lf + 1;
    }
}

Sha256 BodyHasher::finish() {
    if (finished_) return digest_;
    if (pendingCR_) {
        pendingCR_ = false;
        contentSpan("\r", 1);
    }
    // The last line's CRLF (added when the body did not end with one); trailing empty lines and
    // a trailing whitespace run are dropped. An empty body is "\r\n" (simple) or "" (relaxed).
    pendingCRLFs_ = 0;
    if (anyContent_ || canon_ == Canon::Simple) emit("\r\n", 2);
    flushBuffer();
    unsigned int len = 0;
    EVP_DigestFinal_ex(md_, digest_.data(), &len);
    finished_ = true;
    return digest_;
}

Sha256 hashBody(Canon c, std::string_view body) {
    BodyHasher h(c);
    h.update(body);
    return h.finish();
}

}  // namespace rampart::dkim
