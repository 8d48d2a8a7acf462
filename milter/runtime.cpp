// The milter Runtime (runtime.h): eligibility, pipeline and keys built from one Config, swapped on reload.
#include "milter/runtime.h"

#include <atomic>
#include <set>

#include "dkim/dns_check.h"
#include "dkim/tables.h"
#include "dns/resolver.h"
#include "milter/key_store.h"
#include "milter/stages/dkim_stage.h"
#include "milter/stages/hygiene_stage.h"
#include "milter/stages/stamp_stage.h"
#include "milter/stages/suppression_stage.h"
#include "util/log.h"
#include "util/strings.h"

namespace rampart::milter {

void Eligibility::classify(Envelope& env) const {
    if (trustAuthenticated && !env.authUser.empty()) {
        env.ours = true;
        env.oursReason = "authenticated as " + env.authUser;
        return;
    }
    for (const auto& d : daemonNames) {
        if (!env.daemonName.empty() && util::iequals(d, env.daemonName)) {
            env.ours = true;
            env.oursReason = "listener " + env.daemonName;
            return;
        }
    }
    if (!env.clientAddress.empty() && internalNetworks.contains(env.clientAddress)) {
        env.ours = true;
        env.oursReason = "internal client " + env.clientAddress;
        return;
    }
    env.ours = false;
    env.oursReason =
        "not our users' mail (client " + (env.clientAddress.empty() ? std::string("unknown") : env.clientAddress) +
        " not in milter_internal_networks, not authenticated" +
        (env.daemonName.empty() ? std::string()
                                : ", listener " + env.daemonName + " not in milter_originating_daemon_names") +
        ")";
}

namespace {

std::atomic<uint64_t> gGeneration{0};

void checkDns(const config::Config& cfg, const dkim::KeyTable& keys, const dkim::SigningTable& signing, KeyStore& store,
              config::Diagnostics& diags) {
    const std::string mode = cfg.str("dkim_key_dns_check");
    if (mode == "off") return;
    KeyCheckPlan plan = planKeyChecks(keys, signing, store);
    const auto& inputs = plan.inputs;
    const auto& owners = plan.entries;
    if (inputs.empty()) return;
    dns::ResolverOptions ro;
    ro.servers = cfg.list("dns_servers");
    ro.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.duration("dns_timeout"));
    dns::Resolver resolver(ro);
    auto results = dkim::checkPublishedKeys(inputs, resolver);
    for (size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        if (r.status == dkim::KeyCheckStatus::Ok) continue;
        std::string text = "DNS check of " + r.name + ": " + dkim::keyCheckStatusName(r.status) + ": " + r.detail;
        if (mode == "enforce" && r.failing()) {
            store.refuse(r.domain, r.selector,
                         std::string(dkim::keyCheckStatusName(r.status)) + " in DNS (dkim_key_dns_check = enforce)");
            text += "; not signing with this key (dkim_key_dns_check = enforce)";
        }
        diags.warning(owners[i]->where, text);
    }
}

}  // namespace

