//! Graph's per-tenant limits: 4 requests in flight and a per-minute window.

use crate::state::{lock, State};
use std::time::{Duration, Instant};

/// Decrements the tenant's in-flight count when the request ends, however it ends.
pub(crate) struct InFlight<'a> {
    state: &'a State,
    tenant: usize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(l) = lock(&self.state.limits).get_mut(&self.tenant) {
            l.in_flight = l.in_flight.saturating_sub(1);
        }
    }
}

/// Checks Graph's per-tenant limits; on success the request counts as in flight.
pub(crate) fn admit(state: &State, tenant: usize) -> Result<InFlight<'_>, u64> {
    let mut limits = lock(&state.limits);
    let l = limits.entry(tenant).or_default();
    let now = Instant::now();
    while l
        .window
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
    {
        l.window.pop_front();
    }
    if l.in_flight >= state.max_concurrent {
        return Err(1);
    }
    if l.window.len() >= state.requests_per_minute {
        let oldest = l.window.front().copied().unwrap_or(now);
        let wait = Duration::from_secs(60).saturating_sub(now.duration_since(oldest));
        return Err(wait.as_secs().max(1));
    }
    l.in_flight += 1;
    l.max_in_flight = l.max_in_flight.max(l.in_flight);
    l.window.push_back(now);
    Ok(InFlight { state, tenant })
}
