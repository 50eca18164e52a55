use super::format::{decode, encode, DecodeError};
use super::*;
use crate::core::history::{ControlChange, DailyScore, History};
use crate::core::snapshot::TenantSnapshot;
use std::sync::Arc;

fn snapshot(name: &str) -> Arc<TenantSnapshot> {
    let spec = securescore_sim::spec::demo_tenants()
        .into_iter()
        .find(|t| t.name == name)
        .expect("a demo tenant");
    let data = securescore_sim::generate::generate(&spec, time::macros::date!(2026 - 11 - 27));
    Arc::new(TenantSnapshot::from_json(&data.records, &data.profiles))
}

fn saved(name: &str, id: &str) -> SavedTenant {
    SavedTenant {
        name: name.to_string(),
        tenant_id: id.to_string(),
        last_success: 1_795_759_200.5,
        snapshot: snapshot("contoso"),
        history: {
            let mut full = DailyScore::new(20_784, 413.0, 640.0);
            full.categories[0] = (100.25, 120.0);
            full.peers[0] = 0.4815;
            History::from_parts(
                vec![DailyScore::new(20_783, 412.5, 640.0), full],
                vec![ControlChange {
                    day: 20_784,
                    control: Arc::from("MFARegistrationV2"),
                    delta: 0.5,
                    points: 9.5,
                }],
                90,
            )
        },
    }
}

/// A file of the first layout (days with the score only) still reads.
#[test]
fn a_version_1_file_reads_with_its_days() {
    let s = saved("contoso", "id-1");
    let mut json: serde_json::Value = {
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&bytes_of(&s)[..]),
            &mut raw,
        )
        .unwrap();
        serde_json::from_slice(&raw).unwrap()
    };
    json["version"] = 1.into();
    json["history"] = serde_json::json!([[20783, 412.5, 640.0]]);
    let o = json.as_object_mut().unwrap();
    o.remove("changes");
    let score = o["score"].as_object_mut().unwrap();
    score.remove("statuses");
    score.remove("action_urls");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &serde_json::to_vec(&json).unwrap()).unwrap();
    let back = decode(&gz.finish().unwrap(), "contoso", "id-1").unwrap();
    assert_eq!(
        &*back.history.days,
        &[DailyScore::new(20_783, 412.5, 640.0)]
    );
    assert!(back.history.changes.is_empty());
}

fn bytes_of(s: &SavedTenant) -> Vec<u8> {
    let mut out = Vec::new();
    encode(s, &mut out).unwrap();
    out
}

#[test]
fn a_tenant_reads_back_exactly_as_written() {
    let s = saved("contoso", "id-1");
    assert!(s.snapshot.score.as_ref().unwrap().controls.len() > 10);
    let back = decode(&bytes_of(&s), "contoso", "ID-1").unwrap();
    assert_eq!(back, s);
    // Control descriptions are shared with every other tenant that has them.
    let again = decode(&bytes_of(&s), "contoso", "id-1").unwrap();
    let (a, b) = (
        &back.snapshot.score.as_ref().unwrap().controls[0],
        &again.snapshot.score.as_ref().unwrap().controls[0],
    );
    assert!(Arc::ptr_eq(&a.info, &b.info) && Arc::ptr_eq(&a.name, &b.name));
    // A tenant whose Graph has no record yet keeps that too.
    let empty = SavedTenant {
        snapshot: Arc::new(TenantSnapshot {
            score: None,
            profiles: 0,
        }),
        ..saved("fabrikam", "id-2")
    };
    assert_eq!(
        decode(&bytes_of(&empty), "fabrikam", "id-2").unwrap(),
        empty
    );
}

