// The RFC 8058 one-click unsubscribe endpoint of rampart-policyd, on unsubscribe_listen (loopback by
// default, behind the user's HTTPS reverse proxy). This file owns that socket.
//
//   POST .../TOKEN  with body List-Unsubscribe=One-Click  ->  the suppression is written, then 200
//   GET  .../TOKEN  ->  a confirmation page whose button POSTs the same (mail scanners follow GET
//                       links; a GET never unsubscribes)
//   a token that does not open (altered, foreign, expired)  ->  400, nothing changes
//
// No redirects, no cookies read or set. The token (util/tokens.h, purpose "unsubscribe") names the
// recipient, From domain and tenant; the entry is an `unsubscribe` suppression scoped to the tenant,
// or to the From domain when the message had no tenant. It runs on a thread of its own: a write to
// the SQLite store (an fsync) never holds up policy answers.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/values.h"
#include "policyd/unsubscribe_settings.h"
#include "suppression/suppression.h"
#include "util/clock.h"
#include "util/process.h"
#include "util/result.h"
#include "util/tokens.h"

namespace rampart::policyd {

struct UnsubscribeCounters {
    uint64_t requests = 0, unsubscribed = 0, pages = 0, badTokens = 0, errors = 0;
};

// What the endpoint does with one request, without sockets (unit-tested).
struct HttpAnswer {
    int status = 200;
    std::string contentType = "text/html; charset=utf-8";
    std::string body;
    std::string allow;  // for 405
};
class UnsubscribeHandler {
  public:
    UnsubscribeHandler(std::string storePath, std::shared_ptr<const util::Clock> clock)
        : storePath_(std::move(storePath)), clock_(std::move(clock)) {}
    void setSettings(std::shared_ptr<const UnsubscribeSettings> s);
    // method "GET"/"HEAD"/"POST"; target the request target; body the POST body; peer for the log.
    HttpAnswer handle(std::string_view method, std::string_view target, std::string_view contentType,
                      std::string_view body, const std::string& peer);
    UnsubscribeCounters counters() const;

  private:
    std::shared_ptr<const UnsubscribeSettings> settings() const;
    std::string storePath_;
    std::shared_ptr<const util::Clock> clock_;
    mutable std::mutex mu_;
    std::shared_ptr<const UnsubscribeSettings> settings_;
    std::unique_ptr<suppress::Store> store_;  // opened on first use, with the daemon's rights
    UnsubscribeCounters counters_;
};

class UnsubscribeServer {
  public:
    UnsubscribeServer(std::shared_ptr<UnsubscribeHandler> handler);
    ~UnsubscribeServer();
    UnsubscribeServer(const UnsubscribeServer&) = delete;
    UnsubscribeServer& operator=(const UnsubscribeServer&) = delete;
    // Binds (as root, before the privilege drop); a unix socket gets mode 0660 owned by `owner`.
    util::Result<bool> listen(const config::ListenAddress& address, const util::Account& owner);
    void start();  // serves on its own thread
    void stop();

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::policyd
