//! Every metric name and HELP text of the exporter lives here.
//!
//! Two kinds of series make up `/metrics`:
//! - [`SecureScoreCollector`] renders each tenant's series from its [`Store`] entry whenever
//!   that entry changes (the const-metric pattern: a control or tenant that vanishes from Graph
//!   vanishes from `/metrics`, nothing is served before a tenant's first good refresh). The
//!   text is written directly, one compressed part per family (see [`crate::exposition`]), so a
//!   scrape of 10,000 tenants joins parts instead of encoding two million series;
//! - [`ExporterMetrics`] holds the exporter's own counters and histograms (prometheus crate).

use crate::error::FailureReason;
use crate::exposition::{Part, Piece, Run};
use crate::series_filter::SeriesFilter;
use crate::snapshot::ScoreSnapshot;
use crate::store::{Store, TenantState};
use prometheus::core::Collector;
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Metric names (contract.md). Dashboards, rules, README and tests use exactly these.
pub mod names {
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
    pub const BUILD_INFO: &str = "securescore_exporter_build_info";
}

use names::*;

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
const SNAPSHOT_METRICS: &[(&str, &[&str], &str)] = &[
    (CURRENT_POINTS, &["tenant"], "Secure Score points achieved (Graph secureScores currentScore, newest daily record)"),
    (MAX_POINTS, &["tenant"], "Secure Score points achievable (Graph secureScores maxScore, newest daily record)"),
    (SNAPSHOT_TIMESTAMP, &["tenant"], "Unix time of the newest daily Secure Score record (Graph secureScores createdDateTime)"),
    (ACTIVE_USERS, &["tenant"], "Active users as reported by Graph (secureScores activeUserCount)"),
    (LICENSED_USERS, &["tenant"], "Licensed users as reported by Graph (secureScores licensedUserCount)"),
    (TENANT_INFO, &["tenant", "tenant_id"], "Tenant identity; tenant_id is Graph secureScores azureTenantId (value is always 1)"),
    (ENABLED_SERVICE_INFO, &["tenant", "service"], "One series per entry of Graph secureScores enabledServices (value is always 1)"),
    (CATEGORY_POINTS, &["tenant", "category"], "Points achieved per category: sum of Graph secureScores controlScores[].score by controlCategory"),
    (CATEGORY_MAX_POINTS, &["tenant", "category"], "Points achievable per category: sum of per-control maxima (controlScores score*100/scoreInPercentage, else secureScoreControlProfiles maxScore)"),
    (CONTROL_POINTS, &["tenant", "control", "category"], "Points achieved by a control (Graph secureScores controlScores[].score)"),
    (CONTROL_MAX_POINTS, &["tenant", "control", "category"], "Points achievable by a control (controlScores score*100/scoreInPercentage, else Graph secureScoreControlProfiles maxScore)"),
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

/// Builds one gauge family; label values are given in the order of its label names.
struct Family {
    mf: MetricFamily,
    labels: &'static [&'static str],
}

impl Family {
    fn gauge(name: &str, help: &str, labels: &'static [&'static str]) -> Family {
        let mut mf = MetricFamily::default();
        mf.set_name(name.to_string());
        mf.set_help(help.to_string());
        mf.set_field_type(MetricType::GAUGE);
        Family { mf, labels }
    }

    fn add(&mut self, values: &[&str], value: f64) {
        debug_assert_eq!(values.len(), self.labels.len());
        let pairs = self
            .labels
            .iter()
            .zip(values)
            .map(|(n, v)| {
                let mut lp = proto::LabelPair::default();
                lp.set_name(n.to_string());
                lp.set_value(v.to_string());
                lp
            })
            .collect();
        let mut g = proto::Gauge::default();
        g.set_value(value);
        let mut m = proto::Metric::from_label(pairs);
        m.set_gauge(g);
        self.mf.mut_metric().push(m);
    }

    fn add_opt(&mut self, values: &[&str], value: Option<f64>) {
        if let Some(v) = value {
            self.add(values, v);
        }
    }
}

/// Renders the per-tenant series from the store: each tenant when its state changes (see
/// [`SecureScoreCollector::render_parts`]), or a set of tenants at once (`/probe`, backfill).
pub struct SecureScoreCollector {
    store: Arc<Store>,
    helps: Vec<String>,
    filter: SeriesFilter,
}

