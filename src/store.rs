//! The in-memory state of every tenant: its last good snapshot and how its refreshes are going.
//!
//! The refreshers write, `/metrics` and the status page read. Writers build the new snapshot
//! outside the lock and swap an `Arc` in, so a scrape never waits for Graph. A `std` lock is
//! right here: it is never held across an `.await`.

use crate::exposition::Part;
use crate::snapshot::TenantSnapshot;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// What is known about one tenant.
#[derive(Debug, Clone)]
pub struct TenantState {
    /// The `tenant` label.
    pub name: String,
    /// The configured tenant id (GUID or domain).
    pub tenant_id: String,
    /// The last good snapshot; kept when later refreshes fail.
    pub snapshot: Option<Arc<TenantSnapshot>>,
    /// True when the most recent refresh succeeded.
    pub up: bool,
    /// True once the first refresh attempt has finished, either way.
    pub attempted: bool,
    /// Unix seconds when the last successful refresh finished.
    pub last_success: Option<f64>,
    /// Unix seconds when the last attempt finished.
    pub last_attempt: Option<f64>,
    /// The last failure, for the status page; cleared by a success.
    pub last_error: Option<String>,
    /// This state's series, rendered and compressed by the store's renderer when the state
    /// changed (one part per metric family); `None` until a renderer is set.
    pub rendered: Option<Arc<Vec<Part>>>,
    /// Counts changes, so a change built on an older state is never installed over a newer one.
    pub changes: u64,
}

impl TenantState {
    /// A tenant that has not been refreshed yet.
    pub fn new(name: &str, tenant_id: &str) -> TenantState {
        TenantState {
            name: name.to_string(),
            tenant_id: tenant_id.to_string(),
            snapshot: None,
            up: false,
            attempted: false,
            last_success: None,
            last_attempt: None,
            last_error: None,
            rendered: None,
            changes: 0,
        }
    }
}

/// Renders a tenant's series when its state changes (set by the metrics module).
pub type Renderer = Box<dyn Fn(&TenantState) -> Vec<Part> + Send + Sync>;

/// All tenants, in configuration order.
#[derive(Default)]
pub struct Store {
    tenants: RwLock<Vec<TenantState>>,
    /// Bumped on every change, so readers can cache what they render from the store.
    version: std::sync::atomic::AtomicU64,
    renderer: OnceLock<Renderer>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("tenants", &self.tenants)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Store {
    /// A store with one not-yet-refreshed entry per `(name, tenant_id)`.
    pub fn new<'a>(tenants: impl IntoIterator<Item = (&'a str, &'a str)>) -> Store {
        let tenants = tenants
            .into_iter()
            .map(|(name, id)| TenantState::new(name, id))
            .collect();
        Store {
            tenants: RwLock::new(tenants),
            version: std::sync::atomic::AtomicU64::new(1),
            renderer: OnceLock::new(),
        }
    }

    /// Sets the function that renders a tenant's series whenever its state changes, so a
    /// scrape only joins parts rendered in advance. Tenants already present are rendered now.
    pub fn set_renderer(&self, renderer: Renderer) {
        if self.renderer.set(renderer).is_err() {
            return;
        }
        let names: Vec<String> = self.tenants().into_iter().map(|t| t.name).collect();
        for name in names {
            self.update(&name, |_| {});
        }
    }

    /// Changes with every write; equal versions mean equal contents.
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    fn bump(&self) {
        self.version
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    fn update(&self, name: &str, f: impl Fn(&mut TenantState)) {
        // The new state is built and rendered outside the lock, so scrapes and other tenants
        // never wait for the rendering, and published with its rendering in one step, so a
        // reader never sees a state without its series. Each tenant has one writer (its
        // refresher); should another change land meanwhile, the change is applied again on top.
        loop {
            let Some(mut next) = self
                .tenants
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|t| t.name == name)
                .cloned()
            else {
                return;
            };
            let base = next.changes;
            f(&mut next);
            next.changes += 1;
            if let Some(render) = self.renderer.get() {
                next.rendered = Some(Arc::new(render(&next)));
            }
            // A poisoned lock only means a panic elsewhere mid-update; the data is still usable.
            let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
            match tenants.iter_mut().find(|t| t.name == name) {
                Some(t) if t.changes == base => *t = next,
                Some(_) => continue,
                None => return,
            }
            drop(tenants);
            self.bump();
            return;
        }
    }

