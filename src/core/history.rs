//! The kept daily history of one tenant's score: one record per UTC day of Graph's
//! `createdDateTime`, oldest first, at most `[history] days` of them, plus the days on which
//! each control's score changed.
//!
//! Graph publishes one `secureScores` record a day. Every refresh that sees a record puts it
//! here (a later refresh of the same day replaces the day's record, since Graph may recompute
//! it); a fill from `secureScores?$top=N` brings the days before the exporter started. The
//! state directory saves it with the tenant, so a restart keeps it.
//!
//! Memory is the constraint: an MSP's 10,000 tenants × 90 days are 900,000 records, and the
//! budget is 64 MiB, so a record is 64 bytes. The score itself is kept exactly as Graph sent it
//! (the pages' changes are differences of it); category points, peers and the maximum are
//! kept at `f32` precision, which is all a chart or a percentage needs. Only the five
//! categories the contract names are kept per day.

use super::snapshot::{ScoreSnapshot, Text};
use std::collections::HashMap;
use std::sync::Arc;

/// Graph keeps 90 daily `secureScores` records, so no more can be kept.
pub const MAX_DAYS: u32 = 90;

/// The categories kept per day, in this order.
pub const CATEGORIES: [&str; 5] = ["identity", "data", "device", "apps", "infrastructure"];

/// The peer bases kept per day, in this order.
pub const PEER_BASES: [&str; 2] = ["total_seats", "all_tenants"];

/// One day's score (64 bytes).
#[derive(Debug, Clone, Copy)]
pub struct DailyScore {
    /// `currentScore`, exactly as Graph sent it.
    pub current_points: f64,
    /// Days since 1970-01-01 (UTC) of the record's `createdDateTime`.
    pub day: i32,
    /// `maxScore`.
    pub max_points: f32,
    /// `(points, max_points)` per entry of [`CATEGORIES`]; NaN where the day has none.
    pub categories: [(f32, f32); 5],
    /// The peers' average ratio per entry of [`PEER_BASES`]; NaN where Graph sent none.
    pub peers: [f32; 2],
}

impl PartialEq for DailyScore {
    fn eq(&self, other: &DailyScore) -> bool {
        // Bitwise on the floats, so NaN ("none") equals NaN.
        self.day == other.day
            && self.current_points.to_bits() == other.current_points.to_bits()
            && self.max_points.to_bits() == other.max_points.to_bits()
            && self
                .categories
                .iter()
                .zip(&other.categories)
                .all(|(a, b)| a.0.to_bits() == b.0.to_bits() && a.1.to_bits() == b.1.to_bits())
            && self
                .peers
                .iter()
                .zip(&other.peers)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl DailyScore {
    /// A day with only the score (the categories and peers unknown).
    pub fn new(day: i32, current_points: f64, max_points: f64) -> DailyScore {
        DailyScore {
            current_points,
            day,
            max_points: max_points as f32,
            categories: [(f32::NAN, f32::NAN); 5],
            peers: [f32::NAN; 2],
        }
    }

    /// The day of a snapshot that has a date and a score.
    pub fn of(s: &ScoreSnapshot) -> Option<DailyScore> {
        let mut d = DailyScore::new(day_of(s.created_at?), s.current_points?, s.max_points?);
        for c in &s.categories {
            if let Some(i) = CATEGORIES.iter().position(|k| *k == c.category) {
                d.categories[i] = (c.points as f32, c.max_points as f32);
            }
        }
        for p in &s.peers {
            if let (Some(i), Some(r)) = (
                PEER_BASES.iter().position(|k| *k == p.basis),
                p.average_ratio,
            ) {
                d.peers[i] = r as f32;
            }
        }
        Some(d)
    }

    /// `current / max`, when max > 0.
    pub fn ratio(&self) -> Option<f64> {
        (self.max_points > 0.0).then(|| self.current_points / f64::from(self.max_points))
    }

    /// The category's `(points, max)` that day, if kept.
    pub fn category(&self, name: &str) -> Option<(f64, f64)> {
        let i = CATEGORIES.iter().position(|k| *k == name)?;
        let (p, m) = self.categories[i];
        (!p.is_nan() && !m.is_nan()).then(|| (f64::from(p), f64::from(m)))
    }

    /// The peers' average ratio on `basis` that day, if kept.
    pub fn peer(&self, basis: &str) -> Option<f64> {
        let i = PEER_BASES.iter().position(|k| *k == basis)?;
        let r = self.peers[i];
        (!r.is_nan()).then(|| f64::from(r))
    }
}

/// One change of a control's score between two consecutive daily records, dated by the newer.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlChange {
    pub day: i32,
    pub control: Text,
    /// Points now minus points on the previous record.
    pub delta: f64,
    /// Points on `day`.
    pub points: f64,
}

/// A tenant's kept days and control changes, oldest first; cheap to clone (shared).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub days: Arc<[DailyScore]>,
    pub changes: Arc<[ControlChange]>,
}

