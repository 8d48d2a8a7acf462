// The bounds of one policy connection (policyd/connection_bounds.h, Rampart issue 9): the read
// buffer drops what was parsed however requests fall across reads, when reading stops and resumes,
// when a client is given up, and the per-peer connection counts.
#include "policyd/connection_bounds.h"

#include <catch2/catch.hpp>
#include <string>

#include "policyd/protocol.h"

using namespace rampart::policyd;

namespace {

const std::string kRequest = "request=smtpd_access_policy\nprotocol_state=CONNECT\n\n";

// Feeds `total` pipelined requests in reads of `chunk` bytes, parsing as the server does; returns the
// most bytes the buffer ever held.
size_t feed(size_t total, size_t chunk, size_t& parsed) {
    std::string stream;
    for (size_t i = 0; i < total; ++i)
        stream += kRequest;
    InputBuffer buffer;
    ProtocolLimits limits;
    size_t most = 0;
    parsed = 0;
    for (size_t pos = 0; pos < stream.size(); pos += chunk) {
        const size_t n = std::min(chunk, stream.size() - pos);
        buffer.append(stream.data() + pos, n);
        most = std::max(most, buffer.stored());
        while (true) {
            Request req;
            auto r = parseRequest(buffer.unread(), limits, req);
            if (r.status != ParseStatus::Complete) break;
            buffer.consume(r.consumed);
            ++parsed;
        }
    }
    return most;
}

}  // namespace

TEST_CASE("the read buffer stays small when requests always end mid-read") {
    for (size_t chunk : {size_t{1}, size_t{7}, size_t{1000}, size_t{8192}}) {
        size_t parsed = 0;
        const size_t most = feed(20000, chunk, parsed);
        CAPTURE(chunk);
        CHECK(parsed == 20000);
        // At most a read chunk plus twice an unfinished request: never the whole stream (1 MB).
        CHECK(most <= chunk + 2 * kRequest.size() + chunk);
    }
}

TEST_CASE("consume drops everything when all is parsed and the prefix once it is half") {
    InputBuffer b;
    b.append("abcdef", 6);
    b.consume(2);
    CHECK(b.unread() == "cdef");
    CHECK(b.stored() == 6);
    b.consume(1);  // 3 of 6 consumed: the prefix goes
    CHECK(b.unread() == "def");
    CHECK(b.stored() == 3);
    b.consume(3);
    CHECK(b.empty());
    CHECK(b.stored() == 0);
    b.consume(5);  // nothing to consume: no harm
    CHECK(b.empty());
}

TEST_CASE("reading waits for backed-up replies and for a buffered request, and resumes") {
    FlowLimits f;
    f.maxRequestBytes = 16 * 1024;
    f.maxPendingReplies = 64 * 1024;
    CHECK(f.mayRead(0, 0));
    CHECK(f.mayRead(16 * 1024, 64 * 1024 - 1));
    CHECK_FALSE(f.mayRead(0, 64 * 1024));      // the client does not read its replies
    CHECK_FALSE(f.mayRead(16 * 1024 + 1, 0));  // a whole request waits (an MX lookup runs)
    CHECK(f.mayRead(100, 10));                 // drained: read again
    CHECK(f.hardPendingLimit() == 256 * 1024);
    CHECK_FALSE(f.overHardLimit(256 * 1024));
    CHECK(f.overHardLimit(256 * 1024 + 1));
}

TEST_CASE("per-peer counts refuse past the limit and free slots on release") {
    PeerCounts p;
    CHECK(p.acquire("uid 110", 2));
    CHECK(p.acquire("uid 110", 2));
    CHECK_FALSE(p.acquire("uid 110", 2));
    CHECK(p.acquire("127.0.0.1", 2));  // another peer has its own count
    CHECK(p.count("uid 110") == 2);
    p.release("uid 110");
    CHECK(p.acquire("uid 110", 2));
    p.release("127.0.0.1");
    CHECK(p.count("127.0.0.1") == 0);
    CHECK(p.peers() == 1);
    p.release("nobody");  // unknown: no harm
    CHECK(p.peers() == 1);
}