    /// Adds a tenant (after a reload); an existing entry is kept as it is.
    pub fn add(&self, name: &str, tenant_id: &str) {
        let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        if tenants.iter().any(|t| t.name == name) {
            return;
        }
        let mut state = TenantState::new(name, tenant_id);
        if let Some(render) = self.renderer.get() {
            state.rendered = Some(Arc::new(render(&state)));
        }
        tenants.push(state);
        self.bump();
    }

    /// Forgets a tenant (after a reload): its series vanish.
    pub fn remove(&self, name: &str) {
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|t| t.name != name);
        self.bump();
    }

    /// Orders the tenants as `names` lists them (configuration order).
    pub fn retain_order<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let order: Vec<&str> = names.into_iter().collect();
        let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        tenants.sort_by_key(|t| {
            order
                .iter()
                .position(|n| *n == t.name)
                .unwrap_or(usize::MAX)
        });
    }

    /// Records a successful refresh.
    pub fn record_success(&self, name: &str, snapshot: TenantSnapshot) {
        let snapshot = Arc::new(snapshot);
        let now = unix_now();
        self.update(name, |t| {
            t.snapshot = Some(snapshot.clone());
            t.up = true;
            t.attempted = true;
            t.last_success = Some(now);
            t.last_attempt = Some(now);
            t.last_error = None;
        });
    }

    /// Records a failed refresh; the last good snapshot stays.
    pub fn record_failure(&self, name: &str, error: String) {
        let now = unix_now();
        self.update(name, |t| {
            t.up = false;
            t.attempted = true;
            t.last_attempt = Some(now);
            t.last_error = Some(error.clone());
        });
    }

    /// A consistent copy of every tenant's state (cheap: snapshots are shared `Arc`s).
    pub fn tenants(&self) -> Vec<TenantState> {
        self.tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// True once every tenant has had its first refresh attempt.
    pub fn ready(&self) -> bool {
        self.tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .all(|t| t.attempted)
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

    #[test]
    fn a_state_is_published_together_with_its_rendering() {
        let store = Store::new([("a", "id-a")]);
        store.set_renderer(Box::new(|t| {
            vec![Part::new(
                format!("up={} attempted={}", t.up, t.attempted).as_bytes(),
            )]
        }));
        let text = |s: &Store| {
            String::from_utf8(s.tenants()[0].rendered.as_ref().unwrap()[0].inflate()).unwrap()
        };
        assert_eq!(text(&store), "up=false attempted=false");
        store.record_success("a", snap());
        assert!(store.ready());
        assert_eq!(text(&store), "up=true attempted=true");
        store.record_failure("a", "boom".into());
        assert_eq!(text(&store), "up=false attempted=true");
        assert_eq!(store.tenants()[0].changes, 3);
    }

    #[test]
    fn failure_keeps_last_good_snapshot_and_success_time() {
        let store = Store::new([("a", "id-a"), ("b", "id-b")]);
        assert!(!store.ready());
        store.record_success("a", snap());
        let first = store.tenants()[0].last_success;
        store.record_failure("a", "boom".into());
        let a = &store.tenants()[0];
        assert!(!a.up);
        assert!(a.snapshot.is_some());
        assert_eq!(a.last_success, first);
        assert_eq!(a.last_error.as_deref(), Some("boom"));
        assert!(!store.ready(), "b has not been attempted");
        store.record_failure("b", "x".into());
        assert!(store.ready());
        assert!(store.tenants()[1].snapshot.is_none());
    }
}
