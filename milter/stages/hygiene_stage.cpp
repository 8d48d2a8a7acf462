// Header hygiene (see hygiene_stage.h and docs/hygiene.md): the settings and their configuration
// checks, the rule table, and the per-message pass that runs the rules and turns findings into
// edits, notes or a verdict. The rules themselves are in hygiene_rules_*.cpp (see hygiene_rules.h),
// the mail syntax they use in common/mail.
//
// One Run per message walks the rules in a fixed order: the checks that can only refuse come
// first, then the strips (so later rules do not work on fields that are going away), then the
// repairs, then the line-length refold (which also covers what the repairs produced).
//
// Everything here reads untrusted bytes: scanners are linear (refolding looks back at most one
// line), comment nesting is capped, and nothing throws on bad input.
#include "milter/stages/hygiene_stage.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>

#include "mail/domain.h"
#include "milter/stages/hygiene_rules.h"
#include "util/strings.h"

namespace rampart::milter {

namespace hygiene {

Verdict Run::go() {
    using Rule = bool (Run::*)();
    static constexpr std::array<Rule, 14> kRules = {
        &Run::headerSize,      &Run::from,         &Run::fromMailbox,     &Run::duplicates, &Run::singleDate,
        &Run::singleMessageId, &Run::stripHeaders, &Run::privateReceived, &Run::forgedAuth, &Run::date,
        &Run::messageId,       &Run::eightBit,     &Run::lineLength,      &Run::mimeVersion};
    for (Rule r : kRules) {
        if (!(this->*r)()) break;
    }
    return verdict_ ? *verdict_ : Verdict::proceed();
}

// What to do about a finding of `rule`. fixable = false: the rule's fix/strip action cannot
// repair this finding, so it refuses the message instead.
Run::Step Run::decide(std::string_view rule, const std::string& problem, const std::string& reply, bool fixable,
                      const char* code, const char* xcode) {
    RuleAction a = s_.action(rule);
    if (!fixable && (a == A::Fix || a == A::Strip)) a = A::Reject;
    switch (a) {
        case A::Off:
            return Step::Skip;
        case A::Warn:
            note("warn " + std::string(rule) + ": " + problem);
            return Step::Skip;
        case A::Reject:
            if (s_.dryRun) {
                note("would reject " + std::string(rule) + ": " + problem);
                return Step::Skip;
            }
            verdict_ =
                Verdict::reject(code, xcode, "rampart hygiene rule " + std::string(rule) + ": " + reply, "hygiene");
            return Step::Stop;
        case A::Fix:
        case A::Strip:
            if (s_.dryRun) {
                note("would " + std::string(ruleActionName(a)) + " " + std::string(rule) + ": " + problem);
                return Step::Skip;
            }
            return Step::Apply;
    }
    return Step::Skip;
}

}  // namespace hygiene

using hygiene::A;

namespace {

// Fields the hygiene rules maintain, or that the message cannot lose; hygiene_strip_headers may not
// name them (stripping Message-ID draws Gmail's "missing a valid Message-ID" refusal).
constexpr std::array<const char*, 17> kProtectedFields = {"From",
                                                          "Sender",
                                                          "Reply-To",
                                                          "To",
                                                          "Cc",
                                                          "Subject",
                                                          "Date",
                                                          "Message-ID",
                                                          "In-Reply-To",
                                                          "References",
                                                          "MIME-Version",
                                                          "Content-Type",
                                                          "Content-Transfer-Encoding",
                                                          "List-Id",
                                                          "List-Unsubscribe",
                                                          "List-Unsubscribe-Post",
                                                          "Feedback-ID"};

const HygieneRule* findRule(std::string_view id) {
    for (const auto& r : hygieneRules()) {
        if (r.id == id) return &r;
    }
    return nullptr;
}

std::optional<RuleAction> parseAction(std::string_view s) {
    for (RuleAction a : {A::Off, A::Warn, A::Strip, A::Fix, A::Reject}) {
        if (util::iequals(s, ruleActionName(a))) return a;
    }
    return std::nullopt;
}

std::string actionList(const std::vector<RuleAction>& actions) {
    std::string out;
    for (RuleAction a : actions)
        out += (out.empty() ? "" : ", ") + std::string(ruleActionName(a));
    return out;
}

// The configuration list is split on commas and blanks, so "date = warn" arrives as three items.
std::vector<std::string> joinAssignments(const std::vector<std::string>& items) {
    std::vector<std::string> out;
    for (const auto& item : items) {
        if (!out.empty() && (out.back().back() == '=' || item.front() == '=')) {
            out.back() += item;
        } else {
            out.push_back(item);
        }
    }
    return out;
}

bool validFieldName(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name) {
        auto uc = static_cast<unsigned char>(c);
        if (uc < 33 || uc > 126 || c == ':') return false;
    }
    return true;
}

}  // namespace

