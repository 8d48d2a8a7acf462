// libmilter adapter: the only file that includes <libmilter/mfapi.h>.
//
// Session state lives in smfi_setpriv data (Debian's libmilter runs sessions on a worker pool, so a
// session may move between threads: no thread-locals). Each message pins the Runtime generation
// current at MAIL FROM; a reload affects the next message.
//
// Negotiation asks only for what is needed: no HELO/unknown/DATA callbacks, no replies for connect,
// MAIL, headers and end-of-headers, header values with their leading space (byte-exact simple
// canonicalisation), and SKIP so body chunks of mail we do not touch are not sent at all.
#include "milter/adapter.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <memory>

#include "mail/header.h"
#include "util/log.h"
#include "util/strings.h"

// Debian's libmilter handles SIGHUP and SIGTERM in its own signal thread by stopping the milter.
// rampart-milter links libmilter statically with -Wl,--wrap=sigwait, so libmilter's sigwait() lands
// here: we take SIGHUP (reload) and SIGTERM (clean stop) out of its set and handle them in main.cpp.
extern "C" int __real_sigwait(const sigset_t* set, int* sig);
extern "C" int __wrap_sigwait(const sigset_t* set, int* sig) {
    sigset_t mine = *set;
    sigdelset(&mine, SIGHUP);
    sigdelset(&mine, SIGTERM);
    return __real_sigwait(&mine, sig);
}

