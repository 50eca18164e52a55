//! The one conversion from Graph's wire models into the domain snapshot.
//!
//! Data in: the `secureScores` records and `secureScoreControlProfiles` of one refresh. Data out:
//! a [`TenantSnapshot`] with normalised label values, per-control maxima, category sums and
//! peer comparisons, ready for the renderer. Everything the contract says about values
//! (strings to numbers, `-1` means unknown, category and state spelling) is decided here.

use crate::core::intern::{intern_info, intern_text};
use crate::core::snapshot::{
    CategoryScore, Control, ControlInfo, PeerScore, ScoreSnapshot, TenantSnapshot, STATUSES_KEPT,
    STATUS_MAX_CHARS, TENANT_ID_MARK,
};
pub use crate::source::model::parse_graph_time;
use crate::source::model::{ComparativeScore, ControlProfile, ControlScore, SecureScoreRecord};
use std::collections::{HashMap, HashSet};

/// Lower snake_case for enumeration label values: `ThirdParty` → `third_party`,
/// `Defense In Depth` → `defense_in_depth`, `AllTenants` → `all_tenants`.
pub fn snake_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let mut prev_lower_or_digit = false;
    for ch in value.trim().chars() {
        if ch.is_uppercase() {
            if prev_lower_or_digit {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
            prev_lower_or_digit = false;
        } else if ch.is_alphanumeric() {
            out.push(ch);
            prev_lower_or_digit = true;
        } else {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            prev_lower_or_digit = false;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// Category label: lowercased, with spaces turned into underscores (`Identity` → `identity`).
pub fn category_label(value: &str) -> String {
    let v = value.trim().to_lowercase();
    let mut out = String::with_capacity(v.len());
    for ch in v.chars() {
        if ch.is_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "unknown".into()
    } else {
        out
    }
}

fn non_negative(v: Option<f64>) -> Option<f64> {
    v.filter(|x| *x >= 0.0)
}

/// The newest record by `createdDateTime`; Graph sends newest first, but don't rely on it.
pub fn newest_record(records: &[SecureScoreRecord]) -> Option<&SecureScoreRecord> {
    let mut best: Option<(&SecureScoreRecord, Option<f64>)> = None;
    for r in records {
        let t = r.created_date_time.as_deref().and_then(parse_graph_time);
        best = match best {
            None => Some((r, t)),
            Some((_, bt)) if t > bt => Some((r, t)),
            keep => keep,
        };
    }
    best.map(|(r, _)| r)
}

/// The current state of a control: the newest `controlStateUpdates` entry, `default` without one.
fn control_state(profile: &ControlProfile) -> String {
    let mut best: Option<(Option<f64>, &str)> = None;
    for u in &profile.state_updates {
        let Some(state) = u.state.as_deref().filter(|s| !s.trim().is_empty()) else {
            continue;
        };
        let t = u.updated_date_time.as_deref().and_then(parse_graph_time);
        // Later entries win ties, and undated entries count as oldest.
        if best.is_none_or(|(bt, _)| t >= bt) {
            best = Some((t, state));
        }
    }
    best.map(|(_, s)| snake_label(s))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

fn enum_or_unknown(v: Option<&str>) -> String {
    v.map(snake_label)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn control_info(
    name: &str,
    profile: Option<&ControlProfile>,
    tenant_id: Option<&str>,
) -> ControlInfo {
    match profile {
        Some(p) => ControlInfo {
            title: p.title.clone().unwrap_or_else(|| name.to_string()),
            service: p.service.clone().unwrap_or_else(|| "unknown".into()),
            tier: enum_or_unknown(p.tier.as_deref()),
            action_type: enum_or_unknown(p.action_type.as_deref()),
            implementation_cost: enum_or_unknown(p.implementation_cost.as_deref()),
            user_impact: enum_or_unknown(p.user_impact.as_deref()),
            state: control_state(p),
            deprecated: p.deprecated.unwrap_or(false),
            action_url: p
                .action_url
                .as_deref()
                .map(|u| match tenant_id.filter(|t| !t.is_empty()) {
                    Some(t) => u.replace(t, TENANT_ID_MARK),
                    None => u.to_string(),
                })
                .unwrap_or_default(),
        },
        // A control Graph scores but does not describe still gets an info series, so joins on
        // it keep the control; the title falls back to the control name.
        None => ControlInfo {
            title: name.to_string(),
            service: "unknown".into(),
            tier: "unknown".into(),
            action_type: "unknown".into(),
            implementation_cost: "unknown".into(),
            user_impact: "unknown".into(),
            state: "default".into(),
            deprecated: false,
            action_url: String::new(),
        },
    }
}

fn control_max(score: &ControlScore, profile: Option<&ControlProfile>) -> Option<f64> {
    match (score.score, score.score_in_percentage) {
        (Some(s), Some(pct)) if pct > 0.0 => Some(s * 100.0 / pct),
        _ => profile.and_then(|p| p.max_score),
    }
}

fn peer(c: &ComparativeScore) -> Option<PeerScore> {
    let basis = snake_label(c.basis.as_deref()?);
    if basis.is_empty() {
        return None;
    }
    Some(PeerScore {
        basis,
        average_ratio: non_negative(c.average_score).map(|v| v / 100.0),
        categories: c
            .categories
            .iter()
            .map(|(cat, v, max)| (category_label(cat), non_negative(*v), non_negative(*max)))
            .collect(),
    })
}

impl ScoreSnapshot {
    /// Joins a record with the profiles (by `controlName` = profile `id`).
    pub fn from_graph(record: &SecureScoreRecord, profiles: &[ControlProfile]) -> ScoreSnapshot {
        let by_id: HashMap<&str, &ControlProfile> = profiles
            .iter()
            .filter_map(|p| p.id.as_deref().map(|id| (id, p)))
            .rev() // so the first profile with an id wins
            .collect();

        let mut seen = HashSet::new();
        let mut controls = Vec::with_capacity(record.control_scores.len());
        let mut statuses = Vec::new();
        for cs in &record.control_scores {
            let Some(name) = cs
                .control_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
            else {
                continue;
            };
            if !seen.insert(name.to_string()) {
                continue; // a duplicate would make duplicate series
            }
            let profile = by_id.get(name).copied();
            let category = cs
                .control_category
                .as_deref()
                .or(profile.and_then(|p| p.control_category.as_deref()))
                .map(category_label)
                .unwrap_or_else(|| "unknown".into());
            controls.push(Control {
                name: intern_text(name),
                category: intern_text(&category),
                points: cs.score.into(),
                max_points: control_max(cs, profile).into(),
                rank: profile.and_then(|p| p.rank).into(),
                items: non_negative(cs.count).into(),
                items_in_scope: non_negative(cs.total).into(),
                info: intern_info(control_info(
                    name,
                    profile,
                    record.azure_tenant_id.as_deref(),
                )),
            });
            // Only for controls with points left: what the tenant page shows by each action.
            let c = &controls[controls.len() - 1];
            let left = c
                .max_points
                .get()
                .map(|m| m - c.points.get().unwrap_or(0.0));
            if let (Some(status), Some(left)) = (&cs.implementation_status, left) {
                if left > 0.0 {
                    statuses.push((controls.len() - 1, left, status.as_str()));
                }
            }
        }

        // The actions with the most points available keep their status (memory: this text
        // differs per tenant, and 10,000 tenants have a million incomplete controls).
        statuses.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut statuses: Vec<(u32, crate::core::snapshot::Text)> = statuses
            .into_iter()
            .filter_map(|(i, _, status)| {
                let text = plain_text(status, STATUS_MAX_CHARS);
                (!text.is_empty()).then(|| (i as u32, intern_text(&text)))
            })
            .take(STATUSES_KEPT)
            .collect();
        statuses.sort_by_key(|(i, _)| *i);

        let mut categories: Vec<CategoryScore> = Vec::new();
        for c in &controls {
            let entry = match categories
                .iter_mut()
                .position(|x| *x.category == *c.category)
            {
                Some(i) => &mut categories[i],
                None => {
                    categories.push(CategoryScore {
                        category: c.category.to_string(),
                        points: 0.0,
                        max_points: 0.0,
                    });
                    categories.last_mut().expect("just pushed")
                }
            };
            entry.points += c.points.get().unwrap_or(0.0);
            entry.max_points += c.max_points.get().unwrap_or(0.0);
        }

        let mut bases = HashSet::new();
        let peers = record
            .average_comparative_scores
            .iter()
            .filter_map(peer)
            .filter(|p| bases.insert(p.basis.clone()))
            .collect();

        let mut services = HashSet::new();
        let enabled_services = record
            .enabled_services
            .iter()
            .filter(|s| !s.is_empty() && services.insert(s.to_string()))
            .cloned()
            .collect();

        ScoreSnapshot {
            created_at: record
                .created_date_time
                .as_deref()
                .and_then(parse_graph_time),
            current_points: record.current_score,
            max_points: record.max_score,
            active_users: record.active_user_count,
            licensed_users: record.licensed_user_count,
            azure_tenant_id: record.azure_tenant_id.clone().filter(|s| !s.is_empty()),
            enabled_services,
            categories,
            controls,
            peers,
            statuses,
        }
    }
}

/// Graph's free text (often HTML: `implementationStatus`) as plain text: tags dropped (with
/// the content of `script` and `style`), the common entities decoded, whitespace collapsed,
/// at most `max_chars` characters (cut with "…"). Never fails: broken markup gives text.
pub fn plain_text(html: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(html.len().min(max_chars * 4));
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while !rest.is_empty() {
        if let Some(end) = skip_until {
            match find_ascii_ci(rest, end) {
                Some(at) => {
                    rest = &rest[at + end.len()..];
                    skip_until = None;
                }
                None => break,
            }
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        if c == '<' {
            let close = rest.find('>').map_or(rest.len(), |i| i + 1);
            let tag = rest[1..close.saturating_sub(1).max(1)]
                .trim()
                .to_ascii_lowercase();
            let tag_name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            if tag_name == "script" || tag_name == "style" {
                skip_until = Some(if tag_name == "script" {
                    "</script"
                } else {
                    "</style"
                });
            }
            // Block-level tags separate words.
            out.push(' ');
            rest = &rest[close..];
        } else if c == '&' {
            let end = rest[..rest.len().min(12)].find(';');
            let decoded = end.and_then(|e| entity(&rest[1..e]));
            match (decoded, end) {
                (Some(ch), Some(e)) => {
                    out.push(ch);
                    rest = &rest[e + 1..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if out.len() > max_chars * 8 {
            break; // enough to fill max_chars after collapsing
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max_chars {
        return joined;
    }
    let mut cut: String = joined.chars().take(max_chars.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "#39" => '\'',
        "nbsp" => ' ',
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code).filter(|c| !c.is_control() || c.is_whitespace())?
        }
    })
}

impl TenantSnapshot {
    /// The one conversion from a refresh's wire models to the domain snapshot.
    pub fn from_graph(
        records: &[SecureScoreRecord],
        profiles: &[ControlProfile],
    ) -> TenantSnapshot {
        TenantSnapshot {
            score: newest_record(records).map(|r| ScoreSnapshot::from_graph(r, profiles)),
            profiles: profiles.len(),
        }
    }

    /// The same from Graph's JSON items, parsed by the wire models as a refresh parses them
    /// (benchmarks and tests feed the simulator's data through it without HTTP).
    pub fn from_json(
        records: &[serde_json::Value],
        profiles: &[serde_json::Value],
    ) -> TenantSnapshot {
        let obj = |v: &serde_json::Value| v.as_object().cloned().unwrap_or_default();
        let records: Vec<SecureScoreRecord> = records
            .iter()
            .map(|r| SecureScoreRecord::from_json(&obj(r)))
            .collect();
        let profiles: Vec<ControlProfile> = profiles
            .iter()
            .map(|p| ControlProfile::from_json(&obj(p)))
            .collect();
        TenantSnapshot::from_graph(&records, &profiles)
    }
}

#[cfg(test)]
mod tests;
