//! History on day one and reports: backfill through promtool into a real Prometheus, and the
//! snapshot report in every format.

use crate::cli::{exporter, terminate};
use crate::helpers::*;
use std::collections::BTreeSet;

fn ts(record: &serde_json::Value) -> i64 {
    time::OffsetDateTime::parse(
        record["createdDateTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp()
}

/// Label sets (as sorted "k=v" lists, without job/instance) of the samples in an exposition.
fn label_sets(samples: &[Sample], with_ts: Option<&str>) -> BTreeSet<String> {
    let _ = with_ts;
    samples
        .iter()
        .filter(|s| s.labels.contains_key("tenant"))
        .filter(|s| {
            !matches!(
                s.name.as_str(),
                "securescore_up"
                    | "securescore_last_refresh_success_timestamp_seconds"
                    | "securescore_refresh_failures_total"
                    | "securescore_graph_partial_responses_total"
            )
        })
        .map(|s| {
            let labels: Vec<String> = s
                .labels
                .iter()
                .filter(|(k, _)| *k != "job" && *k != "instance")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("{}{{{}}}", s.name, labels.join(","))
        })
        .collect()
}

#[tokio::test]
async fn backfill_goes_through_promtool_into_prometheus_with_exact_values() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam", "northwind"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let live = app.scrape().await;
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("history.om");
    let mut cmd = exporter();
    cmd.args(["backfill", "--config"])
        .arg(&app.config_path)
        .args(["--days", "90", "--output"])
        .arg(&om)
        .args([
            "--label",
            "job=securescore",
            "--label",
            "instance=exporter:10057",
        ]);
    // The simulator runs on this test's runtime: wait for the child off it.
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&om).unwrap();
    assert!(text.ends_with("# EOF\n"));

    // Same names and label sets as the live scrape, for the newest day.
    let newest = ts(&app.sim.tenant_data("contoso").unwrap().records[0]).to_string();
    let backfilled: Vec<Sample> = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.ends_with(&format!(" {newest}")))
        .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
        .flat_map(|l| Scrape::parse(&l).samples)
        .collect();
    assert!(backfilled
        .iter()
        .all(|s| s.labels["job"] == "securescore" && s.labels["instance"] == "exporter:10057"));
    assert_eq!(
        label_sets(&backfilled, None),
        label_sets(&live.samples, None)
    );

    // Through the real tools.
    let (mut prom, prom_port) = prometheus_on_backfill(&om, dir.path()).await;
    let client = reqwest::Client::new();
    let query = |q: String, at: i64| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("http://127.0.0.1:{prom_port}/api/v1/query"))
                .query(&[("query", q), ("time", at.to_string())])
                .send()
                .await
                .unwrap();
            let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            v["data"]["result"].as_array().cloned().unwrap_or_default()
        }
    };
    let value = |r: &[serde_json::Value]| -> f64 {
        assert_eq!(r.len(), 1, "{r:?}");
        r[0]["value"][1].as_str().unwrap().parse().unwrap()
    };
    for tenant in ["contoso", "fabrikam", "northwind"] {
        let raw = app.sim.tenant_data(tenant).unwrap();
        for day in [1usize, 30, 60, 89] {
            let rec = &raw.records[day];
            let at = ts(rec);
            let got = query(
                format!("securescore_current_points{{tenant=\"{tenant}\"}}"),
                at,
            )
            .await;
            assert_eq!(
                value(&got),
                num(&rec["currentScore"]),
                "{tenant} {day} days ago"
            );
            let got = query(format!("securescore_max_points{{tenant=\"{tenant}\"}}"), at).await;
            assert_eq!(
                value(&got),
                num(&rec["maxScore"]),
                "{tenant} max {day} days ago"
            );
            // A control and its category on that day.
            let controls = rec["controlScores"].as_array().unwrap();
            let c = &controls[day % controls.len()];
            let name = c["controlName"].as_str().unwrap();
            let got = query(
                format!("securescore_control_points{{tenant=\"{tenant}\",control=\"{name}\"}}"),
                at,
            )
            .await;
            assert_eq!(
                value(&got),
                num(&c["score"]),
                "{tenant} {name} {day} days ago"
            );
            let cat = c["controlCategory"].as_str().unwrap().to_lowercase();
            let expected: f64 = controls
                .iter()
                .filter(|x| x["controlCategory"].as_str().unwrap().to_lowercase() == cat)
                .map(|x| num(&x["score"]))
                .sum();
            let got = query(
                format!("securescore_category_points{{tenant=\"{tenant}\",category=\"{cat}\"}}"),
                at,
            )
            .await;
            assert_eq!(value(&got), expected, "{tenant} {cat} {day} days ago");
        }
    }
    // The history is dense: 90 daily points per tenant over the window.
    let newest_at: i64 = newest.parse().unwrap();
    let counted = query(
        "count_over_time(securescore_current_points{tenant=\"contoso\"}[91d])".into(),
        newest_at,
    )
    .await;
    assert_eq!(value(&counted), 90.0);
    terminate(&prom);
    let _ = prom.wait();
    app.stop().await;
}

