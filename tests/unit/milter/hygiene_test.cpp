// The header hygiene stage: for every rule a good input (no change) and bad inputs (the edit or the
// verdict), the configuration of hygiene_rules and the lists, dry run, and hostile input.
#include <catch2/catch.hpp>
#include <random>
#include <regex>

#include "mail/address.h"
#include "milter/stages/hygiene_stage.h"
#include "util/base64.h"
#include "util/strings.h"

using namespace rampart;
using namespace rampart::milter;
using Kind = HeaderEdit::Kind;

namespace {

// Sun, 22 Nov 2026 10:00:00 +0000
const util::SystemTime kNow{std::chrono::seconds(1795341600)};

struct Field {
    std::string name;
    std::string value;
};

Message messageOf(const std::vector<Field>& fields, bool smtputf8 = false) {
    Message m;
    m.envelope.ours = true;
    m.envelope.smtputf8 = smtputf8;
    m.envelope.sender = "alice@example.com";
    for (const auto& f : fields)
        m.addReceivedHeader(f.name, f.value);
    return m;
}

std::vector<Field> goodFields() {
    return {
        {"From", " Alice <alice@example.com>"},
        {"To", " bob@remote.test"},
        {"Subject", " hello"},
        {"Date", " Sun, 22 Nov 2026 09:59:00 +0000"},
        {"Message-ID", " <abc.123@example.com>"},
        {"MIME-Version", " 1.0"},
        {"Content-Type", " text/plain; charset=utf-8"},
    };
}

// goodFields() with `name` replaced by the given values (none: removed); others appended.
std::vector<Field> with(const std::string& name, const std::vector<std::string>& values) {
    std::vector<Field> out;
    bool placed = false;
    for (const auto& f : goodFields()) {
        if (util::iequals(f.name, name)) {
            if (!placed) {
                for (const auto& v : values)
                    out.push_back({name, v});
            }
            placed = true;
        } else {
            out.push_back(f);
        }
    }
    if (!placed) {
        for (const auto& v : values)
            out.push_back({name, v});
    }
    return out;
}

struct Outcome {
    Verdict verdict;
    Notes notes;
    EditList edits;
};

HygieneSettings settingsFrom(const std::string& conf, config::Diagnostics* diagsOut = nullptr) {
    auto r = config::parseConfigText(conf, "t.conf");
    INFO(r.diagnostics.str());
    REQUIRE_FALSE(r.diagnostics.hasErrors());
    config::Diagnostics diags;
    HygieneSettings s = HygieneSettings::fromConfig(r.config, diags);
    if (diagsOut) {
        *diagsOut = diags;
    } else {
        INFO(diags.str());
        REQUIRE(diags.all().empty());
    }
    return s;
}

Outcome run(Message& m, const HygieneSettings& s = HygieneSettings::defaults(),
            std::shared_ptr<const util::Clock> clock = std::make_shared<util::FakeClock>(kNow)) {
    HygieneStage stage(s, std::move(clock));
    Outcome o;
    o.verdict = stage.onEndOfMessage(m, nullptr, o.notes);
    o.edits = m.edits();
    return o;
}

Outcome runFields(const std::vector<Field>& fields, const HygieneSettings& s = HygieneSettings::defaults(),
                  bool smtputf8 = false) {
    Message m = messageOf(fields, smtputf8);
    return run(m, s);
}

bool hasNote(const Notes& n, const std::string& text) {
    for (const auto& x : n.all()) {
        if (x.find(text) != std::string::npos) return true;
    }
    return false;
}

void requireUntouched(const Outcome& o) {
    INFO(o.notes.joined());
    CHECK(o.verdict.proceeds());
    CHECK(o.edits.empty());
    CHECK(o.notes.all().empty());
}

void requireReject(const Outcome& o, const std::string& rule, const std::string& wording) {
    INFO(o.verdict.text);
    REQUIRE(o.verdict.kind == Verdict::Kind::Reject);
    CHECK(o.verdict.code == "550");
    CHECK(o.verdict.xcode == "5.7.1");
    CHECK(o.verdict.counter == "hygiene");
    CHECK(o.verdict.text.rfind("rampart hygiene rule " + rule + ": ", 0) == 0);
    CHECK(o.verdict.text.find(wording) != std::string::npos);
    CHECK(o.verdict.text.find_first_of("\r\n") == std::string::npos);
}

std::string valueOf(const Message& m, const std::string& name) {
    size_t i = m.find(name);
    REQUIRE(i != std::string_view::npos);
    return m.headers()[i].value;
}

// Lines of a field as it leaves ("Name:" + value), split at line breaks.
std::vector<std::string> linesOf(const std::string& name, const std::string& value) {
    std::vector<std::string> out;
    std::string cur = name + ":";
    for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
        if (value[i] == '\n') {
            out.push_back(cur);
            cur.clear();
            continue;
        }
        cur += value[i];
    }
    out.push_back(cur);
    return out;
}

struct EncodedWord {
    std::string charset;
    std::string bytes;
};

// A minimal RFC 2047 decoder (B encoding) for checking round trips: whitespace between adjacent
// encoded-words disappears, line breaks are unfolded. Also returns the encoded-words it saw.
std::string decode2047(std::string_view value, std::vector<EncodedWord>* words = nullptr) {
    static const std::regex ew(R"(^=\?([^?]+)\?[Bb]\?([A-Za-z0-9+/=]*)\?=$)");
    std::string unfolded;
    for (char c : value) {
        if (c != '\r' && c != '\n') unfolded += c;
    }
    std::string out;
    std::string pendingSpace;
    bool lastEncoded = false;
    size_t i = 0;
    while (i < unfolded.size()) {
        size_t b = i;
        while (i < unfolded.size() && (unfolded[i] == ' ' || unfolded[i] == '\t'))
            ++i;
        std::string space = unfolded.substr(b, i - b);
        b = i;
        while (i < unfolded.size() && unfolded[i] != ' ' && unfolded[i] != '\t')
            ++i;
        std::string tok = unfolded.substr(b, i - b);
        if (tok.empty()) {
            out += space;
            break;
        }
        std::smatch m;
        if (std::regex_match(tok, m, ew)) {
            if (!lastEncoded) out += space;
            std::string bytes = util::base64DecodeLenient(m[2].str());
            if (words) words->push_back({m[1].str(), bytes});
            out += bytes;
            lastEncoded = true;
        } else {
            out += space + tok;
            lastEncoded = false;
        }
    }
    return out;
}

bool validUtf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

bool has8bit(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

}  // namespace

// ------------------------------------------------------------------------------------------------

TEST_CASE("hygiene: the rule table is complete and consistent", "[hygiene]") {
    const std::vector<std::string> ids{
        "from",        "from-mailbox", "date",         "message-id",    "message-id-internal", "duplicate-headers",
        "line-length", "header-size",  "8bit-headers", "strip-headers", "private-received",    "forged-auth",
        "mime-version"};
    REQUIRE(hygieneRules().size() == ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
        const HygieneRule& r = hygieneRules()[i];
        INFO(r.id);
        CHECK(r.id == ids[i]);
        CHECK(std::find(r.allowed.begin(), r.allowed.end(), r.defaultAction) != r.allowed.end());
        CHECK(std::find(r.allowed.begin(), r.allowed.end(), RuleAction::Off) != r.allowed.end());
        CHECK(std::find(r.allowed.begin(), r.allowed.end(), RuleAction::Warn) != r.allowed.end());
        CHECK(r.reason.size() > 40);
        CHECK(r.reason.back() == '.');
    }
    CHECK(ruleActionName(RuleAction::Off) == "off");
    CHECK(ruleActionName(RuleAction::Warn) == "warn");
    CHECK(ruleActionName(RuleAction::Strip) == "strip");
    CHECK(ruleActionName(RuleAction::Fix) == "fix");
    CHECK(ruleActionName(RuleAction::Reject) == "reject");
}

TEST_CASE("hygiene: a compliant message passes untouched", "[hygiene]") {
    requireUntouched(runFields(goodFields()));
    SECTION("also with folded fields, comments, trace fields and common extras") {
        auto f = goodFields();
        f.push_back({"Received",
                     " from mail.remote.test (mail.remote.test [203.0.113.5])\r\n\tby mx.example.com"
                     " (Postfix) with ESMTPS id 4F3A21C0B\r\n\tfor <alice@example.com>; Sun, 22 Nov 2026"});
        f.push_back({"References", " <a@example.com>\r\n <b@example.com>"});
        f.push_back({"Comments", " one"});
        f.push_back({"Comments", " two"});
        f.push_back({"List-Unsubscribe", " <https://u.example.com/x>"});
        f.push_back({"X-Campaign", " spring"});
        requireUntouched(runFields(f));
    }
}

