//! The overview's query and what it selects: the filter by band or status, the name search,
//! the order and the pages (`band`, `q`, `sort`, `page`), and the summary counted over the
//! whole fleet whatever the filter. Only the page's rows are turned into views afterwards.

use super::model::{change_of, ratio_of, status_of, Status};
use crate::core::band::band;
use crate::state::TenantState;
use serde::Serialize;

/// The page's filter by band or status (`band=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandFilter {
    Concern,
    Good,
    Excellent,
    Failing,
    NoData,
}

impl BandFilter {
    pub fn parse(s: &str) -> Option<BandFilter> {
        Some(match s {
            "concern" => BandFilter::Concern,
            "good" => BandFilter::Good,
            "excellent" => BandFilter::Excellent,
            "failing" => BandFilter::Failing,
            "no_data" => BandFilter::NoData,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BandFilter::Concern => "concern",
            BandFilter::Good => "good",
            BandFilter::Excellent => "excellent",
            BandFilter::Failing => "failing",
            BandFilter::NoData => "no_data",
        }
    }

    fn matches(self, t: &TenantState) -> bool {
        let b = ratio_of(t).map(band);
        match self {
            BandFilter::Concern => b == Some("concern"),
            BandFilter::Good => b == Some("good"),
            BandFilter::Excellent => b == Some("excellent"),
            BandFilter::Failing => status_of(t) == Status::Failing,
            BandFilter::NoData => b.is_none(),
        }
    }
}

/// The overview's order (`sort=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Failing first, then lowest score first, tenants without a score last.
    #[default]
    Score,
    Name,
    /// Largest 7-day fall first.
    Change,
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "score" => Sort::Score,
            "name" => Sort::Name,
            "change" => Sort::Change,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Score => "score",
            Sort::Name => "name",
            Sort::Change => "change",
        }
    }
}

/// Rows a page of the overview shows at most.
pub const PAGE_ROWS: usize = 100;

/// What the overview was asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetQuery {
    pub band: Option<BandFilter>,
    /// Case-insensitive substring of the tenant name.
    pub q: String,
    pub sort: Sort,
    /// 1-based.
    pub page: usize,
}

impl FleetQuery {
    /// From a query string; unknown or malformed values fall back to the defaults.
    pub fn parse(query: Option<&str>) -> FleetQuery {
        let mut f = FleetQuery {
            page: 1,
            ..FleetQuery::default()
        };
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*k {
                "band" => f.band = BandFilter::parse(&v),
                "q" => f.q = v.trim().chars().take(200).collect(),
                "sort" => f.sort = Sort::parse(&v).unwrap_or_default(),
                "page" => f.page = v.parse().ok().filter(|p| *p >= 1).unwrap_or(1),
                _ => {}
            }
        }
        f
    }
}

/// Counts over the whole fleet, whatever the filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FleetSummary {
    pub tenants: usize,
    pub failing: usize,
    pub concern: usize,
    pub good: usize,
    pub excellent: usize,
    /// Tenants without a score (new in Graph, or never refreshed).
    pub no_data: usize,
    /// Median and average of the tenants with a score: failing ones count with their last
    /// good score, so a failure never makes the fleet look better.
    pub median_ratio: Option<f64>,
    pub average_ratio: Option<f64>,
    /// Tenants the median and average count.
    pub scored: usize,
}

impl FleetSummary {
    pub fn of(tenants: &[TenantState]) -> FleetSummary {
        let mut s = FleetSummary {
            tenants: tenants.len(),
            ..FleetSummary::default()
        };
        let mut ratios = Vec::with_capacity(tenants.len());
        for t in tenants {
            if status_of(t) == Status::Failing {
                s.failing += 1;
            }
            match ratio_of(t) {
                Some(r) => {
                    ratios.push(r);
                    match band(r) {
                        "concern" => s.concern += 1,
                        "good" => s.good += 1,
                        _ => s.excellent += 1,
                    }
                }
                None => s.no_data += 1,
            }
        }
        s.scored = ratios.len();
        if !ratios.is_empty() {
            ratios.sort_by(f64::total_cmp);
            let n = ratios.len();
            s.median_ratio = Some(if n % 2 == 1 {
                ratios[n / 2]
            } else {
                (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
            });
            s.average_ratio = Some(ratios.iter().sum::<f64>() / n as f64);
        }
        s
    }
}

/// One page of the overview: the matching tenants in order, this page's slice of them.
#[derive(Debug)]
pub struct FleetPage<'a> {
    pub summary: FleetSummary,
    pub query: FleetQuery,
    /// Tenants matching the filter.
    pub matching: usize,
    /// Number of pages (at least 1) and the page shown (clamped to them).
    pub pages: usize,
    pub page: usize,
    pub rows: Vec<&'a TenantState>,
}

/// The 7-day change in points of a state (for sorting).
fn change_7d_of(t: &TenantState) -> Option<f64> {
    let s = t.snapshot.as_ref()?.score.as_ref()?;
    change_of(s, &t.history, 7).map(|c| c.points)
}

impl<'a> FleetPage<'a> {
    /// Filters, sorts and pages `tenants`: only the page's rows are built into views later.
    pub fn of(tenants: &'a [TenantState], query: FleetQuery) -> FleetPage<'a> {
        let summary = FleetSummary::of(tenants);
        let needle = query.q.to_lowercase();
        let mut rows: Vec<(&TenantState, Option<f64>)> = tenants
            .iter()
            .filter(|t| query.band.is_none_or(|b| b.matches(t)))
            .filter(|t| needle.is_empty() || t.name.to_lowercase().contains(&needle))
            .map(|t| {
                let key = match query.sort {
                    Sort::Score => ratio_of(t),
                    Sort::Change => change_7d_of(t),
                    Sort::Name => None,
                };
                (t, key)
            })
            .collect();
        // Missing keys sort last; ties by name, so the order is stable between renders.
        let by_key = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        match query.sort {
            Sort::Score => rows.sort_by(|a, b| {
                let fa = status_of(a.0) != Status::Failing;
                let fb = status_of(b.0) != Status::Failing;
                fa.cmp(&fb)
                    .then(by_key(a.1, b.1))
                    .then(a.0.name.cmp(&b.0.name))
            }),
            Sort::Change => rows.sort_by(|a, b| by_key(a.1, b.1).then(a.0.name.cmp(&b.0.name))),
            Sort::Name => rows.sort_by(|a, b| a.0.name.cmp(&b.0.name)),
        }
        let matching = rows.len();
        let pages = matching.div_ceil(PAGE_ROWS).max(1);
        let page = query.page.clamp(1, pages);
        let rows = rows
            .into_iter()
            .skip((page - 1) * PAGE_ROWS)
            .take(PAGE_ROWS)
            .map(|(t, _)| t)
            .collect();
        FleetPage {
            summary,
            query,
            matching,
            pages,
            page,
            rows,
        }
    }
}
