//! A Microsoft Graph and Entra ID look-alike on loopback HTTPS, for `demo`, tests and benchmarks.
//!
//! It serves `POST /{tenant}/oauth2/v2.0/token` (client credentials) and the two Secure Score
//! endpoints, and behaves like the real services where the exporter can tell the difference
//! (see `graph-secure-score.md`):
//!
//! - the token decides the tenant (Graph URLs carry none); tokens expire; unknown or revoked
//!   tokens get 401 `InvalidAuthenticationToken`;
//! - each tenant gets at most 4 concurrent requests and 150 per minute, else 429 with `Retry-After`;
//! - payload quirks: numbers as strings, PascalCase keys, HTML in `implementationStatus`,
//!   `-1` peer values, a `nextLink` even with `$top=1`, profile pages of 200 with `$skiptoken`,
//!   profiles for unowned products, and a new tenant that answers `value: []`;
//! - Entra ID errors carry AADSTS codes in Entra's JSON shape;
//! - responses are gzipped when the client asks.
//!
//! Tests inject faults ([`Fault`]) per tenant and endpoint, and read the request log.

pub mod catalogue;
pub mod data;
pub mod identity;

use bytes::Bytes;
use data::{TenantData, TenantSpec};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_util::sync::CancellationToken;

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

/// Marks a response that must become a dropped connection.
#[derive(Clone, Copy)]
struct DropConnection;

/// A fault that applies to matching requests a number of times.
#[derive(Debug, Clone)]
struct FaultRule {
    tenant: Option<String>,
    endpoint: Option<Endpoint>,
    fault: Fault,
    remaining: usize,
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
            tenants: data::demo_tenants(),
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

struct IssuedToken {
    tenant: usize,
    expires: Instant,
    /// False when the app was consented without SecurityEvents.Read.All: Graph answers 403.
    roles: bool,
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

#[derive(Default)]
struct Limits {
    in_flight: usize,
    max_in_flight: usize,
    window: VecDeque<Instant>,
}

/// A tenant's payload items, each kept as serialised JSON: the parsed form of 90 days of
/// controls is several times larger, and pages are cheap to assemble from text.
#[derive(Default)]
struct StoredData {
    records: Vec<Box<str>>,
    profiles: Vec<Box<str>>,
}

fn serialize(v: &Value) -> Box<str> {
    serde_json::to_string(v)
        .unwrap_or_default()
        .into_boxed_str()
}

impl StoredData {
    fn generate(spec: &TenantSpec, today: time::Date) -> StoredData {
        let mut records = Vec::with_capacity(data::HISTORY_DAYS);
        let profiles = data::generate_with(spec, today, &mut |r| records.push(serialize(&r)));
        StoredData {
            records,
            profiles: profiles.iter().map(serialize).collect(),
        }
    }

    fn from_data(data: &TenantData) -> StoredData {
        StoredData {
            records: data.records.iter().map(serialize).collect(),
            profiles: data.profiles.iter().map(serialize).collect(),
        }
    }

