//! Conversion tests on captured-shape fixtures, one per Graph quirk.

use super::*;
use crate::source::model::Page;

fn page(json: &str) -> Page {
    Page::parse(json.as_bytes()).expect("fixture parses")
}

fn records(json: &str) -> Vec<SecureScoreRecord> {
    page(json)
        .items
        .iter()
        .map(SecureScoreRecord::from_json)
        .collect()
}

fn profiles() -> Vec<ControlProfile> {
    page(include_str!(
        "../../../tests/fixtures/graph/control_profiles_page.json"
    ))
    .items
    .iter()
    .map(ControlProfile::from_json)
    .collect()
}

fn live() -> ScoreSnapshot {
    let r = records(include_str!(
        "../../../tests/fixtures/graph/secure_scores_live_shape.json"
    ));
    TenantSnapshot::from_graph(&r, &profiles())
        .score
        .expect("has a record")
}

fn quirks() -> ScoreSnapshot {
    let r = records(include_str!(
        "../../../tests/fixtures/graph/secure_scores_quirks.json"
    ));
    TenantSnapshot::from_graph(&r, &profiles())
        .score
        .expect("has a record")
}

fn control<'a>(s: &'a ScoreSnapshot, name: &str) -> &'a Control {
    s.controls
        .iter()
        .find(|c| &*c.name == name)
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn live_shape_converts_to_exact_values() {
    let s = live();
    assert_eq!(s.current_points, Some(17.5));
    assert_eq!(s.max_points, Some(36.0));
    assert_eq!(s.created_at, Some(1_784_246_400.0)); // 2026-07-17T00:00:00Z
    assert_eq!(s.active_users, Some(3.0));
    assert_eq!(s.licensed_users, Some(0.0));
    assert_eq!(
        s.azure_tenant_id.as_deref(),
        Some("00000000-0000-0000-0000-000000000001")
    );
    // Verbatim and de-duplicated.
    assert_eq!(s.enabled_services, vec!["HasAADP2", "HasMDOP2", "HasEXOP2"]);
}

#[test]
fn control_max_comes_from_percentage_else_profile() {
    let s = live();
    // score * 100 / scoreInPercentage
    assert_eq!(
        control(&s, "mdo_safelinksforemail").max_points.get(),
        Some(9.0)
    );
    assert_eq!(control(&s, "MFARegistrationV2").max_points.get(), Some(9.0));
    // scoreInPercentage 0: the profile's maxScore.
    assert_eq!(control(&s, "scid_2010").max_points.get(), Some(3.0));
    // Neither known: no maximum.
    assert_eq!(control(&s, "unprofiled_control").max_points.get(), None);
}

#[test]
fn categories_sum_points_and_known_maxima() {
    let s = live();
    let cat = |c: &str| {
        s.categories
            .iter()
            .find(|x| x.category == c)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (cat("identity").points, cat("identity").max_points),
        (13.0, 13.0)
    );
    assert_eq!((cat("apps").points, cat("apps").max_points), (4.5, 9.0));
    assert_eq!((cat("device").points, cat("device").max_points), (0.0, 3.0));
    assert_eq!((cat("data").points, cat("data").max_points), (0.0, 0.0));
    assert_eq!(s.categories.len(), 4);
}

#[test]
fn profiles_for_unowned_products_do_not_become_controls() {
    let s = live();
    assert!(s
        .controls
        .iter()
        .all(|c| &*c.name != "11770.MDA_Google_EnableTwoFactorAuth"));
    assert_eq!(s.controls.len(), 5);
}

#[test]
fn control_info_is_normalised() {
    let s = live();
    let mfa = &control(&s, "MFARegistrationV2").info;
    assert_eq!(
        mfa.title,
        "Ensure all users can complete multifactor authentication"
    );
    assert_eq!(
        (mfa.implementation_cost.as_str(), mfa.user_impact.as_str()),
        ("low", "moderate")
    );
    assert_eq!(
        (
            mfa.state.as_str(),
            mfa.tier.as_str(),
            mfa.action_type.as_str()
        ),
        ("default", "core", "config")
    );
    assert!(!mfa.deprecated);
    let apps = &control(&s, "IntegratedApps").info;
    // null userImpact → unknown; title verbatim, quotes and all.
    assert_eq!(apps.user_impact, "unknown");
    assert_eq!(
        apps.title,
        "Do not allow users to grant consent to \"unreliable\" applications"
    );
    assert_eq!(apps.tier, "defense_in_depth");
    assert_eq!(control(&s, "IntegratedApps").rank.get(), Some(10.0));
    let links = &control(&s, "mdo_safelinksforemail").info;
    assert_eq!(links.implementation_cost, "medium");
    assert!(links.deprecated);
}

