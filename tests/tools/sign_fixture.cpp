// rampart-sign-fixture: signs a corpus of awkward messages with Rampart's DKIM code, for checking
// by independent verifiers (odkim-verify, dkimpy_verify.py; see run_independent_verifiers.sh).
//
//   rampart-sign-fixture KEYDIR OUTDIR
//
// KEYDIR holds rsa2048.pem and ed25519.pem. Writes OUTDIR/keys.txt (SELECTOR._domainkey.DOMAIN
// TXT-DATA lines) and OUTDIR/NAME.Nsig.eml files, each carrying N signatures that must all pass.
// Every message is signed under all four canonicalisation pairs with both keys; some carry an
// RSA and an Ed25519 signature at once. Body hashes are computed from several chunkings, which
// must agree. Exit status 0 on success.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "dkim/canon.h"
#include "dkim/key.h"
#include "dkim/signer.h"
#include "mail/header.h"

using namespace rampart;

namespace {

struct Message {
    std::string name;
    std::string raw;  // as handed to the signer (CRLF line ends unless noted)
    // Written as an MTA transmits it: bare LF becomes CRLF, a missing final CRLF is added. The
    // signature must hold for that wire form.
    bool wire = false;
    // libopendkim drops bare CRs from relaxed bodies, and counts a line of only CRs as empty
    // (RFC 6376 and dkimpy keep CRs as data): bare CRs inside lines are checked under simple body
    // canonicalisation only; unit tests pin down the rest.
    bool simpleBodyOnly = false;
};

// The message as it travels over SMTP.
std::string wireForm(const std::string& raw) {
    std::string out;
    out.reserve(raw.size() + 64);
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) out.push_back('\r');
        out.push_back(raw[i]);
    }
    if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
    return out;
}

// Splits a message into header fields (HeaderField convention: values keep their line breaks,
// CRLF or the bare LF a milter may see) and body.
bool splitMessage(const std::string& raw, mail::HeaderFields& headers, std::string& body) {
    auto lineEnd = [&raw](size_t from, size_t& next) {
        size_t lf = raw.find('\n', from);
        if (lf == std::string::npos) return std::string::npos;
        next = lf + 1;
        return (lf > from && raw[lf - 1] == '\r') ? lf - 1 : lf;
    };
    size_t pos = 0;
    while (pos < raw.size()) {
        size_t next = 0;
        size_t eol = lineEnd(pos, next);
        if (eol == std::string::npos) return false;
        if (eol == pos) {
            body = raw.substr(next);
            return true;
        }
        // One field: this line and its continuation lines.
        size_t end = eol;
        while (next < raw.size() && (raw[next] == ' ' || raw[next] == '\t')) {
            end = lineEnd(next, next);
            if (end == std::string::npos) return false;
        }
        std::string field = raw.substr(pos, end - pos);
        size_t colon = field.find(':');
        if (colon == std::string::npos) return false;
        headers.push_back({field.substr(0, colon), field.substr(colon + 1)});
        pos = next;
    }
    body.clear();
    return true;
}

