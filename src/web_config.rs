//! `--web.config.file`: TLS, mutual TLS, basic auth and response headers, in the
//! exporter-toolkit format, so a web config written for node_exporter works unchanged.
//!
//! The file (and the certificates it names) is checked for changes on every new connection and
//! reloaded, so certificates rotate without a restart; a reload that fails keeps the last good
//! configuration and logs why. Successful bcrypt verifications are cached (as a SHA-256 of the
//! password, compared in constant time) so a scrape does not pay bcrypt every time.

use crate::secret::Secret;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;
use tokio_rustls::rustls::{self, pki_types};

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

/// A client verifier for `RequestClientCert`/`RequireAnyClientCert`: any certificate, unverified,
/// as Go's crypto/tls does for those modes.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::server::danger::ClientCertVerifier for AnyClientCert {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
    fn verify_client_cert(
        &self,
        _end_entity: &pki_types::CertificateDer<'_>,
        _intermediates: &[pki_types::CertificateDer<'_>],
        _now: pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn tls_version(
    path: &Path,
    key: &str,
    v: &str,
) -> Result<&'static rustls::SupportedProtocolVersion, WebConfigError> {
    match v {
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS10" | "TLS11" => Err(invalid(
            path,
            format!("tls_server_config.{key}: {v} is not supported (insecure); use TLS12 or TLS13"),
        )),
        other => Err(invalid(
            path,
            format!("tls_server_config.{key}: unknown version {other:?} (TLS12 or TLS13)"),
        )),
    }
}

const CLIENT_AUTH_TYPES: [&str; 5] = [
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
];

