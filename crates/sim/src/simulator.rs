//! [`Simulator`]: starts the listeners, generates every tenant's data, and offers tests their
//! controls (faults, data changes, the request log).

pub use crate::error::SimulatorError;
use crate::generate::TenantData;
use crate::identity;
use crate::listen::{accept_loop, imds_loop};
use crate::options::{Endpoint, Fault, RequestRecord, SimulatorOptions};
use crate::spec::TenantSpec;
use crate::state::{lock, FaultRule, SimTenant, State, StoredData};
use crate::tls::make_certificates;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A running simulator.
pub struct Simulator {
    addr: SocketAddr,
    imds_addr: Option<SocketAddr>,
    ca_pem: String,
    state: Arc<State>,
    shutdown: CancellationToken,
}

/// Generates every tenant's data, on all cores (a fleet of thousands takes a while).
pub(crate) fn generate_all(specs: Vec<TenantSpec>, today: time::Date) -> Vec<SimTenant> {
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
