//! What the Graph side reports as it works, for whoever counts it (the exporter's own metrics).
//! A trait, so `source` does not depend on the layer that exposes the counts.

/// Events of token and Graph requests.
pub trait GraphEvents: Send + Sync {
    /// One HTTP request finished: `endpoint` is `token`, `secure_scores` or `control_profiles`,
    /// `code` the HTTP status or `timeout`, `transport`, `decode`.
    fn graph_request(&self, endpoint: &str, code: &str);
    /// Graph answered 206 Partial Content for `tenant`.
    fn partial_response(&self, tenant: &str, endpoint: &str);
    /// A certificate credential was read; its notAfter as Unix time.
    fn credential_expiry(&self, credential: &str, not_after: f64);
}

/// Counts nothing (one-shot commands and tests that do not look).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl GraphEvents for NoEvents {
    fn graph_request(&self, _endpoint: &str, _code: &str) {}
    fn partial_response(&self, _tenant: &str, _endpoint: &str) {}
    fn credential_expiry(&self, _credential: &str, _not_after: f64) {}
}