    fn to_data(&self) -> TenantData {
        let de = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
        TenantData {
            records: self.records.iter().map(|s| de(s)).collect(),
            profiles: self.profiles.iter().map(|s| de(s)).collect(),
        }
    }
}

struct SimTenant {
    spec: TenantSpec,
    // Tests change a tenant's data mid-run (a control disappears, a score moves).
    data: Mutex<StoredData>,
}

struct State {
    base_url: String,
    tenants: Vec<SimTenant>,
    /// Tenant index by lower-case tenant id or domain, and by exact name (fleets are large).
    by_key: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
    token_lifetime: Duration,
    max_concurrent: usize,
    requests_per_minute: usize,
    tokens: Mutex<HashMap<String, IssuedToken>>,
    limits: Mutex<HashMap<usize, Limits>>,
    faults: Mutex<Vec<FaultRule>>,
    log: Mutex<Vec<RequestRecord>>,
    federation: identity::FederatedIssuer,
    clock_offset_secs: i64,
    record_requests: bool,
    latency: (Duration, Duration),
    used_jti: Mutex<std::collections::HashSet<String>>,
    managed_identity: Option<ManagedIdentitySpec>,
}

/// A running simulator.
pub struct Simulator {
    addr: SocketAddr,
    imds_addr: Option<SocketAddr>,
    ca_pem: String,
    state: Arc<State>,
    shutdown: CancellationToken,
}

/// Starting the simulator failed.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make the simulator's TLS certificate")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot configure TLS")]
    Tls(#[from] rustls::Error),
}

/// A CA and a leaf certificate for 127.0.0.1/localhost/::1, made fresh at every start.
fn make_certificates() -> Result<(String, rustls::ServerConfig), SimulatorError> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "securescore_exporter simulator CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let mut leaf_params = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "localhost".to_string(),
        "::1".to_string(),
    ])?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "securescore_exporter simulator");
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((ca.pem(), config))
}

