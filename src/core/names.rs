//! Every metric name, the per-tenant families with their labels and HELP text, as the contract
//! fixes them. Dashboards, rules, README and tests use exactly these.

pub const CURRENT_POINTS: &str = "securescore_current_points";
pub const MAX_POINTS: &str = "securescore_max_points";
pub const SNAPSHOT_TIMESTAMP: &str = "securescore_snapshot_timestamp_seconds";
pub const ACTIVE_USERS: &str = "securescore_active_users";
pub const LICENSED_USERS: &str = "securescore_licensed_users";
pub const TENANT_INFO: &str = "securescore_tenant_info";
pub const ENABLED_SERVICE_INFO: &str = "securescore_enabled_service_info";
pub const CATEGORY_POINTS: &str = "securescore_category_points";
pub const CATEGORY_MAX_POINTS: &str = "securescore_category_max_points";
pub const CONTROL_POINTS: &str = "securescore_control_points";
pub const CONTROL_MAX_POINTS: &str = "securescore_control_max_points";
pub const CONTROL_RANK: &str = "securescore_control_rank";
pub const CONTROL_ITEMS: &str = "securescore_control_items";
pub const CONTROL_ITEMS_IN_SCOPE: &str = "securescore_control_items_in_scope";
pub const CONTROL_INFO: &str = "securescore_control_info";
pub const PEER_AVERAGE_RATIO: &str = "securescore_peer_average_ratio";
pub const PEER_CATEGORY_POINTS: &str = "securescore_peer_category_points";
pub const PEER_CATEGORY_MAX_POINTS: &str = "securescore_peer_category_max_points";
pub const UP: &str = "securescore_up";
pub const LAST_REFRESH_SUCCESS: &str = "securescore_last_refresh_success_timestamp_seconds";
pub const REFRESH_FAILURES: &str = "securescore_refresh_failures_total";
pub const REFRESH_DURATION: &str = "securescore_refresh_duration_seconds";
pub const GRAPH_REQUESTS: &str = "securescore_graph_requests_total";
pub const GRAPH_PARTIAL_RESPONSES: &str = "securescore_graph_partial_responses_total";
pub const CREDENTIAL_EXPIRY: &str = "securescore_credential_expiry_timestamp_seconds";
pub const CONFIG_RELOAD_SUCCESSFUL: &str = "securescore_config_last_reload_successful";
pub const STATE_SAVES: &str = "securescore_state_saves_total";
pub const STATE_SAVE_FAILURES: &str = "securescore_state_save_failures_total";
pub const STATE_RESTORED: &str = "securescore_state_restored_tenants";
pub const BUILD_INFO: &str = "securescore_exporter_build_info";

/// Label names of `securescore_control_info`, in exposition order.
pub const CONTROL_INFO_LABELS: [&str; 11] = [
    "tenant",
    "control",
    "category",
    "title",
    "service",
    "tier",
    "action_type",
    "implementation_cost",
    "user_impact",
    "state",
    "deprecated",
];

/// The per-tenant gauges the collector builds from the store: (name, labels, HELP without the caching note).
pub const SNAPSHOT_METRICS: &[(&str, &[&str], &str)] = &[
    (CURRENT_POINTS, &["tenant"], "Secure Score points achieved (Graph secureScores currentScore, newest daily record)"),
    (MAX_POINTS, &["tenant"], "Secure Score points achievable (Graph secureScores maxScore, newest daily record)"),
    (SNAPSHOT_TIMESTAMP, &["tenant"], "Unix time of the newest daily Secure Score record (Graph secureScores createdDateTime)"),
    (ACTIVE_USERS, &["tenant"], "Active users as reported by Graph (secureScores activeUserCount)"),
    (LICENSED_USERS, &["tenant"], "Licensed users as reported by Graph (secureScores licensedUserCount)"),
    (TENANT_INFO, &["tenant", "tenant_id", "credential"], "Tenant identity; tenant_id is Graph secureScores azureTenantId, credential the named credential the tenant signs in with, else the tenant name (value is always 1)"),
    (ENABLED_SERVICE_INFO, &["tenant", "service"], "One series per entry of Graph secureScores enabledServices (value is always 1)"),
    (CATEGORY_POINTS, &["tenant", "category"], "Points achieved per category: sum of Graph secureScores controlScores[].score by controlCategory"),
    (CATEGORY_MAX_POINTS, &["tenant", "category"], "Points achievable per category: sum of per-control maxima (controlScores score*100/scoreInPercentage, else secureScoreControlProfiles maxScore)"),
    (CONTROL_POINTS, &["tenant", "control", "category"], "Points achieved by a control (Graph secureScores controlScores[].score)"),
    (CONTROL_MAX_POINTS, &["tenant", "control", "category"], "Points achievable by a control (controlScores score*100/scoreInPercentage, else Graph secureScoreControlProfiles maxScore)"),
    (CONTROL_ITEMS, &["tenant", "control", "category"], "Items that meet a control, usually users, devices or policies (Graph secureScores controlScores[].count, sent as a string; Microsoft does not document its meaning)"),
    (CONTROL_ITEMS_IN_SCOPE, &["tenant", "control", "category"], "Items in scope of a control (Graph secureScores controlScores[].total, sent as a string; Microsoft does not document its meaning)"),
    (CONTROL_RANK, &["tenant", "control"], "Microsoft's priority of a control (Graph secureScoreControlProfiles rank)"),
    (CONTROL_INFO, &CONTROL_INFO_LABELS, "Control metadata from Graph secureScoreControlProfiles (title, service, tier, actionType, implementationCost, userImpact, newest controlStateUpdates state, deprecated); value is always 1"),
    (PEER_AVERAGE_RATIO, &["tenant", "basis"], "Average score of peer tenants as a ratio (Graph secureScores averageComparativeScores[].averageScore / 100)"),
    (PEER_CATEGORY_POINTS, &["tenant", "basis", "category"], "Peer average points per category (Graph averageComparativeScores[].<category>Score)"),
    (PEER_CATEGORY_MAX_POINTS, &["tenant", "basis", "category"], "Peer average achievable points per category (Graph averageComparativeScores[].<category>ScoreMax)"),
    (UP, &["tenant"], "1 if the most recent refresh of this tenant from Microsoft Graph succeeded, else 0"),
    (LAST_REFRESH_SUCCESS, &["tenant"], "Unix time when the last successful refresh of this tenant finished"),
];

/// Every label name the per-tenant series use.
pub fn snapshot_label_names() -> std::collections::BTreeSet<&'static str> {
    SNAPSHOT_METRICS
        .iter()
        .flat_map(|(_, labels, _)| labels.iter().copied())
        .collect()
}