impl SecureScoreCollector {
    pub fn new(store: Arc<Store>, refresh_interval: Duration) -> SecureScoreCollector {
        let every = humantime::format_duration(refresh_interval).to_string();
        let helps: Vec<String> = SNAPSHOT_METRICS
            .iter()
            .map(|(name, _, help)| {
                if *name == UP || *name == LAST_REFRESH_SUCCESS {
                    format!("{help}; refreshed every {every}")
                } else {
                    format!("{help}; cached between refreshes, refreshed every {every}")
                }
            })
            .collect();
        SecureScoreCollector {
            store,
            helps,
            filter: SeriesFilter::default(),
        }
    }

    /// Exports only the series `filter` allows.
    pub fn with_filter(mut self, filter: SeriesFilter) -> SecureScoreCollector {
        self.filter = filter;
        self
    }

    /// Each family's lines for one tenant, in `SNAPSHOT_METRICS` order (empty when the tenant
    /// has none), samples sorted by label values as a registry would sort them.
    pub fn tenant_texts(&self, t: &TenantState) -> Vec<Vec<u8>> {
        self.families(std::slice::from_ref(t))
            .iter()
            .map(|f| {
                let mut rows: Vec<(Vec<&str>, f64)> = f
                    .get_metric()
                    .iter()
                    .map(|m| {
                        let values = m.get_label().iter().map(|l| l.value()).collect();
                        (values, m.get_gauge().get_value())
                    })
                    .collect();
                rows.sort_by(|a, b| a.0.cmp(&b.0));
                let labels: Vec<&str> = f
                    .get_metric()
                    .first()
                    .map(|m| m.get_label().iter().map(|l| l.name()).collect())
                    .unwrap_or_default();
                let mut out = Vec::with_capacity(rows.len() * 96);
                for (values, value) in &rows {
                    write_sample(&mut out, f.name(), &labels, values, *value);
                }
                out
            })
            .collect()
    }

    /// One tenant's series as compressed parts, one per family.
    pub fn render_parts(&self, t: &TenantState) -> Vec<Part> {
        self.tenant_texts(t)
            .iter()
            .map(|text| Part::new(text))
            .collect()
    }

    /// `# HELP` and `# TYPE` of each family, in `SNAPSHOT_METRICS` order.
    fn headers(&self) -> Vec<Vec<u8>> {
        SNAPSHOT_METRICS
            .iter()
            .zip(&self.helps)
            .map(|((name, _, _), help)| {
                let help = help.replace('\\', "\\\\").replace('\n', "\\n");
                format!("# HELP {name} {help}\n# TYPE {name} gauge\n").into_bytes()
            })
            .collect()
    }

    /// The text exposition of `tenants`, in tenant-name order; empty families are left out.
    pub fn render(&self, tenants: &[TenantState]) -> Vec<u8> {
        let mut sorted: Vec<&TenantState> = tenants.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let texts: Vec<Vec<Vec<u8>>> = sorted.iter().map(|t| self.tenant_texts(t)).collect();
        let mut out = Vec::new();
        for (f, header) in self.headers().iter().enumerate() {
            if texts.iter().all(|t| t[f].is_empty()) {
                continue;
            }
            out.extend_from_slice(header);
            for t in &texts {
                out.extend_from_slice(&t[f]);
            }
        }
        out
    }

    /// The families for the given tenants, in `SNAPSHOT_METRICS` order.
    pub fn families(&self, tenants: &[TenantState]) -> Vec<MetricFamily> {
        let mut fams: Vec<Family> = SNAPSHOT_METRICS
            .iter()
            .zip(&self.helps)
            .map(|((name, labels, _), help)| Family::gauge(name, help, labels))
            .collect();
        let idx = |name: &str| {
            SNAPSHOT_METRICS
                .iter()
                .position(|(n, _, _)| *n == name)
                .expect("metric is in SNAPSHOT_METRICS")
        };
        let (up, last) = (idx(UP), idx(LAST_REFRESH_SUCCESS));
        for t in tenants {
            let tenant = t.name.as_str();
            fams[up].add(&[tenant], if t.up { 1.0 } else { 0.0 });
            fams[last].add_opt(&[tenant], t.last_success);
            if let Some(score) = t.snapshot.as_ref().and_then(|s| s.score.as_ref()) {
                add_score(&mut fams, &idx, tenant, &t.tenant_id, score, &self.filter);
            }
        }
        fams.into_iter().map(|f| f.mf).collect()
    }
}