/// Generates every tenant's data, on all cores (a fleet of thousands takes a while).
fn generate_all(specs: Vec<TenantSpec>, today: time::Date) -> Vec<SimTenant> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = specs.len().div_ceil(threads).max(1);
    let mut parts: Vec<Vec<TenantSpec>> = Vec::new();
    let mut rest = specs;
    while rest.len() > per {
        let tail = rest.split_off(per);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|spec| SimTenant {
                            data: Mutex::new(StoredData::generate(&spec, today)),
                            spec,
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

impl Simulator {
    /// Generates the tenants' data and starts serving.
    pub async fn start(options: SimulatorOptions) -> Result<Simulator, SimulatorError> {
        let listener =
            TcpListener::bind(options.listen)
                .await
                .map_err(|source| SimulatorError::Bind {
                    addr: options.listen,
                    source,
                })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimulatorError::Bind {
                addr: options.listen,
                source,
            })?;
        let (ca_pem, tls) = make_certificates()?;
        let today = options
            .today
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
        let tenants = generate_all(options.tenants, today);
        let mut by_key = HashMap::new();
        let mut by_name = HashMap::new();
        for (i, t) in tenants.iter().enumerate() {
            by_key.insert(t.spec.tenant_id.to_ascii_lowercase(), i);
            by_key.insert(t.spec.domain.to_ascii_lowercase(), i);
            by_name.insert(t.spec.name.clone(), i);
        }
        let state = Arc::new(State {
            base_url: format!("https://{addr}"),
            tenants,
            by_key,
            by_name,
            token_lifetime: options.token_lifetime,
            max_concurrent: options.max_concurrent,
            requests_per_minute: options.requests_per_minute,
            tokens: Mutex::default(),
            limits: Mutex::default(),
            faults: Mutex::default(),
            log: Mutex::default(),
            federation: identity::FederatedIssuer::new(format!("https://{addr}/oidc")),
            clock_offset_secs: options.clock_offset_secs,
            record_requests: options.record_requests,
            latency: options.latency,
            used_jti: Mutex::default(),
            managed_identity: options.managed_identity.clone(),
        });
        let shutdown = CancellationToken::new();
        tokio::spawn(accept_loop(
            listener,
            tokio_rustls::TlsAcceptor::from(Arc::new(tls)),
            state.clone(),
            shutdown.clone(),
        ));
        let imds_addr = match &options.managed_identity {
            Some(_) => {
                let l = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .map_err(|source| SimulatorError::Bind {
                        addr: options.listen,
                        source,
                    })?;
                let a = l.local_addr().map_err(|source| SimulatorError::Bind {
                    addr: options.listen,
                    source,
                })?;
                tokio::spawn(imds_loop(l, state.clone(), shutdown.clone()));
                Some(a)
            }
            None => None,
        };
        Ok(Simulator {
            addr,
            imds_addr,
            ca_pem,
            state,
            shutdown,
        })
    }

    /// `https://127.0.0.1:PORT`: both the login URL and the Graph URL.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CA certificate (PEM) to trust, as `graph.ca_file`.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The simulated tenants, with their credentials.
    pub fn tenants(&self) -> Vec<TenantSpec> {
        self.state.tenants.iter().map(|t| t.spec.clone()).collect()
    }

    /// The raw records (newest first) and profiles a tenant serves.
    pub fn tenant_data(&self, name: &str) -> Option<TenantData> {
        self.state
            .tenants
            .iter()
            .find(|t| t.spec.name == name)
            .map(|t| lock(&t.data).to_data())
    }

    /// Changes what a tenant serves from now on (for tests of lifecycle rules).
    pub fn update_tenant(&self, name: &str, f: impl FnOnce(&mut TenantData)) {
        if let Some(t) = self.state.tenants.iter().find(|t| t.spec.name == name) {
            let mut stored = lock(&t.data);
            let mut data = stored.to_data();
            f(&mut data);
            *stored = StoredData::from_data(&data);
        }
    }

    /// Makes the next `times` matching requests fail with `fault`. `tenant` is a name or id.
    pub fn inject(
        &self,
        tenant: Option<&str>,
        endpoint: Option<Endpoint>,
        fault: Fault,
        times: usize,
    ) {
        lock(&self.state.faults).push(FaultRule {
            tenant: tenant.map(str::to_string),
            endpoint,
            fault,
            remaining: times,
        });
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    /// Forgets every issued token, as if they were revoked.
    pub fn revoke_tokens(&self) {
        lock(&self.state.tokens).clear();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.state.log).clone()
    }

    /// Requests of `tenant` (name) to `endpoint`.
    pub fn count(&self, tenant: &str, endpoint: Endpoint) -> usize {
        lock(&self.state.log)
            .iter()
            .filter(|r| r.endpoint == endpoint && r.tenant.as_deref() == Some(tenant))
            .count()
    }

    /// The most Graph requests of `tenant` that were ever in flight at once.
    pub fn max_in_flight(&self, tenant: &str) -> usize {
        let idx = self
            .state
            .tenants
            .iter()
            .position(|t| t.spec.name == tenant);
        idx.and_then(|i| lock(&self.state.limits).get(&i).map(|l| l.max_in_flight))
            .unwrap_or(0)
    }

    /// The IMDS root (`http://127.0.0.1:PORT`) when a managed identity was configured.
    pub fn imds_url(&self) -> Option<String> {
        self.imds_addr.map(|a| format!("http://{a}"))
    }

    /// The App Service `IDENTITY_ENDPOINT` when a managed identity was configured.
    pub fn identity_endpoint(&self) -> Option<String> {
        self.imds_addr.map(|a| format!("http://{a}/msi/token"))
    }

    /// The simulator's OIDC issuer URL for federated credentials.
    pub fn federated_issuer(&self) -> &str {
        &self.state.federation.issuer
    }

    /// A federated (service-account) token for `subject`, valid for `lifetime`.
    pub fn issue_federated_token(&self, subject: &str, lifetime: Duration) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.state.federation.issue(subject, now, lifetime)
    }

    /// Stops accepting connections.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<State>,
    shutdown: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            _ = shutdown.cancelled() => return,
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move {
                    let resp = handle(&state, req).await;
                    if resp.extensions().get::<DropConnection>().is_some() {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "simulated reset",
                        ));
                    }
                    Ok(resp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                _ = conn => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

/// Plain-HTTP loop for the managed-identity endpoints (IMDS is not TLS).
async fn imds_loop(listener: TcpListener, state: Arc<State>, shutdown: CancellationToken) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            _ = shutdown.cancelled() => return,
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move {
                    let path = req.uri().path().to_string();
                    let resp = managed_identity(&state, req).await;
                    lock(&state.log).push(RequestRecord {
                        tenant: state.managed_identity.as_ref().map(|m| m.tenant.clone()),
                        endpoint: Endpoint::ManagedIdentity,
                        method: "GET".into(),
                        path_and_query: path,
                        authorization: false,
                        user_agent: None,
                        accept_encoding: None,
                        status: resp.status().as_u16(),
                        form: Vec::new(),
                        at: Instant::now(),
                    });
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type Resp = Response<Full<Bytes>>;

fn json_response(status: u16, body: &Value, gzip: bool) -> Resp {
    let raw = serde_json::to_vec(body).unwrap_or_default();
    raw_response(status, raw, gzip)
}

fn raw_response(status: u16, raw: Vec<u8>, gzip: bool) -> Resp {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
        .header("request-id", uuidish())
        .header("client-request-id", uuidish());
    let body = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        match enc.write_all(&raw).and_then(|_| enc.finish()) {
            Ok(z) => {
                builder = builder.header("content-encoding", "gzip");
                z
            }
            Err(_) => raw,
        }
    } else {
        raw
    };
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn uuidish() -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u64(..1 << 48)
    )
}

