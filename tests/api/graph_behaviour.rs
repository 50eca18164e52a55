//! How the exporter talks to Graph: paging, throttling, retries, tokens, origin checks.

use crate::helpers::*;
use securescore_sim::{Endpoint, Fault, Simulator, SimulatorOptions};
use std::time::Duration;

#[tokio::test]
async fn reads_top_1_without_following_next_link_and_pages_profiles() {
    let app = spawn_app(Setup {
        only: vec!["fabrikam"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let reqs = app.sim.requests();
    let scores: Vec<_> = reqs
        .iter()
        .filter(|r| r.endpoint == Endpoint::SecureScores)
        .collect();
    // The refresh reads `$top=1`; the history fill (after the first pass) `$top=90`; neither
    // follows the nextLink Graph adds.
    let tops: Vec<&str> = scores
        .iter()
        .map(|r| {
            r.path_and_query
                .split("$top=")
                .nth(1)
                .unwrap_or("")
                .split('&')
                .next()
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        tops.iter().filter(|t| **t == "1").count(),
        1,
        "one refresh: {tops:?}"
    );
    assert!(tops.iter().all(|t| *t == "1" || *t == "90"), "{tops:?}");
    assert!(scores.len() <= 2, "one refresh and at most one fill");
    assert!(
        scores
            .iter()
            .all(|r| !r.path_and_query.contains("skiptoken")),
        "nextLink not followed"
    );
    let profiles: Vec<_> = reqs
        .iter()
        .filter(|r| r.endpoint == Endpoint::ControlProfiles)
        .collect();
    assert_eq!(
        profiles.len(),
        2,
        "fabrikam's catalogue spans two pages of 200"
    );
    assert!(profiles[1].path_and_query.contains("$skiptoken="));
    let s = app.scrape().await;
    let raw = app.sim.tenant_data("fabrikam").unwrap();
    assert!(raw.profiles.len() > 200);
    // A control whose profile is on page 2 has its rank and title.
    let scid = raw.profiles[230]["id"].as_str().unwrap().to_string();
    assert!(
        s.get(
            "securescore_control_rank",
            &[("tenant", "fabrikam"), ("control", &scid)]
        )
        .is_some(),
        "{scid}"
    );
    // Request headers: version in User-Agent, gzip asked for, bearer token sent to Graph.
    for r in reqs.iter().filter(|r| r.endpoint != Endpoint::Token) {
        assert!(r.user_agent.as_deref().unwrap().starts_with(&format!(
            "securescore_exporter/{}",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(r.accept_encoding.as_deref().unwrap_or("").contains("gzip"));
        assert!(r.authorization);
    }
    let token_req = reqs.iter().find(|r| r.endpoint == Endpoint::Token).unwrap();
    let form: std::collections::BTreeMap<_, _> = token_req.form.iter().cloned().collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
    assert!(token_req.path_and_query.ends_with("/oauth2/v2.0/token"));
    app.stop().await;
}

#[tokio::test]
async fn throttling_honours_retry_after() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        max_retries: 3,
        // Only the refresh reads secureScores (no history fill to count).
        extra_toml: "[history]\ndays = 1\n".into(),
        ..Setup::default()
    })
    .await;
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::SecureScores),
        Fault::Throttle {
            retry_after: Some(1),
        },
        2,
    );
    let started = std::time::Instant::now();
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(1.0), "succeeds after waiting");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited Retry-After twice: {:?}",
        started.elapsed()
    );
    assert_eq!(s.requests("secure_scores", "429"), Some(2.0));
    assert_eq!(s.requests("secure_scores", "200"), Some(1.0));
    app.stop().await;
}

/// The gap between the first request of `tenant` to `endpoint` that got `status` and the
/// request after it.
fn retry_gap(app: &TestApp, tenant: &str, endpoint: Endpoint, status: u16) -> Duration {
    let reqs: Vec<_> = app
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == endpoint && r.tenant.as_deref() == Some(tenant))
        .collect();
    let i = reqs
        .iter()
        .position(|r| r.status == status)
        .expect("the fault was served");
    let next = reqs.get(i + 1).expect("a retry followed");
    next.at.duration_since(reqs[i].at)
}

