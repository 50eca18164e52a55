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

/// Panel targets that may legitimately return nothing on a fresh Prometheus: offsets into
/// history it does not have, a flat trend, no changes, no throttling.
const MAY_BE_EMPTY: &[(&str, &str)] = &[
    ("Tenant table", "D"),
    ("Tenant table", "E"),
    ("Days to 80 %", "A"),
    ("What changed", "A"),
    ("Throttling and partial answers", "A"),
];

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
    let rules = crate::dashboards::repo().join("deploy/prometheus/securescore.rules.yml");
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
            Some("tenant:securescore_score:ratio".into()),
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
    assert_eq!(n, 24, "all rules loaded");

    // 3. Every panel query runs; tenant- and control-level panels return data.
    for (name, d) in crate::dashboards::dashboards() {
        for (title, ref_id, expr) in crate::dashboards::queries(&d) {
            let q = substitute(&expr);
            let v = api("/api/v1/query".into(), Some(q.clone()))
                .await
                .expect("Prometheus answers");
            assert_eq!(
                v["status"], "success",
                "{name} / {title} / {ref_id}: {q}: {v}"
            );
            if !MAY_BE_EMPTY.contains(&(title.as_str(), ref_id.as_str())) {
                assert!(
                    !result_of(&v).is_empty(),
                    "{name} / {title} / {ref_id} returned no data: {q}"
                );
            }
        }
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
    let rules_text = std::fs::read_to_string(&rules).unwrap();
    let recorded: std::collections::BTreeSet<String> = rules_text
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("- record: ")
                .map(|s| s.trim().to_string())
        })
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
