//! `backfill`: Graph's 90 days of daily Secure Score history as OpenMetrics, for
//! `promtool tsdb create-blocks-from openmetrics`, so dashboards show history on day one.
//!
//! Series carry exactly the names and label sets of the live `/metrics` (plus `--label`s for
//! the `job`/`instance` Prometheus adds at scrape time), so backfilled series continue the live
//! ones. OpenMetrics forbids interleaving families, so each family's samples go to a temporary
//! file while tenants stream through; the output is assembled family by family at the end and
//! memory stays at one tenant's history.

use crate::config::{Config, TenantConfig};
use crate::core::names::{self, snapshot_label_names};
use crate::core::snapshot::{ScoreSnapshot, TenantSnapshot};
use crate::exposition::render::{write_sample, Samples, SeriesRenderer};
use crate::source::connect::{tenant_graphs, ConnectError};
use crate::source::error::chain;
use crate::source::events::{GraphEvents, NoEvents};
use crate::state::TenantState;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Graph keeps 90 days of history.
pub const MAX_DAYS: usize = 90;

/// Backfill failed as a whole (per-tenant failures are reported in [`Summary`]).
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error("--label {0}: expected KEY=VALUE with a label name as KEY")]
    Label(String),
    #[error("--label {0}: the exporter already sets this label")]
    LabelClash(String),
    #[error("--days must be between 1 and {MAX_DAYS}")]
    Days,
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// What a backfill wrote.
#[derive(Debug, Default)]
pub struct Summary {
    pub tenants_written: usize,
    pub days_written: usize,
    pub samples: usize,
    pub bytes: u64,
    /// (tenant, error) for tenants that could not be read.
    pub failures: Vec<(String, String)>,
}

/// Parses `KEY=VALUE` labels.
pub fn parse_labels(raw: &[String]) -> Result<Vec<(String, String)>, BackfillError> {
    // Every label the live series carry is the exporter's own.
    let reserved = snapshot_label_names();
    raw.iter()
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .ok_or_else(|| BackfillError::Label(l.clone()))?;
            let valid = !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !k.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(BackfillError::Label(l.clone()));
            }
            if k == "__name__" || reserved.contains(&k) {
                return Err(BackfillError::LabelClash(k.to_string()));
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// One daily record as the state of a tenant the live exporter would hold.
fn record_state(tenant: &TenantConfig, score: ScoreSnapshot) -> TenantState {
    TenantState {
        snapshot: Some(Arc::new(TenantSnapshot {
            score: Some(score),
            profiles: 0,
        })),
        up: true,
        attempted: true,
        credential: tenant.credential_name.clone(),
        ..TenantState::new(&tenant.name, &tenant.tenant_id)
    }
}

/// The live families of a record's state, without the exporter's own series.
fn record_families<'a>(renderer: &SeriesRenderer, state: &'a TenantState) -> Vec<Samples<'a>> {
    renderer
        .families(std::slice::from_ref(state))
        .into_iter()
        .filter(|f| f.name != names::UP && f.name != names::LAST_REFRESH_SUCCESS)
        .collect()
}

/// One temporary file per family, in the live exposition's family order.
struct FamilyFiles {
    dir: PathBuf,
    order: Vec<(String, String)>,
    files: Vec<BufWriter<File>>,
}

impl FamilyFiles {
    fn open(dir: &Path) -> Result<FamilyFiles, BackfillError> {
        std::fs::create_dir_all(dir).map_err(|source| BackfillError::Write {
            path: dir.into(),
            source,
        })?;
        Ok(FamilyFiles {
            dir: dir.to_path_buf(),
            order: Vec::new(),
            files: Vec::new(),
        })
    }

    fn writer(&mut self, name: &str, help: &str) -> Result<&mut BufWriter<File>, BackfillError> {
        let i = match self.order.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                let path = self.dir.join(format!("{}.om", self.order.len()));
                let f =
                    File::create(&path).map_err(|source| BackfillError::Write { path, source })?;
                self.order.push((name.to_string(), help.to_string()));
                self.files.push(BufWriter::new(f));
                self.order.len() - 1
            }
        };
        Ok(&mut self.files[i])
    }
}

