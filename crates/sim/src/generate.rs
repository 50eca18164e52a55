//! Synthetic payloads for the simulator: 90 days of daily `secureScore` records and the control
//! catalogue, shaped like real Graph payloads, quirks included.
//!
//! Data is deterministic per tenant (seeded), so tests can assert exact values. Over the 90
//! days controls get implemented, one control regresses 10 days before the newest record, and
//! 30 days before it Microsoft adds recommendations, so `maxScore` jumps.

use crate::catalogue::{self, Entry, Kind};
use crate::spec::{Licence, TenantSpec, HISTORY_DAYS, NEW_RECOMMENDATIONS_DAY, REGRESSION_DAY};
use serde_json::{json, Map, Value};

/// What the simulator serves for one tenant.
#[derive(Debug, Clone)]
pub struct TenantData {
    /// Daily records, newest first.
    pub records: Vec<Value>,
    /// The control catalogue, in the order Graph pages it.
    pub profiles: Vec<Value>,
}

/// How one scored control moves over the history.
struct Plan {
    entry: Entry,
    /// Units the control counts (users or devices) for proportional controls.
    total: u32,
    /// Units compliant once implemented (== total for all-or-nothing controls).
    target_count: u32,
    /// First day (index) the control exists in `controlScores`.
    appears: usize,
    /// First day it has its points.
    achieved_from: usize,
    /// The regressing control loses its points from [`REGRESSION_DAY`].
    regresses: bool,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn number(v: f64, as_string: bool) -> Value {
    if as_string {
        Value::String(format!("{v}"))
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        // Graph sends integral values both as `128` and `128.0`; keep the int form.
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn date_string(day: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

fn scored_entries(spec: &TenantSpec) -> Vec<Entry> {
    let mut v: Vec<Entry> = catalogue::NAMED
        .iter()
        .filter(|e| spec.licence.owns(e.product))
        .cloned()
        .collect();
    v.extend(catalogue::device_controls(spec.licence.device_controls()));
    v
}

fn plans(spec: &TenantSpec, rng: &mut fastrand::Rng) -> Vec<Plan> {
    let entries = scored_entries(spec);
    let total_max: f64 = entries.iter().map(|e| e.max).sum();
    let target = spec.target_ratio * total_max;
    let mut order: Vec<usize> = (0..entries.len()).collect();
    rng.shuffle(&mut order);
    let users = (spec.seats as f64 * 0.9).round().max(1.0) as u32;
    let devices = (spec.seats as f64 * 1.2).round().max(1.0) as u32;
    let mut plans: Vec<Option<Plan>> = (0..entries.len()).map(|_| None).collect();
    let mut acc = 0.0;
    for &i in &order {
        let e = &entries[i];
        let total = match (e.kind, e.category) {
            (Kind::Count, "Device") => devices,
            (Kind::Count, _) if e.id == "AdminMFAV2" || e.id == "OneAdmin" => 3,
            (Kind::Count, _) => users,
            _ => 1,
        };
        let target_count = if acc + e.max <= target {
            total
        } else if e.kind == Kind::Count && acc < target {
            (((target - acc) / e.max) * total as f64).floor() as u32
        } else {
            0
        };
        acc += e.max * target_count as f64 / total as f64;
        let achieved_from = if rng.f64() < 0.55 {
            0
        } else {
            rng.usize(1..HISTORY_DAYS)
        };
        plans[i] = Some(Plan {
            entry: e.clone(),
            total,
            target_count,
            appears: 0,
            achieved_from,
            regresses: false,
        });
    }
    let mut plans: Vec<Plan> = plans.into_iter().flatten().collect();
    // Microsoft adds recommendations: a few controls exist only from NEW_RECOMMENDATIONS_DAY.
    let n_new = match spec.licence {
        Licence::BusinessPremium => 3,
        Licence::E3 => 4,
        Licence::E5 => 6,
    };
    let mut added = 0;
    for p in plans.iter_mut().rev() {
        if added == n_new {
            break;
        }
        if p.entry.category != "Device" {
            p.appears = NEW_RECOMMENDATIONS_DAY;
            p.achieved_from = p.achieved_from.max(NEW_RECOMMENDATIONS_DAY + 5);
            added += 1;
        }
    }
    // One long-implemented all-or-nothing control regresses.
    if let Some(p) = plans.iter_mut().find(|p| {
        p.appears == 0
            && p.achieved_from == 0
            && p.target_count == p.total
            && p.entry.kind != Kind::Count
    }) {
        p.regresses = true;
    }
    plans
}

/// Points, compliant units and share of one control on day `d`.
fn control_on_day(p: &Plan, d: usize) -> (u32, f64, f64) {
    let achieved = d >= p.achieved_from && !(p.regresses && d >= REGRESSION_DAY);
    let count = if achieved { p.target_count } else { 0 };
    let share = count as f64 / p.total as f64;
    (count, round2(p.entry.max * share), round2(share * 100.0))
}

fn control_score_json(
    spec: &TenantSpec,
    p: &Plan,
    d: usize,
    day: time::Date,
    rng: &mut fastrand::Rng,
) -> Value {
    let (count, score, pct) = control_on_day(p, d);
    let strings = spec.quirks.numbers_as_strings;
    let mut m = Map::new();
    m.insert("controlCategory".into(), json!(p.entry.category));
    m.insert("controlName".into(), json!(p.entry.id));
    m.insert("description".into(), json!(format!("{}.", p.entry.title)));
    let status = match p.entry.kind {
        Kind::Count if spec.quirks.html_status => format!(
            "<p> {pct}% of users are affected by policies that {}.</p><ul><li>{count} of {} compliant</li></ul>",
            p.entry.title.to_lowercase(),
            p.total
        ),
        Kind::Count => format!("You have {count} out of {} that are compliant.", p.total),
        Kind::Toggle if count > 0 => "Your setting is on.".into(),
        Kind::Toggle => "Your setting is off.".into(),
        Kind::Plain => String::new(),
    };
    m.insert("implementationStatus".into(), json!(status));
    let lag = rng.i64(0..3);
    let synced = day - time::Duration::days(lag);
    m.insert(
        "lastSynced".into(),
        json!(format!("{}T13:04:06Z", date_string(synced))),
    );
    m.insert("score".into(), number(score, strings));
    m.insert("scoreInPercentage".into(), number(pct, strings));
    match p.entry.kind {
        Kind::Count => {
            // Always strings on the wire; OneAdmin carries a count without a total.
            m.insert("count".into(), json!(count.to_string()));
            if p.entry.id != "OneAdmin" {
                m.insert("total".into(), json!(p.total.to_string()));
            }
        }
        Kind::Toggle => {
            m.insert("on".into(), json!(if count > 0 { "true" } else { "false" }));
        }
        Kind::Plain => {}
    }
    Value::Object(m)
}

fn peers_json(spec: &TenantSpec, d: usize) -> Value {
    let drift = (d as f64 / 9.0).sin() * 0.6;
    let (lower, upper, seat_avg) = match spec.seats {
        0..=100 => ("1", "100", 48.1),
        101..=500 => ("101", "500", 51.3),
        501..=1000 => ("501", "1000", 54.2),
        _ => ("1001", "5000", 58.7),
    };
    let cats = |scale: f64, unknown: bool| -> Map<String, Value> {
        let mut m = Map::new();
        for (cat, v, max) in [
            ("identity", 41.21, 61.88),
            ("data", 0.37, 5.15),
            ("device", 20.67, 35.04),
            ("apps", 45.81, 120.83),
            ("infrastructure", 0.0, 0.0),
        ] {
            let (v, max) = if unknown {
                (-1.0, -1.0)
            } else {
                (round2(v * scale), round2(max * scale))
            };
            m.insert(format!("{cat}Score"), json!(v));
            m.insert(format!("{cat}ScoreMax"), json!(max));
        }
        m
    };
    let mut all = cats(1.0 + drift / 100.0, false);
    all.insert("basis".into(), json!("AllTenants"));
    all.insert("averageScore".into(), json!(round2(52.86 + drift)));
    let mut seats = cats(seat_avg / 52.86, spec.quirks.unknown_peer_values);
    seats.insert("basis".into(), json!("TotalSeats"));
    seats.insert("averageScore".into(), json!(round2(seat_avg + drift)));
    // Real captures use PascalCase keys and string values here.
    seats.insert("SeatSizeRangeLowerValue".into(), json!(lower));
    seats.insert("SeatSizeRangeUpperValue".into(), json!(upper));
    let mut out = vec![Value::Object(all), Value::Object(seats)];
    if spec.quirks.unknown_peer_values {
        // The 2019 shape: camelCase, numeric seat ranges, a categoryValue, and -1 for unknown.
        out.push(
            json!({"basis": "IndustryTypes", "averageScore": -1, "categoryValue": "services",
            "seatSizeRangeLowerValue": 101, "seatSizeRangeUpperValue": 500,
            "identityScore": -1, "identityScoreMax": -1, "dataScore": -1, "dataScoreMax": -1}),
        );
    }
    Value::Array(out)
}

fn state_updates(spec: &TenantSpec, id: &str) -> Value {
    let default = json!([{"assignedTo": null, "comment": null, "state": "Default", "updatedBy": null, "updatedDateTime": null}]);
    if !spec.quirks.control_states {
        return default;
    }
    let update = |state: &str, when: &str, comment: &str| {
        json!({"assignedTo": null, "comment": comment, "state": state,
               "updatedBy": format!("secadmin@{}", spec.domain), "updatedDateTime": when})
    };
    match (spec.licence, id) {
        (Licence::E5, "aad_managed_device_required_for_authentication") => json!([
            update("Default", "2026-01-10T09:00:00Z", ""),
            update(
                "Ignored",
                "2026-03-02T10:30:00Z",
                "Risk accepted: BYOD policy"
            ),
        ]),
        // Newest entry first in the array: the date decides, not the position.
        (Licence::E5, "mdo_safelinksforOfficeApps") => json!([
            update(
                "ThirdParty",
                "2026-04-20T08:00:00Z",
                "Covered by the mail gateway"
            ),
            update("Default", "2026-02-01T08:00:00Z", ""),
        ]),
        (Licence::E5, "exo_individualsharing") => json!([update(
            "Reviewed",
            "2026-05-05T12:00:00Z",
            "Reviewed by CISO"
        )]),
        (Licence::E3, "mip_DLP_policies") => {
            json!([{"assignedTo": null, "comment": null, "state": "thirdParty", "updatedBy": null, "updatedDateTime": null}])
        }
        _ => default,
    }
}

fn profile_json(spec: &TenantSpec, e: &Entry, rank: usize) -> Value {
    let deprecated = spec.quirks.control_states
        && (e.id == "aad_linkedin_connection_disables" || e.id == "12802.MDA_Zoom_WaitingRoom");
    let threats: Vec<&str> = match e.category {
        "Identity" => vec![
            "Account breach",
            "Elevation of privilege",
            "Password Cracking",
        ],
        "Data" => vec!["Data Exfiltration", "Data Spillage"],
        "Device" => vec!["Malware", "Ransomware"],
        "Apps" => vec!["Phishing", "Account Breach"],
        _ => vec![],
    };
    json!({
        "id": e.id,
        "azureTenantId": spec.tenant_id,
        "actionType": e.action_type,
        "actionUrl": format!("https://security.microsoft.com/securescore?viewid=actions&actionId={}&tid={}", e.id, spec.tenant_id),
        "complianceInformation": [],
        "controlCategory": e.category,
        "controlStateUpdates": state_updates(spec, &e.id),
        "deprecated": deprecated,
        "implementationCost": e.cost.unwrap_or("Unknown"),
        "lastModifiedDateTime": null,
        "maxScore": number(e.max, false),
        "rank": rank,
        "remediation": format!("<p>{}</p><ol><li>Open the admin center.</li><li>Apply the recommended setting.</li></ol>", e.title),
        "remediationImpact": "<p>Users may notice a change in how they sign in or share.</p>",
        "service": e.service,
        "threats": threats,
        "tier": e.tier,
        "title": e.title,
        "userImpact": e.impact,
        "vendorInformation": {"provider": "SecureScore", "providerVersion": null, "subProvider": null, "vendor": "Microsoft"}
    })
}

/// Generates a tenant's history (newest record dated `today`) and catalogue.
pub fn generate(spec: &TenantSpec, today: time::Date) -> TenantData {
    let mut records = Vec::with_capacity(HISTORY_DAYS);
    let profiles = generate_with(spec, today, &mut |r| records.push(r));
    TenantData { records, profiles }
}

/// Like [`generate`], but hands each record (newest first) to `record` as soon as it is made,
/// so a caller that serialises them never holds 90 parsed days at once. Returns the profiles.
pub fn generate_with(
    spec: &TenantSpec,
    today: time::Date,
    record: &mut dyn FnMut(Value),
) -> Vec<Value> {
    let mut rng = fastrand::Rng::with_seed(spec.seed);
    let plans = plans(spec, &mut rng);

    // The catalogue: every named control (owned or not) plus this tenant's device controls,
    // ranked by points available, highest first.
    let mut catalogue: Vec<Entry> = catalogue::NAMED.to_vec();
    catalogue.extend(catalogue::device_controls(spec.licence.device_controls()));
    let mut by_value: Vec<usize> = (0..catalogue.len()).collect();
    by_value.sort_by(|&a, &b| {
        catalogue[b]
            .max
            .total_cmp(&catalogue[a].max)
            .then(a.cmp(&b))
    });
    let mut ranks = vec![0; catalogue.len()];
    for (r, &i) in by_value.iter().enumerate() {
        ranks[i] = r + 1;
    }
    let profiles: Vec<Value> = catalogue
        .iter()
        .zip(&ranks)
        .map(|(e, &r)| profile_json(spec, e, r))
        .collect();

    if spec.brand_new {
        return profiles;
    }

    let strings = spec.quirks.numbers_as_strings;
    for d in (0..HISTORY_DAYS).rev().take(spec.history_days) {
        let day = today - time::Duration::days((HISTORY_DAYS - 1 - d) as i64);
        let present: Vec<&Plan> = plans.iter().filter(|p| d >= p.appears).collect();
        let controls: Vec<Value> = present
            .iter()
            .map(|p| control_score_json(spec, p, d, day, &mut rng))
            .collect();
        let current = round2(present.iter().map(|p| control_on_day(p, d).1).sum());
        let max = round2(present.iter().map(|p| p.entry.max).sum());
        let active = (spec.seats as f64 * (0.78 + 0.04 * ((d % 7) as f64 / 7.0))).round();
        let licensed = if spec.licence == Licence::E5 {
            0
        } else {
            spec.seats
        };
        record(json!({
            "id": format!("{}_{}", spec.tenant_id, date_string(day)),
            "azureTenantId": spec.tenant_id,
            "activeUserCount": active as i64,
            "licensedUserCount": licensed,
            "createdDateTime": format!("{}T00:00:00Z", date_string(day)),
            "currentScore": number(current, strings),
            "maxScore": number(max, strings),
            "enabledServices": spec.licence.enabled_services(),
            "averageComparativeScores": peers_json(spec, d),
            "controlScores": controls,
            "vendorInformation": {"provider": "SecureScore", "providerVersion": null, "subProvider": null, "vendor": "Microsoft"}
        }));
    }
    profiles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{demo_tenants, fleet_client_id, fleet_tenants};
    use time::macros::date;

    fn ratio(r: &Value) -> f64 {
        let num = |v: &Value| {
            v.as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap()
        };
        num(&r["currentScore"]) / num(&r["maxScore"])
    }

    #[test]
    fn demo_tenants_land_near_their_targets_with_plausible_sizes() {
        for spec in demo_tenants() {
            let data = generate(&spec, date!(2026 - 11 - 27));
            if spec.brand_new {
                assert!(data.records.is_empty());
                assert!(!data.profiles.is_empty());
                continue;
            }
            assert_eq!(data.records.len(), HISTORY_DAYS);
            let newest = &data.records[0];
            assert_eq!(newest["createdDateTime"], "2026-11-27T00:00:00Z");
            let r = ratio(newest);
            assert!((r - spec.target_ratio).abs() < 0.08, "{}: {r}", spec.name);
            let n = newest["controlScores"].as_array().unwrap().len();
            assert!((60..=250).contains(&n), "{}: {n} controls", spec.name);
        }
    }

    #[test]
    fn fleet_tenants_share_one_app_and_keep_the_days_asked_for() {
        let fleet = fleet_tenants(20, 1);
        assert_eq!(fleet.len(), 20);
        assert!(fleet.iter().all(|t| t.client_id == fleet_client_id()));
        let names: std::collections::HashSet<_> = fleet.iter().map(|t| &t.name).collect();
        let ids: std::collections::HashSet<_> = fleet.iter().map(|t| &t.tenant_id).collect();
        assert_eq!((names.len(), ids.len()), (20, 20));
        for licence in [Licence::BusinessPremium, Licence::E3, Licence::E5] {
            assert!(fleet.iter().any(|t| t.licence == licence));
        }
        let data = generate(&fleet[0], date!(2026 - 11 - 27));
        assert_eq!(data.records.len(), 1);
        assert_eq!(data.profiles.len(), fleet[0].profile_count());
        assert_eq!(data.records[0]["createdDateTime"], "2026-11-27T00:00:00Z");
    }

    #[test]
    fn history_moves_and_max_jumps_when_recommendations_arrive() {
        let spec = &demo_tenants()[1];
        let data = generate(spec, date!(2026 - 11 - 27));
        let max_at = |d: usize| {
            data.records[HISTORY_DAYS - 1 - d]["maxScore"]
                .as_f64()
                .unwrap()
        };
        assert!(max_at(NEW_RECOMMENDATIONS_DAY) > max_at(NEW_RECOMMENDATIONS_DAY - 1));
        assert_eq!(max_at(0), max_at(NEW_RECOMMENDATIONS_DAY - 1));
        let oldest = ratio(&data.records[HISTORY_DAYS - 1]);
        let newest = ratio(&data.records[0]);
        assert!(
            newest > oldest,
            "controls get implemented over time: {oldest} -> {newest}"
        );
    }

    #[test]
    fn score_is_the_sum_of_control_scores() {
        for spec in demo_tenants().iter().filter(|s| !s.brand_new) {
            let data = generate(spec, date!(2026 - 11 - 27));
            for r in &data.records {
                let num = |v: &Value| {
                    v.as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .unwrap()
                };
                let sum: f64 = r["controlScores"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| num(&c["score"]))
                    .sum();
                assert!((sum - num(&r["currentScore"])).abs() < 1e-6);
            }
        }
    }
}
