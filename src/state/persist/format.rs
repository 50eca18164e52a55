//! The on-disk form of one tenant's saved state: JSON, gzip-compressed, versioned.
//!
//! Kept apart from the in-memory types on purpose: those change shape for memory's sake, this
//! changes only with [`VERSION`]. A file whose `format` or `version` is not ours is foreign and
//! read as nothing; gzip's CRC and length trailer make a torn or altered file fail as a whole.
//! Rows are arrays, not objects, and each file lists its control descriptions once, so a
//! tenant with 250 controls takes a few kilobytes.
//!
//! Holds no secret or token: names, tenant id, the snapshot's numbers and Graph's text.

use crate::core::history::{ControlChange, DailyScore, History};
use crate::core::intern::{intern_info, intern_text};
use crate::core::snapshot::{
    CategoryScore, Control, ControlInfo, PeerScore, ScoreSnapshot, TenantSnapshot,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

/// The `format` value of every state file.
pub const FORMAT: &str = "securescore_exporter state";
/// The layout written; any other is ignored as foreign (a newer exporter's, say). Version 1
/// (days with the score only, no control changes or statuses) is still read.
pub const VERSION: u32 = 2;
const OLDEST_READ: u32 = 1;
/// A decompressed file larger than this is not ours (a tenant's is well under 1 MiB).
const MAX_DECODED: u64 = 64 << 20;

/// What a state file holds for one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedTenant {
    pub name: String,
    pub tenant_id: String,
    /// Unix seconds of the saved data's successful refresh.
    pub last_success: f64,
    pub snapshot: Arc<TenantSnapshot>,
    pub history: History,
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not gzip or damaged: {0}")]
    Damaged(#[source] std::io::Error),
    #[error("not a state file: {0}")]
    Json(#[source] serde_json::Error),
    #[error("written in an unknown layout (format {format:?}, version {version})")]
    Foreign { format: String, version: u32 },
    #[error("holds tenant {found:?}, expected {expected:?}")]
    OtherTenant { found: String, expected: String },
    #[error("is for tenant id {found}, but the configuration says {expected}")]
    OtherTenantId { found: String, expected: String },
    #[error("is inconsistent: {0}")]
    Inconsistent(&'static str),
}

/// Just the header, read first so a foreign layout is told apart from a damaged one.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileV1 {
    format: String,
    version: u32,
    tenant: String,
    tenant_id: String,
    last_success: f64,
    profiles: usize,
    /// Oldest first.
    history: Vec<DayRow>,
    /// `[day, control, delta, points]`, oldest first (version 2).
    #[serde(default)]
    changes: Vec<(i32, String, f64, f64)>,
    score: Option<ScoreV1>,
}

/// A kept day: `[day, current, max]` (version 1) or with the categories' `[points, max]` in
/// [`crate::core::history::CATEGORIES`] order and the peers in `PEER_BASES` order (version 2;
/// `null` for none).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum DayRow {
    Full(
        i32,
        f64,
        f64,
        [(Option<f32>, Option<f32>); 5],
        [Option<f32>; 2],
    ),
    Score(i32, f64, f64),
}

fn nan_none(v: f32) -> Option<f32> {
    (!v.is_nan()).then_some(v)
}

fn day_row(d: &DailyScore) -> DayRow {
    DayRow::Full(
        d.day,
        d.current_points,
        f64::from(d.max_points),
        d.categories.map(|(p, m)| (nan_none(p), nan_none(m))),
        d.peers.map(nan_none),
    )
}

fn day_of_row(r: DayRow) -> DailyScore {
    match r {
        DayRow::Score(day, current, max) => DailyScore::new(day, current, max),
        DayRow::Full(day, current, max, categories, peers) => {
            let mut d = DailyScore::new(day, current, max);
            d.categories = categories.map(|(p, m)| (p.unwrap_or(f32::NAN), m.unwrap_or(f32::NAN)));
            d.peers = peers.map(|p| p.unwrap_or(f32::NAN));
            d
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreV1 {
    created_at: Option<f64>,
    current: Option<f64>,
    max: Option<f64>,
    active_users: Option<f64>,
    licensed_users: Option<f64>,
    azure_tenant_id: Option<String>,
    enabled_services: Vec<String>,
    /// `[category, points, max]`.
    categories: Vec<(String, f64, f64)>,
    /// `[title, service, tier, action_type, implementation_cost, user_impact, state, deprecated]`.
    infos: Vec<InfoV1>,
    /// `[name, category, points, max, rank, items, items_in_scope, index into infos]`.
    controls: Vec<ControlV1>,
    peers: Vec<PeerV1>,
    /// `[index into controls, implementation status]` (version 2).
    #[serde(default)]
    statuses: Vec<(u32, String)>,
    /// Each description's action address, in `infos` order (version 2).
    #[serde(default)]
    action_urls: Vec<String>,
}

type InfoV1 = (String, String, String, String, String, String, String, bool);

type ControlV1 = (
    String,
    String,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    usize,
);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerV1 {
    basis: String,
    average_ratio: Option<f64>,
    categories: Vec<(String, Option<f64>, Option<f64>)>,
}

fn score_v1(s: &ScoreSnapshot) -> ScoreV1 {
    let mut info_index: HashMap<*const ControlInfo, usize> = HashMap::new();
    let mut infos = Vec::new();
    let mut action_urls = Vec::new();
    let controls = s
        .controls
        .iter()
        .map(|c| {
            let i = *info_index.entry(Arc::as_ptr(&c.info)).or_insert_with(|| {
                let d = &c.info;
                infos.push((
                    d.title.clone(),
                    d.service.clone(),
                    d.tier.clone(),
                    d.action_type.clone(),
                    d.implementation_cost.clone(),
                    d.user_impact.clone(),
                    d.state.clone(),
                    d.deprecated,
                ));
                action_urls.push(d.action_url.clone());
                infos.len() - 1
            });
            (
                c.name.to_string(),
                c.category.to_string(),
                c.points.get(),
                c.max_points.get(),
                c.rank.get(),
                c.items.get(),
                c.items_in_scope.get(),
                i,
            )
        })
        .collect();
    ScoreV1 {
        created_at: s.created_at,
        current: s.current_points,
        max: s.max_points,
        active_users: s.active_users,
        licensed_users: s.licensed_users,
        azure_tenant_id: s.azure_tenant_id.clone(),
        enabled_services: s.enabled_services.clone(),
        categories: s
            .categories
            .iter()
            .map(|c| (c.category.clone(), c.points, c.max_points))
            .collect(),
        infos,
        controls,
        peers: s
            .peers
            .iter()
            .map(|p| PeerV1 {
                basis: p.basis.clone(),
                average_ratio: p.average_ratio,
                categories: p.categories.clone(),
            })
            .collect(),
        statuses: s
            .statuses
            .iter()
            .map(|(i, t)| (*i, t.to_string()))
            .collect(),
        action_urls,
    }
}

fn score_from_v1(s: ScoreV1) -> Result<ScoreSnapshot, DecodeError> {
    let control_count = s.controls.len();
    let mut statuses: Vec<(u32, crate::core::snapshot::Text)> = s
        .statuses
        .into_iter()
        .map(|(i, t)| (i, intern_text(&t)))
        .collect();
    if statuses.iter().any(|(i, _)| *i as usize >= control_count) {
        return Err(DecodeError::Inconsistent(
            "a status names a missing control",
        ));
    }
    statuses.sort_by_key(|(i, _)| *i);
    statuses.dedup_by_key(|(i, _)| *i);
    let mut urls = s.action_urls.into_iter();
    let infos: Vec<Arc<ControlInfo>> = s
        .infos
        .into_iter()
        .map(
            |(title, service, tier, action_type, cost, impact, state, deprecated)| {
                let action_url = urls.next().unwrap_or_default();
                intern_info(ControlInfo {
                    title,
                    service,
                    tier,
                    action_type,
                    implementation_cost: cost,
                    user_impact: impact,
                    state,
                    deprecated,
                    action_url,
                })
            },
        )
        .collect();
    let controls = s
        .controls
        .into_iter()
        .map(
            |(name, category, points, max, rank, items, in_scope, info)| {
                Ok(Control {
                    name: intern_text(&name),
                    category: intern_text(&category),
                    points: points.into(),
                    max_points: max.into(),
                    rank: rank.into(),
                    items: items.into(),
                    items_in_scope: in_scope.into(),
                    info: infos.get(info).cloned().ok_or(DecodeError::Inconsistent(
                        "a control names a missing description",
                    ))?,
                })
            },
        )
        .collect::<Result<Vec<_>, DecodeError>>()?;
    Ok(ScoreSnapshot {
        created_at: s.created_at,
        current_points: s.current,
        max_points: s.max,
        active_users: s.active_users,
        licensed_users: s.licensed_users,
        azure_tenant_id: s.azure_tenant_id,
        enabled_services: s.enabled_services,
        categories: s
            .categories
            .into_iter()
            .map(|(category, points, max_points)| CategoryScore {
                category,
                points,
                max_points,
            })
            .collect(),
        controls,
        peers: s
            .peers
            .into_iter()
            .map(|p| PeerScore {
                basis: p.basis,
                average_ratio: p.average_ratio,
                categories: p.categories,
            })
            .collect(),
        statuses,
    })
}

/// Writes `saved` as a state file to `out`.
pub fn encode(saved: &SavedTenant, out: impl Write) -> std::io::Result<()> {
    let file = FileV1 {
        format: FORMAT.to_string(),
        version: VERSION,
        tenant: saved.name.clone(),
        tenant_id: saved.tenant_id.clone(),
        last_success: saved.last_success,
        profiles: saved.snapshot.profiles,
        history: saved.history.days.iter().map(day_row).collect(),
        changes: saved
            .history
            .changes
            .iter()
            .map(|c| (c.day, c.control.to_string(), c.delta, c.points))
            .collect(),
        score: saved.snapshot.score.as_ref().map(score_v1),
    };
    // Level 1: a tenant's file is written once per refresh; the ratio barely differs from 6.
    // The JSON whole, then compressed in one call: serde's many small writes straight into
    // the encoder cost ten times the work.
    let json = serde_json::to_vec(&file)?;
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    gz.write_all(&json)?;
    gz.finish()?.flush()
}

/// Reads a state file, which must be `name`'s and `tenant_id`'s.
pub fn decode(bytes: &[u8], name: &str, tenant_id: &str) -> Result<SavedTenant, DecodeError> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_DECODED)
        .read_to_end(&mut json)
        .map_err(DecodeError::Damaged)?;
    let header: Header = serde_json::from_slice(&json).map_err(DecodeError::Json)?;
    if header.format != FORMAT || !(OLDEST_READ..=VERSION).contains(&header.version) {
        return Err(DecodeError::Foreign {
            format: header.format,
            version: header.version,
        });
    }
    let file: FileV1 = serde_json::from_slice(&json).map_err(DecodeError::Json)?;
    if file.tenant != name {
        return Err(DecodeError::OtherTenant {
            found: file.tenant,
            expected: name.to_string(),
        });
    }
    if !file.tenant_id.eq_ignore_ascii_case(tenant_id) {
        return Err(DecodeError::OtherTenantId {
            found: file.tenant_id,
            expected: tenant_id.to_string(),
        });
    }
    if !file.last_success.is_finite() || file.last_success < 0.0 {
        return Err(DecodeError::Inconsistent("the success time is not a time"));
    }
    let days: Vec<DailyScore> = file.history.into_iter().map(day_of_row).collect();
    let changes: Vec<ControlChange> = file
        .changes
        .into_iter()
        .filter(|c| c.2.is_finite() && c.3.is_finite())
        .map(|(day, control, delta, points)| ControlChange {
            day,
            control: intern_text(&control),
            delta,
            points,
        })
        .collect();
    Ok(SavedTenant {
        name: file.tenant,
        tenant_id: file.tenant_id,
        last_success: file.last_success,
        snapshot: Arc::new(TenantSnapshot {
            score: file.score.map(score_from_v1).transpose()?,
            profiles: file.profiles,
        }),
        history: History::from_parts(days, changes, crate::core::history::MAX_DAYS),
    })
}
