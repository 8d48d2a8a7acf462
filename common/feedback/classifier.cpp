// The bounce classifier (classifier.h): KumoMTA's categories and their action classes, the rule
// file, the built-in provider wording, and the order in which rules, wording and RFC 3463 codes
// decide.
#include "feedback/classifier.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>

#include "feedback/report_text.h"
#include "feedback/status_code.h"
#include "util/strings.h"

namespace rampart::feedback {

namespace {

using util::iequals;
using util::trim;
constexpr size_t npos = std::string_view::npos;

constexpr size_t kMaxClassifyText = 2048;  // bytes of "status diagnostic" the regexes see

using A = ActionClass;

struct CategoryInfo {
    std::string_view name;
    ActionClass action;
};

// clang-format off
constexpr CategoryInfo kCategories[] = {
    {"InvalidRecipient", A::HardAddress},    {"BadDomain", A::HardAddress},
    {"InactiveMailbox", A::HardAddress},

    {"QuotaIssues", A::SoftAddress},         {"MessageExpired", A::SoftAddress},
    {"TransientFailure", A::SoftAddress},    {"Uncategorized", A::SoftAddress},

    {"SpamBlock", A::SenderPolicy},          {"SpamContent", A::SenderPolicy},
    {"SpamRelated", A::SenderPolicy},        {"ContentRelated", A::SenderPolicy},
    {"PolicyRelated", A::SenderPolicy},      {"AuthenticationFailed", A::SenderPolicy},
    {"RequirePTR", A::SenderPolicy},         {"RateLimited", A::SenderPolicy},
    {"RFCNonCompliant", A::SenderPolicy},    {"ProhibitedAttachment", A::SenderPolicy},
    {"VirusRelated", A::SenderPolicy},       {"InvalidSender", A::SenderPolicy},

    {"NoAnswerFromHost", A::Infrastructure}, {"BadConnection", A::Infrastructure},
    {"DNSFailure", A::Infrastructure},       {"RoutingErrors", A::Infrastructure},
    {"RelayingIssues", A::Infrastructure},   {"RelayDenied", A::Infrastructure},
    {"BadConfiguration", A::Infrastructure}, {"ProtocolErrors", A::Infrastructure},
    {"TooManyRecipients", A::Infrastructure},

    {"AutoReply", A::NonBounce},             {"ChallengeResponse", A::NonBounce},
    {"Subscribe", A::NonBounce},             {"Unsubscribe", A::NonBounce},
    {"Delivered", A::NonBounce},
};
// clang-format on

const CategoryInfo* findCategory(std::string_view name) {
    if (iequals(name, "AuthenticationFailure")) name = "AuthenticationFailed";
    for (const auto& c : kCategories) {
        if (iequals(c.name, name)) return &c;
    }
    return nullptr;
}

// Built-in wording. kOverride is tried before the status code: it names causes that are about the
// sender or the path whatever code came with them (Mautic #9222: a blocklist 5.7.1 taken for an
// unknown user). kWording is tried after the code, for generic or absent codes. Matched against the
// text with addresses masked, so "spam@example.com" says nothing.
struct BuiltinRule {
    const char* category;
    const char* name;
    const char* pattern;
};

constexpr BuiltinRule kOverride[] = {
    {"BadDomain", "Postfix: recipient domain does not exist",
     R"(host or domain name not found\. name service error for name=\S+ type=\S+: )"
     R"(host not found(?!, try again))"},
    {"VirusRelated", "virus", R"(\b(virus|malware|trojan|infected)\b)"},
    {"ProhibitedAttachment", "attachment",
     R"((attachment|file type|file extension)s?\b.{0,40}\b(not allowed|prohibited|)"
     R"(forbidden|blocked|rejected|unsafe|dangerous)|\b(prohibited|forbidden|blocked|)"
     R"(dangerous|unsafe) (attachment|file type|file extension))"},
    {"TooManyRecipients", "too many recipients", R"(too many recipients)"},
    {"SpamBlock", "blocklist",
     R"(spamhaus|spamcop|barracuda|sorbs\.net|uceprotect|abuseat|spameatingmonkey|)"
     R"(mailspike|\b(dns)?[rb]bl\b|block ?list|black ?list|blocked using|\blisted (at|)"
     R"(on|in|by)\b|(poor|bad|low) (ip |sender |domain )?reputation)"},
    {"RateLimited", "rate",
     R"(rate ?limit|rate-limit|too many (messages|mails|emails|connections|concurrent)|)"
     R"((unusual|high|sending|message) rate|unexpected volume|excessive (volume|traffic|)"
     R"(mail)|throttl|temporarily (deferred|rate limited)|too fast|connection limit|)"
     R"(exceeded .{0,20}(connection|sending|message) (limit|rate|threshold))"},
    {"SpamContent", "spam content",
     R"(content filter|spam content|message content|rejected as spam|detected as spam|)"
     R"(looks like spam|classified as spam|spam score|\bphish)"},
    {"SpamBlock", "spam", R"(unsolicited|\bspam|junk mail|bulk mail|\bub?ce\b|user complaints)"},
    {"RequirePTR", "reverse DNS",
     R"(reverse dns|reverse (ip )?lookup|\bptr\b|\brdns\b|fcrdns|no reverse|)"
     R"(cannot find your (reverse )?hostname|does not resolve to|)"
     R"(hostname .{0,30}(does not|doesn't|not) match)"},
    {"AuthenticationFailed", "authentication",
     R"(\b(dmarc|dkim|spf)\b|unauthenticated|authentication (information|checks?|level|)"
     R"(failed|failure|results)|(fail|failed|fails) to pass authentication|)"
     R"(sender policy framework|domainkeys)"},
    {"RFCNonCompliant", "RFC 5322",
     R"(rfc ?5322|rfc ?2822|rfc ?822|not (rfc|standards?)[ -]compliant|non-compliant|)"
     R"(duplicate header|header (is )?(invalid|missing|too long)|invalid (header|)"
     R"(message-id|date header)|(missing|multiple) (from|date|message-id) header|)"
     R"(bare (lf|linefeed|cr))"},
    {"RelayDenied", "relay",
     R"(relay(ing)? (access )?(denied|not permitted|prohibited|not allowed)|)"
     R"(unable to relay|not permitted to relay|we do not relay|no relaying|)"
     R"(list of allowed rcpthosts)"},
    {"InvalidSender", "sender",
     R"(sender address rejected|sender (domain|address) (does not exist|not found|)"
     R"(unknown|invalid|must exist)|invalid sender|bad sender|sender verify failed|)"
     R"(unverified sender|domain of sender address .{0,60}does not (exist|resolve))"},
};

constexpr BuiltinRule kWording[] = {
    {"QuotaIssues", "mailbox full",
     R"(over ?quota|quota exceeded|exceed(s|ed)? (its |the |their )?(storage |)"
     R"(mailbox )?quota|mailbox (is )?full|full mailbox|inbox is full|out of storage|)"
     R"(insufficient (system )?(storage|disk)|storage (space|limit)|exceeded (its |)"
     R"(the )?storage|mailbox size limit)"},
    {"InactiveMailbox", "disabled",
     R"((mailbox|account|user|address|recipient)( [a-z0-9._-]+){0,2} (is |has been |)"
     R"(was )?(disabled|inactive|deactivated|suspended|closed|terminated|discontinued)|)"
     R"(no longer (active|in use|available|valid))"},
    {"BadDomain", "no such domain",
     R"(domain (not found|does not exist|doesn't exist|unknown)|unrouteable (address|)"
     R"(domain)|no (mx|valid mx|mail exchanger)|null mx|nxdomain|)"
     R"(bad destination (system|domain))"},
    {"InvalidRecipient", "user unknown",
     R"(user unknown|unknown user|unknown recipient|recipient unknown|addressee unknown|)"
     R"(no such (user|mailbox|recipient|address|account|person)|(user|mailbox|recipient|)"
     R"(address|account)s? (does not|doesn't|did not) exist|does not exist|)"
     R"(doesn't exist|(user|mailbox|recipient|address|account) (not found|unknown)|)"
     R"(not a valid (mailbox|recipient|user|address)|invalid (mailbox|recipient|user|)"
     R"(address)|unknown (mailbox|address|local[ -]part)|mailbox unavailable|)"
     R"(mailbox not available|no mailbox|doesn't have an? \S+ account|(recipient|)"
     R"(user) not (found|listed))"},
    {"ContentRelated", "too big",
     R"(message (is )?too (big|large)|message size|size (limit|exceeds)|)"
     R"(exceeds .{0,30}size|too large)"},
    {"BadConfiguration", "TLS", R"(\b(starttls|tls|ssl)\b|certificate)"},
    {"MessageExpired", "expired",
     R"(expired|too long in (the )?queue|delivery time|retry time(out)? (exceeded|)"
     R"(reached)|could not be delivered within)"},
    {"NoAnswerFromHost", "timeout", R"(timed out|time-out|timeout|no answer|not responding)"},
    {"DNSFailure", "DNS", R"(name service error|dns (error|failure|lookup)|temporary (dns|lookup) failure|servfail)"},
    {"BadConnection", "connection",
     R"(connection (refused|reset|closed|lost|dropped)|lost connection|)"
     R"(network is unreachable|no route to host|broken pipe)"},
    {"PolicyRelated", "policy",
     R"(policy|not (authorized|authorised|permitted|allowed)|access denied|)"
     R"(administrative(ly)? prohibit|refused|prohibited)"},
};

std::string lowerAscii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = util::toLowerAscii(c);
    return out;
}

// Case-insensitive matching without std::regex::icase (which makes libstdc++ translate every
// character through the locale, about three times slower): the text is lower-cased once and so are
// the pattern's letters, except the one after a backslash (\S, \W, \b, \d stay what they are;
// hex digits and control letters mean the same in either case).
std::regex compileRule(std::string_view pattern) {
    std::string p;
    p.reserve(pattern.size());
    for (size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '\\' && i + 1 < pattern.size()) {
            p.push_back(pattern[i]);
            p.push_back(pattern[++i]);
            continue;
        }
        p.push_back(util::toLowerAscii(pattern[i]));
    }
    return std::regex(p, std::regex::ECMAScript | std::regex::nosubs);
}

