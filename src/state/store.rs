//! The in-memory state of every tenant: its last good snapshot and how its refreshes are going.
//!
//! The refreshers write, `/metrics` and the pages read. Writers build the new snapshot
//! outside the lock and swap an `Arc` in, so a scrape never waits for Graph. A `std` lock is
//! right here: it is never held across an `.await`.

use crate::core::deflate::Part;
use crate::core::history::History;
use crate::core::snapshot::TenantSnapshot;
use std::sync::{Arc, RwLock};

/// What is known about one tenant.
#[derive(Debug, Clone)]
pub struct TenantState {
    /// The `tenant` label.
    pub name: String,
    /// The configured tenant id (GUID or domain).
    pub tenant_id: String,
    /// The named credential the tenant signs in with, else the tenant name (the `credential`
    /// label of `securescore_tenant_info`).
    pub credential: String,
    /// The last good snapshot; kept when later refreshes fail.
    pub snapshot: Option<Arc<TenantSnapshot>>,
    /// True when the most recent refresh succeeded.
    pub up: bool,
    /// True once the first refresh attempt has finished, either way.
    pub attempted: bool,
    /// True when the snapshot and success time were restored from the state directory and
    /// this process has not refreshed the tenant yet.
    pub restored: bool,
    /// The kept daily scores, oldest first.
    pub history: History,
    /// Unix seconds when the last successful refresh finished.
    pub last_success: Option<f64>,
    /// Unix seconds when the last attempt finished.
    pub last_attempt: Option<f64>,
    /// The last failure, for the pages; cleared by a success.
    pub last_error: Option<String>,
    /// This state's series, rendered and compressed by its writer when the state changed (one
    /// part per metric family); `None` for a state nobody rendered.
    pub rendered: Option<Arc<Vec<Part>>>,
    /// Counts changes, so a change built on an older state is never installed over a newer one.
    pub changes: u64,
}

impl TenantState {
    /// A tenant that has not been refreshed yet, signing in with a credential of its own.
    pub fn new(name: &str, tenant_id: &str) -> TenantState {
        TenantState {
            name: name.to_string(),
            tenant_id: tenant_id.to_string(),
            credential: name.to_string(),
            snapshot: None,
            up: false,
            attempted: false,
            restored: false,
            history: History::default(),
            last_success: None,
            last_attempt: None,
            last_error: None,
            rendered: None,
            changes: 0,
        }
    }

    /// The not-yet-refreshed states of the configured tenants, in configuration order.
    pub fn for_tenants(tenants: &[crate::config::TenantConfig]) -> Vec<TenantState> {
        tenants
            .iter()
            .map(|t| {
                let mut state = TenantState::new(&t.name, &t.tenant_id);
                state.credential = t.credential_name.clone();
                state
            })
            .collect()
    }

    /// A successful refresh finished at `now`.
    pub fn succeeded(&mut self, snapshot: Arc<TenantSnapshot>, now: f64) {
        self.snapshot = Some(snapshot);
        self.up = true;
        self.attempted = true;
        self.restored = false;
        self.last_success = Some(now);
        self.last_attempt = Some(now);
        self.last_error = None;
    }

    /// A refresh failed at `now`; the last good snapshot stays.
    pub fn failed(&mut self, error: &str, now: f64) {
        self.up = false;
        self.attempted = true;
        self.last_attempt = Some(now);
        self.last_error = Some(error.to_string());
    }
}

/// All tenants, in configuration order.
#[derive(Default)]
pub struct Store {
    tenants: RwLock<Vec<TenantState>>,
    /// Bumped on every change, so readers can cache what they render from the store.
    version: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("tenants", &self.tenants)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
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

    /// Applies `f` to a copy of the tenant's state and publishes the result. `f` runs outside
    /// the lock, so a writer that renders the new state's series there (see
    /// [`super::Publisher`]) makes no scrape or other tenant wait, and the state is published
    /// with its rendering in one step: a reader never sees a state without its series. Each
    /// tenant has one writer (its refresher); should another change land meanwhile, `f` is
    /// applied again on top.
    pub fn update(&self, name: &str, f: impl Fn(&mut TenantState)) {
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
    pub fn add(&self, state: TenantState) {
        let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        if tenants.iter().any(|t| t.name == state.name) {
            return;
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

    /// A copy of one tenant's state.
    pub fn get(&self, name: &str) -> Option<TenantState> {
        self.tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|t| t.name == name)
            .cloned()
    }

    /// A consistent copy of every tenant's state (cheap: snapshots are shared `Arc`s).
    pub fn tenants(&self) -> Vec<TenantState> {
        self.tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// True once every tenant has had its first refresh attempt or has its saved data back.
    pub fn ready(&self) -> bool {
        self.tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .all(|t| t.attempted || t.restored)
    }

    /// Installs `rendered` for each tenant whose state has not changed since `changes` (the
    /// pairs come from [`Store::tenants`]); used once at start, where every tenant is rendered
    /// at once instead of one store update each.
    pub fn install_rendered(&self, rendered: Vec<(String, u64, Arc<Vec<Part>>)>) {
        let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        let index: std::collections::HashMap<&str, usize> = tenants
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        let mut places = Vec::with_capacity(rendered.len());
        for (name, changes, parts) in rendered {
            if let Some(&i) = index.get(name.as_str()) {
                places.push((i, changes, parts));
            }
        }
        drop(index);
        for (i, changes, parts) in places {
            let t = &mut tenants[i];
            if t.changes == changes {
                t.rendered = Some(parts);
                t.changes += 1;
            }
        }
        drop(tenants);
        self.bump();
    }

    /// A store holding exactly `states`, in their order (the restored start).
    pub fn from_states(states: Vec<TenantState>) -> Store {
        Store {
            tenants: RwLock::new(states),
            version: std::sync::atomic::AtomicU64::new(1),
        }
    }
}
