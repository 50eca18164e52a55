//! securescore_exporter: Microsoft Secure Score as Prometheus metrics.
//!
//! # Layout
//!
//! Layers, bottom to top; each module uses only what stands above it in this list (the
//! `layering` test fails on any cycle, and checks that this list names every module):
//!
//! - [`core`]: primitives that know nothing of the rest.
//!   - `core::clock`: Unix time. `core::secret`: a string that never prints itself.
//!     `core::cloud`: national clouds (login host, Graph host, token scope).
//!   - `core::snapshot`: the domain snapshot of a tenant; `core::intern`: its shared strings;
//!     `core::history`: a tenant's kept daily scores.
//!   - `core::band`: how people read a score (65 % inclusive concern, 80 % excellent).
//!   - `core::failure`: the bounded failure reasons; `core::names`: every metric name and HELP.
//!   - `core::certificate`: certificate credential files (PEM, PKCS#12) and their assertions.
//!   - `core::deflate`: text deflated once into joinable parts; `core::cpu_work`: the bounded
//!     pool where parsing, conversion and rendering run, off the async workers; `core::memory`:
//!     freed memory back to the OS after the history fills.
//! - [`config`]: the one place that reads configuration.
//!   - `config::raw`: the file's shape; `config::load`: file, `SECURESCORE_` environment and
//!     `config::overrides` (the command line, as one figment provider) merged;
//!     `config::describe`: parse errors as people read them.
//!   - `config::validate`, `config::credentials`, `config::tenant_files`, `config::shard`: from
//!     raw to [`config::Config`]; `config::azure_env`: the Azure SDK's variables;
//!     `config::series_filter`: which series are exported.
//! - [`source`]: Microsoft Graph and Entra ID.
//!   - `source::model`: lenient wire models; `source::error`: boundary errors;
//!     `source::events`: what the Graph side reports, as a trait; `source::http`: the HTTP
//!     client, `Retry-After`, backoff.
//!   - `source::auth` (with `source::auth::entra`, Entra's errors as advice): tokens per tenant.
//!   - `source::graph` (with `source::graph::limiter`, the per-app limit): the Graph client.
//!   - `source::convert`: the one conversion into the snapshot; `source::connect`: from
//!     configuration to one Graph client per tenant.
//! - [`state`]: what the exporter knows and when it asks.
//!   - `state::store`: every tenant's last good data; `state::publish`: renders a new state,
//!     then publishes it; `state::refresh`: the refresh loops.
//!   - `state::persist` (`[state] path`): `state::persist::format`, one tenant's file, and
//!     `state::persist::writer`, the batched writes; restored at start.
//! - [`exposition`]: what `/metrics` serves.
//!   - `exposition::render`: each tenant's series; `exposition::self_metrics`: the exporter's
//!     own; `exposition::gzip` and `exposition::body`: the body joined per scrape.
//! - [`view`]: what people read. `view::model`: the one model of a tenant and of the fleet
//!   (status, band, ranking, changes, trend) behind every page and report; `view::query`: the
//!   overview's filter, order, pages and summary; `view::html`
//!   (escaping, shell, stylesheet, CSP), `view::chart` (inline SVG), `view::fleet` (`/`) and
//!   `view::tenant` (`/tenants/NAME` and the printable report).
//! - [`jobs`]: `jobs::backfill` (OpenMetrics history) and `jobs::report` (`snapshot`'s
//!   formats, from `view::model`).
//! - [`http`]: `http::server` (listeners, connections), `http::body` (the streamed body),
//!   `http::routes` (with the pages), and `http::web_config` (exporter-toolkit format,
//!   with `http::web_config::tls` and `http::web_config::source`, reloads and basic auth).
//! - [`app`]: wiring (what `main` and the tests start), `app::reload`, `app::demo` (the
//!   daemon against the simulator crate `securescore_sim`) and `app::telemetry` (logs).
//!
//! The binary (`src/main.rs`) parses the command line (`cli::args`) and runs one command:
//! `cli::daemon`, `cli::demo`, `cli::check_config`, `cli::backfill`, `cli::snapshot`,
//! `cli::simulate`, sharing `cli` (configuration, logging, signals).

pub mod app;
pub mod config;
pub mod core;
pub mod exposition;
pub mod http;
pub mod jobs;
pub mod source;
pub mod state;
pub mod view;
