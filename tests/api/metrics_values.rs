//! Exact values on /metrics, computed independently from the simulator's raw payloads.

use crate::helpers::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn lower_first_state(profile: &Value) -> String {
    // Newest controlStateUpdates entry by updatedDateTime (undated entries count as oldest).
    let updates = profile["controlStateUpdates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut best: Option<(String, String)> = None;
    for u in updates {
        let when = u["updatedDateTime"].as_str().unwrap_or("").to_string();
        let state = u["state"].as_str().unwrap_or("Default").to_string();
        if best.as_ref().is_none_or(|(w, _)| when >= *w) {
            best = Some((when, state));
        }
    }
    match best.map(|(_, s)| s).unwrap_or_default().as_str() {
        "Default" | "" => "default".into(),
        "Ignored" => "ignored".into(),
        "ThirdParty" | "thirdParty" => "third_party".into(),
        "Reviewed" => "reviewed".into(),
        other => panic!("unexpected state {other}"),
    }
}

/// Checks every per-tenant series of `tenant` against the raw newest record and catalogue.
async fn assert_tenant_matches_graph(app: &TestApp, tenant: &str) {
    let s = app.scrape().await;
    let raw = app.sim.tenant_data(tenant).unwrap();
    let rec = &raw.records[0];
    let spec = app.spec(tenant);
    let t = [("tenant", tenant)];

    assert_eq!(s.up(tenant), Some(1.0));
    assert_eq!(
        s.get("securescore_current_points", &t),
        Some(num(&rec["currentScore"]))
    );
    assert_eq!(
        s.get("securescore_max_points", &t),
        Some(num(&rec["maxScore"]))
    );
    assert_eq!(
        s.get("securescore_active_users", &t),
        Some(num(&rec["activeUserCount"]))
    );
    assert_eq!(
        s.get("securescore_licensed_users", &t),
        Some(num(&rec["licensedUserCount"]))
    );
    let created = time::OffsetDateTime::parse(
        rec["createdDateTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp() as f64;
    assert_eq!(
        s.get("securescore_snapshot_timestamp_seconds", &t),
        Some(created)
    );
    assert_eq!(
        s.get(
            "securescore_tenant_info",
            &[("tenant", tenant), ("tenant_id", spec.tenant_id.as_str())]
        ),
        Some(1.0)
    );
    let services: Vec<&str> = rec["enabledServices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let exported: Vec<&str> = s
        .all("securescore_enabled_service_info", &t)
        .iter()
        .map(|x| x.labels["service"].as_str())
        .collect();
    let mut sorted = services.clone();
    sorted.sort();
    assert_eq!(exported, sorted);

    let profiles: BTreeMap<&str, &Value> = raw
        .profiles
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    let mut cat_points: BTreeMap<String, f64> = BTreeMap::new();
    let mut cat_max: BTreeMap<String, f64> = BTreeMap::new();
    let controls = rec["controlScores"].as_array().unwrap();
    assert_eq!(
        s.all("securescore_control_points", &t).len(),
        controls.len()
    );
    for c in controls {
        let name = c["controlName"].as_str().unwrap();
        let category = c["controlCategory"].as_str().unwrap().to_lowercase();
        let score = num(&c["score"]);
        let pct = num(&c["scoreInPercentage"]);
        let profile = profiles[name];
        let max = if pct > 0.0 {
            score * 100.0 / pct
        } else {
            num(&profile["maxScore"])
        };
        let labels = [
            ("tenant", tenant),
            ("control", name),
            ("category", category.as_str()),
        ];
        assert_eq!(
            s.get("securescore_control_points", &labels),
            Some(score),
            "{name}"
        );
        assert_eq!(
            s.get("securescore_control_max_points", &labels),
            Some(max),
            "{name}"
        );
        assert_eq!(
            s.get(
                "securescore_control_rank",
                &[("tenant", tenant), ("control", name)]
            ),
            Some(num(&profile["rank"])),
            "{name}"
        );
        // count and total, sent as strings; no series where Graph sends none.
        for (metric, field) in [
            ("securescore_control_items", "count"),
            ("securescore_control_items_in_scope", "total"),
        ] {
            let want = c.get(field).map(num);
            assert_eq!(s.get(metric, &labels), want, "{name} {field}");
        }
        let info = s.all(
            "securescore_control_info",
            &[("tenant", tenant), ("control", name)],
        );
        assert_eq!(info.len(), 1, "{name}");
        let l = &info[0].labels;
        assert_eq!(l["title"], profile["title"].as_str().unwrap());
        assert_eq!(l["category"], category);
        assert_eq!(l["service"], profile["service"].as_str().unwrap());
        let lower_or_unknown = |v: &Value| {
            v.as_str()
                .map(|s| s.to_lowercase())
                .unwrap_or_else(|| "unknown".into())
        };
        assert_eq!(
            l["implementation_cost"],
            lower_or_unknown(&profile["implementationCost"]),
            "{name}"
        );
        assert_eq!(
            l["user_impact"],
            lower_or_unknown(&profile["userImpact"]),
            "{name}"
        );
        assert_eq!(l["state"], lower_first_state(profile), "{name}");
        assert_eq!(
            l["deprecated"],
            profile["deprecated"].as_bool().unwrap().to_string()
        );
        assert_eq!(
            l["tier"],
            profile["tier"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .replace(' ', "_")
        );
        assert_eq!(l["action_type"], "config");
        assert_eq!(info[0].value, 1.0);
        *cat_points.entry(category.clone()).or_default() += score;
        *cat_max.entry(category).or_default() += max;
    }
    for (cat, points) in &cat_points {
        let labels = [("tenant", tenant), ("category", cat.as_str())];
        assert_eq!(
            s.get("securescore_category_points", &labels),
            Some(*points),
            "{cat}"
        );
        assert_eq!(
            s.get("securescore_category_max_points", &labels),
            Some(cat_max[cat]),
            "{cat}"
        );
    }
    assert_eq!(
        s.all("securescore_category_points", &t).len(),
        cat_points.len()
    );

    // Peers: averageScore / 100 and raw category values; -1 or missing produce nothing.
    let mut expected_peer_series = 0;
    for p in rec["averageComparativeScores"].as_array().unwrap() {
        let basis = match p["basis"].as_str().unwrap() {
            "AllTenants" => "all_tenants",
            "TotalSeats" => "total_seats",
            "IndustryTypes" => "industry_types",
            other => panic!("{other}"),
        };
        let avg = num(&p["averageScore"]);
        let got = s.get(
            "securescore_peer_average_ratio",
            &[("tenant", tenant), ("basis", basis)],
        );
        if avg < 0.0 {
            assert_eq!(got, None, "-1 means unknown");
        } else {
            assert_eq!(got, Some(avg / 100.0));
        }
        for (key, v) in p.as_object().unwrap() {
            let Some(cat) = key
                .strip_suffix("ScoreMax")
                .or_else(|| key.strip_suffix("Score"))
            else {
                continue;
            };
            if cat == "average" {
                continue;
            }
            let metric = if key.ends_with("ScoreMax") {
                "securescore_peer_category_max_points"
            } else {
                "securescore_peer_category_points"
            };
            let got = s.get(
                metric,
                &[("tenant", tenant), ("basis", basis), ("category", cat)],
            );
            let v = num(v);
            if v < 0.0 {
                assert_eq!(got, None, "{metric} {basis} {cat}: -1 means unknown");
            } else {
                expected_peer_series += 1;
                assert_eq!(got, Some(v), "{metric} {basis} {cat}");
            }
        }
    }
    let exported_peer = s.all("securescore_peer_category_points", &t).len()
        + s.all("securescore_peer_category_max_points", &t).len();
    assert_eq!(exported_peer, expected_peer_series);
    for sample in s.score_series(tenant) {
        assert!(sample.value >= 0.0, "no negative values: {sample:?}");
    }
}

#[tokio::test]
async fn every_series_matches_graph_exactly() {
    let app = spawn_app(Setup::default()).await;
    app.wait_ready().await;
    for tenant in ["contoso", "fabrikam", "northwind"] {
        assert_tenant_matches_graph(&app, tenant).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn quirky_tenants_show_their_quirks_correctly() {
    let app = spawn_app(Setup::default()).await;
    app.wait_ready().await;
    let s = app.scrape().await;
    // fabrikam: risk accepted, third party (newest entry listed first), reviewed, deprecated.
    let state = |control: &str| {
        s.all(
            "securescore_control_info",
            &[("tenant", "fabrikam"), ("control", control)],
        )[0]
        .labels["state"]
            .clone()
    };
    assert_eq!(
        state("aad_managed_device_required_for_authentication"),
        "ignored"
    );
    assert_eq!(state("mdo_safelinksforOfficeApps"), "third_party");
    assert_eq!(state("exo_individualsharing"), "reviewed");
    assert_eq!(
        s.all(
            "securescore_control_info",
            &[
                ("tenant", "fabrikam"),
                ("control", "aad_linkedin_connection_disables")
            ]
        )[0]
        .labels["deprecated"],
        "true"
    );
    // northwind: lower-camel thirdParty; TotalSeats categories are -1 (no series) but its average is known.
    assert_eq!(
        s.all(
            "securescore_control_info",
            &[("tenant", "northwind"), ("control", "mip_DLP_policies")]
        )[0]
        .labels["state"],
        "third_party"
    );
    assert!(s
        .all(
            "securescore_peer_category_points",
            &[("tenant", "northwind"), ("basis", "total_seats")]
        )
        .is_empty());
    assert!(s
        .get(
            "securescore_peer_average_ratio",
            &[("tenant", "northwind"), ("basis", "total_seats")]
        )
        .is_some());
    assert_eq!(
        s.get(
            "securescore_peer_average_ratio",
            &[("tenant", "northwind"), ("basis", "industry_types")]
        ),
        None
    );
    // HTML and free text never become labels.
    for sample in &s.samples {
        for v in sample.labels.values() {
            assert!(!v.contains('<'), "markup in a label: {sample:?}");
        }
    }
    // Unowned products' profiles are not scored controls.
    assert!(s
        .all(
            "securescore_control_points",
            &[("control", "11770.MDA_Google_EnableTwoFactorAuth")]
        )
        .is_empty());
    app.stop().await;
}

#[tokio::test]
async fn help_text_names_the_graph_field_and_caching() {
    let app = spawn_app(Setup {
        only: vec!["contoso"],
        ..Setup::default()
    })
    .await;
    app.wait_ready().await;
    let s = app.scrape().await;
    for (metric, field) in [
        ("securescore_current_points", "currentScore"),
        ("securescore_max_points", "maxScore"),
        ("securescore_snapshot_timestamp_seconds", "createdDateTime"),
        ("securescore_active_users", "activeUserCount"),
        ("securescore_licensed_users", "licensedUserCount"),
        ("securescore_control_points", "controlScores"),
        ("securescore_control_rank", "rank"),
        ("securescore_peer_average_ratio", "averageScore"),
        ("securescore_peer_category_points", "Score"),
        ("securescore_enabled_service_info", "enabledServices"),
    ] {
        let help = &s.help[metric];
        assert!(help.contains(field), "{metric}: {help}");
        assert!(help.contains("cached"), "{metric}: {help}");
    }
    for (m, t) in [
        ("securescore_refresh_failures_total", "counter"),
        ("securescore_graph_requests_total", "counter"),
        ("securescore_refresh_duration_seconds", "histogram"),
        ("securescore_current_points", "gauge"),
        ("securescore_exporter_build_info", "gauge"),
    ] {
        assert_eq!(s.types[m], t, "{m}");
    }
    assert_eq!(
        s.get("securescore_config_last_reload_successful", &[]),
        Some(1.0)
    );
    let build = s.all("securescore_exporter_build_info", &[]);
    assert_eq!(build.len(), 1);
    assert_eq!(build[0].labels["version"], env!("CARGO_PKG_VERSION"));
    assert!(s.get("process_resident_memory_bytes", &[]).unwrap() > 0.0);
    app.stop().await;
}
