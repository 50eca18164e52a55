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

/// One [`graph::AppLimiter`] per app registration (client id), shared by its tenants.
#[derive(Default)]
pub struct AppLimiters(std::sync::Mutex<std::collections::HashMap<String, Arc<graph::AppLimiter>>>);

impl AppLimiters {
    fn get(&self, config: &Config, t: &crate::config::TenantConfig) -> Arc<graph::AppLimiter> {
        let key = t
            .credential
            .client_id()
            .unwrap_or("managed-identity")
            .to_string();
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert_with(|| {
                Arc::new(graph::AppLimiter::new(
                    config.graph.app_request_limit,
                    config.graph.app_request_window,
                ))
            })
            .clone()
    }
}

/// The Graph client of one tenant.
fn tenant_graph(
    http: &reqwest::Client,
    config: &Config,
    t: &crate::config::TenantConfig,
    metrics: &Arc<ExporterMetrics>,
    limiters: &AppLimiters,
) -> Result<TenantGraph, AppError> {
    let tokens = TokenProvider::new(
        http.clone(),
        &config.graph,
        &t.name,
        &t.tenant_id,
        &t.credential_name,
        t.credential.clone(),
        metrics.clone(),
    );
    Ok(TenantGraph::new(
        http.clone(),
        &config.graph,
        &t.name,
        tokens,
        metrics.clone(),
    )
    .map_err(AppError::GraphUrl)?
    .with_app_limit(limiters.get(config, t)))
}

/// A Graph client per configured tenant, named by tenant: for the daemon and the one-shot commands.
pub fn tenant_graphs(
    config: &Config,
    metrics: &Arc<ExporterMetrics>,
) -> Result<Vec<(String, TenantGraph)>, AppError> {
    let http = graph::http_client(&config.graph).map_err(AppError::HttpClient)?;
    let limiters = AppLimiters::default();
    config
        .tenants
        .iter()
        .map(|t| {
            Ok((
                t.name.clone(),
                tenant_graph(&http, config, t, metrics, &limiters)?,
            ))
        })
        .collect()
}

/// Reads the configuration again, for reloads.
pub type ConfigLoader = Arc<dyn Fn() -> Result<Config, crate::config::ConfigError> + Send + Sync>;

/// A reload request: the answer goes back on the oneshot.
pub type ReloadRequest = tokio::sync::oneshot::Sender<Result<String, String>>;

/// A built, not yet running daemon.
pub struct App {
    listeners: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
    state: HttpState,
    config: Config,
    loader: Option<ConfigLoader>,
    reloads: tokio::sync::mpsc::Receiver<ReloadRequest>,
    reload_sender: tokio::sync::mpsc::Sender<ReloadRequest>,
    /// Refreshes running at once, across tenants.
    limit: Arc<tokio::sync::Semaphore>,
    /// Start of the refresh schedule.
    epoch: std::time::Instant,
    /// Graph's per-app limit, one window per app registration.
    limiters: AppLimiters,
}

