//! What callers configure: [`SimulatorOptions`], the faults a test injects and the endpoints
//! requests are counted by.

use crate::spec::{demo_tenants, TenantSpec};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Largest `secureScores` page (so that reading 90 days needs paging).
pub const SCORES_PAGE_SIZE: usize = 30;
/// Largest `secureScoreControlProfiles` page, as observed on real tenants.
pub const PROFILES_PAGE_SIZE: usize = 200;

/// Which simulated endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Token,
    SecureScores,
    ControlProfiles,
    /// IMDS or App Service managed-identity endpoint.
    ManagedIdentity,
    Other,
}

/// Something to go wrong, for tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with this `Retry-After` (seconds), or none.
    Throttle { retry_after: Option<u64> },
    /// That 5xx status.
    ServerError(u16),
    /// That 5xx status with this `Retry-After` value (seconds or an HTTP date), as Graph
    /// sends on 503 and 504.
    Unavailable { status: u16, retry_after: String },
    /// Wait this long before answering normally.
    Slow(Duration),
    /// 200 with a truncated JSON body.
    MalformedJson,
    /// 206 Partial Content with this `Warning` header, and the normal body.
    Partial { warning: String },
    /// 401, as for a revoked token.
    Unauthorized,
    /// 403 `Authorization_RequestDenied` (no admin consent for SecurityEvents.Read.All).
    Forbidden,
    /// The profiles page carries this `@odata.nextLink`.
    NextLink(String),
    /// The connection is dropped without an answer.
    ConnectionReset,
    /// 200 with an HTML error page (a proxy's), not JSON.
    WrongContentType,
    /// 200 with a body of this many bytes.
    Oversized(usize),
}

/// One request the simulator saw.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The tenant's name, when the request could be tied to one.
    pub tenant: Option<String>,
    pub endpoint: Endpoint,
    pub method: String,
    pub path_and_query: String,
    /// True when an `Authorization` header was sent.
    pub authorization: bool,
    pub user_agent: Option<String>,
    pub accept_encoding: Option<String>,
    pub status: u16,
    /// The token request's form fields, secrets removed.
    pub form: Vec<(String, String)>,
    /// When the request arrived.
    pub at: Instant,
}

/// Options for [`Simulator::start`].
#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    pub tenants: Vec<TenantSpec>,
    /// `expires_in` of issued tokens.
    pub token_lifetime: Duration,
    /// Graph's per-tenant limits.
    pub max_concurrent: usize,
    pub requests_per_minute: usize,
    /// Date of the newest record (default: today, UTC).
    pub today: Option<time::Date>,
    /// Listen address (default 127.0.0.1:0).
    pub listen: SocketAddr,
    /// A managed identity, served on a second, plain-HTTP loopback listener like IMDS.
    pub managed_identity: Option<ManagedIdentitySpec>,
    /// Seconds the simulated Entra ID's clock is ahead of this host's (negative: behind).
    pub clock_offset_secs: i64,
    /// Keep the request log (tests read it; long soak runs turn it off so it does not grow).
    pub record_requests: bool,
    /// Every Graph answer waits a random time in this range (like a real, distant service).
    pub latency: (Duration, Duration),
}

impl Default for SimulatorOptions {
    fn default() -> Self {
        SimulatorOptions {
            tenants: demo_tenants(),
            token_lifetime: Duration::from_secs(3599),
            max_concurrent: 4,
            requests_per_minute: 150,
            today: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            managed_identity: None,
            clock_offset_secs: 0,
            record_requests: true,
            latency: (Duration::ZERO, Duration::ZERO),
        }
    }
}

/// A managed identity on the simulated host.
#[derive(Debug, Clone)]
pub struct ManagedIdentitySpec {
    /// Name or id of the tenant whose tokens the identity gets.
    pub tenant: String,
    /// Whether a system-assigned identity exists.
    pub system_assigned: bool,
    /// Client ids of user-assigned identities.
    pub client_ids: Vec<String>,
    /// The App Service `IDENTITY_HEADER` value.
    pub header_secret: String,
}