const std::vector<Classifier::Rule>& builtinRules(bool override);

// Each address-looking word (it has an '@') becomes "<address>".
std::string maskAddresses(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        size_t end = text.find(' ', i);
        if (end == npos) end = text.size();
        std::string_view word = text.substr(i, end - i);
        if (word.find('@') != npos) {
            out += "<address>";
        } else {
            out.append(word);
        }
        if (end < text.size()) out.push_back(' ');
        i = end + 1;
    }
    return out;
}

bool search(const std::regex& re, const std::string& text) {
    try {
        return std::regex_search(text, re);
    } catch (...) {  // error_complexity / error_stack: treated as no match
        return false;
    }
}

// "\/" in a rule means a literal slash (the delimiter); other escapes pass through.
std::string unescapeSlashes(std::string_view p) {
    std::string out;
    out.reserve(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '\\' && i + 1 < p.size()) {
            if (p[i + 1] != '/') out.push_back('\\');
            out.push_back(p[i + 1]);
            ++i;
            continue;
        }
        out.push_back(p[i]);
    }
    return out;
}

}  // namespace

struct Classifier::Rule {
    std::string category;
    std::regex re;
    std::string where;
};

namespace {

const std::vector<Classifier::Rule>& builtinRules(bool override) {
    static const auto build = [](const auto& table) {
        std::vector<Classifier::Rule> rules;
        for (const auto& b : table) {
            try {
                rules.push_back({b.category, compileRule(b.pattern), std::string("builtin: ") + b.name});
            } catch (...) {  // a bad built-in pattern is a bug the unit tests catch; skip it here
            }
        }
        return rules;
    };
    static const std::vector<Classifier::Rule> overrides = build(kOverride);
    static const std::vector<Classifier::Rule> wording = build(kWording);
    return override ? overrides : wording;
}

}  // namespace