async fn run_snapshot(config: &std::path::Path, format: &str) -> (i32, String, String) {
    run_snapshot_with(config, format, &[]).await
}

/// `snapshot --config CONFIG --format FORMAT EXTRA…`: exit code, stdout, stderr.
async fn run_snapshot_with(
    config: &std::path::Path,
    format: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut cmd = exporter();
    cmd.args(["snapshot", "--config"])
        .arg(config)
        .args(["--format", format])
        .args(extra);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn snapshot_reports_in_every_format_match_graph() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam", "tailspin"],
        ..Setup::default()
    })
    .await;
    let (code, json, err) = run_snapshot(&app.config_path, "json").await;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let tenants = v["tenants"].as_array().unwrap();
    assert_eq!(tenants.len(), 3);
    for t in tenants.iter().filter(|t| t["status"] == "up") {
        let name = t["tenant"].as_str().unwrap();
        let raw = app.sim.tenant_data(name).unwrap();
        let (now, week, month) = (&raw.records[0], &raw.records[7], &raw.records[30]);
        assert_eq!(
            t["current_points"].as_f64().unwrap(),
            num(&now["currentScore"]),
            "{name}"
        );
        assert_eq!(t["max_points"].as_f64().unwrap(), num(&now["maxScore"]));
        assert_eq!(
            t["score_ratio"].as_f64().unwrap(),
            num(&now["currentScore"]) / num(&now["maxScore"])
        );
        assert_eq!(
            t["snapshot_date"],
            &now["createdDateTime"].as_str().unwrap()[..10]
        );
        assert_eq!(
            t["change_7d"]["points"].as_f64().unwrap(),
            num(&now["currentScore"]) - num(&week["currentScore"])
        );
        // Graph's first page of secureScores holds 30 records (the simulator's too), and the
        // first page is all a tenant reads: the record 30 days back is not among them.
        let _ = month;
        assert!(t["change_30d"].is_null(), "{}", t["change_30d"]);
        let ratio = t["score_ratio"].as_f64().unwrap();
        let band = if ratio <= 0.65 {
            "concern"
        } else if ratio < 0.8 {
            "good"
        } else {
            "excellent"
        };
        assert_eq!(t["band"], band);
        // Every recommended action, the most points available first.
        let actions = t["actions"].as_array().unwrap();
        assert!(actions.len() >= 10);
        let avail: Vec<f64> = actions
            .iter()
            .map(|a| a["points_available"].as_f64().unwrap())
            .collect();
        assert!(avail.windows(2).all(|w| w[0] >= w[1]), "{avail:?}");
        let best = now["controlScores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let (s, p) = (num(&c["score"]), num(&c["scoreInPercentage"]));
                let id = c["controlName"].as_str().unwrap();
                let max = if p > 0.0 {
                    s * 100.0 / p
                } else {
                    num(&raw.profiles.iter().find(|x| x["id"] == id).unwrap()["maxScore"])
                };
                max - s
            })
            .fold(0.0, f64::max);
        assert_eq!(avail[0], best);
        assert!(
            actions[0]["user_impact"].is_string() && actions[0]["implementation_cost"].is_string()
        );
        let peers = t["peers"].as_array().unwrap();
        assert!(peers.iter().any(|p| p["basis"] == "total_seats"));
    }
    assert_eq!(
        tenants.iter().find(|t| t["tenant"] == "tailspin").unwrap()["status"],
        "no_data"
    );

    let (code, csv_text, _) = run_snapshot(&app.config_path, "csv").await;
    assert_eq!(code, 0);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("strict CSV")).collect();
    assert_eq!(rows.len(), 3);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let contoso = rows.iter().find(|r| &r[0] == "contoso").unwrap();
    let raw = app.sim.tenant_data("contoso").unwrap();
    assert_eq!(
        contoso[col("current_points")].parse::<f64>().unwrap(),
        num(&raw.records[0]["currentScore"])
    );
    assert_eq!(&contoso[col("band")], "concern");

    let (code, md, _) = run_snapshot(&app.config_path, "markdown").await;
    assert_eq!(code, 0);
    assert!(md.starts_with("# Microsoft Secure Score report"));
    for t in [
        "## contoso",
        "## fabrikam",
        "## tailspin",
        "| Tenant | Secure Score |",
        "Top recommended actions",
        "Organisations of similar size",
    ] {
        assert!(md.contains(t), "{t}");
    }
    app.stop().await;
}

