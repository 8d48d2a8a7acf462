// dns::Resolver against a real DNS server on loopback (dnsmasq, see dnsmasq_fixture.h).
#include "dns/resolver.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>

#include "dnsmasq_fixture.h"

using namespace rampart::dns;
using rampart::testing::LoopbackDns;
using rampart::testing::SilentDns;
using namespace std::chrono_literals;

namespace {

ResolverOptions at(const std::string& server, std::chrono::milliseconds timeout = 3000ms) {
    ResolverOptions o;
    o.servers = {server};
    o.timeout = timeout;
    return o;
}

TxtAnswer txt1(Resolver& r, const std::string& name) {
    return r.lookupTxt({name}).at(0);
}
MxAnswer mx1(Resolver& r, const std::string& name) {
    return r.lookupMx({name}).at(0);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

}  // namespace

TEST_CASE("TXT records: single, multi-string, long and several at one name", "[dns]") {
    const std::string dkim2048 = "v=DKIM1; k=rsa; p=" + std::string(392, 'A');  // the size of an RSA-2048 DKIM record
    const std::string huge(3000, 'x');  // over 512 bytes: UDP truncated, then TCP
    LoopbackDns dns;
    dns.txt("single.test", "hello world")
        .txtStrings("multi.test", {"v=DKIM1; k=ed25519; ", "", "p=abc", " def"})
        .txt("long.test", dkim2048)
        .txt("huge.test", huge)
        .txt("two.test", "first")
        .txt("two.test", "second")
        .txtStrings("empty.test", {""})
        .txt("Mixed.Case.test", "case");
    dns.start();
    Resolver r(at(dns.address()));

    auto a = txt1(r, "single.test");
    CHECK(a.status == Status::Ok);
    CHECK(a.records == std::vector<std::string>{"hello world"});
    CHECK(a.ttl == 300);
    CHECK(a.error.empty());

    a = txt1(r, "multi.test");
    REQUIRE(a.status == Status::Ok);
    CHECK(a.records == std::vector<std::string>{"v=DKIM1; k=ed25519; p=abc def"});

    a = txt1(r, "long.test");
    REQUIRE(a.status == Status::Ok);
    REQUIRE(a.records.size() == 1);
    CHECK(a.records[0].size() == dkim2048.size());
    CHECK(a.records[0] == dkim2048);

    a = txt1(r, "huge.test");
    INFO(a.error);
    REQUIRE(a.status == Status::Ok);
    REQUIRE(a.records.size() == 1);
    CHECK(a.records[0] == huge);

    a = txt1(r, "two.test");
    REQUIRE(a.status == Status::Ok);
    CHECK(sorted(a.records) == std::vector<std::string>{"first", "second"});

    a = txt1(r, "empty.test");
    REQUIRE(a.status == Status::Ok);
    CHECK(a.records == std::vector<std::string>{""});

    a = txt1(r, "mixed.CASE.test.");  // DNS names are case-insensitive; a trailing dot is absolute
    REQUIRE(a.status == Status::Ok);
    CHECK(a.records == std::vector<std::string>{"case"});
}

TEST_CASE("negative answers: no data, nxdomain, refused, malformed", "[dns]") {
    LoopbackDns dns;
    dns.txt("txtonly.test", "x").a("txtonly.test", "192.0.2.1");
    dns.mx("mxonly.test", "mx.example.test", 10);
    dns.txtRdata("broken.test", std::string("\x05"
                                            "abc",
                                            4));  // string length beyond the RDATA
    dns.start();
    Resolver r(at(dns.address()));

    auto a = txt1(r, "mxonly.test");
    CHECK(a.status == Status::NoData);
    CHECK(a.records.empty());
    CHECK(a.ttl == 0);  // dnsmasq sends no SOA here

    auto m = mx1(r, "txtonly.test");
    CHECK(m.status == Status::NoData);
    CHECK(m.records.empty());

    a = txt1(r, "nothing-here.test");
    CHECK(a.status == Status::NxDomain);
    CHECK(a.records.empty());
    CHECK(std::string(statusName(a.status)) == "nxdomain");

    a = txt1(r, "outside.example");  // not in the local zone and no upstream: REFUSED
    CHECK(a.status == Status::Error);
    CHECK_THAT(a.error, Catch::Contains("REFUSED") && Catch::Contains(dns.address()));

    a = txt1(r, "broken.test");
    CHECK(a.status == Status::Error);
    CHECK_THAT(a.error, Catch::Contains("malformed"));
    CHECK(a.records.empty());
}

TEST_CASE("a CNAME is followed and the smallest TTL of the chain is reported", "[dns]") {
    LoopbackDns dns;
    dns.txt("target.test", "via alias").cname("alias.test", "target.test", 60).ttl(300);
    dns.mx("host.test", "mx.example.test", 5).cname("mxalias.test", "host.test", 45);
    dns.a("addr.test", "192.0.2.7").cname("addralias.test", "addr.test", 30);
    dns.start();
    Resolver r(at(dns.address()));

    auto a = txt1(r, "alias.test");
    REQUIRE(a.status == Status::Ok);
    CHECK(a.records == std::vector<std::string>{"via alias"});
    CHECK(a.ttl == 60);
    CHECK(txt1(r, "target.test").ttl == 300);

    auto m = mx1(r, "mxalias.test");
    REQUIRE(m.status == Status::Ok);
    CHECK(m.ttl == 45);

    a = txt1(r, "addralias.test");  // the answer holds only the CNAME: no TXT at the end of it
    CHECK(a.status == Status::NoData);
    CHECK(a.records.empty());
}

TEST_CASE("negative answers carry the SOA's negative TTL", "[dns]") {
    LoopbackDns dns;
    dns.authoritative(500).txt("present.test", "here");
    dns.start();
    Resolver r(at(dns.address()));

    auto a = txt1(r, "present.test");
    REQUIRE(a.status == Status::Ok);
    CHECK(a.ttl == 500);
    a = txt1(r, "absent.test");
    CHECK(a.status == Status::NxDomain);
    CHECK(a.ttl == 500);
    auto m = mx1(r, "present.test");
    CHECK(m.status == Status::NoData);
    CHECK(m.ttl == 500);
}

TEST_CASE("MX records are sorted by preference, lower-cased, with their TTL", "[dns]") {
    LoopbackDns dns;
    dns.ttl(120)
        .mx("mail.test", "MX2.Example.TEST", 20)
        .mx("mail.test", "mx1b.example.test", 10)
        .mx("mail.test", "mx1a.example.test", 10)
        .mx("mail.test", "backup.example.test", 65535);
    dns.start();
    Resolver r(at(dns.address()));

    auto m = mx1(r, "mail.test");
    REQUIRE(m.status == Status::Ok);
    REQUIRE(m.records.size() == 4);
    CHECK(m.records[0].preference == 10);
    CHECK(m.records[0].host == "mx1a.example.test");
    CHECK(m.records[1].preference == 10);
    CHECK(m.records[1].host == "mx1b.example.test");
    CHECK(m.records[2].preference == 20);
    CHECK(m.records[2].host == "mx2.example.test");
    CHECK(m.records[3].preference == 65535);
    CHECK(m.records[3].host == "backup.example.test");
    CHECK(m.ttl == 120);

    CHECK(mx1(r, "nomail.test").status == Status::NxDomain);
}

TEST_CASE("a batch is looked up concurrently and answered in order", "[dns]") {
    LoopbackDns dns;
    std::vector<std::string> names;
    for (int i = 0; i < 40; ++i) {
        const std::string name = "n" + std::to_string(i) + ".test";
        if (i % 3 != 0) dns.txt(name, "value " + std::to_string(i));
        names.push_back(name);
    }
    dns.start();
    Resolver r(at(dns.address()));
    auto answers = r.lookupTxt(names);
    REQUIRE(answers.size() == names.size());
    for (size_t i = 0; i < names.size(); ++i) {
        INFO(names[i]);
        if (i % 3 == 0) {
            CHECK(answers[i].status == Status::NxDomain);
        } else {
            REQUIRE(answers[i].status == Status::Ok);
            CHECK(answers[i].records == std::vector<std::string>{"value " + std::to_string(i)});
        }
    }
    CHECK(r.lookupTxt({}).empty());
    CHECK(r.lookupMx({}).empty());
}

TEST_CASE("a server that never answers gives Timeout within the configured time", "[dns]") {
    SilentDns silent;
    Resolver r(at(silent.address(), 300ms));
    const auto start = std::chrono::steady_clock::now();
    auto answers = r.lookupTxt({"a.test", "b.test", "c.test", "d.test", "e.test"});
    const auto elapsed = std::chrono::steady_clock::now() - start;
    for (const auto& a : answers) {
        CHECK(a.status == Status::Timeout);
        CHECK_THAT(a.error, Catch::Contains("no answer from " + silent.address() + " within 300 ms"));
    }
    // Concurrent: five names take one timeout, not five; and the retries use the time given.
    CHECK(elapsed >= 250ms);
    CHECK(elapsed < 900ms);
    CHECK(silent.received() >= 5 * 2);  // two tries each

    auto m = r.lookupMx({"mx.test"});
    CHECK(m.at(0).status == Status::Timeout);
}

TEST_CASE("a second server answers when the first one is silent", "[dns]") {
    SilentDns silent;
    LoopbackDns dns;
    dns.txt("x.test", "from the second server");
    dns.start();
    ResolverOptions o;
    o.servers = {silent.address(), dns.address()};
    o.timeout = 3000ms;
    Resolver r(o);
    auto a = txt1(r, "x.test");
    REQUIRE(a.status == Status::Ok);
    CHECK(a.records == std::vector<std::string>{"from the second server"});
}

TEST_CASE("a closed port is an error, not a timeout", "[dns]") {
    uint16_t port = 0;
    {
        rampart::testing::UdpSocket s;  // free port, then closed: ICMP port unreachable
        port = s.port();
    }
    Resolver r(at("127.0.0.1:" + std::to_string(port), 2000ms));
    const auto start = std::chrono::steady_clock::now();
    auto a = txt1(r, "x.test");
    CHECK(a.status == Status::Error);
    CHECK_THAT(a.error, Catch::Contains("refused"));
    CHECK(std::chrono::steady_clock::now() - start < 1500ms);
}

TEST_CASE("an IPv6 server address with a port", "[dns]") {
    LoopbackDns dns;
    dns.listenV6().txt("v6.test", "over ipv6");
    if (!dns.v6Available()) {
        WARN("no ::1 on this host: IPv6 transport not tested");
        return;
    }
    dns.start();
    Resolver r(at("[::1]:" + std::to_string(dns.port())));
    auto a = txt1(r, "v6.test");
    INFO(a.error);
    REQUIRE(a.status == Status::Ok);
    CHECK(a.records == std::vector<std::string>{"over ipv6"});
}

TEST_CASE("bad names and bad server addresses are errors, not exceptions", "[dns]") {
    LoopbackDns dns;
    dns.start();
    Resolver r(at(dns.address()));
    auto a = r.lookupTxt({"", std::string("a\0b.test", 8), std::string(300, 'a') + ".test"});
    CHECK(a[0].status == Status::Error);
    CHECK_THAT(a[0].error, Catch::Contains("invalid domain name"));
    CHECK(a[1].status == Status::Error);
    CHECK(a[2].status == Status::Error);  // label over 63 bytes: c-ares refuses it

    Resolver bad(at("dns.example.com"));
    auto b = bad.lookupMx({"x.test", "y.test"});
    REQUIRE(b.size() == 2);
    for (const auto& m : b) {
        CHECK(m.status == Status::Error);
        CHECK_THAT(m.error, Catch::Contains("expected a DNS server address") && Catch::Contains("dns.example.com"));
    }
    ResolverOptions zero = at(dns.address());
    zero.timeout = 0ms;
    CHECK(Resolver(zero).lookupTxt({"x.test"}).at(0).status == Status::Error);
}

TEST_CASE("server addresses parse to a canonical form", "[dns]") {
    CHECK(parseServerAddress("192.0.2.53")->toString() == "192.0.2.53:53");
    CHECK(parseServerAddress(" 192.0.2.53:5353 ")->toString() == "192.0.2.53:5353");
    CHECK(parseServerAddress("[2001:DB8::53]:5353")->toString() == "[2001:db8::53]:5353");
    CHECK(parseServerAddress("[::1]")->toString() == "[::1]:53");
    CHECK(parseServerAddress("::1")->toString() == "[::1]:53");
    CHECK(parseServerAddress("::1")->port == 53);
    CHECK(parseServerAddress("::1")->ipv6());
    CHECK_FALSE(parseServerAddress("192.0.2.53")->ipv6());
    for (const char* bad : {"", "dns.example.com", "192.0.2.53:", "192.0.2.53:0", "192.0.2.53:65536", "192.0.2.53:x",
                            "[192.0.2.53]:53", "[::1", "[::1]53", "[::1]:", "999.1.1.1", "1.2.3.4:53:53x"}) {
        INFO(bad);
        auto r = parseServerAddress(bad);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error(), Catch::StartsWith("expected a DNS server address such as"));
    }
    CHECK(std::string(statusName(Status::Ok)) == "ok");
    CHECK(std::string(statusName(Status::NoData)) == "no data");
    CHECK(std::string(statusName(Status::Timeout)) == "timeout");
    CHECK(std::string(statusName(Status::Error)) == "error");
}
