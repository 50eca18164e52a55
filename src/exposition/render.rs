//! Each tenant's series in the text format, rendered from its state whenever that state
//! changes (the const-metric pattern: a control or tenant that vanishes from Graph vanishes
//! from `/metrics`, nothing is served before a tenant's first good refresh).
//!
//! The text is written directly, one compressed part per family (see [`crate::core::deflate`]),
//! so a scrape of 10,000 tenants joins parts instead of encoding two million series.

use crate::config::series_filter::SeriesFilter;
use crate::core::deflate::Part;
use crate::core::names::*;
use crate::core::snapshot::ScoreSnapshot;
use crate::state::{Render, TenantState};
use std::io::Write;
use std::time::Duration;

/// One family's samples: label values in the order of the family's label names.
pub struct Samples<'a> {
    pub name: &'static str,
    pub labels: &'static [&'static str],
    pub rows: Vec<(Vec<&'a str>, f64)>,
}

impl<'a> Samples<'a> {
    fn add(&mut self, values: &[&'a str], value: f64) {
        debug_assert_eq!(values.len(), self.labels.len());
        self.rows.push((values.to_vec(), value));
    }

    fn add_opt(&mut self, values: &[&'a str], value: Option<f64>) {
        if let Some(v) = value {
            self.add(values, v);
        }
    }
}

/// Renders the per-tenant series: each tenant when its state changes (as the store's
/// [`Render`]), or a set of tenants at once (`/probe`, backfill, tests).
pub struct SeriesRenderer {
    helps: Vec<String>,
    filter: SeriesFilter,
}

impl Render for SeriesRenderer {
    fn render(&self, tenant: &TenantState) -> Vec<Part> {
        self.render_parts(tenant)
    }
}

impl SeriesRenderer {
    /// HELP texts say how often the values are refreshed.
    pub fn new(refresh_interval: Duration) -> SeriesRenderer {
        let every = humantime::format_duration(refresh_interval).to_string();
        let helps: Vec<String> = SNAPSHOT_METRICS
            .iter()
            .map(|(name, _, help)| {
                if *name == UP || *name == LAST_REFRESH_SUCCESS {
                    format!("{help}; refreshed every {every}")
                } else {
                    format!("{help}; cached between refreshes, refreshed every {every}")
                }
            })
            .collect();
        SeriesRenderer {
            helps,
            filter: SeriesFilter::default(),
        }
    }

    /// Exports only the series `filter` allows.
    pub fn with_filter(mut self, filter: SeriesFilter) -> SeriesRenderer {
        self.filter = filter;
        self
    }

    /// The HELP text of family `index` (in `SNAPSHOT_METRICS` order).
    pub fn help(&self, index: usize) -> &str {
        &self.helps[index]
    }

    /// Each family's lines for one tenant, in `SNAPSHOT_METRICS` order (empty when the tenant
    /// has none), samples sorted by label values as a registry would sort them.
    pub fn tenant_texts(&self, t: &TenantState) -> Vec<Vec<u8>> {
        self.families(std::slice::from_ref(t))
            .into_iter()
            .map(|mut f| {
                f.rows.sort_by(|a, b| a.0.cmp(&b.0));
                let mut out = Vec::with_capacity(f.rows.len() * 96);
                for (values, value) in &f.rows {
                    let labels = f.labels.iter().copied().zip(values.iter().copied());
                    write_sample(&mut out, f.name, labels, *value, None);
                }
                out
            })
            .collect()
    }

    /// One tenant's series as compressed parts, one per family.
    pub fn render_parts(&self, t: &TenantState) -> Vec<Part> {
        self.tenant_texts(t)
            .iter()
            .map(|text| Part::new(text))
            .collect()
    }

    /// `# HELP` and `# TYPE` of each family, in `SNAPSHOT_METRICS` order.
    pub fn headers(&self) -> Vec<Vec<u8>> {
        SNAPSHOT_METRICS
            .iter()
            .zip(&self.helps)
            .map(|((name, _, _), help)| {
                let help = help.replace('\\', "\\\\").replace('\n', "\\n");
                format!("# HELP {name} {help}\n# TYPE {name} gauge\n").into_bytes()
            })
            .collect()
    }

    /// The text exposition of `tenants`, in tenant-name order; empty families are left out.
    pub fn render(&self, tenants: &[TenantState]) -> Vec<u8> {
        let mut sorted: Vec<&TenantState> = tenants.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let texts: Vec<Vec<Vec<u8>>> = sorted.iter().map(|t| self.tenant_texts(t)).collect();
        let mut out = Vec::new();
        for (f, header) in self.headers().iter().enumerate() {
            if texts.iter().all(|t| t[f].is_empty()) {
                continue;
            }
            out.extend_from_slice(header);
            for t in &texts {
                out.extend_from_slice(&t[f]);
            }
        }
        out
    }

    /// The samples of every family for the given tenants, in `SNAPSHOT_METRICS` order.
    pub fn families<'a>(&self, tenants: &'a [TenantState]) -> Vec<Samples<'a>> {
        let mut fams: Vec<Samples<'a>> = SNAPSHOT_METRICS
            .iter()
            .map(|(name, labels, _)| Samples {
                name,
                labels,
                rows: Vec::new(),
            })
            .collect();
        for t in tenants {
            let tenant = t.name.as_str();
            fams[index_of(UP)].add(&[tenant], if t.up { 1.0 } else { 0.0 });
            fams[index_of(LAST_REFRESH_SUCCESS)].add_opt(&[tenant], t.last_success);
            if let Some(score) = t.snapshot.as_ref().and_then(|s| s.score.as_ref()) {
                add_score(&mut fams, t, score, &self.filter);
            }
        }
        fams
    }
}

