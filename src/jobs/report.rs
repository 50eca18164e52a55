//! `snapshot`: a one-shot Secure Score report per tenant, for insurers, auditors and management,
//! as JSON, CSV, Markdown or the printable HTML report.
//!
//! Reads each tenant's kept days (`secureScores?$top=N`, first page only, N = `[history]
//! days`) and control catalogue, converts them with the daemon's code into the same state the
//! daemon holds, and renders the one model of `view::model`: every format ranks actions,
//! counts changes and names bands as the pages do. A tenant that fails is reported as such;
//! the others are still printed.

use crate::config::Config;
pub use crate::core::band::{band, points, CONCERN_RATIO, EXCELLENT_RATIO};
use crate::core::history::History;
use crate::core::snapshot::{ScoreSnapshot, TenantSnapshot};
use crate::source::connect::{tenant_graphs, ConnectError};
use crate::source::convert::newest_record;
use crate::source::error::chain;
use crate::source::events::{GraphEvents, NoEvents};
use crate::source::model::{ControlProfile, SecureScoreRecord};
use crate::state::TenantState;
use crate::view::model::{Status, TenantView};
use serde::Serialize;
use std::fmt::Write;
use std::sync::Arc;

/// Every tenant's view, in configuration order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_at: String,
    /// Unix seconds of `generated_at`.
    #[serde(skip)]
    pub generated_unix: f64,
    pub tenants: Vec<TenantView>,
}

impl Report {
    pub fn any_failed(&self) -> bool {
        self.tenants.iter().any(|t| t.status == Status::Failing)
    }
}

/// The state a daemon would hold after one successful refresh that read `records` (any
/// order) and `profiles`, with `history_days` of them kept.
pub fn tenant_state(
    tenant: &str,
    tenant_id: &str,
    records: &[SecureScoreRecord],
    profiles: &[ControlProfile],
    history_days: u32,
    now: f64,
) -> TenantState {
    let mut t = TenantState::new(tenant, tenant_id);
    let snapshot = TenantSnapshot {
        score: newest_record(records).map(|r| ScoreSnapshot::from_graph(r, profiles)),
        profiles: profiles.len(),
    };
    let days: Vec<ScoreSnapshot> = records
        .iter()
        .map(|r| ScoreSnapshot::from_graph(r, profiles))
        .collect();
    t.history = History::from_snapshots(&days, history_days);
    t.succeeded(Arc::new(snapshot), now);
    t
}

/// Reads every tenant of `config` once and builds the report.
pub async fn collect(config: &Config) -> Result<Report, ConnectError> {
    let events: Arc<dyn GraphEvents> = Arc::new(NoEvents);
    let mut running = tokio::task::JoinSet::new();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    let days = config.history_days;
    for (i, (name, graph)) in tenant_graphs(config, &events)?.into_iter().enumerate() {
        let tenant_id = config.tenants[i].tenant_id.clone();
        let limit = limit.clone();
        running.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let fetched = async {
                let (records, _) = graph.latest_scores(days.max(1)).await?;
                let (profiles, _) = graph.control_profiles().await?;
                Ok::<_, crate::source::error::GraphError>((records, profiles))
            }
            .await;
            let now = crate::core::clock::unix_now();
            let state = match fetched {
                Ok((records, profiles)) => {
                    tenant_state(&name, &tenant_id, &records, &profiles, days, now)
                }
                Err(e) => {
                    let mut t = TenantState::new(&name, &tenant_id);
                    t.failed(&chain(&e), now);
                    t
                }
            };
            (i, TenantView::of(&state))
        });
    }
    let mut tenants: Vec<(usize, TenantView)> = Vec::new();
    while let Some(done) = running.join_next().await {
        if let Ok(r) = done {
            tenants.push(r);
        }
    }
    tenants.sort_by_key(|(i, _)| *i);
    let now = time::OffsetDateTime::now_utc();
    Ok(Report {
        generated_at: now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        generated_unix: now.unix_timestamp() as f64,
        tenants: tenants.into_iter().map(|(_, r)| r).collect(),
    })
}

/// The printable report: one self-contained HTML file, a tenant page per tenant.
pub fn to_html(r: &Report) -> String {
    crate::view::tenant::report_document(&r.tenants, r.generated_unix)
}

/// Actions the Markdown report lists.
pub const TOP_ACTIONS: usize = 10;

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
            t.status.as_str().to_string(),
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
        let top = t.actions.first();
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
        match (t.status, t.score_ratio) {
            (_, Some(_)) => {
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
            (Status::Failing, None) => {
                let _ = writeln!(out, "| {} | **failed** | | | | | |", md(&t.tenant));
            }
            _ => {
                let _ = writeln!(out, "| {} | no score yet | | | | | |", md(&t.tenant));
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
        if let Some(e) = &t.error {
            let _ = writeln!(
                out,
                "The last refresh failed: {}{}",
                md(e),
                if t.score_ratio.is_some() {
                    " (the figures below are the last good data)\n"
                } else {
                    ""
                }
            );
        }
        if t.score_ratio.is_none() {
            if t.error.is_none() {
                let _ = writeln!(out, "Microsoft Graph has no Secure Score for this tenant yet (new tenants get one after 2–4 days).");
            }
            continue;
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
        for (i, a) in t.actions.iter().take(TOP_ACTIONS).enumerate() {
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
