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

/// Parses a `Retry-After` given in seconds.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
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
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }
}