/// A running tenant refresher.
struct Running {
    config: crate::config::TenantConfig,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl App {
    /// Builds components and binds every listen address.
    pub async fn build(config: &Config) -> Result<App, AppError> {
        App::build_with_loader(config, None).await
    }

    /// Like [`App::build`]; with a loader, SIGHUP (through [`App::reload_sender`]) and
    /// `POST /-/reload` re-read the configuration.
    pub async fn build_with_loader(
        config: &Config,
        loader: Option<ConfigLoader>,
    ) -> Result<App, AppError> {
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
        // Fail at build time, not in the background, if a client cannot be made.
        tenant_graphs(config, &metrics)?;
        let (reload_sender, reloads) = tokio::sync::mpsc::channel(4);
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
                reload: loader.is_some().then(|| reload_sender.clone()),
                healthy_without_auth: config.healthy_without_auth,
            },
            config: config.clone(),
            loader,
            reloads,
            reload_sender,
            limit: Arc::new(tokio::sync::Semaphore::new(
                config.refresh.max_concurrent_tenants,
            )),
            epoch: std::time::Instant::now(),
            limiters: AppLimiters::default(),
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

    /// Sends reload requests (SIGHUP in `main`); answered only when built with a loader.
    pub fn reload_sender(&self) -> tokio::sync::mpsc::Sender<ReloadRequest> {
        self.reload_sender.clone()
    }

    fn start_tenant(
        &self,
        http: &reqwest::Client,
        config: &Config,
        t: &crate::config::TenantConfig,
        shutdown: &CancellationToken,
    ) -> Result<Running, AppError> {
        let graph = tenant_graph(http, config, t, &self.state.metrics, &self.limiters)?;
        let stop = shutdown.child_token();
        let refresher = TenantRefresher {
            name: t.name.clone(),
            graph,
            store: self.state.store.clone(),
            metrics: self.state.metrics.clone(),
            config: config.refresh.clone(),
            limit: self.limit.clone(),
            epoch: self.epoch,
        };
        let task = tokio::spawn(refresher.run(stop.clone()));
        Ok(Running {
            config: t.clone(),
            stop,
            task,
        })
    }

    /// Applies a new configuration: removed tenants stop and their series vanish, added tenants
    /// start, unchanged tenants keep their data and schedule.
    fn apply(
        &mut self,
        new: Config,
        running: &mut std::collections::HashMap<String, Running>,
        http: &mut reqwest::Client,
        shutdown: &CancellationToken,
    ) -> Result<String, AppError> {
        let graph_changed = new.graph != self.config.graph || new.refresh != self.config.refresh;
        if new.listen != self.config.listen
            || new.web_config_file != self.config.web_config_file
            || new.series != self.config.series
        {
            tracing::warn!("listen addresses, the web config path and [metrics] settings change only on restart");
        }
        let new_http = if graph_changed {
            graph::http_client(&new.graph).map_err(AppError::HttpClient)?
        } else {
            http.clone()
        };
        let wanted: std::collections::HashSet<&str> =
            new.tenants.iter().map(|t| t.name.as_str()).collect();
        let mut removed = 0;
        running.retain(|name, r| {
            if wanted.contains(name.as_str()) {
                return true;
            }
            r.stop.cancel();
            self.state.store.remove(name);
            self.state.metrics.remove_tenant(name);
            removed += 1;
            false
        });
        let (mut added, mut restarted) = (0, 0);
        for t in &new.tenants {
            match running.get(&t.name) {
                Some(r) if r.config == *t && !graph_changed => continue,
                Some(r) => {
                    r.stop.cancel();
                    restarted += 1;
                }
                None => {
                    self.state.store.add(&t.name, &t.tenant_id);
                    added += 1;
                }
            }
            let started = self.start_tenant(&new_http, &new, t, shutdown)?;
            running.insert(t.name.clone(), started);
        }
        self.state
            .store
            .retain_order(new.tenants.iter().map(|t| t.name.as_str()));
        record_certificate_expiry(&new, &self.state.metrics);
        *http = new_http;
        self.config = new;
        Ok(format!(
            "{added} added, {removed} removed, {restarted} restarted, {} unchanged",
            running.len() - added - restarted
        ))
    }

    /// Runs until `shutdown` fires, then waits for the server and refreshers to stop.
    pub async fn run_until(mut self, shutdown: CancellationToken) {
        let mut servers = tokio::task::JoinSet::new();
        for (listener, addr) in std::mem::take(&mut self.listeners)
            .into_iter()
            .zip(&self.addrs)
        {
            tracing::info!(address = %addr, "listening");
            servers.spawn(server::serve(
                listener,
                self.state.clone(),
                shutdown.clone(),
            ));
        }
        let mut http = match graph::http_client(&self.config.graph) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the HTTP client");
                return;
            }
        };
        let mut running = std::collections::HashMap::new();
        let config = self.config.clone();
        for t in &config.tenants {
            match self.start_tenant(&http, &config, t, &shutdown) {
                Ok(r) => {
                    running.insert(t.name.clone(), r);
                }
                Err(e) => tracing::error!(tenant = %t.name, error = %e, "tenant not started"),
            }
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                request = self.reloads.recv() => {
                    let Some(reply) = request else { continue };
                    let outcome = match self.loader.clone() {
                        None => Err("this daemon was started without a reloadable configuration".to_string()),
                        Some(load) => match load() {
                            Err(e) => Err(e.to_string()),
                            Ok(new) => self.apply(new, &mut running, &mut http, &shutdown).map_err(|e| crate::error::chain(&e)),
                        },
                    };
                    match &outcome {
                        Ok(summary) => tracing::info!(%summary, "configuration reloaded"),
                        Err(e) => tracing::error!(error = %e, "configuration reload failed; keeping the running configuration"),
                    }
                    self.state.metrics.set_config_reload_successful(outcome.is_ok());
                    let _ = reply.send(outcome);
                }
            }
        }
        for (_, r) in running {
            r.stop.cancel();
            if let Err(e) = r.task.await {
                tracing::error!(error = %e, "refresher ended abnormally");
            }
        }
        while let Some(res) = servers.join_next().await {
            if let Err(e) = res {
                // A panic in one task must not take the others down silently.
                tracing::error!(error = %e, "task ended abnormally");
            }
        }
    }
}