namespace rampart::milter {

namespace {

RuntimeHolder* gRuntime = nullptr;
Stats* gStats = nullptr;

struct Transaction {
    std::shared_ptr<const Runtime> rt;
    Message msg;
    MessageRun run;
    Notes notes;
    bool bodyStarted = false;
    bool headersTooLarge = false;
    unsigned rcptRefused = 0;
    std::string failure;  // an internal error in a no-reply callback, answered at end-of-message
};

struct Session {
    unsigned long steps = 0;  // negotiated SMFIP_* bits
    std::string clientAddress;
    std::string clientName;
    std::string daemonName;
    std::unique_ptr<Transaction> tx;
    std::string failure;  // an internal error at connect (no reply there), answered at end-of-message
    bool leadingSpace() const { return (steps & SMFIP_HDR_LEADSPC) != 0; }
};

Session* session(SMFICTX* ctx) {
    return static_cast<Session*>(smfi_getpriv(ctx));
}

Session* ensureSession(SMFICTX* ctx) {
    Session* s = session(ctx);
    if (!s) {
        s = new Session();
        smfi_setpriv(ctx, s);
    }
    return s;
}

std::string macro(SMFICTX* ctx, const char* name) {
    const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
    return v ? std::string(v) : std::string();
}

std::string stripAngles(std::string_view a) {
    a = util::trim(a);
    if (a.size() >= 2 && a.front() == '<' && a.back() == '>') a = a.substr(1, a.size() - 2);
    return std::string(a);
}

// smfi_setreply: no CR/LF, '%' doubled, at most 980 characters.
void setReply(SMFICTX* ctx, const std::string& code, const std::string& xcode, const std::string& text) {
    std::string clean;
    for (char c : text) {
        if (c == '\r' || c == '\n') {
            clean += ' ';
        } else if (c == '%') {
            clean += "%%";
        } else {
            clean += c;
        }
        if (clean.size() > 900) break;
    }
    smfi_setreply(ctx, const_cast<char*>(code.c_str()), const_cast<char*>(xcode.c_str()), clean.data());
}

std::string qid(const Session* s) {
    if (s && s->tx && !s->tx->msg.envelope.queueId.empty()) return s->tx->msg.envelope.queueId;
    return "NOQUEUE";
}

// Tells rampart-policyd that a message it counted at END-OF-MESSAGE was not sent after all (or that
// `recipients` were removed from it), so the pacing caps count only what left.
void refund(const Session* s, const std::vector<std::string>& recipients, std::string_view why) {
    if (!s || !s->tx || !s->tx->rt || !s->tx->rt->refunds || !s->tx->msg.envelope.ours) return;
    const std::string& q = s->tx->msg.envelope.queueId;
    if (q.empty()) return;
    auto r = s->tx->rt->refunds->refund(q, recipients);
    if (!r) {
        log::warning(q + ": could not tell rampart-policyd (" + s->tx->rt->refunds->describe() + ") about the " +
                     std::string(why) + ": " + r.error() + "; its caps count this message");
        if (gStats) gStats->count("refund_errors");
        return;
    }
    if (gStats) gStats->count("refunds");
    log::info(q + ": refund after " + std::string(why) + ": rampart-policyd says " + *r);
}

// The failure answer when we ourselves break: tempfail unless milter_on_internal_error = accept.
sfsistat internalError(SMFICTX* ctx, const char* where, const char* what) {
    Session* s = session(ctx);
    bool accept = s && s->tx && s->tx->rt && s->tx->rt->acceptOnInternalError;
    log::error(qid(s) + ": internal error in " + where + ": " + what +
               (accept ? " (milter_on_internal_error = accept: passing the message unsigned)" : " (tempfail)"));
    if (gStats) gStats->count("errors");
    if (accept) return SMFIS_ACCEPT;
    refund(s, {}, "internal error");
    setReply(ctx, "451", "4.3.0", "rampart: internal error, try again later");
    return SMFIS_TEMPFAIL;
}

template <typename F>
sfsistat guarded(SMFICTX* ctx, const char* where, F&& f) noexcept {
    try {
        return f();
    } catch (const std::exception& e) {
        try {
            return internalError(ctx, where, e.what());
        } catch (...) {
            return SMFIS_TEMPFAIL;
        }
    } catch (...) {
        try {
            return internalError(ctx, where, "unknown exception");
        } catch (...) {
            return SMFIS_TEMPFAIL;
        }
    }
}

sfsistat noReply(const Session* s, unsigned long bit) {
    return (s && (s->steps & bit)) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

// For callbacks negotiated without a reply (connect, MAIL, headers, end of headers, body): an
// internal error cannot be answered there, so it is remembered and answered at end-of-message; the
// message never passes half-processed.
template <typename F>
sfsistat guardedNoReply(SMFICTX* ctx, const char* where, unsigned long bit, F&& f) noexcept {
    std::string what;
    try {
        return f();
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
        what = "unknown exception";
    }
    try {
        Session* s = session(ctx);
        if (s && !(s->steps & bit)) return internalError(ctx, where, what.c_str());  // a reply is possible
        log::error(qid(s) + ": internal error in " + where + ": " + what + " (answered at end of message)");
        if (s) (s->tx ? s->tx->failure : s->failure) = std::string(where) + ": " + what;
        return noReply(s, bit);
    } catch (...) {
        return SMFIS_TEMPFAIL;
    }
}

sfsistat onNegotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long, unsigned long* pf0,
                     unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
    return guarded(ctx, "negotiate", [&]() -> sfsistat {
        const unsigned long required = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
        if ((f0 & required) != required) {
            log::error("the MTA does not offer header changes (actions 0x" + std::to_string(f0) +
                       "); refusing the connection");
            return SMFIS_REJECT;
        }
        *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_CHGFROM | SMFIF_SETSYMLIST);
        // No replies where we never refuse (connect, MAIL, headers, end of headers, body chunks: a
        // reply is a round trip, and libmilter hands each round trip between threads). Body chunks
        // of mail we do not touch are read and dropped: cheaper than a SKIP round trip. RCPT is not
        // even sent while no stage looks at recipients (decided per connection, from the current
        // configuration).
        unsigned long wanted = SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_CONN | SMFIP_NR_MAIL |
                               SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC;
        if (!gRuntime->get()->pipeline->wantsRecipients()) wanted |= SMFIP_NORCPT;
        *pf1 = f1 & wanted;
        *pf2 = 0;
        *pf3 = 0;
        Session* s = ensureSession(ctx);
        s->steps = *pf1;
        if (*pf0 & SMFIF_SETSYMLIST) {
            smfi_setsymlist(ctx, SMFIM_CONNECT, const_cast<char*>("{daemon_name} {client_addr} {client_name}"));
            smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("{auth_authen} i"));
            smfi_setsymlist(ctx, SMFIM_EOH, const_cast<char*>("i"));
            smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));
        }
        return SMFIS_CONTINUE;
    });
}

