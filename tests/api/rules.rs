//! The monitoring mixin's rules and alerts: generated from mixin/ with jsonnet, checked and
//! unit-tested with promtool, routed with amtool. Alertmanager's inhibition and grouping at
//! fleet size run against a real Alertmanager in alertmanager.rs.

use crate::dashboards::repo;
use crate::deploy::yaml_file;
use serde_json::Value;
use std::process::Command;

/// Every alert of the contract (../shared/reference/contract.md, "Alert names").
pub const CONTRACT_ALERTS: [&str; 14] = [
    "SecureScoreBelowConcern",
    "SecureScoreDropped",
    "SecureScoreControlRegressed",
    "SecureScoreBelowPeers",
    "SecureScoreMaxChanged",
    "SecureScoreDataStale",
    "SecureScoreRefreshFailing",
    "SecureScoreExporterDown",
    "SecureScoreExporterAbsent",
    "SecureScoreTenantMissing",
    "SecureScoreNoScoreYet",
    "SecureScoreFleetRefreshFailing",
    "SecureScoreConfigReloadFailed",
    "SecureScoreCredentialExpiring",
];

/// Alerts about one exporter or credential rather than one tenant.
const NOT_PER_TENANT: [&str; 5] = [
    "SecureScoreExporterDown",
    "SecureScoreExporterAbsent",
    "SecureScoreConfigReloadFailed",
    "SecureScoreCredentialExpiring",
    "SecureScoreFleetRefreshFailing",
];

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("{cmd} is installed (scripts/test installs it): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd} {args:?} failed:\n{text}");
    text
}

/// Every rule of the generated rule file, with its group.
pub fn rules() -> Vec<(String, Value)> {
    let file = yaml_file(&repo().join("deploy/prometheus/securescore.rules.yml"));
    let mut out = Vec::new();
    for g in file["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            out.push((g["name"].as_str().unwrap().to_string(), r.clone()));
        }
    }
    out
}

#[test]
fn the_mixin_generates_every_committed_rule_and_dashboard_file() {
    let dir = tempfile::tempdir().unwrap();
    run("scripts/generate", &[dir.path().to_str().unwrap()]);
    let mut generated = Vec::new();
    for sub in ["deploy/prometheus", "deploy/kubernetes/base", "dashboards"] {
        for entry in std::fs::read_dir(dir.path().join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(dir.path()).unwrap().to_path_buf();
            let fresh = std::fs::read_to_string(&path).unwrap();
            let committed = std::fs::read_to_string(repo().join(&rel))
                .unwrap_or_else(|e| panic!("{} is committed: {e}", rel.display()));
            assert!(
                fresh == committed,
                "{} differs from a fresh build of mixin/: run scripts/generate",
                rel.display()
            );
            generated.push(rel.display().to_string());
        }
    }
    generated.sort();
    assert_eq!(
        generated,
        [
            "dashboards/securescore-exporter.json",
            "dashboards/securescore-fleet.json",
            "dashboards/securescore-tenant.json",
            "deploy/kubernetes/base/prometheusrule.yaml",
            "deploy/prometheus/securescore.rules.yml",
        ]
    );
    // Nothing else in those folders claims to be generated, and no Python generator is left.
    for gone in ["dashboards/generate.py", "deploy/kubernetes/generate.py"] {
        assert!(!repo().join(gone).exists(), "{gone} is replaced by mixin/");
    }
    // The PrometheusRule carries exactly the rule file's groups.
    let rule = yaml_file(&repo().join("deploy/kubernetes/base/prometheusrule.yaml"));
    let file = yaml_file(&repo().join("deploy/prometheus/securescore.rules.yml"));
    assert_eq!(rule["spec"]["groups"], file["groups"]);
    assert_eq!(rule["kind"], "PrometheusRule");
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
    let mut files: Vec<String> = std::fs::read_dir(repo().join("tests/rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yml"))
        .map(|p| p.strip_prefix(repo()).unwrap().display().to_string())
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    // One promtool per file, side by side: the day-long cases take seconds each.
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            let child = Command::new("promtool")
                .args(["test", "rules", f])
                .current_dir(repo())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("promtool is installed (scripts/test installs it)");
            (f, child)
        })
        .collect();
    for (f, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool test rules {f}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tests: String = files
        .iter()
        .map(|f| std::fs::read_to_string(repo().join(f)).unwrap())
        .collect();
    for alert in CONTRACT_ALERTS {
        // Fires somewhere (an expected alert with labels), and is silent somewhere.
        let section: Vec<&str> = tests.split(&format!("alertname: {alert}\n")).collect();
        assert!(section.len() >= 2, "{alert} has promtool unit tests");
        assert!(
            section[1..].iter().any(|s| {
                let s = s.trim_start();
                s.starts_with("exp_alerts:") && !s.starts_with("exp_alerts: []")
            }),
            "{alert} is tested firing"
        );
        assert!(
            section[1..]
                .iter()
                .any(|s| s.trim_start().starts_with("exp_alerts: []")),
            "{alert} is tested silent"
        );
    }
    // The semantics the contract names have their own cases.
    for case in [
        "stale",            // a scrape gap
        "instance=\"b:1\"", // a second replica
        "65x130",           // exactly 0.65
        "tenant=\"retired\"",
        "scope: credential",
    ] {
        assert!(tests.contains(case), "the unit tests cover {case}");
    }
}

