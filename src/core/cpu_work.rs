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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_cores_minus_one_jobs_run_at_once() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let limit = cores.saturating_sub(1).max(1);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..12)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for j in jobs {
            j.await.unwrap().unwrap();
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(limit, cores.saturating_sub(1).max(1));
        assert!(
            most.load(Ordering::SeqCst) <= limit,
            "{} > {limit}",
            most.load(Ordering::SeqCst)
        );
        assert!(most.load(Ordering::SeqCst) >= 1);
    }
}
