// The signing stage, always last: picks keys through the SigningTable and KeyTable for the From
// address, requires at least one signature aligned with the From domain (same organisational
// domain), and prepends one DKIM-Signature per key. Mail that cannot get an aligned signature gets
// dkim_unsigned_action with a reply that says why.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "dkim/canon.h"
#include "dkim/tables.h"
#include "milter/key_store.h"
#include "milter/stage.h"
#include "util/clock.h"

namespace rampart::milter {

struct DkimSettings {
    dkim::Canonicalization canon;
    std::vector<std::string> signedHeaders;
    std::vector<std::string> oversignedHeaders;
    std::string unsignedAction = "tempfail";  // tempfail | reject | accept
    bool multipleSignatures = true;
    std::chrono::seconds ttl{0};
};

class DkimStage final : public Stage {
  public:
    DkimStage(DkimSettings settings, dkim::KeyTable keys, dkim::SigningTable signing,
              std::shared_ptr<const KeyStore> store, std::shared_ptr<const util::Clock> clock);

    std::string_view name() const override { return "dkim"; }
    std::unique_ptr<BodyObserver> observeBody(const Envelope& env) const override;
    Verdict onEndOfMessage(Message& msg, BodyObserver* observer, Notes& notes) const override;

  private:
    Verdict unsigned_(const std::string& reason, Notes& notes) const;

    DkimSettings settings_;
    dkim::KeyTable keys_;
    dkim::SigningTable signing_;
    std::shared_ptr<const KeyStore> store_;
    std::shared_ptr<const util::Clock> clock_;
};

}  // namespace rampart::milter
