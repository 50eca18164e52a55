//! The kept daily history of one tenant's score: one entry per UTC day of Graph's
//! `createdDateTime`, newest last, at most `[history] days` of them.
//!
//! Graph publishes one `secureScores` record a day; every refresh that sees a record puts it
//! here (a later refresh of the same day replaces the day's entry, since Graph may recompute
//! it). The state directory saves it with the tenant, so a restart keeps it.

use std::sync::Arc;

/// Graph keeps 90 daily `secureScores` records, so no more can be kept.
pub const MAX_DAYS: u32 = 90;

/// One day's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyScore {
    /// Days since 1970-01-01 (UTC) of the record's `createdDateTime`.
    pub day: i64,
    pub current_points: f64,
    pub max_points: f64,
}

/// A tenant's kept days, oldest first; shared between the states that carry it.
pub type History = Arc<[DailyScore]>;

/// The UTC day of a Unix time.
pub fn day_of(unix_seconds: f64) -> i64 {
    (unix_seconds / 86_400.0).floor() as i64
}

/// `history` with `entry` put in its day's place, days older than `keep_days` before the
/// newest dropped. `keep_days` 0 keeps nothing.
pub fn with_entry(history: &[DailyScore], entry: DailyScore, keep_days: u32) -> History {
    if keep_days == 0 {
        return Arc::from(Vec::new());
    }
    let mut days: Vec<DailyScore> = history
        .iter()
        .copied()
        .filter(|d| d.day != entry.day)
        .collect();
    let at = days.partition_point(|d| d.day < entry.day);
    days.insert(at, entry);
    trimmed(&days, keep_days)
}

/// The entries no older than `keep_days` before the newest, oldest first, one per day.
pub fn trimmed(days: &[DailyScore], keep_days: u32) -> History {
    let Some(newest) = days.iter().map(|d| d.day).max() else {
        return Arc::from(Vec::new());
    };
    let oldest_kept = newest - i64::from(keep_days) + 1;
    let mut kept: Vec<DailyScore> = days
        .iter()
        .copied()
        .filter(|d| {
            d.day >= oldest_kept && d.current_points.is_finite() && d.max_points.is_finite()
        })
        .collect();
    kept.sort_by_key(|d| d.day);
    kept.dedup_by_key(|d| d.day);
    Arc::from(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: i64, current: f64) -> DailyScore {
        DailyScore {
            day,
            current_points: current,
            max_points: 100.0,
        }
    }

    #[test]
    fn a_day_is_replaced_and_old_days_drop_out() {
        let h = with_entry(&[], day(10, 50.0), 3);
        let h = with_entry(&h, day(11, 51.0), 3);
        let h = with_entry(&h, day(11, 52.0), 3);
        assert_eq!(&*h, &[day(10, 50.0), day(11, 52.0)]);
        let h = with_entry(&h, day(13, 53.0), 3);
        assert_eq!(&*h, &[day(11, 52.0), day(13, 53.0)], "day 10 is 4 days old");
        // A late record for an earlier day goes in its place.
        let h = with_entry(&h, day(12, 1.0), 3);
        assert_eq!(h.iter().map(|d| d.day).collect::<Vec<_>>(), [11, 12, 13]);
        assert!(with_entry(&h, day(14, 1.0), 0).is_empty());
    }

    #[test]
    fn days_are_utc_days() {
        assert_eq!(day_of(0.0), 0);
        assert_eq!(day_of(86_399.9), 0);
        assert_eq!(day_of(86_400.0), 1);
        assert_eq!(day_of(-1.0), -1);
    }
}
