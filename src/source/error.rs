//! Errors at the boundaries that callers branch on, each with a bounded `reason` for metrics.
//!
//! `AuthError` comes from the token endpoint, `GraphError` from Graph calls (and wraps
//! `AuthError`). Each maps to a [`FailureReason`].

pub use crate::core::failure::FailureReason;
use crate::source::model::ModelError;
use std::time::Duration;

/// Getting an access token failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Entra ID refused the request; `code` is the AADSTS code when it sent one.
    #[error("token request for tenant {tenant} was refused ({status}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Rejected {
        tenant: String,
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// The credential itself could not be read (a secret or token file).
    #[error("credential for tenant {tenant} is unusable: {message}")]
    Credential { tenant: String, message: String },
    #[error("token endpoint throttled the request (429)")]
    Throttled { retry_after: Option<Duration> },
    #[error("token endpoint answered HTTP {status}")]
    Status {
        status: u16,
        /// `Retry-After` of a 503 or 504.
        retry_after: Option<Duration>,
    },
    #[error("token request timed out")]
    Timeout,
    #[error("token request failed")]
    Transport(#[source] reqwest::Error),
    #[error("token response is not usable: {0}")]
    Decode(String),
}

impl AuthError {
    pub fn reason(&self) -> FailureReason {
        match self {
            AuthError::Rejected { .. } | AuthError::Credential { .. } => FailureReason::Auth,
            AuthError::Throttled { .. } => FailureReason::Throttled,
            AuthError::Status { .. } => FailureReason::Http,
            AuthError::Timeout => FailureReason::Timeout,
            AuthError::Transport(_) => FailureReason::Transport,
            AuthError::Decode(_) => FailureReason::Decode,
        }
    }
}

/// A Graph call failed (after the retries it deserved).
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// 401 even with a fresh token, or 403: the app lacks consent or permission.
    #[error("{endpoint}: access denied (HTTP {status}){}", detail(message))]
    Denied {
        endpoint: &'static str,
        status: u16,
        message: Option<String>,
    },
    #[error("{endpoint}: throttled by Graph (429) after retries")]
    Throttled {
        endpoint: &'static str,
        retry_after: Option<Duration>,
    },
    #[error("{endpoint}: Graph answered HTTP {status}{}", detail(message))]
    Status {
        endpoint: &'static str,
        status: u16,
        message: Option<String>,
        /// `Retry-After` of a 503 or 504.
        retry_after: Option<Duration>,
    },
    #[error("{endpoint}: request timed out")]
    Timeout { endpoint: &'static str },
    #[error("{endpoint}: request failed")]
    Transport {
        endpoint: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{endpoint}: cannot decode response")]
    Decode {
        endpoint: &'static str,
        #[source]
        source: ModelError,
    },
    #[error("{endpoint}: {message}")]
    Paging {
        endpoint: &'static str,
        message: String,
    },
    /// A `nextLink` pointed outside the Graph origin; the token was not sent there.
    #[error(
        "{endpoint}: refusing @odata.nextLink to foreign origin {origin} (bearer token withheld)"
    )]
    ForeignNextLink {
        endpoint: &'static str,
        origin: String,
    },
}

fn detail(message: &Option<String>) -> String {
    message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

impl GraphError {
    pub fn reason(&self) -> FailureReason {
        match self {
            GraphError::Auth(e) => e.reason(),
            GraphError::Denied { .. } => FailureReason::Auth,
            GraphError::Throttled { .. } => FailureReason::Throttled,
            GraphError::Status { .. } => FailureReason::Http,
            GraphError::Timeout { .. } => FailureReason::Timeout,
            GraphError::Transport { .. } => FailureReason::Transport,
            GraphError::Decode { .. } | GraphError::Paging { .. } => FailureReason::Decode,
            GraphError::ForeignNextLink { .. } => FailureReason::Security,
        }
    }

    /// How long Graph asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GraphError::Throttled { retry_after, .. }
            | GraphError::Status { retry_after, .. }
            | GraphError::Auth(AuthError::Throttled { retry_after })
            | GraphError::Auth(AuthError::Status { retry_after, .. }) => *retry_after,
            _ => None,
        }
    }
}

/// Formats an error with its whole `source()` chain on one line, for logs and the pages.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}
