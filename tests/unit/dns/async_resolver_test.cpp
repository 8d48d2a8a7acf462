// dns::AsyncResolver driven by a poll() loop, as an event loop would, against dnsmasq on loopback.
#include "dns/async_resolver.h"

#include <poll.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>

#include "dnsmasq_fixture.h"

using namespace rampart::dns;
using rampart::testing::LoopbackDns;
using rampart::testing::SilentDns;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<AsyncResolver> make(const std::string& server, std::chrono::milliseconds timeout = 3000ms) {
    ResolverOptions o;
    o.servers = {server};
    o.timeout = timeout;
    auto r = AsyncResolver::create(o);
    INFO((r.ok() ? std::string() : r.error()));
    REQUIRE(r);
    return std::move(r).value();
}

// The event loop: watch what sockets() reports, honour nextTimeout(), until nothing is pending.
// Returns the number of loop iterations.
int drive(AsyncResolver& r, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int rounds = 0;
    while (r.pending() > 0) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        const auto timeout = r.nextTimeout();
        REQUIRE(timeout);  // something is pending, so a timer is due
        CHECK(*timeout <= r.timeout() + 1ms);
        std::vector<pollfd> fds;
        for (const auto& s : r.sockets()) {
            fds.push_back({s.fd, static_cast<short>((s.read ? POLLIN : 0) | (s.write ? POLLOUT : 0)), 0});
        }
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(timeout->count()));
        REQUIRE(n >= 0);
        if (n == 0) r.process(-1, -1);
        for (const auto& p : fds) {
            if (p.revents == 0) continue;
            r.process((p.revents & (POLLIN | POLLERR | POLLHUP)) ? p.fd : -1, (p.revents & POLLOUT) ? p.fd : -1);
        }
        ++rounds;
    }
    return rounds;
}

}  // namespace

TEST_CASE("async: MX and TXT lookups complete through the event loop", "[dns][async]") {
    LoopbackDns dns;
    dns.mx("example.test", "mx2.example.test", 20).mx("example.test", "MX1.example.test", 10);
    dns.txt("example.test", "v=spf1 -all").txt("big.test", std::string(1500, 'b'));
    dns.start();
    auto r = make(dns.address());
    CHECK(r->pending() == 0);
    CHECK_FALSE(r->nextTimeout());
    CHECK(r->serverList() == dns.address());

    std::optional<MxAnswer> mx;
    std::optional<TxtAnswer> txt, big, chained;
    r->lookupMx("example.test", [&](MxAnswer a) { mx = std::move(a); });
    r->lookupTxt("example.test", [&](TxtAnswer a) {
        txt = std::move(a);
        // A callback may start the next lookup.
        r->lookupTxt("big.test", [&](TxtAnswer b) { big = std::move(b); });
    });
    r->lookupTxt("none.test", [&](TxtAnswer a) { chained = std::move(a); });
    CHECK(r->pending() == 3);
    CHECK(r->nextTimeout());
    CHECK_FALSE(r->sockets().empty());
    CHECK_FALSE(mx);  // nothing completes before the loop runs

    drive(*r);
    REQUIRE(mx);
    REQUIRE(mx->status == Status::Ok);
    REQUIRE(mx->records.size() == 2);
    CHECK(mx->records[0].host == "mx1.example.test");
    CHECK(mx->records[0].preference == 10);
    CHECK(mx->records[1].host == "mx2.example.test");
    CHECK(mx->ttl == 300);
    REQUIRE(txt);
    CHECK(txt->records == std::vector<std::string>{"v=spf1 -all"});
    REQUIRE(big);  // started from a callback, over TCP (1500 bytes)
    REQUIRE(big->status == Status::Ok);
    CHECK(big->records == std::vector<std::string>{std::string(1500, 'b')});
    REQUIRE(chained);
    CHECK(chained->status == Status::NxDomain);
    CHECK(r->pending() == 0);
    CHECK_FALSE(r->nextTimeout());
}

TEST_CASE("async: the socket callback mirrors sockets()", "[dns][async]") {
    LoopbackDns dns;
    dns.txt("a.test", "a").txt("b.test", std::string(800, 'z'));  // b: truncated over UDP, then TCP
    dns.start();
    auto r = make(dns.address());
    std::map<int, std::pair<bool, bool>> watched;
    int opened = 0, closed = 0, writeInterest = 0;
    r->onSocketChange([&](int fd, bool read, bool write) {
        if (!read && !write) {
            CHECK(watched.erase(fd) == 1);
            ++closed;
            return;
        }
        if (watched.count(fd) == 0) ++opened;
        if (write) ++writeInterest;
        watched[fd] = {read, write};
    });
    auto matches = [&] {
        const auto now = r->sockets();
        if (now.size() != watched.size()) return false;
        for (const auto& s : now) {
            auto it = watched.find(s.fd);
            if (it == watched.end() || it->second != std::make_pair(s.read, s.write)) return false;
        }
        return true;
    };
    std::optional<TxtAnswer> a, b;
    r->lookupTxt("a.test", [&](TxtAnswer x) { a = std::move(x); });
    r->lookupTxt("b.test", [&](TxtAnswer x) { b = std::move(x); });
    CHECK(matches());
    drive(*r);
    CHECK(matches());
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->status == Status::Ok);
    REQUIRE(b->status == Status::Ok);
    CHECK(b->records.at(0).size() == 800);
    CHECK(opened >= 2);         // the UDP socket and the TCP connection
    CHECK(writeInterest >= 1);  // the TCP connect/send waits for writability
    r->onSocketChange(nullptr);
    r.reset();  // closes the remaining sockets without calling the (removed) callback
}

