//! MSP-scale behaviour: multi-target /probe, cardinality settings, and a stalled tenant that
//! delays nobody.

use crate::helpers::*;
use securescore_sim::{Endpoint, Fault};
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
        full.score_series("fabrikam").len() + 2 + 9,
        "its score series, up and last success, and its counters (7 failure reasons, 2 endpoints' 206s)"
    );
    // Every probed sample is the same series with the same value as in /metrics.
    for x in &s.samples {
        let labels: Vec<(&str, &str)> = x
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            full.get(&x.name, &labels),
            Some(x.value),
            "{} {labels:?}",
            x.name
        );
    }
    assert_eq!(s.failures("fabrikam", "decode"), Some(0.0));
    assert_eq!(
        s.get(
            "securescore_graph_partial_responses_total",
            &[("tenant", "fabrikam"), ("endpoint", "secure_scores")]
        ),
        Some(0.0)
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
    let sim = securescore_sim::spec::demo_tenants();
    let spec = sim.iter().find(|t| t.name == "fabrikam").unwrap();
    let raw = securescore_sim::generate::generate(spec, time::OffsetDateTime::now_utc().date());
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

#[tokio::test]
async fn refreshes_respect_the_global_limit() {
    use securescore_sim::SimulatorOptions;
    let slow = || SimulatorOptions {
        latency: (Duration::from_millis(300), Duration::from_millis(300)),
        ..SimulatorOptions::default()
    };
    // Pairs of tenants whose requests overlapped in time: each tenant's window runs from its
    // first request's arrival to its last one's answer (every answer waits 300 ms; 250 ms is
    // counted, so a tenant that starts right after another's answer never counts).
    let overlapping = |sim: &securescore_sim::Simulator| -> usize {
        let mut windows: std::collections::BTreeMap<
            String,
            (std::time::Instant, std::time::Instant),
        > = Default::default();
        for r in sim.requests() {
            let Some(t) = r.tenant.clone() else { continue };
            let w = windows.entry(t).or_insert((r.at, r.at));
            w.0 = w.0.min(r.at);
            w.1 = w.1.max(r.at);
        }
        let w: Vec<_> = windows.values().collect();
        let answered = Duration::from_millis(250);
        let mut pairs = 0;
        for i in 0..w.len() {
            for j in i + 1..w.len() {
                if w[i].0 < w[j].1 + answered && w[j].0 < w[i].1 + answered {
                    pairs += 1;
                }
            }
        }
        pairs
    };
    // One refresh at a time: four tenants, each ≥ 300 ms (secureScores and profiles run together).
    let app = spawn_app(Setup {
        sim: slow(),
        extra_refresh: "max_concurrent_tenants = 1\n",
        ..Setup::default()
    })
    .await;
    let started = std::time::Instant::now();
    app.wait_ready().await;
    let serial = started.elapsed();
    let serial_pairs = overlapping(&app.sim);
    app.stop().await;
    let app = spawn_app(Setup {
        sim: slow(),
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let parallel_pairs = overlapping(&app.sim);
    app.stop().await;
    // A lower bound only (a loaded machine makes it longer, never shorter).
    assert!(
        serial >= Duration::from_millis(1200),
        "limit 1 serialises the first pass: {serial:?}"
    );
    // What the limit is about, without comparing wall-clock times that a busy machine skews.
    assert_eq!(
        serial_pairs, 0,
        "limit 1: no two tenants' refreshes overlap"
    );
    assert!(
        parallel_pairs >= 3,
        "the default limit runs the first pass in parallel: {parallel_pairs} overlapping pairs of 6"
    );
}

#[tokio::test]
async fn steady_state_refreshes_keep_each_tenants_place_in_the_interval() {
    use securescore_exporter::state::refresh::phase;
    let interval = Duration::from_secs(2);
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam", "northwind"],
        interval: "2s",
        // Only refreshes read secureScores (no history fill among the times).
        extra_toml: "[history]\ndays = 1\n".into(),
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    // Wait for two more rounds, then compare the tenants' request times with their phases.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let reqs = app.sim.requests();
    let times = |t: &str| -> Vec<std::time::Instant> {
        reqs.iter()
            .filter(|r| r.endpoint == Endpoint::SecureScores && r.tenant.as_deref() == Some(t))
            .map(|r| r.at)
            .collect()
    };
    let (a, b) = (times("contoso"), times("fabrikam"));
    assert!(a.len() >= 3 && b.len() >= 3, "{} {}", a.len(), b.len());
    // Steady state: successive refreshes one interval apart (±2 % jitter + scheduling).
    let gap = a[2].duration_since(a[1]).as_secs_f64();
    assert!(
        (gap - 2.0).abs() < 0.25,
        "contoso refreshes every interval: {gap}"
    );
    // The offset between two tenants is the offset between their phases, modulo the interval.
    let offset = |x: std::time::Instant, y: std::time::Instant| {
        let d = x.duration_since(y.min(x)).as_secs_f64() - y.duration_since(x.min(y)).as_secs_f64();
        d.rem_euclid(2.0)
    };
    let expected = (phase("contoso", interval).as_secs_f64()
        - phase("fabrikam", interval).as_secs_f64())
    .rem_euclid(2.0);
    let seen = offset(a[2], b[2]);
    let diff = (seen - expected).abs();
    assert!(
        diff.min(2.0 - diff) < 0.25,
        "phases spread the tenants: seen {seen:.3}, expected {expected:.3}"
    );
    app.stop().await;
}

#[tokio::test]
async fn one_app_stays_within_its_global_request_limit() {
    // Three tenants of one multi-tenant app, allowed 3 Graph requests per 2 seconds in all:
    // their 6+ first-pass requests need more than 2 seconds.
    let mut sim = securescore_sim::SimulatorOptions::default();
    for t in &mut sim.tenants {
        t.client_id = "77777777-7777-4777-8777-777777777777".into();
        t.client_secret = "shared".into();
    }
    let app = spawn_app(Setup {
        only: vec!["contoso", "northwind", "tailspin"],
        sim,
        extra_graph: "app_request_limit = 3\napp_request_window = \"2s\"\n",
        credential: Some(Box::new(|_, _| "credential = \"msp\"\n".into())),
        extra_toml: "\n[credentials.msp]\nclient_id = \"77777777-7777-4777-8777-777777777777\"\nclient_secret = \"shared\"\n".into(),
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let mut times: Vec<std::time::Instant> = app
        .sim
        .requests()
        .into_iter()
        .filter(|r| {
            matches!(
                r.endpoint,
                Endpoint::SecureScores | Endpoint::ControlProfiles
            )
        })
        .map(|r| r.at)
        .collect();
    times.sort();
    assert!(times.len() >= 6, "{}", times.len());
    // The limiter counts a request when it lets it go; the simulator stamps it on arrival, after
    // its TLS connection is set up, which can take a few hundred milliseconds on a loaded 2-core CI
    // machine. So the check allows 800 ms of that jitter: without the limiter all 6+ requests
    // arrive within a few milliseconds of each other, with it the 4th comes about 2 s after the 1st.
    for (i, t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t) < Duration::from_millis(1200))
            .count();
        assert!(
            in_window <= 3,
            "{in_window} requests within 1.2 s: {times:?}"
        );
    }
    let span = times[times.len() - 1].duration_since(times[0]);
    assert!(
        span >= Duration::from_millis(1200),
        "6+ requests at 3 per 2 s took only {span:?}"
    );
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(1.0));
    assert_eq!(s.up("northwind"), Some(1.0));
    app.stop().await;
}
