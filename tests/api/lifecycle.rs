//! The contract's lifecycle rules, one test each.

use crate::helpers::*;
use securescore_sim::{Endpoint, Fault};
use std::time::Duration;

#[tokio::test]
async fn before_the_first_success_up_is_zero_and_no_score_series_exist() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam"],
        wrong_secret: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let s = app
        .wait_for("auth failure counted", 10, |s| {
            s.failures("contoso", "auth") >= Some(1.0)
        })
        .await;
    assert_eq!(s.up("contoso"), Some(0.0));
    assert!(
        s.score_series("contoso").is_empty(),
        "{:?}",
        s.score_series("contoso")
    );
    assert_eq!(
        s.get(
            "securescore_last_refresh_success_timestamp_seconds",
            &[("tenant", "contoso")]
        ),
        None
    );
    // Every reason starts at zero so increase() sees the first failure.
    for reason in [
        "throttled",
        "http",
        "transport",
        "timeout",
        "decode",
        "security",
    ] {
        assert_eq!(s.failures("contoso", reason), Some(0.0), "{reason}");
    }
    // One broken tenant never hides another.
    assert_eq!(s.up("fabrikam"), Some(1.0));
    assert!(s
        .get("securescore_current_points", &[("tenant", "fabrikam")])
        .is_some());
    // The landing page says what went wrong.
    let page = app.get("/").await.text().await.unwrap();
    assert!(
        page.contains("AADSTS7000215"),
        "landing page shows the Entra error"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_last_good_values() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "northwind"],
        interval: "1s",
        max_retries: 0,
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let good = app.scrape().await;
    let last_ok = good
        .get(
            "securescore_last_refresh_success_timestamp_seconds",
            &[("tenant", "contoso")],
        )
        .expect("success timestamp");
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::SecureScores),
        Fault::ServerError(503),
        1000,
    );
    let s = app
        .wait_for("contoso up = 0", 15, |s| s.up("contoso") == Some(0.0))
        .await;
    for sample in good.score_series("contoso") {
        let now = s.get(
            &sample.name,
            &sample
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        );
        assert_eq!(now, Some(sample.value), "{} kept", sample.name);
    }
    assert_eq!(
        s.score_series("contoso").len(),
        good.score_series("contoso").len()
    );
    assert_eq!(
        s.get(
            "securescore_last_refresh_success_timestamp_seconds",
            &[("tenant", "contoso")]
        ),
        Some(last_ok),
        "unchanged by a failure"
    );
    assert!(s.failures("contoso", "http") >= Some(1.0));
    // The other tenant keeps refreshing.
    assert_eq!(s.up("northwind"), Some(1.0));
    let t0 = s
        .get(
            "securescore_last_refresh_success_timestamp_seconds",
            &[("tenant", "northwind")],
        )
        .unwrap();
    app.wait_for("northwind refreshes again", 10, |s| {
        s.get(
            "securescore_last_refresh_success_timestamp_seconds",
            &[("tenant", "northwind")],
        ) > Some(t0)
    })
    .await;
    // Recovery.
    app.sim.clear_faults();
    app.wait_for("contoso recovers", 15, |s| s.up("contoso") == Some(1.0))
        .await;
    app.stop().await;
}

#[tokio::test]
async fn a_tenant_without_a_record_is_up_with_no_score_series() {
    let app = spawn_app(Setup {
        only: vec!["tailspin"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.up("tailspin"), Some(1.0));
    assert!(
        s.score_series("tailspin").is_empty(),
        "no data, never zero: {:?}",
        s.score_series("tailspin")
    );
    assert!(s
        .get(
            "securescore_last_refresh_success_timestamp_seconds",
            &[("tenant", "tailspin")]
        )
        .is_some());
    app.stop().await;
}

#[tokio::test]
async fn a_control_that_disappears_from_graph_disappears_from_metrics() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        interval: "1s",
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let s = app.scrape().await;
    let gone = "AdminMFAV2";
    assert!(!s
        .all("securescore_control_points", &[("control", gone)])
        .is_empty());
    let before = s
        .all("securescore_control_info", &[("tenant", "contoso")])
        .len();
    app.sim.update_tenant("contoso", |data| {
        let controls = data.records[0]["controlScores"].as_array_mut().unwrap();
        controls.retain(|c| c["controlName"] != gone);
        data.profiles.retain(|p| p["id"] != gone);
    });
    let s = app
        .wait_for("control vanishes", 10, |s| {
            s.all("securescore_control_points", &[("control", gone)])
                .is_empty()
        })
        .await;
    for m in [
        "securescore_control_max_points",
        "securescore_control_rank",
        "securescore_control_info",
    ] {
        assert!(s.all(m, &[("control", gone)]).is_empty(), "{m}");
    }
    assert_eq!(
        s.all("securescore_control_info", &[("tenant", "contoso")])
            .len(),
        before - 1
    );
    app.stop().await;
}

#[tokio::test]
async fn shutdown_is_graceful_and_prompt() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        sim: securescore_sim::SimulatorOptions::default(),
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    // A refresh stuck on a slow Graph must not hold shutdown.
    app.sim
        .inject(None, None, Fault::Slow(Duration::from_secs(30)), 100);
    let started = std::time::Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
}