#[tokio::test]
async fn a_503_or_504_honours_retry_after_in_seconds_and_as_a_date() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        max_retries: 3,
        ..Setup::default()
    })
    .await;
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::SecureScores),
        Fault::Unavailable {
            status: 503,
            retry_after: "2".into(),
        },
        1,
    );
    // An HTTP date three seconds ahead (whole seconds: the wait is between 2 and 3 s).
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let date = at
        .format(time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
        ))
        .unwrap();
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::ControlProfiles),
        Fault::Unavailable {
            status: 504,
            retry_after: date.clone(),
        },
        1,
    );
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(1.0), "succeeds after waiting");
    let seconds = retry_gap(&app, "contoso", Endpoint::SecureScores, 503);
    assert!(
        seconds >= Duration::from_secs(2),
        "503 Retry-After: 2 waited {seconds:?}"
    );
    let dated = retry_gap(&app, "contoso", Endpoint::ControlProfiles, 504);
    assert!(
        dated >= Duration::from_millis(1500),
        "504 Retry-After: {date} waited {dated:?}"
    );
    assert_eq!(s.requests("secure_scores", "503"), Some(1.0));
    assert_eq!(s.requests("control_profiles", "504"), Some(1.0));
    assert_eq!(s.failures("contoso", "http"), Some(0.0));
    app.stop().await;
}

#[tokio::test]
async fn a_503_that_outlasts_the_retries_fails_as_http() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        max_retries: 2,
        ..Setup::default()
    })
    .await;
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::SecureScores),
        Fault::Unavailable {
            status: 503,
            retry_after: "0".into(),
        },
        3,
    );
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(0.0));
    assert_eq!(s.failures("contoso", "http"), Some(1.0));
    assert_eq!(s.failures("contoso", "throttled"), Some(0.0));
    assert_eq!(s.requests("secure_scores", "503"), Some(3.0));
    app.stop().await;
}

#[tokio::test]
async fn throttling_without_retry_after_backs_off_then_gives_up_as_throttled() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        max_retries: 2,
        ..Setup::default()
    })
    .await;
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::SecureScores),
        Fault::Throttle { retry_after: None },
        3,
    );
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(0.0));
    assert_eq!(s.failures("contoso", "throttled"), Some(1.0));
    assert_eq!(s.requests("secure_scores", "429"), Some(3.0));
}

#[tokio::test]
async fn the_simulator_enforces_graphs_rate_limit() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        sim: SimulatorOptions {
            requests_per_minute: 2,
            ..SimulatorOptions::default()
        },
        max_retries: 0,
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    // 1 score call + 1 profiles page fit; a third request in the minute is refused.
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(1.0));
    let token = {
        let spec = app.spec("contoso");
        let resp = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(app.sim.ca_pem().as_bytes()).unwrap(),
            )
            .build()
            .unwrap()
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                app.sim.base_url(),
                spec.tenant_id
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", spec.client_id.as_str()),
                ("client_secret", spec.client_secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&resp.bytes().await.unwrap()).unwrap()
            ["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(app.sim.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = client
        .get(format!(
            "{}/v1.0/security/secureScores?$top=1",
            app.sim.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&after));
    app.stop().await;
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let app = spawn_app(Setup {
        only: vec!["contoso", "northwind"],
        max_retries: 2,
        ..Setup::default()
    })
    .await;
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::ControlProfiles),
        Fault::ServerError(503),
        2,
    );
    app.sim.inject(
        Some("northwind"),
        Some(Endpoint::ControlProfiles),
        Fault::ServerError(500),
        3,
    );
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(
        s.up("contoso"),
        Some(1.0),
        "two failures, then success on the third try"
    );
    assert_eq!(
        s.up("northwind"),
        Some(0.0),
        "three failures exhaust two retries"
    );
    assert_eq!(s.failures("northwind", "http"), Some(1.0));
    assert_eq!(app.sim.count("northwind", Endpoint::ControlProfiles), 3);
    app.stop().await;
}

#[tokio::test]
async fn malformed_json_is_a_decode_failure() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::SecureScores),
        Fault::MalformedJson,
        1,
    );
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(0.0));
    assert_eq!(s.failures("contoso", "decode"), Some(1.0));
    app.stop().await;
}

#[tokio::test]
async fn slow_responses_time_out() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        timeout: "300ms",
        max_retries: 1,
        ..Setup::default()
    })
    .await;
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::SecureScores),
        Fault::Slow(Duration::from_secs(2)),
        2,
    );
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.failures("contoso", "timeout"), Some(1.0));
    assert_eq!(s.requests("secure_scores", "timeout"), Some(2.0));
    app.stop().await;
}

#[tokio::test]
async fn partial_content_keeps_the_data_and_is_counted() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    let warning = r#"199 - "Microsoft/SecureScore/504/10034""#;
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::SecureScores),
        Fault::Partial {
            warning: warning.into(),
        },
        1,
    );
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(1.0));
    assert!(s
        .get("securescore_current_points", &[("tenant", "contoso")])
        .is_some());
    assert_eq!(
        s.get(
            "securescore_graph_partial_responses_total",
            &[("tenant", "contoso"), ("endpoint", "secure_scores")]
        ),
        Some(1.0)
    );
    assert_eq!(s.requests("secure_scores", "206"), Some(1.0));
    app.stop().await;
}

