// pacedload: a policy-protocol client that sends at a fixed total rate (spread over C persistent
// connections, one thread each, on a fixed schedule), so latency can be read at a given load rather
// than at saturation. Each decision is an RCPT from a fresh sender and, when accepted, its
// END-OF-MESSAGE (as Postfix with a check in smtpd_end_of_data_restrictions).
//   pacedload unix:/path RATE SECONDS [CONNECTIONS]   -> decisions/s achieved, p50/p90/p99/max ms
// Build: g++ -O2 -std=c++20 -pthread -o pacedload bench/pacedload.cpp
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using Clock = std::chrono::steady_clock;

static int connectUnix(const char* path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("connect");
        std::exit(1);
    }
    return fd;
}

static std::string ask(int fd, const std::string& req) {
    if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) std::exit(2);
    std::string reply;
    char buf[4096];
    while (reply.find("\n\n") == std::string::npos) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) std::exit(3);
        reply.append(buf, static_cast<size_t>(n));
    }
    return reply;
}

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: pacedload unix:/path RATE SECONDS [CONNECTIONS]\n");
        return 2;
    }
    const char* path = argv[1] + (std::strncmp(argv[1], "unix:", 5) == 0 ? 5 : 0);
    double rate = std::atof(argv[2]);
    double seconds = std::atof(argv[3]);
    int conns = argc > 4 ? std::atoi(argv[4]) : 32;
    std::vector<std::vector<double>> lat(static_cast<size_t>(conns));
    std::atomic<long> done{0}, late{0};
    auto start = Clock::now() + std::chrono::milliseconds(200);
    auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::thread> threads;
    for (int t = 0; t < conns; ++t) {
        threads.emplace_back([&, t] {
            int fd = connectUnix(path);
            auto interval = std::chrono::duration<double>(conns / rate);
            auto next = start + std::chrono::duration_cast<Clock::duration>(interval * (double(t) / conns));
            long n = 0;
            while (next < end) {
                std::this_thread::sleep_until(next);
                if (Clock::now() - next > std::chrono::milliseconds(5)) ++late;
                auto t0 = Clock::now();
                std::string inst = "p" + std::to_string(getpid()) + "." + std::to_string(t) + "." + std::to_string(n);
                std::string sender = "paced." + inst + "@example.com";
                std::string r = ask(fd, "request=smtpd_access_policy\nprotocol_state=RCPT\nsender=" + sender +
                                            "\nrecipient=x@example.net\ninstance=" + inst + "\n\n");
                if (r.rfind("action=DUNNO", 0) == 0) {
                    ask(fd, "request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\nqueue_id=Q" + inst +
                                "\nrecipient_count=1\nsender=" + sender + "\ninstance=" + inst + "\n\n");
                }
                lat[static_cast<size_t>(t)].push_back(
                    std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
                ++done;
                ++n;
                next += std::chrono::duration_cast<Clock::duration>(interval);
            }
            close(fd);
        });
    }
    for (auto& th : threads)
        th.join();
    std::vector<double> all;
    for (auto& v : lat)
        all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, size_t(p * all.size()))]; };
    std::printf(
        "PACED target=%.0f/s achieved=%.0f/s conns=%d decisions=%zu p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f "
        "late_sends=%ld\n",
        rate, double(done) / seconds, conns, all.size(), pct(0.5), pct(0.9), pct(0.99), all.empty() ? 0 : all.back(),
        long(late));
}
