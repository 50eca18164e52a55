//! When the state directory is written: a refresh only marks its tenant as pending (a set
//! insert, never I/O), and one task writes the pending tenants in batches a moment later, on a
//! blocking thread. A tenant refreshed twice before its batch is written once. Stopping writes
//! what is pending, so SIGTERM loses nothing.

use super::{SavedTenant, StateDir};
use crate::state::Store;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the writer gathers changes before writing them: long enough that the first pass of
/// 10,000 tenants is a few dozen batches, short enough that little is lost to a crash.
pub const BATCH_WINDOW: Duration = Duration::from_secs(2);

/// What the writer reports, for whoever counts it (the exporter's own metrics).
pub trait StateEvents: Send + Sync {
    /// A batch ended: `written` tenants saved, `failed` not.
    fn state_saved(&self, written: usize, failed: usize);
}

/// The tenants whose saved state is out of date.
#[derive(Debug, Default)]
pub struct Pending {
    names: Mutex<HashSet<String>>,
    wake: tokio::sync::Notify,
}

impl Pending {
    pub fn new() -> Arc<Pending> {
        Arc::new(Pending::default())
    }

    /// `name`'s data changed (or it was removed): save it with the next batch.
    pub fn mark(&self, name: &str) {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        if !names.contains(name) {
            names.insert(name.to_string());
        }
        drop(names);
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<String> {
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.drain().collect()
    }
}

/// Writes the pending tenants' current state (or removes the file of a tenant no longer in
/// the store).
async fn flush(dir: &Arc<StateDir>, store: &Store, pending: &Pending, events: &dyn StateEvents) {
    let names = pending.take();
    if names.is_empty() {
        return;
    }
    let tenants: HashMap<String, _> = store
        .tenants()
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    let mut write = Vec::new();
    let mut remove = Vec::new();
    for name in names {
        match tenants.get(&name) {
            None => remove.push(name),
            Some(t) => {
                if let (Some(snapshot), Some(last_success)) = (&t.snapshot, t.last_success) {
                    write.push(SavedTenant {
                        name,
                        tenant_id: t.tenant_id.clone(),
                        last_success,
                        snapshot: snapshot.clone(),
                        history: t.history.clone(),
                    });
                }
            }
        }
    }
    drop(tenants);
    let dir = dir.clone();
    let started = std::time::Instant::now();
    let saved = match tokio::task::spawn_blocking(move || dir.save(&write, &remove)).await {
        Ok(saved) => saved,
        Err(e) => {
            tracing::error!(error = %e, "state writer stopped abnormally");
            return;
        }
    };
    events.state_saved(saved.written, saved.failed.len());
    if let Some((name, e)) = saved.failed.first() {
        tracing::warn!(
            failed = saved.failed.len(),
            first_tenant = %name,
            error = %e,
            "state not saved; these tenants restart without their newest data (the next refresh tries again)"
        );
    }
    tracing::debug!(
        written = saved.written,
        removed = saved.removed,
        bytes = saved.bytes,
        took_ms = started.elapsed().as_millis() as u64,
        "state saved"
    );
}

/// Writes pending tenants until `stop` fires, then what is still pending.
pub async fn run_writer(
    dir: Arc<StateDir>,
    store: Arc<Store>,
    pending: Arc<Pending>,
    events: Arc<dyn StateEvents>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = pending.wake.notified() => {}
            _ = stop.cancelled() => break,
        }
        tokio::select! {
            _ = tokio::time::sleep(BATCH_WINDOW) => {}
            _ = stop.cancelled() => {}
        }
        flush(&dir, &store, &pending, events.as_ref()).await;
        if stop.is_cancelled() {
            break;
        }
    }
    flush(&dir, &store, &pending, events.as_ref()).await;
}