#[tokio::test]
async fn a_foreign_next_link_is_refused_and_gets_no_token() {
    let foreign = Simulator::start(SimulatorOptions::default()).await.unwrap();
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    let link = format!(
        "{}/v1.0/security/secureScoreControlProfiles?$skiptoken=stolen",
        foreign.base_url()
    );
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::ControlProfiles),
        Fault::NextLink(link),
        1,
    );
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(0.0));
    assert_eq!(s.failures("contoso", "security"), Some(1.0));
    assert!(
        foreign.requests().is_empty(),
        "nothing, and certainly no token, went to the foreign origin"
    );
    // Same host, other scheme: also foreign.
    let http_link = app.sim.base_url().replace("https://", "http://")
        + "/v1.0/security/secureScoreControlProfiles?$skiptoken=x";
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::ControlProfiles),
        Fault::NextLink(http_link),
        1,
    );
    app.wait_for("second security failure", 10, |s| {
        s.failures("contoso", "security") == Some(2.0)
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        interval: "1s",
        sim: SimulatorOptions {
            token_lifetime: Duration::from_secs(2),
            ..SimulatorOptions::default()
        },
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    eventually("three tokens fetched", 15, || async {
        app.sim.count("contoso", Endpoint::Token) >= 3
    })
    .await;
    let reqs = app.sim.requests();
    assert!(
        reqs.iter()
            .filter(|r| r.endpoint != Endpoint::Token)
            .all(|r| r.status != 401),
        "a token is replaced before Graph sees it expire"
    );
    let s = app.scrape().await;
    assert_eq!(s.up("contoso"), Some(1.0));
    assert_eq!(s.failures("contoso", "auth"), Some(0.0));
    app.stop().await;
}

#[tokio::test]
async fn a_401_drops_the_token_and_retries_once() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        interval: "1s",
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    assert_eq!(
        app.sim.count("contoso", Endpoint::Token),
        1,
        "one token serves the first refresh"
    );
    app.sim.revoke_tokens();
    eventually("a new token after the revocation", 10, || async {
        app.sim.count("contoso", Endpoint::Token) >= 2
    })
    .await;
    let s = app
        .wait_for("a successful refresh with the new token", 10, |s| {
            s.requests("secure_scores", "401") >= Some(1.0)
                && s.requests("secure_scores", "200") >= Some(2.0)
        })
        .await;
    assert_eq!(s.failures("contoso", "auth"), Some(0.0));
    // A persistent 401 fails after exactly one retry, as auth.
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::SecureScores),
        Fault::Unauthorized,
        1000,
    );
    app.wait_for("auth failure", 10, |s| {
        s.failures("contoso", "auth") >= Some(1.0)
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn missing_consent_is_an_auth_failure() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    app.sim.inject(
        Some("contoso"),
        Some(Endpoint::SecureScores),
        Fault::Forbidden,
        1,
    );
    app.wait_ready().await;
    let s = app.scrape().await;
    assert_eq!(s.failures("contoso", "auth"), Some(1.0));
    let page = app.get("/tenants/contoso").await.text().await.unwrap();
    assert!(page.contains("Authorization_RequestDenied"));
    app.stop().await;
}

#[tokio::test]
async fn at_most_four_requests_are_in_flight_per_tenant() {
    use securescore_exporter::config::{AzureEnv, Config};
    use securescore_exporter::exposition::SelfMetrics;
    use securescore_exporter::source::connect::{client, tenant_graph, AppLimiters};
    use securescore_exporter::source::events::GraphEvents;
    use std::sync::Arc;

    let app = spawn_app(Setup {
        only: vec!["fabrikam"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let config = Config::load(Some(&app.config_path), &AzureEnv::default()).unwrap();
    let t = &config.tenants[0];
    let metrics: Arc<dyn GraphEvents> = SelfMetrics::new();
    let http = client(&config).unwrap();
    let graph = tenant_graph(&http, &config, t, &metrics, &AppLimiters::default()).unwrap();
    app.sim.inject(
        Some("fabrikam"),
        None,
        Fault::Slow(Duration::from_millis(200)),
        1000,
    );
    let calls = (0..12).map(|_| graph.latest_scores(1));
    let results = futures_join_all(calls).await;
    assert!(results.iter().all(|r| r.is_ok()), "no call was throttled");
    assert_eq!(app.sim.max_in_flight("fabrikam"), 4);
    app.stop().await;
}

/// Runs futures concurrently on this task (a tiny join_all, to avoid a dependency).
async fn futures_join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}
