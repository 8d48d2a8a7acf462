// Base64 encoding and decoding (RFC 4648 sections 4 and 5). One encoding loop serves base64 and
// base64url, one decoding loop serves the strict decoder (DKIM keys and signatures), the lenient one
// (MIME bodies) and the base64url one (tokens), so they cannot drift apart.
#include "util/base64.h"

#include "util/strings.h"

namespace rampart::util {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The value of a symbol of `alphabet` (kAlphabet or kUrlAlphabet), -1 for any other byte.
int valueOf(char c, const char* alphabet) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == alphabet[62]) return 62;
    if (c == alphabet[63]) return 63;
    return -1;
}

enum class Mode { Strict, Lenient, Url };

// Decodes `text` into `out`. Lenient: never fails (see base64DecodeLenient). Strict and Url: return
// the error text, "" when the input is valid.
std::string decode(std::string_view text, Mode mode, std::string& out) {
    const bool lenient = mode == Mode::Lenient;
    const char* alphabet = mode == Mode::Url ? kUrlAlphabet : kAlphabet;
    out.reserve(text.size() / 4 * 3 + 3);
    uint32_t acc = 0;
    int bits = 0;
    size_t symbols = 0;
    size_t padding = 0;
    for (char c : text) {
        if (mode == Mode::Strict && isSpace(c)) continue;
        if (c == '=' && mode != Mode::Url) {
            if (lenient) {
                bits = 0;
                acc = 0;
            } else {
                ++padding;
            }
            continue;
        }
        if (padding > 0) return "base64: data after '=' padding";
        const int v = valueOf(c, alphabet);
        if (v < 0) {
            if (lenient) continue;
            return "base64: invalid character '" + printable(std::string(1, c)) + "'";
        }
        ++symbols;
        acc = ((acc << 6) | static_cast<uint32_t>(v)) & 0xFFFFFFu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFFu));
        }
    }
    if (mode != Mode::Strict) return {};
    if (symbols % 4 == 1) return "base64: truncated data";
    if (padding > 2 || (padding > 0 && (symbols + padding) % 4 != 0)) return "base64: bad '=' padding";
    return {};
}

// The base64 of the bytes in `alphabet`; `pad`: '=' fills the final quantum to four symbols.
std::string encode(const uint8_t* data, size_t len, const char* alphabet, bool pad) {
    std::string out;
    out.reserve((len + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
        out.push_back(alphabet[v & 63]);
    }
    if (len - i == 1) {
        uint32_t v = uint32_t{data[i]} << 16;
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        if (pad) out.append("==");
    } else if (len - i == 2) {
        uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
        out.push_back(alphabet[(v >> 18) & 63]);
        out.push_back(alphabet[(v >> 12) & 63]);
        out.push_back(alphabet[(v >> 6) & 63]);
        if (pad) out.push_back('=');
    }
    return out;
}

}  // namespace

std::string base64Encode(const uint8_t* data, size_t len) {
    return encode(data, len, kAlphabet, true);
}

std::string base64Encode(std::string_view bytes) {
    return base64Encode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

Result<std::string> base64Decode(std::string_view text) {
    std::string out;
    std::string error = decode(text, Mode::Strict, out);
    if (!error.empty()) return err(std::move(error));
    return out;
}

std::string base64DecodeLenient(std::string_view text) {
    std::string out;
    decode(text, Mode::Lenient, out);
    return out;
}

std::string base64UrlEncode(std::string_view bytes) {
    return encode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), kUrlAlphabet, false);
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
    std::string out;
    if (!decode(text, Mode::Url, out).empty()) return std::nullopt;
    return out;
}

}  // namespace rampart::util