std::vector<Message> corpus() {
    std::vector<Message> m;
    const std::string basic =
        "From: Alice Example <alice@example.com>\r\n"
        "To: bob@example.net\r\n"
        "Subject: Hello\r\n"
        "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
        "Message-ID: <fixture-1@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n";
    m.push_back({"basic", basic + "\r\nHello Bob.\r\n"});
    m.push_back({"folded-headers",
                 "From: \"Alice  Example\"\r\n\t <alice@example.com>\r\n"
                 "To: bob@example.net,\r\n carol@example.net,  \r\n\t dave@example.org\r\n"
                 "Subject:   A   subject\t with  runs \r\n"
                 "\tof whitespace   \r\n"
                 "  and two folds\t\r\n"
                 "X-Empty:\r\n"
                 "X-Blank: \r\n"
                 "X-Tabbed:\tvalue\t\r\n"
                 "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                 "\r\nBody\r\n"});
    m.push_back({"oversigned",
                 "Received: from a by b; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                 "From: alice@example.com\r\n"
                 "X-Tag: first\r\n"
                 "To: bob@example.net\r\n"
                 "X-Tag: second\r\n"
                 "Subject: oversigned\r\n"
                 "X-Tag: third\r\n"
                 "\r\nbody\r\n"});
    m.push_back({"case-of-names",
                 "FROM: alice@example.com\r\n"
                 "subject: lower-case name\r\n"
                 "tO: bob@example.net\r\n"
                 "\r\nbody\r\n"});
    m.push_back({"empty-body", basic + "\r\n"});
    m.push_back({"blank-lines-body", basic + "\r\n\r\n\r\n\r\n"});
    m.push_back({"whitespace-lines-body", basic + "\r\n \r\n\t\r\n  \t \r\n"});
    // libopendkim verifies these only with DKIM_LIBFLAGS_FIXCRLF ("nocrlf" in the name).
    m.push_back({"nocrlf-body", basic + "\r\nfirst line\r\nlast line without CRLF"});
    m.push_back({"nocrlf-tab-end", basic + "\r\n\r\n\tindented last line"});
    // Ends in whitespace without CRLF: the receiver sees the wire form, "...   \r\n".
    Message ws{"no-final-crlf-trailing-space", basic + "\r\nends with spaces   "};
    ws.wire = true;
    m.push_back(ws);
    Message bareLf{"bare-lf",
                   "From: alice@example.com\n"
                   "To: bob@example.net,\n\tcarol@example.net\n"
                   "Subject: bare LF\n  folded\n"
                   "\nline one\nline  two \n\n\nlast\n\n"};
    bareLf.wire = true;
    m.push_back(bareLf);
    m.push_back({"rfc6376-example", basic + "\r\n C \r\nD \t E\r\n\r\n\r\n"});
    m.push_back({"trailing-whitespace", basic + "\r\nline with trailing spaces   \r\n\tleading tab\r\n"
                                                "  runs   of\t\t whitespace  \r\n\r\nafter a blank line\r\n\r\n"});
    m.push_back({"eight-bit",
                 "From: =?utf-8?q?J=C3=BCrgen?= <j@example.com>\r\n"
                 "To: bob@example.net\r\n"
                 "Subject: Gr\xc3\xbc\xc3\x9f"
                 "e aus K\xc3\xb6ln\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n"
                 "\r\nGr\xc3\xbc\xc3\x9f"
                 "e, \xe2\x82\xac 5 \xf0\x9f\x98\x80\r\n"
                 "latin-1: \xe9\xe8\xff\xa0 \xa0\r\n"});
    Message bareCr{"bare-cr-in-line", basic + "\r\na\rb\r\nc \r d\r\n"};
    bareCr.simpleBodyOnly = true;
    m.push_back(bareCr);
    {
        std::string longLine(5000, 'x');
        for (size_t i = 0; i < longLine.size(); i += 7)
            longLine[i] = ' ';
        std::string big;
        for (int i = 0; i < 6000; ++i) {
            big += "line " + std::to_string(i) + (i % 3 == 0 ? "   \t" : "") + " of a large body\r\n";
            if (i % 500 == 0) big += "\r\n\r\n";
        }
        m.push_back(
            {"long-lines", basic + "\r\n" + longLine + "\r\n" + std::string(998, 'y') + "\r\n" + big + "\r\n\r\n"});
    }
    {
        std::string many = "From: alice@example.com\r\nTo: bob@example.net\r\n";
        for (int i = 0; i < 12; ++i) {
            many += "X-Long-Header-Name-Number-" + std::to_string(i) + ": v" + std::to_string(i) + "\r\n";
        }
        m.push_back({"many-headers", many + "Subject: many\r\n\r\nbody\r\n"});
    }
    return m;
}

std::vector<std::string> signedNames(const mail::HeaderFields& headers) {
    std::vector<std::string> names = {
        "From",  "Reply-To",   "Subject",      "Date",         "To",
        "Cc",    "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
        "X-Tag", "X-Empty",    "X-Blank",      "X-Tabbed"};
    for (const auto& h : headers) {
        if (h.name.rfind("X-Long-Header", 0) == 0) names.push_back(h.name);
    }
    return names;
}

bool writeFile(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary);
    out << data;
    return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: rampart-sign-fixture KEYDIR OUTDIR\n";
        return 2;
    }
    const std::string keyDir = argv[1];
    const std::string outDir = argv[2];
    dkim::KeyFileOptions opts;
    opts.requireSafe = false;
    auto rsa = dkim::loadKeyFile(keyDir + "/rsa2048.pem", opts);
    auto ed = dkim::loadKeyFile(keyDir + "/ed25519.pem", opts);
    if (!rsa || !ed) {
        std::cerr << (rsa ? ed.error() : rsa.error()) << "\n";
        return 2;
    }
    struct Signer {
        std::string selector;
        std::shared_ptr<const dkim::PrivateKey> key;
    };
    const std::vector<Signer> signers = {{"rsa2048", *rsa}, {"ed25519", *ed}};
    const std::string domain = "example.com";
    std::string keyLines;
    for (const auto& s : signers) {
        keyLines += s.selector + "._domainkey." + domain + " " + s.key->dnsRecord() + "\n";
    }
    if (!writeFile(outDir + "/keys.txt", keyLines)) {
        std::cerr << "cannot write " << outDir << "/keys.txt\n";
        return 2;
    }

    const dkim::Canon canons[] = {dkim::Canon::Simple, dkim::Canon::Relaxed};
    const auto now = std::chrono::system_clock::now();
    int written = 0;
    for (const Message& msg : corpus()) {
        mail::HeaderFields headers;
        std::string body;
        if (!splitMessage(msg.raw, headers, body)) {
            std::cerr << msg.name << ": fixture message does not parse\n";
            return 2;
        }
        for (dkim::Canon hc : canons) {
            for (dkim::Canon bc : canons) {
                if (msg.simpleBodyOnly && bc != dkim::Canon::Simple) continue;
                // The body hash must not depend on how the body is chunked.
                const dkim::Sha256 whole = dkim::hashBody(bc, body);
                for (size_t chunk : {size_t{1}, size_t{2}, size_t{3}, size_t{1000}, size_t{65536}}) {
                    dkim::BodyHasher h(bc);
                    for (size_t pos = 0; pos < body.size(); pos += chunk) {
                        h.update(std::string_view(body).substr(pos, chunk));
                    }
                    if (h.finish() != whole) {
                        std::cerr << msg.name << ": body hash differs with chunks of " << chunk << "\n";
                        return 1;
                    }
                }
                std::vector<std::string> sigs;
                for (const auto& s : signers) {
                    dkim::SignatureSpec spec;
                    spec.domain = domain;
                    spec.selector = s.selector;
                    spec.key = s.key;
                    spec.canon = {hc, bc};
                    spec.signedHeaders = signedNames(headers);
                    spec.oversignedHeaders = {"From", "Subject", "To", "Cc"};
                    spec.ttl = std::chrono::hours(24 * 7);
                    auto value = dkim::signMessage(headers, whole, spec, now);
                    if (!value) {
                        std::cerr << msg.name << ": " << value.error() << "\n";
                        return 1;
                    }
                    sigs.push_back("DKIM-Signature:" + *value + "\r\n");
                }
                const std::string tag = std::string(hc == dkim::Canon::Simple ? "simple" : "relaxed") + "-" +
                                        (bc == dkim::Canon::Simple ? "simple" : "relaxed");
                const std::string out = msg.wire ? wireForm(msg.raw) : msg.raw;
                for (size_t i = 0; i < signers.size(); ++i) {
                    const std::string path =
                        outDir + "/" + msg.name + "." + tag + "." + signers[i].selector + ".1sig.eml";
                    if (!writeFile(path, sigs[i] + out)) return 2;
                    ++written;
                }
                const std::string dual = outDir + "/" + msg.name + "." + tag + ".dual.2sig.eml";
                if (!writeFile(dual, sigs[1] + sigs[0] + out)) return 2;
                ++written;
            }
        }
    }
    std::cout << "wrote " << written << " signed messages to " << outDir << "\n";
    return 0;
}
