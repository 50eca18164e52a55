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

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` over every item on up to `threads` scoped threads, the results in the items' order.
/// For the one-off bulk work of a start or a batch (every tenant rendered, every state file
/// read or written), where the refresh pool's one-at-a-time slots would serialise it.
pub fn parallel_map<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let mut parts: Vec<Vec<T>> = Vec::new();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        parts.push(items.by_ref().take(chunk).collect());
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = parts
            .into_iter()
            .map(|part| {
                let f = &f;
                scope.spawn(move || part.into_iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        workers
            .into_iter()
            // A panic in `f` is a bug; carry it to the caller rather than lose results.
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parallel_map_keeps_the_order() {
        let out = super::parallel_map((0..1001).collect(), 3, |i: i32| i * 2);
        assert_eq!(out, (0..1001).map(|i| i * 2).collect::<Vec<_>>());
        assert!(super::parallel_map(Vec::<i32>::new(), 4, |i| i).is_empty());
    }
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
