//! The golden `/metrics`: the simulator's demo tenants at a fixed date, rendered through the
//! real pipeline (conversion, renderer, publisher, joined body) and compared byte for byte with
//! `tests/golden/metrics.prom`, which `promtool check metrics` must find clean. It is the review
//! aid for every change to the exposition: `UPDATE_GOLDEN=1 cargo test golden` rewrites it, and
//! the diff shows what changed.

use securescore_exporter::core::snapshot::TenantSnapshot;
use securescore_exporter::exposition::{MetricsBody, SelfMetrics, SeriesRenderer};
use securescore_exporter::state::{Publisher, Store};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The newest record's date of the golden data.
const TODAY: time::Date = time::macros::date!(2026 - 11 - 27);
/// When the golden refreshes finished: that day, 06:00 UTC.
const REFRESHED_AT: f64 = 1_795_759_200.0;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/metrics.prom")
}

/// The body with every line that depends on the machine or the build left out (process
/// metrics and the git revision in build info).
fn render() -> String {
    let specs = securescore_sim::spec::demo_tenants();
    let store = Arc::new(Store::new(
        specs
            .iter()
            .map(|t| (t.name.as_str(), t.tenant_id.as_str())),
    ));
    let renderer = Arc::new(SeriesRenderer::new(Duration::from_secs(3600)));
    let own = SelfMetrics::new();
    let publisher = Publisher::new(store.clone(), renderer.clone());
    let body = MetricsBody::new(store, renderer, own.clone());
    for spec in &specs {
        own.init_tenant(&spec.name);
        let data = securescore_sim::generate::generate(spec, TODAY);
        let snapshot = TenantSnapshot::from_json(&data.records, &data.profiles);
        publisher.record_success_at(&spec.name, snapshot, REFRESHED_AT);
    }
    let text = String::from_utf8(body.encode()).unwrap();
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            skipping = name.starts_with("process_") || name == "securescore_exporter_build_info";
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn metrics_match_the_golden_file_byte_for_byte() {
    let body = render();
    assert_eq!(body, render(), "rendering is deterministic");
    let path = golden_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &body).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; UPDATE_GOLDEN=1 cargo test golden writes it",
            path.display()
        )
    });
    if golden != body {
        let first = golden
            .lines()
            .zip(body.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(golden.lines().count().min(body.lines().count()));
        panic!(
            "/metrics differs from {} from line {}:\n  golden: {:?}\n  now:    {:?}\n\
             If the change is intended, UPDATE_GOLDEN=1 cargo test golden rewrites it.",
            path.display(),
            first + 1,
            golden.lines().nth(first),
            body.lines().nth(first)
        );
    }
    // Every demo tenant, every family the contract names for them.
    for tenant in ["contoso", "fabrikam", "northwind", "tailspin"] {
        assert!(
            golden.contains(&format!("securescore_up{{tenant=\"{tenant}\"}} 1")),
            "{tenant}"
        );
    }
    assert!(golden.contains("# TYPE securescore_control_info gauge"));
}

#[test]
fn the_golden_file_passes_promtool() {
    let golden = std::fs::read(golden_path()).unwrap();
    let report = crate::helpers::promtool_check_metrics(&golden);
    assert!(report.trim().is_empty(), "promtool reported: {report}");
}