#[test]
fn damaged_foreign_and_misplaced_files_are_refused_whole() {
    let good = bytes_of(&saved("contoso", "id-1"));
    // Every truncation, and a flipped byte anywhere, is refused (gzip's CRC and length).
    for cut in (0..good.len()).step_by(97) {
        assert!(
            decode(&good[..cut], "contoso", "id-1").is_err(),
            "cut at {cut}"
        );
    }
    for at in (0..good.len()).step_by(131) {
        let mut bad = good.clone();
        bad[at] ^= 0x40;
        assert!(decode(&bad, "contoso", "id-1").is_err(), "flip at {at}");
    }
    assert!(matches!(
        decode(b"not gzip at all", "contoso", "id-1"),
        Err(DecodeError::Damaged(_))
    ));
    let gz = |text: &str| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, text.as_bytes()).unwrap();
        e.finish().unwrap()
    };
    let future = gz(r#"{"format":"securescore_exporter state","version":3,"anything":[]}"#);
    assert!(matches!(
        decode(&future, "contoso", "id-1"),
        Err(DecodeError::Foreign { version: 3, .. })
    ));
    let other = gz(r#"{"format":"something else","version":1}"#);
    assert!(matches!(
        decode(&other, "contoso", "id-1"),
        Err(DecodeError::Foreign { .. })
    ));
    assert!(matches!(
        decode(&gz("[1,2,3]"), "contoso", "id-1"),
        Err(DecodeError::Json(_))
    ));
    assert!(matches!(
        decode(&good, "fabrikam", "id-1"),
        Err(DecodeError::OtherTenant { .. })
    ));
    assert!(matches!(
        decode(&good, "contoso", "id-2"),
        Err(DecodeError::OtherTenantId { .. })
    ));
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_directory_keeps_owner_only_files_and_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("nested/state");
    let dir = StateDir::open(&path).unwrap();
    assert_eq!(mode(&path), 0o700);
    assert!(matches!(
        StateDir::open(&path),
        Err(StateDirError::InUse { .. })
    ));
    let report = dir.save(&[saved("contoso", "id-1"), saved("a/b c", "id-2")], &[]);
    assert_eq!((report.written, report.failed.len()), (2, 0));
    let files: Vec<PathBuf> = dir
        .files()
        .unwrap()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|x| x == "state"))
        .collect();
    assert_eq!(files.len(), 2);
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    assert!(dir
        .file_of("a/b c")
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("a_b_c-"));
    drop(dir);
    // A leftover of an interrupted write goes when the directory is opened again.
    std::fs::write(path.join("contoso-0000.state.tmp"), b"half").unwrap();
    let dir = StateDir::open(&path).unwrap();
    assert!(!path.join("contoso-0000.state.tmp").exists());
    let restored = dir.restore(&[
        ("contoso".into(), "id-1".into()),
        ("a/b c".into(), "id-2".into()),
        ("new".into(), "id-3".into()),
    ]);
    assert_eq!(restored.tenants.len(), 2);
    assert_eq!(restored.missing, 1);
    assert!(restored.ignored.is_empty());
    // Removed from the configuration: its file goes.
    assert_eq!(dir.prune(["contoso"]), 1);
    assert!(!dir.file_of("a/b c").exists());
    let report = dir.save(&[], &["contoso".to_string()]);
    assert_eq!(report.removed, 1);
    assert!(!dir.file_of("contoso").exists());
}

#[test]
fn an_unusable_file_is_ignored_and_the_others_restored() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StateDir::open(tmp.path()).unwrap();
    dir.save(&[saved("a", "id-a"), saved("b", "id-b")], &[]);
    std::fs::write(dir.file_of("b"), b"\x1f\x8b garbage").unwrap();
    let restored = dir.restore(&[("a".into(), "id-a".into()), ("b".into(), "id-b".into())]);
    assert_eq!(restored.tenants.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(restored.ignored.len(), 1);
    assert_eq!(restored.ignored[0].0, dir.file_of("b"));
    let mut states = vec![
        crate::state::TenantState::new("a", "id-a"),
        crate::state::TenantState::new("b", "id-b"),
    ];
    assert_eq!(restored.apply(&mut states, 1), 1);
    assert!(states[0].restored && !states[0].up && !states[0].attempted);
    assert_eq!(states[0].last_success, Some(1_795_759_200.5));
    assert_eq!(states[0].history.days.len(), 1, "cut to [history] days");
    assert!(!states[1].restored && states[1].snapshot.is_none());
}