sfsistat onConnect(SMFICTX* ctx, char* hostname, _SOCK_ADDR* hostaddr) {
    return guardedNoReply(ctx, "connect", SMFIP_NR_CONN, [&]() -> sfsistat {
        Session* s = ensureSession(ctx);
        s->clientName = hostname ? hostname : "";
        s->clientAddress.clear();
        if (hostaddr) {
            char buf[INET6_ADDRSTRLEN] = {};
            if (hostaddr->sa_family == AF_INET) {
                inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(hostaddr)->sin_addr, buf, sizeof buf);
            } else if (hostaddr->sa_family == AF_INET6) {
                inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(hostaddr)->sin6_addr, buf, sizeof buf);
            }
            s->clientAddress = buf;
        }
        if (s->clientAddress.empty()) s->clientAddress = macro(ctx, "{client_addr}");
        s->daemonName = macro(ctx, "{daemon_name}");
        return noReply(s, SMFIP_NR_CONN);
    });
}

sfsistat onEnvFrom(SMFICTX* ctx, char** argv) {
    return guardedNoReply(ctx, "MAIL FROM", SMFIP_NR_MAIL, [&]() -> sfsistat {
        Session* s = ensureSession(ctx);
        s->tx = std::make_unique<Transaction>();
        Transaction& tx = *s->tx;
        tx.failure = s->failure;
        tx.rt = gRuntime->get();
        Envelope& env = tx.msg.envelope;
        env.clientAddress = s->clientAddress;
        env.clientName = s->clientName;
        env.daemonName = s->daemonName;
        env.authUser = macro(ctx, "{auth_authen}");
        env.queueId = macro(ctx, "i");
        if (argv && argv[0]) {
            env.sender = stripAngles(argv[0]);
            for (int i = 1; argv[i]; ++i) {
                if (util::iequals(argv[i], "SMTPUTF8")) env.smtputf8 = true;
            }
        }
        tx.rt->eligibility.classify(env);
        return noReply(s, SMFIP_NR_MAIL);
    });
}

sfsistat onEnvRcpt(SMFICTX* ctx, char** argv) {
    return guarded(ctx, "RCPT TO", [&]() -> sfsistat {
        Session* s = session(ctx);
        if (!s || !s->tx || !argv || !argv[0]) return SMFIS_CONTINUE;
        Transaction& tx = *s->tx;
        std::string rcpt = stripAngles(argv[0]);
        if (tx.msg.envelope.ours) {
            Verdict v = tx.rt->pipeline->onRecipient(tx.msg.envelope, rcpt, tx.notes);
            if (!v.proceeds()) {
                ++tx.rcptRefused;
                if (gStats) gStats->count("rcpt_rejected");
                log::info(qid(s) + ": recipient <" + rcpt + "> refused: " + v.code + " " + v.xcode + " " + v.text);
                setReply(ctx, v.code, v.xcode, v.text);
                return v.kind == Verdict::Kind::Tempfail ? SMFIS_TEMPFAIL : SMFIS_REJECT;
            }
        }
        tx.msg.envelope.recipients.push_back(std::move(rcpt));
        return SMFIS_CONTINUE;
    });
}

sfsistat onHeader(SMFICTX* ctx, char* name, char* value) {
    return guardedNoReply(ctx, "header", SMFIP_NR_HDR, [&]() -> sfsistat {
        Session* s = session(ctx);
        if (!s || !s->tx) return noReply(s, SMFIP_NR_HDR);
        Transaction& tx = *s->tx;
        if (!tx.msg.envelope.ours || tx.headersTooLarge) return noReply(s, SMFIP_NR_HDR);
        std::string v = mail::normalizeLineEnds(value ? value : "");
        if (!s->leadingSpace()) v.insert(0, " ");
        std::string n = name ? name : "";
        if (tx.msg.headerBytes() + n.size() + v.size() + 3 > tx.rt->headerSizeLimit) {
            tx.headersTooLarge = true;
            return noReply(s, SMFIP_NR_HDR);
        }
        tx.msg.addReceivedHeader(std::move(n), std::move(v));
        return noReply(s, SMFIP_NR_HDR);
    });
}

sfsistat onEoh(SMFICTX* ctx) {
    return guardedNoReply(ctx, "end of headers", SMFIP_NR_EOH, [&]() -> sfsistat {
        Session* s = session(ctx);
        if (s && s->tx) {
            std::string q = macro(ctx, "i");
            if (!q.empty()) s->tx->msg.envelope.queueId = q;
        }
        return noReply(s, SMFIP_NR_EOH);
    });
}

