// The ordered list of stages for one configuration generation, and one message's run through it.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "milter/stage.h"

namespace rampart::milter {

class Pipeline;

// One message's pass: owns the stages' body observers.
class MessageRun {
  public:
    void onBody(std::string_view chunk);
    bool needsBody() const;

  private:
    friend class Pipeline;
    std::vector<std::unique_ptr<BodyObserver>> observers_;  // parallel to the pipeline's stages
};

class Pipeline {
  public:
    explicit Pipeline(std::vector<std::unique_ptr<Stage>> stages) : stages_(std::move(stages)) {}
    Verdict onRecipient(const Envelope& env, std::string_view rcpt, Notes& notes) const;
    MessageRun start(const Envelope& env) const;
    Verdict onEndOfMessage(Message& msg, MessageRun& run, Notes& notes) const;
    std::vector<std::string_view> stageNames() const;
    bool wantsRecipients() const;

  private:
    std::vector<std::unique_ptr<Stage>> stages_;
};

}  // namespace rampart::milter
