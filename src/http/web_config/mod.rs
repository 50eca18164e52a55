//! `--web.config.file`: TLS, mutual TLS, basic auth and response headers, in the
//! exporter-toolkit format, so a web config written for node_exporter works unchanged.
//!
//! The file (and the certificates it names) is checked for changes on every new connection and
//! reloaded, so certificates rotate without a restart; a reload that fails keeps the last good
//! configuration and logs why. Successful bcrypt verifications are cached (as a SHA-256 of the
//! password, compared in constant time) so a scrape does not pay bcrypt every time.

mod source;
mod tls;

pub use source::WebConfigSource;
use tls::build_tls;
pub use tls::sans_allowed;

use crate::core::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls;

/// A web config problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("cannot read web config {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("web config {path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, Secret>>,
    /// exporter-toolkit's rate limiter; accepted so toolkit files load, not enforced.
    rate_limit: Option<serde_norway::Value>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    cert: Option<String>,
    key: Option<Secret>,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    client_ca: Option<String>,
    #[serde(default)]
    client_allowed_sans: Vec<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    // Go's crypto/tls knobs; rustls chooses safe suites and curves itself.
    #[serde(default)]
    cipher_suites: Vec<String>,
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    curve_preferences: Vec<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The usable form of a web config.
pub struct WebConfig {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// SANs a client certificate must carry one of (empty: any).
    pub client_allowed_sans: Vec<String>,
    pub users: BTreeMap<String, String>,
    pub headers: Vec<(hyper::header::HeaderName, hyper::header::HeaderValue)>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn invalid(path: &Path, message: impl Into<String>) -> WebConfigError {
    WebConfigError::Invalid {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, WebConfigError> {
    std::fs::read(path).map_err(|source| WebConfigError::Read {
        path: path.display().to_string(),
        source,
    })
}

impl WebConfig {
    /// Parses and validates `path`.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = read(path)?;
        WebConfig::parse(&text, path)
    }

    /// Parses and validates YAML `text`; `path` names it in errors and anchors nothing else.
    pub fn parse(text: &[u8], path: &Path) -> Result<WebConfig, WebConfigError> {
        let raw: RawWebConfig = if text.iter().all(|b| b.is_ascii_whitespace()) {
            RawWebConfig::default()
        } else {
            serde_norway::from_slice(text).map_err(|e| invalid(path, e.to_string()))?
        };
        let tls = match &raw.tls_server_config {
            Some(t) => {
                if !t.cipher_suites.is_empty()
                    || !t.curve_preferences.is_empty()
                    || t.prefer_server_cipher_suites.is_some()
                {
                    tracing::warn!("web config: cipher_suites, curve_preferences and prefer_server_cipher_suites are ignored; rustls uses its safe defaults");
                }
                Some(build_tls(path, t)?)
            }
            None => None,
        };
        if raw.http_server_config.as_ref().and_then(|h| h.http2) == Some(true) {
            tracing::info!("web config: http2 is not offered; the exporter serves HTTP/1.1");
        }
        if raw.rate_limit.is_some() {
            tracing::warn!("web config: rate_limit is accepted but not enforced");
        }
        let mut users = BTreeMap::new();
        for (user, hash) in raw.basic_auth_users.unwrap_or_default() {
            let h = hash.expose();
            if !(h.starts_with("$2a$") || h.starts_with("$2b$") || h.starts_with("$2y$"))
                || h.len() != 60
            {
                return Err(invalid(path, format!("basic_auth_users.{user}: not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)")));
            }
            users.insert(user, h.to_string());
        }
        let mut headers = Vec::new();
        for (k, v) in raw
            .http_server_config
            .map(|h| h.headers)
            .unwrap_or_default()
        {
            let name = hyper::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                invalid(
                    path,
                    format!("http_server_config.headers: {k:?} is not a header name"),
                )
            })?;
            let value = hyper::header::HeaderValue::from_str(&v).map_err(|_| {
                invalid(
                    path,
                    format!("http_server_config.headers.{k}: not a valid header value"),
                )
            })?;
            headers.push((name, value));
        }
        Ok(WebConfig {
            tls,
            client_allowed_sans: raw
                .tls_server_config
                .map(|t| t.client_allowed_sans)
                .unwrap_or_default(),
            users,
            headers,
        })
    }

    pub fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }
}
