//! The only code that decides *when* Graph is called.
//!
//! One task per tenant: refresh at start, then every `refresh.interval` with ±10 % jitter; after
//! a failure, retry sooner with growing backoff (never later than the interval, never sooner
//! than Graph's `Retry-After`). Each tenant's loop is independent, so a slow or failing tenant
//! never delays another. Every loop stops promptly when the shutdown token fires.

use crate::config::RefreshConfig;
use crate::error::{chain, GraphError};
use crate::graph::TenantGraph;
use crate::metrics::ExporterMetrics;
use crate::snapshot::TenantSnapshot;
use crate::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Everything one tenant's refresh loop needs.
pub struct TenantRefresher {
    pub name: String,
    pub graph: TenantGraph,
    pub store: Arc<Store>,
    pub metrics: Arc<ExporterMetrics>,
    pub config: RefreshConfig,
}

/// `base` scaled by a random factor in [0.9, 1.1].
fn jittered(base: Duration) -> Duration {
    base.mul_f64(0.9 + fastrand::f64() * 0.2)
}

/// The wait after the `failures`-th consecutive failure.
pub fn failure_delay(
    cfg: &RefreshConfig,
    failures: u32,
    retry_after: Option<Duration>,
) -> Duration {
    let grown = cfg
        .failure_backoff
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let delay = jittered(grown.min(cfg.interval));
    match retry_after {
        Some(after) => delay.max(after),
        None => delay,
    }
}

impl TenantRefresher {
    /// Reads Graph once and converts the result.
    pub async fn refresh_once(&self) -> Result<TenantSnapshot, GraphError> {
        let data = self.graph.fetch_all().await?;
        Ok(TenantSnapshot::from_graph(&data.records, &data.profiles))
    }

    /// Refreshes until `shutdown` fires.
    pub async fn run(self, shutdown: CancellationToken) {
        self.metrics.init_tenant(&self.name);
        let mut failures: u32 = 0;
        loop {
            let started = Instant::now();
            let outcome = tokio::select! {
                r = self.refresh_once() => r,
                _ = shutdown.cancelled() => return,
            };
            let took = started.elapsed();
            self.metrics.observe_refresh(took);
            let delay = match outcome {
                Ok(snapshot) => {
                    failures = 0;
                    match &snapshot.score {
                        Some(s) => tracing::info!(
                            tenant = %self.name,
                            current = s.current_points,
                            max = s.max_points,
                            controls = s.controls.len(),
                            profiles = snapshot.profiles,
                            took_ms = took.as_millis() as u64,
                            "refresh complete"
                        ),
                        None => tracing::info!(
                            tenant = %self.name,
                            took_ms = took.as_millis() as u64,
                            "refresh complete: Graph has no Secure Score record yet (new tenants get one after 2-4 days)"
                        ),
                    }
                    self.store.record_success(&self.name, snapshot);
                    jittered(self.config.interval)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let reason = e.reason();
                    let message = chain(&e);
                    self.metrics.refresh_failed(&self.name, reason);
                    let delay = failure_delay(&self.config, failures, e.retry_after());
                    tracing::warn!(
                        tenant = %self.name,
                        reason = reason.as_str(),
                        error = %message,
                        retry_in_s = delay.as_secs_f64(),
                        "refresh failed; keeping the last good data"
                    );
                    self.store.record_failure(&self.name, message);
                    delay
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_delay_grows_but_never_passes_the_interval() {
        let cfg = RefreshConfig {
            interval: Duration::from_secs(3600),
            failure_backoff: Duration::from_secs(60),
        };
        let d1 = failure_delay(&cfg, 1, None);
        assert!(
            d1 >= Duration::from_secs(54) && d1 <= Duration::from_secs(66),
            "{d1:?}"
        );
        let d3 = failure_delay(&cfg, 3, None);
        assert!(
            d3 >= Duration::from_secs(216) && d3 <= Duration::from_secs(264),
            "{d3:?}"
        );
        let d30 = failure_delay(&cfg, 30, None);
        assert!(d30 <= Duration::from_secs(3960), "{d30:?}");
        assert!(failure_delay(&cfg, 1, Some(Duration::from_secs(600))) >= Duration::from_secs(600));
    }
}