fn now_iso() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Entra ID's error shape.
fn entra_error(status: u16, error: &str, code: u32, text: &str) -> Resp {
    let trace = uuidish();
    let correlation = uuidish();
    let ts = now_iso();
    json_response(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {ts}"),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}")
        }),
        false,
    )
}

/// Graph's error shape.
fn graph_error(status: u16, code: &str, message: &str, gzip: bool) -> Resp {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message,
            "innerError": {"date": now_iso(), "request-id": uuidish(), "client-request-id": uuidish()}}}),
        gzip,
    )
}

/// Graph resources whose `/.default` scope the simulator accepts (one per supported cloud).
const ACCEPTED_SCOPES: [&str; 3] = [
    "https://graph.microsoft.com/.default",
    "https://graph.microsoft.us/.default",
    "https://dod-graph.microsoft.us/.default",
];

impl State {
    fn find_tenant(&self, key: &str) -> Option<usize> {
        self.by_key
            .get(&key.to_ascii_lowercase())
            .or_else(|| self.by_name.get(key))
            .copied()
    }

    /// Takes one use of the first fault matching this request.
    fn take_fault(&self, tenant: Option<usize>, endpoint: Endpoint) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let rule = faults.iter_mut().find(|r| {
            r.remaining > 0
                && r.endpoint.is_none_or(|e| e == endpoint)
                && match (&r.tenant, tenant) {
                    (None, _) => true,
                    (Some(key), Some(t)) => self.find_tenant(key) == Some(t),
                    (Some(_), None) => false,
                }
        })?;
        rule.remaining -= 1;
        let fault = rule.fault.clone();
        // Spent rules go, so a long run of injections does not accumulate.
        faults.retain(|r| r.remaining > 0);
        Some(fault)
    }
}

fn endpoint_of(method: &hyper::Method, path: &str) -> Endpoint {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", [_, "oauth2", "v2.0", "token"]) => Endpoint::Token,
        ("GET", ["v1.0", "security", s]) if s.eq_ignore_ascii_case("secureScores") => {
            Endpoint::SecureScores
        }
        ("GET", ["v1.0", "security", s])
            if s.eq_ignore_ascii_case("secureScoreControlProfiles") =>
        {
            Endpoint::ControlProfiles
        }
        _ => Endpoint::Other,
    }
}

