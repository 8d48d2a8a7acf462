// Golden DKIM signatures: a fixed message, fixed keys and a fixed time must give byte-for-byte
// the committed DKIM-Signature fields (RSASSA-PKCS1-v1_5 and Ed25519 are deterministic), for all
// four canonicalisation pairs. The committed values were checked with libopendkim and dkimpy
// (tests/tools/run_independent_verifiers.sh verifies them again on every run).
//
// To regenerate after an intended change of output: RAMPART_UPDATE_GOLDEN=1 rampart_unit_tests
// "[golden]", then review the diff and re-run the verifiers.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "dkim/signer.h"

using namespace rampart;
using namespace rampart::dkim;

namespace {

const std::string kDir = std::string(RAMPART_SOURCE_DIR) + "/tests/golden/dkim";

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Header fields (HeaderField convention) and body of a CRLF message.
void splitMessage(const std::string& raw, mail::HeaderFields& headers, std::string& body) {
    size_t pos = 0;
    while (true) {
        size_t eol = raw.find("\r\n", pos);
        REQUIRE(eol != std::string::npos);
        if (eol == pos) {
            body = raw.substr(eol + 2);
            return;
        }
        size_t end = eol;
        while (end + 2 < raw.size() && (raw[end + 2] == ' ' || raw[end + 2] == '\t')) {
            end = raw.find("\r\n", end + 2);
            REQUIRE(end != std::string::npos);
        }
        const std::string field = raw.substr(pos, end - pos);
        const size_t colon = field.find(':');
        REQUIRE(colon != std::string::npos);
        headers.push_back({field.substr(0, colon), field.substr(colon + 1)});
        pos = end + 2;
    }
}

}  // namespace

TEST_CASE("golden DKIM signatures, byte for byte", "[dkim][golden]") {
    const std::string message = readFile(kDir + "/message.eml");
    mail::HeaderFields headers;
    std::string body;
    splitMessage(message, headers, body);
    REQUIRE(headers.size() == 11);

    const bool update = std::getenv("RAMPART_UPDATE_GOLDEN") != nullptr;
    const auto when = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
    for (const char* keyName : {"rsa2048", "ed25519"}) {
        auto key = PrivateKey::fromPem(readFile(kDir + "/keys/" + keyName + ".pem"));
        REQUIRE(key);
        for (Canon hc : {Canon::Simple, Canon::Relaxed}) {
            for (Canon bc : {Canon::Simple, Canon::Relaxed}) {
                SignatureSpec spec;
                spec.domain = "example.com";
                spec.selector = keyName;
                spec.key = *key;
                spec.canon = {hc, bc};
                spec.signedHeaders = {"From",         "To",           "Subject",      "Date",
                                      "Message-ID",   "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
                                      "X-Mailer-Tag", "Reply-To"};
                spec.oversignedHeaders = {"From", "Subject"};
                // The milter's way: the body in chunks, a CRLF split between two of them.
                BodyHasher hasher(bc);
                for (size_t pos = 0; pos < body.size(); pos += 7) {
                    hasher.update(std::string_view(body).substr(pos, 7));
                }
                auto value = signMessage(headers, hasher.finish(), spec, when);
                REQUIRE(value);
                std::string canon = spec.canon.str();
                canon[canon.find('/')] = '-';
                const std::string file = kDir + "/expected/" + keyName + "." + canon + ".sig";
                const std::string actual = "DKIM-Signature:" + *value + "\r\n";
                if (update) {
                    std::ofstream(file, std::ios::binary) << actual;
                    WARN("rewrote " << file);
                }
                INFO(file);
                CHECK(actual == readFile(file));
            }
        }
    }
}
