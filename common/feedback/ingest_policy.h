// What `rampartctl ingest` does with a parsed report: the bounce -> suppression policy.
//
//   DSN, hard address failure (user unknown...)   -> global hard_bounce, expiring after
//                                                     ingest_hard_bounce_expiry
//   DSN, soft address failure (mailbox full...)   -> counted; ingest_soft_bounce_limit of them within
//                                                     ingest_soft_bounce_window suppress (soft_bounce)
//   DSN, sender-policy failure (spam block,       -> never suppresses the recipient: counted per
//        authentication, rate limit)                  sending domain
//   DSN, infrastructure / non-bounce, delayed      -> nothing (a delayed soft failure is not counted)
//   ARF complaint (not "not-spam")                -> complaint, for the tenant (else the From domain)
//   mailto unsubscribe (a token that opens)       -> unsubscribe, for the tenant (else the From domain)
//
// Whom a report is about comes from the report, and from the reference stamp (reference_header) in
// the returned headers when the report redacts the recipient. The policy decides and says what it
// did in the lines ingest prints; the writes (suppression entries, counters) go through
// IngestEffects, which rampartctl backs with the suppression store's SQLite file
// (ctl/ingest_commands.cpp) and the unit tests with memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "feedback/classifier.h"
#include "feedback/report.h"
#include "suppression/suppression.h"
#include "util/result.h"
#include "util/tokens.h"

namespace rampart::feedback {

// The configuration the policy reads, and the moment it runs.
struct IngestSettings {
    std::string referenceHeader;            // reference_header ("" : stamps are not read)
    std::chrono::seconds tokenLifetime{0};  // unsubscribe_token_lifetime
    int64_t hardBounceExpiry = 0;           // ingest_hard_bounce_expiry in seconds; 0: never expires
    int64_t softBounceWindow = 0;           // ingest_soft_bounce_window in seconds
    int64_t softBounceLimit = 0;            // ingest_soft_bounce_limit
    suppress::NormalizeOptions norm;        // suppression_case_sensitive, suppression_fold_gmail
    const util::Keyring* keys = nullptr;    // unsubscribe_secret; null when not set (or unusable)
    int64_t now = 0;                        // unix seconds
    bool dryRun = false;                    // say what would be done; call no IngestEffects
};

// The writes the policy asks for. Never called in a dry run.
class IngestEffects {
  public:
    virtual ~IngestEffects() = default;
    // Adds (or strengthens) a suppression entry; `source` is e.source ("dsn", "arf", "mailto").
    virtual util::Result<suppress::AddOutcome> addSuppression(const suppress::Entry& e, const std::string& source) = 0;
    // Records a soft bounce of the normalized `target` at `now`; returns how many soft bounces the
    // target had at or after now - window, this one included.
    virtual util::Result<int64_t> countSoftBounce(const std::string& target, int64_t now, int64_t window,
                                                  const std::string& category, const std::string& diagnostic) = 0;
    // Records a sender-policy failure of the sending `domain` at `now`; returns how many it had in the
    // last 24 hours, this one included.
    virtual util::Result<int64_t> countSenderPolicy(const std::string& domain, int64_t now, const std::string& category,
                                                    const std::string& recipientDomain,
                                                    const std::string& diagnostic) = 0;
};

struct IngestOutcome {
    // What ingest prints and logs, one line each, "ingest: ..." (for a report: "ingest: WHAT: ...",
    // WHAT being "delivery status notification [from MTA]", "feedback report" or "unsubscribe
    // request").
    std::vector<std::string> lines;
    bool writeFailed = false;  // an IngestEffects call failed: the report must be retried (EX_TEMPFAIL)
};

// Applies the policy to one report; DSN recipients are classified with `classifier`.
IngestOutcome applyIngestPolicy(const Report& report, const Classifier& classifier, const IngestSettings& settings,
                                IngestEffects& effects);

}  // namespace rampart::feedback
