//! The exporter's own series (prometheus crate): refresh failures and durations, Graph
//! requests, partial answers, reload status, credential expiry, build info and the process
//! metrics. Each group is encoded only after one of its values changed, and the process
//! metrics at most once per [`PROCESS_TTL`], so a scrape pays for none of them otherwise.
//!
//! [`SelfMetrics`] is what the Graph side and the refreshers report to, through their events
//! traits.

use crate::core::deflate::Part;
use crate::core::failure::FailureReason;
use crate::core::names::*;
use crate::exposition::render::write_sample;
use crate::source::events::GraphEvents;
use crate::source::graph::{CONTROL_PROFILES, SECURE_SCORES};
use crate::state::persist::StateEvents;
use crate::state::refresh::RefreshEvents;
use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REFRESH_FAILURES_HELP: &str = "Failed tenant refreshes by bounded reason (auth, throttled, http, transport, timeout, decode, security)";
const PARTIAL_RESPONSES_HELP: &str =
    "Graph answers with 206 Partial Content (a security provider failed; data may be incomplete)";

/// How old the process metrics in a scrape may be.
pub const PROCESS_TTL: Duration = Duration::from_secs(1);

/// A part and its text, as encoded at one version (or time).
type Encoded<K> = Mutex<Option<(K, Part, bytes::Bytes)>>;

/// The exporter's own metrics, in three registries by how often they change.
pub struct SelfMetrics {
    /// Request counters, refresh histogram, reload, credentials, build info.
    registry: Registry,
    own_version: AtomicU64,
    own_part: Encoded<u64>,
    /// Process metrics (CPU, memory, descriptors from /proc).
    process: Registry,
    process_part: Encoded<Instant>,
    /// The per-tenant counters: 9 series a tenant, so at scale they are encoded and compressed
    /// only when one of them changes.
    tenant_counters: Registry,
    counters_version: AtomicU64,
    counters_part: Mutex<Option<(u64, Part)>>,
    refresh_failures: IntCounterVec,
    refresh_duration: Histogram,
    graph_requests: IntCounterVec,
    partial_responses: IntCounterVec,
    config_reload_successful: IntGauge,
    credential_expiry: prometheus::GaugeVec,
    state_saves: prometheus::IntCounter,
    state_save_failures: prometheus::IntCounter,
    state_restored: IntGauge,
}

fn encode_registry(registry: &Registry) -> Vec<u8> {
    let mut buf = Vec::with_capacity(8 * 1024);
    // Encoding into a Vec cannot fail on I/O; an error would mean an invalid family, which
    // these metrics never are.
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buf) {
        tracing::error!(error = %e, "encoding metrics failed");
    }
    buf
}

fn register(registry: &Registry, collectors: Vec<Box<dyn Collector>>) {
    for c in collectors {
        registry
            .register(c)
            .expect("exporter metrics register once");
    }
}

impl SelfMetrics {
    pub fn new() -> Arc<SelfMetrics> {
        let refresh_failures = IntCounterVec::new(
            Opts::new(REFRESH_FAILURES, REFRESH_FAILURES_HELP),
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
            Opts::new(GRAPH_PARTIAL_RESPONSES, PARTIAL_RESPONSES_HELP),
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
        let state_saves = prometheus::IntCounter::new(
            STATE_SAVES,
            "Tenant state files written to the state directory ([state] path) after a successful refresh",
        )
        .expect("valid metric");
        let state_save_failures = prometheus::IntCounter::new(
            STATE_SAVE_FAILURES,
            "Tenant state files that could not be written to the state directory ([state] path); the log names the error",
        )
        .expect("valid metric");
        let state_restored = IntGauge::new(
            STATE_RESTORED,
            "Tenants whose last good data was restored from the state directory ([state] path) at start",
        )
        .expect("valid metric");
        let tenant_counters = Registry::new();
        register(
            &tenant_counters,
            vec![
                Box::new(refresh_failures.clone()),
                Box::new(partial_responses.clone()),
            ],
        );
        let registry = Registry::new();
        register(
            &registry,
            vec![
                Box::new(refresh_duration.clone()),
                Box::new(graph_requests.clone()),
                Box::new(config_reload_successful.clone()),
                Box::new(credential_expiry.clone()),
                Box::new(state_saves.clone()),
                Box::new(state_save_failures.clone()),
                Box::new(state_restored.clone()),
                Box::new(build_info),
            ],
        );
        let process = Registry::new();
        register(
            &process,
            vec![Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            )],
        );
        Arc::new(SelfMetrics {
            registry,
            own_version: AtomicU64::new(1),
            own_part: Mutex::new(None),
            process,
            process_part: Mutex::new(None),
            tenant_counters,
            counters_version: AtomicU64::new(1),
            counters_part: Mutex::new(None),
            refresh_failures,
            refresh_duration,
            graph_requests,
            partial_responses,
            config_reload_successful,
            credential_expiry,
            state_saves,
            state_save_failures,
            state_restored,
        })
    }

    fn counters_changed(&self) {
        self.counters_version.fetch_add(1, Ordering::AcqRel);
    }

    fn own_changed(&self) {
        self.own_version.fetch_add(1, Ordering::AcqRel);
    }