std::string_view ruleActionName(RuleAction a) {
    switch (a) {
        case A::Off:
            return "off";
        case A::Warn:
            return "warn";
        case A::Strip:
            return "strip";
        case A::Fix:
            return "fix";
        case A::Reject:
            return "reject";
    }
    return "off";
}

const std::vector<HygieneRule>& hygieneRules() {
    static const std::vector<HygieneRule> rules = {
        {"from",
         A::Reject,
         {A::Reject, A::Warn, A::Off},
         "RFC 5322 section 3.6 requires exactly one From field, and Gmail refuses a message with none or several "
         "(550 5.7.1 \"not RFC 5322 compliant: Multiple 'From' headers found\")."},
        {"from-mailbox",
         A::Reject,
         {A::Reject, A::Warn, A::Off},
         "DMARC needs one author domain, and Gmail refuses a From field without a valid address or with several "
         "(\"Multiple addresses in the From: header are not accepted\")."},
        {"date",
         A::Fix,
         {A::Fix, A::Reject, A::Warn, A::Off},
         "RFC 5322 section 3.6 requires exactly one Date (orig-date 1..1) in date-time syntax, and Yahoo refuses "
         "duplicate headers and header values it cannot decode."},
        {"message-id",
         A::Fix,
         {A::Fix, A::Reject, A::Warn, A::Off},
         "RFC 5322 section 3.6.4 says every message should have one Message-ID, and Gmail refuses \"Messages "
         "missing a valid Message-ID: header\" (and IDs over 500 characters)."},
        {"message-id-internal",
         A::Fix,
         {A::Fix, A::Reject, A::Warn, A::Off},
         "A Message-ID such as <1234@build-7.corp.local> discloses internal host names to every recipient."},
        {"duplicate-headers",
         A::Reject,
         {A::Reject, A::Warn, A::Off},
         "RFC 5322 section 3.6 and RFC 2045 allow these fields at most once, and Gmail (\"There are "
         "multiple Subject headers\") and Yahoo (\"Duplicate headers\") refuse duplicates."},
        {"line-length",
         A::Fix,
         {A::Fix, A::Reject, A::Warn, A::Off},
         "RFC 5322 section 2.1.1 limits lines to 998 octets; MTAs on the way cut longer lines, which breaks the "
         "DKIM signature."},
        {"header-size",
         A::Reject,
         {A::Reject, A::Warn, A::Off},
         "Gmail refuses header blocks over 500 KB or 5,000 fields (552 5.3.4 \"Your message exceeded Google's "
         "message header size limits\") and Yahoo refuses headers that are too big."},
        {"8bit-headers",
         A::Fix,
         {A::Fix, A::Reject, A::Warn, A::Off},
         "Without SMTPUTF8 raw 8-bit is not allowed in header fields (RFC 6532, RFC 2047), Postfix bounces such "
         "mail at a hop without SMTPUTF8, and Gmail refuses \"a unicode character in a disallowed header\"."},
        {"strip-headers",
         A::Strip,
         {A::Strip, A::Warn, A::Off},
         "Fields such as X-Originating-IP, X-Mailer and User-Agent disclose client addresses and software "
         "versions to every recipient."},
        {"private-received",
         A::Strip,
         {A::Strip, A::Warn, A::Off},
         "Received fields added on the user's side disclose private network addresses and host names."},
        {"forged-auth",
         A::Strip,
         {A::Strip, A::Warn, A::Off},
         "Authentication results and signatures supplied by the client are unverified claims (RFC 8601 section 5: "
         "remove forged Authentication-Results); Rampart signs the message itself."},
        {"mime-version",
         A::Fix,
         {A::Fix, A::Warn, A::Off},
         "RFC 2045 section 4 requires MIME-Version: 1.0 on MIME messages; without it a receiver may treat the "
         "Content-Type as absent."},
    };
    return rules;
}

RuleAction HygieneSettings::action(std::string_view ruleId) const {
    auto it = actions.find(std::string(ruleId));
    return it == actions.end() ? A::Off : it->second;
}

HygieneSettings HygieneSettings::defaults() {
    config::Config cfg;
    config::Diagnostics diags;
    return fromConfig(cfg, diags);
}

