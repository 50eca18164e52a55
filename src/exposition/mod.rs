//! The Prometheus exposition: each tenant's series rendered once per change ([`render`]), the
//! exporter's own series ([`self_metrics`]), and the `/metrics` body joined from prepared parts
//! per scrape, gzip or plain ([`body`], [`gzip`]).

pub mod body;
pub mod gzip;
pub mod render;
pub mod self_metrics;

pub use body::MetricsBody;
pub use render::SeriesRenderer;
pub use self_metrics::SelfMetrics;

/// `Content-Type` of the text exposition.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
