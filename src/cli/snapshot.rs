//! `snapshot`: every tenant (or the one `--tenant` names) fetched once, printed as a report
//! (Markdown, JSON, CSV or the printable HTML); exit 1 if any tenant failed, with the others
//! still printed; exit 2 for a `--tenant` the configuration does not have.

use super::args::{DaemonFlags, ReportFormat};
use super::config_or_demo;
use securescore_exporter::app::telemetry;
use securescore_exporter::jobs::report;
use securescore_exporter::source::error::chain;
use securescore_exporter::view::model::Status;
use std::process::ExitCode;

pub async fn run(flags: &DaemonFlags, format: ReportFormat, tenant: Option<&str>) -> ExitCode {
    let (mut config, _demo) = match config_or_demo(flags).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Reports go to stdout; keep the log quiet unless asked.
    let level = match &flags.log.log_level {
        Some(_) => config.log.level.as_str(),
        None => "warn",
    };
    telemetry::init(level, config.log.format);
    if let Some(name) = tenant {
        config.tenants.retain(|t| t.name == name);
        if config.tenants.is_empty() {
            eprintln!("error: --tenant {name:?}: no tenant of that name in the configuration (the names are the tenants' `name`, or their tenant_id without one)");
            return ExitCode::from(2);
        }
    }
    match report::collect(&config).await {
        Ok(report) => {
            let text = match format {
                ReportFormat::Json => report::to_json(&report),
                ReportFormat::Csv => report::to_csv(&report),
                ReportFormat::Markdown => report::to_markdown(&report),
                ReportFormat::Html => report::to_html(&report),
            };
            print!("{text}");
            for t in report
                .tenants
                .iter()
                .filter(|t| t.status == Status::Failing)
            {
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
