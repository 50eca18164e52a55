//! Publishing a tenant's new state together with its rendered series.
//!
//! The store holds states; it does not know how series are rendered. [`Publisher`] is every
//! writer's way in: it applies a change, renders the new state through a [`Render`] (which the
//! exposition layer implements) outside the store's lock, and publishes both in one step.

use super::persist::Pending;
use super::store::{Store, TenantState};
use crate::core::clock::unix_now;
use crate::core::cpu_work::{cores, parallel_map};
use crate::core::deflate::Part;
use crate::core::history::History;
use crate::core::snapshot::TenantSnapshot;
use std::sync::Arc;

/// Renders one tenant's series, one compressed part per metric family.
pub trait Render: Send + Sync {
    fn render(&self, tenant: &TenantState) -> Vec<Part>;
}

/// Renders nothing (pages and tests that never serve `/metrics`).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRender;

impl Render for NoRender {
    fn render(&self, _tenant: &TenantState) -> Vec<Part> {
        Vec::new()
    }
}

/// Writes to the store, rendering each new state before it is published.
#[derive(Clone)]
pub struct Publisher {
    store: Arc<Store>,
    render: Arc<dyn Render>,
    /// `[history] days`.
    history_days: u32,
    /// Tenants whose new data the state directory has yet to save (`[state] path`).
    pending: Option<Arc<Pending>>,
}

impl Publisher {
    /// Renders the tenants already in `store` now, so every published state has its series.
    /// All at once, on every core: with a restored state this is 10,000 tenants' series
    /// before the first scrape.
    pub fn new(store: Arc<Store>, render: Arc<dyn Render>) -> Publisher {
        let rendered = parallel_map(store.tenants(), cores(), |t| {
            let parts = Arc::new(render.render(&t));
            (t.name, t.changes, parts)
        });
        store.install_rendered(rendered);
        Publisher {
            store,
            render,
            history_days: crate::core::history::MAX_DAYS,
            pending: None,
        }
    }

    /// Keeps `days` daily records per tenant (`[history] days`).
    pub fn with_history_days(mut self, days: u32) -> Publisher {
        self.history_days = days;
        self
    }

