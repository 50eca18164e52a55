//! The one model behind every view and report: the fleet overview, the tenant page, and every
//! `snapshot` format read a [`TenantView`] built here, so they agree on what is "recommended",
//! how actions and tenants are ranked and what a summary counts.
//!
//! Rules, decided once:
//! - status: `up` (the last refresh succeeded and Graph has a score), `no_data` (it succeeded
//!   and Graph has no record yet), `failing` (the last refresh failed; the last good data, if
//!   any, is still shown), `waiting` (not refreshed by this process yet, restored data or not);
//! - band: from the last good score, whatever the status (a failing tenant keeps its band);
//! - recommended: controls with points available whose state is neither `ignored`
//!   (risk accepted) nor `third_party` and that are not deprecated; those three are listed
//!   apart. Ranked by points available, then Microsoft's rank, then the control name;
//! - a change is the difference between two consecutive kept daily records, dated by the
//!   newer; "7 days" compares with the record of exactly 7 days earlier, none without one;
//! - days to the next band: the least-squares slope of the ratio over the last 30 kept days
//!   (at least 7 records spanning at least 7 days), only when it rises.

use crate::core::band::{band, CONCERN_RATIO, EXCELLENT_RATIO};
use crate::core::history::{day_of, History};
use crate::core::snapshot::ScoreSnapshot;
use crate::state::TenantState;
use serde::Serialize;

/// How many days of changes the tenant page lists.
pub const CHANGES_DAYS: i32 = 30;
/// The window of the trend that predicts the next band.
pub const TREND_DAYS: i32 = 30;

