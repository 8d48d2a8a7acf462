// 64-bit hashing of short keys for the suppression index's fingerprints, after wyhash (final
// version 4, public domain): a 64x64->128-bit multiply folds 16 input bytes per step. Far faster than
// SipHash for the ~30-byte keys here; the index is in-process and keyed by data the operator
// controls, so hash flooding is not a concern. Inline: it is on every lookup's path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace rampart::suppress::detail {

__extension__ typedef unsigned __int128 U128;

constexpr uint64_t kS0 = 0x2d358dccaa6c78a5ULL;
constexpr uint64_t kS1 = 0x8bb84b93962eacc9ULL;
constexpr uint64_t kS2 = 0x4b33a62ed433d4a3ULL;
constexpr uint64_t kS3 = 0x4d5a2da51de1aa47ULL;

inline void mum(uint64_t& a, uint64_t& b) {
    U128 r = a;
    r *= b;
    a = static_cast<uint64_t>(r);
    b = static_cast<uint64_t>(r >> 64);
}
inline uint64_t mix(uint64_t a, uint64_t b) {
    mum(a, b);
    return a ^ b;
}
inline uint64_t read8(const unsigned char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}
inline uint64_t read4(const unsigned char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

inline uint64_t hash64(std::string_view key, uint64_t seed) {
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    const size_t len = key.size();
    seed ^= mix(seed ^ kS0, kS1);
    uint64_t a = 0, b = 0;
    if (len <= 16) {
        if (len >= 4) {
            const size_t q = (len >> 3) << 2;
            a = (read4(p) << 32) | read4(p + q);
            b = (read4(p + len - 4) << 32) | read4(p + len - 4 - q);
        } else if (len > 0) {
            a = (uint64_t{p[0]} << 16) | (uint64_t{p[len >> 1]} << 8) | p[len - 1];
        }
    } else {
        size_t i = len;
        if (i > 48) {
            uint64_t s1 = seed, s2 = seed;
            do {
                seed = mix(read8(p) ^ kS1, read8(p + 8) ^ seed);
                s1 = mix(read8(p + 16) ^ kS2, read8(p + 24) ^ s1);
                s2 = mix(read8(p + 32) ^ kS3, read8(p + 40) ^ s2);
                p += 48;
                i -= 48;
            } while (i > 48);
            seed ^= s1 ^ s2;
        }
        while (i > 16) {
            seed = mix(read8(p) ^ kS1, read8(p + 8) ^ seed);
            i -= 16;
            p += 16;
        }
        // The last 16 bytes of the key (overlapping what was hashed when i < 16).
        a = read8(p + i - 16);
        b = read8(p + i - 8);
    }
    a ^= kS1;
    b ^= seed;
    mum(a, b);
    return mix(a ^ kS0 ^ len, b ^ kS1);
}

}  // namespace rampart::suppress::detail
