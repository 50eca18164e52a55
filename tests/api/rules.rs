//! Alert and recording rules: promtool's checks and unit tests, amtool on the Alertmanager example.

use crate::dashboards::repo;
use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| {
            panic!("{cmd} is installed (apt-get install prometheus prometheus-alertmanager): {e}")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd} {args:?} failed:\n{text}");
    text
}

#[test]
fn rule_files_pass_promtool_check() {
    let out = run(
        "promtool",
        &["check", "rules", "deploy/prometheus/securescore.rules.yml"],
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_alert_passes_its_promtool_unit_tests() {
    let out = run(
        "promtool",
        &[
            "test",
            "rules",
            "tests/rules/securescore.rules.test.yml",
            "tests/rules/exporter-down.rules.test.yml",
        ],
    );
    assert!(!out.contains("FAILED"), "{out}");
    // Every contract alert has at least one firing expectation in the unit tests.
    let rules =
        std::fs::read_to_string(repo().join("deploy/prometheus/securescore.rules.yml")).unwrap();
    let tests = std::fs::read_to_string(repo().join("tests/rules/securescore.rules.test.yml"))
        .unwrap()
        + &std::fs::read_to_string(repo().join("tests/rules/exporter-down.rules.test.yml"))
            .unwrap();
    for alert in [
        "SecureScoreBelowConcern",
        "SecureScoreDropped",
        "SecureScoreControlRegressed",
        "SecureScoreBelowPeers",
        "SecureScoreMaxChanged",
        "SecureScoreDataStale",
        "SecureScoreRefreshFailing",
        "SecureScoreExporterDown",
        "SecureScoreCredentialExpiring",
    ] {
        assert!(
            rules.contains(&format!("alert: {alert}")),
            "{alert} is shipped"
        );
        assert!(
            tests.contains(&format!("alertname: {alert}")),
            "{alert} is tested"
        );
        let section = rules.split(&format!("alert: {alert}")).nth(1).unwrap();
        let section = section.split("- alert:").next().unwrap();
        for field in ["severity:", "summary:", "description:", "runbook_url:"] {
            assert!(section.contains(field), "{alert} has {field}");
        }
        let anchor = format!("runbook.md#{}", alert.to_lowercase());
        assert!(
            section.contains(&anchor),
            "{alert} links its runbook section"
        );
        let runbook = std::fs::read_to_string(repo().join("docs/runbook.md")).unwrap();
        assert!(
            runbook.contains(&format!("## {alert}")),
            "{alert} has a runbook section"
        );
    }
}

#[test]
fn alertmanager_example_is_valid_and_routes_by_severity() {
    let out = run(
        "amtool",
        &["check-config", "deploy/alertmanager/alertmanager.yml"],
    );
    assert!(out.contains("SUCCESS"), "{out}");
    for (severity, receiver) in [
        ("critical", "on-call-pager"),
        ("warning", "security-team-email"),
        ("info", "security-digest"),
    ] {
        let out = run(
            "amtool",
            &[
                "config",
                "routes",
                "test",
                "--config.file=deploy/alertmanager/alertmanager.yml",
                &format!("severity={severity}"),
                "tenant=contoso",
            ],
        );
        assert!(out.contains(receiver), "{severity} -> {receiver}: {out}");
    }
}
