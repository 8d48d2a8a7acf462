// Builds rampart-policyd's runtime generation from a configuration (see runtime.h): loads the limits
// file in policyd_timezone, the tenant map and the one-click keyring, and turns keys into the values
// the request service and the server use.
#include "policyd/runtime.h"

#include "date/tz.h"

namespace rampart::policyd {

StateOptions stateOptions(const config::Config& cfg) {
    StateOptions o;
    o.reservationTimeout = cfg.duration("policyd_reservation_timeout");
    o.refundWindow = cfg.duration("policyd_refund_window");
    return o;
}

std::shared_ptr<const Runtime> buildRuntime(std::shared_ptr<const config::Config> config, config::Diagnostics& diags) {
    const config::Config& cfg = *config;
    auto rt = std::make_shared<Runtime>();
    rt->config = config;
    const date::time_zone* zone = nullptr;
    try {
        zone = date::locate_zone(cfg.str("policyd_timezone"));
    } catch (const std::exception& e) {
        diags.error(cfg.where("policyd_timezone"), std::string("policyd_timezone: ") + e.what());
    }
    config::Diagnostics limitDiags;
    auto limits = std::make_shared<LimitSet>(LimitSet::load(cfg.str("policyd_limits"), zone, limitDiags));
    diags.append(limitDiags);
    rt->limits = limits;
    rt->protocol.maxRequestBytes = cfg.size("policyd_max_request_size");
    rt->protocol.maxAttributes = static_cast<size_t>(cfg.integer("policyd_max_attributes"));
    rt->state = stateOptions(cfg);
    rt->monitorOnly = cfg.flag("policyd_monitor_only");
    const std::string& ea = cfg.str("policyd_error_action");
    rt->errorAction = ea == "dunno" ? "DUNNO" : (ea == "defer" ? "DEFER" : "DEFER_IF_PERMIT");
    rt->errorAction += ea == "dunno" ? "" : " 4.3.0 rampart: policy service error, try again later";
    rt->maxConnections = static_cast<size_t>(cfg.integer("policyd_max_connections"));
    rt->maxConnectionsPerPeer = static_cast<size_t>(cfg.integer("policyd_max_connections_per_peer"));
    rt->flow.maxRequestBytes = rt->protocol.maxRequestBytes;
    rt->flow.maxPendingReplies = cfg.size("policyd_max_pending_replies");
    rt->idleTimeout = cfg.duration("policyd_idle_timeout");
    rt->requestTimeout = cfg.duration("policyd_request_timeout");
    if (rt->requestTimeout.count() < 1)
        diags.error(cfg.where("policyd_request_timeout"), "policyd_request_timeout: must be at least 1s");
    if (rt->flow.maxPendingReplies < 1024)
        diags.error(cfg.where("policyd_max_pending_replies"), "policyd_max_pending_replies: must be at least 1k");
    rt->mxTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.duration("policyd_mx_timeout"));
    rt->statsInterval = cfg.duration("policyd_stats_interval");
    rt->checkSuppression = cfg.flag("policyd_check_suppression");
    if (const std::string secret = cfg.str("unsubscribe_secret"); !secret.empty()) {
        auto keys = util::Keyring::load(secret);
        if (!keys) {
            diags.error(cfg.where("unsubscribe_secret"), "unsubscribe_secret: " + keys.error());
        } else {
            auto us = std::make_shared<UnsubscribeSettings>();
            us->keys = std::make_shared<const util::Keyring>(std::move(keys).value());
            us->lifetime = cfg.duration("unsubscribe_token_lifetime");
            us->norm.caseSensitiveLocalPart = cfg.flag("suppression_case_sensitive");
            us->norm.foldGmail = cfg.flag("suppression_fold_gmail");
            rt->unsubscribe = us;
        }
    }
    {
        config::Diagnostics tableDiags;
        rt->tenants =
            std::make_shared<const mail::TenantMap>(mail::TenantMap::load(cfg.table("tenant_map"), tableDiags));
        diags.append(tableDiags);
    }
    static uint64_t generation = 0;
    rt->generation = ++generation;
    if (diags.hasErrors()) return nullptr;
    return rt;
}

}  // namespace rampart::policyd
