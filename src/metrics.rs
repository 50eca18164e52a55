//! Every metric name and HELP text of the exporter lives here.
//!
//! Two kinds of series share one `Registry`:
//! - [`SecureScoreCollector`] builds fresh families from the [`Store`] on every scrape (the
//!   const-metric pattern), so a control or tenant that vanishes from Graph vanishes from
//!   `/metrics`, and nothing is served for a tenant before its first good refresh;
//! - [`ExporterMetrics`] holds the exporter's own counters and histograms.

use crate::error::FailureReason;
use crate::series_filter::SeriesFilter;
use crate::snapshot::ScoreSnapshot;
use crate::store::{Store, TenantState};
use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::sync::Arc;
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

/// Builds the per-tenant series from the store on every scrape.
pub struct SecureScoreCollector {
    store: Arc<Store>,
    descs: Vec<Desc>,
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
        let descs = SNAPSHOT_METRICS
            .iter()
            .zip(&helps)
            .map(|((name, labels, _), help)| {
                Desc::new(
                    name.to_string(),
                    help.clone(),
                    labels.iter().map(|l| l.to_string()).collect(),
                    Default::default(),
                )
                .expect("static metric descriptors are valid")
            })
            .collect();
        SecureScoreCollector {
            store,
            descs,
            helps,
            filter: SeriesFilter::default(),
        }
    }

    /// Exports only the series `filter` allows.
    pub fn with_filter(mut self, filter: SeriesFilter) -> SecureScoreCollector {
        self.filter = filter;
        self
    }

    /// The text exposition of `tenants`: empty families dropped (the encoder refuses them),
    /// samples sorted by label values as the registry would, so the output is stable.
    pub fn render(&self, tenants: &[TenantState]) -> Vec<u8> {
        let mut families: Vec<MetricFamily> = self
            .families(tenants)
            .into_iter()
            .filter(|f| !f.get_metric().is_empty())
            .collect();
        for f in &mut families {
            f.mut_metric().sort_by(|a, b| {
                let values = |m: &proto::Metric| {
                    m.get_label()
                        .iter()
                        .map(|l| l.value().to_string())
                        .collect::<Vec<_>>()
                };
                values(a).cmp(&values(b))
            });
        }
        let mut text = Vec::with_capacity(64 * 1024);
        if let Err(e) = TextEncoder::new().encode(&families, &mut text) {
            tracing::error!(error = %e, "encoding tenant metrics failed");
        }
        text
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
        let labels = [tenant, c.name.as_str(), c.category.as_str()];
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

/// The per-tenant text and its deflate stream, cut at a sync flush so more can follow.
struct TenantBody {
    version: u64,
    text: bytes::Bytes,
    /// Raw deflate of `text`, ending at a sync-flush boundary (no final block).
    deflated: bytes::Bytes,
    crc: u32,
}

impl TenantBody {
    fn new(version: u64, text: Vec<u8>) -> TenantBody {
        use std::io::Write;
        let mut enc = flate2::write::DeflateEncoder::new(
            Vec::with_capacity(text.len() / 4),
            flate2::Compression::fast(),
        );
        // A sync flush ends the stream on a byte boundary without a final block, so a second,
        // independent deflate stream can follow it inside one gzip member.
        let deflated = match enc.write_all(&text).and_then(|_| enc.flush()) {
            Ok(()) => enc.get_ref().clone(),
            Err(_) => Vec::new(),
        };
        let mut crc = crc32fast::Hasher::new();
        crc.update(&text);
        TenantBody {
            version,
            crc: crc.finalize(),
            text: text.into(),
            deflated: deflated.into(),
        }
    }

    /// One gzip member holding `self.text` followed by `tail`, as chunks (the cached deflate
    /// stream is shared, not copied).
    fn gzip_chunks(&self, tail: &[u8]) -> Vec<bytes::Bytes> {
        use std::io::Write;
        let mut rest = flate2::write::DeflateEncoder::new(
            Vec::with_capacity(tail.len() / 3 + 64),
            flate2::Compression::fast(),
        );
        let mut rest = rest
            .write_all(tail)
            .and_then(|_| rest.finish())
            .unwrap_or_default();
        let mut crc = crc32fast::Hasher::new_with_initial(self.crc);
        crc.update(tail);
        let size = (self.text.len() + tail.len()) as u32; // ISIZE is the length modulo 2^32
        rest.extend_from_slice(&crc.finalize().to_le_bytes());
        rest.extend_from_slice(&size.to_le_bytes());
        // Header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
        let header = bytes::Bytes::from_static(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        vec![header, self.deflated.clone(), rest.into()]
    }

    /// One gzip member holding `self.text` followed by `tail`.
    #[cfg(test)]
    fn gzip_with(&self, tail: &[u8]) -> Vec<u8> {
        self.gzip_chunks(tail).concat()
    }
}

impl Collector for SecureScoreCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.families(&self.store.tenants())
    }
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

/// The exporter's own metrics, and the registry everything is gathered from.
pub struct ExporterMetrics {
    registry: Registry,
    /// The per-tenant collector (rendered into `tenant_body`, and alone by `/probe`).
    collector: std::sync::OnceLock<Arc<SecureScoreCollector>>,
    /// The per-tenant part of `/metrics`, encoded once per store change.
    tenant_body: std::sync::Mutex<Option<Arc<TenantBody>>>,
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
        for c in [
            Box::new(refresh_failures.clone()) as Box<dyn Collector>,
            Box::new(refresh_duration.clone()),
            Box::new(graph_requests.clone()),
            Box::new(partial_responses.clone()),
            Box::new(config_reload_successful.clone()),
            Box::new(credential_expiry.clone()),
            Box::new(build_info),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ] {
            registry
                .register(c)
                .expect("exporter metrics register once");
        }
        Arc::new(ExporterMetrics {
            registry,
            collector: std::sync::OnceLock::new(),
            tenant_body: std::sync::Mutex::new(None),
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
        let collector =
            Arc::new(SecureScoreCollector::new(store, refresh_interval).with_filter(filter));
        // Not in the registry: its part of the body is encoded once per store change.
        let _ = self.collector.set(collector);
    }

    /// Starts a tenant's counters at 0, so `increase()` sees the first failure or partial answer.
    pub fn init_tenant(&self, tenant: &str) {
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
    }

    pub fn observe_refresh(&self, took: Duration) {
        self.refresh_duration.observe(took.as_secs_f64());
    }

    pub fn graph_request(&self, endpoint: &str, code: &str) {
        self.graph_requests
            .with_label_values(&[endpoint, code])
            .inc();
    }

    pub fn partial_response(&self, tenant: &str, endpoint: &str) {
        self.partial_responses
            .with_label_values(&[tenant, endpoint])
            .inc();
    }

    pub fn set_config_reload_successful(&self, ok: bool) {
        self.config_reload_successful.set(i64::from(ok));
    }

    pub fn set_credential_expiry(&self, credential: &str, not_after: f64) {
        self.credential_expiry
            .with_label_values(&[credential])
            .set(not_after);
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

    /// The per-tenant part, re-encoded only when the store changed since the last call.
    fn tenant_part(&self) -> Option<Arc<TenantBody>> {
        let collector = self.collector.get()?;
        // Held while encoding, so concurrent scrapes after a change encode once. Refreshers
        // never take this lock, so a refresh in progress never blocks a scrape.
        let mut cached = self.tenant_body.lock().unwrap_or_else(|e| e.into_inner());
        let version = collector.store.version();
        if let Some(body) = cached.as_ref().filter(|b| b.version == version) {
            return Some(body.clone());
        }
        let text = collector.render(&collector.store.tenants());
        let body = Arc::new(TenantBody::new(version, text));
        *cached = Some(body.clone());
        Some(body)
    }

    /// The exporter's own series (counters, histogram, process), encoded per scrape.
    fn dynamic_part(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(8 * 1024);
        // Encoding into a Vec cannot fail on I/O; an error would mean an invalid family,
        // which these metrics never are.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        buf
    }

    /// The exposition as chunks: the cached per-tenant part (shared, not copied) and the
    /// exporter's own series.
    pub fn encode_chunks(&self) -> Vec<bytes::Bytes> {
        let dynamic = bytes::Bytes::from(self.dynamic_part());
        match self.tenant_part() {
            Some(t) => vec![t.text.clone(), dynamic],
            None => vec![dynamic],
        }
    }

    /// The whole exposition in text format 0.0.4.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_chunks().concat()
    }

    /// [`ExporterMetrics::encode_chunks`] as one gzip member: the per-tenant part's compressed
    /// bytes are cached, only the small dynamic part is compressed per scrape.
    pub fn encode_gzip_chunks(&self) -> Vec<bytes::Bytes> {
        let dynamic = self.dynamic_part();
        let tenant = self
            .tenant_part()
            .unwrap_or_else(|| Arc::new(TenantBody::new(0, Vec::new())));
        tenant.gzip_chunks(&dynamic)
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
    fn cached_and_fresh_deflate_streams_make_one_valid_gzip_member() {
        let body = TenantBody::new(1, b"securescore_up{tenant=\"a\"} 1\n".repeat(500));
        let tail = b"process_open_fds 12\n".repeat(30);
        let z = body.gzip_with(&tail);
        let mut expected = body.text.to_vec();
        expected.extend_from_slice(&tail);
        assert_eq!(gunzip(&z), expected);
        // An empty tenant part still makes a valid member.
        assert_eq!(
            gunzip(&TenantBody::new(0, Vec::new()).gzip_with(b"x 1\n")),
            b"x 1\n"
        );
    }

    #[test]
    fn the_tenant_part_is_encoded_once_per_store_change() {
        let metrics = ExporterMetrics::new();
        let store = Arc::new(Store::new([("a", "id-a")]));
        metrics.register_store(
            store.clone(),
            Duration::from_secs(3600),
            SeriesFilter::default(),
        );
        let first = metrics.tenant_part().unwrap();
        let again = metrics.tenant_part().unwrap();
        assert!(Arc::ptr_eq(&first, &again), "no change, no re-encoding");
        store.record_failure("a", "x".into());
        let changed = metrics.tenant_part().unwrap();
        assert!(!Arc::ptr_eq(&first, &changed));
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
        assert!(text.contains("securescore_exporter_build_info"));
    }
}