/// The UTC day of a Unix time.
pub fn day_of(unix_seconds: f64) -> i32 {
    (unix_seconds / 86_400.0).floor() as i32
}

/// The control scores of a snapshot, by control name.
fn control_points(s: &ScoreSnapshot) -> HashMap<&str, f64> {
    s.controls
        .iter()
        .filter_map(|c| Some((&*c.name, c.points.get()?)))
        .collect()
}

/// The changes from `older` to `newer`, dated `day`: controls in both whose score differs. A
/// control that appears or disappears is a catalogue change, not a score change.
fn changes_between(older: &ScoreSnapshot, newer: &ScoreSnapshot, day: i32) -> Vec<ControlChange> {
    let before = control_points(older);
    let mut out: Vec<ControlChange> = newer
        .controls
        .iter()
        .filter_map(|c| {
            let now = c.points.get()?;
            let was = *before.get(&*c.name)?;
            (now != was).then(|| ControlChange {
                day,
                control: c.name.clone(),
                delta: now - was,
                points: now,
            })
        })
        .collect();
    out.sort_by(|a, b| a.control.cmp(&b.control));
    out
}

impl History {
    /// No days kept.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// The newest kept day.
    pub fn newest_day(&self) -> Option<i32> {
        self.days.last().map(|d| d.day)
    }

    /// The kept record of `day`.
    pub fn on(&self, day: i32) -> Option<&DailyScore> {
        self.days
            .binary_search_by_key(&day, |d| d.day)
            .ok()
            .map(|i| &self.days[i])
    }

    /// A history of the given days (any order; one per day, the last given wins) and changes.
    pub fn from_parts(days: Vec<DailyScore>, changes: Vec<ControlChange>, keep: u32) -> History {
        let mut days: Vec<DailyScore> = days
            .into_iter()
            .filter(|d| d.current_points.is_finite() && d.max_points.is_finite())
            .collect();
        // Stable sort, then keep the last of each day.
        days.sort_by_key(|d| d.day);
        let mut unique: Vec<DailyScore> = Vec::with_capacity(days.len());
        for d in days {
            match unique.last_mut() {
                Some(last) if last.day == d.day => *last = d,
                _ => unique.push(d),
            }
        }
        let mut changes = changes;
        changes.sort_by(|a, b| a.day.cmp(&b.day).then(a.control.cmp(&b.control)));
        History {
            days: Arc::from(unique),
            changes: Arc::from(changes),
        }
        .trimmed(keep)
    }

    /// Only the days no older than `keep` days before the newest (and their changes).
    pub fn trimmed(&self, keep: u32) -> History {
        let Some(newest) = self.newest_day() else {
            return History::default();
        };
        if keep == 0 {
            return History::default();
        }
        let oldest = newest - keep as i32 + 1;
        if self.days[0].day >= oldest
            && self
                .changes
                .iter()
                .all(|c| c.day >= oldest && c.day <= newest)
        {
            return self.clone();
        }
        History {
            days: self
                .days
                .iter()
                .filter(|d| d.day >= oldest)
                .copied()
                .collect(),
            changes: self
                .changes
                .iter()
                .filter(|c| c.day >= oldest && c.day <= newest)
                .cloned()
                .collect(),
        }
    }

    /// True when a refresh that brought `next` should fill the history from Graph: nothing is
    /// kept yet, or days are missing between the newest kept day and `next`'s (the exporter
    /// was not running). A tenant whose Graph history is short is filled once, not again.
    pub fn needs_fill(&self, next: Option<&ScoreSnapshot>, keep: u32) -> bool {
        let Some(day) = next.and_then(|s| s.created_at).map(day_of) else {
            return false;
        };
        if keep < 2 {
            return false;
        }
        match self.newest_day() {
            None => true,
            Some(newest) => day - newest > 1,
        }
    }

