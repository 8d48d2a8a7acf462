// Mailbox provider of a recipient domain (providers.h): domain table, then cached asynchronous MX rules.
#include "policyd/providers.h"

#include <algorithm>

#include "mail/domain.h"
#include "util/log.h"
#include "util/strings.h"

namespace rampart::policyd {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
constexpr auto kMinTtl = 60s;
constexpr auto kMaxTtl = 24h;
constexpr auto kFailureTtl = 60s;

std::chrono::seconds clampTtl(uint32_t ttl) {
    auto t = std::chrono::seconds(ttl);
    return std::clamp<std::chrono::seconds>(t, kMinTtl, kMaxTtl);
}
}  // namespace

util::Result<std::unique_ptr<ProviderResolver>> ProviderResolver::create(asio::io_context& io,
                                                                         const dns::ResolverOptions& options,
                                                                         size_t cacheEntries) {
    auto r = dns::AsyncResolver::create(options);
    if (!r) return util::err(r.error());
    return std::unique_ptr<ProviderResolver>(new ProviderResolver(io, std::move(r).value(), cacheEntries));
}

ProviderResolver::ProviderResolver(asio::io_context& io, std::unique_ptr<dns::AsyncResolver> resolver,
                                   size_t cacheEntries)
    : io_(io), resolver_(std::move(resolver)), timer_(io), maxEntries_(std::max<size_t>(cacheEntries, 16)) {
    resolver_->onSocketChange([this](int fd, bool read, bool write) { onSocket(fd, read, write); });
}

ProviderResolver::~ProviderResolver() {
    *alive_ = false;
    resolver_->onSocketChange(nullptr);
    for (auto& [fd, w] : watches_) {
        if (w.fd) {
            w.fd->cancel();
            w.fd->release();  // the socket belongs to c-ares
        }
    }
}

void ProviderResolver::stop() {
    resolver_->cancelAll(dns::Status::Error, "shutting down");
    timer_.cancel();
}

ProviderAnswer ProviderResolver::classify(const std::string& domain, const Entry& e, const ProviderRules& rules,
                                          const char* source) {
    if (!e.mx.empty() && rules.byMx) {
        if (auto p = rules.byMx(e.mx)) return {*p, source};
    }
    return {domain, e.mx.empty() ? e.source : source};
}

void ProviderResolver::resolve(const std::string& rawDomain, const ProviderRules& rules,
                               std::function<void(ProviderAnswer)> done) {
    std::string domain = util::toLower(rawDomain);
    if (auto ascii = mail::toAsciiDomain(domain)) domain = *ascii;
    if (domain.empty()) {
        done({domain, "no domain"});
        return;
    }
    if (rules.byDomain) {
        if (auto p = rules.byDomain(domain)) {
            done({*p, "table"});
            return;
        }
    }
    auto now = std::chrono::steady_clock::now();
    if (auto it = cache_.find(domain); it != cache_.end()) {
        if (it->second.expires > now) {
            ++counters_.cacheHits;
            done(classify(domain, it->second, rules, "mx-cache"));
            return;
        }
        cache_.erase(it);
    }
    auto& waiters = waiting_[domain];
    waiters.push_back({rules, std::move(done)});
    if (waiters.size() > 1) return;  // a query for this domain is already out
    ++counters_.lookups;
    std::weak_ptr<bool> alive = alive_;
    resolver_->lookupMx(domain, [this, alive, domain](dns::MxAnswer a) {
        if (alive.expired() || !*alive.lock()) return;
        Entry e;
        auto now2 = std::chrono::steady_clock::now();
        switch (a.status) {
            case dns::Status::Ok:
                for (const auto& r : a.records)
                    e.mx.push_back(r.host);
                e.expires = now2 + clampTtl(a.ttl);
                e.source = "mx";
                break;
            case dns::Status::NoData:
            case dns::Status::NxDomain:
                e.expires = now2 + clampTtl(a.ttl);
                e.source = "no mx";
                break;
            case dns::Status::Timeout:
                ++counters_.timeouts;
                e.expires = now2 + kFailureTtl;
                e.source = "timeout";
                log::debug("MX lookup of " + domain + " timed out; the domain stands in for its provider");
                break;
            case dns::Status::Error:
                ++counters_.failures;
                e.expires = now2 + kFailureTtl;
                e.source = "dns error";
                log::debug("MX lookup of " + domain + " failed (" + a.error + "); the domain stands in");
                break;
        }
        finish(domain, std::move(e));
    });
    rearmTimer();
}

void ProviderResolver::finish(const std::string& domain, Entry entry) {
    auto it = waiting_.find(domain);
    std::vector<Waiter> waiters;
    if (it != waiting_.end()) {
        waiters = std::move(it->second);
        waiting_.erase(it);
    }
    if (cache_.size() >= maxEntries_ && !order_.empty()) {
        // Evict the oldest entries (insertion order); a refetch costs one lookup.
        while (cache_.size() >= maxEntries_ && !order_.empty()) {
            cache_.erase(order_.front());
            order_.pop_front();
        }
    }
    if (cache_.emplace(domain, entry).second) order_.push_back(domain);
    for (auto& w : waiters)
        w.done(classify(domain, entry, w.rules, entry.source));
}

void ProviderResolver::onSocket(int fd, bool read, bool write) {
    if (!read && !write) {
        auto it = watches_.find(fd);
        if (it != watches_.end()) {
            it->second.fd->cancel();
            it->second.fd->release();
            watches_.erase(it);
        }
        return;
    }
    Watch& w = watches_[fd];
    if (!w.fd) w.fd = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    w.read = read;
    w.write = write;
    arm(fd);
}

void ProviderResolver::arm(int fd) {
    auto it = watches_.find(fd);
    if (it == watches_.end()) return;
    Watch& w = it->second;
    std::weak_ptr<bool> alive = alive_;
    if (w.read && !w.readArmed) {
        w.readArmed = true;
        w.fd->async_wait(asio::posix::stream_descriptor::wait_read, [this, alive, fd](boost::system::error_code ec) {
            if (alive.expired() || !*alive.lock()) return;
            auto i = watches_.find(fd);
            if (i == watches_.end()) return;
            i->second.readArmed = false;
            if (ec) return;
            resolver_->process(fd, -1);
            arm(fd);
            rearmTimer();
        });
    }
    if (w.write && !w.writeArmed) {
        w.writeArmed = true;
        w.fd->async_wait(asio::posix::stream_descriptor::wait_write, [this, alive, fd](boost::system::error_code ec) {
            if (alive.expired() || !*alive.lock()) return;
            auto i = watches_.find(fd);
            if (i == watches_.end()) return;
            i->second.writeArmed = false;
            if (ec) return;
            resolver_->process(-1, fd);
            arm(fd);
            rearmTimer();
        });
    }
}

void ProviderResolver::rearmTimer() {
    auto next = resolver_->nextTimeout();
    if (!next) {
        timer_.cancel();
        return;
    }
    timer_.expires_after(*next);
    std::weak_ptr<bool> alive = alive_;
    timer_.async_wait([this, alive](boost::system::error_code ec) {
        if (ec || alive.expired() || !*alive.lock()) return;
        resolver_->process(-1, -1);
        rearmTimer();
    });
}

}  // namespace rampart::policyd