/// A tenant's status on the pages (`data-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Up,
    Failing,
    NoData,
    Waiting,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Failing => "failing",
            Status::NoData => "no_data",
            Status::Waiting => "waiting",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CategoryView {
    pub category: String,
    pub points: f64,
    pub max_points: f64,
    pub ratio: Option<f64>,
    /// Similar-size organisations' average points in the category (`total_seats`), and all.
    pub similar_size_points: Option<f64>,
    pub all_tenants_points: Option<f64>,
    /// Points now minus the kept record of 30 days before, where both are kept.
    pub change_30d: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PeerView {
    pub basis: String,
    pub average_ratio: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionView {
    pub control: String,
    pub title: String,
    pub category: String,
    pub points_available: f64,
    pub points: f64,
    pub max_points: f64,
    pub user_impact: String,
    pub implementation_cost: String,
    pub state: String,
    pub deprecated: bool,
    pub rank: Option<f64>,
    /// Microsoft's implementation status, as plain text.
    pub implementation_status: Option<String>,
    /// Items meeting the control and in scope (`count`, `total`), where Graph sends them.
    pub items: Option<f64>,
    pub items_in_scope: Option<f64>,
    /// Graph's `actionUrl`, as sent (the pages link it only when it is a Microsoft address).
    pub action_url: Option<String>,
}

impl ActionView {
    /// Why an action is listed apart from the recommended ones, if it is.
    pub fn set_aside_reason(&self) -> Option<&'static str> {
        if self.deprecated {
            Some("deprecated by Microsoft")
        } else if self.state == "ignored" {
            Some("risk accepted")
        } else if self.state == "third_party" {
            Some("covered by a third party")
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// Date of the kept record compared with (YYYY-MM-DD).
    pub since: String,
    pub points: f64,
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ControlChangeView {
    pub date: String,
    pub control: String,
    pub title: String,
    pub delta: f64,
    pub points: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    pub date: String,
    pub current_points: f64,
    pub max_points: f64,
    pub ratio: Option<f64>,
}

/// Everything any view shows about one tenant.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TenantView {
    pub tenant: String,
    pub tenant_id: String,
    pub status: Status,
    /// Shown data restored from the state directory, not refreshed since the start.
    pub restored: bool,
    pub error: Option<String>,
    /// Unix seconds of the last successful refresh.
    pub last_success: Option<f64>,
    pub snapshot_date: Option<String>,
    pub current_points: Option<f64>,
    pub max_points: Option<f64>,
    pub score_ratio: Option<f64>,
    pub band: Option<&'static str>,
    pub points_available: Option<f64>,
    pub active_users: Option<f64>,
    pub licensed_users: Option<f64>,
    pub categories: Vec<CategoryView>,
    pub peers: Vec<PeerView>,
    /// Recommended actions, ranked.
    pub actions: Vec<ActionView>,
    /// Deprecated, risk-accepted and third-party controls with points available, ranked.
    pub set_aside: Vec<ActionView>,
    pub change_7d: Option<Change>,
    pub change_30d: Option<Change>,
    /// Per-control changes of the last [`CHANGES_DAYS`] days, newest first.
    pub changes: Vec<ControlChangeView>,
    /// The kept days, oldest first.
    pub trend: Vec<TrendPoint>,
    /// The band the trend leads to next, and in how many days; none when not on track.
    pub next_band: Option<&'static str>,
    pub days_to_next_band: Option<f64>,
}

/// YYYY-MM-DD of a day number.
pub fn date_of_day(day: i32) -> String {
    time::OffsetDateTime::from_unix_timestamp(i64::from(day) * 86_400)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_default()
}

fn ratio(cur: Option<f64>, max: Option<f64>) -> Option<f64> {
    match (cur, max) {
        (Some(c), Some(m)) if m > 0.0 => Some(c / m),
        _ => None,
    }
}

/// The status of a state.
pub fn status_of(t: &TenantState) -> Status {
    match (t.attempted, t.up) {
        (false, _) => Status::Waiting,
        (true, false) => Status::Failing,
        (true, true) => match t.snapshot.as_ref().map(|s| s.score.is_some()) {
            Some(true) => Status::Up,
            _ => Status::NoData,
        },
    }
}

/// A state's score ratio (for sorting and counting without building the whole view).
pub fn ratio_of(t: &TenantState) -> Option<f64> {
    let s = t.snapshot.as_ref()?.score.as_ref()?;
    ratio(s.current_points, s.max_points)
}

/// Current points now minus the kept record `days` before the snapshot's day.
pub fn change_of(s: &ScoreSnapshot, history: &History, days: i32) -> Option<Change> {
    let day = day_of(s.created_at?) - days;
    let old = history.on(day)?;
    Some(Change {
        since: date_of_day(day),
        points: s.current_points? - old.current_points,
        ratio: ratio(s.current_points, s.max_points)
            .zip(old.ratio())
            .map(|(n, o)| n - o),
    })
}

/// All actions with points available, ranked: most points available, then Microsoft's rank,
/// then the control name.
fn ranked_actions(s: &ScoreSnapshot, tenant_id: &str) -> Vec<ActionView> {
    let mut actions: Vec<ActionView> = s
        .controls
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let max = c.max_points.get()?;
            let points = c.points.get().unwrap_or(0.0);
            (max - points > 0.0).then(|| ActionView {
                control: c.name.to_string(),
                title: c.info.title.clone(),
                category: c.category.to_string(),
                points_available: max - points,
                points,
                max_points: max,
                user_impact: c.info.user_impact.clone(),
                implementation_cost: c.info.implementation_cost.clone(),
                state: c.info.state.clone(),
                deprecated: c.info.deprecated,
                rank: c.rank.get(),
                implementation_status: s.status_of(i).map(str::to_string),
                items: c.items.get(),
                items_in_scope: c.items_in_scope.get(),
                action_url: c.info.action_url_for(tenant_id),
            })
        })
        .collect();
    actions.sort_by(|a, b| {
        b.points_available
            .total_cmp(&a.points_available)
            .then(
                a.rank
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b.rank.unwrap_or(f64::MAX)),
            )
            .then(a.control.cmp(&b.control))
    });
    actions
}

/// The band after `current` and the ratio that enters it.
fn next_band_of(current: f64) -> Option<(&'static str, f64)> {
    match band(current) {
        "concern" => Some(("good", CONCERN_RATIO)),
        "good" => Some(("excellent", EXCELLENT_RATIO)),
        _ => None,
    }
}

/// Days until the trend of the last [`TREND_DAYS`] kept days reaches the next band.
fn days_to_next_band(history: &History, current: f64) -> Option<(&'static str, f64)> {
    let (next, threshold) = next_band_of(current)?;
    let newest = history.newest_day()?;
    let points: Vec<(f64, f64)> = history
        .days
        .iter()
        .filter(|d| d.day > newest - TREND_DAYS)
        .filter_map(|d| Some((f64::from(d.day), d.ratio()?)))
        .collect();
    let span = points.last()?.0 - points.first()?.0;
    if points.len() < 7 || span < 7.0 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = sxy / sxx;
    if slope.is_nan() || slope <= 0.0 {
        return None;
    }
    // "good" starts just above 0.65 (the edge is concern): any rise past it counts.
    let days = ((threshold - current) / slope).max(0.0);
    (days.is_finite() && days < 3650.0).then_some((next, days.ceil()))
}