// ------------------------------------------------------------------------------------------------ config

TEST_CASE("hygiene: settings default to the documented actions", "[hygiene][config]") {
    HygieneSettings s = HygieneSettings::defaults();
    for (const auto& r : hygieneRules()) {
        INFO(r.id);
        CHECK(s.action(r.id) == r.defaultAction);
    }
    CHECK(s.action("no-such-rule") == RuleAction::Off);
    CHECK_FALSE(s.dryRun);
    CHECK(s.stripHeaders == std::vector<std::string>{"X-Originating-IP", "X-Mailer", "User-Agent",
                                                     "X-PHP-Originating-Script", "X-PHP-Script", "X-Source",
                                                     "X-Source-Args", "X-Source-Dir", "X-Enigmail", "X-Forwarded-For"});
    CHECK(s.internalDomains ==
          std::vector<std::string>{".local", ".lan", ".internal", ".localdomain", ".home", ".corp", "localhost"});
    CHECK(s.messageIdDomain.empty());
    CHECK(s.headerSizeLimit == 256 * 1024);
}

TEST_CASE("hygiene: hygiene_rules sets per-rule actions", "[hygiene][config]") {
    HygieneSettings s = settingsFrom("hygiene_rules = date=warn, strip-headers=off\n");
    CHECK(s.action("date") == RuleAction::Warn);
    CHECK(s.action("strip-headers") == RuleAction::Off);
    CHECK(s.action("from") == RuleAction::Reject);

    SECTION("blanks around '=' and upper case are accepted") {
        HygieneSettings t = settingsFrom("hygiene_rules = Date = REJECT, message-id =warn,\n  from-mailbox= off\n");
        CHECK(t.action("date") == RuleAction::Reject);
        CHECK(t.action("message-id") == RuleAction::Warn);
        CHECK(t.action("from-mailbox") == RuleAction::Off);
    }
    SECTION("the other keys") {
        HygieneSettings t = settingsFrom(
            "hygiene_dry_run = yes\n"
            "hygiene_strip_headers = X-Mailer, X-Source*\n"
            "hygiene_internal_domains = .Corp, buildhost\n"
            "hygiene_message_id_domain = Mail.Example.COM\n"
            "hygiene_header_size_limit = 64k\n");
        CHECK(t.dryRun);
        CHECK(t.stripHeaders == std::vector<std::string>{"X-Mailer", "X-Source*"});
        CHECK(t.internalDomains == std::vector<std::string>{".corp", "buildhost"});
        CHECK(t.messageIdDomain == "mail.example.com");
        CHECK(t.headerSizeLimit == 64 * 1024);
    }
}

TEST_CASE("hygiene: configuration mistakes are diagnosed with the key and line", "[hygiene][config]") {
    config::Diagnostics d;
    struct Case {
        std::string conf;
        std::string message;
        bool warning;
    };
    const std::vector<Case> cases{
        {"hygiene_rules = dates=warn\n",
         "t.conf:1: hygiene_rules: unknown rule \"dates\" (rules: from, from-mailbox, date, message-id, "
         "message-id-internal, duplicate-headers, line-length, header-size, 8bit-headers, strip-headers, "
         "private-received, forged-auth, mime-version)",
         false},
        {"hygiene_rules = from=fix\n",
         "t.conf:1: hygiene_rules: rule from cannot take action fix (it allows reject, warn, off)", false},
        {"hygiene_rules = strip-headers=reject\n",
         "t.conf:1: hygiene_rules: rule strip-headers cannot take action reject (it allows strip, warn, off)", false},
        {"hygiene_rules = date=bounce\n",
         "t.conf:1: hygiene_rules: unknown action \"bounce\" for rule date (it allows fix, reject, warn, off)", false},
        {"hygiene_rules = date\n", "t.conf:1: hygiene_rules: expected RULE=ACTION, got \"date\"", false},
        {"\nhygiene_rules = date=warn, date=off\n",
         "t.conf:2: warning: hygiene_rules: rule date is set more than once; the last setting (off) counts", true},
        {"hygiene_strip_headers = X-Mailer, Bad:Name\n",
         "t.conf:1: hygiene_strip_headers: \"Bad:Name\" is not a header field name (a trailing * matches a prefix, "
         "as in X-Source*)",
         false},
        {"hygiene_strip_headers = Message-ID\n",
         "t.conf:1: hygiene_strip_headers: \"Message-ID\" would strip Message-ID, which the message needs (the "
         "hygiene rules keep it valid)",
         false},
        {"hygiene_strip_headers = Li*\n",
         "t.conf:1: hygiene_strip_headers: \"Li*\" would strip List-Id, which the message needs (the hygiene rules "
         "keep it valid)",
         false},
        {"hygiene_strip_headers = *\n",
         "t.conf:1: hygiene_strip_headers: \"*\" is not a header field name (a trailing * matches a prefix, as in "
         "X-Source*)",
         false},
        {"hygiene_message_id_domain = localhost\n",
         "t.conf:1: hygiene_message_id_domain: \"localhost\" is not a fully qualified domain name", false},
        {"hygiene_internal_domains = a@b\n",
         "t.conf:1: hygiene_internal_domains: \"a@b\" is not a domain name or a .suffix", false},
        {"hygiene_header_size_limit = 100\n",
         "t.conf:1: hygiene_header_size_limit: 100 bytes is too small for any real message (use at least 1k)", false},
        {"hygiene_header_size_limit = 2M\n",
         "t.conf:1: warning: hygiene_header_size_limit (2M) is larger than milter_header_size_limit (1M): larger "
         "header blocks get a temporary failure before rule header-size sees them",
         true},
    };
    for (const auto& c : cases) {
        INFO(c.conf);
        config::Diagnostics diags;
        HygieneSettings s = settingsFrom(c.conf, &diags);
        REQUIRE(diags.all().size() == 1);
        CHECK(diags.str() == c.message + "\n");
        CHECK(diags.hasErrors() == !c.warning);
        CHECK(s.action("from") == RuleAction::Reject);  // the rest keeps its defaults
    }
    SECTION("a bad entry does not change the rule; the good ones still count") {
        config::Diagnostics diags;
        HygieneSettings s = settingsFrom("hygiene_rules = from=fix, date=warn\n", &diags);
        CHECK(diags.hasErrors());
        CHECK(s.action("from") == RuleAction::Reject);
        CHECK(s.action("date") == RuleAction::Warn);
    }
}

// ------------------------------------------------------------------------------------------------ from

TEST_CASE("hygiene rule from: exactly one From field", "[hygiene]") {
    SECTION("missing") {
        Outcome o = runFields(with("From", {}));
        requireReject(o, "from", "This message is not RFC 5322 compliant: 'From' header is missing");
        CHECK(o.verdict.text.find("https://support.google.com/mail/?p=RfcMessageNonCompliant") != std::string::npos);
    }
    SECTION("two") {
        Outcome o = runFields(with("From", {" a@example.com", " b@example.com"}));
        requireReject(o, "from", "Multiple 'From' headers found (2)");
    }
    SECTION("warn: noted, delivered") {
        Outcome o =
            runFields(with("From", {" a@example.com", " b@example.com"}), settingsFrom("hygiene_rules = from=warn\n"));
        CHECK(o.verdict.proceeds());
        CHECK(o.notes.all() == std::vector<std::string>{"hygiene: warn from: 2 From header fields"});
        CHECK(o.edits.empty());
    }
    SECTION("off: silent") {
        Outcome o =
            runFields(with("From", {" a@example.com", " b@example.com"}), settingsFrom("hygiene_rules = from=off\n"));
        requireUntouched(o);
    }
}

