//! securescore_exporter: Microsoft Secure Score as Prometheus metrics.
//!
//! # Layout
//!
//! Data flows top to bottom:
//!
//! - [`config`]: the one place that reads the config file and environment; yields a validated [`config::Config`].
//! - [`cloud`]: national clouds (login host, Graph host, token scope).
//! - [`secret`]: a string type that never prints itself.
//! - [`auth`]: credentials → cached bearer tokens per tenant.
//! - [`graph`]: the Graph client (paging, retries, origin checks) and [`graph::model`], the lenient wire models.
//! - [`snapshot`]: the one conversion from wire models into the domain snapshot.
//! - [`store`]: the last good snapshot and refresh status of every tenant.
//! - [`refresh`]: when Graph is called: one loop per tenant, with jitter and backoff.
//! - [`cpu_work`]: where refreshes parse, convert and render: off the async workers, bounded.
//! - [`metrics`]: every metric name and HELP text; renders each tenant's series once per change.
//! - [`exposition`]: the `/metrics` body as compressed parts joined per scrape (gzip or plain).
//! - [`series_filter`]: cardinality controls (which control, category and tenant series exist).
//! - [`server`] and [`status_page`]: HTTP transport and the status page at `/`.
//! - [`backfill`] and [`report`]: the one-shot `backfill` (OpenMetrics history) and `snapshot` (reports) commands.
//! - [`app`]: wiring; what `main` and the tests start.
//! - [`simulator`]: a Microsoft Graph and Entra ID look-alike on loopback HTTPS, for `demo` and tests.
//! - [`demo`]: runs the real daemon against the simulator.
//! - [`error`]: boundary errors with bounded failure reasons.
//! - [`telemetry`]: logging setup.

pub mod app;
pub mod auth;
pub mod backfill;
pub mod cloud;
pub mod config;
pub mod cpu_work;
pub mod demo;
pub mod error;
pub mod exposition;
pub mod graph;
pub mod metrics;
pub mod refresh;
pub mod report;
pub mod secret;
pub mod series_filter;
pub mod server;
pub mod simulator;
pub mod snapshot;
pub mod status_page;
pub mod store;
pub mod telemetry;
pub mod web_config;
