//! The example Alertmanager configuration against a real Alertmanager (Debian's 0.25, the Teams
//! receiver swapped for a webhook): a 500-tenant fleet's alerts become a handful of
//! notification groups, and a fleet-wide failure inhibits exactly the per-tenant alerts it
//! explains.

use crate::cli::{free_port, wait_http_ok};
use crate::deploy::yaml_file;
use crate::helpers::KillOnDrop;
use crate::rules::alertmanager_config_for_amtool;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

const TENANTS: usize = 500;

fn alert(name: &str, severity: &str, labels: &[(&str, String)]) -> Value {
    let mut l = serde_json::Map::new();
    l.insert("alertname".into(), json!(name));
    l.insert("severity".into(), json!(severity));
    for (k, v) in labels {
        l.insert((*k).into(), json!(v));
    }
    json!({ "labels": l, "annotations": { "summary": name } })
}

fn tenant(i: usize) -> (&'static str, String) {
    ("tenant", format!("tenant-{i:04}"))
}

/// What a 500-tenant MSP fleet fires on a bad day: half the fleet below 65 %, most below their
/// peers, Microsoft adding a recommendation for everyone, a few real drops, a shared credential
/// (partner-a, 30 tenants) revoked, and a certificate about to expire.
fn fleet_alerts() -> Vec<Value> {
    let job = || ("job", "securescore".to_string());
    let cred = |i: usize| {
        let c = if i < 30 {
            "partner-a".to_string()
        } else {
            format!("tenant-{i:04}")
        };
        ("credential", c)
    };
    let per_tenant =
        |name: &str, severity: &str, i: usize| alert(name, severity, &[job(), tenant(i), cred(i)]);
    let mut out = Vec::new();
    for i in 0..TENANTS {
        if i % 2 == 0 {
            out.push(per_tenant("SecureScoreBelowConcern", "info", i));
        }
        if i % 5 != 0 {
            out.push(per_tenant("SecureScoreBelowPeers", "info", i));
        }
        out.push(per_tenant("SecureScoreMaxChanged", "info", i));
    }
    for i in 490..TENANTS {
        out.push(per_tenant("SecureScoreNoScoreYet", "info", i));
    }
    // Eight real drops, each with two or three regressed controls.
    for i in (100..180).step_by(10) {
        out.push(per_tenant("SecureScoreDropped", "warning", i));
        for c in ["mfa", "legacy_auth", "admin_roles"].iter().take(2 + i % 2) {
            let mut a = per_tenant("SecureScoreControlRegressed", "warning", i);
            a["labels"]["control"] = json!(c);
            out.push(a);
        }
    }
    for i in [200, 201, 202] {
        out.push(per_tenant("SecureScoreDataStale", "warning", i));
    }
    // The revoked shared credential: 30 failing tenants and the one alert that explains them,
    // plus two tenants that fail for their own reasons.
    for i in 0..30 {
        out.push(per_tenant("SecureScoreRefreshFailing", "warning", i));
    }
    out.push(alert(
        "SecureScoreFleetRefreshFailing",
        "critical",
        &[
            job(),
            ("scope", "credential".into()),
            ("credential", "partner-a".into()),
        ],
    ));
    for i in [300, 301] {
        out.push(per_tenant("SecureScoreRefreshFailing", "warning", i));
    }
    out.push(per_tenant("SecureScoreTenantMissing", "warning", 400));
    out.push(alert(
        "SecureScoreCredentialExpiring",
        "warning",
        &[job(), ("credential", "partner-b".into())],
    ));
    out
}

async fn get_json(client: &reqwest::Client, url: &str) -> Vec<Value> {
    let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{url}: {e}"))
}

#[tokio::test]
async fn a_500_tenant_fleet_makes_a_handful_of_notifications_and_fleet_failures_inhibit() {
    let dir = tempfile::tempdir().unwrap();
    let config = alertmanager_config_for_amtool(dir.path(), "http://127.0.0.1:9/teams");
    let port = free_port();
    let _am = KillOnDrop(
        Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager is installed (scripts/test installs it)"),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_http_ok(&format!("{base}/-/ready"), 30).await;
    let client = reqwest::Client::new();
    let alerts = fleet_alerts();
    let posted = client
        .post(format!("{base}/api/v2/alerts"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&alerts).unwrap())
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{:?}", posted.text().await);

    // Inhibition: the 30 partner-a failures are suppressed by the credential's fleet alert;
    // the two tenants failing on their own are not.
    let all: Vec<Value> = get_json(&client, &format!("{base}/api/v2/alerts")).await;
    assert_eq!(all.len(), alerts.len(), "every alert arrived");
    let failing: Vec<&Value> = all
        .iter()
        .filter(|a| a["labels"]["alertname"] == "SecureScoreRefreshFailing")
        .collect();
    for a in &failing {
        let inhibited = !a["status"]["inhibitedBy"].as_array().unwrap().is_empty();
        let shared = a["labels"]["credential"] == "partner-a";
        assert_eq!(inhibited, shared, "{}", a["labels"]);
        assert_eq!(
            a["status"]["state"],
            if shared { "suppressed" } else { "active" }
        );
    }
    assert!(
        all.iter()
            .filter(|a| a["labels"]["alertname"] != "SecureScoreRefreshFailing")
            .all(|a| a["status"]["inhibitedBy"].as_array().unwrap().is_empty()),
        "the fleet alert inhibits nothing but the failures it explains"
    );

    // Notification groups per receiver (one notification per group and repeat_interval).
    let groups: Vec<Value> = get_json(
        &client,
        &format!("{base}/api/v2/alerts/groups?inhibited=false"),
    )
    .await;
    let mut per_receiver: BTreeMap<String, usize> = BTreeMap::new();
    for g in &groups {
        let active = g["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["status"]["state"] == "active");
        if active {
            *per_receiver
                .entry(g["receiver"]["name"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let am = yaml_file(&config);
    let repeat_hours = |receiver: &str| -> f64 {
        let route = am["route"]["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["receiver"] == receiver)
            .unwrap_or(&am["route"]);
        let r = route["repeat_interval"]
            .as_str()
            .or(am["route"]["repeat_interval"].as_str())
            .unwrap();
        r.trim_end_matches('h').parse().unwrap()
    };
    eprintln!(
        "{} alerts from {TENANTS} tenants; notification groups per receiver:",
        alerts.len()
    );
    for (receiver, n) in &per_receiver {
        eprintln!(
            "  {receiver}: {n} groups, at most {:.0} notifications a day while all fire",
            *n as f64 * 24.0 / repeat_hours(receiver)
        );
    }
    // The digest: one per state alert name, whatever the number of tenants.
    assert_eq!(per_receiver["security-digest-email"], 4);
    // Per-tenant events: 8 drops and their 8 tenants' regressed controls, 3 stale, 2 failing
    // on their own, 1 missing.
    assert_eq!(per_receiver["security-team-teams"], 8 + 8 + 3 + 2 + 1);
    assert_eq!(per_receiver["operations-email"], 1);
    assert_eq!(per_receiver["on-call"], 1);
    let total: usize = per_receiver.values().sum();
    assert!(
        total <= 30,
        "{total} notification groups for {} alerts",
        alerts.len()
    );
}