TEST_CASE("hygiene rule from-mailbox: one valid mailbox in From", "[hygiene]") {
    SECTION("good forms pass") {
        for (const char* v : {" alice@example.com", " \"Smith, Alice\" <alice@example.com>",
                              " Alice (work) <alice@news.example.com>", " =?UTF-8?B?SsO2cmc=?= <j@example.com>"}) {
            INFO(v);
            requireUntouched(runFields(with("From", {v})));
        }
    }
    SECTION("two addresses") {
        Outcome o = runFields(with("From", {" a@example.com, b@example.com"}));
        requireReject(o, "from-mailbox", "Multiple addresses in the From: header are not accepted (2 addresses)");
    }
    SECTION("unparseable") {
        Outcome o = runFields(with("From", {" Alice <alice@example.com"}));
        requireReject(
            o, "from-mailbox",
            "Messages missing a valid address in the From: header, or having no From: header, are not accepted (");
    }
    SECTION("an empty group") {
        Outcome o = runFields(with("From", {" undisclosed-senders:;"}));
        requireReject(o, "from-mailbox", "(the From header field holds no address)");
    }
    SECTION("a domain that is not fully qualified, or a literal") {
        requireReject(runFields(with("From", {" root@localhost"})), "from-mailbox",
                      "is not a fully qualified domain name");
        requireReject(runFields(with("From", {" root@[192.0.2.1]"})), "from-mailbox", "is not a valid domain name");
    }
    SECTION("warn and off") {
        Outcome o = runFields(with("From", {" a@example.com, b@example.com"}),
                              settingsFrom("hygiene_rules = from-mailbox=warn\n"));
        CHECK(o.verdict.proceeds());
        CHECK(o.notes.all() ==
              std::vector<std::string>{"hygiene: warn from-mailbox: the From header field holds 2 addresses"});
        requireUntouched(runFields(with("From", {" a@example.com, b@example.com"}),
                                   settingsFrom("hygiene_rules = from-mailbox=off\n")));
    }
}

// ------------------------------------------------------------------------------------------------ date

TEST_CASE("hygiene rule date: a missing Date is added from the clock", "[hygiene]") {
    Message m = messageOf(with("Date", {}));
    Outcome o = run(m);
    CHECK(o.verdict.proceeds());
    CHECK(valueOf(m, "Date") == " Sun, 22 Nov 2026 10:00:00 +0000");
    CHECK(o.notes.all() == std::vector<std::string>{"hygiene: added Date"});
    REQUIRE(o.edits.headers.size() == 1);
    CHECK(o.edits.headers[0] == HeaderEdit{Kind::Append, "Date", " Sun, 22 Nov 2026 10:00:00 +0000", 0, 0});

    SECTION("the clock decides, not the system time") {
        auto clock = std::make_shared<util::FakeClock>(util::SystemTime{});
        Message a = messageOf(with("Date", {}));
        run(a, HygieneSettings::defaults(), clock);
        CHECK(valueOf(a, "Date") == " Thu, 1 Jan 1970 00:00:00 +0000");
        clock->set(util::SystemTime(std::chrono::seconds(1709210096)));  // leap day 2024
        Message b = messageOf(with("Date", {}));
        run(b, HygieneSettings::defaults(), clock);
        CHECK(valueOf(b, "Date") == " Thu, 29 Feb 2024 12:34:56 +0000");
        clock->advance(std::chrono::hours(24 * 365) + std::chrono::milliseconds(999));
        Message c = messageOf(with("Date", {}));
        run(c, HygieneSettings::defaults(), clock);
        CHECK(valueOf(c, "Date") == " Fri, 28 Feb 2025 12:34:56 +0000");
    }
}

TEST_CASE("hygiene rule date: RFC 5322 dates stay as written, non-dates are replaced", "[hygiene]") {
    for (const char* v : {" Sun, 22 Nov 2026 09:59:00 +0000", " Sun, 22 Nov 2026 10:00:00 +0100 (CET)",
                          " 22 Nov 2026 10:00:00 -0500", " Sun, 22 Nov 26 10:00 GMT", " Sun, 22 Nov 126 10:00:00 EST",
                          " Sunday, 22 November 2026 10:00:00 PDT", " Sun 22 Nov 2026 10:00:00 +0000",
                          " Sun , 22 Nov 2026 10 : 00 : 00 +0000", " (sent from my phone) 1 Jan 99 00:00:00 Z",
                          " Thu, 29 Feb 2024 23:59:60 +0000 (UTC)", " Sun, 22 Nov 2026 10:00:00 +0000 UTC",
                          " Sun, 22 Nov 2026\r\n 10:00:00 +0000", " Sun, 22 Nov 2026 10:00:00"}) {
        INFO(v);
        requireUntouched(runFields(with("Date", {v})));
    }
    for (const char* v :
         {" 2026-11-22T10:00:00Z", " Sun Nov 22 10:00:00 2026", " yesterday", "", " ", " 31 Feb 2026 10:00:00 +0000",
          " 29 Feb 2025 10:00:00 +0000", " 22 Nov 2026 24:00:00 +0000", " 22 Nov 2026 10:60:00 +0000",
          " 22 Nov 2026 10:00:00 +0075", " 22 Nov 2026 10:00:00 +01", " 22 Nov 2026 10:00:00 +0000 and then some",
          " Sun, 22 Nov 2026 10:00:00 +0000 (unclosed", " 0 Nov 2026 10:00:00 +0000", " 22 Nov 1899 10:00:00 +0000",
          " 22 Nov 2026 10:00:00 Europe/Berlin", " Caturday, 22 Nov 2026 10:00:00 +0000"}) {
        INFO(v);
        Message m = messageOf(with("Date", {v}));
        Outcome o = run(m);
        CHECK(o.verdict.proceeds());
        CHECK(valueOf(m, "Date") == " Sun, 22 Nov 2026 10:00:00 +0000");
        REQUIRE(o.edits.headers.size() == 1);
        CHECK(o.edits.headers[0] == HeaderEdit{Kind::Change, "Date", " Sun, 22 Nov 2026 10:00:00 +0000", 1, 0});
        REQUIRE(o.notes.all().size() == 1);
        CHECK(o.notes.all()[0].rfind("hygiene: replaced unparseable Date \"", 0) == 0);
    }
}

TEST_CASE("hygiene rule date: several, 8-bit, reject, warn, off", "[hygiene]") {
    SECTION("two Date fields are refused even with fix") {
        requireReject(runFields(with("Date", {" Sun, 22 Nov 2026 09:59:00 +0000", " Sun, 22 Nov 2026 09:59:00 +0000"})),
                      "date", "Multiple 'Date' headers found (2)");
    }
    SECTION("8-bit in a Date comment without SMTPUTF8: replaced; with SMTPUTF8: kept") {
        const std::string v = " Sun, 22 Nov 2026 10:00:00 +0100 (Mitteleurop\xC3\xA4ische Zeit)";
        Message m = messageOf(with("Date", {v}));
        Outcome o = run(m);
        CHECK(valueOf(m, "Date") == " Sun, 22 Nov 2026 10:00:00 +0000");
        CHECK(hasNote(o.notes, "hygiene: replaced Date \""));
        CHECK(hasNote(o.notes, "has 8-bit characters"));
        requireUntouched(runFields(with("Date", {v}), HygieneSettings::defaults(), true));
    }
    SECTION("date=reject") {
        auto s = settingsFrom("hygiene_rules = date=reject\n");
        requireReject(runFields(with("Date", {}), s), "date", "'Date' header is missing");
        requireReject(runFields(with("Date", {" tomorrow"}), s), "date",
                      "the Date header field \"tomorrow\" is not an RFC 5322 date-time");
    }
    SECTION("date=warn notes, date=off is silent") {
        Outcome o = runFields(with("Date", {}), settingsFrom("hygiene_rules = date=warn\n"));
        CHECK(o.verdict.proceeds());
        CHECK(o.edits.empty());
        CHECK(o.notes.all() == std::vector<std::string>{"hygiene: warn date: no Date header field"});
        requireUntouched(runFields(with("Date", {}), settingsFrom("hygiene_rules = date=off\n")));
        Outcome two = runFields(with("Date", {" 1 Jan 2026 00:00 +0000", " 2 Jan 2026 00:00 +0000"}),
                                settingsFrom("hygiene_rules = date=warn\n"));
        CHECK(two.verdict.proceeds());
        CHECK(two.notes.all() == std::vector<std::string>{"hygiene: warn date: 2 Date header fields"});
    }
}

// ------------------------------------------------------------------------------------------------ message-id

