// Which mailbox provider hosts a recipient domain: the limits file's domain table first (gmail.com
// -> google, ...), then the domain's MX hosts against the MX suffix rules, looked up asynchronously
// on the daemon's event loop (c-ares) and cached for the answer's TTL. A lookup never stalls the
// loop; on timeout or failure the recipient domain stands in for the provider (and that answer is
// cached briefly). Concurrent lookups of one domain share one query.
//
// The cache keeps MX host lists, not provider names, so a reload that changes the MX rules applies
// to cached domains at once.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/async_resolver.h"
#include "util/result.h"

namespace rampart::policyd {

// How to name a provider from a domain or its MX hosts (the current LimitSet's rules).
struct ProviderRules {
    std::function<std::optional<std::string>(const std::string& domain)> byDomain;
    std::function<std::optional<std::string>(const std::vector<std::string>& mxHosts)> byMx;
};

struct ProviderAnswer {
    std::string provider;  // e.g. "google"; the domain itself when unknown
    const char* source;    // "table", "mx", "mx-cache", "no mx", "dns error", "timeout"
};

class ProviderResolver {
  public:
    static util::Result<std::unique_ptr<ProviderResolver>> create(boost::asio::io_context& io,
                                                                  const dns::ResolverOptions& options,
                                                                  size_t cacheEntries);
    ~ProviderResolver();
    ProviderResolver(const ProviderResolver&) = delete;
    ProviderResolver& operator=(const ProviderResolver&) = delete;

    // Calls done() exactly once: at once (table or cache) or from the event loop later.
    void resolve(const std::string& domain, const ProviderRules& rules, std::function<void(ProviderAnswer)> done);

    struct Counters {
        uint64_t lookups = 0, cacheHits = 0, failures = 0, timeouts = 0;
    };
    const Counters& counters() const { return counters_; }
    size_t cached() const { return cache_.size(); }
    void stop();  // cancels pending lookups (their callers get the domain as provider)

  private:
    ProviderResolver(boost::asio::io_context& io, std::unique_ptr<dns::AsyncResolver> resolver, size_t cacheEntries);
    struct Entry {
        std::vector<std::string> mx;  // empty: no usable answer (the domain stands in)
        std::chrono::steady_clock::time_point expires;
        const char* source = "mx";
    };
    struct Watch {
        std::unique_ptr<boost::asio::posix::stream_descriptor> fd;
        bool read = false, write = false, readArmed = false, writeArmed = false;
    };
    void onSocket(int fd, bool read, bool write);
    void arm(int fd);
    void rearmTimer();
    void finish(const std::string& domain, Entry entry);
    static ProviderAnswer classify(const std::string& domain, const Entry& e, const ProviderRules& rules,
                                   const char* source);

    boost::asio::io_context& io_;
    std::unique_ptr<dns::AsyncResolver> resolver_;
    boost::asio::steady_timer timer_;
    std::map<int, Watch> watches_;
    size_t maxEntries_;
    std::unordered_map<std::string, Entry> cache_;
    std::list<std::string> order_;  // insertion order, for eviction when full
    struct Waiter {
        ProviderRules rules;
        std::function<void(ProviderAnswer)> done;
    };
    std::unordered_map<std::string, std::vector<Waiter>> waiting_;
    Counters counters_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace rampart::policyd
