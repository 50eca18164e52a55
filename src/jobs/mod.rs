//! One-shot jobs on the whole fleet: `backfill` (90 days as OpenMetrics) and `snapshot`
//! (reports in JSON, CSV and Markdown).

pub mod backfill;
pub mod report;
