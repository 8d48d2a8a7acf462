// Internal to the hygiene stage: the per-message pass (Run) whose rule methods live in the
// hygiene_rules_*.cpp files, one file per family, and the small helpers they share. Only
// hygiene_stage.cpp and hygiene_rules_*.cpp include this; everything else uses hygiene_stage.h.
//
//   hygiene_stage.cpp           settings, the rule table, the order rules run in, decide()
//   hygiene_rules_identity.cpp  from, from-mailbox, date, message-id, message-id-internal,
//                               duplicate-headers, mime-version
//   hygiene_rules_format.cpp    header-size, 8bit-headers, line-length
//   hygiene_rules_leaks.cpp     strip-headers, private-received, forged-auth
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "milter/stages/hygiene_stage.h"
#include "util/strings.h"

namespace rampart::milter::hygiene {

using A = RuleAction;

// Strip patterns: "X-Mailer" or "X-Source*" (a prefix), case-insensitive.
bool matchesPattern(std::string_view name, std::string_view pattern);

// Counts per field name in first-seen order, for notes like "X-Mailer (2), User-Agent (1)".
class NameCounts {
  public:
    void add(std::string_view name) {
        for (auto& [n, c] : items_) {
            if (util::iequals(n, name)) {
                ++c;
                return;
            }
        }
        items_.emplace_back(util::printable(name, 80), 1);
    }
    bool empty() const { return items_.empty(); }
    std::string str() const {
        std::string out;
        for (const auto& [n, c] : items_)
            out += (out.empty() ? "" : ", ") + n + " (" + std::to_string(c) + ")";
        return out;
    }
    std::string names() const {
        std::string out;
        for (const auto& [n, c] : items_)
            out += (out.empty() ? "" : ", ") + n;
        return out;
    }

  private:
    std::vector<std::pair<std::string, size_t>> items_;
};

// One message's pass. Each rule method returns false to stop the pass (the message is refused, or
// a temporary failure): verdict_ then holds the answer.
class Run {
  public:
    Run(const HygieneSettings& s, const util::Clock& clock, Message& msg, Notes& notes)
        : s_(s), clock_(clock), msg_(msg), notes_(notes) {}

    Verdict go();

  private:
    enum class Step { Skip, Apply, Stop };

    void note(std::string text) { notes_.add("hygiene: " + std::move(text)); }

    // What to do about a finding of `rule`. fixable = false: the rule's fix/strip action cannot
    // repair this finding, so it refuses the message instead.
    Step decide(std::string_view rule, const std::string& problem, const std::string& reply, bool fixable = true,
                const char* code = "550", const char* xcode = "5.7.1");

    const mail::HeaderFields& fields() const { return msg_.headers(); }
    bool smtputf8() const { return msg_.envelope.smtputf8; }

    // hygiene_rules_identity.cpp
    bool from();
    bool fromMailbox();
    bool duplicates();
    bool singleDate();
    bool singleMessageId();
    bool date();
    bool internalHost(std::string_view right) const;
    std::string idDomain() const;
    std::optional<std::string> generateId(const std::string& domain);
    bool messageId();
    bool mimeVersion();

    // hygiene_rules_format.cpp
    bool headerSize();
    bool eightBit();
    bool lineLength();

    // hygiene_rules_leaks.cpp
    void removeAll(const std::vector<size_t>& indexes);
    bool stripHeaders();
    bool privateReceived();
    bool forgedAuth();

    const HygieneSettings& s_;
    const util::Clock& clock_;
    Message& msg_;
    Notes& notes_;
    std::optional<Verdict> verdict_;
    std::string fromDomain_;  // ASCII From domain, once from-mailbox found it valid
};

}  // namespace rampart::milter::hygiene
