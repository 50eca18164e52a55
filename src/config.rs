//! Configuration: the one place that reads the config file, `SECURESCORE_*` environment
//! overrides and the Azure SDK's `AZURE_*` convention, and turns them into a validated [`Config`].
//!
//! Data in: an optional TOML path and the process environment. Data out: [`Config`], whose
//! secrets are [`Secret`]s, or a [`ConfigError`] that names the bad key and where it came from.

use crate::cloud::Cloud;
use crate::secret::Secret;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    Parse(Box<figment::Error>),
    /// A key parsed but its value is not acceptable.
    #[error("invalid configuration: key `{key}`{origin}: {reason}")]
    Invalid {
        key: String,
        origin: String,
        reason: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Raw, deserialised shape (mirrors config.toml). Unknown keys are rejected everywhere.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawSettings {
    graph: RawGraph,
    refresh: RawRefresh,
    log: RawLog,
    web: RawWeb,
    metrics: RawMetrics,
    shard: RawShard,
    tenants: Vec<RawTenant>,
    credentials: BTreeMap<String, RawCredential>,
    /// Files or directories of generated tenant lists (TOML `[[tenants]]` or CSV).
    tenant_files: Vec<PathBuf>,
}

/// A tenants file: only `[[tenants]]` tables.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTenantFile {
    tenants: Vec<RawTenant>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawGraph {
    cloud: String,
    login_url: Option<String>,
    graph_url: Option<String>,
    ca_file: Option<PathBuf>,
    #[serde(with = "humantime_serde")]
    timeout: Duration,
    max_retries: u32,
    #[serde(with = "humantime_serde")]
    retry_backoff: Duration,
    max_concurrent_requests: usize,
    app_request_limit: usize,
    #[serde(with = "humantime_serde")]
    app_request_window: Duration,
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
struct RawRefresh {
    #[serde(with = "humantime_serde")]
    interval: Duration,
    #[serde(with = "humantime_serde")]
    failure_backoff: Duration,
    max_concurrent_tenants: usize,
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
struct RawLog {
    level: String,
    format: String,
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
struct RawWeb {
    listen_address: Vec<String>,
    config_file: Option<PathBuf>,
    healthy_without_auth: bool,
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
struct RawMetrics {
    controls: Option<String>,
    include_tenants: Vec<String>,
    exclude_tenants: Vec<String>,
    include_categories: Vec<String>,
    exclude_categories: Vec<String>,
    include_services: Vec<String>,
    exclude_services: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawShard {
    index: Option<u32>,
    count: Option<u32>,
}

/// Credential keys; a tenant carries the same keys inline (serde's `flatten` would break
/// `deny_unknown_fields` and figment's error attribution, so the tenant repeats them).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawCredential {
    client_id: Option<String>,
    client_secret: Option<Secret>,
    client_secret_file: Option<PathBuf>,
    client_certificate_path: Option<PathBuf>,
    client_certificate_password: Option<Secret>,
    federated_token_file: Option<PathBuf>,
    managed_identity: Option<bool>,
    managed_identity_client_id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawTenant {
    name: Option<String>,
    tenant_id: Option<String>,
    credential: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    client_secret_file: Option<PathBuf>,
    client_certificate_path: Option<PathBuf>,
    client_certificate_password: Option<Secret>,
    federated_token_file: Option<PathBuf>,
    managed_identity: Option<bool>,
    managed_identity_client_id: Option<String>,
}

impl RawTenant {
    fn inline_credential(&self) -> RawCredential {
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

    fn has_inline_credential(&self) -> bool {
        self.client_secret.is_some()
            || self.client_secret_file.is_some()
            || self.client_certificate_path.is_some()
            || self.client_certificate_password.is_some()
            || self.federated_token_file.is_some()
            || self.managed_identity.is_some()
            || self.managed_identity_client_id.is_some()
    }
}

// ---------------------------------------------------------------------------------------------
// Validated shape used by the rest of the crate.
// ---------------------------------------------------------------------------------------------

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
    pub series: crate::series_filter::SeriesFilter,
    /// This replica's shard (`index`, `count`); tenants of other shards were dropped.
    pub shard: Option<(u32, u32)>,
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

/// Environment variables of the Azure SDK convention, read only when no tenant is configured.
#[derive(Debug, Default, Clone)]
pub struct AzureEnv {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub federated_token_file: Option<String>,
    pub client_certificate_path: Option<String>,
    pub client_certificate_password: Option<String>,
    /// `AZURE_AUTHORITY_HOST`: the login host when `graph.login_url` is not set.
    pub authority_host: Option<String>,
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` (App Service managed identity).
    pub identity_endpoint: Option<String>,
    pub identity_header: Option<String>,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`: IMDS override.
    pub imds_host: Option<String>,
}

impl AzureEnv {
    pub fn from_process() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        AzureEnv {
            tenant_id: get("AZURE_TENANT_ID"),
            client_id: get("AZURE_CLIENT_ID"),
            client_secret: get("AZURE_CLIENT_SECRET"),
            federated_token_file: get("AZURE_FEDERATED_TOKEN_FILE"),
            client_certificate_path: get("AZURE_CLIENT_CERTIFICATE_PATH"),
            client_certificate_password: get("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
            authority_host: get("AZURE_AUTHORITY_HOST"),
            identity_endpoint: get("IDENTITY_ENDPOINT"),
            identity_header: get("IDENTITY_HEADER"),
            imds_host: get("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        }
    }

    /// True when the variables describe a usable tenant.
    pub fn is_complete(&self) -> bool {
        self.tenant_id.is_some()
            && self.client_id.is_some()
            && (self.client_secret.is_some()
                || self.federated_token_file.is_some()
                || self.client_certificate_path.is_some())
    }

    fn tenant(&self) -> RawTenant {
        RawTenant {
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone().map(Secret::new),
            federated_token_file: if self.client_secret.is_none() {
                self.federated_token_file.clone().map(PathBuf::from)
            } else {
                None
            },
            client_certificate_path: if self.client_secret.is_none()
                && self.federated_token_file.is_none()
            {
                self.client_certificate_path.clone().map(PathBuf::from)
            } else {
                None
            },
            client_certificate_password: self.client_certificate_password.clone().map(Secret::new),
            ..RawTenant::default()
        }
    }
}

/// Builds the figment: the exact file (if any), then `SECURESCORE_*` overrides.
pub fn figment(path: Option<&Path>) -> Figment {
    let mut fig = Figment::new();
    if let Some(path) = path {
        // file_exact: a typo in --config must be an error, not a silent empty config.
        fig = fig.merge(Toml::file_exact(path));
    }
    fig.merge(Env::prefixed(ENV_PREFIX).split("__"))
}

impl Config {
    /// Loads and validates: `path` (if given), the environment, and the Azure convention.
    pub fn load(path: Option<&Path>, azure: &AzureEnv) -> Result<Config, ConfigError> {
        Config::load_with(path, azure, &[])
    }

    /// Like [`Config::load`], with command-line overrides (`("shard.index", "2")`) on top.
    pub fn load_with(
        path: Option<&Path>,
        azure: &AzureEnv,
        overrides: &[(&str, String)],
    ) -> Result<Config, ConfigError> {
        let mut fig = figment(path);
        for (key, value) in overrides {
            let v: figment::value::Value = match value.parse::<u32>() {
                Ok(n) => n.into(),
                Err(_) => value.clone().into(),
            };
            fig = fig.merge(figment::providers::Serialized::default(key, v));
        }
        let raw: RawSettings = fig.extract().map_err(|e| ConfigError::Parse(Box::new(e)))?;
        validate(raw, &fig, azure)
    }
}

impl Config {
    /// Loads from TOML text instead of a file (for fuzzing and embedding); no environment.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let fig = Figment::new().merge(Toml::string(text));
        let raw: RawSettings = fig.extract().map_err(|e| ConfigError::Parse(Box::new(e)))?;
        validate(raw, &fig, &AzureEnv::default())
    }
}

/// Describes where a key came from, e.g. ` in TOML file /etc/x/config.toml`.
fn origin_of(fig: &Figment, key: &str) -> String {
    match fig.find_metadata(key) {
        Some(md) => match &md.source {
            Some(src) => format!(" (from {} {})", md.name, src),
            None => format!(" (from {})", md.name),
        },
        None => String::new(),
    }
}

fn invalid(fig: &Figment, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    let key = key.into();
    // Attribute to the most specific key figment knows; array elements share their array's source.
    let lookup = key.split('[').next().unwrap_or(&key).to_string();
    ConfigError::Invalid {
        origin: origin_of(fig, &lookup),
        key,
        reason: reason.into(),
    }
}

/// Parses `:10057`, `0.0.0.0:10057`, `[::]:10057` or `localhost:10057`.
pub fn parse_listen_address(addr: &str) -> Result<SocketAddr, String> {
    let addr = addr.trim();
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else if let Some(rest) = addr.strip_prefix("localhost:") {
        format!("127.0.0.1:{rest}")
    } else {
        addr.to_string()
    };
    full.parse::<SocketAddr>().map_err(|_| {
        format!("`{addr}` is not a host:port address such as `:10057` or `127.0.0.1:10057`")
    })
}

fn normalise_url(fig: &Figment, key: &str, value: &str) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(value)
        .map_err(|e| invalid(fig, key, format!("`{value}` is not a URL: {e}")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(invalid(
            fig,
            key,
            format!("`{value}` must be an http or https URL"),
        ));
    }
    if url.host_str().is_none() {
        return Err(invalid(fig, key, format!("`{value}` has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            fig,
            key,
            format!("`{value}` must not have a query or fragment"),
        ));
    }
    Ok(value.trim_end_matches('/').to_string())
}

const CSV_COLUMNS: [&str; 9] = [
    "name",
    "tenant_id",
    "credential",
    "client_id",
    "client_secret_file",
    "client_certificate_path",
    "federated_token_file",
    "managed_identity",
    "managed_identity_client_id",
];

/// Reads `tenant_files`: files, or directories whose `*.toml` and `*.csv` files are read in
/// name order. Returns each tenant with its file and line.
fn read_tenant_files(
    fig: &Figment,
    paths: &[PathBuf],
) -> Result<Vec<(PathBuf, usize, RawTenant)>, ConfigError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| {
            invalid(
                fig,
                "tenant_files",
                format!("cannot read {}: {e}", p.display()),
            )
        })?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| {
                    invalid(
                        fig,
                        "tenant_files",
                        format!("cannot list {}: {e}", p.display()),
                    )
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml" || x == "csv"))
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(p.clone());
        }
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| {
            invalid(
                fig,
                "tenant_files",
                format!("cannot read {}: {e}", f.display()),
            )
        })?;
        let bad =
            |line: usize, reason: String| invalid(fig, format!("{}:{line}", f.display()), reason);
        if f.extension().is_some_and(|x| x == "csv") {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let headers = reader
                .headers()
                .map_err(|e| bad(1, format!("not CSV: {e}")))?
                .clone();
            for h in headers.iter() {
                if !CSV_COLUMNS.contains(&h) {
                    return Err(bad(
                        1,
                        format!("unknown column `{h}` (known: {})", CSV_COLUMNS.join(", ")),
                    ));
                }
            }
            for (i, row) in reader.records().enumerate() {
                let line = i + 2;
                let row = row.map_err(|e| bad(line, format!("not CSV: {e}")))?;
                let get = |c: &str| {
                    headers
                        .iter()
                        .position(|h| h == c)
                        .and_then(|i| row.get(i))
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                };
                let managed_identity = match get("managed_identity").as_deref() {
                    None => None,
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    Some(other) => {
                        return Err(bad(
                            line,
                            format!("managed_identity: `{other}` is not true or false"),
                        ))
                    }
                };
                out.push((
                    f.clone(),
                    line,
                    RawTenant {
                        name: get("name"),
                        tenant_id: get("tenant_id"),
                        credential: get("credential"),
                        client_id: get("client_id"),
                        client_secret_file: get("client_secret_file").map(PathBuf::from),
                        client_certificate_path: get("client_certificate_path").map(PathBuf::from),
                        federated_token_file: get("federated_token_file").map(PathBuf::from),
                        managed_identity,
                        managed_identity_client_id: get("managed_identity_client_id"),
                        ..RawTenant::default()
                    },
                ));
            }
        } else {
            let parsed: RawTenantFile = Figment::from(Toml::string(&text))
                .extract()
                .map_err(|e| bad(0, e.to_string()))?;
            for (i, t) in parsed.tenants.into_iter().enumerate() {
                out.push((f.clone(), i + 1, t));
            }
        }
    }
    Ok(out)
}

/// The shard (of `count`) that owns `tenant`: a fixed hash of the name (FNV-1a, then MurmurHash3's
/// finaliser), so assignment is stable across restarts, versions and replicas, and adding a
/// tenant moves no other.
pub fn shard_of(tenant: &str, count: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in tenant.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // MurmurHash3's finaliser: FNV alone leaves names that differ in a digit close together.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h % u64::from(count.max(1))) as u32
}

/// Tenant ids go into the token URL path: a GUID or a verified domain, nothing else.
fn valid_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 253
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

fn validate(raw: RawSettings, fig: &Figment, azure: &AzureEnv) -> Result<Config, ConfigError> {
    let cloud =
        Cloud::parse(&raw.graph.cloud).map_err(|reason| invalid(fig, "graph.cloud", reason))?;
    let login_url = match (&raw.graph.login_url, &azure.authority_host) {
        (Some(u), _) => normalise_url(fig, "graph.login_url", u)?,
        (None, Some(host)) => normalise_url(fig, "AZURE_AUTHORITY_HOST", host)?,
        (None, None) => cloud.login_url().to_string(),
    };
    let graph_url = match &raw.graph.graph_url {
        Some(u) => normalise_url(fig, "graph.graph_url", u)?,
        None => cloud.graph_url().to_string(),
    };
    let ca_pem = match &raw.graph.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                invalid(
                    fig,
                    "graph.ca_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                invalid(
                    fig,
                    "graph.ca_file",
                    format!("{} holds no usable PEM certificate: {e}", path.display()),
                )
            })?;
            if certs.is_empty() {
                return Err(invalid(
                    fig,
                    "graph.ca_file",
                    format!("{} holds no PEM certificate", path.display()),
                ));
            }
            Some(pem)
        }
        None => None,
    };
    if raw.graph.timeout.is_zero() {
        return Err(invalid(fig, "graph.timeout", "must be greater than zero"));
    }
    if raw.graph.max_concurrent_requests == 0 || raw.graph.max_concurrent_requests > 4 {
        return Err(invalid(
            fig,
            "graph.max_concurrent_requests",
            "must be between 1 and 4 (Graph allows 4 concurrent secure-score requests per tenant)",
        ));
    }
    if raw.graph.app_request_limit == 0 || raw.graph.app_request_window.is_zero() {
        return Err(invalid(
            fig,
            "graph.app_request_limit",
            "the limit and graph.app_request_window must be above zero",
        ));
    }
    if raw.refresh.interval.is_zero() {
        return Err(invalid(
            fig,
            "refresh.interval",
            "must be greater than zero",
        ));
    }
    if raw.refresh.max_concurrent_tenants == 0 {
        return Err(invalid(
            fig,
            "refresh.max_concurrent_tenants",
            "must be at least 1",
        ));
    }
    if raw.refresh.failure_backoff.is_zero() {
        return Err(invalid(
            fig,
            "refresh.failure_backoff",
            "must be greater than zero",
        ));
    }
    let format = match raw.log.format.to_ascii_lowercase().as_str() {
        "text" | "logfmt" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            return Err(invalid(
                fig,
                "log.format",
                format!("`{other}` is not one of `text`, `json`"),
            ))
        }
    };
    if tracing_subscriber::EnvFilter::try_new(&raw.log.level).is_err() {
        return Err(invalid(
            fig,
            "log.level",
            format!(
                "`{}` is not a level (error, warn, info, debug, trace) or filter directive",
                raw.log.level
            ),
        ));
    }
    let mut listen = Vec::new();
    for (i, addr) in raw.web.listen_address.iter().enumerate() {
        listen.push(
            parse_listen_address(addr)
                .map_err(|reason| invalid(fig, format!("web.listen_address[{i}]"), reason))?,
        );
    }
    if listen.is_empty() {
        return Err(invalid(
            fig,
            "web.listen_address",
            "needs at least one address",
        ));
    }

    let mut named = BTreeMap::new();
    for (name, cred) in &raw.credentials {
        let key = format!("credentials.{name}");
        let built = build_credential(fig, &key, cred)?;
        named.insert(name.clone(), Arc::new(built));
    }

    // Where each tenant was defined, for error messages: `tenants[i]` or `FILE:LINE`.
    let mut raw_tenants: Vec<RawTenant> = raw.tenants;
    let mut origins: Vec<String> = (0..raw_tenants.len())
        .map(|i| format!("tenants[{i}]"))
        .collect();
    for (path, line, t) in read_tenant_files(fig, &raw.tenant_files)? {
        origins.push(format!("{}:{line}", path.display()));
        raw_tenants.push(t);
    }
    if raw_tenants.is_empty() && azure.is_complete() {
        raw_tenants.push(azure.tenant());
        origins.push("AZURE_TENANT_ID".into());
    }
    if raw_tenants.is_empty() {
        return Err(invalid(
            fig,
            "tenants",
            "no tenant configured: add a [[tenants]] table, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
        ));
    }
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mut tenants = Vec::with_capacity(raw_tenants.len());
    for (i, t) in raw_tenants.iter().enumerate() {
        let key = origins[i].clone();
        let tenant_id = t
            .tenant_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(fig, format!("{key}.tenant_id"), "is required"))?
            .to_string();
        if !valid_tenant_id(&tenant_id) {
            return Err(invalid(
                fig,
                format!("{key}.tenant_id"),
                format!("`{tenant_id}` is not a tenant GUID or domain name"),
            ));
        }
        let name = t.name.clone().unwrap_or_else(|| tenant_id.clone());
        if name.is_empty() {
            return Err(invalid(fig, format!("{key}.name"), "must not be empty"));
        }
        if !names.insert(name.clone()) {
            return Err(invalid(
                fig,
                format!("{key}.name"),
                format!("duplicate tenant name `{name}`"),
            ));
        }
        if !ids.insert(tenant_id.to_ascii_lowercase()) {
            return Err(invalid(
                fig,
                format!("{key}.tenant_id"),
                format!("duplicate tenant_id `{tenant_id}`"),
            ));
        }
        let (credential_name, credential) = match &t.credential {
            Some(cname) => {
                if t.has_inline_credential() || t.client_id.is_some() {
                    return Err(invalid(
                        fig,
                        format!("{key}.credential"),
                        "a tenant that references a named credential must not also set credential keys",
                    ));
                }
                let cred = named.get(cname).ok_or_else(|| {
                    invalid(
                        fig,
                        format!("{key}.credential"),
                        format!("no [credentials.{cname}] table is defined"),
                    )
                })?;
                (cname.clone(), cred.clone())
            }
            None => (
                name.clone(),
                Arc::new(build_credential(fig, &key, &t.inline_credential())?),
            ),
        };
        tenants.push(TenantConfig {
            name,
            tenant_id,
            credential_name,
            credential,
        });
    }

    let controls = match raw.metrics.controls.as_deref() {
        None => crate::series_filter::ControlsMode::All,
        Some(v) => crate::series_filter::ControlsMode::parse(v).ok_or_else(|| {
            invalid(
                fig,
                "metrics.controls",
                format!("`{v}` is not one of `all`, `incomplete`, `none`"),
            )
        })?,
    };
    let series = crate::series_filter::SeriesFilter {
        controls,
        categories: crate::series_filter::Patterns {
            include: raw.metrics.include_categories,
            exclude: raw.metrics.exclude_categories,
        },
        services: crate::series_filter::Patterns {
            include: raw.metrics.include_services,
            exclude: raw.metrics.exclude_services,
        },
    };
    let tenant_filter = crate::series_filter::Patterns {
        include: raw.metrics.include_tenants,
        exclude: raw.metrics.exclude_tenants,
    };
    tenants.retain(|t| tenant_filter.allows(&t.name));
    let shard = match (raw.shard.index, raw.shard.count) {
        (None, None) => None,
        (Some(i), Some(n)) if n > 0 && i < n => Some((i, n)),
        (Some(_), Some(_)) => {
            return Err(invalid(
                fig,
                "shard.index",
                "must be below shard.count, and shard.count above 0",
            ))
        }
        _ => {
            return Err(invalid(
                fig,
                "shard.count",
                "shard.index and shard.count go together",
            ))
        }
    };
    if let Some((i, n)) = shard {
        tenants.retain(|t| shard_of(&t.name, n) == i);
    }
    Ok(Config {
        graph: GraphConfig {
            scope: format!("{}/.default", cloud.graph_url()),
            cloud,
            login_url,
            graph_url,
            ca_pem,
            timeout: raw.graph.timeout,
            max_retries: raw.graph.max_retries,
            retry_backoff: raw.graph.retry_backoff,
            max_concurrent_requests: raw.graph.max_concurrent_requests,
            app_request_limit: raw.graph.app_request_limit,
            app_request_window: raw.graph.app_request_window,
            managed_identity: ManagedIdentityEndpoints {
                identity_endpoint: azure.identity_endpoint.clone(),
                identity_header: azure.identity_header.clone().map(Secret::new),
                imds_url: azure
                    .imds_host
                    .as_deref()
                    .unwrap_or(DEFAULT_IMDS_URL)
                    .trim_end_matches('/')
                    .to_string(),
            },
        },
        refresh: RefreshConfig {
            interval: raw.refresh.interval,
            failure_backoff: raw.refresh.failure_backoff,
            max_concurrent_tenants: raw.refresh.max_concurrent_tenants,
        },
        log: LogConfig {
            level: raw.log.level,
            format,
        },
        listen,
        web_config_file: raw.web.config_file,
        healthy_without_auth: raw.web.healthy_without_auth,
        series,
        shard,
        tenants,
    })
}