fn add_score(
    fams: &mut [Family],
    idx: &dyn Fn(&str) -> usize,
    tenant: &str,
    configured_id: &str,
    s: &ScoreSnapshot,
    filter: &SeriesFilter,
) {
    fams[idx(CURRENT_POINTS)].add_opt(&[tenant], s.current_points);
    fams[idx(MAX_POINTS)].add_opt(&[tenant], s.max_points);
    fams[idx(SNAPSHOT_TIMESTAMP)].add_opt(&[tenant], s.created_at);
    fams[idx(ACTIVE_USERS)].add_opt(&[tenant], s.active_users);
    fams[idx(LICENSED_USERS)].add_opt(&[tenant], s.licensed_users);
    let tenant_id = s.azure_tenant_id.as_deref().unwrap_or(configured_id);
    fams[idx(TENANT_INFO)].add(&[tenant, tenant_id], 1.0);
    for service in &s.enabled_services {
        fams[idx(ENABLED_SERVICE_INFO)].add(&[tenant, service], 1.0);
    }
    for c in s
        .categories
        .iter()
        .filter(|c| filter.categories.allows(&c.category))
    {
        fams[idx(CATEGORY_POINTS)].add(&[tenant, &c.category], c.points);
        fams[idx(CATEGORY_MAX_POINTS)].add(&[tenant, &c.category], c.max_points);
    }
    for c in s
        .controls
        .iter()
        .filter(|c| filter.control(&c.category, &c.info.service, c.points, c.max_points))
    {
        let labels = [tenant, &*c.name, &*c.category];
        fams[idx(CONTROL_POINTS)].add_opt(&labels, c.points);
        fams[idx(CONTROL_MAX_POINTS)].add_opt(&labels, c.max_points);
        fams[idx(CONTROL_RANK)].add_opt(&[tenant, &c.name], c.rank);
        let i = &c.info;
        fams[idx(CONTROL_INFO)].add(
            &[
                tenant,
                &c.name,
                &c.category,
                &i.title,
                &i.service,
                &i.tier,
                &i.action_type,
                &i.implementation_cost,
                &i.user_impact,
                &i.state,
                if i.deprecated { "true" } else { "false" },
            ],
            1.0,
        );
    }
    for p in &s.peers {
        fams[idx(PEER_AVERAGE_RATIO)].add_opt(&[tenant, &p.basis], p.average_ratio);
        for (cat, points, max) in p
            .categories
            .iter()
            .filter(|(c, _, _)| filter.categories.allows(c))
        {
            fams[idx(PEER_CATEGORY_POINTS)].add_opt(&[tenant, &p.basis, cat], *points);
            fams[idx(PEER_CATEGORY_MAX_POINTS)].add_opt(&[tenant, &p.basis, cat], *max);
        }
    }
}

/// Writes one sample line of the text format (label values escaped as the format requires).
fn write_sample(out: &mut Vec<u8>, name: &str, labels: &[&str], values: &[&str], value: f64) {
    out.extend_from_slice(name.as_bytes());
    for (i, (label, v)) in labels.iter().zip(values).enumerate() {
        out.push(if i == 0 { b'{' } else { b',' });
        out.extend_from_slice(label.as_bytes());
        out.extend_from_slice(b"=\"");
        for b in v.bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b'\n' => out.extend_from_slice(b"\\n"),
                _ => out.push(b),
            }
        }
        out.push(b'"');
    }
    if !labels.is_empty() {
        out.push(b'}');
    }
    out.push(b' ');
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        // f64's Display is the shortest text that reads back as the same value.
        let _ = write!(out, "{value}");
    }
    out.push(b'\n');
}

/// The text exposition of one tenant's snapshot (fuzzing and property tests).
pub fn render_snapshot_for_tests(
    tenant: &str,
    tenant_id: &str,
    snapshot: crate::snapshot::TenantSnapshot,
) -> String {
    let store = Store::new([(tenant, tenant_id)]);
    store.record_success(tenant, snapshot);
    let collector =
        SecureScoreCollector::new(Arc::new(Store::default()), Duration::from_secs(3600));
    let buf = collector.render(&store.tenants());
    String::from_utf8(buf).unwrap_or_default()
}

/// Plain-text bodies up to this size are kept once joined, so repeated plain scrapes are a
/// buffer write; larger ones (10,000 tenants: ~300 MB) are inflated part by part as they are
/// sent, so they cost no memory.
const PLAIN_CACHE_LIMIT: u64 = 64 * 1024 * 1024;

/// What a body was made from: the store, the per-tenant counters, the exporter's own series and
/// the time the process metrics were read.
type BodyKey = (u64, u64, u64, Option<std::time::Instant>);