#[test]
fn newest_state_update_wins_by_date_not_position() {
    let s = live();
    assert_eq!(control(&s, "IntegratedApps").info.state, "third_party");
    assert_eq!(control(&s, "mdo_safelinksforemail").info.state, "ignored");
    // lower camel `thirdParty` from the docs
    assert_eq!(control(&s, "scid_2010").info.state, "third_party");
}

#[test]
fn control_without_profile_still_has_info() {
    let s = live();
    let c = control(&s, "unprofiled_control");
    assert_eq!(c.info.title, "unprofiled_control");
    assert_eq!(c.info.state, "default");
    assert_eq!(c.rank.get(), None);
}

#[test]
fn html_status_is_kept_out_of_labels() {
    let s = live();
    let c = control(&s, "scid_2010");
    let r = records(include_str!(
        "../../../tests/fixtures/graph/secure_scores_live_shape.json"
    ));
    let wire = r[0]
        .control_scores
        .iter()
        .find(|c| c.control_name.as_deref() == Some("scid_2010"))
        .unwrap();
    assert!(wire
        .implementation_status
        .as_deref()
        .unwrap()
        .starts_with("<p>"));
    let i = &c.info;
    for v in [
        &i.title,
        &i.service,
        &i.tier,
        &i.action_type,
        &i.implementation_cost,
        &i.user_impact,
        &i.state,
    ] {
        assert!(!v.contains('<'), "{v}");
    }
}

#[test]
fn peers_are_ratios_and_keep_raw_category_values() {
    let s = live();
    let all = s.peers.iter().find(|p| p.basis == "all_tenants").unwrap();
    assert_eq!(all.average_ratio, Some(52.86 / 100.0));
    assert!(all
        .categories
        .contains(&("identity".into(), Some(41.21), Some(61.88))));
    assert!(all
        .categories
        .contains(&("infrastructure".into(), Some(0.0), Some(0.0))));
    let seats = s.peers.iter().find(|p| p.basis == "total_seats").unwrap();
    assert_eq!(seats.average_ratio, Some(48.1 / 100.0));
    assert_eq!(
        seats.categories,
        vec![("identity".into(), Some(40.39), Some(61.22))]
    );
}

#[test]
fn numbers_sent_as_strings_become_numbers() {
    let s = quirks();
    assert_eq!(s.current_points, Some(128.0));
    assert_eq!(s.max_points, Some(274.5));
    assert_eq!(s.active_users, Some(12.0));
    assert_eq!(s.licensed_users, None);
    assert_eq!(control(&s, "AdminMFAV2").points.get(), Some(10.0));
    assert_eq!(control(&s, "AdminMFAV2").max_points.get(), Some(10.0));
}

#[test]
fn pascal_case_keys_are_read() {
    let s = quirks();
    assert_eq!(
        s.azure_tenant_id.as_deref(),
        Some("00000000-0000-0000-0000-000000000002")
    );
    assert_eq!(s.created_at, Some(1_784_246_400.0));
    let seats = s.peers.iter().find(|p| p.basis == "total_seats").unwrap();
    assert_eq!(seats.average_ratio, Some(48.1 / 100.0));
}

#[test]
fn newest_record_is_picked_by_date_not_position() {
    let s = quirks();
    assert_eq!(
        s.current_points,
        Some(128.0),
        "the 07-17 record, listed second"
    );
}

#[test]
fn minus_one_means_unknown_and_produces_nothing() {
    let s = quirks();
    let all = s.peers.iter().find(|p| p.basis == "all_tenants").unwrap();
    assert_eq!(all.average_ratio, None);
    assert_eq!(all.categories, vec![("identity".into(), None, Some(61.5))]);
    let seats = s.peers.iter().find(|p| p.basis == "total_seats").unwrap();
    assert!(seats
        .categories
        .contains(&("identity".into(), Some(40.39), None)));
    assert!(seats
        .categories
        .contains(&("device".into(), Some(3.0), None)));
}

