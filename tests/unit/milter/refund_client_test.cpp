// The milter's refund request, against a small policy-protocol peer on a unix socket.
#include "milter/refund_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <thread>

using namespace rampart;

TEST_CASE("refund client: sends rampart_refund with queue id and recipients, returns the action", "[refund]") {
    std::string path = "/tmp/rampart-refund-" + std::to_string(getpid()) + ".sock";
    ::unlink(path.c_str());
    int srv = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(srv >= 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(srv, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    REQUIRE(::listen(srv, 4) == 0);
    std::string received;
    std::thread peer([&] {
        int c = ::accept(srv, nullptr, nullptr);
        char buf[1024];
        while (received.find("\n\n") == std::string::npos) {
            ssize_t n = ::read(c, buf, sizeof buf);
            if (n <= 0) break;
            received.append(buf, static_cast<size_t>(n));
        }
        std::string reply = "action=OK refunded 2 recipients of ABC123\n\n";
        (void)!::write(c, reply.data(), reply.size());
        ::close(c);
        // A second connection that answers nothing: the client times out.
        c = ::accept(srv, nullptr, nullptr);
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        ::close(c);
    });
    config::ListenAddress a;
    a.kind = config::ListenAddress::Kind::Unix;
    a.path = path;
    milter::RefundClient client(a, std::chrono::milliseconds(200));
    auto r = client.refund("ABC123", {"a@x.test", "b@y.test"});
    REQUIRE(r);
    CHECK(*r == "OK refunded 2 recipients of ABC123");
    CHECK(received == "request=rampart_refund\nqueue_id=ABC123\nrecipients=a@x.test,b@y.test\n\n");
    auto t = client.refund("ABC124", {});
    REQUIRE_FALSE(t);
    CHECK(t.error().find("timed out") != std::string::npos);
    peer.join();
    ::close(srv);
    ::unlink(path.c_str());
    // Nobody listening: an error at once, never a hang.
    auto n = client.refund("ABC125", {});
    REQUIRE_FALSE(n);
    CHECK(n.error().find("connect") != std::string::npos);
    CHECK_FALSE(client.refund("bad\nid", {}));
}
