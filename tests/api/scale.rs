//! MSP-scale behaviour: multi-target /probe, cardinality settings, and a stalled tenant that
//! delays nobody.

use crate::helpers::*;
use securescore_exporter::simulator::{Endpoint, Fault};
use std::time::Duration;

#[tokio::test]
async fn probe_serves_exactly_one_tenant() {
    let app = spawn_app(Setup::default()).await;
    app.wait_ready().await;
    let r = app.get("/probe?tenant=fabrikam").await;
    assert_eq!(r.status(), 200);
    let s = Scrape::parse(&r.text().await.unwrap());
    assert!(s.samples.len() > 100);
    assert!(
        s.samples
            .iter()
            .all(|x| x.labels.get("tenant").map(String::as_str) == Some("fabrikam")),
        "only fabrikam"
    );
    let full = app.scrape().await;
    assert_eq!(
        s.samples.len(),
        full.score_series("fabrikam").len() + 2,
        "its score series plus up and last success"
    );
    assert_eq!(app.get("/probe?tenant=nobody").await.status(), 404);
    assert_eq!(app.get("/probe").await.status(), 404);
    app.stop().await;
}

async fn series_with(extra: &str) -> Scrape {
    let app = spawn_app(Setup {
        only: vec!["fabrikam"],
        extra_toml: extra.into(),
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let s = app.scrape().await;
    app.stop().await;
    s
}

#[tokio::test]
async fn cardinality_settings_produce_the_documented_series() {
    let all = series_with("").await;
    let incomplete = series_with("\n[metrics]\ncontrols = \"incomplete\"\n").await;
    let none = series_with("\n[metrics]\ncontrols = \"none\"\n").await;
    let no_device =
        series_with("\n[metrics]\nexclude_categories = [\"device\"]\ninclude_services = [\"*\"]\n")
            .await;
    let sim = securescore_exporter::simulator::data::demo_tenants();
    let spec = sim.iter().find(|t| t.name == "fabrikam").unwrap();
    let raw = securescore_exporter::simulator::data::generate(
        spec,
        time::OffsetDateTime::now_utc().date(),
    );
    let controls = raw.records[0]["controlScores"].as_array().unwrap();
    let below_max = controls
        .iter()
        .filter(|c| num(&c["scoreInPercentage"]) < 100.0)
        .count();
    let count = |s: &Scrape, m: &str| s.all(m, &[("tenant", "fabrikam")]).len();
    assert_eq!(count(&all, "securescore_control_info"), controls.len());
    assert_eq!(count(&incomplete, "securescore_control_info"), below_max);
    assert_eq!(count(&incomplete, "securescore_control_points"), below_max);
    assert_eq!(count(&none, "securescore_control_info"), 0);
    assert_eq!(count(&none, "securescore_control_points"), 0);
    // Tenant-level, category and peer series are there in every mode.
    for s in [&all, &incomplete, &none] {
        assert_eq!(count(s, "securescore_current_points"), 1);
        assert_eq!(
            count(s, "securescore_category_points"),
            count(&all, "securescore_category_points")
        );
        assert!(count(s, "securescore_peer_average_ratio") > 0);
    }
    assert!(no_device
        .all("securescore_category_points", &[("category", "device")])
        .is_empty());
    assert!(no_device
        .all("securescore_control_points", &[("category", "device")])
        .is_empty());
    assert!(!no_device
        .all("securescore_control_points", &[("category", "identity")])
        .is_empty());
    println!(
        "fabrikam series: all={}, incomplete={}, none={}",
        all.score_series("fabrikam").len() + 2,
        incomplete.score_series("fabrikam").len() + 2,
        none.score_series("fabrikam").len() + 2
    );
}

#[tokio::test]
async fn a_stalled_tenant_does_not_delay_the_others() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam", "northwind"],
        interval: "300ms",
        timeout: "30s",
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    // fabrikam's Graph hangs for 20 s on every call.
    app.sim.inject(
        Some("fabrikam"),
        Some(Endpoint::SecureScores),
        Fault::Slow(Duration::from_secs(20)),
        1000,
    );
    let t0 = app.scrape().await;
    let last = |s: &Scrape, t: &str| {
        s.get(
            "securescore_last_refresh_success_timestamp_seconds",
            &[("tenant", t)],
        )
        .unwrap()
    };
    let started = std::time::Instant::now();
    // The others refresh several times while fabrikam's call is stuck.
    app.wait_for("contoso and northwind keep refreshing", 10, |s| {
        last(s, "contoso") > last(&t0, "contoso") + 1.0
            && last(s, "northwind") > last(&t0, "northwind") + 1.0
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(1.0));
    assert_eq!(
        s.up("fabrikam"),
        Some(1.0),
        "still up: its refresh is only slow, its data unchanged"
    );
    // At most the refresh that was already running when the stall began has finished since.
    assert!(last(&s, "fabrikam") <= last(&t0, "fabrikam") + 1.0);
    app.sim.clear_faults();
    app.stop().await;
}