impl TenantView {
    /// The view of one tenant's state.
    pub fn of(t: &TenantState) -> TenantView {
        let mut v = TenantView {
            tenant: t.name.clone(),
            tenant_id: t.tenant_id.clone(),
            status: status_of(t),
            restored: t.restored,
            error: t.last_error.clone().filter(|_| t.attempted && !t.up),
            last_success: t.last_success,
            snapshot_date: None,
            current_points: None,
            max_points: None,
            score_ratio: None,
            band: None,
            points_available: None,
            active_users: None,
            licensed_users: None,
            categories: Vec::new(),
            peers: Vec::new(),
            actions: Vec::new(),
            set_aside: Vec::new(),
            change_7d: None,
            change_30d: None,
            changes: Vec::new(),
            trend: Vec::new(),
            next_band: None,
            days_to_next_band: None,
        };
        let Some(s) = t.snapshot.as_ref().and_then(|s| s.score.as_ref()) else {
            return v;
        };
        let h = &t.history;
        v.snapshot_date = s.created_at.map(|c| date_of_day(day_of(c)));
        v.current_points = s.current_points;
        v.max_points = s.max_points;
        v.score_ratio = ratio(s.current_points, s.max_points);
        v.band = v.score_ratio.map(band);
        v.points_available = s
            .current_points
            .zip(s.max_points)
            .map(|(c, m)| (m - c).max(0.0));
        v.active_users = s.active_users;
        v.licensed_users = s.licensed_users;
        let peer = |basis: &str| s.peers.iter().find(|p| p.basis == basis);
        let peer_points = |basis: &str, category: &str| {
            peer(basis)?
                .categories
                .iter()
                .find(|(c, _, _)| c == category)
                .and_then(|(_, p, _)| *p)
        };
        let day = s.created_at.map(day_of);
        let month_ago = day.and_then(|d| h.on(d - 30));
        v.categories = s
            .categories
            .iter()
            .map(|c| CategoryView {
                category: c.category.clone(),
                points: c.points,
                max_points: c.max_points,
                ratio: (c.max_points > 0.0).then(|| c.points / c.max_points),
                similar_size_points: peer_points("total_seats", &c.category),
                all_tenants_points: peer_points("all_tenants", &c.category),
                change_30d: month_ago
                    .and_then(|d| d.category(&c.category))
                    .map(|(p, _)| c.points - p),
            })
            .collect();
        v.peers = s
            .peers
            .iter()
            .filter_map(|p| {
                Some(PeerView {
                    basis: p.basis.clone(),
                    average_ratio: p.average_ratio?,
                })
            })
            .collect();
        let (actions, set_aside): (Vec<_>, Vec<_>) =
            ranked_actions(s, s.azure_tenant_id.as_deref().unwrap_or(&t.tenant_id))
                .into_iter()
                .partition(|a| a.set_aside_reason().is_none());
        v.actions = actions;
        v.set_aside = set_aside;
        v.change_7d = change_of(s, h, 7);
        v.change_30d = change_of(s, h, 30);
        let titles: std::collections::HashMap<&str, &str> = s
            .controls
            .iter()
            .map(|c| (&*c.name, c.info.title.as_str()))
            .collect();
        if let Some(newest) = h.newest_day() {
            v.changes = h
                .changes
                .iter()
                .rev()
                .filter(|c| c.day > newest - CHANGES_DAYS)
                .map(|c| ControlChangeView {
                    date: date_of_day(c.day),
                    control: c.control.to_string(),
                    title: titles
                        .get(&*c.control)
                        .map_or_else(|| c.control.to_string(), |t| t.to_string()),
                    delta: c.delta,
                    points: c.points,
                })
                .collect();
        }
        v.trend = h
            .days
            .iter()
            .map(|d| TrendPoint {
                date: date_of_day(d.day),
                current_points: d.current_points,
                max_points: f64::from(d.max_points),
                ratio: d.ratio(),
            })
            .collect();
        if let Some(r) = v.score_ratio {
            if let Some((next, days)) = days_to_next_band(h, r) {
                v.next_band = Some(next);
                v.days_to_next_band = Some(days);
            }
        }
        v
    }
}