#[test]
fn duplicates_keep_the_first_entry() {
    let s = quirks();
    assert_eq!(
        s.controls
            .iter()
            .filter(|c| &*c.name == "AdminMFAV2")
            .count(),
        1
    );
    assert_eq!(control(&s, "AdminMFAV2").points.get(), Some(10.0));
    assert_eq!(
        s.peers.iter().filter(|p| p.basis == "total_seats").count(),
        1
    );
    assert_eq!(
        s.peers
            .iter()
            .find(|p| p.basis == "total_seats")
            .unwrap()
            .average_ratio,
        Some(48.1 / 100.0)
    );
}

#[test]
fn industry_types_basis_is_snake_case() {
    let s = quirks();
    let ind = s
        .peers
        .iter()
        .find(|p| p.basis == "industry_types")
        .unwrap();
    assert_eq!(ind.average_ratio, Some(55.0 / 100.0));
}

#[test]
fn odd_controls_are_handled_without_failing() {
    let s = quirks();
    assert!(
        s.controls.iter().all(|c| !c.name.is_empty()),
        "nameless control skipped"
    );
    assert_eq!(&*control(&s, "NoCategory").category, "unknown");
    assert_eq!(control(&s, "NoCategory").max_points.get(), Some(4.0));
    // Other categories are lowercased and passed through.
    assert_eq!(&*control(&s, "LegacyCategory").category, "account");
    assert_eq!(control(&s, "LegacyCategory").max_points.get(), Some(2.0));
    assert_eq!(control(&s, "NoMaxKnown").max_points.get(), None);
    let w = control(&s, "WeirdTypes");
    assert_eq!((w.points.get(), w.max_points.get()), (None, None));
    // OneAdmin has a count without a total.
    assert_eq!(control(&s, "OneAdmin").max_points.get(), Some(1.0));
}

#[test]
fn empty_value_means_no_score_not_zero() {
    let r = records(include_str!(
        "../../../tests/fixtures/graph/secure_scores_empty.json"
    ));
    let snap = TenantSnapshot::from_graph(&r, &profiles());
    assert_eq!(snap.score, None);
    assert_eq!(snap.profiles, 5);
}

#[test]
fn labels_are_snake_case() {
    assert_eq!(snake_label("ThirdParty"), "third_party");
    assert_eq!(snake_label("thirdParty"), "third_party");
    assert_eq!(snake_label("Defense In Depth"), "defense_in_depth");
    assert_eq!(snake_label("AllTenants"), "all_tenants");
    assert_eq!(snake_label("Moderate"), "moderate");
    assert_eq!(category_label(" Identity "), "identity");
    assert_eq!(category_label(""), "unknown");
}

#[test]
fn graph_times_parse_in_their_forms() {
    assert_eq!(
        parse_graph_time("2026-07-17T00:00:00Z"),
        Some(1_784_246_400.0)
    );
    assert_eq!(
        parse_graph_time("2026-07-17T00:00:00.0000000Z"),
        Some(1_784_246_400.0)
    );
    assert_eq!(
        parse_graph_time("2026-07-17T02:00:00+02:00"),
        Some(1_784_246_400.0)
    );
    assert_eq!(
        parse_graph_time("2026-07-17T00:00:00"),
        Some(1_784_246_400.0)
    );
    assert_eq!(parse_graph_time("yesterday"), None);
}

#[test]
fn control_items_come_from_count_and_total_sent_as_strings() {
    let s = live();
    let mfa = control(&s, "MFARegistrationV2");
    assert_eq!(
        (mfa.items.get(), mfa.items_in_scope.get()),
        (Some(3.0), Some(3.0))
    );
    let devices = control(&s, "scid_2010");
    assert_eq!(
        (devices.items.get(), devices.items_in_scope.get()),
        (Some(0.0), Some(4.0))
    );
    // Absent: no value, never zero.
    let apps = control(&s, "IntegratedApps");
    assert_eq!((apps.items.get(), apps.items_in_scope.get()), (None, None));
}

#[test]
fn a_control_stays_small() {
    // 10,000 tenants hold about two million of them.
    assert_eq!(std::mem::size_of::<Control>(), 80);
}
