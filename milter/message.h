// What a milter stage sees and changes: the envelope, the header block, and the edits it records.
//
// Stages never talk to libmilter. They change a Message; the Message remembers where every header
// came from, and edits() turns the difference between the received and the final header block into
// the operations the libmilter adapter applies at end-of-message (the only time libmilter allows
// them). Later stages see earlier stages' changes, so DKIM, the last stage, signs exactly what leaves.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/header.h"

namespace rampart::milter {

struct Envelope {
    std::string clientAddress;  // IP literal, or "" for a unix-socket or non-SMTP client
    std::string clientName;
    std::string daemonName;               // {daemon_name}
    std::string authUser;                 // {auth_authen}, "" when not authenticated
    std::string sender;                   // envelope sender without angle brackets ("" = null sender)
    std::vector<std::string> recipients;  // accepted recipients, without angle brackets
    std::string queueId;                  // macro i; known from DATA on
    bool smtputf8 = false;                // MAIL FROM carried SMTPUTF8
    bool ours = false;                    // our users' mail: repaired, checked and signed
    std::string oursReason;               // why (or why not), for the log line
};

// One header operation for the MTA. Occurrence indexes are 1-based among fields of the same name in
// the block as received (Postfix's own hidden Received: does not count).
struct HeaderEdit {
    enum class Kind { Change, Delete, Append, Insert };
    Kind kind;
    std::string name;
    std::string value;      // HeaderField convention (leading space, CRLF folding)
    size_t occurrence = 0;  // Change, Delete
    size_t position = 0;    // Insert: index in the block as delivered (1 = just below Postfix's Received:)
    bool operator==(const HeaderEdit&) const = default;
};

struct EditList {
    std::vector<HeaderEdit> headers;             // in the order they must be applied
    std::vector<std::string> removedRecipients;  // smfi_delrcpt
    std::optional<std::string> newSender;        // smfi_chgfrom
    bool empty() const { return headers.empty() && removedRecipients.empty() && !newSender; }
};

class Message {
  public:
    Envelope envelope;

    // Filled by the adapter as the MTA sends the header block.
    void addReceivedHeader(std::string name, std::string value);

    const mail::HeaderFields& headers() const { return view_; }
    size_t find(std::string_view name, size_t from = 0) const { return mail::findHeader(view_, name, from); }
    size_t count(std::string_view name) const { return mail::countHeaders(view_, name); }

    // Edits, by index into headers(). Indexes of later fields shift after remove/prepend.
    void changeHeader(size_t index, std::string value);
    void removeHeader(size_t index);
    void appendHeader(std::string name, std::string value);
    // Adds at the top of the block (below the MTA's own Received:), before earlier prepends' output
    // order: prepend(A) then prepend(B) delivers B above A, as when each is inserted at the top.
    void prependHeader(std::string name, std::string value);
    void removeRecipient(const std::string& address);
    const std::vector<std::string>& removedRecipients() const { return removedRecipients_; }
    // The envelope recipients that are still there (not removed by a stage).
    std::vector<std::string> remainingRecipients() const;
    void changeSender(std::string address);

    uint64_t headerBytes() const { return headerBytes_; }
    uint64_t bodyBytes = 0;

    EditList edits() const;

  private:
    enum class Origin { Received, Appended, Prepended };
    struct Entry {
        mail::HeaderField field;
        Origin origin = Origin::Received;
        size_t occurrence = 0;  // Received: 1-based among same-name received fields
        bool changed = false;
        bool removed = false;
    };
    void rebuildView();
    size_t entryIndex(size_t viewIndex) const;

    std::vector<Entry> entries_;  // in delivery order, removed ones kept (flagged)
    mail::HeaderFields view_;
    std::vector<std::string> removedRecipients_;
    std::optional<std::string> newSender_;
    uint64_t headerBytes_ = 0;
};

}  // namespace rampart::milter