TEST_CASE("hygiene rule message-id: generated from a CSPRNG and the clock when missing", "[hygiene]") {
    const std::regex shape(R"( <[a-z2-7]{26}\.1795341600000@example\.com>)");
    Message m = messageOf(with("Message-ID", {}));
    Outcome o = run(m);
    CHECK(o.verdict.proceeds());
    const std::string id = valueOf(m, "Message-ID");
    CHECK(std::regex_match(id, shape));
    CHECK(o.notes.all() == std::vector<std::string>{"hygiene: added Message-ID"});
    REQUIRE(o.edits.headers.size() == 1);
    CHECK(o.edits.headers[0].kind == Kind::Append);
    CHECK(o.edits.headers[0].value == id);

    Message again = messageOf(with("Message-ID", {}));
    run(again);
    CHECK(valueOf(again, "Message-ID") != id);  // 128 random bits each time

    SECTION("the From domain as an A-label, or hygiene_message_id_domain") {
        Message idn = messageOf(with("From", {" Alice <alice@b\xC3\xBC"
                                              "cher.example>"}));
        idn.removeHeader(idn.find("Message-ID"));
        run(idn, HygieneSettings::defaults());
        CHECK(
            std::regex_match(valueOf(idn, "Message-ID"), std::regex(R"( <[a-z2-7]{26}\.\d+@xn--bcher-kva\.example>)")));

        Message conf = messageOf(with("Message-ID", {}));
        run(conf, settingsFrom("hygiene_message_id_domain = ids.example.net\n"));
        CHECK(std::regex_match(valueOf(conf, "Message-ID"), std::regex(R"( <[a-z2-7]{26}\.\d+@ids\.example\.net>)")));
    }
    SECTION("the envelope sender's domain when From has none usable") {
        Message m2 = messageOf(with("Message-ID", {}));
        m2.removeHeader(m2.find("From"));
        m2.envelope.sender = "bounce@mailer.example.org";
        Outcome o2 = run(m2, settingsFrom("hygiene_rules = from=off\n"));
        CHECK(std::regex_match(valueOf(m2, "Message-ID"), std::regex(R"( <[a-z2-7]{26}\.\d+@mailer\.example\.org>)")));
        CHECK(o2.verdict.proceeds());
    }
    SECTION("no domain at all: noted, not invented") {
        Message m3 = messageOf(with("Message-ID", {}));
        m3.removeHeader(m3.find("From"));
        m3.envelope.sender = "";
        Outcome o3 = run(m3, settingsFrom("hygiene_rules = from=off\n"));
        CHECK(o3.verdict.proceeds());
        CHECK(m3.count("Message-ID") == 0);
        CHECK(o3.notes.all() ==
              std::vector<std::string>{
                  "hygiene: cannot add a Message-ID: no domain for it (set hygiene_message_id_domain)"});
    }
}

TEST_CASE("hygiene rule message-id: malformed IDs are replaced, good ones kept", "[hygiene]") {
    for (const char* v : {" <abc.123@example.com>", " <a+b=c@mail.example.com> (comment)", "\r\n <x.y@example.com>",
                          " <\"quoted\"@example.com>"}) {
        INFO(v);
        requireUntouched(runFields(with("Message-ID", {v})));
    }
    const std::string longId = " <" + std::string(495, 'a') + "@example.com>";
    for (const std::string& v : {std::string(" abc@example.com"), std::string(" <abc>"), std::string(" <@example.com>"),
                                 std::string(" <abc@>"), std::string(" <a b@example.com>"),
                                 std::string(" <a..b@example.com>"), std::string(" <abc@example.com> trailing"),
                                 std::string(""), longId, std::string(" <caf\xC3\xA9@example.com>")}) {
        INFO(v);
        Message m = messageOf(with("Message-ID", {v}));
        Outcome o = run(m);
        CHECK(o.verdict.proceeds());
        CHECK(std::regex_match(valueOf(m, "Message-ID"), std::regex(R"( <[a-z2-7]{26}\.\d+@example\.com>)")));
        REQUIRE(o.edits.headers.size() == 1);
        CHECK(o.edits.headers[0].kind == Kind::Change);
        CHECK(o.edits.headers[0].occurrence == 1);
        REQUIRE(o.notes.all().size() == 1);
        CHECK(o.notes.all()[0].rfind("hygiene: replaced malformed Message-ID \"", 0) == 0);
    }
    SECTION("8-bit IDs are fine with SMTPUTF8") {
        requireUntouched(
            runFields(with("Message-ID", {" <caf\xC3\xA9@example.com>"}), HygieneSettings::defaults(), true));
    }
}

TEST_CASE("hygiene rule message-id: several, reject, warn", "[hygiene]") {
    requireReject(runFields(with("Message-ID", {" <a@example.com>", " <b@example.com>"})), "message-id",
                  "Multiple 'Message-ID' headers found (2)");
    auto reject = settingsFrom("hygiene_rules = message-id=reject\n");
    requireReject(runFields(with("Message-ID", {}), reject), "message-id",
                  "Messages missing a valid Message-ID: header are not accepted (the message has none)");
    requireReject(runFields(with("Message-ID", {" <abc>"}), reject), "message-id",
                  "Messages missing a valid Message-ID: header are not accepted (\"<abc>\" is not <left@right>)");
    Outcome w = runFields(with("Message-ID", {}), settingsFrom("hygiene_rules = message-id=warn\n"));
    CHECK(w.verdict.proceeds());
    CHECK(w.edits.empty());
    CHECK(w.notes.all() == std::vector<std::string>{"hygiene: warn message-id: no Message-ID header field"});
    requireUntouched(runFields(with("Message-ID", {}), settingsFrom("hygiene_rules = message-id=off\n")));
}

TEST_CASE("hygiene rule message-id-internal: internal host names are replaced", "[hygiene]") {
    for (const char* host : {"build7", "host.local", "pc.corp", "box.LAN", "localhost", "[10.0.0.1]", "192.168.1.1",
                             "mail.internal", "x.localdomain"}) {
        INFO(host);
        Message m = messageOf(with("Message-ID", {std::string(" <12345.abc@") + host + ">"}));
        Outcome o = run(m);
        CHECK(o.verdict.proceeds());
        CHECK(valueOf(m, "Message-ID") == " <12345.abc@example.com>");
        CHECK(o.notes.all() ==
              std::vector<std::string>{"hygiene: replaced Message-ID host \"" + std::string(host) + "\""});
        REQUIRE(o.edits.headers.size() == 1);
        CHECK(o.edits.headers[0] == HeaderEdit{Kind::Change, "Message-ID", " <12345.abc@example.com>", 1, 0});
    }
    SECTION("public names stay") {
        requireUntouched(runFields(with("Message-ID", {" <1@mail.example.com>"})));
        requireUntouched(runFields(with("Message-ID", {" <1@localhost.example.com>"})));
    }
    SECTION("hygiene_internal_domains and hygiene_message_id_domain") {
        auto s = settingsFrom(
            "hygiene_internal_domains = .example.net, buildbox.test\nhygiene_message_id_domain = ids.example.com\n");
        Message m = messageOf(with("Message-ID", {" <1@a.b.example.net>"}));
        run(m, s);
        CHECK(valueOf(m, "Message-ID") == " <1@ids.example.com>");
        Message n = messageOf(with("Message-ID", {" <1@buildbox.test>"}));
        run(n, s);
        CHECK(valueOf(n, "Message-ID") == " <1@ids.example.com>");
        requireUntouched(runFields(with("Message-ID", {" <1@pc.corp>"}), s));  // the list replaced the default
    }
    SECTION("reject, warn, off") {
        requireReject(runFields(with("Message-ID", {" <1@pc.local>"}),
                                settingsFrom("hygiene_rules = message-id-internal=reject\n")),
                      "message-id-internal", "the Message-ID discloses the internal host name \"pc.local\"");
        Outcome w = runFields(with("Message-ID", {" <1@pc.local>"}),
                              settingsFrom("hygiene_rules = message-id-internal=warn\n"));
        CHECK(w.notes.all() ==
              std::vector<std::string>{
                  "hygiene: warn message-id-internal: Message-ID host \"pc.local\" is an internal name"});
        CHECK(w.edits.empty());
        requireUntouched(runFields(with("Message-ID", {" <1@pc.local>"}),
                                   settingsFrom("hygiene_rules = message-id-internal=off\n")));
    }
}

// ------------------------------------------------------------------------------------------------ duplicates

