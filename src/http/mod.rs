//! HTTP serving: listeners and connections ([`server`]), the streamed body ([`body`]), routes
//! ([`routes`], which serve the pages of `view`), and the exporter-toolkit web config (TLS, basic auth).

pub mod body;
pub mod routes;
pub mod server;
pub mod web_config;

/// A reload request: the sender of the reply says whether the new configuration took effect.
pub type ReloadRequest = tokio::sync::oneshot::Sender<Result<String, String>>;
