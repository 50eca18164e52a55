//! securescore_sim: a Microsoft Graph and Entra ID look-alike on loopback HTTPS, for the
//! exporter's `demo`, its tests and its benchmarks. It speaks Graph's JSON and knows nothing
//! of the exporter.
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
//!
//! # Layout
//!
//! - [`options`]: what a test or the demo asks for ([`SimulatorOptions`], [`Fault`], [`Endpoint`]).
//! - [`spec`] and [`generate`]: the tenants and their deterministic 90 days of Graph payloads,
//!   drawn from [`catalogue`].
//! - [`simulator`]: [`Simulator`], the running instance and its test controls.
//! - `state`, `tls`, `listen`, `respond`, `faults`, `limits`: the shared state, certificates,
//!   accept loops and routing, response shapes, fault injection, per-tenant throttling.
//! - `entra`, [`identity`], `imds`, `graph`: the token endpoint, its assertion and federation
//!   checks, managed identity, and Graph's two Secure Score endpoints with paging.

pub mod catalogue;
mod entra;
pub mod error;
mod faults;
pub mod generate;
mod graph;
pub mod identity;
mod imds;
mod limits;
mod listen;
pub mod options;
mod respond;
pub mod simulator;
pub mod spec;
mod state;
mod tls;

pub use error::SimulatorError;
pub use generate::TenantData;
pub use options::{
    Endpoint, Fault, ManagedIdentitySpec, RequestRecord, SimulatorOptions, PROFILES_PAGE_SIZE,
    SCORES_PAGE_SIZE,
};
pub use simulator::Simulator;
pub use spec::TenantSpec;
pub use tls::test_ca_pem;