#[test]
fn every_contract_alert_is_shipped_with_its_labels_annotations_and_runbook() {
    let rules = rules();
    let runbook = std::fs::read_to_string(repo().join("docs/runbook.md")).unwrap();
    let shipped: std::collections::BTreeSet<&str> = rules
        .iter()
        .filter_map(|(_, r)| r["alert"].as_str())
        .collect();
    let contract: std::collections::BTreeSet<&str> = CONTRACT_ALERTS.into_iter().collect();
    assert_eq!(shipped, contract, "exactly the contract's alerts");
    for (group, r) in &rules {
        // Control-level series are the bulk: no day-long range over them, and a 5m group.
        let expr = r["expr"].as_str().unwrap();
        if expr.contains("securescore_control_") && !expr.contains("job_tenant_control:") {
            assert!(!expr.contains("[1d]"), "{}: {expr}", r["record"]);
            assert!(
                group.contains("daily"),
                "{} runs in a daily group",
                r["record"]
            );
            assert!(
                expr.contains("!= 0"),
                "{} records only the controls that moved",
                r["record"]
            );
        }
        let Some(alert) = r["alert"].as_str() else {
            continue;
        };
        let severity = r["labels"]["severity"].as_str().unwrap();
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{alert}: {severity}"
        );
        for field in ["summary", "description", "runbook_url"] {
            assert!(
                !r["annotations"][field].as_str().unwrap_or("").is_empty(),
                "{alert} has {field}"
            );
        }
        let url = r["annotations"]["runbook_url"].as_str().unwrap();
        assert!(url.ends_with(&format!("runbook.md#{}", alert.to_lowercase())));
        assert!(
            runbook.contains(&format!("## {alert}\n")),
            "{alert} has a runbook section"
        );
        // Rides out a scrape gap of 10 minutes.
        assert_eq!(r["keep_firing_for"], "10m", "{alert}");
        if !NOT_PER_TENANT.contains(&alert) {
            assert!(
                expr.contains("group_left (credential)"),
                "{alert} carries the credential label: {expr}"
            );
            assert!(
                r["annotations"]["description"]
                    .as_str()
                    .unwrap()
                    .contains("$labels.tenant"),
                "{alert} names the tenant"
            );
        }
        // Only the fleet being blind pages a person; per-tenant alerts wait for the morning.
        if severity == "critical" {
            assert_eq!(alert, "SecureScoreFleetRefreshFailing");
        }
        // No alert reads the control series themselves: only the recorded falls.
        let raw = expr.replace("job_tenant_control:securescore_control_", "");
        assert!(!raw.contains("securescore_control_"), "{alert}: {expr}");
        if expr.contains("job_tenant_control:") {
            assert!(group.contains("daily"), "{alert} runs in the daily group");
        }
    }
    // Rules that read day-old data run every 5 minutes; the rest every minute.
    let file = yaml_file(&repo().join("deploy/prometheus/securescore.rules.yml"));
    for g in file["groups"].as_array().unwrap() {
        let name = g["name"].as_str().unwrap();
        let text = g.to_string();
        let want = if name.contains("daily") { "5m" } else { "1m" };
        assert_eq!(g["interval"], want, "{name}");
        if text.contains("offset 1d") {
            assert!(name.contains("daily"), "{name} compares with a day earlier");
        }
    }
}

