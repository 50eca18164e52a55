//! `snapshot`: every tenant fetched once, printed as a report (Markdown, JSON or CSV); exit 1
//! if any tenant failed, with the others still printed.

use super::args::{DaemonFlags, ReportFormat};
use super::config_or_demo;
use securescore_exporter::app::telemetry;
use securescore_exporter::jobs::report;
use securescore_exporter::source::error::chain;
use std::process::ExitCode;

pub async fn run(flags: &DaemonFlags, format: ReportFormat) -> ExitCode {
    let (config, _demo) = match config_or_demo(flags).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Reports go to stdout; keep the log quiet unless asked.
    let level = match &flags.log.log_level {
        Some(_) => config.log.level.as_str(),
        None => "warn",
    };
    telemetry::init(level, config.log.format);
    match report::collect(&config).await {
        Ok(report) => {
            let text = match format {
                ReportFormat::Json => report::to_json(&report),
                ReportFormat::Csv => report::to_csv(&report),
                ReportFormat::Markdown => report::to_markdown(&report),
            };
            print!("{text}");
            for t in report.tenants.iter().filter(|t| t.status == "error") {
                eprintln!(
                    "error: tenant {}: {}",
                    t.tenant,
                    t.error.as_deref().unwrap_or("")
                );
            }
            if report.any_failed() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}
