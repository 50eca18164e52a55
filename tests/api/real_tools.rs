//! What users point at the exporter: promtool's linter and a real Prometheus server.
//! The test command installs them (see .ci/run); a missing tool fails the test.

use crate::cli::{exporter, free_port, terminate, wait_http_ok};
use crate::helpers::*;
use std::io::Write;
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
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (apt-get install prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {report}");
    assert!(report.trim().is_empty(), "promtool reported: {report}");
    app.stop().await;
}

use securescore_exporter::simulator::{Endpoint, Fault};

#[tokio::test]
async fn a_real_prometheus_scrapes_the_demo() {
    let port = free_port();
    let prom_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut exp = exporter()
        .args(["demo", "--web.listen-address", &format!("127.0.0.1:{port}")])
        .env("TMPDIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_http_ok(&format!("http://127.0.0.1:{port}/-/ready"), 30).await;
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: securescore\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let mut prom = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed (apt-get install prometheus)");
    let client = reqwest::Client::new();
    let query = |q: &'static str| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("http://127.0.0.1:{prom_port}/api/v1/query"))
                .query(&[("query", q)])
                .send()
                .await
                .ok()?;
            serde_json::from_slice::<serde_json::Value>(&r.bytes().await.ok()?).ok()
        }
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    let result = loop {
        if let Some(v) = query("securescore_current_points").await {
            let res = v["data"]["result"].as_array().cloned().unwrap_or_default();
            if res.len() == 3 {
                break res;
            }
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never returned the three tenants' scores"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let exported = Scrape::parse(
        &reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
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
    let up = query("up{job=\"securescore\"}").await.unwrap();
    assert_eq!(
        up["data"]["result"][0]["value"][1], "1",
        "the scrape itself is clean"
    );
    let samples = query("scrape_samples_scraped{job=\"securescore\"}")
        .await
        .unwrap();
    let n: f64 = samples["data"]["result"][0]["value"][1]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 500.0, "{n} samples");
    terminate(&prom);
    terminate(&exp);
    let _ = prom.wait();
    let _ = exp.wait();
}
