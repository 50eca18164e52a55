//! What users point at the exporter: promtool's linter and a real Prometheus server.
//! The test command installs them (see .ci/run); a missing tool fails the test.

use crate::cli::{exporter, free_port, terminate, wait_http_ok};
use crate::helpers::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn promtool_finds_nothing_to_complain_about() {
    let app = spawn_app(Setup::default()).await;
    app.wait_ready().await;
    // Exercise every optional family: a failure, a 206, retries.
    app.sim.inject(
        Some("northwind"),
        Some(Endpoint::SecureScores),
        Fault::Partial {
            warning: "199 - \"Microsoft/SecureScore/504/10034\"".into(),
        },
        1,
    );
    let body = app.metrics_text().await;
    let report = promtool_check_metrics(body.as_bytes());
    assert!(report.trim().is_empty(), "promtool reported: {report}");
    app.stop().await;
}

use securescore_sim::{Endpoint, Fault};

/// Panel targets that may legitimately return nothing on a fresh Prometheus scraping the demo:
/// no trend yet, no failing tenant, no throttling, no certificate credential. Targets that
/// compare with days earlier (`offset`) are answered by the backfilled Prometheus instead.
const MAY_BE_EMPTY: &[(&str, &str)] = &[
    ("Days to the next band", "A"),
    ("Failing tenants", "A"),
    ("Failing tenants", "B"),
    ("Failing tenants", "C"),
    ("Throttling and partial answers per hour", "A"),
    ("Throttling and partial answers per hour", "B"),
    ("Credential expiring first", "A"),
    ("Certificate credentials: days left", "A"),
];

/// Every (dashboard, panel, refId, expr, table?) of the shipped dashboards.
fn panel_targets() -> Vec<(String, String, String, String, bool)> {
    let mut out = Vec::new();
    for (name, d) in crate::dashboards::dashboards() {
        for p in d["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                out.push((
                    name.clone(),
                    p["title"].as_str().unwrap().to_string(),
                    t["refId"].as_str().unwrap().to_string(),
                    t["expr"].as_str().unwrap().to_string(),
                    t["format"] == "table",
                ));
            }
        }
    }
    out
}

/// Replaces Grafana's variables with values a test Prometheus can answer.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "1h")
        .replace("$__interval", "15s")
        .replace("$job", "securescore")
        .replace("tenant=~\"$tenant\"", "tenant=~\".*\"")
        .replace("$tenant", "fabrikam")
}