std::string_view actionClassName(ActionClass a) {
    switch (a) {
        case ActionClass::HardAddress:
            return "hard";
        case ActionClass::SoftAddress:
            return "soft";
        case ActionClass::SenderPolicy:
            return "sender-policy";
        case ActionClass::Infrastructure:
            return "infrastructure";
        case ActionClass::NonBounce:
            return "non-bounce";
    }
    return "soft";
}

ActionClass actionOf(std::string_view category) {
    const CategoryInfo* c = findCategory(category);
    return c ? c->action : ActionClass::SoftAddress;
}

std::optional<std::string> canonicalCategory(std::string_view category) {
    const CategoryInfo* c = findCategory(category);
    if (!c) return std::nullopt;
    return std::string(c->name);
}

Classifier::Classifier() = default;

util::Result<Classifier> Classifier::load(const std::string& ruleFile) {
    try {
        std::ifstream in(ruleFile, std::ios::binary);
        if (!in) return util::err(ruleFile + ": cannot open: " + std::strerror(errno));
        Classifier c;
        std::string line;
        int lineNo = 0;
        while (std::getline(in, line)) {
            ++lineNo;
            std::string_view l = trim(line);
            if (l.empty() || l.front() == '#') continue;
            std::string where = ruleFile + ":" + std::to_string(lineNo);
            size_t ws = l.find_first_of(" \t");
            if (ws == npos) return util::err(where + ": expected \"CATEGORY /regex/\"");
            std::string_view name = l.substr(0, ws);
            std::string_view rest = trim(l.substr(ws));
            auto category = canonicalCategory(name);
            if (!category) return util::err(where + ": unknown category " + util::quoted(name, 64));
            if (rest.empty() || rest.front() != '/') return util::err(where + ": expected /regex/ after the category");
            size_t close = npos;
            for (size_t p = rest.size(); p-- > 1;) {
                if (rest[p] != '/') continue;
                size_t backslashes = 0;
                while (p - backslashes > 1 && rest[p - 1 - backslashes] == '\\')
                    ++backslashes;
                if (backslashes % 2 == 1) continue;  // "\/": a slash inside the regex
                std::string_view after = trim(rest.substr(p + 1));
                if (after.empty() || after.front() == '#') {
                    close = p;
                    break;
                }
            }
            if (close == npos) return util::err(where + ": regex not closed by '/' (or text after it)");
            std::string pattern = unescapeSlashes(rest.substr(1, close - 1));
            if (pattern.empty()) return util::err(where + ": empty regex");
            auto rule = std::make_shared<Rule>();
            rule->category = *category;
            rule->where = where;
            try {
                rule->re = compileRule(pattern);
            } catch (const std::regex_error& e) {
                return util::err(where + ": bad regex: " + e.what());
            }
            c.rules_.push_back(std::move(rule));
        }
        if (in.bad()) return util::err(ruleFile + ": read error");
        return c;
    } catch (const std::exception& e) {
        return util::err(ruleFile + ": " + e.what());
    } catch (...) {
        return util::err(ruleFile + ": cannot load");
    }
}

