// The suppression stage (suppression_stage.h): suppressed recipients are refused or removed.
#include "milter/stages/suppression_stage.h"

#include "mail/address.h"
#include "mail/domain.h"
#include "util/strings.h"
#include "util/unix_time.h"

namespace rampart::milter {

std::string fromHeaderDomain(const Message& msg) {
    size_t i = msg.find("From");
    if (i >= msg.headers().size()) return {};
    auto boxes = mail::parseAddressList(msg.headers()[i].value);
    if (!boxes || boxes->empty()) return {};
    auto d = mail::toAsciiDomain(boxes->front().domain);
    return d ? util::toLower(*d) : std::string();
}

int64_t SuppressionStage::now() const {
    return util::unixSeconds(clock_->now());
}

namespace {
std::string describeHit(const suppress::Hit& h) {
    return std::string(suppress::reasonName(h.reason)) + ", " + h.scope.str() +
           (h.target.size() > 1 && h.target.front() == '@' ? ", whole domain " + h.target.substr(1) : std::string());
}
}  // namespace

Verdict SuppressionStage::onRecipient(const Envelope& env, std::string_view rcpt, Notes& notes) const {
    suppress::LookupContext ctx;
    ctx.tenant = tenants_ ? tenants_->tenantOf(env.authUser, env.sender) : std::string();
    auto hit = index_->lookup(rcpt, ctx, suppress::Index::kGlobal | suppress::Index::kTenant, now());
    if (!hit) return Verdict::proceed();
    notes.add("suppressed <" + util::printable(rcpt) + "> (" + describeHit(*hit) + ")");
    return Verdict::reject("550", "5.7.1",
                           "<" + util::printable(rcpt) + ">: rampart: recipient is on the suppression list (" +
                               std::string(suppress::reasonName(hit->reason)) + "); it will not be mailed",
                           "suppressed");
}

Verdict SuppressionStage::onEndOfMessage(Message& msg, BodyObserver*, Notes& notes) const {
    const std::string fromDomain = fromHeaderDomain(msg);
    if (fromDomain.empty() || msg.envelope.recipients.empty()) return Verdict::proceed();
    suppress::LookupContext ctx;
    ctx.fromDomain = fromDomain;
    const int64_t t = now();
    size_t removed = 0;
    const auto remaining = msg.remainingRecipients();
    for (const auto& r : remaining) {
        auto hit = index_->lookup(r, ctx, suppress::Index::kFromDomain, t);
        if (!hit) continue;
        msg.removeRecipient(r);
        ++removed;
        notes.add("removed <" + util::printable(r) + "> (" + describeHit(*hit) + ")");
    }
    if (removed > 0 && removed == remaining.size()) {
        return Verdict::reject(
            "550", "5.7.1",
            "every recipient is on the suppression list of " + fromDomain + "; rampart will not send this message",
            "suppressed");
    }
    return Verdict::proceed();
}

}  // namespace rampart::milter
