//! securescore_exporter: Microsoft Secure Score as Prometheus metrics.
//!
//! # Layout
//!
//! Layers, bottom to top; each module uses only the layers above it in this list (the
//! `layering` test fails on any cycle):
//!
//! - [`core`]: primitives with no knowledge of anything else: the clock, [`core::secret`],
//!   [`core::cloud`], the domain [`core::snapshot`] and its interned strings, score
//!   [`core::band`]s, [`core::failure`] reasons, metric [`core::names`], certificate files,
//!   deflated text parts, and the bounded pool for CPU work.
//! - [`config`]: the one place that reads the config file, the environment and command-line
//!   overrides; yields a validated [`config::Config`] or an error naming key and source.
//! - [`source`]: Microsoft Graph and Entra ID: wire models, tokens, the Graph client, boundary
//!   errors, the conversion into the domain snapshot; it reports through [`source::events`].
//! - [`state`]: the store of every tenant's last good data, the refreshers that decide when
//!   Graph is called, and the publisher that renders a state before it is published.
//! - [`exposition`]: each tenant's series rendered once per change, the exporter's own
//!   metrics, and the `/metrics` body joined per scrape (gzip or plain).
//! - [`jobs`]: the one-shot `backfill` (OpenMetrics history) and `snapshot` (reports).
//! - [`http`]: the server, its routes, the status page, and the exporter-toolkit web config.
//! - [`app`]: wiring and reload (what `main` and the tests start), the demo against the
//!   built-in simulator (crate `securescore_sim`), and logging.
//!
//! The binary (`src/main.rs`, `src/cli/`) parses the command line and runs one command each.

pub mod app;
pub mod config;
pub mod core;
pub mod exposition;
pub mod http;
pub mod jobs;
pub mod source;
pub mod state;
