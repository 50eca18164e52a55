//! Fault injection: for every fault Graph, Entra ID or the network can produce, the process
//! survives, the last good data stays, `securescore_up` and the failure reason are right,
//! recovery follows once the fault clears, and the log has one line per failure and no secrets.

use crate::helpers::*;
use securescore_sim::identity::{make_certificate, TEST_APP_KEY_PEM};
use securescore_sim::{Endpoint, Fault, SimulatorOptions};
use std::time::Duration;

struct Case {
    name: &'static str,
    endpoint: Option<Endpoint>,
    fault: Fault,
    reason: &'static str,
}

fn cases() -> Vec<Case> {
    let c = |name, endpoint, fault, reason| Case {
        name,
        endpoint,
        fault,
        reason,
    };
    vec![
        c(
            "429 with Retry-After",
            Some(Endpoint::SecureScores),
            Fault::Throttle {
                retry_after: Some(0),
            },
            "throttled",
        ),
        c(
            "429 without Retry-After",
            Some(Endpoint::SecureScores),
            Fault::Throttle { retry_after: None },
            "throttled",
        ),
        c(
            "500",
            Some(Endpoint::SecureScores),
            Fault::ServerError(500),
            "http",
        ),
        c(
            "502",
            Some(Endpoint::ControlProfiles),
            Fault::ServerError(502),
            "http",
        ),
        c(
            "503",
            Some(Endpoint::SecureScores),
            Fault::ServerError(503),
            "http",
        ),
        c(
            "504",
            Some(Endpoint::ControlProfiles),
            Fault::ServerError(504),
            "http",
        ),
        c(
            "timeout",
            Some(Endpoint::SecureScores),
            Fault::Slow(Duration::from_secs(3)),
            "timeout",
        ),
        c(
            "connection reset",
            Some(Endpoint::SecureScores),
            Fault::ConnectionReset,
            "transport",
        ),
        c(
            "malformed JSON",
            Some(Endpoint::SecureScores),
            Fault::MalformedJson,
            "decode",
        ),
        c(
            "wrong content type",
            Some(Endpoint::ControlProfiles),
            Fault::WrongContentType,
            "decode",
        ),
        c(
            "oversized body",
            Some(Endpoint::ControlProfiles),
            Fault::Oversized(40 * 1024 * 1024),
            "decode",
        ),
        c(
            "token endpoint down (503)",
            Some(Endpoint::Token),
            Fault::ServerError(503),
            "http",
        ),
        c(
            "token endpoint reset",
            Some(Endpoint::Token),
            Fault::ConnectionReset,
            "transport",
        ),
        c(
            "token revoked mid-refresh",
            Some(Endpoint::ControlProfiles),
            Fault::Unauthorized,
            "auth",
        ),
        c(
            "foreign nextLink",
            Some(Endpoint::ControlProfiles),
            Fault::NextLink(
                "https://attacker.example/v1.0/security/secureScoreControlProfiles?$skiptoken=1"
                    .into(),
            ),
            "security",
        ),
    ]
}

