// The stage contract (after Envoy's filter chain). A stage is built once per configuration
// generation and shared by every session: it is immutable and thread-safe. Per-message state a stage
// needs while the body streams by (DKIM's body hash) lives in the BodyObserver it creates.
//
// Order: hygiene -> suppression -> DKIM (last, so it signs the final headers). The first stage that
// answers anything but Continue ends the message's pipeline run.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "milter/message.h"

namespace rampart::milter {

struct Verdict {
    enum class Kind { Continue, Reject, Tempfail, Discard };
    Kind kind = Kind::Continue;
    std::string code;     // "550", "451"
    std::string xcode;    // "5.7.1"
    std::string text;     // reply text (no CR/LF); also logged
    std::string counter;  // which counter to bump ("unaligned", "hygiene"...); empty = kind name

    static Verdict proceed() { return {}; }
    static Verdict reject(std::string code, std::string xcode, std::string text, std::string counter = {}) {
        return {Kind::Reject, std::move(code), std::move(xcode), std::move(text), std::move(counter)};
    }
    static Verdict tempfail(std::string code, std::string xcode, std::string text, std::string counter = {}) {
        return {Kind::Tempfail, std::move(code), std::move(xcode), std::move(text), std::move(counter)};
    }
    static Verdict discard(std::string text, std::string counter = {}) {
        return {Kind::Discard, {}, {}, std::move(text), std::move(counter)};
    }
    bool proceeds() const { return kind == Kind::Continue; }
};

const char* verdictName(Verdict::Kind k);

// Facts a stage wants in the message's single log line ("signed d=example.com s=rsa1 (rsa-sha256)").
class Notes {
  public:
    void add(std::string note) { notes_.push_back(std::move(note)); }
    const std::vector<std::string>& all() const { return notes_; }
    std::string joined() const;
    // Signing domains, for per-domain counters.
    std::vector<std::string> signedDomains;

  private:
    std::vector<std::string> notes_;
};

class BodyObserver {
  public:
    virtual ~BodyObserver() = default;
    virtual void onBody(std::string_view chunk) = 0;
};

class Stage {
  public:
    virtual ~Stage() = default;
    virtual std::string_view name() const = 0;
    // Whether onRecipient() does anything: when no stage needs recipients, the adapter asks the MTA
    // not to send RCPT at all (one round trip less per message).
    virtual bool wantsRecipients() const { return false; }
    // RCPT time, once per recipient of our users' mail. Reject/Tempfail refuse that recipient only.
    virtual Verdict onRecipient(const Envelope& /*env*/, std::string_view /*rcpt*/, Notes& /*notes*/) const {
        return Verdict::proceed();
    }
    // Called when the message's body is about to start; nullptr if the stage does not need it.
    virtual std::unique_ptr<BodyObserver> observeBody(const Envelope& /*env*/) const { return nullptr; }
    // End of message: inspect and edit. `observer` is what observeBody returned.
    virtual Verdict onEndOfMessage(Message& msg, BodyObserver* observer, Notes& notes) const = 0;
};

}  // namespace rampart::milter
