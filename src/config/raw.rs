//! The raw, deserialised shape of the config file (mirrors config.toml). Unknown keys are
//! rejected everywhere; defaults are the documented ones. [`super::validate`] turns it into a
//! [`super::Config`].

use super::DEFAULT_LISTEN_ADDRESS;
use crate::core::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSettings {
    pub(crate) graph: RawGraph,
    pub(crate) refresh: RawRefresh,
    pub(crate) log: RawLog,
    pub(crate) web: RawWeb,
    pub(crate) metrics: RawMetrics,
    pub(crate) shard: RawShard,
    pub(crate) history: RawHistory,
    pub(crate) state: RawState,
    pub(crate) tenants: Vec<RawTenant>,
    pub(crate) credentials: BTreeMap<String, RawCredential>,
    /// Files or directories of generated tenant lists (TOML `[[tenants]]` or CSV).
    pub(crate) tenant_files: Vec<PathBuf>,
}

/// A tenants file: only `[[tenants]]` tables.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTenantFile {
    pub(crate) tenants: Vec<RawTenant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawGraph {
    pub(crate) cloud: String,
    pub(crate) login_url: Option<String>,
    pub(crate) graph_url: Option<String>,
    pub(crate) ca_file: Option<PathBuf>,
    #[serde(with = "humantime_serde")]
    pub(crate) timeout: Duration,
    pub(crate) max_retries: u32,
    #[serde(with = "humantime_serde")]
    pub(crate) retry_backoff: Duration,
    pub(crate) max_concurrent_requests: usize,
    pub(crate) app_request_limit: usize,
    #[serde(with = "humantime_serde")]
    pub(crate) app_request_window: Duration,
}

impl Default for RawGraph {
    fn default() -> Self {
        RawGraph {
            cloud: "global".into(),
            login_url: None,
            graph_url: None,
            ca_file: None,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            retry_backoff: Duration::from_secs(1),
            max_concurrent_requests: 4,
            app_request_limit: 130_000,
            app_request_window: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRefresh {
    #[serde(with = "humantime_serde")]
    pub(crate) interval: Duration,
    #[serde(with = "humantime_serde")]
    pub(crate) failure_backoff: Duration,
    pub(crate) max_concurrent_tenants: usize,
}

impl Default for RawRefresh {
    fn default() -> Self {
        RawRefresh {
            interval: Duration::from_secs(3600),
            failure_backoff: Duration::from_secs(60),
            max_concurrent_tenants: 64,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawLog {
    pub(crate) level: String,
    pub(crate) format: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawWeb {
    pub(crate) listen_address: Vec<String>,
    pub(crate) config_file: Option<PathBuf>,
    pub(crate) healthy_without_auth: bool,
}

impl Default for RawWeb {
    fn default() -> Self {
        RawWeb {
            listen_address: vec![DEFAULT_LISTEN_ADDRESS.into()],
            config_file: None,
            healthy_without_auth: false,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawMetrics {
    pub(crate) controls: Option<String>,
    pub(crate) include_tenants: Vec<String>,
    pub(crate) exclude_tenants: Vec<String>,
    pub(crate) include_categories: Vec<String>,
    pub(crate) exclude_categories: Vec<String>,
    pub(crate) include_services: Vec<String>,
    pub(crate) exclude_services: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawHistory {
    pub(crate) days: u32,
}

impl Default for RawHistory {
    fn default() -> Self {
        RawHistory { days: 90 }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawState {
    pub(crate) path: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawShard {
    pub(crate) index: Option<u32>,
    pub(crate) count: Option<u32>,
}

/// Credential keys; a tenant carries the same keys inline (serde's `flatten` would break
/// `deny_unknown_fields` and figment's error attribution, so the tenant repeats them).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawCredential {
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) client_secret_file: Option<PathBuf>,
    pub(crate) client_certificate_path: Option<PathBuf>,
    pub(crate) client_certificate_password: Option<Secret>,
    pub(crate) federated_token_file: Option<PathBuf>,
    pub(crate) managed_identity: Option<bool>,
    pub(crate) managed_identity_client_id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawTenant {
    pub(crate) name: Option<String>,
    pub(crate) tenant_id: Option<String>,
    pub(crate) credential: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) client_secret_file: Option<PathBuf>,
    pub(crate) client_certificate_path: Option<PathBuf>,
    pub(crate) client_certificate_password: Option<Secret>,
    pub(crate) federated_token_file: Option<PathBuf>,
    pub(crate) managed_identity: Option<bool>,
    pub(crate) managed_identity_client_id: Option<String>,
}

impl RawTenant {
    pub(crate) fn inline_credential(&self) -> RawCredential {
        RawCredential {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            client_secret_file: self.client_secret_file.clone(),
            client_certificate_path: self.client_certificate_path.clone(),
            client_certificate_password: self.client_certificate_password.clone(),
            federated_token_file: self.federated_token_file.clone(),
            managed_identity: self.managed_identity,
            managed_identity_client_id: self.managed_identity_client_id.clone(),
        }
    }

    pub(crate) fn has_inline_credential(&self) -> bool {
        self.client_secret.is_some()
            || self.client_secret_file.is_some()
            || self.client_certificate_path.is_some()
            || self.client_certificate_password.is_some()
            || self.federated_token_file.is_some()
            || self.managed_identity.is_some()
            || self.managed_identity_client_id.is_some()
    }
}
