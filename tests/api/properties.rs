//! Cheap properties, checked on many generated inputs in every test run (the fuzz targets in
//! fuzz/ explore the same code far longer): no panic on any Graph payload, no NaN or negative
//! metric values, and label values round-trip through the exposition format.

use crate::helpers::Scrape;
use securescore_exporter::core::snapshot::TenantSnapshot;
use securescore_exporter::source::model::{ControlProfile, Page, SecureScoreRecord};
use serde_json::{json, Value};

/// Strings that stress escaping: quotes, backslashes, newlines, braces, unicode, HTML.
fn nasty(rng: &mut fastrand::Rng) -> String {
    const PARTS: &[&str] = &[
        "\"",
        "\\",
        "\n",
        "{",
        "}",
        ",",
        "=",
        " ",
        "<script>",
        "ü",
        "名前",
        "\u{1F512}",
        "a",
        "\\n",
        "\t",
        "'",
    ];
    (0..rng.usize(0..12))
        .map(|_| PARTS[rng.usize(..PARTS.len())])
        .collect()
}

/// A JSON value of a random type, sometimes numeric-looking.
fn any_value(rng: &mut fastrand::Rng) -> Value {
    match rng.usize(0..9) {
        0 => Value::Null,
        1 => json!(rng.bool()),
        2 => json!(rng.i64(-1000..1000)),
        3 => json!(rng.f64() * 1000.0 - 500.0),
        4 => json!(format!("{}", rng.f64() * 100.0)),
        5 => json!("-1"),
        6 => json!(nasty(rng)),
        7 => json!([1, "x", null]),
        _ => json!({"nested": nasty(rng)}),
    }
}

fn maybe(rng: &mut fastrand::Rng, good: Value) -> Value {
    if rng.usize(0..4) == 0 {
        any_value(rng)
    } else {
        good
    }
}

/// `maybe` with the good value computed first (it borrows the generator too).
macro_rules! maybe {
    ($rng:expr, $good:expr) => {{
        let good = $good;
        maybe($rng, good)
    }};
}

fn random_payloads(rng: &mut fastrand::Rng) -> (Value, Value) {
    let n = rng.usize(0..8);
    let controls: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "controlName": maybe!(rng, json!(format!("c{i}{}", nasty(rng)))),
                "controlCategory": maybe!(rng, json!(["Identity", "Data", "Device", "Apps", "Infrastructure", "Account"][rng.usize(0..6)])),
                "score": maybe!(rng, json!(rng.f64() * 10.0)),
                "scoreInPercentage": maybe!(rng, json!(rng.f64() * 100.0)),
                "count": any_value(rng), "total": any_value(rng), "on": any_value(rng),
                "implementationStatus": json!(nasty(rng)),
            })
        })
        .collect();
    let peers: Vec<Value> = (0..rng.usize(0..4))
        .map(|_| {
            json!({
                "basis": maybe!(rng, json!(["AllTenants", "TotalSeats", "IndustryTypes"][rng.usize(0..3)])),
                "averageScore": maybe!(rng, json!(rng.f64() * 100.0)),
                "identityScore": any_value(rng), "IdentityScoreMax": any_value(rng),
                "SeatSizeRangeLowerValue": any_value(rng),
            })
        })
        .collect();
    let record = json!({"value": [{
        "createdDateTime": maybe!(rng, json!("2026-07-17T00:00:00Z")),
        "currentScore": maybe!(rng, json!(rng.f64() * 500.0)),
        "maxScore": maybe!(rng, json!(rng.f64() * 1000.0)),
        "activeUserCount": any_value(rng), "licensedUserCount": any_value(rng),
        "azureTenantId": maybe!(rng, json!(nasty(rng))),
        "enabledServices": maybe!(rng, json!([nasty(rng), "HasMDEP2"])),
        "averageComparativeScores": maybe!(rng, Value::Array(peers)),
        "controlScores": maybe!(rng, Value::Array(controls)),
    }]});
    let profiles: Vec<Value> = (0..rng.usize(0..8))
        .map(|i| {
            json!({
                "id": maybe!(rng, json!(format!("c{i}"))),
                "title": maybe!(rng, json!(nasty(rng))),
                "service": maybe!(rng, json!(nasty(rng))),
                "tier": any_value(rng), "actionType": any_value(rng),
                "implementationCost": any_value(rng), "userImpact": any_value(rng),
                "maxScore": any_value(rng), "rank": any_value(rng), "deprecated": any_value(rng),
                "controlStateUpdates": maybe!(rng, json!([{"state": nasty(rng), "updatedDateTime": any_value(rng)}])),
            })
        })
        .collect();
    (record, json!({"value": profiles}))
}