    /// Starts a tenant's counters at 0, so `increase()` sees the first failure or partial answer.
    pub fn init_tenant(&self, tenant: &str) {
        self.counters_changed();
        for r in FailureReason::ALL {
            self.refresh_failures
                .with_label_values(&[tenant, r.as_str()]);
        }
        for endpoint in [SECURE_SCORES, CONTROL_PROFILES] {
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
        for endpoint in [SECURE_SCORES, CONTROL_PROFILES] {
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

    /// How many tenants came back from the state directory at start.
    pub fn set_state_restored(&self, tenants: usize) {
        self.state_restored.set(tenants as i64);
        self.own_changed();
    }

    pub fn set_credential_expiry(&self, credential: &str, not_after: f64) {
        self.credential_expiry
            .with_label_values(&[credential])
            .set(not_after);
        self.own_changed();
    }

    /// The exporter's own series and the process metrics, each as a part and as text, from
    /// their caches.
    pub fn own_series(&self) -> [(Part, bytes::Bytes); 2] {
        let version = self.own_version.load(Ordering::Acquire);
        let own = {
            let mut cached = self.own_part.lock().unwrap_or_else(|e| e.into_inner());
            match cached.as_ref().filter(|(v, _, _)| *v == version) {
                Some((_, part, text)) => (part.clone(), text.clone()),
                None => {
                    let text = bytes::Bytes::from(encode_registry(&self.registry));
                    let part = Part::new(&text);
                    *cached = Some((version, part.clone(), text.clone()));
                    (part, text)
                }
            }
        };
        let process = {
            let now = Instant::now();
            let mut cached = self.process_part.lock().unwrap_or_else(|e| e.into_inner());
            match cached
                .as_ref()
                .filter(|(at, _, _)| now.duration_since(*at) < PROCESS_TTL)
            {
                Some((_, part, text)) => (part.clone(), text.clone()),
                None => {
                    let text = bytes::Bytes::from(encode_registry(&self.process));
                    let part = Part::new(&text);
                    *cached = Some((now, part.clone(), text.clone()));
                    (part, text)
                }
            }
        };
        [own, process]
    }

    /// The per-tenant counters, re-encoded only after one of them changed, with their version.
    pub fn counters(&self) -> (u64, Part) {
        let version = self.counters_version.load(Ordering::Acquire);
        let mut cached = self.counters_part.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((v, part)) = cached.as_ref().filter(|(v, _)| *v == version) {
            return (*v, part.clone());
        }
        let part = Part::new(&encode_registry(&self.tenant_counters));
        *cached = Some((version, part.clone()));
        (version, part)
    }

    /// One tenant's counters (refresh failures by reason, 206 answers), for `/probe`: read
    /// directly, so a probe costs the same with ten tenants or ten thousand.
    pub fn tenant_counters_text(&self, tenant: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        let header = |out: &mut Vec<u8>, name: &str, help: &str| {
            out.extend_from_slice(
                format!("# HELP {name} {help}\n# TYPE {name} counter\n").as_bytes(),
            );
        };
        // Label names in the order the registry writes them (sorted).
        header(&mut out, REFRESH_FAILURES, REFRESH_FAILURES_HELP);
        for r in FailureReason::ALL {
            let v = self
                .refresh_failures
                .with_label_values(&[tenant, r.as_str()])
                .get();
            let labels = [("reason", r.as_str()), ("tenant", tenant)];
            write_sample(&mut out, REFRESH_FAILURES, labels, v as f64, None);
        }
        header(&mut out, GRAPH_PARTIAL_RESPONSES, PARTIAL_RESPONSES_HELP);
        for endpoint in [SECURE_SCORES, CONTROL_PROFILES] {
            let v = self
                .partial_responses
                .with_label_values(&[tenant, endpoint])
                .get();
            let labels = [("endpoint", endpoint), ("tenant", tenant)];
            write_sample(&mut out, GRAPH_PARTIAL_RESPONSES, labels, v as f64, None);
        }
        out
    }

    /// The version of the per-tenant counters (changes with each of them).
    pub fn counters_version(&self) -> u64 {
        self.counters_version.load(Ordering::Acquire)
    }

    /// The version of the exporter's own series.
    pub fn own_version(&self) -> u64 {
        self.own_version.load(Ordering::Acquire)
    }

    /// When the process metrics in the cache were read.
    pub fn process_read_at(&self) -> Option<Instant> {
        self.process_part
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(at, _, _)| *at)
    }
}

impl GraphEvents for SelfMetrics {
    fn graph_request(&self, endpoint: &str, code: &str) {
        SelfMetrics::graph_request(self, endpoint, code);
    }

    fn partial_response(&self, tenant: &str, endpoint: &str) {
        SelfMetrics::partial_response(self, tenant, endpoint);
    }

    fn credential_expiry(&self, credential: &str, not_after: f64) {
        self.set_credential_expiry(credential, not_after);
    }
}

impl RefreshEvents for SelfMetrics {
    fn tenant_started(&self, tenant: &str) {
        self.init_tenant(tenant);
    }

    fn refresh_finished(&self, took: Duration) {
        self.observe_refresh(took);
    }

    fn refresh_failed(&self, tenant: &str, reason: FailureReason) {
        SelfMetrics::refresh_failed(self, tenant, reason);
    }
}

impl StateEvents for SelfMetrics {
    fn state_saved(&self, written: usize, failed: usize) {
        self.state_saves.inc_by(written as u64);
        self.state_save_failures.inc_by(failed as u64);
        self.own_changed();
    }
}
