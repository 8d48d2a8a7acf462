// The one registry of rampart.conf keys (name, type, default, documentation, programs, reloadable):
// parsing, validation, rampartctl's config reference/man/example and the generated documents all
// read this table.
#include "config/registry.h"

#include <array>

namespace rampart::config {

namespace {

using T = ValueType;

// Keep this table sorted by component, then by name; the documents list keys in this order.
constexpr KeySpec kKeys[] = {
    // ------------------------------------------------------------------ shared by all programs
    {"rampart_user", T::String, "rampart",
     "The unprivileged account the daemons switch to after opening their sockets and reading "
     "their private keys as root. DKIM private keys must be readable by this account, or a "
     "reload (SIGHUP) cannot re-read them.",
     kAll, false},
    {"log_level", T::Enum, "info",
     "Least severe message that is logged: error, warning, info or debug. info logs one line per "
     "message or decision.",
     kAll, true, "error|warning|info|debug"},
    {"syslog_facility", T::Enum, "mail",
     "Syslog facility of the daemons' log lines (in --foreground mode they go to stderr instead).", kAll, false,
     "mail|daemon|local0|local1|local2|local3|local4|local5|local6|local7"},
    {"dns_servers", T::List, "",
     "DNS servers for Rampart's own lookups (DKIM key checks, recipient MX lookups), as IP or "
     "IP:PORT, e.g. \"127.0.0.1:5353\". Empty: the servers of /etc/resolv.conf.",
     kAll, true},
    {"dns_timeout", T::Duration, "5s",
     "How long one DNS lookup may take, retries included, before it counts as failed.", kAll, true},

    // ------------------------------------------------------------------ rampart-milter
    {"milter_listen", T::Listen, "unix:/run/rampart/milter.sock",
     "Where rampart-milter listens for Postfix: unix:/path, inet:HOST:PORT or libmilter's "
     "inet:PORT@HOST. Postfix's smtpd_milters names the same socket (unix:/path is relative to "
     "Postfix's queue directory when smtpd is chrooted).",
     kMilter, false},
    {"milter_socket_mode", T::Mode, "0660",
     "Permissions of a unix milter socket. With the default, only the owner (rampart_user) and "
     "milter_socket_group can connect.",
     kMilter, false},
    {"milter_socket_group", T::String, "postfix",
     "Group of a unix milter socket: the group Postfix's smtpd runs with. Empty: keep the "
     "primary group of rampart_user.",
     kMilter, false},
    {"milter_pid_file", T::Path, "/run/rampart/rampart-milter.pid",
     "Where rampart-milter writes its process id when it runs in the background. Empty: no pid file.", kMilter, false},
    {"milter_internal_networks", T::CidrList, "127.0.0.0/8, [::1]/128",
     "Clients whose mail is our users' mail even without SMTP authentication: only mail from "
     "these networks, from authenticated clients (milter_trust_authenticated) or from listeners "
     "named in milter_originating_daemon_names is repaired, checked against suppression lists and "
     "signed. Other mail passes untouched.",
     kMilter, true},
    {"milter_trust_authenticated", T::Bool, "yes",
     "Treat mail from SMTP-authenticated clients ({auth_authen} set) as our users' mail.", kMilter, true},
    {"milter_originating_daemon_names", T::List, "",
     "Postfix listener names ({daemon_name}, set with milter_macro_daemon_name or per service in "
     "master.cf, e.g. ORIGINATING) whose mail is our users' mail whatever the client.",
     kMilter, true},
    {"milter_header_size_limit", T::Size, "1M",
     "Largest header block rampart-milter accepts. A larger message is answered with a temporary "
     "failure that says why, never passed on unsigned.",
     kMilter, true},
    {"milter_on_internal_error", T::Enum, "tempfail",
     "Answer when rampart-milter itself fails on a message (a bug, an exhausted resource): "
     "tempfail (the client retries later) or accept (deliver the message as it is, unsigned).",
     kMilter, true, "tempfail|accept"},
    {"milter_stats_interval", T::Duration, "10m",
     "How often rampart-milter logs one line with its counters (also on SIGUSR1). 0s: only on SIGUSR1.", kMilter, true},

    {"milter_refund_socket", T::String, "unix:/run/rampart/policyd.sock",
     "Where rampart-milter tells rampart-policyd the queue id of a message it refused (or the "
     "recipients it removed) after Postfix's END-OF-MESSAGE policy check, so the pacing counts only "
     "what was sent: unix:/path or inet:HOST:PORT of policyd_listen. Empty: no refunds (no policyd).",
     kMilter, true},

    // ------------------------------------------------------------------ header hygiene (rampart-milter)
    {"hygiene_rules", T::List, "",
     "Per-rule actions that differ from the defaults, as RULE=ACTION (e.g. \"date=warn, "
     "strip-headers=off\"). RULE is from, from-mailbox, date, message-id, message-id-internal, "
     "duplicate-headers, line-length, header-size, 8bit-headers, strip-headers, private-received, "
     "forged-auth or mime-version; ACTION is reject, fix, strip, warn or off, as the rule allows. "
     "Defaults, reasons and reply texts: docs/hygiene.md.",
     kMilter, true},
    {"hygiene_dry_run", T::Bool, "no",
     "Log what the hygiene rules would change or refuse (\"hygiene: would fix ...\", \"hygiene: would "
     "reject ...\" in the message's log line) and change nothing: to try them on live mail.",
     kMilter, true},
    {"hygiene_strip_headers", T::List,
     "X-Originating-IP, X-Mailer, User-Agent, X-PHP-Originating-Script, X-PHP-Script, X-Source, "
     "X-Source-Args, X-Source-Dir, X-Enigmail, X-Forwarded-For",
     "Header fields that leak infrastructure and are removed from our users' mail (rule "
     "strip-headers); a trailing * matches a prefix (X-Source*). Setting the key replaces the list; "
     "fields the message needs (From, Date, Message-ID, Content-Type, List-Unsubscribe...) are refused.",
     kMilter, true},
    {"hygiene_internal_domains", T::List, ".local, .lan, .internal, .localdomain, .home, .corp, localhost",
     "Message-ID right-hand sides that leak an internal host name (rule message-id-internal): a "
     "leading dot matches the suffix (.local: pc.local, local), other entries the whole name; names "
     "without a dot and IP addresses always count.",
     kMilter, true},
    {"hygiene_message_id_domain", T::String, "",
     "Domain of the Message-IDs Rampart generates or repairs (rules message-id, "
     "message-id-internal). Empty: the From header's domain, else the envelope sender's.",
     kMilter, true},
    {"hygiene_header_size_limit", T::Size, "256k",
     "Largest header block of a message that is passed on (rule header-size, which also refuses "
     "more than 5,000 fields; Gmail refuses headers over 500 KB and Yahoo \"header too big\"). "
     "Keep it at or below milter_header_size_limit.",
     kMilter, true},

    // ------------------------------------------------------------------ one-click unsubscribe
    {"unsubscribe_url", T::String, "",
     "Base of the one-click unsubscribe links added to our users' single-recipient mail, e.g. "
     "https://unsub.example.com/u/ (the token is appended); an HTTPS reverse proxy forwards it to "
     "unsubscribe_listen. Empty: no links, unless unsubscribe_domains names the From domain.",
     kMilter, true},
    {"unsubscribe_mailto", T::String, "",
     "Address for mailto: unsubscribe requests (List-Unsubscribe's second URI), delivered to "
     "`rampartctl ingest` by a Postfix pipe transport. Empty: no mailto URI.",
     kMilter, true},
    {"unsubscribe_domains", T::Table, "",
     "Per From domain values: lines \"DOMAIN URL-BASE [MAILTO-ADDRESS]\" (DOMAIN may be *.example.com).", kMilter, true,
     "file"},
    {"unsubscribe_secret", T::String, "",
     "Secret that seals unsubscribe tokens and reference stamps (AES-256-GCM): a literal, or "
     "file:/path with \"ID SECRET\" lines, the first sealing new tokens and all opening old ones "
     "(rotation). Keep the configuration file unreadable by others if the secret is literal.",
     kMilter | kPolicyd | kCtl, true},
    {"unsubscribe_token_lifetime", T::Duration, "365d",
     "How long an unsubscribe link or a reference stamp stays valid after the message was sent.",
     kMilter | kPolicyd | kCtl, true},
    {"unsubscribe_listen", T::Listen, "inet:127.0.0.1:8026",
     "Where rampart-policyd serves the RFC 8058 one-click endpoint (POST /u/TOKEN; GET shows a "
     "confirmation page), behind the user's HTTPS reverse proxy. Used when unsubscribe_secret is set.",
     kPolicyd, false},
    {"reference_header", T::String, "X-Rampart-Ref",
     "Header field with an opaque, authenticated reference (tenant, From domain, recipient) added to "
     "our users' single-recipient mail and covered by the DKIM signature, so bounce and complaint "
     "reports can be mapped back even when they redact the recipient. Empty: none.",
     kMilter, true},

    // ------------------------------------------------------------------ suppression lists
    {"suppression_list", T::Table, "sqlite:/var/lib/rampart/suppression.db",
     "The suppression list (addresses and domains not to be mailed, with reason, scope and expiry, "
     "and an audit trail). rampart-milter and rampart-policyd follow its changes within a second.",
     kAll, false, "sqlite"},
    {"suppression_case_sensitive", T::Bool, "no",
     "Compare local parts case-sensitively (RFC 5321 allows it; in practice no mailbox depends on it).", kAll, true},
    {"suppression_fold_gmail", T::Bool, "yes",
     "For gmail.com and googlemail.com, ignore dots and +tags in the local part (Gmail delivers "
     "them to the same mailbox).",
     kAll, true},
    {"tenant_map", T::Table, "",
     "Customers: lines \"PATTERN TENANT\" mapping SASL logins (or envelope senders) to tenants for "
     "tenant-scoped suppression; a login without an entry is its own tenant.",
     kAll, true, "file|refile"},

    // ------------------------------------------------------------------ bounce and complaint ingestion
    {"ingest_rules", T::Table, "",
     "Bounce classification rules of rampartctl ingest: \"CATEGORY /regex/\" lines matched "
     "case-insensitively against \"STATUS DIAGNOSTIC\", tried in order before the built-in RFC 3463 "
     "rules (docs/bounces.md). conf/bounce-rules.conf, installed with the examples, holds Gmail, "
     "Microsoft and Yahoo texts. Empty: built-in rules only.",
     kCtl, true, "file"},
    {"ingest_soft_bounce_limit",
     T::Integer,
     "3",
     "Soft bounces (mailbox full, expired, unexplained failures; not delay warnings) of one address "
     "within ingest_soft_bounce_window that suppress it (reason soft_bounce).",
     kCtl,
     true,
     {},
     1,
     1000},
    {"ingest_soft_bounce_window", T::Duration, "15d", "The window of ingest_soft_bounce_limit.", kCtl, true},
    {"ingest_hard_bounce_expiry", T::Duration, "365d",
     "How long a hard bounce (unknown user, no such domain, disabled mailbox) suppresses an address "
     "globally (0s: for ever). Blocks, authentication failures and rate limits never suppress.",
     kCtl, true},

    // ------------------------------------------------------------------ rampart-policyd
    {"policyd_check_suppression", T::Bool, "yes",
     "Refuse a recipient on the suppression list (global, or the tenant's) at RCPT with 550 5.7.1, "
     "before any cap slot is reserved; covers Postfix setups without rampart-milter's RCPT check.",
     kPolicyd, true},
    {"policyd_listen", T::ListenList, "unix:/run/rampart/policyd.sock",
     "Where rampart-policyd answers policy requests: one or more of unix:/path and inet:HOST:PORT, "
     "separated by commas. Postfix's check_policy_service and the Exim ACL (contrib/) name one of them.",
     kPolicyd, false},
    {"policyd_socket_mode", T::Mode, "0660",
     "Permissions of rampart-policyd's unix sockets (owner rampart_user, group policyd_socket_group).", kPolicyd,
     false},
    {"policyd_socket_group", T::String, "postfix",
     "Group of rampart-policyd's unix sockets: the group Postfix's smtpd (or Exim) runs with. Empty: "
     "the primary group of rampart_user.",
     kPolicyd, false},
    {"policyd_pid_file", T::Path, "/run/rampart/rampart-policyd.pid",
     "Where rampart-policyd writes its process id when it runs in the background. Empty: no pid file.", kPolicyd,
     false},
    {"policyd_control_socket", T::Listen, "unix:/run/rampart/policyd-control.sock",
     "The unix socket rampartctl uses to read and change the running daemon's state (status, pause, "
     "resume, reset). Mode 0600, owned by rampart_user; root can always connect.",
     kPolicyd | kCtl, false},
    {"policyd_limits", T::Path, "/etc/rampart/limits.conf",
     "The limits file: caps, rates, spacing, sending windows, warmup schedules, exemptions and "
     "provider rules (grammar: docs/limits.md). Re-read on SIGHUP.",
     kPolicyd | kCtl, true},
    {"policyd_store", T::Table, "journal:/var/lib/rampart/policyd",
     "Where counters, reservations and warmup progress are kept. journal:DIRECTORY: an append-only "
     "journal and snapshots in DIRECTORY (created, owned by rampart_user); every answered decision is "
     "written to the OS before the answer, so it survives a crash of the daemon.",
     kPolicyd | kCtl, false, "journal"},
    {"policyd_sync_interval", T::Duration, "1s",
     "Longest time between fsync calls of the journal: what a power loss (not a daemon crash) can "
     "take back.",
     kPolicyd, true},
    {"policyd_timezone", T::Timezone, "UTC",
     "Time zone of calendar periods (a day's cap resets at midnight there) and of retry times in "
     "deferral texts; a limit may set its own.",
     kPolicyd | kCtl, true},
    {"policyd_monitor_only", T::Bool, "no",
     "Answer DUNNO to everything but log \"would defer\" where a limit would have deferred, and keep "
     "counting: to try limits on live traffic.",
     kPolicyd, true},
    {"policyd_error_action", T::Enum, "defer_if_permit",
     "Answer when rampart-policyd cannot decide (an internal error, a state it cannot write): "
     "defer_if_permit or defer (nothing slips past a cap), or dunno (fail open).",
     kPolicyd, true, "defer_if_permit|defer|dunno"},
    {"policyd_reservation_timeout", T::Duration, "10m",
     "How long a recipient's reserved slot waits for the END-OF-MESSAGE request that commits it; "
     "then it is released (the transaction was aborted or rejected later).",
     kPolicyd, true},
    {"policyd_refund_window", T::Duration, "10m",
     "How long after END-OF-MESSAGE a message's counts can still be given back by queue id "
     "(rampart-milter refuses a message, or removes recipients, right after Postfix asked the "
     "policy). Each message is remembered this long (about 400 bytes), so keep it short.",
     kPolicyd, true},
    {"policyd_mx_timeout", T::Duration, "2s",
     "Longest wait for a recipient domain's MX lookup; after it (or on failure) the recipient domain "
     "stands in for the provider.",
     kPolicyd, true},
    {"policyd_max_connections",
     T::Integer,
     "2000",
     "Most simultaneous client connections; more are closed at once (each smtpd process keeps one).",
     kPolicyd,
     true,
     {},
     1,
     1000000},
    {"policyd_max_connections_per_peer",
     T::Integer,
     "1000",
     "Most simultaneous connections from one peer: one uid on a unix socket (SO_PEERCRED), one "
     "address on an inet listener; more are closed at once, counted (refused_per_peer in the stats "
     "line) and logged (at most one line in 10s). All of a Postfix's smtpd processes are one peer "
     "(one uid, one address) and each keeps one connection, so keep this above their number (master.cf "
     "maxproc, default_process_limit 100); 1000 leaves room for ten times that and still keeps one "
     "runaway peer from taking all of policyd_max_connections.",
     kPolicyd,
     true,
     {},
     1,
     1000000},
    {"policyd_idle_timeout", T::Duration, "15m",
     "A client connection idle this long between requests is closed (Postfix keeps its policy "
     "connections open and closes them itself after smtpd_policy_service_max_idle, 300s by default). "
     "A request being received has policyd_request_timeout instead.",
     kPolicyd, true},
    {"policyd_request_timeout", T::Duration, "30s",
     "Longest time from a request's first byte to its last; a client still sending then is closed and "
     "logged (a client trickling bytes holds no connection slot for ever). Postfix and Exim write a "
     "request at once, so it normally takes milliseconds; Postfix itself gives up on a reply after "
     "smtpd_policy_service_timeout (100s). Also ends a client that stops reading its replies: its "
     "requests are no longer read. At least 1s.",
     kPolicyd, true},
    {"policyd_max_pending_replies", T::Size, "64k",
     "Most reply bytes waiting for one client to read them: past this, that client's requests are not "
     "read until it reads its replies (Postfix reads each reply before its next request, so never gets "
     "here); one with four times this unread is closed and logged. At least 1k.",
     kPolicyd, true},
    {"policyd_max_request_size", T::Size, "16k",
     "Largest policy request accepted; a longer one is garbage: logged, and that connection closed.", kPolicyd, true},
    {"policyd_max_attributes",
     T::Integer,
     "200",
     "Most name=value lines in one request; more is garbage: logged, and that connection closed.",
     kPolicyd,
     true,
     {},
     10,
     100000},
    {"policyd_stats_interval", T::Duration, "10m",
     "How often rampart-policyd logs one line with its counters (also on SIGUSR1). 0s: only on SIGUSR1.", kPolicyd,
     true},

    // ------------------------------------------------------------------ DKIM signing (rampart-milter, rampartctl)
    {"dkim_key_table", T::Table, "",
     "OpenDKIM-format KeyTable: lines \"KEYNAME DOMAIN:SELECTOR:/path/to/private.key\"; % as "
     "DOMAIN means the From domain and % in the path is replaced by it. Key type (RSA or Ed25519) "
     "is read from the key. Empty: rampart-milter does not sign.",
     kMilter | kCtl, true, "file"},
    {"dkim_signing_table", T::Table, "",
     "OpenDKIM-format SigningTable mapping From addresses to KeyTable names. file: looks up "
     "user@host, host, user@.parent, .parent, user@*, * in that order; refile: has one \"PATTERN "
     "KEYNAME\" per line with * wildcards, tried in file order.",
     kMilter | kCtl, true, "file|refile"},
    {"dkim_multiple_signatures", T::Bool, "yes",
     "Sign with every matching SigningTable entry (e.g. an RSA and an Ed25519 key, or the From "
     "domain plus a second domain). no: only the first match.",
     kMilter, true},
    {"dkim_canonicalization", T::Enum, "relaxed/relaxed",
     "Header/body canonicalization of new signatures (RFC 6376 section 3.4).", kMilter, true,
     "relaxed/relaxed|relaxed/simple|simple/relaxed|simple/simple"},
    {"dkim_signed_headers", T::List,
     "From, Reply-To, Subject, Date, Message-ID, To, Cc, MIME-Version, Content-Type, "
     "Content-Transfer-Encoding, In-Reply-To, References, List-Id, List-Unsubscribe, "
     "List-Unsubscribe-Post, Feedback-ID",
     "Header fields covered by the signature when present (every instance). From is always signed.", kMilter, true},
    {"dkim_oversigned_headers", T::List, "From, Subject, To, Date, List-Unsubscribe, List-Unsubscribe-Post",
     "Header fields listed in h= once more than they occur, so that nobody can add another instance "
     "(or, when absent, the field itself) without breaking the signature.",
     kMilter, true},
    {"dkim_unsigned_action", T::Enum, "tempfail",
     "What happens to our users' mail that cannot get a signature aligned with its From domain "
     "(no key for the domain, no From, a key refused): tempfail (answer 451 with the reason; "
     "receivers reject or spam-folder unaligned bulk mail), reject (550), or accept (deliver unsigned).",
     kMilter, true, "tempfail|reject|accept"},
    {"dkim_require_safe_keys", T::Bool, "yes",
     "Refuse private keys that other accounts can read or write: the owner must be root or "
     "rampart_user, the file must give nothing to others, and its directory must not be "
     "writable by others.",
     kMilter | kCtl, true},
    {"dkim_key_dns_check", T::Enum, "warn",
     "At start-up and on reload, look up every selector of the KeyTable in DNS and compare the "
     "published public key with the private key. warn: log problems; enforce: also stop signing "
     "with a key that is unpublished, revoked or mismatched (its mail gets dkim_unsigned_action); "
     "off: no lookups. A DNS error never stops signing.",
     kMilter, true, "off|warn|enforce"},
    {"dkim_signature_ttl", T::Duration, "0s", "Validity of new signatures (the x= tag). 0s: signatures do not expire.",
     kMilter, true},
};

}  // namespace

std::string_view typeName(ValueType t) {
    switch (t) {
        case T::String:
            return "string";
        case T::Bool:
            return "yes|no";
        case T::Integer:
            return "integer";
        case T::Duration:
            return "duration";
        case T::Size:
            return "size";
        case T::Rate:
            return "rate";
        case T::Listen:
            return "listen address";
        case T::ListenList:
            return "listen addresses";
        case T::List:
            return "list";
        case T::CidrList:
            return "networks";
        case T::Table:
            return "table";
        case T::Mode:
            return "file mode";
        case T::Enum:
            return "choice";
        case T::Path:
            return "path";
        case T::Timezone:
            return "time zone";
    }
    return "?";
}

std::span<const KeySpec> registry() {
    return kKeys;
}

const KeySpec* findKey(std::string_view name) {
    for (const auto& k : kKeys) {
        if (k.name == name) return &k;
    }
    return nullptr;
}

}  // namespace rampart::config