#[tokio::test]
async fn every_fault_is_survived_reported_and_recovered_from() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "fabrikam"],
        interval: "200ms",
        failure_backoff: "100ms",
        retry_backoff: "10ms",
        max_retries: 1,
        timeout: "1s",
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let good = app.scrape().await;
    let good_series = good.score_series("contoso");
    let mut matrix = Vec::new();
    for case in cases() {
        let before = app.scrape().await;
        let failures = |s: &Scrape| s.failures("contoso", case.reason).unwrap_or(0.0);
        let lines_before = thread_log()
            .lines()
            .filter(|l| l.contains("refresh failed") && l.contains("tenant=contoso"))
            .count();
        app.sim
            .inject(Some("contoso"), case.endpoint, case.fault.clone(), 1000);
        if case.endpoint == Some(Endpoint::Token) {
            // The cached token would hide the token endpoint: revoke it, as Entra can.
            app.sim.revoke_tokens();
        }
        let s = app
            .wait_for(case.name, 20, |s| {
                s.up("contoso") == Some(0.0) && failures(s) > failures(&before)
            })
            .await;
        // The last good data is still served, and the other tenant is untouched.
        for sample in &good_series {
            let labels: Vec<(&str, &str)> = sample
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(
                s.get(&sample.name, &labels),
                Some(sample.value),
                "{}: {} kept",
                case.name,
                sample.name
            );
        }
        assert_eq!(
            s.up("fabrikam"),
            Some(1.0),
            "{}: fabrikam unaffected",
            case.name
        );
        app.sim.clear_faults();
        let recovered = app
            .wait_for(&format!("{} recovery", case.name), 20, |s| {
                s.up("contoso") == Some(1.0)
            })
            .await;
        // One warning line per failed refresh, no retry noise at info level.
        let failed_refreshes = failures(&recovered) - failures(&before);
        let lines = thread_log()
            .lines()
            .filter(|l| l.contains("refresh failed") && l.contains("tenant=contoso"))
            .count()
            - lines_before;
        let other_reasons: f64 = [
            "auth",
            "throttled",
            "http",
            "transport",
            "timeout",
            "decode",
            "security",
        ]
        .iter()
        .filter(|r| **r != case.reason)
        .map(|r| {
            recovered.failures("contoso", r).unwrap_or(0.0)
                - before.failures("contoso", r).unwrap_or(0.0)
        })
        .sum();
        assert_eq!(
            lines as f64,
            failed_refreshes + other_reasons,
            "{}: one log line per failure; log:\n{}",
            case.name,
            thread_log()
        );
        matrix.push(format!(
            "{} -> up=0, reason={}, {} failed refresh(es), data kept, recovered",
            case.name, case.reason, failed_refreshes
        ));
    }
    let text = thread_log();
    for spec in app.sim.tenants() {
        assert!(!text.contains(&spec.client_secret), "secret in the log");
    }
    assert!(!text.contains("eyJ"), "a token in the log");
    assert!(!text.contains("panicked"));
    // The fault matrix, for the record (cargo test -- --nocapture).
    println!("{}", matrix.join("\n"));
    app.stop().await;
}

#[tokio::test]
async fn dns_failure_is_a_transport_failure() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        max_retries: 0,
        ..Setup::default()
    })
    .await;
    // A second daemon whose login and Graph hosts do not resolve.
    let text = std::fs::read_to_string(&app.config_path)
        .unwrap()
        .replace(app.sim.base_url(), "https://graph.securescore-test.invalid");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let config =
        securescore_exporter::config::Config::load(Some(&path), &Default::default()).unwrap();
    let broken = securescore_exporter::app::App::build(&config)
        .await
        .unwrap();
    let store = broken.store();
    let metrics = broken.metrics();
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(broken.run_until(stop.clone()));
    eventually("the DNS failure", 20, || async { store.ready() }).await;
    let s = Scrape::parse(&String::from_utf8(metrics.encode()).unwrap());
    assert_eq!(s.up("contoso"), Some(0.0));
    assert_eq!(s.failures("contoso", "transport"), Some(1.0));
    stop.cancel();
    task.await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn clock_skew_of_ten_minutes() {
    // Certificate assertions carry absolute times; tokens' lifetimes are relative and unaffected.
    for (offset, expect_up) in [(600i64, 1.0), (-600, 0.0)] {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let (der, pem) = make_certificate(TEST_APP_KEY_PEM, now - 86_400, now + 86_400).unwrap();
        let mut sim = SimulatorOptions {
            clock_offset_secs: offset,
            ..SimulatorOptions::default()
        };
        for t in &mut sim.tenants {
            t.certificates = vec![der.clone()];
        }
        let app = spawn_app(Setup {
            only: vec!["contoso"],
            sim,
            credential: Some(certificate_credential("app.pem", pem.clone())),
            ..Setup::default()
        })
        .await;
        app.wait_ready().await;
        let s = app.scrape().await;
        assert_eq!(
            s.up("contoso"),
            Some(expect_up),
            "Entra's clock {offset:+} s off"
        );
        if expect_up == 0.0 {
            assert_eq!(s.failures("contoso", "auth"), Some(1.0));
            let page = app.get("/").await.text().await.unwrap();
            assert!(
                page.contains("check the clock"),
                "the error says what to fix"
            );
        }
        app.stop().await;
    }
}