sfsistat onBody(SMFICTX* ctx, unsigned char* data, size_t len) {
    return guardedNoReply(ctx, "body", SMFIP_NR_BODY, [&]() -> sfsistat {
        Session* s = session(ctx);
        if (!s || !s->tx) return noReply(s, SMFIP_NR_BODY);
        Transaction& tx = *s->tx;
        if (!tx.msg.envelope.ours || tx.headersTooLarge) return noReply(s, SMFIP_NR_BODY);
        if (!tx.bodyStarted) {
            tx.run = tx.rt->pipeline->start(tx.msg.envelope);
            tx.bodyStarted = true;
        }
        tx.msg.bodyBytes += len;
        tx.run.onBody(std::string_view(reinterpret_cast<const char*>(data), len));
        return noReply(s, SMFIP_NR_BODY);
    });
}

bool applyEdits(SMFICTX* ctx, const Session& s, const EditList& edits, std::string& failed) {
    auto val = [&](const std::string& v) {
        std::string m = mail::toMilterValue(v);
        if (!s.leadingSpace() && !m.empty() && m.front() == ' ') m.erase(0, 1);
        return m;
    };
    for (const auto& e : edits.headers) {
        std::string value = val(e.value);
        int rc = MI_FAILURE;
        char* name = const_cast<char*>(e.name.c_str());
        switch (e.kind) {
            case HeaderEdit::Kind::Change:
                rc = smfi_chgheader(ctx, name, static_cast<int>(e.occurrence), value.data());
                break;
            case HeaderEdit::Kind::Delete:
                rc = smfi_chgheader(ctx, name, static_cast<int>(e.occurrence), nullptr);
                break;
            case HeaderEdit::Kind::Append:
                rc = smfi_addheader(ctx, name, value.data());
                break;
            case HeaderEdit::Kind::Insert:
                rc = smfi_insheader(ctx, static_cast<int>(e.position), name, value.data());
                break;
        }
        if (rc != MI_SUCCESS) {
            failed = "header change " + e.name;
            return false;
        }
    }
    for (const auto& r : edits.removedRecipients) {
        std::string a = "<" + r + ">";
        if (smfi_delrcpt(ctx, a.data()) != MI_SUCCESS) {
            failed = "removing recipient " + r;
            return false;
        }
    }
    if (edits.newSender) {
        std::string a = "<" + *edits.newSender + ">";
        if (smfi_chgfrom(ctx, a.data(), nullptr) != MI_SUCCESS) {
            failed = "changing the sender";
            return false;
        }
    }
    return true;
}

std::string describe(const Envelope& env, const Session& s) {
    // With SMFIP_NORCPT negotiated the MTA does not tell us the recipients.
    if (s.steps & SMFIP_NORCPT) return "from=<" + env.sender + ">";
    return "from=<" + env.sender + "> rcpts=" + std::to_string(env.recipients.size());
}

