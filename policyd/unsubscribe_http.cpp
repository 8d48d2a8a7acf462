// The RFC 8058 one-click unsubscribe endpoint (unsubscribe_http.h): HTTP server and token handling.
#include "policyd/unsubscribe_http.h"

#include <unistd.h>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "util/log.h"
#include "util/strings.h"
#include "util/unix_time.h"

namespace rampart::policyd {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using generic = asio::generic::stream_protocol;

namespace {

std::string html(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string page(std::string_view title, std::string_view bodyHtml) {
    return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           "<meta name=\"robots\" content=\"noindex\"><title>" +
           html(title) +
           "</title>"
           "<style>body{font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em;line-height:1.5}"
           "button{font-size:1.1em;padding:.5em 1.5em}</style></head><body><h1>" +
           html(title) + "</h1>" + std::string(bodyHtml) + "</body></html>\n";
}

// The token is the last non-empty path segment ("/u/TOKEN", "/unsubscribe/u/TOKEN/").
std::string tokenOf(std::string_view target) {
    if (auto q = target.find_first_of("?#"); q != std::string_view::npos) target = target.substr(0, q);
    while (!target.empty() && target.back() == '/')
        target.remove_suffix(1);
    auto slash = target.rfind('/');
    std::string_view t = slash == std::string_view::npos ? target : target.substr(slash + 1);
    if (t.empty() || t.size() > 1024) return {};
    for (char c : t) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return {};
    }
    return std::string(t);
}

// RFC 8058 section 3.1: the POST body is "List-Unsubscribe=One-Click", as
// application/x-www-form-urlencoded or multipart/form-data.
bool isOneClickBody(std::string_view contentType, std::string_view body) {
    if (util::startsWithNoCase(contentType, "multipart/form-data")) {
        size_t name = body.find("name=\"List-Unsubscribe\"");
        return name != std::string_view::npos && body.find("One-Click", name) != std::string_view::npos;
    }
    for (const auto& pair : util::splitExact(body, '&')) {
        if (util::trim(pair) == "List-Unsubscribe=One-Click") return true;
    }
    return false;
}

}  // namespace

void UnsubscribeHandler::setSettings(std::shared_ptr<const UnsubscribeSettings> s) {
    std::lock_guard lock(mu_);
    settings_ = std::move(s);
}

std::shared_ptr<const UnsubscribeSettings> UnsubscribeHandler::settings() const {
    std::lock_guard lock(mu_);
    return settings_;
}

UnsubscribeCounters UnsubscribeHandler::counters() const {
    std::lock_guard lock(mu_);
    return counters_;
}

HttpAnswer UnsubscribeHandler::handle(std::string_view method, std::string_view target, std::string_view contentType,
                                      std::string_view body, const std::string& peer) {
    auto count = [this](uint64_t UnsubscribeCounters::*field) {
        std::lock_guard lock(mu_);
        ++(counters_.*field);
    };
    count(&UnsubscribeCounters::requests);
    HttpAnswer a;
    auto s = settings();
    if (!s || !s->keys) {
        a.status = 404;
        a.body = page("Not found", "<p>One-click unsubscribe is not configured here.</p>");
        return a;
    }
    const bool post = method == "POST";
    if (!post && method != "GET" && method != "HEAD") {
        a.status = 405;
        a.allow = "GET, HEAD, POST";
        a.body = page("Method not allowed", "<p>Use the link from the message.</p>");
        return a;
    }
    const int64_t now = util::unixSeconds(clock_->now());
    const std::string token = tokenOf(target);
    auto claim = token.empty() ? util::Result<util::MessageClaim>(util::err("no token in the request path"))
                               : util::openClaim(*s->keys, token, util::kUnsubscribePurpose, now, s->lifetime);
    if (!claim) {
        count(&UnsubscribeCounters::badTokens);
        log::info("one-click: " + std::string(method) + " from " + peer + ": refused: " + claim.error());
        a.status = 400;
        a.body = page("This unsubscribe link is not valid",
                      "<p>The link is incomplete, altered or too old. Nothing was changed. "
                      "Please use the unsubscribe link of a recent message.</p>");
        return a;
    }
    const std::string who = "&lt;" + html(claim->recipient) + "&gt;";
    const std::string from = html(claim->fromDomain);
    if (!post) {
        count(&UnsubscribeCounters::pages);
        a.body = page("Unsubscribe",
                      "<p>Stop mail from " + from + " to " + who +
                          "?</p>"
                          "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
                          "<button type=\"submit\">Unsubscribe</button></form>");
        return a;
    }
    if (!isOneClickBody(contentType, body)) {
        a.status = 400;
        a.body = page("Not a one-click unsubscribe request",
                      "<p>The request did not carry List-Unsubscribe=One-Click (RFC 8058). Nothing was changed.</p>");
        log::info("one-click: POST from " + peer + " without List-Unsubscribe=One-Click; nothing changed");
        return a;
    }
    auto target_ = suppress::normalizeTarget(claim->recipient, s->norm);
    if (!target_) {
        a.status = 400;
        a.body = page("This unsubscribe link is not valid", "<p>Nothing was changed.</p>");
        log::warning("one-click: token for an unusable address \"" + util::printable(claim->recipient) +
                     "\": " + target_.error());
        return a;
    }
    suppress::Entry e;
    e.target = *target_;
    if (!claim->tenant.empty()) {
        e.scope = {suppress::Scope::Kind::Tenant, claim->tenant};
    } else {
        e.scope = {suppress::Scope::Kind::FromDomain, claim->fromDomain};
    }
    e.reason = suppress::Reason::Unsubscribe;
    e.source = "one-click";
    e.created = now;
    e.note = "RFC 8058 POST via " + peer + " (mail from " + claim->fromDomain + ")";
    util::Result<suppress::AddOutcome> added = util::err("not written");
    {
        std::lock_guard lock(mu_);
        if (!store_) {
            auto st = suppress::Store::open(storePath_, false);
            if (st)
                store_ = std::move(st).value();
            else
                added = util::err(st.error());
        }
        if (store_) added = store_->add(e, "one-click", "List-Unsubscribe-Post from " + peer);
    }
    if (!added) {
        count(&UnsubscribeCounters::errors);
        log::error("one-click: could not record the unsubscribe of <" + e.target + "> (" + e.scope.str() +
                   "): " + added.error() + "; answered 503 so the provider retries");
        a.status = 503;
        a.body = page("Please try again",
                      "<p>The unsubscribe could not be recorded just now. Please try again in a few minutes.</p>");
        return a;
    }
    count(&UnsubscribeCounters::unsubscribed);
    log::info("one-click: unsubscribed <" + e.target + "> (" + e.scope.str() + ", mail from " + claim->fromDomain +
              (*added == suppress::AddOutcome::AlreadyThere ? ", already on the list" : "") + ")");
    a.body = page("You are unsubscribed", "<p>" + who + " will get no more mail from " + from + ".</p>");
    return a;
}

// ------------------------------------------------------------------------------------------ server

struct UnsubscribeServer::Impl {
    std::shared_ptr<UnsubscribeHandler> handler;
    asio::io_context io{1};
    std::unique_ptr<asio::basic_socket_acceptor<generic>> acceptor;
    std::string unixPath;
    std::thread thread;
    size_t sessions = 0;
    static constexpr size_t kMaxSessions = 256;

