//! Configuration: the one place that reads the config file, `SECURESCORE_*` environment
//! overrides, the command line and the Azure SDK's `AZURE_*` convention, and turns them into a
//! validated [`Config`].
//!
//! Data in: an optional TOML path and the process environment. Data out: [`Config`], whose
//! secrets are [`Secret`]s, or a [`ConfigError`] that names the bad key and where it came from.

//!
//! # Layout
//!
//! - [`raw`]: the file's shape; [`load`]: the sources and their names in errors;
//! - [`validate`], [`credentials`], [`tenant_files`], [`shard`]: from raw to [`Config`];
//! - [`azure_env`]: the Azure SDK's variables; [`series_filter`]: which series are exported.

pub mod azure_env;
pub mod credentials;
pub mod describe;
pub mod load;
pub mod overrides;
pub mod raw;
pub mod series_filter;
pub mod shard;
pub mod tenant_files;
pub mod validate;

pub use azure_env::AzureEnv;
pub use load::figment;
pub use overrides::Overrides;
pub use shard::shard_of;
pub use validate::parse_listen_address;

use crate::core::cloud::Cloud;
use crate::core::secret::Secret;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Prefix of environment overrides; `__` separates nesting levels (`SECURESCORE_GRAPH__TIMEOUT=10s`).
pub const ENV_PREFIX: &str = "SECURESCORE_";
/// Default listen address, fixed by the contract.
pub const DEFAULT_LISTEN_ADDRESS: &str = ":10057";

/// A configuration problem, worded so the user knows which key to fix and in which source.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing, not TOML, or a key has the wrong type or is unknown.
    #[error("{0}")]
    Parse(String),
    /// A key parsed but its value is not acceptable.
    #[error("invalid configuration: key `{key}`{origin}: {reason}")]
    Invalid {
        key: String,
        origin: String,
        reason: String,
    },
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub graph: GraphConfig,
    pub refresh: RefreshConfig,
    pub log: LogConfig,
    /// Addresses to listen on, already resolved (`:10057` means every IPv4 interface).
    pub listen: Vec<SocketAddr>,
    /// `--web.config.file` / `web.config_file`: TLS, basic auth and headers (exporter-toolkit format).
    pub web_config_file: Option<PathBuf>,
    /// `web.healthy_without_auth`: `/-/healthy` answers without basic auth (for simple probes).
    pub healthy_without_auth: bool,
    /// Which control, category and service series are exported (`[metrics]`).
    pub series: series_filter::SeriesFilter,
    /// This replica's shard (`index`, `count`); tenants of other shards were dropped.
    pub shard: Option<(u32, u32)>,
    /// `[history] days`: daily records kept per tenant (0 = none, at most 90).
    pub history_days: u32,
    /// `[state] path`: the directory where the last good data survives a restart.
    pub state_path: Option<PathBuf>,
    pub tenants: Vec<TenantConfig>,
}

/// Where and how to reach Entra ID and Microsoft Graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphConfig {
    pub cloud: Cloud,
    /// Authority host, without a trailing slash; tokens come from `{login_url}/{tenant}/oauth2/v2.0/token`.
    pub login_url: String,
    /// Graph root, without a trailing slash; requests go to `{graph_url}/v1.0/...`.
    pub graph_url: String,
    /// The token scope: the cloud's Graph resource plus `/.default`, even when `graph_url` is overridden.
    pub scope: String,
    /// Extra trusted roots (PEM), from `graph.ca_file`.
    pub ca_pem: Option<Vec<u8>>,
    pub timeout: Duration,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    /// Graph allows 4 concurrent secure-score requests per app per tenant.
    pub max_concurrent_requests: usize,
    /// Graph's global limit per app across all tenants: this many requests per window.
    pub app_request_limit: usize,
    pub app_request_window: Duration,
    /// Where managed-identity tokens come from (from the environment).
    pub managed_identity: ManagedIdentityEndpoints,
}

/// Managed-identity token endpoints, as the hosting platform announces them in the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedIdentityEndpoints {
    /// App Service / Functions: `IDENTITY_ENDPOINT`.
    pub identity_endpoint: Option<String>,
    /// App Service / Functions: `IDENTITY_HEADER`, sent as `X-IDENTITY-HEADER`.
    pub identity_header: Option<Secret>,
    /// IMDS root: `AZURE_POD_IDENTITY_AUTHORITY_HOST`, else `http://169.254.169.254`.
    pub imds_url: String,
}

/// The Azure Instance Metadata Service.
pub const DEFAULT_IMDS_URL: &str = "http://169.254.169.254";

#[derive(Debug, Clone, PartialEq)]
pub struct RefreshConfig {
    pub interval: Duration,
    pub failure_backoff: Duration,
    /// Tenant refreshes running at once, across all tenants.
    pub max_concurrent_tenants: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

/// One monitored tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantConfig {
    /// The `tenant` label.
    pub name: String,
    pub tenant_id: String,
    /// The credential's name: the `[credentials.NAME]` table, or the tenant name for inline keys.
    pub credential_name: String,
    pub credential: Arc<CredentialConfig>,
}

/// How to obtain a token for a tenant.
#[derive(Debug, Clone, PartialEq)]
pub enum CredentialConfig {
    /// Client credentials with a client secret.
    ClientSecret {
        client_id: String,
        secret: SecretSource,
    },
    /// Client credentials with a certificate assertion.
    Certificate {
        client_id: String,
        path: PathBuf,
        password: Option<Secret>,
    },
    /// Workload identity federation: an external token read from a file for every request.
    WorkloadIdentity {
        client_id: String,
        token_file: PathBuf,
    },
    /// Azure managed identity (IMDS or App Service), optionally user-assigned.
    ManagedIdentity { client_id: Option<String> },
}

/// Where a client secret lives.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretSource {
    Inline(Secret),
    /// Re-read for every token request so a rotated secret is picked up without a restart.
    File(PathBuf),
}

impl SecretSource {
    /// The secret's current value; a file's trailing newline is trimmed.
    pub fn read(&self) -> std::io::Result<Secret> {
        match self {
            SecretSource::Inline(s) => Ok(s.clone()),
            SecretSource::File(path) => {
                let text = std::fs::read_to_string(path)?;
                Ok(Secret::new(text.trim_end_matches(['\r', '\n'])))
            }
        }
    }
}

impl CredentialConfig {
    /// The app registration's client id, when the credential has one.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            CredentialConfig::ClientSecret { client_id, .. }
            | CredentialConfig::Certificate { client_id, .. }
            | CredentialConfig::WorkloadIdentity { client_id, .. } => Some(client_id),
            CredentialConfig::ManagedIdentity { client_id } => client_id.as_deref(),
        }
    }

    /// A short name of the credential type, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialConfig::ClientSecret { .. } => "client_secret",
            CredentialConfig::Certificate { .. } => "certificate",
            CredentialConfig::WorkloadIdentity { .. } => "workload_identity",
            CredentialConfig::ManagedIdentity { .. } => "managed_identity",
        }
    }
}

#[cfg(test)]
mod tests;