sfsistat onEom(SMFICTX* ctx) {
    return guarded(ctx, "end of message", [&]() -> sfsistat {
        Session* s = session(ctx);
        if (!s || !s->tx) return SMFIS_CONTINUE;
        Transaction& tx = *s->tx;
        std::string q = macro(ctx, "i");
        if (!q.empty()) tx.msg.envelope.queueId = q;
        const Envelope& env = tx.msg.envelope;
        gStats->count("messages");
        if (!tx.failure.empty()) {
            std::string f = tx.failure;
            sfsistat r = internalError(ctx, "an earlier step", f.c_str());  // reads the runtime's policy
            s->tx.reset();
            return r;
        }
        if (!env.ours) {
            gStats->count("passed");
            log::info(qid(s) + ": passed: " + describe(env, *s) + ": " + env.oursReason);
            s->tx.reset();
            return SMFIS_CONTINUE;
        }
        if (tx.headersTooLarge) {
            gStats->count("tempfailed");
            std::string text = "rampart: header block larger than milter_header_size_limit (" +
                               std::to_string(tx.rt->headerSizeLimit) + " bytes); not signed";
            log::warning(qid(s) + ": tempfail: " + describe(env, *s) + ": " + text);
            setReply(ctx, "451", "4.3.4", text);
            refund(s, {}, "tempfail");
            s->tx.reset();
            return SMFIS_TEMPFAIL;
        }
        if (!tx.bodyStarted) {  // empty body: the MTA may send no body chunk at all
            tx.run = tx.rt->pipeline->start(env);
            tx.bodyStarted = true;
        }
        Verdict v = tx.rt->pipeline->onEndOfMessage(tx.msg, tx.run, tx.notes);
        std::string notes = tx.notes.joined();
        if (!v.proceeds()) {
            std::string kind = verdictName(v.kind);
            gStats->count(v.kind == Verdict::Kind::Tempfail ? "tempfailed"
                          : v.kind == Verdict::Kind::Reject ? "rejected"
                                                            : "discarded");
            log::info(qid(s) + ": " + kind + ": " + describe(env, *s) + " " + env.oursReason + ": " + v.code + " " +
                      v.xcode + " " + v.text + (notes.empty() ? "" : " [" + notes + "]"));
            sfsistat rc = v.kind == Verdict::Kind::Tempfail ? SMFIS_TEMPFAIL
                          : v.kind == Verdict::Kind::Reject ? SMFIS_REJECT
                                                            : SMFIS_DISCARD;
            if (v.kind != Verdict::Kind::Discard) setReply(ctx, v.code, v.xcode, v.text);
            refund(s, {}, kind);
            s->tx.reset();
            return rc;
        }
        EditList edits = tx.msg.edits();
        std::string failed;
        if (!applyEdits(ctx, *s, edits, failed)) {
            gStats->count("errors");
            gStats->count("tempfailed");
            log::error(qid(s) + ": tempfail: " + describe(env, *s) + ": the MTA refused " + failed);
            setReply(ctx, "451", "4.3.0", "rampart: could not apply message changes (" + failed + "), try again later");
            refund(s, {}, "tempfail");
            s->tx.reset();
            return SMFIS_TEMPFAIL;
        }
        if (!edits.removedRecipients.empty()) {
            gStats->count("rcpt_removed");
            refund(s, edits.removedRecipients, "removal of suppressed recipients");
        }
        if (!tx.notes.signedDomains.empty()) {
            gStats->count("signed", tx.notes.signedDomains);
        } else {
            gStats->count("unsigned");
        }
        log::info(qid(s) + ": " + (tx.notes.signedDomains.empty() ? "accepted" : "signed") + ": " + describe(env, *s) +
                  " " + env.oursReason + (notes.empty() ? "" : ": " + notes));
        s->tx.reset();
        return SMFIS_CONTINUE;
    });
}

sfsistat onAbort(SMFICTX* ctx) {
    return guarded(ctx, "abort", [&]() -> sfsistat {
        Session* s = session(ctx);
        if (s) s->tx.reset();
        return SMFIS_CONTINUE;
    });
}

sfsistat onClose(SMFICTX* ctx) {
    Session* s = session(ctx);  // may be null: failed negotiation, port probes
    smfi_setpriv(ctx, nullptr);
    delete s;
    return SMFIS_CONTINUE;
}

}  // namespace

util::Result<bool> openMilterSocket(const config::ListenAddress& address, RuntimeHolder* runtime, Stats* stats) {
    gRuntime = runtime;
    gStats = stats;
    smfiDesc desc{};
    desc.xxfi_name = const_cast<char*>("rampart-milter");
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_DELRCPT | SMFIF_CHGFROM | SMFIF_SETSYMLIST;
    desc.xxfi_connect = onConnect;
    desc.xxfi_envfrom = onEnvFrom;
    desc.xxfi_envrcpt = onEnvRcpt;
    desc.xxfi_header = onHeader;
    desc.xxfi_eoh = onEoh;
    desc.xxfi_body = onBody;
    desc.xxfi_eom = onEom;
    desc.xxfi_abort = onAbort;
    desc.xxfi_close = onClose;
    desc.xxfi_negotiate = onNegotiate;
    if (smfi_register(desc) == MI_FAILURE) return util::err("smfi_register failed");
    std::string spec = address.toMilterSpec();
    if (smfi_setconn(spec.data()) == MI_FAILURE) return util::err("smfi_setconn " + spec + " failed");
    if (smfi_opensocket(true) == MI_FAILURE) {
        return util::err("cannot listen on " + address.toString() + " (in use, or no permission to create it)");
    }
    return true;
}

int runMilter() {
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}

void stopMilter() {
    smfi_stop();
}

}  // namespace rampart::milter
