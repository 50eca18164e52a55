//! Wiring: builds every component from a [`Config`], binds the listeners, and runs the server
//! and one refresher per tenant until shutdown; reloads in [`reload`]. Tests start the daemon
//! exactly like `main` does, on port 0.
//!
//! Also here: [`demo`] (the daemon against the built-in simulator) and [`telemetry`] (logs).

pub mod demo;
mod reload;
pub mod telemetry;

use crate::config::{Config, ConfigError, TenantConfig};
use crate::exposition::{MetricsBody, SelfMetrics, SeriesRenderer};
use crate::http::routes::HttpState;
use crate::http::server;
use crate::http::web_config::WebConfigSource;
use crate::http::ReloadRequest;
use crate::source::connect::{self, AppLimiters, ConnectError};
use crate::source::events::GraphEvents;
use crate::state::persist::{self, Pending, StateDir, StateDirError, StateEvents};
use crate::state::refresh::{phase, resume_delay, HistoryFills, RefreshEvents, TenantRefresher};
use crate::state::{Publisher, Store, TenantState};
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
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    WebConfig(#[from] crate::http::web_config::WebConfigError),
    #[error(transparent)]
    State(#[from] StateDirError),
}

/// Exports notAfter of every certificate credential, and warns about those close to it.
fn record_certificate_expiry(config: &Config, metrics: &SelfMetrics) {
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
        match crate::core::certificate::CertificateCredential::load(
            path,
            password.as_ref().map(|p| p.expose()),
        ) {
            Ok(cert) => {
                metrics.set_credential_expiry(&t.credential_name, cert.not_after as f64);
                let days_left = (cert.not_after as f64 - crate::core::clock::unix_now()) / 86_400.0;
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

/// Reads the state directory into `states` before anything is served, and forgets the files
/// of tenants no longer configured. What cannot be used is one warning, never a failure.
async fn restore(
    dir: &Arc<StateDir>,
    states: &mut [TenantState],
    history_days: u32,
    own: &SelfMetrics,
) {
    let wanted: Vec<(String, String)> = states
        .iter()
        .map(|t| (t.name.clone(), t.tenant_id.clone()))
        .collect();
    let reader = dir.clone();
    let restored = match tokio::task::spawn_blocking(move || {
        let restored = reader.restore(&wanted);
        let pruned = reader.prune(wanted.iter().map(|(n, _)| n.as_str()));
        (restored, pruned)
    })
    .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "reading the state directory stopped abnormally; starting without saved data");
            return;
        }
    };
    let (restored, pruned) = restored;
    if let Some((file, why)) = restored.ignored.first() {
        tracing::warn!(
            ignored = restored.ignored.len(),
            first_file = %file.display(),
            reason = %why,
            "saved state ignored: files that are damaged, from another version or for another tenant; those tenants start without saved data"
        );
    }
    let (missing, took) = (restored.missing, restored.took);
    let applied = restored.apply(states, history_days);
    own.set_state_restored(applied);
    tracing::info!(
        path = %dir.path().display(),
        restored = applied,
        without_saved_data = missing,
        removed = pruned,
        took_ms = took.as_millis() as u64,
        "state directory read"
    );
}

/// The success time of every tenant whose data was restored and not refreshed since.
fn restored_success_times(store: &Store) -> std::collections::HashMap<String, f64> {
    store
        .tenants()
        .into_iter()
        .filter(|t| t.restored)
        .filter_map(|t| Some((t.name, t.last_success?)))
        .collect()
}

/// Reads the configuration again, for reloads.
pub type ConfigLoader = Arc<dyn Fn() -> Result<Config, ConfigError> + Send + Sync>;

/// A built, not yet running daemon.
pub struct App {
    listeners: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
    state: HttpState,
    /// Renders each tenant's new state and publishes it to the store.
    publisher: Publisher,
    own: Arc<SelfMetrics>,
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
    /// `[state] path`, open and locked, with the tenants it has yet to save.
    state_dir: Option<(Arc<StateDir>, Arc<Pending>)>,
    /// The history fills' first-pass gate and slots.
    fills: Arc<HistoryFills>,
}

/// A running tenant refresher.
struct Running {
    config: TenantConfig,
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
        let own = SelfMetrics::new();
        let mut states = TenantState::for_tenants(&config.tenants);
        let state_dir = match &config.state_path {
            Some(path) => {
                let dir = Arc::new(StateDir::open(path)?);
                restore(&dir, &mut states, config.history_days, &own).await;
                Some((dir, Pending::new()))
            }
            None => None,
        };
        let store = Arc::new(Store::from_states(states));
        let renderer = Arc::new(
            SeriesRenderer::new(config.refresh.interval).with_filter(config.series.clone()),
        );
        let mut publisher =
            Publisher::new(store.clone(), renderer.clone()).with_history_days(config.history_days);
        if let Some((_, pending)) = &state_dir {
            publisher = publisher.with_pending(pending.clone());
        }
        let metrics = MetricsBody::new(store.clone(), renderer, own.clone());
        record_certificate_expiry(config, &own);
        // Fail at build time, not in the background, if a client cannot be made.
        let events: Arc<dyn GraphEvents> = own.clone();
        connect::tenant_graphs(config, &events)?;
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
            publisher,
            own,
            config: config.clone(),
            loader,
            reloads,
            reload_sender,
            limit: Arc::new(tokio::sync::Semaphore::new(
                config.refresh.max_concurrent_tenants,
            )),
            epoch: std::time::Instant::now(),
            limiters: AppLimiters::default(),
            state_dir,
            fills: HistoryFills::new(),
        })
    }

    /// The bound addresses (the real ports when port 0 was asked for).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn store(&self) -> Arc<Store> {
        self.state.store.clone()
    }

    /// The `/metrics` body.
    pub fn metrics(&self) -> Arc<MetricsBody> {
        self.state.metrics.clone()
    }

    /// The exporter's own metrics.
    pub fn self_metrics(&self) -> Arc<SelfMetrics> {
        self.own.clone()
    }

    /// Sends reload requests (SIGHUP in `main`); answered only when built with a loader.
    pub fn reload_sender(&self) -> tokio::sync::mpsc::Sender<ReloadRequest> {
        self.reload_sender.clone()
    }

    /// Starts a tenant's refresher; `restored_at` is the success time of data restored from
    /// the state directory and not refreshed since, which may make the first refresh wait.
    fn start_tenant(
        &self,
        http: &reqwest::Client,
        config: &Config,
        t: &TenantConfig,
        restored_at: Option<f64>,
        first_pass: bool,
        shutdown: &CancellationToken,
    ) -> Result<Running, AppError> {
        let events: Arc<dyn GraphEvents> = self.own.clone();
        let graph = connect::tenant_graph(http, config, t, &events, &self.limiters)?;
        let refresh_events: Arc<dyn RefreshEvents> = self.own.clone();
        let stop = shutdown.child_token();
        let first_delay = restored_at.and_then(|saved| {
            let interval = config.refresh.interval;
            resume_delay(
                self.epoch,
                std::time::Instant::now(),
                crate::core::clock::unix_now(),
                saved,
                phase(&t.name, interval),
                interval,
            )
        });
        // `[history] days` of 0 or 1: there is nothing to fill.
        let fills = (config.history_days > 1).then(|| {
            if first_pass && first_delay.is_none() {
                self.fills.join()
            } else {
                self.fills.later()
            }
        });
        let refresher = TenantRefresher {
            name: t.name.clone(),
            graph,
            publisher: self.publisher.clone(),
            events: refresh_events,
            config: config.refresh.clone(),
            limit: self.limit.clone(),
            epoch: self.epoch,
            first_delay,
            fills,
        };
        let task = tokio::spawn(refresher.run(stop.clone()));
        Ok(Running {
            config: t.clone(),
            stop,
            task,
        })
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
        let mut http = match connect::client(&self.config) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the HTTP client");
                return;
            }
        };
        let writer = self.state_dir.as_ref().map(|(dir, pending)| {
            // Its own stop: it writes what the refreshers recorded until they have all ended.
            let stop = CancellationToken::new();
            let events: Arc<dyn StateEvents> = self.own.clone();
            let task = tokio::spawn(persist::run_writer(
                dir.clone(),
                self.state.store.clone(),
                pending.clone(),
                events,
                stop.clone(),
            ));
            (stop, task)
        });
        let mut running = std::collections::HashMap::new();
        let config = self.config.clone();
        let restored = restored_success_times(&self.state.store);
        for t in &config.tenants {
            let restored_at = restored.get(t.name.as_str()).copied();
            match self.start_tenant(&http, &config, t, restored_at, true, &shutdown) {
                Ok(r) => {
                    running.insert(t.name.clone(), r);
                }
                Err(e) => tracing::error!(tenant = %t.name, error = %e, "tenant not started"),
            }
        }
        self.fills.started();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                request = self.reloads.recv() => {
                    let Some(reply) = request else { continue };
                    let outcome = match self.loader.clone() {
                        None => Err("this daemon was started without a reloadable configuration".to_string()),
                        Some(load) => match load() {
                            Err(e) => Err(e.to_string()),
                            Ok(new) => self.apply(new, &mut running, &mut http, &shutdown).map_err(|e| crate::source::error::chain(&e)),
                        },
                    };
                    match &outcome {
                        Ok(summary) => tracing::info!(%summary, "configuration reloaded"),
                        Err(e) => tracing::error!(error = %e, "configuration reload failed; keeping the running configuration"),
                    }
                    self.own.set_config_reload_successful(outcome.is_ok());
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
        if let Some((stop, task)) = writer {
            stop.cancel();
            if let Err(e) = task.await {
                tracing::error!(error = %e, "state writer ended abnormally");
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
