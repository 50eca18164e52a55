//! From configuration to Graph clients: one token provider and [`TenantGraph`] per tenant,
//! sharing one HTTP client and one [`AppLimiter`] per app registration.

use super::auth::TokenProvider;
use super::events::GraphEvents;
use super::graph::{http_client, AppLimiter, TenantGraph};
use crate::config::{Config, TenantConfig};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A Graph client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    #[error("graph_url is not a URL")]
    GraphUrl(#[source] url::ParseError),
}

/// One [`AppLimiter`] per app registration (client id), shared by its tenants.
#[derive(Default)]
pub struct AppLimiters(Mutex<HashMap<String, Arc<AppLimiter>>>);

impl AppLimiters {
    fn get(&self, config: &Config, t: &TenantConfig) -> Arc<AppLimiter> {
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
                Arc::new(AppLimiter::new(
                    config.graph.app_request_limit,
                    config.graph.app_request_window,
                ))
            })
            .clone()
    }
}

/// The HTTP client for `config`'s Graph settings.
pub fn client(config: &Config) -> Result<reqwest::Client, ConnectError> {
    http_client(&config.graph).map_err(ConnectError::HttpClient)
}

/// The Graph client of one tenant.
pub fn tenant_graph(
    http: &reqwest::Client,
    config: &Config,
    t: &TenantConfig,
    events: &Arc<dyn GraphEvents>,
    limiters: &AppLimiters,
) -> Result<TenantGraph, ConnectError> {
    let tokens = TokenProvider::new(
        http.clone(),
        &config.graph,
        &t.name,
        &t.tenant_id,
        &t.credential_name,
        t.credential.clone(),
        events.clone(),
    );
    Ok(
        TenantGraph::new(http.clone(), &config.graph, &t.name, tokens, events.clone())
            .map_err(ConnectError::GraphUrl)?
            .with_app_limit(limiters.get(config, t)),
    )
}

/// A Graph client per configured tenant, named by tenant: for the daemon and the one-shot commands.
pub fn tenant_graphs(
    config: &Config,
    events: &Arc<dyn GraphEvents>,
) -> Result<Vec<(String, TenantGraph)>, ConnectError> {
    let http = client(config)?;
    let limiters = AppLimiters::default();
    config
        .tenants
        .iter()
        .map(|t| {
            Ok((
                t.name.clone(),
                tenant_graph(&http, config, t, events, &limiters)?,
            ))
        })
        .collect()
}