HygieneSettings HygieneSettings::fromConfig(const config::Config& cfg, config::Diagnostics& diags) {
    HygieneSettings s;
    for (const auto& r : hygieneRules())
        s.actions[r.id] = r.defaultAction;

    const config::SourceLocation rulesAt = cfg.where("hygiene_rules");
    std::string ids;
    for (const auto& r : hygieneRules())
        ids += (ids.empty() ? "" : ", ") + r.id;
    std::set<std::string> seen;
    for (const auto& item : joinAssignments(cfg.list("hygiene_rules"))) {
        const size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
            diags.error(rulesAt, "hygiene_rules: expected RULE=ACTION, got " + util::quoted(item));
            continue;
        }
        const std::string id = util::toLower(item.substr(0, eq));
        const std::string actionText = util::toLower(item.substr(eq + 1));
        const HygieneRule* rule = findRule(id);
        if (!rule) {
            diags.error(rulesAt, "hygiene_rules: unknown rule " + util::quoted(id) + " (rules: " + ids + ")");
            continue;
        }
        auto action = parseAction(actionText);
        if (!action) {
            diags.error(rulesAt, "hygiene_rules: unknown action " + util::quoted(actionText) + " for rule " + id +
                                     " (it allows " + actionList(rule->allowed) + ")");
            continue;
        }
        if (std::find(rule->allowed.begin(), rule->allowed.end(), *action) == rule->allowed.end()) {
            diags.error(rulesAt, "hygiene_rules: rule " + id + " cannot take action " +
                                     std::string(ruleActionName(*action)) + " (it allows " + actionList(rule->allowed) +
                                     ")");
            continue;
        }
        if (!seen.insert(id).second) {
            diags.warning(rulesAt, "hygiene_rules: rule " + id + " is set more than once; the last setting (" +
                                       std::string(ruleActionName(*action)) + ") counts");
        }
        s.actions[id] = *action;
    }

    s.dryRun = cfg.flag("hygiene_dry_run");

    const config::SourceLocation stripAt = cfg.where("hygiene_strip_headers");
    for (const auto& entry : cfg.list("hygiene_strip_headers")) {
        const bool wildcard = !entry.empty() && entry.back() == '*';
        const std::string_view name =
            wildcard ? std::string_view(entry).substr(0, entry.size() - 1) : std::string_view(entry);
        if (!validFieldName(name) || name.find('*') != std::string_view::npos) {
            diags.error(stripAt, "hygiene_strip_headers: " + util::quoted(entry) +
                                     " is not a header field name (a trailing * matches a prefix, as in X-Source*)");
            continue;
        }
        const char* hit = nullptr;
        for (const char* p : kProtectedFields) {
            if (hygiene::matchesPattern(p, entry)) {
                hit = p;
                break;
            }
        }
        if (hit) {
            diags.error(stripAt, "hygiene_strip_headers: " + util::quoted(entry) + " would strip " + hit +
                                     ", which the message needs (the hygiene rules keep it valid)");
            continue;
        }
        s.stripHeaders.push_back(entry);
    }

    const config::SourceLocation internalAt = cfg.where("hygiene_internal_domains");
    for (const auto& entry : cfg.list("hygiene_internal_domains")) {
        const std::string d = util::toLower(entry);
        if (d == "." || d.find_first_of("@[]<>") != std::string::npos) {
            diags.error(internalAt,
                        "hygiene_internal_domains: " + util::quoted(entry) + " is not a domain name or a .suffix");
            continue;
        }
        s.internalDomains.push_back(d);
    }

    if (const std::string& d = cfg.str("hygiene_message_id_domain"); !d.empty()) {
        auto ascii = mail::toAsciiDomain(d);
        if (!ascii || ascii->find('.') == std::string::npos) {
            diags.error(cfg.where("hygiene_message_id_domain"),
                        "hygiene_message_id_domain: " + util::quoted(d) + " is not a fully qualified domain name" +
                            (ascii ? std::string() : " (" + ascii.error() + ")"));
        } else {
            s.messageIdDomain = *ascii;
        }
    }

    s.headerSizeLimit = cfg.size("hygiene_header_size_limit");
    if (s.headerSizeLimit < 1024) {
        diags.error(cfg.where("hygiene_header_size_limit"),
                    "hygiene_header_size_limit: " + std::to_string(s.headerSizeLimit) +
                        " bytes is too small for any real message (use at least 1k)");
    } else if (s.headerSizeLimit > cfg.size("milter_header_size_limit") && s.action("header-size") != A::Off) {
        diags.warning(cfg.where("hygiene_header_size_limit"),
                      "hygiene_header_size_limit (" + cfg.text("hygiene_header_size_limit") +
                          ") is larger than milter_header_size_limit (" + cfg.text("milter_header_size_limit") +
                          "): larger header blocks get a temporary failure before rule header-size sees them");
    }
    return s;
}

HygieneStage::HygieneStage(HygieneSettings settings, std::shared_ptr<const util::Clock> clock)
    : settings_(std::move(settings)), clock_(std::move(clock)) {
    if (!clock_) clock_ = std::make_shared<util::SystemClock>();
}

Verdict HygieneStage::onEndOfMessage(Message& msg, BodyObserver* /*observer*/, Notes& notes) const {
    return hygiene::Run(settings_, *clock_, msg, notes).go();
}

}  // namespace rampart::milter