async fn handle(state: &State, req: Request<Incoming>) -> Resp {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut record = RequestRecord {
        tenant: None,
        endpoint: endpoint_of(&method, &path),
        method: method.to_string(),
        path_and_query,
        authorization: req.headers().contains_key("authorization"),
        user_agent: header("user-agent"),
        accept_encoding: header("accept-encoding"),
        status: 0,
        form: Vec::new(),
        at: Instant::now(),
    };
    let gzip = record
        .accept_encoding
        .as_deref()
        .is_some_and(|v| v.to_ascii_lowercase().contains("gzip"));
    let authorization = header("authorization");
    let query = req.uri().query().unwrap_or("").to_string();
    let (resp, tenant) = match record.endpoint {
        Endpoint::Token => {
            let tenant_key = path
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            let body = Limited::new(req.into_body(), 64 * 1024).collect().await;
            let body = body.map(|b| b.to_bytes()).unwrap_or_default();
            token(state, &tenant_key, &body, &mut record.form).await
        }
        Endpoint::SecureScores | Endpoint::ControlProfiles => {
            graph(
                state,
                record.endpoint,
                authorization.as_deref(),
                &query,
                gzip,
            )
            .await
        }
        Endpoint::Other | Endpoint::ManagedIdentity => (
            graph_error(
                404,
                "UnknownError",
                &format!(
                    "Resource not found for the segment '{}'.",
                    path.rsplit('/').next().unwrap_or("")
                ),
                gzip,
            ),
            None,
        ),
    };
    record.tenant = tenant.map(|i| state.tenants[i].spec.name.clone());
    record.status = resp.status().as_u16();
    if state.record_requests {
        lock(&state.log).push(record);
    }
    resp
}