std::shared_ptr<const Runtime> buildRuntime(std::shared_ptr<const config::Config> config, const BuildOptions& options,
                                            config::Diagnostics& diags) {
    const config::Config& cfg = *config;
    auto rt = std::make_shared<Runtime>();
    rt->config = config;
    rt->eligibility.internalNetworks = cfg.networks("milter_internal_networks");
    rt->eligibility.trustAuthenticated = cfg.flag("milter_trust_authenticated");
    rt->eligibility.daemonNames = cfg.list("milter_originating_daemon_names");
    rt->headerSizeLimit = cfg.size("milter_header_size_limit");
    rt->acceptOnInternalError = cfg.str("milter_on_internal_error") == "accept";
    rt->statsInterval = cfg.duration("milter_stats_interval");

    // The account that may own keys.
    util::Account owner{"root", 0, 0};
    if (options.keyOwner) {
        owner = *options.keyOwner;
    } else {
        auto acct = util::lookupAccount(cfg.str("rampart_user"));
        if (!acct) {
            diags.error(cfg.where("rampart_user"),
                        "rampart_user: " + acct.error() + " (create it, e.g. useradd --system rampart)");
        } else {
            owner = *acct;
        }
    }

    if (const std::string refund = cfg.str("milter_refund_socket"); !refund.empty()) {
        auto addr = config::parseListenAddress(refund);
        if (!addr) {
            diags.error(cfg.where("milter_refund_socket"), "milter_refund_socket: " + addr.error());
        } else {
            rt->refunds = std::make_shared<const RefundClient>(*addr);
        }
    }

    // hygiene -> suppression -> stamps (List-Unsubscribe, reference) -> DKIM, which signs the result.
    std::vector<std::unique_ptr<Stage>> stages;
    std::vector<std::string> parts;
    stages.push_back(std::make_unique<HygieneStage>(HygieneSettings::fromConfig(cfg, diags), options.clock));
    parts.push_back(cfg.flag("hygiene_dry_run") ? "hygiene (dry run)" : "hygiene");

    std::shared_ptr<const mail::TenantMap> tenants;
    {
        config::Diagnostics tableDiags;
        tenants = std::make_shared<const mail::TenantMap>(mail::TenantMap::load(cfg.table("tenant_map"), tableDiags));
        diags.append(tableDiags);
    }
    if (options.suppression) {
        stages.push_back(std::make_unique<SuppressionStage>(options.suppression, tenants, options.clock));
        parts.push_back("suppression");
    }
    StampSettings stamps = StampSettings::fromConfig(cfg, diags);
    const std::string referenceHeader = stamps.keys ? stamps.referenceHeader : std::string();
    if (stamps.active()) {
        parts.push_back(std::string("stamps (") + (stamps.referenceHeader.empty() ? "" : stamps.referenceHeader) +
                        (!stamps.defaults.urlBase.empty() || !stamps.domains.empty() ? ", one-click unsubscribe" : "") +
                        ")");
    } else if (!stamps.keys && !stamps.referenceHeader.empty()) {
        parts.push_back("no reference stamps or unsubscribe links (unsubscribe_secret is empty)");
    }
    stages.push_back(std::make_unique<StampStage>(std::move(stamps), tenants, options.clock));

    const auto& keyRef = cfg.table("dkim_key_table");
    const auto& signRef = cfg.table("dkim_signing_table");
    std::string dkimSummary = "DKIM signing off (no dkim_key_table)";
    if (keyRef.empty() && !signRef.empty()) {
        diags.error(cfg.where("dkim_signing_table"), "dkim_signing_table is set but dkim_key_table is not");
    } else if (!keyRef.empty()) {
        if (signRef.empty()) {
            diags.error(cfg.where("dkim_key_table"),
                        "dkim_key_table is set but dkim_signing_table is not: nothing would be signed");
        }
        config::Diagnostics tableDiags;
        dkim::KeyTable keys = dkim::KeyTable::load(keyRef, tableDiags);
        dkim::SigningTable signing =
            signRef.empty() ? dkim::SigningTable() : dkim::SigningTable::load(signRef, tableDiags);
        for (const auto& e : signing.entries()) {
            if (!keys.find(e.keyName)) {
                tableDiags.error(e.where, "key name \"" + e.keyName + "\" is not in the key table " + keyRef.path);
            }
        }
        auto canon = dkim::Canonicalization::parse(cfg.str("dkim_canonicalization"));
        if (!canon) diags.error(cfg.where("dkim_canonicalization"), canon.error());
        dkim::KeyFileOptions kfo;
        kfo.requireSafe = cfg.flag("dkim_require_safe_keys");
        kfo.allowedUid = owner.uid;
        kfo.allowedGid = owner.gid;
        auto store = std::make_shared<KeyStore>(kfo);
        store->loadAll(keys, tableDiags);
        if (options.dnsCheck && !tableDiags.hasErrors()) checkDns(cfg, keys, signing, *store, tableDiags);
        diags.append(tableDiags);

        DkimSettings ds;
        if (canon) ds.canon = *canon;
        ds.signedHeaders = cfg.list("dkim_signed_headers");
        bool hasFrom = false;
        for (const auto& h : ds.signedHeaders)
            hasFrom = hasFrom || util::iequals(h, "From");
        if (!hasFrom) ds.signedHeaders.insert(ds.signedHeaders.begin(), "From");
        if (!referenceHeader.empty()) {
            bool listed = false;
            for (const auto& h : ds.signedHeaders)
                listed = listed || util::iequals(h, referenceHeader);
            if (!listed) ds.signedHeaders.push_back(referenceHeader);  // the stamp must be covered
        }
        ds.oversignedHeaders = cfg.list("dkim_oversigned_headers");
        for (const auto& o : ds.oversignedHeaders) {
            bool listed = false;
            for (const auto& h : ds.signedHeaders)
                listed = listed || util::iequals(h, o);
            if (!listed) {
                diags.warning(cfg.where("dkim_oversigned_headers"),
                              o + " is over-signed but not in dkim_signed_headers; it is signed anyway");
                ds.signedHeaders.push_back(o);
            }
        }
        ds.unsignedAction = cfg.str("dkim_unsigned_action");
        ds.multipleSignatures = cfg.flag("dkim_multiple_signatures");
        ds.ttl = cfg.duration("dkim_signature_ttl");
        dkimSummary = "DKIM: " + std::to_string(keys.entries().size()) + " keys (" +
                      std::to_string(store->loadedCount()) + " loaded), " + std::to_string(signing.entries().size()) +
                      " signing rules, " + ds.canon.str();
        stages.push_back(
            std::make_unique<DkimStage>(std::move(ds), std::move(keys), std::move(signing), store, options.clock));
    } else {
        diags.warning(cfg.where("dkim_key_table"), "dkim_key_table is empty: rampart-milter will not sign");
    }
    rt->pipeline = std::make_unique<Pipeline>(std::move(stages));
    parts.push_back(dkimSummary);
    rt->summary = util::join(parts, "; ");
    if (diags.hasErrors()) return nullptr;
    rt->generation = ++gGeneration;
    return rt;
}

}  // namespace rampart::milter
