// The stamp stage (stamp_stage.h): per-recipient List-Unsubscribe headers and reference stamps.
#include "milter/stages/stamp_stage.h"

#include "mail/address.h"
#include "mail/domain.h"
#include "milter/stages/suppression_stage.h"
#include "util/strings.h"
#include "util/unix_time.h"

namespace rampart::milter {

namespace {

constexpr std::string_view kListUnsubscribe = "List-Unsubscribe";
constexpr std::string_view kListUnsubscribePost = "List-Unsubscribe-Post";
constexpr std::string_view kOneClick = "List-Unsubscribe=One-Click";

// Checks a URL base; returns an error text or "".
std::string checkUrlBase(std::string_view url, bool& plainHttp) {
    plainHttp = false;
    if (util::startsWithNoCase(url, "https://") && url.size() > 8) return {};
    if (util::startsWithNoCase(url, "http://") && url.size() > 7) {
        plainHttp = true;
        return {};
    }
    return util::quoted(url, 200) + " is not an https:// URL base";
}

std::string checkMailto(std::string_view address) {
    auto m = mail::parseEnvelopeAddress(address);
    if (!m || m->domain.empty()) return util::quoted(address, 200) + " is not a mail address";
    return {};
}

void removeAll(Message& msg, std::string_view name) {
    for (size_t i = msg.find(name); i < msg.headers().size(); i = msg.find(name))
        msg.removeHeader(i);
}

// Items of a List-Unsubscribe value: the text between top-level commas, trimmed.
std::vector<std::string> splitItems(std::string_view value) {
    std::vector<std::string> out;
    std::string cur;
    bool inAngle = false;
    for (char c : value) {
        if (c == '<') inAngle = true;
        if (c == '>') inAngle = false;
        if (c == ',' && !inAngle) {
            out.emplace_back(util::trim(cur));
            cur.clear();
            continue;
        }
        cur += c;
    }
    out.emplace_back(util::trim(cur));
    return out;
}

}  // namespace

StampSettings StampSettings::fromConfig(const config::Config& cfg, config::Diagnostics& diags) {
    StampSettings s;
    const std::string secret = cfg.str("unsubscribe_secret");
    if (!secret.empty()) {
        auto keys = util::Keyring::load(secret);
        if (!keys) {
            diags.error(cfg.where("unsubscribe_secret"), "unsubscribe_secret: " + keys.error());
        } else {
            s.keys = std::make_shared<const util::Keyring>(std::move(*keys));
        }
    }
    s.referenceHeader = std::string(util::trim(cfg.str("reference_header")));
    for (char c : s.referenceHeader) {
        if (c <= ' ' || c >= 127 || c == ':') {
            diags.error(cfg.where("reference_header"),
                        "reference_header: " + util::quoted(s.referenceHeader, 200) + " is not a header field name");
            s.referenceHeader.clear();
            break;
        }
    }
    bool http = false;
    s.defaults.urlBase = cfg.str("unsubscribe_url");
    if (!s.defaults.urlBase.empty()) {
        std::string e = checkUrlBase(s.defaults.urlBase, http);
        if (!e.empty()) diags.error(cfg.where("unsubscribe_url"), "unsubscribe_url: " + e);
        if (http)
            diags.warning(cfg.where("unsubscribe_url"),
                          "unsubscribe_url is plain http: RFC 8058 one-click needs https, providers ignore it");
    }
    s.defaults.mailto = cfg.str("unsubscribe_mailto");
    if (!s.defaults.mailto.empty()) {
        std::string e = checkMailto(s.defaults.mailto);
        if (!e.empty()) diags.error(cfg.where("unsubscribe_mailto"), "unsubscribe_mailto: " + e);
    }
    const auto& ref = cfg.table("unsubscribe_domains");
    if (!ref.empty()) {
        auto text = config::readTableFile(ref.path, "unsubscribe_domains table", uint64_t{16} << 20, diags);
        int lineNo = 0;
        for (std::string_view l : text ? util::splitExact(*text, '\n') : std::vector<std::string_view>{}) {
            ++lineNo;
            const config::SourceLocation where{ref.path, lineNo};
            if (auto hash = l.find('#'); hash != std::string_view::npos) l = l.substr(0, hash);
            auto words = util::splitList(l, " \t\r");
            if (words.empty()) continue;
            if (words.size() < 2 || words.size() > 3) {
                diags.error(where, "expected DOMAIN URL-BASE [MAILTO-ADDRESS]");
                continue;
            }
            DomainEntry e;
            std::string_view dom = words[0];
            bool wildcard = dom.rfind("*.", 0) == 0;
            auto ascii = mail::toAsciiDomain(wildcard ? dom.substr(2) : dom);
            if (!ascii) {
                diags.error(where, util::quoted(words[0], 200) + ": " + ascii.error());
                continue;
            }
            e.pattern = (wildcard ? "*." : "") + util::toLower(*ascii);
            if (words[1] != "-") {
                std::string err = checkUrlBase(words[1], http);
                if (!err.empty()) {
                    diags.error(where, err + " (write - for none)");
                    continue;
                }
                if (http) diags.warning(where, "plain http URL: RFC 8058 one-click needs https");
                e.target.urlBase = words[1];
            }
            if (words.size() == 3) {
                std::string err = checkMailto(words[2]);
                if (!err.empty()) {
                    diags.error(where, err);
                    continue;
                }
                e.target.mailto = words[2];
            }
            s.domains.push_back(std::move(e));
        }
    }
    const bool wantsLinks = !s.defaults.urlBase.empty() || !s.defaults.mailto.empty() || !s.domains.empty();
    if (wantsLinks && secret.empty()) {
        diags.error(cfg.where("unsubscribe_url"),
                    "one-click unsubscribe links need unsubscribe_secret (the key that seals their tokens)");
    }
    return s;
}

UnsubscribeTarget StampSettings::targetFor(std::string_view fromDomain) const {
    for (const auto& d : domains) {
        if (d.pattern.rfind("*.", 0) == 0) {
            std::string_view suffix = std::string_view(d.pattern).substr(1);  // ".example.com"
            if (fromDomain.size() > suffix.size() && fromDomain.substr(fromDomain.size() - suffix.size()) == suffix) {
                return d.target;
            }
        } else if (fromDomain == d.pattern) {
            return d.target;
        }
    }
    return defaults;
}

ListUnsubscribeCheck checkListUnsubscribe(const Message& msg) {
    ListUnsubscribeCheck c;
    const size_t n = msg.count(kListUnsubscribe);
    const size_t np = msg.count(kListUnsubscribePost);
    c.present = n > 0 || np > 0;
    if (n == 0) {
        c.problem = np > 0 ? "List-Unsubscribe-Post without List-Unsubscribe" : "no List-Unsubscribe";
        return c;
    }
    if (n > 1) {
        c.problem = std::to_string(n) + " List-Unsubscribe fields";
        return c;
    }
    const std::string value = mail::unfold(msg.headers()[msg.find(kListUnsubscribe)].value);
    bool https = false;
    for (const auto& item : splitItems(value)) {
        if (item.size() < 3 || item.front() != '<' || item.back() != '>' || item.find(':') == std::string::npos) {
            c.problem = "malformed List-Unsubscribe item " + util::quoted(item, 60) + " (RFC 2369: <URI>)";
            return c;
        }
        https = https || util::startsWithNoCase(std::string_view(item).substr(1), "https://");
    }
    c.wellFormed = true;
    if (!https) {
        c.problem = "List-Unsubscribe has no https URI (no one-click)";
        return c;
    }
    if (np != 1) {
        c.problem = np == 0 ? "no List-Unsubscribe-Post (RFC 8058 one-click)" : "several List-Unsubscribe-Post fields";
        return c;
    }
    if (!util::iequals(util::trim(mail::unfold(msg.headers()[msg.find(kListUnsubscribePost)].value)), kOneClick)) {
        c.problem = "List-Unsubscribe-Post is not \"List-Unsubscribe=One-Click\"";
        return c;
    }
    c.oneClick = true;
    return c;
}

Verdict StampStage::onEndOfMessage(Message& msg, BodyObserver*, Notes& notes) const {
    const std::string& ref = settings_.referenceHeader;
    if (!ref.empty() && msg.count(ref) > 0) {
        removeAll(msg, ref);
        notes.add("removed client-supplied " + ref);
    }
    if (!settings_.keys) return Verdict::proceed();
    const std::string fromDomain = fromHeaderDomain(msg);
    if (fromDomain.empty()) return Verdict::proceed();  // hygiene or signing says why
    const UnsubscribeTarget target = settings_.targetFor(fromDomain);
    const bool links = !target.urlBase.empty() || !target.mailto.empty();
    if (!links && ref.empty()) return Verdict::proceed();

    const auto remaining = msg.remainingRecipients();
    if (remaining.size() != 1) {
        notes.add(std::string("no ") + (links ? "List-Unsubscribe or " : "") + "reference stamp: " +
                  std::to_string(remaining.size()) + " recipients (links and stamps are per recipient)");
        return Verdict::proceed();
    }
    util::MessageClaim claim;
    claim.recipient = remaining.front();
    if (auto at = claim.recipient.rfind('@'); at != std::string::npos) {
        claim.recipient = claim.recipient.substr(0, at + 1) + util::toLower(claim.recipient.substr(at + 1));
    }
    claim.fromDomain = fromDomain;
    claim.tenant = tenants_ ? tenants_->tenantOf(msg.envelope.authUser, msg.envelope.sender) : std::string();
    claim.issued = util::unixSeconds(clock_->now());

    if (!ref.empty()) {
        msg.appendHeader(ref, " " + util::sealClaim(*settings_.keys, claim, kReferencePurpose));
        notes.add("stamped " + ref);
    }
    if (!links) return Verdict::proceed();
    const ListUnsubscribeCheck check = checkListUnsubscribe(msg);
    if (check.oneClick) {
        notes.add("kept the sender's one-click List-Unsubscribe");
        return Verdict::proceed();
    }
    removeAll(msg, kListUnsubscribe);
    removeAll(msg, kListUnsubscribePost);
    const std::string token = util::sealClaim(*settings_.keys, claim, kUnsubscribePurpose);
    std::string value;
    if (!target.urlBase.empty()) value += " <" + target.urlBase + token + ">";
    if (!target.mailto.empty()) {
        value += value.empty() ? " " : ",\r\n ";
        value += "<mailto:" + target.mailto + "?subject=unsubscribe%20" + token + ">";
    }
    msg.appendHeader(std::string(kListUnsubscribe), value);
    if (!target.urlBase.empty()) msg.appendHeader(std::string(kListUnsubscribePost), " " + std::string(kOneClick));
    notes.add(check.present ? "replaced List-Unsubscribe (" + check.problem + ")" : "added List-Unsubscribe");
    return Verdict::proceed();
}

}  // namespace rampart::milter