fn build_credential(
    fig: &Figment,
    key: &str,
    c: &RawCredential,
) -> Result<CredentialConfig, ConfigError> {
    let mut kinds = Vec::new();
    if c.client_secret.is_some() {
        kinds.push("client_secret");
    }
    if c.client_secret_file.is_some() {
        kinds.push("client_secret_file");
    }
    if c.client_certificate_path.is_some() {
        kinds.push("client_certificate_path");
    }
    if c.federated_token_file.is_some() {
        kinds.push("federated_token_file");
    }
    if c.managed_identity == Some(true) {
        kinds.push("managed_identity");
    }
    if kinds.len() > 1 {
        return Err(invalid(
            fig,
            format!("{key}.{}", kinds[1]),
            format!("conflicts with `{}`: set exactly one credential", kinds[0]),
        ));
    }
    let client_id = || -> Result<String, ConfigError> {
        c.client_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                invalid(
                    fig,
                    format!("{key}.client_id"),
                    "is required for this credential",
                )
            })
    };
    if c.client_certificate_password.is_some() && c.client_certificate_path.is_none() {
        return Err(invalid(
            fig,
            format!("{key}.client_certificate_password"),
            "is only valid together with client_certificate_path",
        ));
    }
    if c.managed_identity_client_id.is_some() && c.managed_identity != Some(true) {
        return Err(invalid(
            fig,
            format!("{key}.managed_identity_client_id"),
            "is only valid together with managed_identity = true",
        ));
    }
    match kinds.first().copied() {
        Some("client_secret") => {
            let secret = c.client_secret.clone().unwrap_or_default();
            if secret.is_empty() {
                return Err(invalid(fig, format!("{key}.client_secret"), "must not be empty"));
            }
            Ok(CredentialConfig::ClientSecret {
                client_id: client_id()?,
                secret: SecretSource::Inline(secret),
            })
        }
        Some("client_secret_file") => {
            let path = c.client_secret_file.clone().unwrap_or_default();
            let source = SecretSource::File(path.clone());
            match source.read() {
                Ok(s) if !s.is_empty() => {}
                Ok(_) => {
                    return Err(invalid(
                        fig,
                        format!("{key}.client_secret_file"),
                        format!("{} is empty", path.display()),
                    ))
                }
                Err(e) => {
                    return Err(invalid(
                        fig,
                        format!("{key}.client_secret_file"),
                        format!("cannot read {}: {e}", path.display()),
                    ))
                }
            }
            Ok(CredentialConfig::ClientSecret {
                client_id: client_id()?,
                secret: source,
            })
        }
        Some("client_certificate_path") => {
            let path = c.client_certificate_path.clone().unwrap_or_default();
            let password = c.client_certificate_password.as_ref().map(|p| p.expose());
            if let Err(e) = crate::auth::certificate::CertificateCredential::load(&path, password) {
                return Err(invalid(
                    fig,
                    format!("{key}.client_certificate_path"),
                    format!("{}: {e}", path.display()),
                ));
            }
            Ok(CredentialConfig::Certificate {
                client_id: client_id()?,
                path,
                password: c.client_certificate_password.clone(),
            })
        }
        Some("federated_token_file") => Ok(CredentialConfig::WorkloadIdentity {
            client_id: client_id()?,
            token_file: c.federated_token_file.clone().unwrap_or_default(),
        }),
        Some(_) => Ok(CredentialConfig::ManagedIdentity {
            client_id: c
                .managed_identity_client_id
                .clone()
                .or_else(|| c.client_id.clone()),
        }),
        None => Err(invalid(
            fig,
            format!("{key}.client_secret"),
            "no credential: set one of client_secret, client_secret_file, client_certificate_path, federated_token_file, managed_identity, or credential = \"NAME\"",
        )),
    }
}

#[cfg(test)]
mod tests;
