//! Reload without a restart: `POST /-/reload` and SIGHUP.

use crate::cli::{exporter, free_port, wait_http_ok};
use crate::helpers::*;
use securescore_sim::Endpoint;
use std::process::Stdio;
use std::time::Duration;

/// Keeps only the `[[tenants]]` blocks of `keep` (by name) in a helpers-written config, adding `add`.
fn rewrite(config: &str, keep: &[&str], add: &[&securescore_sim::spec::TenantSpec]) -> String {
    let mut parts = config.split("\n[[tenants]]\n");
    let mut out = parts.next().unwrap().to_string();
    for block in parts {
        let name = block
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("name = ")
            .trim_matches('"');
        if keep.contains(&name) {
            out.push_str("\n[[tenants]]\n");
            out.push_str(block);
        }
    }
    for t in add {
        out.push_str(&format!(
            "\n[[tenants]]\nname = {}\ntenant_id = {}\nclient_id = {}\nclient_secret = {}\n",
            q(&t.name),
            q(&t.tenant_id),
            q(&t.client_id),
            q(&t.client_secret)
        ));
    }
    out
}

async fn post_reload(app: &TestApp) -> (u16, String) {
    let r = app.http.post(app.url("/-/reload")).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn reload_adds_removes_and_keeps_tenants() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let before = app.scrape().await;
    let contoso_tokens = app.sim.count("contoso", Endpoint::Token);
    let contoso_scores = app.sim.count("contoso", Endpoint::SecureScores);
    let northwind = app.spec("northwind").clone();
    let text = std::fs::read_to_string(&app.config_path).unwrap();
    std::fs::write(
        &app.config_path,
        rewrite(&text, &["contoso"], &[&northwind]),
    )
    .unwrap();
    let (status, body) = post_reload(&app).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("1 added, 1 removed, 0 restarted, 1 unchanged"),
        "{body}"
    );
    let s = app
        .wait_for("northwind refreshed", 15, |s| {
            s.up("northwind") == Some(1.0)
        })
        .await;
    // Removed: every fabrikam series is gone, its counters too.
    assert!(s
        .samples
        .iter()
        .all(|x| x.labels.get("tenant").map(String::as_str) != Some("fabrikam")));
    // Kept: contoso's data and schedule are untouched (no new token, no new refresh).
    assert_eq!(
        s.get(
            "securescore_last_refresh_success_timestamp_seconds",
            &[("tenant", "contoso")]
        ),
        before.get(
            "securescore_last_refresh_success_timestamp_seconds",
            &[("tenant", "contoso")]
        )
    );
    assert_eq!(app.sim.count("contoso", Endpoint::Token), contoso_tokens);
    assert_eq!(
        app.sim.count("contoso", Endpoint::SecureScores),
        contoso_scores
    );
    assert_eq!(
        s.score_series("contoso").len(),
        before.score_series("contoso").len()
    );
    assert_eq!(
        s.get("securescore_config_last_reload_successful", &[]),
        Some(1.0)
    );
    // GET is not a reload.
    assert_eq!(app.get("/-/reload").await.status(), 405);
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_reload_keeps_the_running_configuration() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let good = std::fs::read_to_string(&app.config_path).unwrap();
    std::fs::write(&app.config_path, format!("{good}\n[refresh]\nbogus = 1\n")).unwrap();
    let (status, body) = post_reload(&app).await;
    assert_eq!(status, 500);
    assert!(body.contains("keeping the running configuration"), "{body}");
    let s = app.scrape().await;
    assert_eq!(
        s.get("securescore_config_last_reload_successful", &[]),
        Some(0.0)
    );
    assert_eq!(
        s.up("contoso"),
        Some(1.0),
        "the old configuration still runs"
    );
    std::fs::write(&app.config_path, good).unwrap();
    let (status, _) = post_reload(&app).await;
    assert_eq!(status, 200);
    assert_eq!(
        app.scrape()
            .await
            .get("securescore_config_last_reload_successful", &[]),
        Some(1.0)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_binary() {
    // The simulator runs in this test; the daemon is the real binary reading a real file.
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    let port = free_port();
    let text = std::fs::read_to_string(&app.config_path)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &text).unwrap();
    let mut child = exporter()
        .args(["--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_http_ok(&format!("http://127.0.0.1:{port}/-/ready"), 30).await;
    let northwind = app.spec("northwind").clone();
    std::fs::write(&path, rewrite(&text, &["contoso"], &[&northwind])).unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if body.contains("securescore_up{tenant=\"northwind\"} 1") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "northwind never appeared after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    crate::cli::terminate(&child);
    let _ = child.wait();
    app.stop().await;
}

/// A reload that moves a tenant to a named credential relabels its `securescore_tenant_info`.
#[tokio::test]
async fn a_reload_that_changes_a_tenants_credential_relabels_it() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let info = |s: &Scrape| {
        s.all("securescore_tenant_info", &[("tenant", "contoso")])
            .iter()
            .map(|x| x.labels["credential"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(info(&app.scrape().await), ["contoso"]);
    let spec = app.spec("contoso").clone();
    let text = std::fs::read_to_string(&app.config_path).unwrap();
    let mut named = rewrite(&text, &[], &[]);
    named.push_str(&format!(
        "\n[[tenants]]\nname = \"contoso\"\ntenant_id = {}\ncredential = \"shared\"\n\n[credentials.shared]\nclient_id = {}\nclient_secret = {}\n",
        q(&spec.tenant_id),
        q(&spec.client_id),
        q(&spec.client_secret)
    ));
    std::fs::write(&app.config_path, named).unwrap();
    let (status, body) = post_reload(&app).await;
    assert_eq!(status, 200, "{body}");
    let s = app
        .wait_for("the new credential label", 15, |s| info(s) == ["shared"])
        .await;
    assert_eq!(s.up("contoso"), Some(1.0));
    app.stop().await;
}
