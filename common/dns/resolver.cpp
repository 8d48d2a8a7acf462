// Synchronous DNS batches (see resolver.h): every name of a batch is started on one AsyncResolver,
// then a poll() loop drives it until all are answered or the batch's deadline passes.
#include "dns/resolver.h"

#include <poll.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>

#include "dns/async_resolver.h"

namespace rampart::dns {

namespace {

// Starts every name with `start(resolver, name, done)`, then drives the resolver with poll() until
// all are answered or `timeout` has passed since the start.
// `resolver` null: every answer is Error `initError`.
template <typename Answer, typename Start>
std::vector<Answer> runBatch(AsyncResolver* resolver, const std::string& initError,
                             const std::vector<std::string>& names, Start start) {
    std::vector<Answer> results(names.size());
    if (resolver == nullptr) {
        for (auto& r : results) {
            r.status = Status::Error;
            r.error = initError;
        }
        return results;
    }
    AsyncResolver& ar = *resolver;
    const auto deadline = std::chrono::steady_clock::now() + ar.timeout();
    for (size_t i = 0; i < names.size(); ++i) {
        start(ar, names[i], [&results, i](Answer a) { results[i] = std::move(a); });
    }
    std::vector<pollfd> fds;
    while (ar.pending() > 0) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            ar.cancelAll(Status::Timeout, "no answer from " + ar.serverList() + " within " +
                                              std::to_string(ar.timeout().count()) + " ms");
            break;
        }
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
        if (const auto t = ar.nextTimeout()) wait = std::min(wait, *t);
        fds.clear();
        for (const auto& s : ar.sockets()) {
            const short events = static_cast<short>((s.read ? POLLIN : 0) | (s.write ? POLLOUT : 0));
            fds.push_back(pollfd{s.fd, events, 0});
        }
        const int waitMs = static_cast<int>(std::min<long long>(wait.count(), INT_MAX));
        const int n = ::poll(fds.data(), fds.size(), waitMs);
        if (n < 0) {
            if (errno == EINTR) continue;
            ar.cancelAll(Status::Error, std::string("poll: ") + std::strerror(errno));
            break;
        }
        if (n == 0) {
            ar.process(-1, -1);  // timeouts: c-ares retries or gives up
            continue;
        }
        for (const pollfd& p : fds) {
            if (p.revents == 0 || (p.revents & POLLNVAL) != 0) continue;
            // Errors and hang-ups are reported through the read (or write) c-ares then attempts.
            const bool readable = (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
            const bool writable =
                (p.revents & POLLOUT) != 0 || ((p.revents & (POLLERR | POLLHUP)) != 0 && (p.events & POLLOUT) != 0);
            ar.process(readable ? p.fd : -1, writable ? p.fd : -1);
        }
    }
    return results;
}

}  // namespace

struct Resolver::Impl {
    std::unique_ptr<AsyncResolver> async;
    std::string initError;  // when async could not be created
};

Resolver::Resolver(ResolverOptions options) : impl_(nullptr) {
    auto impl = std::make_unique<Impl>();
    auto r = AsyncResolver::create(options);
    if (r) {
        impl->async = std::move(r).value();
    } else {
        impl->initError = r.error();
    }
    impl_ = impl.release();
}

Resolver::~Resolver() {
    delete impl_;
}

std::vector<TxtAnswer> Resolver::lookupTxt(const std::vector<std::string>& names) {
    return runBatch<TxtAnswer>(
        impl_->async.get(), impl_->initError, names,
        [](AsyncResolver& ar, const std::string& name, auto done) { ar.lookupTxt(name, std::move(done)); });
}

std::vector<MxAnswer> Resolver::lookupMx(const std::vector<std::string>& names) {
    return runBatch<MxAnswer>(
        impl_->async.get(), impl_->initError, names,
        [](AsyncResolver& ar, const std::string& name, auto done) { ar.lookupMx(name, std::move(done)); });
}

}  // namespace rampart::dns
