// The DKIM signing stage (dkim_stage.h): key choice by SigningTable/KeyTable, alignment, signing.
#include "milter/stages/dkim_stage.h"

#include "dkim/signer.h"
#include "mail/address.h"
#include "mail/domain.h"
#include "util/strings.h"

namespace rampart::milter {

namespace {

class BodyHash final : public BodyObserver {
  public:
    explicit BodyHash(dkim::Canon c) : hasher_(c) {}
    void onBody(std::string_view chunk) override { hasher_.update(chunk); }
    dkim::Sha256 finish() { return hasher_.finish(); }

  private:
    dkim::BodyHasher hasher_;
};

}  // namespace

DkimStage::DkimStage(DkimSettings settings, dkim::KeyTable keys, dkim::SigningTable signing,
                     std::shared_ptr<const KeyStore> store, std::shared_ptr<const util::Clock> clock)
    : settings_(std::move(settings)),
      keys_(std::move(keys)),
      signing_(std::move(signing)),
      store_(std::move(store)),
      clock_(std::move(clock)) {}

std::unique_ptr<BodyObserver> DkimStage::observeBody(const Envelope& /*env*/) const {
    return std::make_unique<BodyHash>(settings_.canon.body);
}

Verdict DkimStage::unsigned_(const std::string& reason, Notes& notes) const {
    const std::string why = "not signed: " + reason;
    if (settings_.unsignedAction == "accept") {
        notes.add(why + " (dkim_unsigned_action = accept: delivered unsigned)");
        return Verdict::proceed();
    }
    std::string text = "rampart: message not signed: " + reason +
                       "; unaligned mail is refused by Gmail, Yahoo and Outlook.com, so it is not sent unsigned";
    if (settings_.unsignedAction == "reject") return Verdict::reject("550", "5.7.1", text, "unsigned");
    return Verdict::tempfail("451", "4.7.1", text, "unsigned");
}

Verdict DkimStage::onEndOfMessage(Message& msg, BodyObserver* observer, Notes& notes) const {
    size_t fromCount = msg.count("From");
    if (fromCount == 0) return unsigned_("the message has no From header field", notes);
    if (fromCount > 1) return unsigned_("the message has " + std::to_string(fromCount) + " From header fields", notes);
    const auto& fromField = msg.headers()[msg.find("From")];
    auto mailboxes = mail::parseAddressList(fromField.value);
    if (!mailboxes) return unsigned_("cannot parse the From header field (" + mailboxes.error() + ")", notes);
    if (mailboxes->size() != 1) {
        return unsigned_("the From header field has " + std::to_string(mailboxes->size()) + " addresses", notes);
    }
    const mail::Mailbox& from = mailboxes->front();
    auto fromDomain = mail::toAsciiDomain(from.domain);
    if (!fromDomain)
        return unsigned_("bad From domain " + util::quoted(from.domain, 200) + ": " + fromDomain.error(), notes);
    const std::string fromAddress = util::toLower(from.localPart) + "@" + *fromDomain;

    std::vector<std::string> keyNames = signing_.lookup(fromAddress, settings_.multipleSignatures);
    if (keyNames.empty()) return unsigned_("no dkim_signing_table entry matches " + fromAddress, notes);

    struct Planned {
        dkim::SignatureSpec spec;
        std::string keyName;
    };
    std::vector<Planned> planned;
    std::vector<std::string> problems;
    bool aligned = false;
    for (const auto& keyName : keyNames) {
        const dkim::KeyTableEntry* entry = keys_.find(keyName);
        if (!entry) {
            problems.push_back("key " + keyName + " is not in dkim_key_table");
            continue;
        }
        std::string domain = entry->domainIsTemplate() ? *fromDomain : util::toLower(entry->domain);
        auto key = store_->get(*entry, domain);
        if (!key) {
            problems.push_back(key.error());
            continue;
        }
        Planned p;
        p.keyName = keyName;
        p.spec.domain = domain;
        p.spec.selector = entry->selector;
        p.spec.key = *key;
        p.spec.canon = settings_.canon;
        p.spec.signedHeaders = settings_.signedHeaders;
        p.spec.oversignedHeaders = settings_.oversignedHeaders;
        p.spec.ttl = settings_.ttl;
        aligned = aligned || mail::relaxedAligned(domain, *fromDomain);
        planned.push_back(std::move(p));
    }
    if (!aligned) {
        std::string reason = "no usable DKIM key aligned with From domain " + *fromDomain;
        std::vector<std::string> other;
        for (const auto& p : planned)
            other.push_back("d=" + p.spec.domain);
        if (!other.empty()) reason += " (the signing table gives only " + util::join(other, ", ") + ")";
        if (!problems.empty()) reason += " (" + util::join(problems, "; ") + ")";
        return unsigned_(reason, notes);
    }
    for (const auto& p : problems)
        notes.add("skipped a signature: " + p);

    auto* bodyHash = dynamic_cast<BodyHash*>(observer);
    if (!bodyHash) return Verdict::tempfail("451", "4.3.0", "rampart: internal error: no body hash", "error");
    const dkim::Sha256 bh = bodyHash->finish();
    const auto now = clock_->now();
    // Sign all against the same header block: a signature never covers another DKIM-Signature.
    std::vector<std::pair<std::string, const Planned*>> signatures;
    for (const auto& p : planned) {
        auto value = dkim::signMessage(msg.headers(), bh, p.spec, now);
        if (!value) {
            return Verdict::tempfail("451", "4.3.0",
                                     "rampart: signing with key " + p.keyName + " failed: " + value.error(), "error");
        }
        signatures.emplace_back(std::move(*value), &p);
    }
    for (auto it = signatures.rbegin(); it != signatures.rend(); ++it)
        msg.prependHeader("DKIM-Signature", it->first);
    for (const auto& [value, p] : signatures) {
        notes.add("signed d=" + p->spec.domain + " s=" + p->spec.selector + " (" +
                  std::string(dkim::algorithmTag(p->spec.key->algorithm())) + ")");
        notes.signedDomains.push_back(p->spec.domain);
    }
    return Verdict::proceed();
}

}  // namespace rampart::milter