    /// This history with the refresh that replaced `previous` by `next` recorded: `next`'s day
    /// in its place and, when `previous` is the record of an earlier day or of the same day,
    /// the controls whose score changed since.
    pub fn record(
        &self,
        previous: Option<&ScoreSnapshot>,
        next: &ScoreSnapshot,
        keep: u32,
    ) -> History {
        let Some(entry) = DailyScore::of(next) else {
            return self.clone();
        };
        if keep == 0 {
            return History::default();
        }
        let mut days: Vec<DailyScore> = self.days.to_vec();
        days.push(entry);
        let mut changes: Vec<ControlChange> = self.changes.to_vec();
        let previous_day = previous.and_then(|p| p.created_at).map(day_of);
        if let (Some(prev), Some(pd)) = (previous, previous_day) {
            if pd <= entry.day {
                for c in changes_between(prev, next, entry.day) {
                    // A second record of the same day: the day's change is the sum.
                    match changes
                        .iter_mut()
                        .find(|x| x.day == c.day && x.control == c.control)
                    {
                        Some(x) => {
                            x.delta += c.delta;
                            x.points = c.points;
                        }
                        None => changes.push(c),
                    }
                }
                changes.retain(|c| c.delta != 0.0);
            }
        }
        History::from_parts(days, changes, keep)
    }

    /// The history built from daily snapshots (Graph's `secureScores` records, any order):
    /// one record per day and the changes between consecutive ones.
    pub fn from_snapshots(snapshots: &[ScoreSnapshot], keep: u32) -> History {
        let mut dated: Vec<(i32, &ScoreSnapshot)> = snapshots
            .iter()
            .filter_map(|s| Some((day_of(s.created_at?), s)))
            .collect();
        dated.sort_by(|a, b| {
            a.0.cmp(&b.0).then(
                a.1.created_at
                    .unwrap_or(0.0)
                    .total_cmp(&b.1.created_at.unwrap_or(0.0)),
            )
        });
        // The newest record of each day.
        let mut per_day: Vec<(i32, &ScoreSnapshot)> = Vec::with_capacity(dated.len());
        for (d, s) in dated {
            match per_day.last_mut() {
                Some(last) if last.0 == d => *last = (d, s),
                _ => per_day.push((d, s)),
            }
        }
        let days = per_day
            .iter()
            .filter_map(|(_, s)| DailyScore::of(s))
            .collect();
        let mut changes = Vec::new();
        for pair in per_day.windows(2) {
            changes.extend(changes_between(pair[0].1, pair[1].1, pair[1].0));
        }
        History::from_parts(days, changes, keep)
    }

    /// `self` (what the exporter recorded) with the days of `filled` (from Graph) that it
    /// lacks. Changes up to `filled`'s newest day come from `filled`, which saw every record
    /// in that range; later ones are `self`'s.
    pub fn merged_with(&self, filled: &History, keep: u32) -> History {
        let Some(filled_newest) = filled.newest_day() else {
            return self.trimmed(keep);
        };
        // `from_parts` keeps the last of each day: ours go last so they win.
        let mut days: Vec<DailyScore> = filled.days.to_vec();
        days.extend(self.days.iter().copied());
        let mut changes: Vec<ControlChange> = filled.changes.to_vec();
        changes.extend(
            self.changes
                .iter()
                .filter(|c| c.day > filled_newest)
                .cloned(),
        );
        History::from_parts(days, changes, keep)
    }

    /// Bytes this history holds on the heap (for the benchmark's accounting).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.days) + std::mem::size_of_val(&*self.changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::snapshot::{CategoryScore, Control, ControlInfo, Num};

    fn day(day: i32, current: f64) -> DailyScore {
        DailyScore::new(day, current, 100.0)
    }

    fn snap(day: i32, current: f64, controls: &[(&str, f64)]) -> ScoreSnapshot {
        let info = Arc::new(ControlInfo {
            title: "t".into(),
            service: "s".into(),
            tier: "core".into(),
            action_type: "config".into(),
            implementation_cost: "low".into(),
            user_impact: "low".into(),
            state: "default".into(),
            deprecated: false,
            action_url: String::new(),
        });
        ScoreSnapshot {
            created_at: Some(f64::from(day) * 86_400.0 + 3600.0),
            current_points: Some(current),
            max_points: Some(100.0),
            categories: vec![CategoryScore {
                category: "identity".into(),
                points: current,
                max_points: 100.0,
            }],
            controls: controls
                .iter()
                .map(|(n, p)| Control {
                    name: Arc::from(*n),
                    category: Arc::from("identity"),
                    points: Some(*p).into(),
                    max_points: Some(10.0).into(),
                    rank: Num::NONE,
                    items: Num::NONE,
                    items_in_scope: Num::NONE,
                    info: info.clone(),
                })
                .collect(),
            ..ScoreSnapshot::default()
        }
    }