/// How old the process metrics in a scrape may be.
const PROCESS_TTL: Duration = Duration::from_secs(1);

/// Tenants (in name order) are joined in blocks of this many: a scrape reuses every block whose
/// tenants did not change, so during a refresh it joins only a few blocks again.
const BLOCK: usize = 64;

/// Up to this many compressed bytes in all, blocks hold their families joined into one buffer
/// each (a second copy, but scrapes write a few large buffers: 1,000 tenants ≈ 6 MB); above it
/// they reference the tenants' parts, so 10,000 tenants do not hold 55 MB twice.
const JOIN_LIMIT: usize = 32 * 1024 * 1024;

/// One block's families, each a run of its tenants' parts.
struct Block {
    fingerprint: u64,
    families: Vec<Run>,
}

/// The exporter's own metrics, and the registry everything is gathered from.
pub struct ExporterMetrics {
    /// The exporter's own series (request counters, refresh histogram, reload, credentials,
    /// build info): encoded only after one of them changed.
    registry: Registry,
    own_version: AtomicU64,
    own_part: Mutex<Option<(u64, Part, bytes::Bytes)>>,
    /// Process metrics (CPU, memory, descriptors from /proc): encoded at most once per
    /// [`PROCESS_TTL`], so a scrape of a small deployment does not pay /proc reads.
    process: Registry,
    process_part: Mutex<Option<(std::time::Instant, Part, bytes::Bytes)>>,
    /// The last gzip body, reused while nothing in it changed (an idle scrape is then a copy of
    /// a few references).
    gzip_body: Mutex<Option<(BodyKey, Vec<bytes::Bytes>)>>,
    /// The per-tenant counters: 9 series a tenant, so at scale they are encoded and compressed
    /// only when one of them changes.
    tenant_counters: Registry,
    counters_version: AtomicU64,
    counters_part: Mutex<Option<(u64, Part)>>,
    /// The per-tenant collector (renders each tenant's parts, and `/probe`).
    collector: std::sync::OnceLock<Arc<SecureScoreCollector>>,
    /// `# HELP`/`# TYPE` of each per-tenant family, compressed once.
    headers: std::sync::OnceLock<Vec<Part>>,
    /// The last joined plain-text body of a small deployment, by store and counters version.
    plain: Mutex<Option<(u64, u64, bytes::Bytes)>>,
    /// Joined blocks of tenants, by block number.
    blocks: Mutex<Vec<Block>>,
    /// [`JOIN_LIMIT`], a field so tests can cover both ways of holding blocks.
    join_limit: AtomicU64,
    refresh_failures: IntCounterVec,
    refresh_duration: Histogram,
    graph_requests: IntCounterVec,
    partial_responses: IntCounterVec,
    config_reload_successful: IntGauge,
    credential_expiry: prometheus::GaugeVec,
}

