//! Wiring: builds every component from a [`Config`], binds the listeners, and runs the server
//! and one refresher per tenant until shutdown. Tests start the daemon exactly like `main` does,
//! on port 0.

use crate::auth::TokenProvider;
use crate::config::Config;
use crate::graph::{self, TenantGraph};
use crate::metrics::ExporterMetrics;
use crate::refresh::TenantRefresher;
use crate::server::{self, HttpState};
use crate::store::Store;
use crate::web_config::WebConfigSource;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Starting the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    #[error("graph_url is not a URL")]
    GraphUrl(#[source] url::ParseError),
    #[error(transparent)]
    WebConfig(#[from] crate::web_config::WebConfigError),
}

/// Exports notAfter of every certificate credential, and warns about those close to it.
fn record_certificate_expiry(config: &Config, metrics: &ExporterMetrics) {
    let mut seen = std::collections::HashSet::new();
    for t in &config.tenants {
        let crate::config::CredentialConfig::Certificate { path, password, .. } =
            t.credential.as_ref()
        else {
            continue;
        };
        if !seen.insert(t.credential_name.clone()) {
            continue;
        }
        match crate::auth::certificate::CertificateCredential::load(
            path,
            password.as_ref().map(|p| p.expose()),
        ) {
            Ok(cert) => {
                metrics.set_credential_expiry(&t.credential_name, cert.not_after as f64);
                let days_left = (cert.not_after as f64 - crate::store::unix_now()) / 86_400.0;
                if days_left < 14.0 {
                    tracing::warn!(credential = %t.credential_name, days_left = days_left.floor(), "certificate credential expires soon or has expired; renew it and upload the new certificate");
                }
            }
            Err(e) => {
                tracing::warn!(credential = %t.credential_name, error = %e, "certificate credential cannot be loaded")
            }
        }
    }
}

/// A Graph client per configured tenant, named by tenant: for the daemon and the one-shot commands.
pub fn tenant_graphs(
    config: &Config,
    metrics: &Arc<ExporterMetrics>,
) -> Result<Vec<(String, TenantGraph)>, AppError> {
    let http = graph::http_client(&config.graph).map_err(AppError::HttpClient)?;
    config
        .tenants
        .iter()
        .map(|t| {
            let tokens = TokenProvider::new(
                http.clone(),
                &config.graph,
                &t.name,
                &t.tenant_id,
                &t.credential_name,
                t.credential.clone(),
                metrics.clone(),
            );
            TenantGraph::new(
                http.clone(),
                &config.graph,
                &t.name,
                tokens,
                metrics.clone(),
            )
            .map(|g| (t.name.clone(), g))
            .map_err(AppError::GraphUrl)
        })
        .collect()
}

/// A built, not yet running daemon.
pub struct App {
    listeners: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
    state: HttpState,
    refreshers: Vec<TenantRefresher>,
}

impl App {
    /// Builds components and binds every listen address.
    pub async fn build(config: &Config) -> Result<App, AppError> {
        let web = match &config.web_config_file {
            Some(path) => Some(WebConfigSource::open(path)?),
            None => None,
        };
        let metrics = ExporterMetrics::new();
        let store = Arc::new(Store::new(
            config
                .tenants
                .iter()
                .map(|t| (t.name.as_str(), t.tenant_id.as_str())),
        ));
        metrics.register_store(
            store.clone(),
            config.refresh.interval,
            config.series.clone(),
        );
        record_certificate_expiry(config, &metrics);
        let refreshers = tenant_graphs(config, &metrics)?
            .into_iter()
            .map(|(name, graph)| TenantRefresher {
                name,
                graph,
                store: store.clone(),
                metrics: metrics.clone(),
                config: config.refresh.clone(),
            })
            .collect();
        let mut listeners = Vec::new();
        let mut addrs = Vec::new();
        for addr in &config.listen {
            let l = TcpListener::bind(addr)
                .await
                .map_err(|source| AppError::Bind {
                    addr: *addr,
                    source,
                })?;
            addrs.push(l.local_addr().map_err(|source| AppError::Bind {
                addr: *addr,
                source,
            })?);
            listeners.push(l);
        }
        Ok(App {
            listeners,
            addrs,
            state: HttpState {
                metrics,
                store,
                web: web.map(Arc::new),
            },
            refreshers,
        })
    }

    /// The bound addresses (the real ports when port 0 was asked for).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn store(&self) -> Arc<Store> {
        self.state.store.clone()
    }

    pub fn metrics(&self) -> Arc<ExporterMetrics> {
        self.state.metrics.clone()
    }

    /// Runs until `shutdown` fires, then waits for the server and refreshers to stop.
    pub async fn run_until(self, shutdown: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        for (listener, addr) in self.listeners.into_iter().zip(&self.addrs) {
            tracing::info!(address = %addr, "listening");
            tasks.spawn(server::serve(
                listener,
                self.state.clone(),
                shutdown.clone(),
            ));
        }
        for r in self.refreshers {
            tasks.spawn(r.run(shutdown.clone()));
        }
        while let Some(res) = tasks.join_next().await {
            if let Err(e) = res {
                // A panic in one task must not take the others down silently.
                tracing::error!(error = %e, "task ended abnormally");
            }
        }
    }
}
