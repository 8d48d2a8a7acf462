// What the one-click endpoint needs from the configuration (unsubscribe_secret's keyring, the token
// lifetime, address normalisation); part of a policyd runtime generation, replaced on SIGHUP.
#pragma once

#include <chrono>
#include <memory>

#include "suppression/suppression.h"
#include "util/tokens.h"

namespace rampart::policyd {

struct UnsubscribeSettings {
    std::shared_ptr<const util::Keyring> keys;
    std::chrono::seconds lifetime{365 * 86400};
    suppress::NormalizeOptions norm;
};

}  // namespace rampart::policyd
