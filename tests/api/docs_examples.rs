//! Microsoft's own example payloads from the Graph documentation (`../shared/graph-docs-examples/raw/`,
//! read in place, never copied), served by the simulator to the real daemon. The v1.0 bodies are
//! what Graph sends: every documented number comes out exactly. The beta bodies carry
//! placeholders (`"createdDateTime.value"`): each is a `decode` failure that keeps the last good
//! data, never a plausible score.

use crate::helpers::*;
use serde_json::{json, Value};
use std::path::PathBuf;

fn raw_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/graph-docs-examples/raw")
}

/// An example body, with the two one-character repairs the examples' README names applied.
fn example(name: &str) -> Value {
    let path = raw_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (shared/ lies beside the project)", path.display()));
    // A comma missing after `"seatSizeRangeLowerValue": "6"` (securescore-get @ 00f1ef96).
    let text = text.replace(
        "\"seatSizeRangeLowerValue\": \"6\"\n",
        "\"seatSizeRangeLowerValue\": \"6\",\n",
    );
    // A trailing comma after `"url": ""` (the control profile pages).
    let text = without_trailing_url_comma(&text);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Removes the comma between `"url": ""` and the closing brace that follows it.
fn without_trailing_url_comma(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\"url\": \"\",") {
        let (head, tail) = rest.split_at(i + "\"url\": \"\"".len());
        out.push_str(head);
        let after = &tail[1..];
        if after.trim_start().starts_with('}') {
            rest = after;
        } else {
            out.push(',');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The items of a list body, or the one object of a GET body.
fn items(body: Value) -> Vec<Value> {
    match body.get("value") {
        Some(Value::Array(items)) => items.clone(),
        _ => vec![body],
    }
}

/// A daemon for contoso, whose Graph answers with `records` and `profiles`.
async fn serving(records: Vec<Value>, profiles: Vec<Value>, interval: &'static str) -> TestApp {
    spawn_app(Setup {
        only: vec!["contoso"],
        interval,
        prepare: Some(Box::new(move |sim| {
            let (r, p) = (records.clone(), profiles.clone());
            sim.update_tenant("contoso", move |d| {
                d.records = r;
                d.profiles = p;
            });
        })),
        ..Setup::default()
    })
    .await
}

fn one(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut with_tenant = vec![("tenant", "contoso")];
    with_tenant.extend_from_slice(labels);
    s.get(name, &with_tenant)
        .unwrap_or_else(|| panic!("{name} {labels:?} is served"))
}

/// What every v1.0 secureScore example documents.
fn assert_score_numbers(s: &Scrape, what: &str) {
    assert_eq!(s.up("contoso"), Some(1.0), "{what}");
    assert_eq!(one(s, "securescore_current_points", &[]), 387.0, "{what}");
    assert_eq!(one(s, "securescore_max_points", &[]), 697.0, "{what}");
    // 2019-03-19T15:21:00Z
    assert_eq!(
        one(s, "securescore_snapshot_timestamp_seconds", &[]),
        1_553_008_860.0,
        "{what}"
    );
    assert_eq!(one(s, "securescore_active_users", &[]), 0.0, "{what}");
    assert_eq!(one(s, "securescore_licensed_users", &[]), 100.0, "{what}");
    assert_eq!(
        one(
            s,
            "securescore_tenant_info",
            &[("tenant_id", "00000001-0001-0001-0001-000000000001c")]
        ),
        1.0
    );
    for service in ["HasExchange", "HasSharePoint", "HasInTune"] {
        assert_eq!(
            one(
                s,
                "securescore_enabled_service_info",
                &[("service", service)]
            ),
            1.0,
            "{what}: {service}"
        );
    }
    for (control, category, points) in
        [("AdminMFA", "identity", 35.0), ("DLPEnabled", "data", 20.0)]
    {
        let labels = [("control", control), ("category", category)];
        assert_eq!(
            one(s, "securescore_control_points", &labels),
            points,
            "{what}"
        );
        assert_eq!(
            one(s, "securescore_category_points", &[("category", category)]),
            points,
            "{what}"
        );
    }
    for (basis, ratio) in [
        ("all_tenants", 0.37),
        ("total_seats", 0.46),
        ("industry_types", 1.09),
    ] {
        assert_eq!(
            one(s, "securescore_peer_average_ratio", &[("basis", basis)]),
            ratio,
            "{what}: {basis}"
        );
    }
}

/// What the DLPEnabled profile documents (list @ 09455a65, get @ 3bd18aec and @ 00f1ef96).
fn assert_dlp_profile(s: &Scrape, what: &str) {
    let labels = [("control", "DLPEnabled"), ("category", "data")];
    assert_eq!(
        one(s, "securescore_control_max_points", &labels),
        20.0,
        "{what}"
    );
    assert_eq!(
        one(
            s,
            "securescore_category_max_points",
            &[("category", "data")]
        ),
        20.0
    );
    assert_eq!(
        one(s, "securescore_control_rank", &[("control", "DLPEnabled")]),
        55.0,
        "{what}"
    );
    let info = [
        ("control", "DLPEnabled"),
        ("title", "Apply Data Loss Prevention policies"),
        ("service", "IP"),
        ("tier", "advanced"),
        ("action_type", "config"),
        ("implementation_cost", "moderate"),
        ("user_impact", "moderate"),
        ("state", "default"),
        ("deprecated", "false"),
    ];
    assert_eq!(one(s, "securescore_control_info", &info), 1.0, "{what}");
}

#[tokio::test]
async fn microsofts_v1_examples_come_out_exactly() {
    let pairs = [
        (
            "v1.0-security-list-securescores.3bca37cf.body.txt",
            "v1.0-security-list-securescorecontrolprofiles.09455a65.body.txt",
        ),
        (
            "v1.0-securescore-get.957e1c17.body.txt",
            "v1.0-securescorecontrolprofile-get.3bd18aec.body.txt",
        ),
        (
            "v1.0-securescore-get.00f1ef96.body.txt",
            "v1.0-securescorecontrolprofile-get.00f1ef96.body.txt",
        ),
    ];
    for (scores, profiles) in pairs {
        let app = serving(items(example(scores)), items(example(profiles)), "1h").await;
        app.wait_ready().await;
        let s = app.scrape().await;
        let what = format!("{scores} + {profiles}");
        assert_score_numbers(&s, &what);
        assert_dlp_profile(&s, &what);
        if scores.contains("00f1ef96") {
            // The older revision documents the peers' category scores (as strings).
            for (basis, device, data, identity, apps) in [
                ("all_tenants", 1.0, 9.0, 25.0, 0.0),
                ("total_seats", 2.0, 14.0, 27.0, 0.0),
                ("industry_types", 19.0, 33.0, 45.0, 10.0),
            ] {
                for (category, points) in [
                    ("device", device),
                    ("data", data),
                    ("identity", identity),
                    ("apps", apps),
                ] {
                    assert_eq!(
                        one(
                            &s,
                            "securescore_peer_category_points",
                            &[("basis", basis), ("category", category)]
                        ),
                        points,
                        "{basis} {category}"
                    );
                }
            }
        }
        app.stop().await;
    }
}

#[tokio::test]
async fn the_update_examples_reviewed_profile_comes_out_exactly() {
    // NonOwnerAccess is not among the example record's controlScores; listed there (score 0),
    // its profile's numbers show.
    let mut record = items(example("v1.0-security-list-securescores.3bca37cf.body.txt")).remove(0);
    record["controlScores"]
        .as_array_mut()
        .unwrap()
        .push(json!({"controlCategory": "Data", "controlName": "NonOwnerAccess", "score": 0.0}));
    let profiles = items(example(
        "v1.0-securescorecontrolprofile-update.09455a65.example2-response.body.txt",
    ));
    let app = serving(vec![record], profiles, "1h").await;
    app.wait_ready().await;
    let s = app.scrape().await;
    let labels = [("control", "NonOwnerAccess"), ("category", "data")];
    assert_eq!(one(&s, "securescore_control_max_points", &labels), 5.0);
    assert_eq!(one(&s, "securescore_control_points", &labels), 0.0);
    assert_eq!(
        one(
            &s,
            "securescore_control_rank",
            &[("control", "NonOwnerAccess")]
        ),
        25.0
    );
    let info = [
        ("control", "NonOwnerAccess"),
        ("title", "Review mailbox access by non-owners bi-weekly"),
        ("service", "EXO"),
        ("tier", "core"),
        ("action_type", "review"),
        ("implementation_cost", "low"),
        ("user_impact", "low"),
        ("state", "reviewed"),
        ("deprecated", "false"),
    ];
    assert_eq!(one(&s, "securescore_control_info", &info), 1.0);
    app.stop().await;
}

#[tokio::test]
async fn microsofts_beta_examples_are_decode_failures_that_keep_the_last_good_data() {
    let good_record = items(example("v1.0-security-list-securescores.3bca37cf.body.txt"));
    let good_profiles = items(example(
        "v1.0-security-list-securescorecontrolprofiles.09455a65.body.txt",
    ));
    let beta_record = items(example("beta-security-list-securescores.41f4f85b.body.txt"));
    let beta_profiles = items(example(
        "beta-securescorecontrolprofiles-list.02b4cba0.body.txt",
    ));
    let cases = [
        ("beta secureScores", beta_record, good_profiles.clone()),
        ("beta profiles", good_record.clone(), beta_profiles),
    ];
    for (what, records, profiles) in cases {
        let app = serving(good_record.clone(), good_profiles.clone(), "1s").await;
        app.wait_ready().await;
        assert_eq!(
            one(&app.scrape().await, "securescore_current_points", &[]),
            387.0
        );
        let (r, p) = (records.clone(), profiles.clone());
        app.sim.update_tenant("contoso", move |d| {
            d.records = r;
            d.profiles = p;
        });
        let s = app
            .wait_for(what, 20, |s| s.failures("contoso", "decode") >= Some(1.0))
            .await;
        assert_eq!(s.up("contoso"), Some(0.0), "{what}");
        // The last good data stays; nothing of the placeholders is served.
        assert_eq!(one(&s, "securescore_current_points", &[]), 387.0, "{what}");
        assert_eq!(one(&s, "securescore_max_points", &[]), 697.0, "{what}");
        assert!(s
            .all(
                "securescore_control_points",
                &[("control", "controlName.value")]
            )
            .is_empty());
        assert!(s
            .all("securescore_control_info", &[("control", "id.value")])
            .is_empty());
        app.stop().await;
    }
}
