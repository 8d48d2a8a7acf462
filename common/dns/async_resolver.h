// AsyncResolver: non-blocking DNS lookups on one c-ares channel, driven by the caller's event loop
// (rampart-policyd's Boost.Asio loop; a poll() loop in tests and in the synchronous Resolver). It
// owns no thread and no Asio object; the loop
//   - watches the sockets it reports (sockets() or the onSocketChange() callback) and calls
//     process(fd, -1) when one is readable, process(-1, fd) when writable;
//   - arms a timer for nextTimeout() and calls process(-1, -1) when it expires (re-read
//     nextTimeout() after every lookup*() and process() call).
// The sockets belong to c-ares: watch them, never close them (with Asio, wrap an fd in a
// posix::stream_descriptor and release() it, never close() it, when c-ares reports it closed).
//
// Completion callbacks run inside lookup*() (immediate failures, e.g. an invalid name), process()
// or cancelAll(), on the caller's thread. They may start new lookups; they must not destroy the
// AsyncResolver. An exception thrown by a callback is rethrown by the lookup*()/process()/
// cancelAll() call that ran it, after c-ares has finished its work (never through C frames).
//
// Not thread-safe: one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/answer.h"
#include "dns/servers.h"
#include "util/result.h"

namespace rampart::dns {

class AsyncResolver {
  public:
    // Fails on an invalid server address or when c-ares cannot initialise (e.g. out of memory).
    // Retries and per-try timeouts are chosen so a lookup ends (Timeout) within options.timeout.
    static util::Result<std::unique_ptr<AsyncResolver>> create(const ResolverOptions& options);
    // Pending lookups are abandoned: their callbacks are destroyed without being called.
    ~AsyncResolver();
    AsyncResolver(const AsyncResolver&) = delete;
    AsyncResolver& operator=(const AsyncResolver&) = delete;

    void lookupTxt(std::string name, std::function<void(TxtAnswer)> done);
    void lookupMx(std::string name, std::function<void(MxAnswer)> done);

    struct Socket {
        int fd = -1;
        bool read = false;
        bool write = false;
    };
    // The sockets c-ares currently wants watched.
    std::vector<Socket> sockets() const;
    // Called whenever c-ares opens a socket or changes what it waits for; read == write == false:
    // c-ares closed it (stop watching). Replaces the previous callback; nullptr removes it.
    void onSocketChange(std::function<void(int fd, bool read, bool write)> callback);

    // Reads/writes the given ready sockets (-1: none) and handles expired timeouts.
    void process(int readFd, int writeFd);
    // Time until process(-1, -1) is due; nullopt when no lookup is pending. Rounded up (at least
    // 1 ms), so waiting that long never wakes up early.
    std::optional<std::chrono::milliseconds> nextTimeout() const;
    size_t pending() const;

    // Completes every pending lookup now with `status` and `detail` (e.g. Timeout on a caller's
    // deadline, Error "shutting down").
    void cancelAll(Status status, const std::string& detail);

    const std::string& serverList() const;  // "127.0.0.1:53, [::1]:53", for messages
    std::chrono::milliseconds timeout() const;

    struct Impl;

  private:
    explicit AsyncResolver(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::dns
