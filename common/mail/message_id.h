// Message-ID (RFC 5322 section 3.6.4 msg-id): the syntax check and the generator for the IDs the
// hygiene rules add.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "util/clock.h"

namespace rampart::mail {

// Gmail refuses longer Message-IDs (angle brackets included).
constexpr size_t kMaxMessageIdLength = 500;

struct MessageId {
    std::string left;   // id-left, as written (a quoted string for the obsolete form)
    std::string right;  // id-right: a dot-atom or a [literal]
};

// A field value holding exactly one <left@right>, only CFWS around it, at most kMaxMessageIdLength
// characters; the obsolete id-left (a quoted string) is accepted. allow8bit: UTF-8 in the atoms
// (RFC 6532, for SMTPUTF8 messages). nullopt if malformed.
std::optional<MessageId> parseMessageId(std::string_view raw, bool allow8bit);

// "<26 base32 characters of 16 random bytes>.<milliseconds since the epoch>@domain>"; nullopt when
// the random generator fails.
std::optional<std::string> generateMessageId(std::string_view domain, util::SystemTime now);

}  // namespace rampart::mail