impl ExporterMetrics {
    pub fn new() -> Arc<ExporterMetrics> {
        let registry = Registry::new();
        let refresh_failures = IntCounterVec::new(
            Opts::new(REFRESH_FAILURES, "Failed tenant refreshes by bounded reason (auth, throttled, http, transport, timeout, decode, security)"),
            &["tenant", "reason"],
        )
        .expect("valid metric");
        let refresh_duration = Histogram::with_opts(
            HistogramOpts::new(REFRESH_DURATION, "Wall time of one tenant refresh from Microsoft Graph (token, secureScores and all secureScoreControlProfiles pages)")
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0]),
        )
        .expect("valid metric");
        let graph_requests = IntCounterVec::new(
            Opts::new(GRAPH_REQUESTS, "HTTP requests to Entra ID and Microsoft Graph by endpoint (token, secure_scores, control_profiles) and HTTP status code (or timeout, transport, decode)"),
            &["endpoint", "code"],
        )
        .expect("valid metric");
        let partial_responses = IntCounterVec::new(
            Opts::new(GRAPH_PARTIAL_RESPONSES, "Graph answers with 206 Partial Content (a security provider failed; data may be incomplete)"),
            &["tenant", "endpoint"],
        )
        .expect("valid metric");
        let config_reload_successful = IntGauge::new(
            CONFIG_RELOAD_SUCCESSFUL,
            "1 if the last configuration (re)load succeeded",
        )
        .expect("valid metric");
        let credential_expiry = prometheus::GaugeVec::new(
            Opts::new(
                CREDENTIAL_EXPIRY,
                "notAfter of a certificate credential as Unix time",
            ),
            &["credential"],
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                BUILD_INFO,
                "Version and git revision of securescore_exporter (value is always 1)",
            ),
            &["version", "revision"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("BUILD_GIT_REVISION")])
            .set(1);
        config_reload_successful.set(1);
        let tenant_counters = Registry::new();
        for c in [
            Box::new(refresh_failures.clone()) as Box<dyn Collector>,
            Box::new(partial_responses.clone()),
        ] {
            tenant_counters
                .register(c)
                .expect("exporter metrics register once");
        }
        for c in [
            Box::new(refresh_duration.clone()) as Box<dyn Collector>,
            Box::new(graph_requests.clone()),
            Box::new(config_reload_successful.clone()),
            Box::new(credential_expiry.clone()),
            Box::new(build_info),
        ] {
            registry
                .register(c)
                .expect("exporter metrics register once");
        }
        let process = Registry::new();
        process
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("exporter metrics register once");
        Arc::new(ExporterMetrics {
            registry,
            own_version: AtomicU64::new(1),
            own_part: Mutex::new(None),
            process,
            process_part: Mutex::new(None),
            gzip_body: Mutex::new(None),
            tenant_counters,
            counters_version: AtomicU64::new(1),
            counters_part: Mutex::new(None),
            collector: std::sync::OnceLock::new(),
            headers: std::sync::OnceLock::new(),
            plain: Mutex::new(None),
            blocks: Mutex::new(Vec::new()),
            join_limit: AtomicU64::new(JOIN_LIMIT as u64),
            refresh_failures,
            refresh_duration,
            graph_requests,
            partial_responses,
            config_reload_successful,
            credential_expiry,
        })
    }

    /// Adds the per-tenant collector over `store`.
    pub fn register_store(
        &self,
        store: Arc<Store>,
        refresh_interval: Duration,
        filter: SeriesFilter,
    ) {
        let collector = Arc::new(
            SecureScoreCollector::new(store.clone(), refresh_interval).with_filter(filter),
        );
        let _ = self
            .headers
            .set(collector.headers().iter().map(|h| Part::new(h)).collect());
        // Weak: the store owns the renderer, and the collector owns the store.
        let weak = Arc::downgrade(&collector);
        let _ = self.collector.set(collector);
        store.set_renderer(Box::new(move |t| {
            weak.upgrade()
                .map(|c| c.render_parts(t))
                .unwrap_or_default()
        }));
    }

    fn counters_changed(&self) {
        self.counters_version.fetch_add(1, Ordering::AcqRel);
    }

    /// Starts a tenant's counters at 0, so `increase()` sees the first failure or partial answer.
    pub fn init_tenant(&self, tenant: &str) {
        self.counters_changed();
        for r in FailureReason::ALL {
            self.refresh_failures
                .with_label_values(&[tenant, r.as_str()]);
        }
        for endpoint in [crate::graph::SECURE_SCORES, crate::graph::CONTROL_PROFILES] {
            self.partial_responses
                .with_label_values(&[tenant, endpoint]);
        }
    }

    /// Drops a removed tenant's counters, so its series vanish.
    pub fn remove_tenant(&self, tenant: &str) {
        self.counters_changed();
        for r in FailureReason::ALL {
            let _ = self
                .refresh_failures
                .remove_label_values(&[tenant, r.as_str()]);
        }
        for endpoint in [crate::graph::SECURE_SCORES, crate::graph::CONTROL_PROFILES] {
            let _ = self
                .partial_responses
                .remove_label_values(&[tenant, endpoint]);
        }
    }

    pub fn refresh_failed(&self, tenant: &str, reason: FailureReason) {
        self.refresh_failures
            .with_label_values(&[tenant, reason.as_str()])
            .inc();
        self.counters_changed();
    }

    fn own_changed(&self) {
        self.own_version.fetch_add(1, Ordering::AcqRel);
    }

    pub fn observe_refresh(&self, took: Duration) {
        self.refresh_duration.observe(took.as_secs_f64());
        self.own_changed();
    }

    pub fn graph_request(&self, endpoint: &str, code: &str) {
        self.graph_requests
            .with_label_values(&[endpoint, code])
            .inc();
        self.own_changed();
    }

    pub fn partial_response(&self, tenant: &str, endpoint: &str) {
        self.partial_responses
            .with_label_values(&[tenant, endpoint])
            .inc();
        self.counters_changed();
    }

    pub fn set_config_reload_successful(&self, ok: bool) {
        self.config_reload_successful.set(i64::from(ok));
        self.own_changed();
    }

    pub fn set_credential_expiry(&self, credential: &str, not_after: f64) {
        self.credential_expiry
            .with_label_values(&[credential])
            .set(not_after);
        self.own_changed();
    }

    /// One tenant's series (the multi-target `/probe?tenant=`), or `None` for an unknown tenant.
    pub fn encode_tenant(&self, tenant: &str) -> Option<Vec<u8>> {
        let collector = self.collector.get()?;
        let states: Vec<TenantState> = collector
            .store
            .tenants()
            .into_iter()
            .filter(|t| t.name == tenant)
            .collect();
        if states.is_empty() {
            return None;
        }
        let buf = collector.render(&states);
        Some(buf)
    }

    fn encode_registry(registry: &Registry) -> Vec<u8> {
        let mut buf = Vec::with_capacity(8 * 1024);
        // Encoding into a Vec cannot fail on I/O; an error would mean an invalid family,
        // which these metrics never are.
        if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buf) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        buf
    }

    /// The exporter's own series and the process metrics, each as a part and as text, from
    /// their caches.
    fn own_series(&self) -> [(Part, bytes::Bytes); 2] {
        let version = self.own_version.load(Ordering::Acquire);
        let own = {
            let mut cached = self.own_part.lock().unwrap_or_else(|e| e.into_inner());
            match cached.as_ref().filter(|(v, _, _)| *v == version) {
                Some((_, part, text)) => (part.clone(), text.clone()),
                None => {
                    let text = bytes::Bytes::from(Self::encode_registry(&self.registry));
                    let part = Part::new(&text);
                    *cached = Some((version, part.clone(), text.clone()));
                    (part, text)
                }
            }
        };
        let process = {
            let now = std::time::Instant::now();
            let mut cached = self.process_part.lock().unwrap_or_else(|e| e.into_inner());
            match cached
                .as_ref()
                .filter(|(at, _, _)| now.duration_since(*at) < PROCESS_TTL)
            {
                Some((_, part, text)) => (part.clone(), text.clone()),
                None => {
                    let text = bytes::Bytes::from(Self::encode_registry(&self.process));
                    let part = Part::new(&text);
                    *cached = Some((now, part.clone(), text.clone()));
                    (part, text)
                }
            }
        };
        [own, process]
    }

    /// The per-tenant counters, re-encoded only after one of them changed.
    fn counters(&self) -> (u64, Part) {
        let version = self.counters_version.load(Ordering::Acquire);
        let mut cached = self.counters_part.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((v, part)) = cached.as_ref().filter(|(v, _)| *v == version) {
            return (*v, part.clone());
        }
        let part = Part::new(&Self::encode_registry(&self.tenant_counters));
        *cached = Some((version, part.clone()));
        (version, part)
    }

    /// Every prepared part of the body, in order: per family its header and each block's run
    /// of its tenants' lines (tenants by name), then the per-tenant counters. Also the store
    /// version.
    fn runs(&self) -> (u64, Vec<Run>) {
        use std::hash::{Hash, Hasher};
        let mut parts = Vec::new();
        let mut version = 0;
        if let (Some(collector), Some(headers)) = (self.collector.get(), self.headers.get()) {
            version = collector.store.version();
            let mut tenants = collector.store.tenants();
            tenants.sort_by(|a, b| a.name.cmp(&b.name));
            let compressed: usize = tenants
                .iter()
                .filter_map(|t| t.rendered.as_ref())
                .flat_map(|r| r.iter())
                .map(|p| p.deflated.len())
                .sum();
            let join = compressed as u64 <= self.join_limit.load(Ordering::Relaxed);
            let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
            let count = tenants.len().div_ceil(BLOCK);
            blocks.truncate(count);
            for (i, chunk) in tenants.chunks(BLOCK).enumerate() {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                for t in chunk {
                    t.name.hash(&mut h);
                    t.changes.hash(&mut h);
                    t.rendered.as_ref().map(Arc::as_ptr).hash(&mut h);
                }
                join.hash(&mut h);
                let fingerprint = h.finish();
                if blocks.get(i).is_some_and(|b| b.fingerprint == fingerprint) {
                    continue;
                }
                let rendered: Vec<Arc<Vec<Part>>> = chunk
                    .iter()
                    .map(|t| match &t.rendered {
                        Some(r) => r.clone(),
                        // Not rendered yet (set up before the renderer): render it now.
                        None => Arc::new(collector.render_parts(t)),
                    })
                    .collect();
                let families = (0..headers.len())
                    .map(|f| {
                        let parts = rendered.iter().filter_map(|r| r.get(f));
                        if join {
                            Run::joined(parts)
                        } else {
                            Run::new(parts)
                        }
                    })
                    .collect();
                let block = Block {
                    fingerprint,
                    families,
                };
                if i < blocks.len() {
                    blocks[i] = block;
                } else {
                    blocks.push(block);
                }
            }
            for (f, header) in headers.iter().enumerate() {
                let mut family = blocks
                    .iter()
                    .filter_map(|b| b.families.get(f))
                    .filter(|p| p.len > 0)
                    .peekable();
                if family.peek().is_none() {
                    continue;
                }
                parts.push(Run::new([header]));
                parts.extend(family.cloned());
            }
        }
        parts.push(Run::new([&self.counters().1]));
        (version, parts)
    }

    /// The exposition as pieces: prepared parts (inflated as they are sent, or one cached
    /// buffer for small bodies) and the exporter's own series.
    pub fn encode_pieces(&self) -> Vec<Piece> {
        let [own, process] = self.own_series();
        let dynamic = [Piece::Plain(own.1), Piece::Plain(process.1)];
        let counters = self.counters_version.load(Ordering::Acquire);
        // An unchanged small body is served from the cache without looking at the blocks.
        let store = self.collector.get().map_or(0, |c| c.store.version());
        if let Some((_, _, body)) = self
            .plain
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(v, c, _)| *v == store && *c == counters)
        {
            let mut pieces = vec![Piece::Plain(body.clone())];
            pieces.extend(dynamic);
            return pieces;
        }
        let (version, runs) = self.runs();
        let total: u64 = runs.iter().map(|r| r.len).sum();
        if total > PLAIN_CACHE_LIMIT {
            let mut pieces: Vec<Piece> = runs.iter().flat_map(Run::pieces).collect();
            pieces.extend(dynamic);
            return pieces;
        }
        let mut cached = self.plain.lock().unwrap_or_else(|e| e.into_inner());
        let joined = match cached.as_ref() {
            Some((v, c, body)) if *v == version && *c == counters => body.clone(),
            _ => {
                let mut body = Vec::with_capacity(total as usize);
                for p in runs.iter().flat_map(|r| &r.parts) {
                    body.extend_from_slice(&p.inflate());
                }
                let body = bytes::Bytes::from(body);
                *cached = Some((version, counters, body.clone()));
                body
            }
        };
        let mut pieces = vec![Piece::Plain(joined)];
        pieces.extend(dynamic);
        pieces
    }

    /// The whole exposition in text format 0.0.4.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in self.encode_pieces() {
            out.extend_from_slice(&p.into_bytes());
        }
        out
    }

    /// The exposition as one gzip member: the prepared parts' compressed bytes as they are;
    /// nothing is compressed for a scrape.
    pub fn encode_gzip_chunks(&self) -> Vec<bytes::Bytes> {
        // The process part may be renewed first, so the key sees its time.
        let _ = self.own_series();
        let key = self.body_key();
        let mut cached = self.gzip_body.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, body)) = cached.as_ref() {
            if *k == key && self.collector.get().is_some() {
                return body.clone();
            }
        }
        // Everything below is read after `key`; should anything change meanwhile, the key
        // check at the end leaves this body uncached.
        let [own, process] = self.own_series();
        let (_, mut runs) = self.runs();
        runs.push(Run::new([&own.0, &process.0]));
        let body = crate::exposition::gzip(&runs, b"");
        // Only a body made from exactly `key` may be reused for it.
        if self.body_key() == key {
            *cached = Some((key, body.clone()));
        }
        body
    }

    fn body_key(&self) -> BodyKey {
        let store = self.collector.get().map_or(0, |c| c.store.version());
        let process = self
            .process_part
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(at, _, _)| *at);
        (
            store,
            self.counters_version.load(Ordering::Acquire),
            self.own_version.load(Ordering::Acquire),
            process,
        )
    }

    /// [`ExporterMetrics::encode`] gzipped.
    pub fn encode_gzip(&self) -> Vec<u8> {
        self.encode_gzip_chunks().concat()
    }
}

