//! `snapshot`: a one-shot Secure Score report per tenant, for insurers, auditors and management,
//! as JSON, CSV or Markdown.
//!
//! Reads the last 31 daily records (for the 7- and 30-day change) and the control catalogue of
//! every tenant, converts them with the same code as the daemon, and renders. A tenant that fails
//! is reported as such; the others are still printed.

use crate::config::Config;
pub use crate::core::band::{band, points, CONCERN_RATIO, EXCELLENT_RATIO};
use crate::core::snapshot::ScoreSnapshot;
use crate::source::connect::{tenant_graphs, ConnectError};
use crate::source::convert::{newest_record, parse_graph_time};
use crate::source::error::chain;
use crate::source::events::{GraphEvents, NoEvents};
use crate::source::model::SecureScoreRecord;
use serde::Serialize;
use std::fmt::Write;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CategoryReport {
    pub category: String,
    pub points: f64,
    pub max_points: f64,
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PeerReport {
    pub basis: String,
    pub average_ratio: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionReport {
    pub control: String,
    pub title: String,
    pub category: String,
    pub points_available: f64,
    pub points: f64,
    pub max_points: f64,
    pub user_impact: String,
    pub implementation_cost: String,
    pub state: String,
    pub rank: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Change {
    /// Date of the record compared with.
    pub since: String,
    pub points: f64,
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TenantReport {
    pub tenant: String,
    pub tenant_id: String,
    /// `ok`, `no_data` (Graph has no record yet) or `error`.
    pub status: &'static str,
    pub error: Option<String>,
    pub snapshot_date: Option<String>,
    pub current_points: Option<f64>,
    pub max_points: Option<f64>,
    pub score_ratio: Option<f64>,
    pub band: Option<&'static str>,
    pub categories: Vec<CategoryReport>,
    pub peers: Vec<PeerReport>,
    pub top_actions: Vec<ActionReport>,
    pub change_7d: Option<Change>,
    pub change_30d: Option<Change>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub tenants: Vec<TenantReport>,
}

impl Report {
    pub fn any_failed(&self) -> bool {
        self.tenants.iter().any(|t| t.status == "error")
    }
}

fn date_of(unix: f64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix as i64)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_default()
}

fn ratio(cur: Option<f64>, max: Option<f64>) -> Option<f64> {
    match (cur, max) {
        (Some(c), Some(m)) if m > 0.0 => Some(c / m),
        _ => None,
    }
}

fn change(newest: &ScoreSnapshot, records: &[SecureScoreRecord], days: i64) -> Option<Change> {
    let target = newest.created_at? - (days * 86_400) as f64;
    let old = records.iter().find(|r| {
        r.created_date_time
            .as_deref()
            .and_then(parse_graph_time)
            .is_some_and(|t| (t - target).abs() < 43_200.0)
    })?;
    Some(Change {
        since: date_of(target),
        points: newest.current_points? - old.current_score?,
        ratio: ratio(newest.current_points, newest.max_points)
            .zip(ratio(old.current_score, old.max_score))
            .map(|(n, o)| n - o),
    })
}

/// Builds one tenant's report from its records (any order) and the catalogue's conversion.
pub fn tenant_report(
    tenant: &str,
    tenant_id: &str,
    records: &[SecureScoreRecord],
    profiles: &[crate::source::model::ControlProfile],
) -> TenantReport {
    let mut r = TenantReport {
        tenant: tenant.into(),
        tenant_id: tenant_id.into(),
        status: "no_data",
        error: None,
        snapshot_date: None,
        current_points: None,
        max_points: None,
        score_ratio: None,
        band: None,
        categories: Vec::new(),
        peers: Vec::new(),
        top_actions: Vec::new(),
        change_7d: None,
        change_30d: None,
    };
    let Some(newest) = newest_record(records) else {
        return r;
    };
    let s = ScoreSnapshot::from_graph(newest, profiles);
    r.status = "ok";
    r.snapshot_date = s.created_at.map(date_of);
    r.current_points = s.current_points;
    r.max_points = s.max_points;
    r.score_ratio = ratio(s.current_points, s.max_points);
    r.band = r.score_ratio.map(band);
    r.categories = s
        .categories
        .iter()
        .map(|c| CategoryReport {
            category: c.category.to_string(),
            points: c.points,
            max_points: c.max_points,
            ratio: (c.max_points > 0.0).then(|| c.points / c.max_points),
        })
        .collect();
    r.peers = s
        .peers
        .iter()
        .filter_map(|p| {
            p.average_ratio.map(|a| PeerReport {
                basis: p.basis.clone(),
                average_ratio: a,
            })
        })
        .collect();
    let mut actions: Vec<ActionReport> = s
        .controls
        .iter()
        .filter_map(|c| {
            let max = c.max_points.get()?;
            let points = c.points.get().unwrap_or(0.0);
            (max - points > 0.0).then(|| ActionReport {
                control: c.name.to_string(),
                title: c.info.title.clone(),
                category: c.category.to_string(),
                points_available: max - points,
                points,
                max_points: max,
                user_impact: c.info.user_impact.clone(),
                implementation_cost: c.info.implementation_cost.clone(),
                state: c.info.state.clone(),
                rank: c.rank.get(),
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
    actions.truncate(10);
    r.top_actions = actions;
    r.change_7d = change(&s, records, 7);
    r.change_30d = change(&s, records, 30);
    r
}

/// Reads every tenant once and builds the report.
pub async fn collect(config: &Config) -> Result<Report, ConnectError> {
    let events: Arc<dyn GraphEvents> = Arc::new(NoEvents);
    let mut running = tokio::task::JoinSet::new();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    for (i, (name, graph)) in tenant_graphs(config, &events)?.into_iter().enumerate() {
        let tenant_id = config.tenants[i].tenant_id.clone();
        let limit = limit.clone();
        running.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let fetched = async {
                let history = graph.score_history(31).await?;
                let (profiles, _) = graph.control_profiles().await?;
                Ok::<_, crate::source::error::GraphError>((history, profiles))
            }
            .await;
            let report = match fetched {
                Ok((history, profiles)) => tenant_report(&name, &tenant_id, &history, &profiles),
                Err(e) => {
                    let mut r = tenant_report(&name, &tenant_id, &[], &[]);
                    r.status = "error";
                    r.error = Some(chain(&e));
                    r
                }
            };
            (i, report)
        });
    }
    let mut tenants: Vec<(usize, TenantReport)> = Vec::new();
    while let Some(done) = running.join_next().await {
        if let Ok(r) = done {
            tenants.push(r);
        }
    }
    tenants.sort_by_key(|(i, _)| *i);
    Ok(Report {
        generated_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        tenants: tenants.into_iter().map(|(_, r)| r).collect(),
    })
}

fn pct(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}", r * 100.0)).unwrap_or_default()
}

fn num(v: Option<f64>) -> String {
    v.map(points).unwrap_or_default()
}

fn signed(v: Option<f64>) -> String {
    v.map(|v| format!("{v:+.2}")).unwrap_or_default()
}

/// JSON, pretty-printed.
pub fn to_json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default() + "\n"
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// CSV (RFC 4180): one row per tenant.
pub fn to_csv(r: &Report) -> String {
    const CATS: [&str; 5] = ["identity", "data", "device", "apps", "infrastructure"];
    let mut out = String::from("tenant,tenant_id,status,error,snapshot_date,current_points,max_points,score_percent,band,change_7d_points,change_30d_points,peer_all_tenants_percent,peer_similar_size_percent");
    for c in CATS {
        let _ = write!(out, ",{c}_percent");
    }
    out.push_str(",top_action,top_action_points_available\r\n");
    for t in &r.tenants {
        let peer = |b: &str| {
            t.peers
                .iter()
                .find(|p| p.basis == b)
                .map(|p| p.average_ratio)
        };
        let mut row = vec![
            t.tenant.clone(),
            t.tenant_id.clone(),
            t.status.to_string(),
            t.error.clone().unwrap_or_default(),
            t.snapshot_date.clone().unwrap_or_default(),
            num(t.current_points),
            num(t.max_points),
            pct(t.score_ratio),
            t.band.unwrap_or_default().to_string(),
            signed(t.change_7d.as_ref().map(|c| c.points)),
            signed(t.change_30d.as_ref().map(|c| c.points)),
            pct(peer("all_tenants")),
            pct(peer("total_seats")),
        ];
        for c in CATS {
            row.push(pct(t
                .categories
                .iter()
                .find(|x| x.category == c)
                .and_then(|x| x.ratio)));
        }
        let top = t.top_actions.first();
        row.push(top.map(|a| a.title.clone()).unwrap_or_default());
        row.push(num(top.map(|a| a.points_available)));
        out.push_str(
            &row.iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

fn md(v: &str) -> String {
    v.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Markdown, fit to paste into a questionnaire.
pub fn to_markdown(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Microsoft Secure Score report\n\nGenerated {} from Microsoft Graph (`/security/secureScores`, `/security/secureScoreControlProfiles`). Bands: 65 % or less is a cause for concern, 65–80 % is a sound target, 80 % or more is excellent.\n", r.generated_at);
    let _ = writeln!(out, "| Tenant | Secure Score | Points | Band | Snapshot | Change 7 days | Change 30 days |\n|---|---:|---:|---|---|---:|---:|");
    for t in &r.tenants {
        match t.status {
            "ok" => {
                let _ = writeln!(
                    out,
                    "| {} | {} % | {} / {} | {} | {} | {} | {} |",
                    md(&t.tenant),
                    pct(t.score_ratio),
                    num(t.current_points),
                    num(t.max_points),
                    t.band.unwrap_or("—"),
                    t.snapshot_date.as_deref().unwrap_or("—"),
                    signed(t.change_7d.as_ref().map(|c| c.points)),
                    signed(t.change_30d.as_ref().map(|c| c.points)),
                );
            }
            "no_data" => {
                let _ = writeln!(out, "| {} | no score yet | | | | | |", md(&t.tenant));
            }
            _ => {
                let _ = writeln!(out, "| {} | **failed** | | | | | |", md(&t.tenant));
            }
        }
    }
    for t in &r.tenants {
        let _ = writeln!(
            out,
            "\n## {}\n\nTenant ID: `{}`\n",
            md(&t.tenant),
            md(&t.tenant_id)
        );
        match t.status {
            "error" => {
                let _ = writeln!(
                    out,
                    "The report could not be produced: {}",
                    md(t.error.as_deref().unwrap_or(""))
                );
                continue;
            }
            "no_data" => {
                let _ = writeln!(out, "Microsoft Graph has no Secure Score for this tenant yet (new tenants get one after 2–4 days).");
                continue;
            }
            _ => {}
        }
        let _ = writeln!(
            out,
            "Secure Score **{} %** ({} of {} points, {}) on {}.\n",
            pct(t.score_ratio),
            num(t.current_points),
            num(t.max_points),
            t.band.unwrap_or("—"),
            t.snapshot_date.as_deref().unwrap_or("—")
        );
        if !t.peers.is_empty() {
            let _ = writeln!(out, "| Comparison | Average score |\n|---|---:|");
            for p in &t.peers {
                let label = match p.basis.as_str() {
                    "all_tenants" => "All organisations",
                    "total_seats" => "Organisations of similar size",
                    "industry_types" => "Organisations in the same industry",
                    other => other,
                };
                let _ = writeln!(out, "| {label} | {:.1} % |", p.average_ratio * 100.0);
            }
            out.push('\n');
        }
        let _ = writeln!(out, "| Category | Points | Score |\n|---|---:|---:|");
        for c in &t.categories {
            let _ = writeln!(
                out,
                "| {} | {} / {} | {} % |",
                md(&c.category),
                points(c.points),
                points(c.max_points),
                pct(c.ratio)
            );
        }
        let _ = writeln!(out, "\n**Top recommended actions** (by points available):\n\n| # | Action | Category | Points available | User impact | Cost | State |\n|---:|---|---|---:|---|---|---|");
        for (i, a) in t.top_actions.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} | {} | {} | {} |",
                i + 1,
                md(&a.title),
                md(&a.category),
                a.points_available,
                md(&a.user_impact),
                md(&a.implementation_cost),
                md(&a.state)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_the_guidance() {
        assert_eq!(band(0.65), "concern");
        assert_eq!(band(0.651), "good");
        assert_eq!(band(0.80), "excellent");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn points_have_at_most_two_decimals() {
        assert_eq!(points(23.995499795445248), "24");
        assert_eq!(points(14.73), "14.73");
        assert_eq!(points(128.0), "128");
    }

    #[test]
    fn markdown_escapes_table_breakers() {
        assert_eq!(md("a|b\nc"), "a\\|b c");
    }
}