#[tokio::test]
async fn snapshot_exits_non_zero_when_a_tenant_fails_and_prints_the_others() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam"],
        wrong_secret: vec!["fabrikam"],
        ..Setup::default()
    })
    .await;
    let (code, json, err) = run_snapshot(&app.config_path, "json").await;
    assert_eq!(code, 1);
    assert!(err.contains("fabrikam"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let t = v["tenants"].as_array().unwrap();
    assert_eq!(t[0]["status"], "up");
    assert_eq!(t[1]["status"], "failing");
    assert!(t[1]["error"].as_str().unwrap().contains("AADSTS7000215"));
    app.stop().await;
}

#[tokio::test]
async fn snapshot_html_is_one_self_contained_report_and_tenant_picks_one() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam"],
        wrong_secret: vec!["fabrikam"],
        ..Setup::default()
    })
    .await;
    // Only contoso: fabrikam's failure is not fetched and does not decide the exit code.
    let (code, html, err) =
        run_snapshot_with(&app.config_path, "html", &["--tenant", "contoso"]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(html.matches("<article class=\"report\"").count(), 1);
    assert!(html.contains("data-tenant=\"contoso\"") && !html.contains("fabrikam"));
    let raw = app.sim.tenant_data("contoso").unwrap();
    assert!(html.contains(&format!(
        "data-current-points=\"{}\"",
        num(&raw.records[0]["currentScore"])
    )));
    // Self-contained: styles inline, no script, nothing that points elsewhere.
    assert!(html.contains("<style>") && html.contains("@media print"));
    for banned in [
        "<script", "<link", " src=", "http://", "https://", "@import", "url(",
    ] {
        assert!(!html.contains(banned), "{banned} in the report");
    }
    // Both tenants: one fails, so exit 1, and its error is in the report.
    let (code, html, _) = run_snapshot_with(&app.config_path, "html", &[]).await;
    assert_eq!(code, 1);
    assert_eq!(html.matches("<article class=\"report\"").count(), 2);
    assert!(html.contains("AADSTS7000215"));
    // A tenant the configuration does not have.
    let (code, _, err) = run_snapshot_with(&app.config_path, "html", &["--tenant", "nobody"]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("--tenant \"nobody\": no tenant of that name"),
        "{err}"
    );
    app.stop().await;
}