/// `Content-Type` of [`ExporterMetrics::encode`]'s output.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(z: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(z)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn a_tenant_is_rendered_once_per_change_not_per_scrape() {
        let metrics = ExporterMetrics::new();
        let store = Arc::new(Store::new([("a", "id-a")]));
        metrics.register_store(
            store.clone(),
            Duration::from_secs(3600),
            SeriesFilter::default(),
        );
        let rendered = || store.tenants()[0].rendered.clone().unwrap();
        let first = rendered();
        let _ = metrics.encode();
        let _ = metrics.encode_gzip();
        assert!(Arc::ptr_eq(&first, &rendered()), "scrapes do not re-render");
        store.record_failure("a", "x".into());
        let changed = rendered();
        assert!(
            !Arc::ptr_eq(&first, &changed),
            "a change renders the tenant again"
        );
        let text = String::from_utf8(metrics.encode()).unwrap();
        let zipped = String::from_utf8(gunzip(&metrics.encode_gzip())).unwrap();
        let strip = |s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("process_"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(&zipped),
            strip(&text),
            "gzip carries the same exposition"
        );
        assert!(text.contains("securescore_up{tenant=\"a\"} 0"));
        // A cached gzip body never outlives a change of any counter.
        let zipped = || String::from_utf8(gunzip(&metrics.encode_gzip())).unwrap();
        metrics.refresh_failed("a", FailureReason::Http);
        assert!(
            zipped().contains("securescore_refresh_failures_total{reason=\"http\",tenant=\"a\"} 1")
        );
        metrics.graph_request("token", "200");
        assert!(zipped()
            .contains("securescore_graph_requests_total{code=\"200\",endpoint=\"token\"} 1"));
        metrics.set_config_reload_successful(false);
        assert!(zipped().contains("securescore_config_last_reload_successful 0"));
        assert!(text.contains("securescore_exporter_build_info"));
    }

    /// 150 tenants (three blocks) of simulator data under three snapshots.
    fn fleet_store() -> (Arc<Store>, Vec<crate::snapshot::TenantSnapshot>) {
        let today = time::macros::date!(2026 - 11 - 27);
        let snapshots: Vec<_> = crate::simulator::data::fleet_tenants(3, 1)
            .iter()
            .map(|spec| crate::simulator::data::generate(spec, today).snapshot())
            .collect();
        // Names not in order, so the output's tenant order is the exporter's doing.
        let names: Vec<String> = (0..150)
            .map(|i| format!("t{:03}", (i * 37) % 150))
            .collect();
        let store = Arc::new(Store::new(names.iter().map(|n| (n.as_str(), "id"))));
        (store, snapshots)
    }

    fn without_process(text: &str) -> Vec<String> {
        // The process series change between two encodings (CPU seconds, memory).
        text.lines()
            .filter(|l| !l.contains("process_"))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn joined_blocks_give_exactly_a_fresh_rendering_in_both_holding_modes() {
        for join_limit in [u64::MAX, 0] {
            let (store, snapshots) = fleet_store();
            let metrics = ExporterMetrics::new();
            metrics.join_limit.store(join_limit, Ordering::Relaxed);
            metrics.register_store(
                store.clone(),
                Duration::from_secs(3600),
                SeriesFilter::default(),
            );
            let collector = metrics.collector.get().unwrap().clone();
            let fresh = || String::from_utf8(collector.render(&store.tenants())).unwrap();
            let check = |what: &str| {
                let want = fresh();
                let plain = String::from_utf8(metrics.encode()).unwrap();
                let zipped = String::from_utf8(gunzip(&metrics.encode_gzip())).unwrap();
                assert!(
                    plain.starts_with(&want),
                    "{what} (join limit {join_limit}): plain differs"
                );
                assert!(
                    zipped.starts_with(&want),
                    "{what} (join limit {join_limit}): gzip differs"
                );
                assert_eq!(without_process(&plain), without_process(&zipped));
                // One HELP per family: families are contiguous across blocks.
                let helps: Vec<&str> = plain.lines().filter(|l| l.starts_with("# HELP")).collect();
                let unique: std::collections::HashSet<_> = helps.iter().collect();
                assert_eq!(helps.len(), unique.len(), "{what}");
            };
            check("nothing refreshed yet");
            for (i, t) in store.tenants().iter().enumerate() {
                store.record_success(&t.name, snapshots[i % 3].clone());
            }
            check("every tenant refreshed");
            let text = String::from_utf8(metrics.encode()).unwrap();
            assert_eq!(
                text.lines()
                    .filter(|l| l.starts_with("securescore_up{"))
                    .count(),
                150
            );
            // One tenant in the middle block changes; one is removed; one is added.
            store.record_failure("t075", "boom".into());
            check("a failure in one block");
            store.remove("t010");
            store.add("t999", "id");
            check("a tenant removed and one added");
            assert!(!String::from_utf8(metrics.encode())
                .unwrap()
                .contains("tenant=\"t010\""));
        }
    }
}
