// The stage pipeline (pipeline.h): running one message through a generation's ordered stages.
#include "milter/pipeline.h"

namespace rampart::milter {

const char* verdictName(Verdict::Kind k) {
    switch (k) {
        case Verdict::Kind::Continue:
            return "continue";
        case Verdict::Kind::Reject:
            return "reject";
        case Verdict::Kind::Tempfail:
            return "tempfail";
        case Verdict::Kind::Discard:
            return "discard";
    }
    return "?";
}

std::string Notes::joined() const {
    std::string s;
    for (const auto& n : notes_) {
        if (!s.empty()) s += "; ";
        s += n;
    }
    return s;
}

void MessageRun::onBody(std::string_view chunk) {
    for (auto& o : observers_) {
        if (o) o->onBody(chunk);
    }
}

bool MessageRun::needsBody() const {
    for (const auto& o : observers_) {
        if (o) return true;
    }
    return false;
}

Verdict Pipeline::onRecipient(const Envelope& env, std::string_view rcpt, Notes& notes) const {
    for (const auto& s : stages_) {
        Verdict v = s->onRecipient(env, rcpt, notes);
        if (!v.proceeds()) return v;
    }
    return Verdict::proceed();
}

MessageRun Pipeline::start(const Envelope& env) const {
    MessageRun run;
    for (const auto& s : stages_)
        run.observers_.push_back(s->observeBody(env));
    return run;
}

Verdict Pipeline::onEndOfMessage(Message& msg, MessageRun& run, Notes& notes) const {
    for (size_t i = 0; i < stages_.size(); ++i) {
        BodyObserver* obs = i < run.observers_.size() ? run.observers_[i].get() : nullptr;
        Verdict v = stages_[i]->onEndOfMessage(msg, obs, notes);
        if (!v.proceeds()) return v;
    }
    return Verdict::proceed();
}

bool Pipeline::wantsRecipients() const {
    for (const auto& s : stages_) {
        if (s->wantsRecipients()) return true;
    }
    return false;
}

std::vector<std::string_view> Pipeline::stageNames() const {
    std::vector<std::string_view> out;
    for (const auto& s : stages_)
        out.push_back(s->name());
    return out;
}

}  // namespace rampart::milter
