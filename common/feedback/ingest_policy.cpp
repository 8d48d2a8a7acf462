// The bounce -> suppression policy of `rampartctl ingest` (ingest_policy.h): which report leads
// to which suppression (reason, scope, expiry), the soft-bounce limit, complaints and unsubscribes,
// whom a report is about (the report, else its reference stamp), and the lines ingest prints. Moved
// from ctl/ingest_commands.cpp, which keeps the I/O (input, the SQLite store, printing).
#include "feedback/ingest_policy.h"

#include <optional>

#include "mail/address.h"
#include "mail/domain.h"
#include "util/strings.h"

namespace rampart::feedback {

namespace {

bool redacted(std::string_view address) {
    std::string a = util::toLower(util::trim(address));
    return a.empty() || a.find('@') == std::string::npos || a.find("redacted") != std::string::npos ||
           a.rfind("xxx", 0) == 0 || a.find("***") != std::string::npos;
}

std::string domainOfAddress(std::string_view a) {
    auto at = a.rfind('@');
    return at == std::string_view::npos ? std::string() : util::toLower(a.substr(at + 1));
}

// The From domain of a header block ("" if none).
std::string fromDomainOf(const mail::HeaderFields& headers) {
    size_t i = mail::findHeader(headers, "From");
    if (i >= headers.size()) return {};
    auto boxes = mail::parseAddressList(headers[i].value);
    if (!boxes || boxes->empty()) return {};
    auto d = mail::toAsciiDomain(boxes->front().domain);
    return d ? util::toLower(*d) : std::string();
}

struct Ingest {
    Ingest(const IngestSettings& s, IngestEffects& e)
        : cfg(s), effects(e), norm(s.norm), keys(s.keys), now(s.now), dryRun(s.dryRun) {}
    const IngestSettings& cfg;
    IngestEffects& effects;
    const suppress::NormalizeOptions& norm;
    const util::Keyring* keys;
    const int64_t now;
    const bool dryRun;
    std::vector<std::string> out;  // one line per action, printed and logged
    bool writeFailed = false;

    std::optional<util::MessageClaim> claimFrom(const mail::HeaderFields& headers, std::string_view purpose) {
        const std::string name = cfg.referenceHeader;
        if (!keys || name.empty()) return std::nullopt;
        size_t i = mail::findHeader(headers, name);
        if (i >= headers.size()) return std::nullopt;
        std::string token;
        for (char c : mail::unfold(headers[i].value)) {
            if (!util::isSpace(c)) token += c;
        }
        auto c = util::openClaim(*keys, token, purpose, now, cfg.tokenLifetime);
        if (!c) {
            out.push_back("reference " + name + " not usable: " + c.error());
            return std::nullopt;
        }
        return *c;
    }

    void suppressAddress(const std::string& address, suppress::Scope scope, suppress::Reason reason,
                         const std::string& source, std::optional<int64_t> expires, const std::string& note) {
        auto target = suppress::normalizeTarget(address, norm);
        if (!target) {
            out.push_back("not suppressed: " + util::quoted(address, 200) + ": " + target.error());
            return;
        }
        suppress::Entry e;
        e.target = *target;
        e.scope = std::move(scope);
        e.reason = reason;
        e.source = source;
        e.created = now;
        e.expires = expires;
        e.note = note.substr(0, 500);
        std::string what = std::string(suppress::reasonName(reason)) + " " + e.target + " (" + e.scope.str() + ")";
        if (dryRun) {
            out.push_back("would suppress " + what);
            return;
        }
        auto r = effects.addSuppression(e, source);
        if (!r) {
            out.push_back("FAILED to suppress " + what + ": " + r.error());
            writeFailed = true;
            return;
        }
        out.push_back(std::string(*r == suppress::AddOutcome::Added     ? "suppressed "
                                  : *r == suppress::AddOutcome::Updated ? "updated "
                                                                        : "already suppressed ") +
                      what);
    }

