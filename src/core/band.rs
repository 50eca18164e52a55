//! How people read a score: the bands (one place for the thresholds; 65 % is inclusive
//! "concern", as the contract says) and how points are written for people.

/// Score bands (Microsoft's guidance): at or below 65 % concern, 80 % or more excellent.
pub const CONCERN_RATIO: f64 = 0.65;
pub const EXCELLENT_RATIO: f64 = 0.80;

/// The band of a score ratio.
pub fn band(ratio: f64) -> &'static str {
    if ratio <= CONCERN_RATIO {
        "concern"
    } else if ratio < EXCELLENT_RATIO {
        "good"
    } else {
        "excellent"
    }
}

/// Points for people: at most two decimals, no trailing zeros (JSON keeps Graph's exact values).
pub fn points(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