TEST_CASE("hygiene rule duplicate-headers: single-instance fields at most once", "[hygiene]") {
    for (const char* name : {"Subject", "To", "Cc", "Bcc", "Reply-To", "Sender", "In-Reply-To", "References",
                             "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "List-Id", "Feedback-ID"}) {
        INFO(name);
        auto f = goodFields();
        f.push_back({name, " one"});
        f.push_back({util::toLower(name), " two"});  // names compare case-insensitively
        if (util::iequals(name, "Subject") || util::iequals(name, "To") || util::iequals(name, "MIME-Version") ||
            util::iequals(name, "Content-Type")) {
            f.pop_back();
        }
        Outcome o = runFields(f);
        requireReject(o, "duplicate-headers",
                      std::string("This message is not RFC 5322 compliant. There are multiple ") + name + " headers");
    }
    SECTION("List-Unsubscribe duplicates are left to the stamp stage, which replaces them") {
        auto f = goodFields();
        f.push_back({"List-Unsubscribe", " <https://a.example.com/1>"});
        f.push_back({"List-Unsubscribe", " <https://a.example.com/2>"});
        f.push_back({"List-Unsubscribe-Post", " List-Unsubscribe=One-Click"});
        f.push_back({"List-Unsubscribe-Post", " List-Unsubscribe=One-Click"});
        requireUntouched(runFields(f));
    }
    SECTION("several names are all listed") {
        auto f = goodFields();
        f.push_back({"To", " c@remote.test"});
        f.push_back({"Subject", " again"});
        Outcome o = runFields(f);
        requireReject(o, "duplicate-headers",
                      "There are multiple Subject headers (and multiple To). Gmail and Yahoo refuse");
    }
    SECTION("warn and off") {
        auto f = goodFields();
        f.push_back({"Subject", " again"});
        Outcome w = runFields(f, settingsFrom("hygiene_rules = duplicate-headers=warn\n"));
        CHECK(w.verdict.proceeds());
        CHECK(w.notes.all() == std::vector<std::string>{"hygiene: warn duplicate-headers: multiple Subject (2)"});
        requireUntouched(runFields(f, settingsFrom("hygiene_rules = duplicate-headers=off\n")));
    }
}

// ------------------------------------------------------------------------------------------------ line-length

TEST_CASE("hygiene rule line-length: lines over 998 octets are refolded", "[hygiene]") {
    std::string words;
    for (int i = 0; i < 150; ++i)
        words += " word" + std::to_string(i);  // ~1100 octets, one line
    Message m = messageOf(with("Subject", {words}));
    Outcome o = run(m);
    CHECK(o.verdict.proceeds());
    const std::string v = valueOf(m, "Subject");
    CHECK(mail::unfold(v) == mail::unfold(words));  // only folding whitespace was inserted
    for (const auto& line : linesOf("Subject", v))
        CHECK(line.size() <= 78);
    CHECK(v.find("\r\n ") != std::string::npos);
    CHECK(o.notes.all() == std::vector<std::string>{"hygiene: refolded Subject"});
    REQUIRE(o.edits.headers.size() == 1);
    CHECK(o.edits.headers[0].kind == Kind::Change);

    SECTION("a long continuation line in an already folded field; other lines stay") {
        const std::string refs = " <a@example.com>\r\n" + std::string(" <b@example.com>") + words;
        Message r = messageOf(with("References", {refs}));
        run(r);
        const std::string out = valueOf(r, "References");
        CHECK(out.rfind(" <a@example.com>\r\n <b@example.com>", 0) == 0);
        CHECK(mail::unfold(out) == mail::unfold(refs));
        for (const auto& line : linesOf("References", out))
            CHECK(line.size() <= 998);
    }
    SECTION("a stretch over 998 octets with no blank before 998 gets folded where a blank follows") {
        const std::string token(990, 'x');
        const std::string value = " " + token + " tail" + words;
        Message r = messageOf(with("X-Long", {value}));
        Outcome ro = run(r);
        CHECK(ro.verdict.proceeds());
        const std::string out = valueOf(r, "X-Long");
        CHECK(mail::unfold(out) == mail::unfold(value));
        for (const auto& line : linesOf("X-Long", out))
            CHECK(line.size() <= 998);
    }
    SECTION("good: long but legal lines stay as they are") {
        requireUntouched(runFields(with("Subject", {" " + std::string(985, 'y')})));  // 998 with "Subject:"
        requireUntouched(runFields(with("Subject", {" " + std::string(900, 'y') + "\r\n " + std::string(900, 'z')})));
    }
}

TEST_CASE("hygiene rule line-length: a line that cannot be refolded is refused", "[hygiene]") {
    const std::string token(1200, 'x');
    Outcome o = runFields(with("Subject", {" " + token}));
    requireReject(o, "line-length",
                  "This message is not RFC 5322 compliant: the Subject header field has a line of 1209 octets "
                  "without whitespace to fold at (the limit is 998 octets per line");
    SECTION("line-length=reject refuses even what could be refolded; warn notes; off is silent") {
        std::string words;
        for (int i = 0; i < 150; ++i)
            words += " word" + std::to_string(i);
        requireReject(runFields(with("Subject", {words}), settingsFrom("hygiene_rules = line-length=reject\n")),
                      "line-length", "This message is not RFC 5322 compliant");
        Outcome w = runFields(with("Subject", {words}), settingsFrom("hygiene_rules = line-length=warn\n"));
        CHECK(w.verdict.proceeds());
        CHECK(w.edits.empty());
        CHECK(w.notes.all() == std::vector<std::string>{"hygiene: warn line-length: lines over 998 octets in Subject"});
        requireUntouched(runFields(with("Subject", {" " + token}), settingsFrom("hygiene_rules = line-length=off\n")));
    }
}

// ------------------------------------------------------------------------------------------------ header-size

TEST_CASE("hygiene rule header-size: the header block stays under the limit", "[hygiene]") {
    auto s = settingsFrom("hygiene_header_size_limit = 2k\n");
    requireUntouched(runFields(goodFields(), s));
    auto big = goodFields();
    for (int i = 0; i < 40; ++i)
        big.push_back({"X-Trace-" + std::to_string(i), " " + std::string(60, 'a')});
    Outcome o = runFields(big, s);
    REQUIRE(o.verdict.kind == Verdict::Kind::Reject);
    CHECK(o.verdict.code == "552");
    CHECK(o.verdict.xcode == "5.3.4");
    CHECK(o.verdict.counter == "hygiene");
    CHECK(o.verdict.text.rfind("rampart hygiene rule header-size: Your message exceeded the message header size limit: "
                               "the header block is ",
                               0) == 0);
    CHECK(o.verdict.text.find("the limit is 2048") != std::string::npos);

    SECTION("more than 5,000 fields") {
        Message many = messageOf(goodFields());
        // appendHeader: building 5,000 received fields one by one is quadratic in Message.
        for (int i = 0; i < 5000; ++i)
            many.appendHeader("Comments", " x");
        Outcome m = run(many);
        REQUIRE(m.verdict.kind == Verdict::Kind::Reject);
        CHECK(m.verdict.text.find("5007 header fields, the limit is 5000") != std::string::npos);
    }
    SECTION("warn and off") {
        Outcome w = runFields(big, settingsFrom("hygiene_header_size_limit = 2k\nhygiene_rules = header-size=warn\n"));
        CHECK(w.verdict.proceeds());
        REQUIRE(w.notes.all().size() == 1);
        CHECK(w.notes.all()[0].rfind("hygiene: warn header-size: the header block is ", 0) == 0);
        requireUntouched(
            runFields(big, settingsFrom("hygiene_header_size_limit = 2k\nhygiene_rules = header-size=off\n")));
    }
}

// ------------------------------------------------------------------------------------------------ 8bit-headers

TEST_CASE("hygiene rule 8bit-headers: unstructured fields get RFC 2047 encoded-words", "[hygiene]") {
    const std::string subject =
        " Gr\xC3\xBC\xC3\x9F"
        "e aus K\xC3\xB6ln, sagt Bob";
    Message m = messageOf(with("Subject", {subject}));
    Outcome o = run(m);
    CHECK(o.verdict.proceeds());
    const std::string v = valueOf(m, "Subject");
    CHECK_FALSE(has8bit(v));
    CHECK(v == " =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4s?= sagt Bob");
    CHECK(decode2047(v) == subject);
    CHECK(o.notes.all() == std::vector<std::string>{"hygiene: RFC 2047-encoded 8-bit in Subject"});
    REQUIRE(o.edits.headers.size() == 1);
    CHECK(o.edits.headers[0] == HeaderEdit{Kind::Change, "Subject", v, 1, 0});

    SECTION("with SMTPUTF8 raw UTF-8 is allowed") {
        requireUntouched(runFields(with("Subject", {subject}), HygieneSettings::defaults(), true));
    }
    SECTION("long text: encoded-words of at most 75 characters, lines of at most 76, no split characters") {
        std::string text;
        for (int i = 0; i < 40; ++i)
            text += " \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xF0\x9F\x98\x80";  // 日本語😀
        Message l = messageOf(with("Subject", {text}));
        run(l);
        const std::string out = valueOf(l, "Subject");
        std::vector<EncodedWord> words;
        CHECK(decode2047(out, &words) == text);
        CHECK(words.size() > 5);
        for (const auto& w : words) {
            CHECK(w.charset == "UTF-8");
            CHECK(validUtf8(w.bytes));  // no UTF-8 sequence split across encoded-words
        }
        std::smatch mm;
        std::string rest = out;
        static const std::regex ew(R"(=\?[^? ]+\?B\?[A-Za-z0-9+/=]*\?=)");
        while (std::regex_search(rest, mm, ew)) {
            CHECK(mm.length(0) <= 75);
            rest = mm.suffix();
        }
        for (const auto& line : linesOf("Subject", out))
            CHECK(line.size() <= 76);
    }
    SECTION("X- fields, Comments and Keywords too; ASCII words stay readable") {
        auto f = goodFields();
        f.push_back({"X-Campaign", " Fr\xC3\xBChling"});
        f.push_back({"Comments", " caf\xC3\xA9"});
        f.push_back({"Keywords", " na\xC3\xAFve"});
        Message k = messageOf(f);
        Outcome ko = run(k);
        CHECK(decode2047(valueOf(k, "X-Campaign")) == " Fr\xC3\xBChling");
        CHECK(decode2047(valueOf(k, "Comments")) == " caf\xC3\xA9");
        CHECK(decode2047(valueOf(k, "Keywords")) == " na\xC3\xAFve");
        CHECK(ko.notes.all() ==
              std::vector<std::string>{"hygiene: RFC 2047-encoded 8-bit in X-Campaign, Comments, Keywords"});
    }
    SECTION("next to an existing encoded-word the blank moves inside, so it survives decoding") {
        const std::string mixed = " =?UTF-8?B?SGFsbG8=?= W\xC3\xB6rld";
        Message e = messageOf(with("Subject", {mixed}));
        run(e);
        const std::string out = valueOf(e, "Subject");
        CHECK(out.rfind(" =?UTF-8?B?SGFsbG8=?= =?UTF-8?B?", 0) == 0);
        CHECK(decode2047(out) == " Hallo W\xC3\xB6rld");
    }
    SECTION("no blank after the colon") {
        Message e = messageOf(with("Subject", {"\xC3\xA9t\xC3\xA9"}));
        run(e);
        CHECK(valueOf(e, "Subject") == " =?UTF-8?B?w6l0w6k=?=");
    }
    SECTION("bytes that are not UTF-8 are taken as windows-1252, unchanged") {
        const std::string latin1 =
            " Gr\xFC\xDF"
            "e \x93quoted\x94";
        Message w = messageOf(with("Subject", {latin1}));
        run(w);
        std::vector<EncodedWord> words;
        CHECK(decode2047(valueOf(w, "Subject"), &words) == latin1);
        REQUIRE_FALSE(words.empty());
        CHECK(words[0].charset == "windows-1252");
    }
}

TEST_CASE("hygiene rule 8bit-headers: address fields", "[hygiene]") {
    SECTION("display names are encoded, addresses untouched") {
        Message m = messageOf(with("From", {" J\xC3\xB6rg M\xC3\xBCller <joerg@example.com>"}));
        Outcome o = run(m);
        CHECK(o.verdict.proceeds());
        const std::string v = valueOf(m, "From");
        CHECK(v == " =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <joerg@example.com>");
        auto parsed = mail::parseAddressList(v);
        REQUIRE(parsed);
        REQUIRE(parsed->size() == 1);
        CHECK(parsed->front().address() == "joerg@example.com");
        CHECK(decode2047(parsed->front().displayName) == "J\xC3\xB6rg M\xC3\xBCller");
    }
    SECTION("quoted display names, several addresses, groups and comments") {
        const std::string to =
            " \"M\xC3\xBCller, J\xC3\xB6rg\" <j@example.com>, plain@example.com,\r\n Team K\xC3\xB6ln: "
            "a@example.com (B\xC3\xBCro), b@example.com;";
        Message m = messageOf(with("To", {to}));
        Outcome o = run(m);
        CHECK(o.verdict.proceeds());
        const std::string v = valueOf(m, "To");
        CHECK_FALSE(has8bit(v));
        auto parsed = mail::parseAddressList(v);
        REQUIRE(parsed);
        REQUIRE(parsed->size() == 4);
        CHECK(parsed->at(0).address() == "j@example.com");
        CHECK(decode2047(parsed->at(0).displayName) == "M\xC3\xBCller, J\xC3\xB6rg");
        CHECK(parsed->at(1).address() == "plain@example.com");
        CHECK(parsed->at(2).address() == "a@example.com");
        CHECK(parsed->at(3).address() == "b@example.com");
        INFO(v);
        CHECK(v.find(" Team =?UTF-8?B?S8O2bG4=?= :") != std::string::npos);  // the group name
        CHECK(v.find("(=?UTF-8?B?QsO8cm8=?=)") != std::string::npos);        // the comment
    }
    SECTION("a U-label domain becomes its A-label") {
        Message m = messageOf(with("From", {" Alice <alice@b\xC3\xBC"
                                            "cher.example>"}));
        run(m);
        CHECK(valueOf(m, "From") == " Alice <alice@xn--bcher-kva.example>");
        Message bare = messageOf(with("Reply-To", {" help@b\xC3\xBC"
                                                   "cher.example"}));
        run(bare);
        CHECK(valueOf(bare, "Reply-To") == " help@xn--bcher-kva.example");
    }
    SECTION("a non-ASCII local part cannot be encoded: refused with Gmail's wording") {
        Outcome o = runFields(with("From", {" J\xC3\xB6rg <j\xC3\xB6rg@example.com>"}));
        requireReject(o, "8bit-headers",
                      "The message contains a unicode character in a disallowed header: the address local "
                      "part in From is not ASCII and the message was not sent with SMTPUTF8");
        requireReject(runFields(with("Cc", {" j\xC3\xB6rg@example.com"})), "8bit-headers",
                      "the address local part in Cc is not ASCII");
        requireUntouched(
            runFields(with("From", {" J\xC3\xB6rg <j\xC3\xB6rg@example.com>"}), HygieneSettings::defaults(), true));
    }
    SECTION("structured fields cannot be encoded") {
        requireReject(runFields(with("In-Reply-To", {" <\xC3\xA9@example.com>"})), "8bit-headers",
                      "8-bit characters in In-Reply-To, a structured header field");
        requireReject(runFields(with("Content-Type", {" text/plain; name=\"\xC3\xA9.txt\""})), "8bit-headers",
                      "8-bit characters in Content-Type, a structured header field");
    }
    SECTION("an invalid IDN is refused") {
        requireReject(runFields(with("To", {" a@\xC3\xA9\xC3\xA9..example"})), "8bit-headers", "8bit-headers: ");
    }
}

TEST_CASE("hygiene rule 8bit-headers: reject, warn, off", "[hygiene]") {
    const auto f = with("Subject", {" caf\xC3\xA9"});
    requireReject(runFields(f, settingsFrom("hygiene_rules = 8bit-headers=reject\n")), "8bit-headers",
                  "The message contains a unicode character in a disallowed header");
    Outcome w = runFields(f, settingsFrom("hygiene_rules = 8bit-headers=warn\n"));
    CHECK(w.verdict.proceeds());
    CHECK(w.edits.empty());
    CHECK(w.notes.all() == std::vector<std::string>{"hygiene: warn 8bit-headers: raw 8-bit in Subject"});
    requireUntouched(runFields(f, settingsFrom("hygiene_rules = 8bit-headers=off\n")));
}

// ------------------------------------------------------------------------------------------------ strips

TEST_CASE("hygiene rule strip-headers: infrastructure leaks are removed", "[hygiene]") {
    auto f = goodFields();
    f.insert(f.begin() + 1, {"X-Mailer", " PHPMailer 6.0"});
    f.push_back({"User-Agent", " Thunderbird/115.0"});
    f.push_back({"x-mailer", " again"});
    f.push_back({"X-Originating-IP", " [10.1.2.3]"});
    Message m = messageOf(f);
    Outcome o = run(m);
    CHECK(o.verdict.proceeds());
    CHECK(m.count("X-Mailer") == 0);
    CHECK(m.count("User-Agent") == 0);
    CHECK(m.count("X-Originating-IP") == 0);
    CHECK(m.headers().size() == goodFields().size());
    CHECK(o.notes.all() ==
          std::vector<std::string>{"hygiene: stripped X-Mailer (2), User-Agent (1), X-Originating-IP (1)"});
    const std::vector<HeaderEdit> expected{
        {Kind::Delete, "x-mailer", "", 2, 0},
        {Kind::Delete, "X-Mailer", "", 1, 0},
        {Kind::Delete, "User-Agent", "", 1, 0},
        {Kind::Delete, "X-Originating-IP", "", 1, 0},
    };
    CHECK(o.edits.headers == expected);

    SECTION("prefix patterns from hygiene_strip_headers") {
        auto s = settingsFrom("hygiene_strip_headers = X-Source*\n");
        auto g = goodFields();
        g.push_back({"X-Source-Args", " /usr/bin/php"});
        g.push_back({"X-Source-Dir", " /home/u"});
        g.push_back({"X-Mailer", " kept: not listed any more"});
        Message n = messageOf(g);
        Outcome no = run(n, s);
        CHECK(n.count("X-Source-Args") == 0);
        CHECK(n.count("X-Source-Dir") == 0);
        CHECK(n.count("X-Mailer") == 1);
        CHECK(no.notes.all() == std::vector<std::string>{"hygiene: stripped X-Source-Args (1), X-Source-Dir (1)"});
    }
    SECTION("warn and off") {
        Message wm = messageOf(f);
        Outcome w = run(wm, settingsFrom("hygiene_rules = strip-headers=warn\n"));
        CHECK(w.edits.empty());
        CHECK(w.notes.all() == std::vector<std::string>{
                                   "hygiene: warn strip-headers: X-Mailer (2), User-Agent (1), X-Originating-IP (1)"});
        requireUntouched(runFields(f, settingsFrom("hygiene_rules = strip-headers=off\n")));
    }
}

TEST_CASE("hygiene rule private-received: client Received fields from private addresses", "[hygiene]") {
    const std::vector<std::string> privateOnes{
        " from laptop (unknown [10.1.2.3]) by gw.example.com (Postfix) with ESMTP id 1; Sun, 22 Nov 2026",
        " from localhost (localhost [127.0.0.1])\r\n\tby mail.example.com with ESMTPSA; Sun, 22 Nov 2026",
        " from [IPv6:::1] (helo=x) by a.example.com with esmtp",
        " from pc.example.com ([192.168.7.9]:53110) by a with ESMTP",
        " from x (x [172.20.1.1]) by y",
        " from x (x [fc00::5]) by y",
        " from x (x [IPv6:fe80::1]) by y",
        " from unknown (HELO x) (100.64.1.1) by y with SMTP",
        " FROM [10.9.9.9] BY y",
    };
    for (const auto& r : privateOnes) {
        INFO(r);
        auto f = goodFields();
        f.insert(f.begin(), {"Received", r});
        Message m = messageOf(f);
        Outcome o = run(m);
        CHECK(o.verdict.proceeds());
        CHECK(m.count("Received") == 0);
        REQUIRE(o.edits.headers.size() == 1);
        CHECK(o.edits.headers[0] == HeaderEdit{Kind::Delete, "Received", "", 1, 0});
        REQUIRE(o.notes.all().size() == 1);
        CHECK(o.notes.all()[0].rfind("hygiene: stripped Received (1) from private or loopback addresses (", 0) == 0);
    }
    SECTION("public clients, no from-clause, and private addresses outside the from-clause stay") {
        auto f = goodFields();
        f.push_back({"Received", " from mx.remote.test (mx.remote.test [203.0.113.5]) by y with ESMTPS"});
        f.push_back({"Received", " by mail.example.com (Postfix, from userid 1000) id 5; Sun, 22 Nov 2026"});
        f.push_back(
            {"Received", " from mx.remote.test ([198.51.100.7]) by gw [10.0.0.1] with ESMTP for <a@[10.0.0.2]>"});
        f.push_back({"Received", " from fromage.example (x [2001:db8::1]) by y; 22 Nov 2026 10:00:00 +0000"});
        requireUntouched(runFields(f));
    }
    SECTION("several: the note counts them; warn and off") {
        auto f = goodFields();
        f.insert(f.begin(), {"Received", privateOnes[0]});
        f.insert(f.begin(), {"Received", " from mx.remote.test (mx.remote.test [203.0.113.5]) by y"});
        f.insert(f.begin(), {"Received", privateOnes[1]});
        Message m = messageOf(f);
        Outcome o = run(m);
        CHECK(m.count("Received") == 1);
        CHECK(o.notes.all() ==
              std::vector<std::string>{
                  "hygiene: stripped Received (2) from private or loopback addresses (127.0.0.1, 10.1.2.3)"});
        const std::vector<HeaderEdit> expected{{Kind::Delete, "Received", "", 3, 0},
                                               {Kind::Delete, "Received", "", 1, 0}};
        CHECK(o.edits.headers == expected);
        Outcome w = runFields(f, settingsFrom("hygiene_rules = private-received=warn\n"));
        CHECK(w.edits.empty());
        CHECK(w.notes.all() == std::vector<std::string>{"hygiene: warn private-received: Received (2) from private or "
                                                        "loopback addresses (127.0.0.1, 10.1.2.3)"});
        requireUntouched(runFields(f, settingsFrom("hygiene_rules = private-received=off\n")));
    }
}

TEST_CASE("hygiene rule forged-auth: client-supplied authentication claims are removed", "[hygiene]") {
    auto f = goodFields();
    f.insert(f.begin(), {"DKIM-Signature", " v=1; a=rsa-sha256; d=example.com; s=x; b=abc"});
    f.insert(f.begin(), {"Authentication-Results", " mx.example.com; dkim=pass"});
    f.insert(f.begin(), {"ARC-Seal", " i=1; cv=none"});
    f.insert(f.begin(), {"ARC-Message-Signature", " i=1"});
    Message m = messageOf(f);
    Outcome o = run(m);
    CHECK(o.verdict.proceeds());
    CHECK(m.headers().size() == goodFields().size());
    CHECK(o.notes.all() ==
          std::vector<std::string>{"hygiene: stripped client-supplied ARC-Message-Signature (1), ARC-Seal (1), "
                                   "Authentication-Results (1), DKIM-Signature (1)"});
    CHECK(o.edits.headers.size() == 4);
    for (const auto& e : o.edits.headers)
        CHECK(e.kind == Kind::Delete);
    SECTION("good: nothing to strip; warn; off") {
        requireUntouched(runFields(goodFields()));
        Outcome w = runFields(f, settingsFrom("hygiene_rules = forged-auth=warn\n"));
        CHECK(w.edits.empty());
        CHECK(hasNote(w.notes, "hygiene: warn forged-auth: client-supplied ARC-Message-Signature (1)"));
        requireUntouched(runFields(f, settingsFrom("hygiene_rules = forged-auth=off\n")));
    }
}

// ------------------------------------------------------------------------------------------------ mime-version

TEST_CASE("hygiene rule mime-version: added where Content-Type needs it", "[hygiene]") {
    Message m = messageOf(with("MIME-Version", {}));
    Outcome o = run(m);
    CHECK(o.verdict.proceeds());
    CHECK(valueOf(m, "MIME-Version") == " 1.0");
    CHECK(o.notes.all() == std::vector<std::string>{"hygiene: added MIME-Version"});
    CHECK(o.edits.headers == std::vector<HeaderEdit>{{Kind::Append, "MIME-Version", " 1.0", 0, 0}});

    SECTION("Content-Transfer-Encoding alone also needs it") {
        auto f = with("MIME-Version", {});
        f.erase(std::remove_if(f.begin(), f.end(), [](const Field& x) { return x.name == "Content-Type"; }), f.end());
        f.push_back({"Content-Transfer-Encoding", " quoted-printable"});
        Message c = messageOf(f);
        run(c);
        CHECK(c.count("MIME-Version") == 1);
    }
    SECTION("a plain RFC 5322 message needs none") {
        auto f = with("MIME-Version", {});
        f.erase(std::remove_if(f.begin(), f.end(), [](const Field& x) { return x.name == "Content-Type"; }), f.end());
        requireUntouched(runFields(f));
    }
    SECTION("warn and off") {
        Outcome w = runFields(with("MIME-Version", {}), settingsFrom("hygiene_rules = mime-version=warn\n"));
        CHECK(w.edits.empty());
        CHECK(w.notes.all() ==
              std::vector<std::string>{"hygiene: warn mime-version: Content-Type without MIME-Version"});
        requireUntouched(runFields(with("MIME-Version", {}), settingsFrom("hygiene_rules = mime-version=off\n")));
    }
}

// ------------------------------------------------------------------------------------------------ together

TEST_CASE("hygiene: dry run notes what would happen and changes nothing", "[hygiene]") {
    std::string words;
    for (int i = 0; i < 150; ++i)
        words += " word" + std::to_string(i);
    const std::vector<Field> f{
        {"Received", " from pc (pc [192.168.1.20]) by gw"},
        {"From", " a@example.com, b@example.com"},
        {"To", " x@remote.test"},
        {"Subject", " caf\xC3\xA9"},
        {"X-Mailer", " Foo"},
        {"DKIM-Signature", " v=1"},
        {"Message-ID", " <1@pc.local>"},
        {"Content-Type", " text/plain"},
        {"X-Long", words},
    };
    Message m = messageOf(f);
    const mail::HeaderFields before = m.headers();
    Outcome o = run(m, settingsFrom("hygiene_dry_run = yes\n"));
    CHECK(o.verdict.proceeds());
    CHECK(o.edits.empty());
    CHECK(m.headers() == before);
    const std::vector<std::string> expected{
        "hygiene: would reject from-mailbox: the From header field holds 2 addresses",
        "hygiene: would strip strip-headers: X-Mailer (1)",
        "hygiene: would strip private-received: Received (1) from private or loopback addresses (192.168.1.20)",
        "hygiene: would strip forged-auth: client-supplied DKIM-Signature (1)",
        "hygiene: would fix date: no Date header field",
        "hygiene: would fix message-id-internal: Message-ID host \"pc.local\" is an internal name",
        "hygiene: would fix 8bit-headers: raw 8-bit in Subject",
        "hygiene: would fix line-length: lines over 998 octets in X-Long",
        "hygiene: would fix mime-version: Content-Type without MIME-Version",
    };
    CHECK(o.notes.all() == expected);

    SECTION("the same message for real: refused by the first rule that refuses") {
        Message r = messageOf(f);
        requireReject(run(r), "from-mailbox", "Multiple addresses in the From: header are not accepted");
    }
    SECTION("with the refusal turned into a warning every repair is applied, through Message") {
        Message r = messageOf(f);
        Outcome ro = run(r, settingsFrom("hygiene_rules = from-mailbox=warn\n"));
        CHECK(ro.verdict.proceeds());
        const std::vector<std::string> notes{
            "hygiene: warn from-mailbox: the From header field holds 2 addresses",
            "hygiene: stripped X-Mailer (1)",
            "hygiene: stripped Received (1) from private or loopback addresses (192.168.1.20)",
            "hygiene: stripped client-supplied DKIM-Signature (1)",
            "hygiene: added Date",
            "hygiene: replaced Message-ID host \"pc.local\"",
            "hygiene: RFC 2047-encoded 8-bit in Subject",
            "hygiene: refolded X-Long",
            "hygiene: added MIME-Version",
        };
        CHECK(ro.notes.all() == notes);
        // The envelope sender gives the Message-ID domain when From has several addresses.
        CHECK(valueOf(r, "Message-ID") == " <1@example.com>");
        size_t deletes = 0, changes = 0, appends = 0;
        for (const auto& e : ro.edits.headers) {
            deletes += e.kind == Kind::Delete;
            changes += e.kind == Kind::Change;
            appends += e.kind == Kind::Append;
        }
        CHECK(deletes == 3);
        CHECK(changes == 3);
        CHECK(appends == 2);
    }
}

TEST_CASE("hygiene: hostile and empty input never throws and never leaves bad headers", "[hygiene]") {
    SECTION("an empty header block") {
        Message m = messageOf({});
        Outcome o = run(m);
        requireReject(o, "from", "'From' header is missing");
        Message n = messageOf({});
        Outcome no = run(n, settingsFrom("hygiene_rules = from=off\n"));
        CHECK(no.verdict.proceeds());
        CHECK(valueOf(n, "Date") == " Sun, 22 Nov 2026 10:00:00 +0000");
        CHECK(n.count("Message-ID") == 1);  // the envelope sender's domain
    }
    SECTION("random fields: after Continue every line is legal and no raw 8-bit is left") {
        std::mt19937 rng(20261122);
        const std::vector<std::string> names{"From",       "To",           "Cc",       "Subject",     "Date",
                                             "Message-ID", "X-Foo",        "Received", "Reply-To",    "Comments",
                                             "References", "Content-Type", "Sender",   "In-Reply-To", "Keywords",
                                             "X-Mailer",   "ARC-Seal"};
        const std::vector<std::string> pieces{" ",
                                              "\r\n ",
                                              "\t",
                                              "<",
                                              ">",
                                              "@",
                                              ",",
                                              ";",
                                              ":",
                                              "\"",
                                              "(",
                                              ")",
                                              "\\",
                                              "[",
                                              "]",
                                              ".",
                                              "=?UTF-8?B?w6k=?=",
                                              "a",
                                              "example.com",
                                              "10.0.0.1",
                                              "from",
                                              "by",
                                              "\xC3\xA9",
                                              "\xE2\x82\xAC",
                                              "\xFF",
                                              "\xC3",
                                              std::string(1, '\0'),
                                              "Sun, 22 Nov 2026 10:00:00 +0000",
                                              std::string(300, 'w'),
                                              "x y z "};
        const HygieneSettings lenient = settingsFrom("hygiene_rules = from=warn, from-mailbox=warn\n");
        size_t proceeded = 0;
        for (int iter = 0; iter < 400; ++iter) {
            std::vector<Field> f;
            const size_t n = rng() % 12;
            for (size_t k = 0; k < n; ++k) {
                std::string v;
                const size_t parts = rng() % 20;
                for (size_t p = 0; p < parts; ++p)
                    v += pieces[rng() % pieces.size()];
                f.push_back({names[rng() % names.size()], v});
            }
            const bool utf8 = rng() % 4 == 0;
            Message m = messageOf(f, utf8);
            Outcome o;
            REQUIRE_NOTHROW(o = run(m, lenient));
            if (!o.verdict.proceeds()) {
                CHECK(o.verdict.text.find_first_of("\r\n") == std::string::npos);
                continue;
            }
            ++proceeded;
            CHECK(m.count("Date") <= 1);
            CHECK(m.count("Message-ID") <= 1);
            for (const auto& h : m.headers()) {
                INFO(h.name << ":" << util::printable(h.value));
                for (const auto& line : linesOf(h.name, h.value))
                    CHECK(line.size() <= 998);
                if (!utf8 && !util::iequals(h.name, "Date") && !util::iequals(h.name, "Message-ID"))
                    CHECK_FALSE(has8bit(h.value));
            }
        }
        CHECK(proceeded > 50);
    }
    SECTION("huge values stay linear") {
        std::string big;
        for (int i = 0; i < 20000; ++i)
            big += " \xC3\xA9t\xC3\xA9";
        auto f = goodFields();
        f.push_back({"X-Big", big});
        f.push_back({"Received", " from " + std::string(100000, '(') + " by x"});
        f.push_back({"Message-ID", " <" + std::string(100000, 'a')});
        Message m = messageOf(f);
        Outcome o = run(m, settingsFrom("hygiene_header_size_limit = 1M\nhygiene_rules = message-id=off\n"));
        requireReject(o, "line-length", "the Received header field has a line of ");
        Message n = messageOf(with("X-Big", {big}));
        Outcome no = run(n, settingsFrom("hygiene_header_size_limit = 1M\n"));
        CHECK(no.verdict.proceeds());
        CHECK(decode2047(valueOf(n, "X-Big")) == big);
    }
}
