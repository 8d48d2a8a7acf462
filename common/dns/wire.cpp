// Bounds-checked scan of a DNS message's answer and authority sections for TTLs (see wire.h).
#include "dns/wire.h"

#include <algorithm>

namespace rampart::dns::wire {

namespace {

constexpr size_t kHeaderSize = 12;
constexpr uint16_t kTypeSoa = 6;
constexpr uint32_t kMaxTtl = 0x7fffffffU;

class Reader {
  public:
    Reader(const unsigned char* data, size_t length) : data_(data), length_(length) {}

    bool u16(uint16_t& out) {
        if (pos_ > length_ || length_ - pos_ < 2) return false;
        out = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
        pos_ += 2;
        return true;
    }
    bool u32(uint32_t& out) {
        if (pos_ > length_ || length_ - pos_ < 4) return false;
        out = (static_cast<uint32_t>(data_[pos_]) << 24) | (static_cast<uint32_t>(data_[pos_ + 1]) << 16) |
              (static_cast<uint32_t>(data_[pos_ + 2]) << 8) | static_cast<uint32_t>(data_[pos_ + 3]);
        pos_ += 4;
        return true;
    }
    bool skip(size_t n) {
        if (pos_ > length_ || length_ - pos_ < n) return false;
        pos_ += n;
        return true;
    }
    // Skips a possibly compressed domain name without following pointers: a pointer ends the name.
    bool skipName() {
        for (;;) {
            if (pos_ >= length_) return false;
            const unsigned char len = data_[pos_];
            if (len == 0) {
                ++pos_;
                return true;
            }
            if ((len & 0xc0) == 0xc0) return skip(2);
            if ((len & 0xc0) != 0) return false;  // 0x40/0x80: obsolete or reserved label types
            if (!skip(1u + len)) return false;
        }
    }
    size_t pos() const { return pos_; }

  private:
    const unsigned char* data_;
    size_t length_;
    size_t pos_ = 0;
};

uint32_t clampTtl(uint32_t ttl) {
    return ttl > kMaxTtl ? 0 : ttl;
}

}  // namespace

util::Result<TtlInfo> scanTtls(const unsigned char* message, size_t length) {
    if (message == nullptr || length < kHeaderSize) return util::err("DNS message shorter than its header");
    Reader r(message, length);
    uint16_t id = 0, flags = 0, qdCount = 0, anCount = 0, nsCount = 0, arCount = 0;
    if (!r.u16(id) || !r.u16(flags) || !r.u16(qdCount) || !r.u16(anCount) || !r.u16(nsCount) || !r.u16(arCount)) {
        return util::err("DNS message shorter than its header");
    }
    for (uint16_t i = 0; i < qdCount; ++i) {
        if (!r.skipName() || !r.skip(4)) return util::err("truncated question section");
    }
    TtlInfo info;
    for (uint16_t i = 0; i < anCount; ++i) {
        uint16_t type = 0, klass = 0, rdLength = 0;
        uint32_t ttl = 0;
        if (!r.skipName() || !r.u16(type) || !r.u16(klass) || !r.u32(ttl) || !r.u16(rdLength) || !r.skip(rdLength)) {
            return util::err("truncated answer section");
        }
        ttl = clampTtl(ttl);
        info.answer = info.answer ? std::min(*info.answer, ttl) : ttl;
    }
    for (uint16_t i = 0; i < nsCount; ++i) {
        uint16_t type = 0, klass = 0, rdLength = 0;
        uint32_t ttl = 0;
        if (!r.skipName() || !r.u16(type) || !r.u16(klass) || !r.u32(ttl) || !r.u16(rdLength)) {
            return util::err("truncated authority section");
        }
        const size_t rdStart = r.pos();
        if (type == kTypeSoa && !info.negative) {
            // MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM, all inside RDLENGTH.
            Reader rd(message + rdStart, std::min<size_t>(rdLength, length - rdStart));
            uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
            if (!rd.skipName() || !rd.skipName() || !rd.u32(serial) || !rd.u32(refresh) || !rd.u32(retry) ||
                !rd.u32(expire) || !rd.u32(minimum)) {
                return util::err("malformed SOA record in the authority section");
            }
            info.negative = std::min(clampTtl(ttl), clampTtl(minimum));
        }
        if (!r.skip(rdLength)) return util::err("truncated authority section");
    }
    return info;
}

}  // namespace rampart::dns::wire