    struct Session : std::enable_shared_from_this<Session> {
        Impl& impl;
        generic::socket socket;
        asio::steady_timer timer;
        boost::beast::flat_buffer buffer;
        std::optional<http::request_parser<http::string_body>> parser;
        http::response<http::string_body> response;
        std::string peer;
        Session(Impl& i, generic::socket s) : impl(i), socket(std::move(s)), timer(i.io) { ++impl.sessions; }
        ~Session() { --impl.sessions; }

        void arm() {
            timer.expires_after(std::chrono::seconds(15));
            timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
                if (!ec) {
                    boost::system::error_code ignored;
                    self->socket.close(ignored);
                }
            });
        }
        void read() {
            parser.emplace();
            parser->header_limit(8 * 1024);
            parser->body_limit(16 * 1024);
            arm();
            http::async_read(socket, buffer, *parser,
                             [self = shared_from_this()](boost::system::error_code ec, size_t) {
                                 self->timer.cancel();
                                 if (ec) return;  // closed, timed out or not HTTP: nothing to answer
                                 self->answer();
                             });
        }
        void answer() {
            const auto& req = parser->get();
            HttpAnswer a;
            try {
                a = impl.handler->handle(
                    std::string_view(req.method_string().data(), req.method_string().size()),
                    std::string_view(req.target().data(), req.target().size()),
                    std::string_view(req[http::field::content_type].data(), req[http::field::content_type].size()),
                    req.body(), peer);
            } catch (const std::exception& e) {
                log::error(std::string("one-click: internal error: ") + e.what());
                a.status = 500;
                a.body = "internal error\n";
            }
            response = {};
            response.version(req.version());
            response.result(static_cast<http::status>(a.status));
            response.set(http::field::server, "rampart");
            response.set(http::field::content_type, a.contentType);
            response.set(http::field::cache_control, "no-store");
            response.set("X-Robots-Tag", "noindex");
            if (!a.allow.empty()) response.set(http::field::allow, a.allow);
            response.keep_alive(req.keep_alive() && a.status < 500);
            if (req.method() != http::verb::head) response.body() = std::move(a.body);
            response.prepare_payload();
            if (req.method() == http::verb::head) response.content_length(0);
            arm();
            http::async_write(socket, response, [self = shared_from_this()](boost::system::error_code ec, size_t) {
                self->timer.cancel();
                if (ec) return;
                if (self->response.keep_alive()) {
                    self->read();
                } else {
                    boost::system::error_code ignored;
                    self->socket.shutdown(generic::socket::shutdown_send, ignored);
                }
            });
        }
    };

    void accept() {
        acceptor->async_accept([this](boost::system::error_code ec, generic::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                if (sessions >= kMaxSessions) {
                    boost::system::error_code ignored;
                    socket.close(ignored);
                } else {
                    std::string peer = "local";
                    try {
                        auto ep = socket.remote_endpoint();
                        if (ep.protocol().family() == AF_INET || ep.protocol().family() == AF_INET6) {
                            asio::ip::tcp::endpoint tcp;
                            std::memcpy(tcp.data(), ep.data(), std::min<size_t>(ep.size(), tcp.capacity()));
                            tcp.resize(ep.size());
                            peer = tcp.address().to_string();
                        }
                    } catch (const std::exception&) {
                    }
                    auto s = std::make_shared<Session>(*this, std::move(socket));
                    s->peer = std::move(peer);
                    s->read();
                }
            }
            accept();
        });
    }
};

