//! The HTTP surface: health, readiness, landing page, gzip, methods.

use crate::helpers::*;
use securescore_sim::{Endpoint, Fault};
use std::io::Read;
use std::time::Duration;

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam"],
        ..Setup::default()
    })
    .await;
    // Hold fabrikam's first token request so readiness is observable before it.
    app.sim.inject(
        Some("fabrikam"),
        Some(Endpoint::Token),
        Fault::Slow(Duration::from_millis(1500)),
        1,
    );
    let healthy = app.get("/-/healthy").await;
    assert_eq!(healthy.status(), 200);
    assert_eq!(
        app.get("/-/ready").await.status(),
        503,
        "fabrikam has not been attempted yet"
    );
    // /metrics answers at once while a refresh is in progress.
    let started = std::time::Instant::now();
    let s = app.scrape().await;
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(s.up("fabrikam"), Some(0.0));
    app.wait_ready().await;
    assert_eq!(app.get("/-/ready").await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn landing_page_lists_tenants_and_links_metrics() {
    let app = spawn_app(Setup::default()).await;
    app.wait_ready().await;
    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"));
    let html = r.text().await.unwrap();
    assert!(html.contains("href=\"metrics\""));
    assert!(html.contains(env!("CARGO_PKG_VERSION")));
    for t in ["contoso", "fabrikam", "northwind", "tailspin"] {
        assert!(html.contains(t), "{t}");
    }
    assert!(
        html.contains("data-tenant=\"tailspin\" data-status=\"no_data\""),
        "tailspin has no record yet"
    );
    let tailspin = app.get("/tenants/tailspin").await.text().await.unwrap();
    assert!(tailspin.contains("No Secure Score yet"));
    assert_eq!(app.get("/tenants/nobody").await.status(), 404);
    assert_eq!(app.get("/tenants/%ZZ").await.status(), 404);
    assert!(!html.contains("<script"));
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_gzipped_when_asked() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let plain = app.metrics_text().await;
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let r = raw
        .get(app.url("/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let body = r.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .unwrap();
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("process_"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&text).len(), strip(&plain).len());
    assert!(text.contains("securescore_current_points{tenant=\"contoso\"}"));
    let r = raw
        .get(app.url("/metrics"))
        .header("accept-encoding", "gzip;q=0")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    app.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_are_refused() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    assert_eq!(app.get("/nope").await.status(), 404);
    let r = app.http.post(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let r = app.http.head(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}