#[test]
fn any_graph_payload_converts_to_finite_non_negative_peers_and_escaped_labels() {
    let mut rng = fastrand::Rng::with_seed(0x5ec5c0);
    for round in 0..400 {
        let (record, profiles) = random_payloads(&mut rng);
        let records: Vec<SecureScoreRecord> = Page::parse(record.to_string().as_bytes())
            .unwrap()
            .items
            .iter()
            .map(SecureScoreRecord::from_json)
            .collect();
        let profiles: Vec<ControlProfile> = Page::parse(profiles.to_string().as_bytes())
            .unwrap()
            .items
            .iter()
            .map(ControlProfile::from_json)
            .collect();
        let tenant = format!("tenant{}", nasty(&mut rng));
        let snap = TenantSnapshot::from_graph(&records, &profiles);
        let expected_titles: Vec<String> = snap
            .score
            .iter()
            .flat_map(|s| s.controls.iter().map(|c| c.info.title.clone()))
            .collect();
        let text = securescore_exporter::exposition::render::render_snapshot_for_tests(
            &tenant, "id", snap,
        );
        let scrape = Scrape::parse(&text);
        for s in &scrape.samples {
            assert!(s.value.is_finite(), "round {round}: {s:?}");
            if s.name.starts_with("securescore_peer_") {
                assert!(s.value >= 0.0, "round {round}: -1 means unknown: {s:?}");
            }
            assert_eq!(
                s.labels["tenant"], tenant,
                "round {round}: tenant label round-trips"
            );
        }
        let titles: Vec<String> = scrape
            .all("securescore_control_info", &[])
            .iter()
            .map(|s| s.labels["title"].clone())
            .collect();
        let mut a = titles.clone();
        let mut b = expected_titles.clone();
        a.sort();
        b.sort();
        assert_eq!(
            a, b,
            "round {round}: titles round-trip through the exposition"
        );
    }
}

#[test]
fn random_configs_never_panic() {
    let mut rng = fastrand::Rng::with_seed(42);
    let fragments = [
        "[graph]\n",
        "cloud = \"usgov\"\n",
        "timeout = \"",
        "1h",
        "\"\n",
        "[[tenants]]\n",
        "tenant_id = \"t\"\n",
        "client_id = \"c\"\n",
        "client_secret = \"s\"\n",
        "[refresh]\n",
        "interval = 5\n",
        "=",
        "[",
        "]",
        "\"",
        "credential = \"x\"\n",
        "[credentials.x]\n",
        "managed_identity = true\n",
        "max_concurrent_requests = 0\n",
        "listen_address = [\":1\"]\n",
        "[web]\n",
        "\u{0}",
        "ü",
    ];
    for _ in 0..500 {
        let text: String = (0..rng.usize(0..20))
            .map(|_| fragments[rng.usize(..fragments.len())])
            .collect();
        let _ = securescore_exporter::config::Config::from_toml_str(&text);
        let yaml: String = (0..rng.usize(0..12))
            .map(|_| {
                [
                    "tls_server_config:\n",
                    "  cert_file: x\n",
                    "basic_auth_users:\n",
                    "  u: p\n",
                    ": ",
                    "- ",
                    "\"",
                    "{",
                    "http_server_config: {headers: {A: b}}\n",
                ][rng.usize(..9)]
            })
            .collect();
        let _ = securescore_exporter::http::web_config::WebConfig::parse(
            yaml.as_bytes(),
            std::path::Path::new("x.yml"),
        );
    }
}
