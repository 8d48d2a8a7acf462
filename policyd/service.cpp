// rampart-policyd's request service (see service.h): transaction ownership, suppression refusal,
// the RCPT decision, END-OF-MESSAGE commits, Exim's instance-less commits, refunds and counters,
// over the StateStore seam. No sockets, no timers: the I/O layer moves bytes and satisfies needs.
#include "policyd/service.h"

#include "util/log.h"
#include "util/strings.h"
#include "util/unix_time.h"

namespace rampart::policyd {

namespace {

std::string domainOf(std::string_view address) {
    size_t at = address.rfind('@');
    return at == std::string_view::npos ? std::string() : util::toLower(address.substr(at + 1));
}

}  // namespace

std::string_view needName(Need::Kind kind) {
    switch (kind) {
        case Need::Kind::Provider:
            return "provider";
    }
    return "?";
}

PolicyService::PolicyService(std::shared_ptr<const Runtime> runtime, StateStore& store)
    : runtime_(std::move(runtime)), store_(store) {}

void PolicyService::setRuntime(std::shared_ptr<const Runtime> runtime) {
    runtime_ = std::move(runtime);
    store_.setOptions(runtime_->state);
}

Reply PolicyService::internalError(const std::string& what) {
    ++counters_.errors;
    log::error(what + "; answered " + runtime_->errorAction);
    return Reply::answer(runtime_->errorAction);
}

Reply PolicyService::handle(Session& session, const Request& request, util::SystemTime now) {
    try {
        return dispatch(session, request, now);
    } catch (const std::exception& e) {
        return internalError("internal error on a request from " + session.peer + ": " + e.what());
    }
}

Reply PolicyService::resume(Session& session, Suspension& suspension, const std::string& answer, util::SystemTime now) {
    try {
        switch (suspension.need.kind) {
            case Need::Kind::Provider:
                suspension.request.provider = answer;
                break;
        }
        return decideRcpt(session, suspension.request, now);
    } catch (const std::exception& e) {
        return internalError(std::string("internal error deciding: ") + e.what());
    }
}

Reply PolicyService::dispatch(Session& session, const Request& request, util::SystemTime now) {
    ++counters_.requests;
    if (request.request == "rampart_refund") return refund(request, now);
    if (request.request != "smtpd_access_policy") {
        ++counters_.garbage;
        log::warning("unknown request " + util::quoted(request.request, 60) + " from " + session.peer +
                     "; closing that connection");
        return {Reply::Kind::Close, "", false, nullptr};
    }
    if (request.protocolState == "RCPT") return rcpt(session, request, now);
    if (request.protocolState == "END-OF-MESSAGE") return endOfMessage(session, request, now);
    return Reply::answer("DUNNO");  // CONNECT, MAIL, DATA...: nothing to pace there
}

Reply PolicyService::refund(const Request& request, util::SystemTime now) {
    if (request.queueId.empty()) return Reply::answer("DUNNO rampart_refund without queue_id");
    auto res = store_.refund(request.queueId, request.refundRecipients, now);
    ++counters_.refunds;
    log::info(request.queueId + ": refund: " + res.text);
    return Reply::answer(std::string(res.status == RefundResult::Status::Refunded ? "OK " : "DUNNO ") + res.text, true);
}

Reply PolicyService::rcpt(Session& session, const Request& request, util::SystemTime now) {
    if (!request.instance.empty() && request.instance != session.lastInstance) {
        // Postfix runs one transaction at a time per smtpd process (one policy connection): a new
        // instance means the previous one ended; what it did not commit is released (only if this
        // session made it: instances are not shared, but a client could).
        auto prev = txOwner_.find(session.lastInstance);
        if (!session.lastInstance.empty() && prev != txOwner_.end() && prev->second.session == session.id) {
            if (store_.release(session.lastInstance)) ++counters_.releases;
            txOwner_.erase(prev);
        }
        session.lastInstance = request.instance;
    }
    // A transaction has one sender. An instance reused by another sender (a load generator's
    // warm-up request, an Exim ACL with a poor instance) means the first transaction is over:
    // release it, so END-OF-MESSAGE cannot commit one sender's slot and release another's.
    if (!request.instance.empty()) {
        auto& owner = txOwner_[request.instance];
        std::string sender = util::toLower(request.sender);
        if (owner.session != 0 && owner.sender != sender && store_.release(request.instance)) {
            ++counters_.releases;
            log::info("instance " + request.instance + " reused by another sender; released what <" + owner.sender +
                      "> had reserved in it");
        }
        owner.sender = std::move(sender);
        owner.session = session.id;
    }
    // A suppressed recipient is refused before anything is reserved: it never takes a slot.
    if (auto refusal = suppressed(request, now)) return *refusal;

    const auto& rt = *runtime_;
    bool needProvider = rt.limits->needsProvider() || store_.pausesNeedProvider();
    std::string domain = domainOf(request.recipient);
    if (needProvider && !domain.empty()) {
        auto s = std::make_shared<Suspension>();
        s->need = Need{Need::Kind::Provider, std::move(domain), rt.limits};
        s->request = request;
        return {Reply::Kind::Suspend, "", false, std::move(s)};
    }
    Request copy = request;
    return decideRcpt(session, copy, now);
}

std::optional<Reply> PolicyService::suppressed(const Request& request, util::SystemTime now) {
    const auto& rt = *runtime_;
    if (!rt.checkSuppression || !suppression_) return std::nullopt;
    suppress::LookupContext sctx;
    if (rt.tenants) sctx.tenant = rt.tenants->tenantOf(request.saslUsername, request.sender);
    const int64_t nowSec = util::unixSeconds(now);
    auto hit =
        suppression_->lookup(request.recipient, sctx, suppress::Index::kGlobal | suppress::Index::kTenant, nowSec);
    if (!hit) return std::nullopt;
    ++counters_.suppressed;
    log::info("suppressed: from=<" + request.sender + "> to=<" + request.recipient + ">" +
              (request.saslUsername.empty() ? "" : " sasl=" + request.saslUsername) + ": " +
              std::string(suppress::reasonName(hit->reason)) + ", " + hit->scope.str() +
              (hit->target.size() > 1 && hit->target.front() == '@' ? ", whole domain" : ""));
    // Postfix prefixes "<rcpt>: Recipient address rejected: " itself.
    return Reply::answer("550 5.7.1 rampart: recipient is on the suppression list (" +
                         std::string(suppress::reasonName(hit->reason)) + "); it will not be mailed");
}

Reply PolicyService::decideRcpt(Session& session, Request& req, util::SystemTime now) {
    const auto& rt = *runtime_;
    bool synthetic = req.instance.empty();
    if (synthetic)
        req.instance =
            "rampart-noinstance-" + std::to_string(session.id) + "-" + std::to_string(++session.syntheticSeq);
    Decision d = store_.reserve(req, *rt.limits, rt.monitorOnly, now);
    const std::string who = "from=<" + req.sender + "> to=<" + req.recipient + ">" +
                            (req.saslUsername.empty() ? "" : " sasl=" + req.saslUsername) +
                            (req.clientAddress.empty() ? "" : " client=" + req.clientAddress);
    for (const auto& w : d.wouldDefer) {
        ++counters_.wouldDefer;
        log::info("would defer (monitor only): " + who + ": " + w.text);
    }
    switch (d.verdict) {
        case Verdict::Allow:
            ++counters_.allowed;
            if (synthetic) {
                // No instance (an Exim ACL without one): there is no END-OF-MESSAGE to wait for, so
                // count now; a cap is never exceeded because a reservation expired.
                store_.commit(req.instance, "", 1, util::toLower(req.recipient), now);
            }
            log::debug("permit: " + who + " (" + std::to_string(d.limitsApplied) + " limits)");
            break;
        case Verdict::Refuse:
            ++counters_.refused;
            log::info((d.action.rfind("REJECT", 0) == 0 ? "reject: " : "defer: ") + who + ": " + d.refusal->text);
            break;
        case Verdict::Exempt:
            ++counters_.exempt;
            log::debug("exempt: " + who);
            break;
        case Verdict::NotApplicable:
            ++counters_.notApplicable;
            break;
    }
    return Reply::answer(d.action, d.verdict == Verdict::Allow);
}

Reply PolicyService::endOfMessage(Session& session, const Request& req, util::SystemTime now) {
    auto res = store_.commit(req.instance, req.queueId, req.recipientCount, util::toLower(req.recipient), now);
    if (res.found) {
        ++counters_.commits;
        log::info((req.queueId.empty() ? std::string("NOQUEUE") : req.queueId) + ": counted " +
                  std::to_string(res.committedRecipients) + " recipient(s)" +
                  (res.releasedRecipients ? ", released " + std::to_string(res.releasedRecipients) : std::string()) +
                  " (instance " + req.instance + ")");
    }
    if (req.instance == session.lastInstance) session.lastInstance.clear();
    txOwner_.erase(req.instance);
    return Reply::answer("DUNNO", res.found);
}

void PolicyService::housekeeping(util::SystemTime now) {
    try {
        // A budget keeps a large state from stalling the loop: the scan resumes where it stopped.
        auto ex = store_.maintain(now, store_.counts().scopes / 60 + 100);
        if (ex.releasedReservations) {
            counters_.releases += ex.releasedReservations;
            log::info("released " + std::to_string(ex.releasedReservations) +
                      " reservation(s) that no END-OF-MESSAGE claimed within policyd_reservation_timeout");
        }
        // Forget the senders of transactions whose reservations are gone (released or expired).
        if (txOwner_.size() > 2 * store_.counts().reservations + 1000) {
            for (auto it = txOwner_.begin(); it != txOwner_.end();) {
                it = store_.holds(it->first) ? std::next(it) : txOwner_.erase(it);
            }
        }
    } catch (const std::exception& e) {
        log::error(std::string("housekeeping: ") + e.what());
    }
}

}  // namespace rampart::policyd