/// Applies a fault that answers by itself; `Slow` waits and lets the request go on.
async fn fault_response(fault: &Fault, gzip: bool, entra: bool) -> Option<Resp> {
    match fault {
        Fault::Slow(d) => {
            tokio::time::sleep(*d).await;
            None
        }
        Fault::Throttle { retry_after } => {
            let mut r = if entra {
                entra_error(429, "temporarily_unavailable", 50196, "The server temporarily blocked the request.")
            } else {
                graph_error(429, "TooManyRequests", "Too many requests.", gzip)
            };
            if let Some(s) = retry_after {
                r.headers_mut().insert("retry-after", s.to_string().parse().ok()?);
            }
            Some(r)
        }
        Fault::ServerError(code) => Some(if entra {
            entra_error(*code, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
        } else {
            graph_error(*code, "UnknownError", "An internal server error occurred.", gzip)
        }),
        Fault::MalformedJson => Some(raw_response(200, br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#security/secureScores","value":[{"id":"trunc"#.to_vec(), gzip)),
        Fault::Unauthorized => Some(graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.", gzip)),
        Fault::Forbidden => Some(graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", gzip)),
        Fault::ConnectionReset => {
            let mut r = raw_response(500, Vec::new(), false);
            r.extensions_mut().insert(DropConnection);
            Some(r)
        }
        Fault::WrongContentType => {
            let mut r = raw_response(200, b"<html><body><h1>Proxy error</h1><p>The upstream is unavailable.</p></body></html>".to_vec(), gzip);
            r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("text/html"));
            Some(r)
        }
        Fault::Oversized(n) => {
            let mut body = Vec::with_capacity(*n);
            body.extend_from_slice(br#"{"value":["#);
            while body.len() + 16 < *n {
                body.extend_from_slice(br#"{"id":"padding"},"#);
            }
            body.extend_from_slice(br#"{"id":"end"}]}"#);
            Some(raw_response(200, body, false))
        }
        Fault::Partial { .. } | Fault::NextLink(_) => None,
    }
}

async fn token(
    state: &State,
    tenant_key: &str,
    body: &[u8],
    form_log: &mut Vec<(String, String)>,
) -> (Resp, Option<usize>) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    for (k, v) in &form {
        let shown = if k == "client_secret" || k == "client_assertion" {
            "<redacted>".to_string()
        } else {
            v.clone()
        };
        form_log.push((k.clone(), shown));
    }
    form_log.sort();
    let Some(t) = state.find_tenant(tenant_key) else {
        return (
            entra_error(400, "invalid_request", 90002, &format!("Tenant '{tenant_key}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")),
            None,
        );
    };
    if let Some(f) = state.take_fault(Some(t), Endpoint::Token) {
        if let Some(r) = fault_response(&f, false, true).await {
            return (r, Some(t));
        }
    }
    let spec = &state.tenants[t].spec;
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "client_credentials" {
        return (
            entra_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            ),
            Some(t),
        );
    }
    if !ACCEPTED_SCOPES.contains(&get("scope")) {
        return (
            entra_error(400, "invalid_scope", 1002012, &format!("The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", get("scope"))),
            Some(t),
        );
    }
    let client_id = get("client_id");
    if client_id != spec.client_id || spec.consent == data::Consent::NoServicePrincipal {
        return (
            entra_error(400, "unauthorized_client", 700016, &format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", spec.domain)),
            Some(t),
        );
    }
    if spec.app_disabled {
        return (
            entra_error(
                401,
                "unauthorized_client",
                7000112,
                &format!("Application '{client_id}' is disabled."),
            ),
            Some(t),
        );
    }
    let assertion = get("client_assertion");
    if !assertion.is_empty() {
        if get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            return (
                entra_error(400, "invalid_request", 90014, "The request body must contain the following parameter: 'client_assertion_type'."),
                Some(t),
            );
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp() + state.clock_offset_secs;
        let audience = format!("{}/{tenant_key}/oauth2/v2.0/token", state.base_url);
        let checked = if identity::is_certificate_assertion(assertion) {
            identity::verify_certificate_assertion(
                assertion,
                &spec.certificates,
                client_id,
                &audience,
                now,
            )
            .and_then(|jti| {
                if lock(&state.used_jti).insert(jti) {
                    Ok(())
                } else {
                    Err(identity::Refusal {
                        status: 401,
                        error: "invalid_client",
                        code: 700025,
                        text: "Client assertion has already been used: its jti was seen before."
                            .into(),
                    })
                }
            })
        } else {
            state
                .federation
                .verify(assertion, &spec.federated_subjects, now)
        };
        if let Err(r) = checked {
            return (entra_error(r.status, r.error, r.code, &r.text), Some(t));
        }
    } else if get("client_secret") != spec.client_secret || spec.client_secret.is_empty() {
        return (
            entra_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app."),
            Some(t),
        );
    }
    (issue_token(state, t), Some(t))
}

/// Issues an access token for tenant `t`, valid on Graph until it expires.
fn issue_token(state: &State, t: usize) -> Resp {
    let access_token = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}",
        (0..96)
            .map(|_| fastrand::alphanumeric())
            .collect::<String>(),
        (0..43)
            .map(|_| fastrand::alphanumeric())
            .collect::<String>()
    );
    lock(&state.tokens).insert(
        access_token.clone(),
        IssuedToken {
            tenant: t,
            expires: Instant::now() + state.token_lifetime,
            roles: state.tenants[t].spec.consent != data::Consent::NoAppRole,
        },
    );
    let secs = state.token_lifetime.as_secs();
    json_response(
        200,
        &json!({"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": access_token}),
        false,
    )
}

/// The managed-identity endpoints: IMDS (`/metadata/identity/oauth2/token`, header
/// `Metadata: true`) and App Service (`/msi/token`, header `X-IDENTITY-HEADER`).
async fn managed_identity(state: &State, req: Request<Incoming>) -> Resp {
    let mi_error = |status: u16, error: &str, text: &str| {
        json_response(
            status,
            &json!({"error": error, "error_description": text}),
            false,
        )
    };
    let Some(mi) = &state.managed_identity else {
        return mi_error(404, "not_found", "no managed identity on this host");
    };
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let path = req.uri().path();
    let authorised = match path {
        "/metadata/identity/oauth2/token" => header("metadata") == "true",
        "/msi/token" => header("x-identity-header") == mi.header_secret,
        _ => return mi_error(404, "not_found", "unknown path"),
    };
    if !authorised {
        return mi_error(
            400,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    let resource = params.get("resource").map(String::as_str).unwrap_or("");
    if !ACCEPTED_SCOPES
        .iter()
        .any(|s| s.trim_end_matches("/.default") == resource.trim_end_matches('/'))
    {
        return mi_error(
            400,
            "invalid_resource",
            "AADSTS500011: The resource principal was not found in the tenant.",
        );
    }
    let identity_ok = match params.get("client_id") {
        Some(id) => mi.client_ids.contains(id),
        None => mi.system_assigned,
    };
    if !identity_ok {
        return mi_error(400, "invalid_request", "Identity not found");
    }
    let Some(t) = state.find_tenant(&mi.tenant) else {
        return mi_error(400, "invalid_request", "Identity not found");
    };
    let issued = issue_token(state, t);
    // Managed-identity endpoints send expires_in and expires_on as strings.
    let body = http_body_util::BodyExt::collect(issued.into_body())
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let secs = state.token_lifetime.as_secs();
    let expires_on = time::OffsetDateTime::now_utc().unix_timestamp() + secs as i64;
    let mut out = json!({"access_token": v["access_token"], "expires_on": expires_on.to_string(),
        "resource": resource, "token_type": "Bearer", "client_id": params.get("client_id").cloned().unwrap_or_else(|| "system".into())});
    if path.starts_with("/metadata") {
        out["expires_in"] = json!(secs.to_string());
    }
    json_response(200, &out, false)
}

/// Decrements the tenant's in-flight count when the request ends, however it ends.
struct InFlight<'a> {
    state: &'a State,
    tenant: usize,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(l) = lock(&self.state.limits).get_mut(&self.tenant) {
            l.in_flight = l.in_flight.saturating_sub(1);
        }
    }
}

/// Checks Graph's per-tenant limits; on success the request counts as in flight.
fn admit(state: &State, tenant: usize) -> Result<InFlight<'_>, u64> {
    let mut limits = lock(&state.limits);
    let l = limits.entry(tenant).or_default();
    let now = Instant::now();
    while l
        .window
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
    {
        l.window.pop_front();
    }
    if l.in_flight >= state.max_concurrent {
        return Err(1);
    }
    if l.window.len() >= state.requests_per_minute {
        let oldest = l.window.front().copied().unwrap_or(now);
        let wait = Duration::from_secs(60).saturating_sub(now.duration_since(oldest));
        return Err(wait.as_secs().max(1));
    }
    l.in_flight += 1;
    l.max_in_flight = l.max_in_flight.max(l.in_flight);
    l.window.push_back(now);
    Ok(InFlight { state, tenant })
}

fn issued_tenant_of(state: &State, token: &str) -> usize {
    lock(&state.tokens)
        .get(token)
        .map(|t| t.tenant)
        .unwrap_or(0)
}

fn skiptoken(offset: usize) -> String {
    format!("{offset:08x}-5c1e-4b7a-9d2f-{:012x}", 0x5ec5c0e_u64 * 7)
}

fn parse_skiptoken(token: &str) -> Option<usize> {
    usize::from_str_radix(token.get(..8)?, 16).ok()
}

async fn graph(
    state: &State,
    endpoint: Endpoint,
    authorization: Option<&str>,
    query: &str,
    gzip: bool,
) -> (Resp, Option<usize>) {
    let Some(token) = authorization.and_then(|a| a.strip_prefix("Bearer ")) else {
        return (
            graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty.",
                gzip,
            ),
            None,
        );
    };
    let tenant = {
        let tokens = lock(&state.tokens);
        match tokens.get(token) {
            None => None,
            Some(issued) if issued.expires <= Instant::now() => {
                drop(tokens);
                return (
                    graph_error(
                        401,
                        "InvalidAuthenticationToken",
                        "Lifetime validation failed, the token is expired.",
                        gzip,
                    ),
                    None,
                );
            }
            Some(issued) if !issued.roles => {
                drop(tokens);
                return (
                    graph_error(
                        403,
                        "Authorization_RequestDenied",
                        "Insufficient privileges to complete the operation.",
                        gzip,
                    ),
                    Some(issued_tenant_of(state, token)),
                );
            }
            Some(issued) => Some(issued.tenant),
        }
    };
    let Some(t) = tenant else {
        return (
            graph_error(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format.", gzip),
            None,
        );
    };
    let (lo, hi) = state.latency;
    if hi > Duration::ZERO {
        let span = hi.saturating_sub(lo).as_secs_f64();
        tokio::time::sleep(lo + Duration::from_secs_f64(span * fastrand::f64())).await;
    }
    let _in_flight = match admit(state, t) {
        Ok(g) => g,
        Err(wait) => {
            let mut r = graph_error(
                429,
                "TooManyRequests",
                "Too many requests, please retry after some time.",
                gzip,
            );
            if let Ok(v) = wait.to_string().parse() {
                r.headers_mut().insert("retry-after", v);
            }
            return (r, Some(t));
        }
    };
    let fault = state.take_fault(Some(t), endpoint);
    if let Some(f) = &fault {
        if let Some(r) = fault_response(f, gzip, false).await {
            return (r, Some(t));
        }
    }
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let top = params.get("$top").and_then(|v| v.parse::<usize>().ok());
    let offset = params
        .get("$skiptoken")
        .and_then(|v| parse_skiptoken(v))
        .or_else(|| params.get("$skip").and_then(|v| v.parse().ok()))
        .unwrap_or(0);
    let (page, page_len, total, path) = {
        let data = lock(&state.tenants[t].data);
        let (items, cap, path) = match endpoint {
            Endpoint::SecureScores => (&data.records, SCORES_PAGE_SIZE, "security/secureScores"),
            _ => (
                &data.profiles,
                PROFILES_PAGE_SIZE,
                "security/secureScoreControlProfiles",
            ),
        };
        let size = top.unwrap_or(cap).clamp(1, cap);
        let page: Vec<&str> = items.iter().skip(offset).take(size).map(|s| &**s).collect();
        (
            format!("[{}]", page.join(",")),
            page.len(),
            items.len(),
            path,
        )
    };
    let mut body =
        format!("{{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#{path}\"");
    // Graph adds a nextLink whenever more items exist, even when $top asked for fewer.
    let next = offset + page_len;
    let mut next_link = (next < total).then(|| {
        let top_part = top.map(|n| format!("$top={n}&")).unwrap_or_default();
        format!(
            "{}/v1.0/{path}?{top_part}$skiptoken={}",
            state.base_url,
            skiptoken(next)
        )
    });
    if let Some(Fault::NextLink(link)) = &fault {
        next_link = Some(link.clone());
    }
    if let Some(link) = next_link {
        body.push_str(&format!(",\"@odata.nextLink\":{}", json!(link)));
    }
    body.push_str(&format!(",\"value\":{page}}}"));
    let mut resp = raw_response(200, body.into_bytes(), gzip);
    if let Some(Fault::Partial { warning }) = &fault {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = warning.parse() {
            resp.headers_mut().insert("warning", v);
        }
    }
    (resp, Some(t))
}

/// A CA certificate in PEM form, for tests that need a readable `ca_file`.
pub fn test_ca_pem() -> String {
    make_certificates().map(|(pem, _)| pem).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip() {
        assert_eq!(parse_skiptoken(&skiptoken(200)), Some(200));
        assert_eq!(parse_skiptoken("zz"), None);
    }

    #[test]
    fn endpoints_are_recognised() {
        use hyper::Method;
        assert_eq!(
            endpoint_of(&Method::POST, "/contoso.onmicrosoft.com/oauth2/v2.0/token"),
            Endpoint::Token
        );
        assert_eq!(
            endpoint_of(&Method::GET, "/v1.0/security/secureScores"),
            Endpoint::SecureScores
        );
        assert_eq!(
            endpoint_of(&Method::GET, "/v1.0/security/securescorecontrolprofiles"),
            Endpoint::ControlProfiles
        );
        assert_eq!(
            endpoint_of(&Method::GET, "/beta/security/secureScores"),
            Endpoint::Other
        );
    }
}
