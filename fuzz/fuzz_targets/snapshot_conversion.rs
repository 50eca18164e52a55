//! Two Graph pages (secureScores, then profiles, split at the first 0xFF byte) through the
//! conversion and the metrics encoder: no panic, no NaN or negative peer values, and the
//! exposition's label values stay escaped.
#![no_main]
use libfuzzer_sys::fuzz_target;
use securescore_exporter::source::model::{ControlProfile, Page, SecureScoreRecord};
use securescore_exporter::core::snapshot::TenantSnapshot;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0xFF).unwrap_or(data.len());
    let (a, b) = data.split_at(split);
    let records: Vec<SecureScoreRecord> = Page::parse(a)
        .map(|p| p.items.iter().map(SecureScoreRecord::from_json).collect())
        .unwrap_or_default();
    let profiles: Vec<ControlProfile> = Page::parse(b.get(1..).unwrap_or_default())
        .map(|p| p.items.iter().map(ControlProfile::from_json).collect())
        .unwrap_or_default();
    let snap = TenantSnapshot::from_graph(&records, &profiles);
    if let Some(s) = &snap.score {
        for p in &s.peers {
            if let Some(r) = p.average_ratio {
                assert!(r >= 0.0 && r.is_finite());
            }
            for (_, v, m) in &p.categories {
                assert!(v.is_none_or(|v| v >= 0.0 && v.is_finite()));
                assert!(m.is_none_or(|m| m >= 0.0 && m.is_finite()));
            }
        }
    }
    let text = securescore_exporter::exposition::render::render_snapshot_for_tests("t", "id", snap);
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        // One sample per line: an unescaped newline in a label would break this.
        assert!(line.contains(' '), "{line}");
    }
});