fn build_tls(path: &Path, t: &RawTls) -> Result<Arc<rustls::ServerConfig>, WebConfigError> {
    use pki_types::pem::PemObject;
    let auth = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    if !CLIENT_AUTH_TYPES.contains(&auth) {
        return Err(invalid(
            path,
            format!(
                "tls_server_config.client_auth_type: unknown value {auth:?} (one of {})",
                CLIENT_AUTH_TYPES.join(", ")
            ),
        ));
    }
    let read = |key: &str, f: &Path| {
        std::fs::read(f).map_err(|e| {
            invalid(
                path,
                format!("tls_server_config.{key}: cannot read {}: {e}", f.display()),
            )
        })
    };
    let cert_pem = match (&t.cert_file, &t.cert) {
        (Some(f), None) => read("cert_file", f)?,
        (None, Some(c)) => c.clone().into_bytes(),
        (Some(_), Some(_)) => {
            return Err(invalid(
                path,
                "tls_server_config: set cert_file or cert, not both",
            ))
        }
        (None, None) => return Err(invalid(path, "tls_server_config.cert_file is required")),
    };
    let key_pem = match (&t.key_file, &t.key) {
        (Some(f), None) => read("key_file", f)?,
        (None, Some(k)) => k.expose().as_bytes().to_vec(),
        (Some(_), Some(_)) => {
            return Err(invalid(
                path,
                "tls_server_config: set key_file or key, not both",
            ))
        }
        (None, None) => return Err(invalid(path, "tls_server_config.key_file is required")),
    };
    let certs: Vec<pki_types::CertificateDer<'static>> =
        pki_types::CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| {
                invalid(
                    path,
                    format!("tls_server_config.cert_file: not PEM certificates ({e})"),
                )
            })?;
    if certs.is_empty() {
        return Err(invalid(
            path,
            "tls_server_config.cert_file holds no certificate",
        ));
    }
    let key = pki_types::PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        invalid(
            path,
            format!("tls_server_config.key_file: no private key ({e})"),
        )
    })?;
    let min = tls_version(
        path,
        "min_version",
        t.min_version.as_deref().unwrap_or("TLS12"),
    )?;
    let max = tls_version(
        path,
        "max_version",
        t.max_version.as_deref().unwrap_or("TLS13"),
    )?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [&rustls::version::TLS12, &rustls::version::TLS13]
            .into_iter()
            .filter(|v| {
                let rank = |x: &rustls::SupportedProtocolVersion| {
                    if x.version == rustls::ProtocolVersion::TLSv1_2 {
                        12
                    } else {
                        13
                    }
                };
                rank(v) >= rank(min) && rank(v) <= rank(max)
            })
            .collect();
    if versions.is_empty() {
        return Err(invalid(
            path,
            "tls_server_config: min_version is above max_version",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| invalid(path, format!("tls_server_config: {e}")))?;
    let client_roots = || -> Result<Arc<rustls::RootCertStore>, WebConfigError> {
        let pem = match (&t.client_ca_file, &t.client_ca) {
            (Some(f), _) => read("client_ca_file", f)?,
            (None, Some(c)) => c.clone().into_bytes(),
            (None, None) => {
                return Err(invalid(
                    path,
                    "tls_server_config.client_ca_file is required for this client_auth_type",
                ))
            }
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in pki_types::CertificateDer::pem_slice_iter(&pem) {
            let c =
                c.map_err(|e| invalid(path, format!("tls_server_config.client_ca_file: {e}")))?;
            roots
                .add(c)
                .map_err(|e| invalid(path, format!("tls_server_config.client_ca_file: {e}")))?;
        }
        if roots.is_empty() {
            return Err(invalid(
                path,
                "tls_server_config.client_ca_file holds no certificate",
            ));
        }
        Ok(Arc::new(roots))
    };
    let verifier_error = |e: rustls::server::VerifierBuilderError| {
        invalid(path, format!("tls_server_config.client_ca_file: {e}"))
    };
    let builder = match auth {
        "NoClientCert" => builder.with_no_client_auth(),
        "RequestClientCert" | "RequireAnyClientCert" => builder.with_client_cert_verifier(Arc::new(AnyClientCert {
            mandatory: auth == "RequireAnyClientCert",
            algorithms: provider.signature_verification_algorithms,
        })),
        "VerifyClientCertIfGiven" => builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder_with_provider(client_roots()?, provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(verifier_error)?,
        ),
        "RequireAndVerifyClientCert" => builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder_with_provider(client_roots()?, provider.clone())
                .build()
                .map_err(verifier_error)?,
        ),
        other => {
            return Err(invalid(
                path,
                format!("tls_server_config.client_auth_type: unknown value {other:?} (NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"),
            ))
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        invalid(
            path,
            format!("tls_server_config: certificate and key do not work together ({e})"),
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
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

/// The files whose change triggers a reload.
fn watched_files(path: &Path) -> Vec<PathBuf> {
    let mut files = vec![path.to_path_buf()];
    if let Ok(text) = std::fs::read(path) {
        if let Ok(raw) = serde_norway::from_slice::<RawWebConfig>(&text) {
            if let Some(t) = raw.tls_server_config {
                files.extend(t.cert_file);
                files.extend(t.key_file);
                files.extend(t.client_ca_file);
            }
        }
    }
    files
}

fn stamp(files: &[PathBuf]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

/// The parsed config, the files it came from, and their modification times then.
type Loaded = (Arc<WebConfig>, Vec<PathBuf>, Vec<Option<SystemTime>>);

/// A web config that follows its file.
pub struct WebConfigSource {
    path: PathBuf,
    current: RwLock<Loaded>,
    /// user → SHA-256 of a password that verified, so bcrypt runs once per password.
    verified: Mutex<HashMap<String, [u8; 32]>>,
}

impl WebConfigSource {
    pub fn open(path: &Path) -> Result<WebConfigSource, WebConfigError> {
        let config = WebConfig::load(path)?;
        let files = watched_files(path);
        let stamps = stamp(&files);
        Ok(WebConfigSource {
            path: path.to_path_buf(),
            current: RwLock::new((Arc::new(config), files, stamps)),
            verified: Mutex::new(HashMap::new()),
        })
    }

    /// The current config, reloaded first if a watched file changed.
    pub fn get(&self) -> Arc<WebConfig> {
        let (config, files, stamps) = {
            let cur = self.current.read().unwrap_or_else(|e| e.into_inner());
            (cur.0.clone(), cur.1.clone(), cur.2.clone())
        };
        if stamp(&files) == stamps {
            return config;
        }
        let files = watched_files(&self.path);
        let stamps = stamp(&files);
        match WebConfig::load(&self.path) {
            Ok(fresh) => {
                tracing::info!(path = %self.path.display(), "web config reloaded");
                let fresh = Arc::new(fresh);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) =
                    (fresh.clone(), files, stamps);
                self.verified
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                fresh
            }
            Err(e) => {
                tracing::error!(error = %e, "web config reload failed; keeping the previous one");
                // Remember the stamps so a broken file is not re-parsed on every connection.
                let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
                cur.1 = files;
                cur.2 = stamps;
                config
            }
        }
    }

    /// Checks `Authorization: Basic …` against the users. Runs bcrypt off the async runtime.
    pub async fn authorize(&self, config: &WebConfig, header: Option<&str>) -> bool {
        if !config.requires_auth() {
            return true;
        }
        use base64::Engine;
        let Some(encoded) = header.and_then(|h| h.strip_prefix("Basic ")) else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(decoded) else {
            return false;
        };
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, password.as_bytes())
            .as_ref()
            .try_into()
            .unwrap_or([0; 32]);
        if let Some(known) = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)
        {
            if constant_time_eq(known, &digest) {
                return true;
            }
        }
        // Unknown users still pay one bcrypt, so timing does not reveal which users exist.
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = config.users.get(user).cloned();
        let ok_user = hash.is_some();
        let hash = match hash {
            Some(h) => h,
            None => DUMMY
                .get_or_init(|| bcrypt::hash("not-a-user", 10).unwrap_or_default())
                .clone(),
        };
        let password = password.to_string();
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false)
                && ok_user;
        if ok {
            self.verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(user.to_string(), digest);
        }
        ok
    }
}

/// Compares two digests without an early exit.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when the peer certificate carries one of `allowed` as a DNS, IP, email or URI SAN.
pub fn sans_allowed(cert: &[u8], allowed: &[String]) -> bool {
    use x509_parser::extensions::GeneralName;
    if allowed.is_empty() {
        return true;
    }
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
        return false;
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return false;
    };
    san.value.general_names.iter().any(|n| {
        let v = match n {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                s.to_string()
            }
            GeneralName::IPAddress(b) => match b.len() {
                4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
                16 => <[u8; 16]>::try_from(*b)
                    .map(|a| std::net::Ipv6Addr::from(a).to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            },
            _ => String::new(),
        };
        allowed.contains(&v)
    })
}