TEST_CASE("async: cancelAll completes every pending lookup with the given status", "[dns][async]") {
    SilentDns silent;
    auto r = make(silent.address());
    std::vector<TxtAnswer> txts;
    std::vector<MxAnswer> mxs;
    r->lookupTxt("a.test", [&](TxtAnswer a) { txts.push_back(std::move(a)); });
    r->lookupMx("b.test", [&](MxAnswer a) { mxs.push_back(std::move(a)); });
    CHECK(r->pending() == 2);
    r->cancelAll(Status::Error, "shutting down");
    CHECK(r->pending() == 0);
    REQUIRE(txts.size() == 1);
    REQUIRE(mxs.size() == 1);
    CHECK(txts[0].status == Status::Error);
    CHECK(txts[0].error == "shutting down");
    CHECK(mxs[0].status == Status::Error);
    CHECK(mxs[0].error == "shutting down");
    CHECK_FALSE(r->nextTimeout());
}

TEST_CASE("async: destruction drops pending callbacks without calling them", "[dns][async]") {
    SilentDns silent;
    auto token = std::make_shared<int>(42);
    bool called = false;
    {
        auto r = make(silent.address());
        r->lookupTxt("a.test", [&called, token](TxtAnswer) { called = true; });
        r->lookupMx("b.test", [&called, token](MxAnswer) { called = true; });
        CHECK(token.use_count() == 3);
    }
    CHECK_FALSE(called);
    CHECK(token.use_count() == 1);  // the callbacks (and what they captured) were destroyed
}

TEST_CASE("async: a silent server times out within the configured time", "[dns][async]") {
    SilentDns silent;
    auto r = make(silent.address(), 300ms);
    std::optional<MxAnswer> mx;
    const auto start = std::chrono::steady_clock::now();
    r->lookupMx("example.test", [&](MxAnswer a) { mx = std::move(a); });
    const int rounds = drive(*r, 2000ms);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    REQUIRE(mx);
    CHECK(mx->status == Status::Timeout);
    CHECK(mx->error == "no answer from " + silent.address() + " within 300 ms");
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 900ms);
    CHECK(rounds <= 4);  // one wake-up per try (100 ms, then 200 ms): nextTimeout() never spins
}

TEST_CASE("async: an exception from a callback reaches the caller of process()", "[dns][async]") {
    LoopbackDns dns;
    dns.txt("a.test", "a").txt("b.test", "b");
    dns.start();
    auto r = make(dns.address());
    r->lookupTxt("a.test", [](TxtAnswer) { throw std::runtime_error("callback failed"); });
    CHECK_THROWS_WITH(drive(*r), "callback failed");
    CHECK(r->pending() == 0);

    std::optional<TxtAnswer> b;  // still usable afterwards
    r->lookupTxt("b.test", [&](TxtAnswer a) { b = std::move(a); });
    drive(*r);
    REQUIRE(b);
    CHECK(b->records == std::vector<std::string>{"b"});

    // An invalid name completes inside lookupTxt(), so its exception comes from there.
    CHECK_THROWS_WITH(r->lookupTxt("", [](TxtAnswer) { throw std::runtime_error("now"); }), "now");
    std::optional<TxtAnswer> bad;
    r->lookupTxt("", [&](TxtAnswer a) { bad = std::move(a); });
    REQUIRE(bad);
    CHECK(bad->status == Status::Error);
    CHECK(r->pending() == 0);
}

TEST_CASE("async: create() reports bad options", "[dns][async]") {
    ResolverOptions o;
    o.servers = {"127.0.0.1:53", "not-an-ip"};
    auto r = AsyncResolver::create(o);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error(), Catch::Contains("not-an-ip"));
    o.servers = {"127.0.0.1"};
    o.timeout = 0ms;
    r = AsyncResolver::create(o);
    REQUIRE_FALSE(r);
    CHECK(r.error() == "the DNS timeout must be positive");
    o.servers = {"127.0.0.1", "[::1]:5353"};
    o.timeout = 1000ms;
    r = AsyncResolver::create(o);
    REQUIRE(r);
    CHECK((*r)->serverList() == "127.0.0.1:53, [::1]:5353");
    CHECK((*r)->timeout() == 1000ms);
}