    #[test]
    fn a_record_is_64_bytes() {
        assert_eq!(std::mem::size_of::<DailyScore>(), 64);
    }

    #[test]
    fn a_day_is_replaced_and_old_days_drop_out() {
        let h = History::from_parts(vec![day(10, 50.0), day(11, 51.0), day(11, 52.0)], vec![], 3);
        assert_eq!(&*h.days, &[day(10, 50.0), day(11, 52.0)]);
        let h = History::from_parts([&h.days[..], &[day(13, 53.0)]].concat(), vec![], 3);
        assert_eq!(
            &*h.days,
            &[day(11, 52.0), day(13, 53.0)],
            "day 10 is 4 days old"
        );
        let h = History::from_parts([&h.days[..], &[day(12, 1.0)]].concat(), vec![], 3);
        assert_eq!(
            h.days.iter().map(|d| d.day).collect::<Vec<_>>(),
            [11, 12, 13]
        );
        assert!(h.trimmed(0).is_empty());
    }

    #[test]
    fn refreshes_record_days_and_control_changes() {
        let d1 = snap(100, 50.0, &[("a", 5.0), ("b", 1.0)]);
        let h = History::default().record(None, &d1, 90);
        assert_eq!(h.days.len(), 1);
        assert!(h.changes.is_empty());
        assert_eq!(h.days[0].category("identity"), Some((50.0, 100.0)));
        let d2 = snap(101, 46.0, &[("a", 1.0), ("b", 1.0), ("new", 3.0)]);
        let h = h.record(Some(&d1), &d2, 90);
        assert_eq!(h.changes.len(), 1, "{:?}", h.changes);
        assert_eq!(
            (h.changes[0].day, h.changes[0].delta, h.changes[0].points),
            (101, -4.0, 1.0)
        );
        // Graph recomputes day 101: the day's change is against day 100, not the first record.
        let d2b = snap(101, 48.0, &[("a", 3.0), ("b", 1.0)]);
        let h = h.record(Some(&d2), &d2b, 90);
        assert_eq!(h.days.len(), 2);
        assert_eq!(h.days[1].current_points, 48.0);
        assert_eq!(h.changes.len(), 1);
        assert_eq!(h.changes[0].delta, -2.0);
        // Back to day 100's value: no change left for the day.
        let d2c = snap(101, 50.0, &[("a", 5.0), ("b", 1.0)]);
        assert!(h.record(Some(&d2b), &d2c, 90).changes.is_empty());
    }

    #[test]
    fn a_fill_brings_the_days_before_and_keeps_what_was_recorded() {
        let graph: Vec<ScoreSnapshot> = (95..=101)
            .rev()
            .map(|d| snap(d, f64::from(d - 50), &[("a", f64::from(d % 3))]))
            .collect();
        let filled = History::from_snapshots(&graph, 5);
        assert_eq!(
            filled.days.iter().map(|d| d.day).collect::<Vec<_>>(),
            [97, 98, 99, 100, 101]
        );
        // a: 96%3=0, 97→1, 98→2, 99→0, 100→1, 101→2: a change on each kept day (97's is
        // against day 96, read but no longer kept).
        assert_eq!(filled.changes.len(), 5);
        let live = History::default().record(None, &snap(101, 77.0, &[("a", 2.0)]), 5);
        let merged = live.merged_with(&filled, 5);
        assert_eq!(merged.days.len(), 5);
        assert_eq!(
            merged.days[4].current_points, 77.0,
            "the live record wins its day"
        );
        assert_eq!(merged.changes.len(), 5);
        // A refresh of a tenant with no history asks for a fill; a gap asks again.
        let next = snap(102, 1.0, &[]);
        assert!(History::default().needs_fill(Some(&next), 90));
        assert!(!merged.needs_fill(Some(&next), 90));
        assert!(merged.needs_fill(Some(&snap(104, 1.0, &[])), 90));
        assert!(
            !merged.needs_fill(Some(&snap(104, 1.0, &[])), 1),
            "one day kept: no fill"
        );
        assert!(
            !History::default().needs_fill(None, 90),
            "no record: nothing to fill"
        );
    }

    #[test]
    fn days_are_utc_days() {
        assert_eq!(day_of(0.0), 0);
        assert_eq!(day_of(86_399.9), 0);
        assert_eq!(day_of(86_400.0), 1);
        assert_eq!(day_of(-1.0), -1);
    }
}
