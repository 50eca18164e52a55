//! The HTTP side shared by token and Graph calls: the client (timeouts, no redirects, extra
//! roots), the User-Agent, `Retry-After` and retry backoff.

use crate::config::GraphConfig;
use reqwest::header::HeaderMap;
use std::time::Duration;

/// `User-Agent` of every request, so tenant admins can see who calls.
pub const USER_AGENT: &str = concat!("securescore_exporter/", env!("CARGO_PKG_VERSION"));

/// Builds the HTTP client shared by token and Graph calls.
pub fn http_client(cfg: &GraphConfig) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
        .gzip(true)
        // Redirects would carry the Authorization header to wherever Graph points; never follow.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = &cfg.ca_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build()
}

/// The longest `Retry-After` taken as given; callers cap what they wait inline lower.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// Parses `Retry-After` (RFC 9110): delay-seconds, or an HTTP date (IMF-fixdate), which
/// becomes the time from now until then (zero for a date already past).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    retry_after_at(value, time::OffsetDateTime::now_utc())
}

/// [`retry_after`] of one header value, as seen at `now`.
pub fn retry_after_at(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs).min(MAX_RETRY_AFTER));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, &format)
        .ok()?
        .assume_utc();
    let wait = (at - now).max(time::Duration::ZERO);
    Some(Duration::try_from(wait).ok()?.min(MAX_RETRY_AFTER))
}

/// Exponential backoff with jitter: `base * 2^attempt`, scaled by a random factor in [0.5, 1], capped at a minute.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(Duration::from_secs(60));
    capped.mul_f64(0.5 + fastrand::f64() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "-3".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn retry_after_reads_http_dates() {
        let now = time::macros::datetime!(2015-10-21 07:27:30 UTC);
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(retry_after_at(date, now), Some(Duration::from_secs(30)));
        // A date already past means: now.
        let later = time::macros::datetime!(2015-10-21 08:00:00 UTC);
        assert_eq!(retry_after_at(date, later), Some(Duration::ZERO));
        assert_eq!(retry_after_at("Wed, 21 Oct 2015 07:28:00 CET", now), None);
        assert_eq!(
            retry_after_at("86401", now),
            Some(Duration::from_secs(86_400))
        );
    }
}
