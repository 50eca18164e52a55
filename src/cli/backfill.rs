//! `backfill`: up to 90 days of every tenant's history as OpenMetrics, for
//! `promtool tsdb create-blocks-from openmetrics`.

use super::args::DaemonFlags;
use super::{config_or_demo, init_logging, EXIT_CONFIG};
use securescore_exporter::jobs::backfill;
use securescore_exporter::source::error::chain;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(flags: &DaemonFlags, days: usize, output: &Path, labels: &[String]) -> ExitCode {
    let (config, _demo) = match config_or_demo(flags).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    init_logging(&config);
    let labels = match backfill::parse_labels(labels) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let started = std::time::Instant::now();
    match backfill::run(&config, days, output, &labels).await {
        Ok(s) => {
            eprintln!(
                "wrote {}: {} tenant(s), up to {} day(s), {} samples, {} bytes in {:.1} s",
                output.display(),
                s.tenants_written,
                s.days_written,
                s.samples,
                s.bytes,
                started.elapsed().as_secs_f64()
            );
            for (tenant, error) in &s.failures {
                eprintln!("error: tenant {tenant}: {error}");
            }
            if s.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}