/// Every metric-like name in `text`: exporter metrics, recording rules, process metrics.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let bytes = text.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let mut i = 0;
    while i < bytes.len() {
        if is_ident(bytes[i]) && (i == 0 || !is_ident(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            let is_metric = (word.starts_with("securescore_") && word != "securescore_exporter")
                || word.starts_with("process_")
                || (word.matches(':').count() == 2 && word.contains("securescore"));
            if is_metric {
                out.insert(word.to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

#[tokio::test]
async fn a_real_prometheus_scrapes_the_demo_and_runs_every_rule_and_panel() {
    let port = free_port();
    let prom_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut exp = KillOnDrop(
        exporter()
            .args(["demo", "--web.listen-address", &format!("127.0.0.1:{port}")])
            .env("TMPDIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_http_ok(&format!("http://127.0.0.1:{port}/-/ready"), 30).await;
    // The shipped rules with every group evaluated each second (they run every 1 or 5 minutes
    // in production), so the test sees every rule evaluated within seconds.
    let shipped = crate::dashboards::repo().join("deploy/prometheus/securescore.rules.yml");
    let rules = dir.path().join("securescore.rules.yml");
    let text = std::fs::read_to_string(&shipped).unwrap();
    let fast = text
        .replace("interval: 1m\n", "interval: 1s\n")
        .replace("interval: 5m\n", "interval: 1s\n");
    assert_eq!(
        fast.matches("interval: 1s\n").count(),
        5,
        "every group has its interval"
    );
    std::fs::write(&rules, fast).unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: securescore\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
            rules.display()
        ),
    )
    .unwrap();
    let mut prom = KillOnDrop(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed (apt-get install prometheus)"),
    );
    let client = reqwest::Client::new();
    let api = |path: String, query: Option<String>| {
        let client = client.clone();
        async move {
            let mut req = client.get(format!("http://127.0.0.1:{prom_port}{path}"));
            if let Some(q) = query {
                req = req.query(&[("query", q)]);
            }
            let r = req.send().await.ok()?;
            serde_json::from_slice::<serde_json::Value>(&r.bytes().await.ok()?).ok()
        }
    };
    let result_of =
        |v: &serde_json::Value| v["data"]["result"].as_array().cloned().unwrap_or_default();
    // Wait for scrapes, enough samples for 1m rates, and the recording rules.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let scores = api(
            "/api/v1/query".into(),
            Some("securescore_current_points".into()),
        )
        .await;
        let ratio = api(
            "/api/v1/query".into(),
            Some("job_tenant:securescore_score:ratio".into()),
        )
        .await;
        let samples = api(
            "/api/v1/query".into(),
            Some("count_over_time(up{job=\"securescore\"}[1m]) >= 3".into()),
        )
        .await;
        if [&scores, &ratio, &samples]
            .iter()
            .all(|v| v.as_ref().is_some_and(|v| !result_of(v).is_empty()))
            && scores.as_ref().is_some_and(|v| result_of(v).len() == 3)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never had the three tenants' scores and rules"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // 1. The scrape is clean and the values are the exporter's.
    let exported_text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exported = Scrape::parse(&exported_text);
    let result = result_of(
        &api(
            "/api/v1/query".into(),
            Some("securescore_current_points".into()),
        )
        .await
        .unwrap(),
    );
    for r in &result {
        let tenant = r["metric"]["tenant"].as_str().unwrap();
        assert_eq!(r["metric"]["job"], "securescore");
        let v: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
        assert_eq!(
            Some(v),
            exported.get("securescore_current_points", &[("tenant", tenant)]),
            "{tenant}"
        );
    }
    let up = api(
        "/api/v1/query".into(),
        Some("up{job=\"securescore\"}".into()),
    )
    .await
    .unwrap();
    assert_eq!(
        result_of(&up)[0]["value"][1],
        "1",
        "the scrape itself is clean"
    );

    // 2. Every rule loaded and evaluates without error.
    let groups = api("/api/v1/rules".into(), None).await.unwrap();
    let mut n = 0;
    for g in groups["data"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            n += 1;
            assert_eq!(r["health"], "ok", "rule {} : {}", r["name"], r["lastError"]);
        }
    }
    assert_eq!(n, crate::rules::rules().len(), "all rules loaded");

    // 3. Every panel query runs; tenant- and control-level panels return data, and no table
    //    row keeps __name__ (Grafana's merge could not join it with the other columns).
    for (name, title, ref_id, expr, table) in panel_targets() {
        let q = substitute(&expr);
        let v = api("/api/v1/query".into(), Some(q.clone()))
            .await
            .expect("Prometheus answers");
        assert_eq!(
            v["status"], "success",
            "{name} / {title} / {ref_id}: {q}: {v}"
        );
        let rows = result_of(&v);
        if !MAY_BE_EMPTY.contains(&(title.as_str(), ref_id.as_str())) && !expr.contains(" offset ")
        {
            assert!(
                !rows.is_empty(),
                "{name} / {title} / {ref_id} returned no data: {q}"
            );
        }
        if table {
            for r in &rows {
                assert!(
                    r["metric"].get("__name__").is_none() && r["metric"].get("instance").is_none(),
                    "{name} / {title} / {ref_id}: a table row keeps {}: {q}",
                    r["metric"]
                );
            }
        }
    }
    for (name, d) in crate::dashboards::dashboards() {
        // Template variables' label_values() queries name real series too.
        for var in d["templating"]["list"].as_array().unwrap() {
            if let Some(q) = var["query"]["query"].as_str() {
                let selector = q
                    .trim_start_matches("label_values(")
                    .rsplit_once(',')
                    .unwrap()
                    .0
                    .replace("$job", "securescore");
                let r = client
                    .get(format!("http://127.0.0.1:{prom_port}/api/v1/series"))
                    .query(&[("match[]", selector.as_str())])
                    .send()
                    .await
                    .unwrap();
                let v: serde_json::Value =
                    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
                assert!(
                    !v["data"].as_array().unwrap().is_empty(),
                    "{name}: variable query {q} finds series"
                );
            }
        }
    }

    // 4. Every metric a panel or rule names exists in the exporter's output or a recording rule.
    let rules_text = std::fs::read_to_string(&shipped).unwrap();
    let recorded: std::collections::BTreeSet<String> = crate::rules::rules()
        .iter()
        .filter_map(|(_, r)| r["record"].as_str().map(String::from))
        .collect();
    let mut exposed: std::collections::BTreeSet<String> = exported.types.keys().cloned().collect();
    for (family, kind) in &exported.types {
        if kind == "histogram" {
            for suffix in ["_bucket", "_count", "_sum"] {
                exposed.insert(format!("{family}{suffix}"));
            }
        }
    }
    let mut used = metric_names(&rules_text);
    for (_, d) in crate::dashboards::dashboards() {
        used.extend(metric_names(&d.to_string()));
    }
    assert!(used.len() > 20, "{used:?}");
    for name in &used {
        assert!(
            exposed.contains(name) || recorded.contains(name),
            "{name} is used but neither exported nor recorded"
        );
    }

    terminate(&prom);
    terminate(&exp);
    let _ = prom.wait();
    let _ = exp.wait();
}

/// A Prometheus that holds nothing but `backfill`'s days (one sample per day at 00:00, no
/// scrape, no rules) answers every panel that compares with days earlier, and draws the
/// daily-history panels: history is on the boards from day one.
#[tokio::test]
async fn a_prometheus_with_only_backfilled_days_answers_every_change_panel() {
    let dir = tempfile::tempdir().unwrap();
    let om = dir.path().join("history.om");
    let out = exporter()
        .args(["backfill", "--days=90", "--label=job=securescore"])
        .arg("--label=instance=exporter:10057")
        .arg(format!("--output={}", om.display()))
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut prom, prom_port) = prometheus_on_backfill(&om, dir.path()).await;
    let client = reqwest::Client::new();
    let query = |path: &'static str, params: Vec<(&'static str, String)>| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("http://127.0.0.1:{prom_port}{path}"))
                .query(&params)
                .send()
                .await
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&r.bytes().await.unwrap()).unwrap()
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (mut checked, mut nonempty) = (0, 0);
    for (name, title, ref_id, expr, _) in panel_targets() {
        let q = substitute(&expr);
        if expr.contains(" offset ") {
            let v = query("/api/v1/query", vec![("query", q.clone())]).await;
            assert_eq!(v["status"], "success", "{name} / {title}: {v}");
            if v["data"]["result"].as_array().unwrap().is_empty() {
                // Empty only because nothing moved in the demo's history ("> 0", "!= 0"): the
                // comparison itself must find both days.
                let unfiltered = q.replace(" > 0)", ")").replace(" != 0)", ")");
                assert_ne!(
                    unfiltered, q,
                    "{name} / {title} / {ref_id} is empty on backfilled days: {q}"
                );
                let v = query("/api/v1/query", vec![("query", unfiltered.clone())]).await;
                assert!(
                    !v["data"]["result"].as_array().unwrap().is_empty(),
                    "{name} / {title} / {ref_id} finds no backfilled days: {unfiltered}"
                );
            } else {
                nonempty += 1;
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "change panels found: {checked}");
    assert!(
        nonempty * 2 > checked,
        "{nonempty} of {checked} change panels show a change"
    );
    // The daily-history panels: one point per day over the last 30 days.
    for (title, ref_id) in [
        ("Tenants per band", "A"),
        ("Fleet average over time", "A"),
        ("Score vs peers", "A"),
    ] {
        let (_, _, _, expr, _) = panel_targets()
            .into_iter()
            .find(|t| t.1 == title && t.2 == ref_id)
            .unwrap();
        let v = query(
            "/api/v1/query_range",
            vec![
                ("query", substitute(&expr)),
                ("start", (now - 30 * 86400).to_string()),
                ("end", now.to_string()),
                ("step", "86400".into()),
            ],
        )
        .await;
        let series = v["data"]["result"].as_array().unwrap();
        assert!(!series.is_empty(), "{title}: {v}");
        assert!(
            series[0]["values"].as_array().unwrap().len() >= 29,
            "{title} has a point per backfilled day: {}",
            series[0]
        );
    }
    terminate(&prom);
    let _ = prom.wait();
}
