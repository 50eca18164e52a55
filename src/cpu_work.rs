//! CPU-heavy refresh work (parsing Graph's JSON, converting, rendering a tenant's series) runs
//! off the async workers, at most (cores − 1) tasks at once (at least one), so a scrape always
//! finds a core even while thousands of tenants refresh.

use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

fn permits() -> &'static Arc<Semaphore> {
    static PERMITS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Arc::new(Semaphore::new(cores.saturating_sub(1).max(1)))
    })
}

/// Runs `f` on the blocking pool once a CPU slot is free; `Err` if it panicked.
pub async fn run<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    // The semaphore is never closed, so acquiring only waits.
    let permit = permits().clone().acquire_owned().await;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
}