fn write_record(
    files: &mut FamilyFiles,
    renderer: &SeriesRenderer,
    families: &[Samples<'_>],
    extra: &[(String, String)],
    timestamp: i64,
) -> Result<usize, BackfillError> {
    let mut samples = 0;
    let mut line = Vec::with_capacity(256);
    for f in families {
        let dir = files.dir.clone();
        let help = renderer.help(crate::exposition::render::index_of(f.name));
        let w = files.writer(f.name, help)?;
        for (values, value) in &f.rows {
            line.clear();
            let labels = f
                .labels
                .iter()
                .copied()
                .zip(values.iter().copied())
                .chain(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            write_sample(&mut line, f.name, labels, *value, Some(timestamp));
            w.write_all(&line).map_err(|source| BackfillError::Write {
                path: dir.clone(),
                source,
            })?;
            samples += 1;
        }
    }
    Ok(samples)
}

/// Reads up to `days` of history per tenant and writes `output`.
pub async fn run(
    config: &Config,
    days: usize,
    output: &Path,
    labels: &[(String, String)],
) -> Result<Summary, BackfillError> {
    if days == 0 || days > MAX_DAYS {
        return Err(BackfillError::Days);
    }
    let events: Arc<dyn GraphEvents> = Arc::new(NoEvents);
    let renderer = SeriesRenderer::new(config.refresh.interval);
    let tmp = output.with_extension(format!("parts-{}", std::process::id()));
    let mut files = FamilyFiles::open(&tmp)?;
    let mut summary = Summary::default();
    let by_name: std::collections::HashMap<&str, &TenantConfig> = config
        .tenants
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();

    // Read a few tenants at once; write each as soon as it arrives.
    let mut pending = tenant_graphs(config, &events)?.into_iter();
    let mut running = tokio::task::JoinSet::new();
    let spawn = |running: &mut tokio::task::JoinSet<_>,
                 (name, graph): (String, crate::source::graph::TenantGraph)| {
        running.spawn(async move {
            let history = graph.score_history(days).await;
            let profiles = graph.control_profiles().await;
            (name, history.and_then(|h| profiles.map(|(p, _)| (h, p))))
        });
    };
    for g in pending.by_ref().take(8) {
        spawn(&mut running, g);
    }
    while let Some(done) = running.join_next().await {
        if let Some(g) = pending.next() {
            spawn(&mut running, g);
        }
        let Ok((name, result)) = done else { continue };
        let (records, profiles) = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(tenant = %name, error = %chain(&e), "backfill: tenant skipped");
                summary.failures.push((name, chain(&e)));
                continue;
            }
        };
        let Some(tenant) = by_name.get(name.as_str()).copied() else {
            continue;
        };
        let mut written = 0;
        // Oldest first, so every series' samples ascend in time.
        let mut snapshots: Vec<ScoreSnapshot> = records
            .iter()
            .map(|r| ScoreSnapshot::from_graph(r, &profiles))
            .collect();
        snapshots.sort_by(|a, b| {
            a.created_at
                .unwrap_or(0.0)
                .total_cmp(&b.created_at.unwrap_or(0.0))
        });
        let mut seen_days = std::collections::HashSet::new();
        for snap in snapshots {
            let Some(ts) = snap.created_at.map(|t| t as i64) else {
                continue;
            };
            if !seen_days.insert(ts) {
                continue; // one sample per series and timestamp
            }
            let state = record_state(tenant, snap);
            let fams = record_families(&renderer, &state);
            summary.samples += write_record(&mut files, &renderer, &fams, labels, ts)?;
            written += 1;
        }
        summary.days_written = summary.days_written.max(written);
        summary.tenants_written += 1;
        tracing::info!(tenant = %name, days = written, "backfill: tenant written");
    }

    // Assemble: each family once, its samples contiguous, then # EOF.
    let out = File::create(output).map_err(|source| BackfillError::Write {
        path: output.into(),
        source,
    })?;
    let mut out = BufWriter::new(out);
    let werr = |source| BackfillError::Write {
        path: output.into(),
        source,
    };
    for (i, (name, help)) in files.order.iter().enumerate() {
        files.files[i].flush().map_err(werr)?;
        writeln!(
            out,
            "# HELP {name} {}",
            help.replace('\\', "\\\\").replace('\n', "\\n")
        )
        .map_err(werr)?;
        writeln!(out, "# TYPE {name} gauge").map_err(werr)?;
        let mut part = File::open(tmp.join(format!("{i}.om"))).map_err(werr)?;
        std::io::copy(&mut part, &mut out).map_err(werr)?;
    }
    writeln!(out, "# EOF").map_err(werr)?;
    out.flush().map_err(werr)?;
    drop(files);
    let _ = std::fs::remove_dir_all(&tmp);
    summary.bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_and_clashes_are_refused() {
        let l = parse_labels(&["job=securescore".into(), "instance=host:10057".into()]).unwrap();
        assert_eq!(l[1], ("instance".into(), "host:10057".into()));
        assert!(matches!(
            parse_labels(&["tenant=x".into()]),
            Err(BackfillError::LabelClash(_))
        ));
        assert!(matches!(
            parse_labels(&["no-equals".into()]),
            Err(BackfillError::Label(_))
        ));
        assert!(matches!(
            parse_labels(&["1x=y".into()]),
            Err(BackfillError::Label(_))
        ));
    }
}
