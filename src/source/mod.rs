//! Microsoft Graph and Entra ID as the exporter sees them: the lenient wire models, tokens per
//! tenant, the Graph client with its paging, retries and limits, boundary errors, and the one
//! conversion into the domain snapshot. It reports what it does through [`events::GraphEvents`]
//! and knows nothing of metrics, the store or HTTP serving.

pub mod auth;
pub mod connect;
pub mod convert;
pub mod error;
pub mod events;
pub mod graph;
pub mod http;
pub mod model;