/// The receiver each alert reaches, with the labels it really carries.
const ROUTES: [(&str, &str, &str); 15] = [
    (
        "SecureScoreFleetRefreshFailing",
        "severity=critical scope=job job=securescore",
        "on-call",
    ),
    (
        "SecureScoreFleetRefreshFailing",
        "severity=critical scope=credential job=securescore credential=msp",
        "on-call",
    ),
    (
        "SecureScoreBelowConcern",
        "severity=info job=securescore tenant=contoso credential=msp",
        "security-digest-email",
    ),
    (
        "SecureScoreBelowPeers",
        "severity=info job=securescore tenant=contoso credential=msp",
        "security-digest-email",
    ),
    (
        "SecureScoreNoScoreYet",
        "severity=info job=securescore tenant=contoso credential=msp",
        "security-digest-email",
    ),
    (
        "SecureScoreMaxChanged",
        "severity=info job=securescore tenant=contoso credential=msp",
        "security-digest-email",
    ),
    (
        "SecureScoreExporterDown",
        "severity=warning job=securescore instance=a:1",
        "operations-email",
    ),
    (
        "SecureScoreExporterAbsent",
        "severity=warning",
        "operations-email",
    ),
    (
        "SecureScoreConfigReloadFailed",
        "severity=warning job=securescore instance=a:1",
        "operations-email",
    ),
    (
        "SecureScoreCredentialExpiring",
        "severity=warning job=securescore credential=cert",
        "operations-email",
    ),
    (
        "SecureScoreDropped",
        "severity=warning job=securescore tenant=contoso credential=msp",
        "security-team-teams",
    ),
    (
        "SecureScoreControlRegressed",
        "severity=warning job=securescore tenant=contoso credential=msp control=mfa",
        "security-team-teams",
    ),
    (
        "SecureScoreDataStale",
        "severity=warning job=securescore tenant=contoso credential=msp",
        "security-team-teams",
    ),
    (
        "SecureScoreRefreshFailing",
        "severity=warning job=securescore tenant=contoso credential=msp",
        "security-team-teams",
    ),
    (
        "SecureScoreTenantMissing",
        "severity=warning job=securescore tenant=contoso credential=msp",
        "security-team-teams",
    ),
];

/// An Alertmanager config as amtool 0.25 (Debian's) can read it: the Teams receiver
/// (msteamsv2_configs, Alertmanager 0.28+) becomes a webhook; routing is unchanged.
pub fn amtool_readable(text: &str, teams_url: &str) -> String {
    assert_eq!(text.matches("msteamsv2_configs:").count(), 1);
    let swapped = text
        .replace("msteamsv2_configs:", "webhook_configs:")
        .replace(
            "webhook_url_file: /etc/alertmanager/secrets/teams-webhook-url",
            &format!("url: {teams_url}"),
        );
    assert!(!swapped.contains("webhook_url_file"));
    swapped
}

/// The Alertmanager example, amtool-readable, written into `dir`.
pub fn alertmanager_config_for_amtool(
    dir: &std::path::Path,
    teams_url: &str,
) -> std::path::PathBuf {
    let text =
        std::fs::read_to_string(repo().join("deploy/alertmanager/alertmanager.yml")).unwrap();
    let path = dir.join("alertmanager.yml");
    std::fs::write(&path, amtool_readable(&text, teams_url)).unwrap();
    path
}

#[test]
fn alertmanager_example_routes_every_alert_where_it_belongs() {
    let dir = tempfile::tempdir().unwrap();
    let config = alertmanager_config_for_amtool(dir.path(), "http://127.0.0.1:9/teams");
    let out = run("amtool", &["check-config", config.to_str().unwrap()]);
    assert!(out.contains("SUCCESS"), "{out}");
    // Each alert with the severity the rules give it.
    let rules = rules();
    for (alert, labels, receiver) in ROUTES {
        let severity = labels
            .split(' ')
            .next()
            .unwrap()
            .trim_start_matches("severity=");
        assert!(
            rules
                .iter()
                .any(|(_, r)| r["alert"] == alert && r["labels"]["severity"] == severity),
            "{alert} is shipped with {severity}"
        );
        let mut args = vec![
            "config".to_string(),
            "routes".into(),
            "test".into(),
            format!("--config.file={}", config.display()),
            format!("--verify.receivers={receiver}"),
            format!("alertname={alert}"),
        ];
        args.extend(labels.split(' ').map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run("amtool", &args);
        assert!(out.lines().any(|l| l.trim() == receiver), "{alert}: {out}");
    }
    for alert in CONTRACT_ALERTS {
        assert!(
            ROUTES.iter().any(|(a, _, _)| *a == alert),
            "{alert} has a route test"
        );
    }
    // Warnings wait for business hours; the pager and the digest do not.
    let am = yaml_file(&config);
    for route in am["route"]["routes"].as_array().unwrap() {
        let matchers = route["matchers"].to_string();
        let timed = !route["active_time_intervals"].is_null();
        assert_eq!(
            timed,
            matchers.contains("warning") || matchers.contains("Exporter"),
            "{route}"
        );
    }
}
