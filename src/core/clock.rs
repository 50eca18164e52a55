//! The wall clock as Unix seconds, the unit of every timestamp series.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (0 should the clock be before it).
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