    // Tenant scope when the message had a tenant, else its From domain, else global.
    static suppress::Scope scopeFor(const std::optional<util::MessageClaim>& claim, const std::string& fromDomain) {
        if (claim && !claim->tenant.empty()) return {suppress::Scope::Kind::Tenant, claim->tenant};
        if (claim && !claim->fromDomain.empty()) return {suppress::Scope::Kind::FromDomain, claim->fromDomain};
        if (!fromDomain.empty()) return {suppress::Scope::Kind::FromDomain, fromDomain};
        return {};
    }

    void dsn(const Report& rep, const Classifier& classifier) {
        auto claim = claimFrom(rep.originalHeaders, util::kReferencePurpose);
        const std::string sendingDomain = claim ? claim->fromDomain : fromDomainOf(rep.originalHeaders);
        if (rep.recipients.empty()) out.push_back("delivery report without recipients: nothing to do");
        for (const auto& r : rep.recipients) {
            std::string rcpt = !redacted(r.finalRecipient)      ? r.finalRecipient
                               : !redacted(r.originalRecipient) ? r.originalRecipient
                               : claim                          ? claim->recipient
                                                                : std::string();
            const std::string status = r.status;
            if (r.action != "failed" && r.action != "delayed") {
                out.push_back("<" + rcpt + ">: action " + (r.action.empty() ? "(none)" : r.action) + ": nothing to do");
                continue;
            }
            Classification c = classifier.classify(status, r.diagnostic);
            std::string head = "<" + (rcpt.empty() ? std::string("unknown recipient") : rcpt) + "> " + r.action + " " +
                               status + " " + c.category + " (" + std::string(actionClassName(c.action)) + ", " +
                               c.rule + ")";
            if (rcpt.empty()) {
                out.push_back(head + ": no recipient in the report or its reference; nothing suppressed");
                continue;
            }
            switch (c.action) {
                case ActionClass::HardAddress: {
                    if (r.action != "failed") {
                        out.push_back(head + ": delayed, not final; nothing suppressed");
                        break;
                    }
                    auto exp = cfg.hardBounceExpiry;
                    out.push_back(head);
                    suppressAddress(rcpt, {}, suppress::Reason::HardBounce, "dsn",
                                    exp > 0 ? std::optional<int64_t>(now + exp) : std::nullopt,
                                    status + " " + r.diagnostic);
                    break;
                }
                case ActionClass::SoftAddress: {
                    if (r.action != "failed") {
                        out.push_back(head + ": delayed; not counted");
                        break;
                    }
                    auto target = suppress::normalizeTarget(rcpt, norm);
                    if (!target) {
                        out.push_back(head + ": " + target.error());
                        break;
                    }
                    const int64_t window = cfg.softBounceWindow;
                    const int64_t limit = cfg.softBounceLimit;
                    if (dryRun) {
                        out.push_back(head + ": would count a soft bounce");
                        break;
                    }
                    auto n = effects.countSoftBounce(*target, now, window, c.category, r.diagnostic);
                    if (!n) {
                        out.push_back(head + ": FAILED to count: " + n.error());
                        writeFailed = true;
                        break;
                    }
                    out.push_back(head + ": soft bounce " + std::to_string(*n) + " of " + std::to_string(limit) +
                                  " within " + std::to_string(window / 86400) + "d");
                    if (*n >= limit) {
                        suppressAddress(rcpt, {}, suppress::Reason::SoftBounce, "dsn",
                                        std::optional<int64_t>(now + window), status + " " + r.diagnostic);
                    }
                    break;
                }
                case ActionClass::SenderPolicy: {
                    const std::string d = sendingDomain.empty() ? std::string("(unknown)") : sendingDomain;
                    if (dryRun) {
                        out.push_back(head + ": sender-policy failure of " + d +
                                      "; would be counted; recipient not suppressed");
                        break;
                    }
                    auto n = effects.countSenderPolicy(d, now, c.category, domainOfAddress(rcpt), r.diagnostic);
                    if (!n) {
                        out.push_back(head + ": FAILED to count: " + n.error());
                        writeFailed = true;
                        break;
                    }
                    out.push_back(head + ": sender-policy failure of " + d + " (" + std::to_string(*n) +
                                  " in 24h); the recipient is not suppressed");
                    break;
                }
                case ActionClass::Infrastructure:
                case ActionClass::NonBounce:
                    out.push_back(head + ": nothing to do");
                    break;
            }
        }
    }

