// DNS lookups for Rampart (c-ares). Never the system's blocking resolver: lookups run concurrently
// with a bounded total time, and the servers can be set (dns_servers) so tests use a DNS server on
// loopback.
//
// Resolver: synchronous batches, for rampartctl and daemon start-up/reload checks. AsyncResolver
// (async_resolver.h): the same lookups driven by an event loop (rampart-policyd).
#pragma once

#include <string>
#include <vector>

#include "dns/answer.h"
#include "dns/servers.h"

namespace rampart::dns {

// Not thread-safe: one thread at a time may use a Resolver (c-ares channels are not shared).
// Invalid `servers` or a failing c-ares initialisation do not throw: every lookup then answers
// Status::Error with the reason.
class Resolver {
  public:
    explicit Resolver(ResolverOptions options);
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // All names are looked up concurrently; results are in the order of `names`. Returns within
    // options.timeout (names still unanswered then are Timeout). Names are absolute (no search list).
    std::vector<TxtAnswer> lookupTxt(const std::vector<std::string>& names);
    std::vector<MxAnswer> lookupMx(const std::vector<std::string>& names);

  private:
    struct Impl;
    Impl* impl_;
};

}  // namespace rampart::dns
