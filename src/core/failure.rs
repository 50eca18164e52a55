//! [`FailureReason`]: the closed set of `reason` label values of
//! `securescore_refresh_failures_total`, so an error's text can never leak into a label.

/// The `reason` label of `securescore_refresh_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    Auth,
    Throttled,
    Http,
    Transport,
    Timeout,
    Decode,
    Security,
}

impl FailureReason {
    pub const ALL: [FailureReason; 7] = [
        FailureReason::Auth,
        FailureReason::Throttled,
        FailureReason::Http,
        FailureReason::Transport,
        FailureReason::Timeout,
        FailureReason::Decode,
        FailureReason::Security,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Auth => "auth",
            FailureReason::Throttled => "throttled",
            FailureReason::Http => "http",
            FailureReason::Transport => "transport",
            FailureReason::Timeout => "timeout",
            FailureReason::Decode => "decode",
            FailureReason::Security => "security",
        }
    }
}