    /// Tells `pending` about every tenant whose data changed, so it is saved.
    pub fn with_pending(mut self, pending: Arc<Pending>) -> Publisher {
        self.pending = Some(pending);
        self
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    fn change(&self, name: &str, f: impl Fn(&mut TenantState)) {
        self.store.update(name, |t| {
            f(t);
            t.rendered = Some(Arc::new(self.render.render(t)));
        });
    }

    /// Records a successful refresh; true when the tenant's history should now be filled
    /// from Graph (see [`History::needs_fill`]).
    pub fn record_success(&self, name: &str, snapshot: TenantSnapshot) -> bool {
        self.record_success_at(name, snapshot, unix_now())
    }

    /// Records a successful refresh that finished at `now` (Unix seconds).
    pub fn record_success_at(&self, name: &str, snapshot: TenantSnapshot, now: f64) -> bool {
        let snapshot = Arc::new(snapshot);
        let days = self.history_days;
        let wants_fill = std::sync::atomic::AtomicBool::new(false);
        self.change(name, |t| {
            let previous = t.snapshot.as_ref().and_then(|s| s.score.as_ref());
            if let Some(next) = &snapshot.score {
                wants_fill.store(
                    t.history.needs_fill(Some(next), days),
                    std::sync::atomic::Ordering::Relaxed,
                );
                t.history = t.history.record(previous, next, days);
            }
            t.succeeded(snapshot.clone(), now);
        });
        if let Some(pending) = &self.pending {
            pending.mark(name);
        }
        wants_fill.into_inner()
    }

    /// Adds the days a fill read from Graph to the tenant's history (those it already has
    /// stay as recorded).
    pub fn record_fill(&self, name: &str, filled: &History) {
        let days = self.history_days;
        // The series do not show the history: the state keeps its rendering.
        self.store
            .update(name, |t| t.history = t.history.merged_with(filled, days));
        if let Some(pending) = &self.pending {
            pending.mark(name);
        }
    }

    /// `[history] days`.
    pub fn history_days(&self) -> u32 {
        self.history_days
    }

    /// Records a failed refresh; the last good snapshot stays.
    pub fn record_failure(&self, name: &str, error: String) {
        let now = unix_now();
        self.change(name, |t| t.failed(&error, now));
    }

    /// Adds a tenant (after a reload); an existing entry is kept as it is.
    pub fn add(&self, name: &str, tenant_id: &str) {
        self.add_with_credential(name, tenant_id, name);
    }

    /// Adds a tenant that signs in with the named `credential`.
    pub fn add_with_credential(&self, name: &str, tenant_id: &str, credential: &str) {
        let mut state = TenantState::new(name, tenant_id);
        state.credential = credential.to_string();
        state.rendered = Some(Arc::new(self.render.render(&state)));
        self.store.add(state);
    }

    /// A reload changed the credential a tenant signs in with.
    pub fn set_credential(&self, name: &str, credential: &str) {
        self.change(name, |t| t.credential = credential.to_string());
    }

    /// Forgets a tenant (after a reload): its series vanish, and so does its saved state.
    pub fn remove(&self, name: &str) {
        self.store.remove(name);
        if let Some(pending) = &self.pending {
            pending.mark(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> TenantSnapshot {
        TenantSnapshot {
            score: None,
            profiles: 3,
        }
    }

    struct Describe;

    impl Render for Describe {
        fn render(&self, t: &TenantState) -> Vec<Part> {
            vec![Part::new(
                format!("up={} attempted={}", t.up, t.attempted).as_bytes(),
            )]
        }
    }

    #[test]
    fn a_state_is_published_together_with_its_rendering() {
        let store = Arc::new(Store::new([("a", "id-a")]));
        let publisher = Publisher::new(store.clone(), Arc::new(Describe));
        let text = |s: &Store| {
            String::from_utf8(s.tenants()[0].rendered.as_ref().unwrap()[0].inflate()).unwrap()
        };
        assert_eq!(text(&store), "up=false attempted=false");
        publisher.record_success("a", snap());
        assert!(store.ready());
        assert_eq!(text(&store), "up=true attempted=true");
        publisher.record_failure("a", "boom".into());
        assert_eq!(text(&store), "up=false attempted=true");
        assert_eq!(store.tenants()[0].changes, 3);
    }

    #[test]
    fn failure_keeps_last_good_snapshot_and_success_time() {
        let store = Arc::new(Store::new([("a", "id-a"), ("b", "id-b")]));
        let publisher = Publisher::new(store.clone(), Arc::new(NoRender));
        assert!(!store.ready());
        publisher.record_success("a", snap());
        let first = store.tenants()[0].last_success;
        publisher.record_failure("a", "boom".into());
        let a = &store.tenants()[0];
        assert!(!a.up);
        assert!(a.snapshot.is_some());
        assert_eq!(a.last_success, first);
        assert_eq!(a.last_error.as_deref(), Some("boom"));
        assert!(!store.ready(), "b has not been attempted");
        publisher.record_failure("b", "x".into());
        assert!(store.ready());
        assert!(store.tenants()[1].snapshot.is_none());
    }

    fn scored(day: i32, current: f64) -> TenantSnapshot {
        TenantSnapshot {
            score: Some(crate::core::snapshot::ScoreSnapshot {
                created_at: Some(f64::from(day) * 86_400.0 + 60.0),
                current_points: Some(current),
                max_points: Some(100.0),
                ..Default::default()
            }),
            profiles: 0,
        }
    }

    #[test]
    fn refreshes_keep_days_ask_for_one_fill_and_days_0_keeps_none() {
        let store = Arc::new(Store::new([("a", "id-a")]));
        let publisher = Publisher::new(store.clone(), Arc::new(NoRender)).with_history_days(90);
        assert!(
            publisher.record_success("a", scored(100, 40.0)),
            "nothing kept: fill"
        );
        assert!(
            !publisher.record_success("a", scored(101, 41.0)),
            "the next day: no gap"
        );
        assert!(
            publisher.record_success("a", scored(104, 42.0)),
            "days missing: fill again"
        );
        assert_eq!(store.tenants()[0].history.days.len(), 3);
        // A fill adds what the tenant lacks and keeps its own days.
        let filled = History::from_parts(
            vec![
                crate::core::history::DailyScore::new(102, 1.0, 100.0),
                crate::core::history::DailyScore::new(104, 2.0, 100.0),
            ],
            Vec::new(),
            90,
        );
        publisher.record_fill("a", &filled);
        let days = store.tenants()[0].history.days.clone();
        let kept: Vec<(i32, f64)> = days.iter().map(|d| (d.day, d.current_points)).collect();
        assert_eq!(kept, [(100, 40.0), (101, 41.0), (102, 1.0), (104, 42.0)]);

        let off = Arc::new(Store::new([("b", "id-b")]));
        let publisher = Publisher::new(off.clone(), Arc::new(NoRender)).with_history_days(0);
        assert!(
            !publisher.record_success("b", scored(100, 40.0)),
            "[history] days = 0: no fill"
        );
        assert!(off.tenants()[0].history.is_empty());
    }
}
