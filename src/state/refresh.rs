//! The only code that decides *when* Graph is called.
//!
//! One task per tenant: refresh at start (at most `refresh.max_concurrent_tenants` at once),
//! then at the tenant's own slot in every `refresh.interval` (a hash of its name, so refreshes
//! spread evenly), with a little jitter; after a failure, retry sooner with growing backoff
//! (never later than the interval, never sooner than Graph's `Retry-After`). Each tenant's
//! loop is independent, so a slow or failing tenant never delays another. Every loop stops
//! promptly when the shutdown token fires. Each new state is rendered and published through
//! the [`Publisher`]; what happened is reported through [`RefreshEvents`].

use crate::config::RefreshConfig;
use crate::core::failure::FailureReason;
use crate::core::snapshot::TenantSnapshot;
use crate::source::error::{chain, GraphError};
use crate::source::graph::TenantGraph;
use crate::state::Publisher;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What the refresh loops report, for whoever counts it (the exporter's own metrics).
pub trait RefreshEvents: Send + Sync {
    /// A tenant's loop starts: its counters start at 0.
    fn tenant_started(&self, tenant: &str);
    /// One refresh finished, either way, after `took`.
    fn refresh_finished(&self, took: Duration);
    fn refresh_failed(&self, tenant: &str, reason: FailureReason);
}

/// Everything one tenant's refresh loop needs.
pub struct TenantRefresher {
    pub name: String,
    pub graph: TenantGraph,
    /// Renders each new state and publishes it to the store.
    pub publisher: Publisher,
    pub events: Arc<dyn RefreshEvents>,
    pub config: RefreshConfig,
    /// Shared by every tenant: at most `refresh.max_concurrent_tenants` refreshes run at once.
    pub limit: Arc<tokio::sync::Semaphore>,
    /// When the schedule started; each tenant's slots are `epoch + phase + k × interval`.
    pub epoch: Instant,
    /// A wait before the first refresh (restored data still fresh, see [`resume_delay`]).
    pub first_delay: Option<Duration>,
    /// Fills the kept history from Graph; `None` when `[history] days` is 0 or 1.
    pub fills: Option<FillTurn>,
}

/// How many history fills run at once, across tenants: each reads up to 90 records (a few
/// megabytes of JSON), and refreshes have priority over them.
pub const FILL_CONCURRENCY: usize = 4;

/// Shared by every tenant's loop: history fills wait for the first pass (every tenant that
/// refreshes at start has had its first attempt), then run [`FILL_CONCURRENCY`] at a time, so
/// a fill never delays a tenant's first data.
#[derive(Debug)]
pub struct HistoryFills {
    /// Tenants of the first pass yet to finish their first attempt.
    remaining: tokio::sync::watch::Sender<usize>,
    limit: tokio::sync::Semaphore,
    /// Fills running now: the last one to end gives the freed memory back.
    running: std::sync::atomic::AtomicUsize,
}

impl HistoryFills {
    /// Closed until the starter calls [`HistoryFills::started`] and every tenant
    /// [`HistoryFills::join`]ed before that has had its first attempt.
    pub fn new() -> Arc<HistoryFills> {
        Arc::new(HistoryFills {
            remaining: tokio::sync::watch::channel(1).0,
            limit: tokio::sync::Semaphore::new(FILL_CONCURRENCY),
            running: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A tenant of the first pass: its [`FillTurn`].
    pub fn join(self: &Arc<Self>) -> FillTurn {
        self.remaining.send_modify(|n| *n += 1);
        FillTurn {
            fills: self.clone(),
            in_first_pass: true,
        }
    }

    /// A tenant that is not part of the first pass (added by a reload, or whose restored data
    /// is fresh): its fills only wait for their slot.
    pub fn later(self: &Arc<Self>) -> FillTurn {
        FillTurn {
            fills: self.clone(),
            in_first_pass: false,
        }
    }

    /// Every tenant of the first pass has joined.
    pub fn started(&self) {
        self.first_attempt_done();
    }

    fn first_attempt_done(&self) {
        self.remaining.send_modify(|n| *n = n.saturating_sub(1));
    }

    async fn first_pass_done(&self) {
        let mut rx = self.remaining.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

/// Counts a running fill; when the last one ends (finished, failed or cancelled), the
/// allocator's free pages go back to the OS: a fill parses a few megabytes that glibc would
/// otherwise keep resident in the fill threads' arenas. (Trimming every 128 fills as well was
/// measured at 10,000 tenants and did not lower the peak while fills run: that is the four
/// fills' own parsing.)
struct Running<'a>(&'a HistoryFills);

impl<'a> Running<'a> {
    fn start(fills: &'a HistoryFills) -> Running<'a> {
        fills
            .running
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Running(fills)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        use std::sync::atomic::Ordering::AcqRel;
        if self.0.running.fetch_sub(1, AcqRel) == 1 {
            crate::core::memory::release_free();
        }
    }
}

/// One tenant's use of the shared [`HistoryFills`].
#[derive(Debug, Clone)]
pub struct FillTurn {
    pub fills: Arc<HistoryFills>,
    /// True when this tenant's first attempt is part of the first pass the fills wait for
    /// (not for a tenant added by a reload or one whose restored data is still fresh).
    pub in_first_pass: bool,
}

/// A tenant's place in the interval, from its name: spreads steady-state refreshes evenly
/// (no thundering herd) and stays the same across restarts.
pub fn phase(name: &str, interval: Duration) -> Duration {
    let h = crate::config::shard_of(name, u32::MAX) as f64 / u32::MAX as f64;
    interval.mul_f64(h)
}

/// The wait until the tenant's next slot that is at least half an interval away.
pub fn until_next_slot(
    epoch: Instant,
    now: Instant,
    phase: Duration,
    interval: Duration,
) -> Duration {
    until_slot_after(epoch, now, phase, interval, interval / 2)
}

/// The wait before the first refresh of a tenant whose restored data is from `saved` (Unix
/// seconds, `now_unix` being now): `None` (refresh at once) when that is an interval old or
/// more, else until the tenant's first slot at least half an interval after `saved`, so the
/// restart neither refetches fresh data nor lets it get older than a normal schedule would.
pub fn resume_delay(
    epoch: Instant,
    now: Instant,
    now_unix: f64,
    saved: f64,
    phase: Duration,
    interval: Duration,
) -> Option<Duration> {
    // A clock set back since the save makes the age negative: the data is as fresh as can be.
    let age = (now_unix - saved).max(0.0);
    if age >= interval.as_secs_f64() {
        return None;
    }
    let earliest = (interval / 2).saturating_sub(Duration::from_secs_f64(age));
    Some(until_slot_after(epoch, now, phase, interval, earliest))
}

/// The wait until the tenant's first slot at least `earliest` from now.
fn until_slot_after(
    epoch: Instant,
    now: Instant,
    phase: Duration,
    interval: Duration,
    earliest: Duration,
) -> Duration {
    let earliest = now.saturating_duration_since(epoch) + earliest;
    let interval_s = interval.as_secs_f64().max(1e-3);
    let k = ((earliest.as_secs_f64() - phase.as_secs_f64()) / interval_s)
        .ceil()
        .max(0.0);
    let slot = phase + interval.mul_f64(k);
    (epoch + slot).saturating_duration_since(now)
}

/// A conversion on the CPU-work pool that did not finish (the pool stopped or it panicked),
/// reported as a decode failure of what was read.
fn conversion_stopped(e: impl std::fmt::Display) -> GraphError {
    GraphError::Decode {
        endpoint: crate::source::graph::SECURE_SCORES,
        source: crate::source::model::ModelError::Body(format!("conversion stopped: {e}")),
    }
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
        // CPU work, like parsing: off the async workers that serve scrapes.
        let convert = move || TenantSnapshot::from_graph(&data.records, &data.profiles);
        crate::core::cpu_work::run(convert)
            .await
            .map_err(conversion_stopped)
    }

    /// Reads up to `[history] days` records (`secureScores?$top=N`, first page only) and adds
    /// the days the tenant's history lacks. Waits for the first pass and a fill slot first.
    async fn fill_history(&self, turn: &FillTurn) -> Result<usize, GraphError> {
        turn.fills.first_pass_done().await;
        let _permit = turn.fills.limit.acquire().await;
        let _running = Running::start(&turn.fills);
        let days = self.publisher.history_days();
        let (records, _) = self.graph.latest_scores(days).await?;
        let count = records.len();
        let history = crate::core::cpu_work::run(move || {
            let snapshots: Vec<crate::core::snapshot::ScoreSnapshot> = records
                .iter()
                .map(|r| crate::core::snapshot::ScoreSnapshot::from_graph(r, &[]))
                .collect();
            crate::core::history::History::from_snapshots(&snapshots, days)
        })
        .await
        .map_err(conversion_stopped)?;
        self.publisher.record_fill(&self.name, &history);
        Ok(count)
    }

    /// Sleeps `delay` (or until `shutdown`: then false), filling the history meanwhile when
    /// `fill_wanted`; a fill that has not finished when the delay ends is dropped and asked
    /// for again after the next refresh, so it never delays one.
    async fn wait_and_fill(
        &self,
        delay: Duration,
        fill_wanted: &mut bool,
        shutdown: &CancellationToken,
    ) -> bool {
        let wake = tokio::time::Instant::now() + delay;
        if let (true, Some(turn)) = (*fill_wanted, &self.fills) {
            tokio::select! {
                r = self.fill_history(turn) => {
                    *fill_wanted = false;
                    match r {
                        Ok(records) => tracing::info!(tenant = %self.name, records, "history filled from Graph"),
                        Err(e) => {
                            *fill_wanted = true;
                            tracing::warn!(tenant = %self.name, error = %chain(&e), "history fill failed; trying again after the next refresh");
                            // Not again at once: after the next refresh.
                        }
                    }
                }
                _ = tokio::time::sleep_until(wake) => return true,
                _ = shutdown.cancelled() => return false,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => true,
            _ = shutdown.cancelled() => false,
        }
    }

    /// Refreshes until `shutdown` fires.
    pub async fn run(self, shutdown: CancellationToken) {
        self.events.tenant_started(&self.name);
        if let Some(delay) = self.first_delay {
            tracing::debug!(tenant = %self.name, first_refresh_in_s = delay.as_secs_f64(), "saved data is fresh; first refresh at the tenant's slot");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => return,
            }
        }
        let mut failures: u32 = 0;
        let mut fill_wanted = false;
        let mut first_attempt = true;
        loop {
            let started = Instant::now();
            let outcome = tokio::select! {
                r = async {
                    // Waiting for a slot is part of the refresh: the first pass runs as fast as
                    // the global limit allows.
                    let _permit = self.limit.acquire().await;
                    self.refresh_once().await
                } => r,
                _ = shutdown.cancelled() => return,
            };
            let took = started.elapsed();
            self.events.refresh_finished(took);
            let counted_in_first_pass = first_attempt;
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
                    // Recording renders the tenant's series: CPU work, off the async workers.
                    let (publisher, name) = (self.publisher.clone(), self.name.clone());
                    let wants_fill = crate::core::cpu_work::run(move || {
                        publisher.record_success(&name, snapshot)
                    })
                    .await
                    .unwrap_or(false);
                    fill_wanted |= wants_fill;
                    // A little jitter on top of the tenant's own slot.
                    let slot = until_next_slot(
                        self.epoch,
                        Instant::now(),
                        phase(&self.name, self.config.interval),
                        self.config.interval,
                    );
                    slot.mul_f64(0.98 + fastrand::f64() * 0.04)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let reason = e.reason();
                    let message = chain(&e);
                    self.events.refresh_failed(&self.name, reason);
                    let delay = failure_delay(&self.config, failures, e.retry_after());
                    tracing::warn!(
                        tenant = %self.name,
                        reason = reason.as_str(),
                        error = %message,
                        retry_in_s = delay.as_secs_f64(),
                        "refresh failed; keeping the last good data"
                    );
                    self.publisher.record_failure(&self.name, message);
                    delay
                }
            };
            if counted_in_first_pass {
                first_attempt = false;
                if let Some(turn) = self.fills.as_ref().filter(|t| t.in_first_pass) {
                    turn.fills.first_attempt_done();
                }
            }
            if !self.wait_and_fill(delay, &mut fill_wanted, &shutdown).await {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fills_wait_until_every_first_pass_tenant_has_had_its_attempt() {
        let fills = HistoryFills::new();
        let (a, b) = (fills.join(), fills.join());
        let late = fills.later();
        assert!(!late.in_first_pass && a.in_first_pass);
        let open = || {
            let f = fills.clone();
            async move {
                tokio::time::timeout(Duration::from_millis(50), f.first_pass_done())
                    .await
                    .is_ok()
            }
        };
        fills.started();
        a.fills.first_attempt_done();
        assert!(!open().await, "b has not had its first attempt");
        b.fills.first_attempt_done();
        assert!(open().await);
    }

    #[test]
    fn slots_spread_tenants_over_the_interval() {
        let interval = Duration::from_secs(3600);
        let mut phases: Vec<f64> = (0..1000)
            .map(|i| phase(&format!("customer-{i}"), interval).as_secs_f64() / 3600.0)
            .collect();
        phases.sort_by(f64::total_cmp);
        // Roughly uniform: each tenth of the interval holds 5–15 % of the tenants.
        for d in 0..10 {
            let n = phases
                .iter()
                .filter(|p| **p >= d as f64 / 10.0 && **p < (d + 1) as f64 / 10.0)
                .count();
            assert!((50..=150).contains(&n), "decile {d}: {n}");
        }
        // The next slot is at least half an interval away and at most 1.5 intervals.
        let epoch = Instant::now();
        for p in [0.0, 0.3, 0.9] {
            let ph = interval.mul_f64(p);
            for elapsed in [0u64, 100, 1800, 3599, 7300] {
                let now = epoch + Duration::from_secs(elapsed);
                let d = until_next_slot(epoch, now, ph, interval);
                assert!(
                    d >= interval / 2 - Duration::from_millis(1) && d <= interval.mul_f64(1.5),
                    "{p} {elapsed}: {d:?}"
                );
                let at = (now + d).duration_since(epoch).as_secs_f64();
                let k = (at - ph.as_secs_f64()) / 3600.0;
                assert!((k - k.round()).abs() < 1e-6, "lands on a slot: {k}");
            }
        }
    }

    #[test]
    fn fresh_restored_data_waits_for_its_slot_and_old_data_does_not() {
        let interval = Duration::from_secs(3600);
        let epoch = Instant::now();
        let phase = interval.mul_f64(0.25);
        let now_unix = 1_000_000.0;
        assert_eq!(
            resume_delay(epoch, epoch, now_unix, now_unix - 3600.0, phase, interval),
            None
        );
        // Saved a minute ago: the first slot at least 29 minutes away.
        let d = resume_delay(epoch, epoch, now_unix, now_unix - 60.0, phase, interval).unwrap();
        assert!(
            d >= Duration::from_secs(29 * 60) && d <= Duration::from_secs(89 * 60),
            "{d:?}"
        );
        // Saved 50 minutes ago: the tenant's next slot, whenever it comes.
        let d = resume_delay(epoch, epoch, now_unix, now_unix - 3000.0, phase, interval).unwrap();
        assert_eq!(d, phase);
        // A clock set back counts as just saved.
        let d = resume_delay(epoch, epoch, now_unix, now_unix + 999.0, phase, interval).unwrap();
        assert!(d >= Duration::from_secs(30 * 60), "{d:?}");
    }

    #[test]
    fn failure_delay_grows_but_never_passes_the_interval() {
        let cfg = RefreshConfig {
            interval: Duration::from_secs(3600),
            failure_backoff: Duration::from_secs(60),
            max_concurrent_tenants: 1,
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
