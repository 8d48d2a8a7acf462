// Base64 encoding and decoding (RFC 4648 section 4). One decoding loop serves both the strict
// decoder (DKIM keys and signatures) and the lenient one (MIME bodies), so they cannot drift apart.
#include "util/base64.h"

#include "util/strings.h"

namespace rampart::util {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int valueOf(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// Decodes `text` into `out`. Lenient: never fails (see base64DecodeLenient). Strict: returns the
// error text, "" when the input is valid.
std::string decode(std::string_view text, bool lenient, std::string& out) {
    out.reserve(text.size() / 4 * 3 + 3);
    uint32_t acc = 0;
    int bits = 0;
    size_t symbols = 0;
    size_t padding = 0;
    for (char c : text) {
        if (!lenient && isSpace(c)) continue;
        if (c == '=') {
            if (lenient) {
                bits = 0;
                acc = 0;
            } else {
                ++padding;
            }
            continue;
        }
        if (padding > 0) return "base64: data after '=' padding";
        const int v = valueOf(c);
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
    if (lenient) return {};
    if (symbols % 4 == 1) return "base64: truncated data";
    if (padding > 2 || (padding > 0 && (symbols + padding) % 4 != 0)) return "base64: bad '=' padding";
    return {};
}

}  // namespace

std::string base64Encode(const uint8_t* data, size_t len) {
    std::string out;
    out.reserve((len + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(kAlphabet[(v >> 6) & 63]);
        out.push_back(kAlphabet[v & 63]);
    }
    if (len - i == 1) {
        uint32_t v = uint32_t{data[i]} << 16;
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.append("==");
    } else if (len - i == 2) {
        uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(kAlphabet[(v >> 6) & 63]);
        out.push_back('=');
    }
    return out;
}

std::string base64Encode(std::string_view bytes) {
    return base64Encode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

Result<std::string> base64Decode(std::string_view text) {
    std::string out;
    std::string error = decode(text, false, out);
    if (!error.empty()) return err(std::move(error));
    return out;
}

std::string base64DecodeLenient(std::string_view text) {
    std::string out;
    decode(text, true, out);
    return out;
}

}  // namespace rampart::util