UnsubscribeServer::UnsubscribeServer(std::shared_ptr<UnsubscribeHandler> handler) : impl_(std::make_unique<Impl>()) {
    impl_->handler = std::move(handler);
}

UnsubscribeServer::~UnsubscribeServer() {
    stop();
    if (!impl_->unixPath.empty()) ::unlink(impl_->unixPath.c_str());
}

util::Result<bool> UnsubscribeServer::listen(const config::ListenAddress& a, const util::Account& owner) {
    try {
        if (a.kind == config::ListenAddress::Kind::Unix) {
            if (auto r = util::ensureParentDirectory(a.path, owner); !r) return util::err(r.error());
            ::unlink(a.path.c_str());
            asio::local::stream_protocol::endpoint ep(a.path);
            impl_->acceptor = std::make_unique<asio::basic_socket_acceptor<generic>>(impl_->io, generic::endpoint(ep));
            impl_->unixPath = a.path;
            if (auto r = util::setSocketOwnership(a.path, 0660, owner, ""); !r) return util::err(r.error());
            return true;
        }
        asio::ip::tcp::endpoint ep(asio::ip::make_address(a.host), a.port);
        impl_->acceptor = std::make_unique<asio::basic_socket_acceptor<generic>>(impl_->io);
        impl_->acceptor->open(generic::endpoint(ep).protocol());
        impl_->acceptor->set_option(asio::socket_base::reuse_address(true));
        impl_->acceptor->bind(generic::endpoint(ep));
        impl_->acceptor->listen(asio::socket_base::max_listen_connections);
        return true;
    } catch (const std::exception& e) {
        return util::err("cannot listen on " + a.toString() + ": " + e.what());
    }
}

void UnsubscribeServer::start() {
    if (!impl_->acceptor || impl_->thread.joinable()) return;
    impl_->accept();
    impl_->thread = std::thread([this] {
        try {
            impl_->io.run();
        } catch (const std::exception& e) {
            log::error(std::string("one-click endpoint stopped: ") + e.what());
        }
    });
}

void UnsubscribeServer::stop() {
    impl_->io.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace rampart::policyd
