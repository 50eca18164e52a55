//! Graph's per-app limit across all tenants of one app registration.

use std::time::Duration;

/// Graph's global limit for one app across all tenants (130,000 requests per 10 s): a sliding
/// window that makes callers wait for room instead of earning 429s.
pub struct AppLimiter {
    limit: usize,
    window: Duration,
    sent: std::sync::Mutex<std::collections::VecDeque<std::time::Instant>>,
}

impl AppLimiter {
    pub fn new(limit: usize, window: Duration) -> AppLimiter {
        AppLimiter {
            limit: limit.max(1),
            window,
            sent: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// Waits until one more request fits in the window, and counts it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                let now = std::time::Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.limit {
                    sent.push_back(now);
                    return;
                }
                // The oldest request leaves the window first.
                sent.front()
                    .map(|t| self.window.saturating_sub(now.duration_since(*t)))
                    .unwrap_or_default()
            };
            tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        }
    }
}