/// Where family `name` stands in `SNAPSHOT_METRICS`.
pub fn index_of(name: &str) -> usize {
    SNAPSHOT_METRICS
        .iter()
        .position(|(n, _, _)| *n == name)
        .expect("metric is in SNAPSHOT_METRICS")
}

fn add_score<'a>(
    fams: &mut [Samples<'a>],
    t: &'a TenantState,
    s: &'a ScoreSnapshot,
    filter: &SeriesFilter,
) {
    let tenant = t.name.as_str();
    fams[index_of(CURRENT_POINTS)].add_opt(&[tenant], s.current_points);
    fams[index_of(MAX_POINTS)].add_opt(&[tenant], s.max_points);
    fams[index_of(SNAPSHOT_TIMESTAMP)].add_opt(&[tenant], s.created_at);
    fams[index_of(ACTIVE_USERS)].add_opt(&[tenant], s.active_users);
    fams[index_of(LICENSED_USERS)].add_opt(&[tenant], s.licensed_users);
    let tenant_id = s.azure_tenant_id.as_deref().unwrap_or(&t.tenant_id);
    fams[index_of(TENANT_INFO)].add(&[tenant, tenant_id, &t.credential], 1.0);
    for service in &s.enabled_services {
        fams[index_of(ENABLED_SERVICE_INFO)].add(&[tenant, service], 1.0);
    }
    for c in s
        .categories
        .iter()
        .filter(|c| filter.categories.allows(&c.category))
    {
        fams[index_of(CATEGORY_POINTS)].add(&[tenant, &c.category], c.points);
        fams[index_of(CATEGORY_MAX_POINTS)].add(&[tenant, &c.category], c.max_points);
    }
    for c in s.controls.iter().filter(|c| {
        filter.control(
            &c.category,
            &c.info.service,
            c.points.get(),
            c.max_points.get(),
        )
    }) {
        let labels = [tenant, &*c.name, &*c.category];
        fams[index_of(CONTROL_POINTS)].add_opt(&labels, c.points.get());
        fams[index_of(CONTROL_MAX_POINTS)].add_opt(&labels, c.max_points.get());
        fams[index_of(CONTROL_ITEMS)].add_opt(&labels, c.items.get());
        fams[index_of(CONTROL_ITEMS_IN_SCOPE)].add_opt(&labels, c.items_in_scope.get());
        fams[index_of(CONTROL_RANK)].add_opt(&[tenant, &c.name], c.rank.get());
        let i = &c.info;
        fams[index_of(CONTROL_INFO)].add(
            &[
                tenant,
                &c.name,
                &c.category,
                &i.title,
                &i.service,
                &i.tier,
                &i.action_type,
                &i.implementation_cost,
                &i.user_impact,
                &i.state,
                if i.deprecated { "true" } else { "false" },
            ],
            1.0,
        );
    }
    for p in &s.peers {
        fams[index_of(PEER_AVERAGE_RATIO)].add_opt(&[tenant, &p.basis], p.average_ratio);
        for (cat, points, max) in p
            .categories
            .iter()
            .filter(|(c, _, _)| filter.categories.allows(c))
        {
            fams[index_of(PEER_CATEGORY_POINTS)].add_opt(&[tenant, &p.basis, cat], *points);
            fams[index_of(PEER_CATEGORY_MAX_POINTS)].add_opt(&[tenant, &p.basis, cat], *max);
        }
    }
}

/// Appends a label value escaped as the text format and OpenMetrics require.
pub fn escape_label_value(out: &mut Vec<u8>, v: &str) {
    for b in v.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// Writes one sample line: `name{label="value",…} value[ timestamp]`. The text format and
/// OpenMetrics (backfill) share it.
pub fn write_sample<'a>(
    out: &mut Vec<u8>,
    name: &str,
    labels: impl IntoIterator<Item = (&'a str, &'a str)>,
    value: f64,
    timestamp: Option<i64>,
) {
    out.extend_from_slice(name.as_bytes());
    let mut any = false;
    for (i, (label, v)) in labels.into_iter().enumerate() {
        out.push(if i == 0 { b'{' } else { b',' });
        out.extend_from_slice(label.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_label_value(out, v);
        out.push(b'"');
        any = true;
    }
    if any {
        out.push(b'}');
    }
    out.push(b' ');
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        // f64's Display is the shortest text that reads back as the same value.
        let _ = write!(out, "{value}");
    }
    if let Some(ts) = timestamp {
        let _ = write!(out, " {ts}");
    }
    out.push(b'\n');
}

/// The text exposition of one tenant's snapshot (fuzzing and property tests).
pub fn render_snapshot_for_tests(
    tenant: &str,
    tenant_id: &str,
    snapshot: crate::core::snapshot::TenantSnapshot,
) -> String {
    let mut state = TenantState::new(tenant, tenant_id);
    state.succeeded(
        std::sync::Arc::new(snapshot),
        crate::core::clock::unix_now(),
    );
    let renderer = SeriesRenderer::new(Duration::from_secs(3600));
    String::from_utf8(renderer.render(&[state])).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let escape_label = |v: &str| {
            let mut out = Vec::new();
            escape_label_value(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