Classification Classifier::classify(std::string_view status, std::string_view diagnostic) const {
    try {
        std::string text = collapse(status, 64) + " " + joinContinuations(collapse(diagnostic, 4 * kMaxClassifyText));
        if (text.size() > kMaxClassifyText) text.resize(kMaxClassifyText);
        text = lowerAscii(text);
        std::string_view said = withoutDiagnosticType(diagnostic);
        if (said.size() > kMaxClassifyText) said = said.substr(0, kMaxClassifyText);
        std::optional<StatusCode> st = statusCode(status);
        std::optional<StatusCode> enhanced = findEnhancedCode(said);
        int reply = findReplyCode(said);
        // The class: what the server said, else the Status field.
        int cls = enhanced ? enhanced->cls : reply ? reply / 100 : st ? st->cls : 0;
        // The detailed code: the diagnostic's unless generic, of that class.
        std::optional<StatusCode> code;
        for (const auto& candidate : {enhanced, st}) {
            if (candidate && candidate->cls == cls && (!code || (generic(*code) && !generic(*candidate)))) {
                code = candidate;
            }
        }

        auto result = [&](std::string_view category, std::string rule) {
            Classification c{std::string(category), actionOf(category), std::move(rule)};
            if (c.action == ActionClass::HardAddress && cls == 4) {
                c.category = "TransientFailure";
                c.action = ActionClass::SoftAddress;
                c.rule += " (temporary)";
            }
            return c;
        };

        if (cls == 2) return result("Delivered", "class 2");
        for (const auto& rule : rules_) {
            if (search(rule->re, text)) return result(rule->category, rule->where);
        }
        std::string masked = maskAddresses(text);
        for (const auto& rule : builtinRules(true)) {
            if (search(rule.re, masked)) return result(rule.category, rule.where);
        }
        if (code && !generic(*code)) {
            std::string_view category = codeCategory(*code);
            if (!category.empty()) return result(category, "status " + code->str());
        }
        for (const auto& rule : builtinRules(false)) {
            if (search(rule.re, masked)) return result(rule.category, rule.where);
        }
        if (std::string_view category = replyCategory(reply); !category.empty()) {
            return result(category, "reply " + std::to_string(reply));
        }
        if (cls == 4) return result("TransientFailure", "class 4");
        return result("Uncategorized", cls == 5 ? "class 5" : "no status");
    } catch (...) {
        return Classification{"Uncategorized", ActionClass::SoftAddress, "error"};
    }
}

}  // namespace rampart::feedback