    void arf(const Report& rep) {
        std::string type = util::toLower(rep.feedbackType);
        if (type == "not-spam") {
            out.push_back("feedback report (not-spam): nothing to do");
            return;
        }
        auto claim = claimFrom(rep.originalHeaders, util::kReferencePurpose);
        std::string rcpt = !redacted(rep.originalRcptTo) ? rep.originalRcptTo
                           : claim                       ? claim->recipient
                                                         : std::string();
        if (rcpt.empty()) {
            out.push_back("complaint (" + (type.empty() ? std::string("abuse") : type) +
                          ") without a recipient or a usable " + cfg.referenceHeader + ": nothing suppressed");
            return;
        }
        out.push_back("complaint (" + (type.empty() ? std::string("abuse") : type) + ") about <" + rcpt + ">" +
                      (redacted(rep.originalRcptTo) && claim ? " (recipient from the reference stamp)" : ""));
        suppressAddress(rcpt, scopeFor(claim, fromDomainOf(rep.originalHeaders)), suppress::Reason::Complaint, "arf",
                        std::nullopt,
                        "feedback report " + type + (rep.sourceIp.empty() ? "" : " source " + rep.sourceIp));
    }

    void unsubscribe(const Report& rep) {
        if (!keys) {
            out.push_back("unsubscribe request, but unsubscribe_secret is not set: cannot read its token");
            return;
        }
        auto c = util::openClaim(*keys, rep.unsubscribeToken, util::kUnsubscribePurpose, now, cfg.tokenLifetime);
        if (!c) {
            out.push_back("unsubscribe request with a token that does not open (" + c.error() + "): nothing changed");
            return;
        }
        out.push_back("mailto unsubscribe of <" + c->recipient + "> from " + c->fromDomain);
        suppressAddress(
            c->recipient, scopeFor(std::optional<util::MessageClaim>(*c), {}), suppress::Reason::Unsubscribe, "mailto",
            std::nullopt,
            "mailto unsubscribe" + (rep.from.empty() ? std::string() : " from " + util::printable(rep.from, 100)));
    }
};

}  // namespace

IngestOutcome applyIngestPolicy(const Report& rep, const Classifier& classifier, const IngestSettings& settings,
                                IngestEffects& effects) {
    Ingest ing(settings, effects);
    IngestOutcome outcome;
    std::string what;
    switch (rep.kind) {
        case Report::Kind::Dsn:
            what = "delivery status notification" + (rep.reportingMta.empty() ? "" : " from " + rep.reportingMta);
            ing.dsn(rep, classifier);
            break;
        case Report::Kind::Arf:
            what = "feedback report";
            ing.arf(rep);
            break;
        case Report::Kind::Unsubscribe:
            what = "unsubscribe request";
            ing.unsubscribe(rep);
            break;
        case Report::Kind::Unknown:
            outcome.lines.push_back("ingest: not a bounce, complaint or unsubscribe request (" + rep.why +
                                    "), subject " + util::quoted(rep.subject, 80) + "; nothing done");
            return outcome;
    }
    for (const auto& line : ing.out)
        outcome.lines.push_back("ingest: " + what + ": " + line);
    outcome.writeFailed = ing.writeFailed;
    return outcome;
}

}  // namespace rampart::feedback
