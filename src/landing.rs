//! The landing page at `/`: name, version, each tenant's state and last refresh, a link to
//! `/metrics`. Rendered on the server with no scripts and no external assets; every value that
//! comes from config or Graph is HTML-escaped.

use crate::store::{Store, TenantState};
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn format_unix(t: Option<f64>) -> String {
    t.and_then(|s| time::OffsetDateTime::from_unix_timestamp(s as i64).ok())
        .and_then(|d| {
            d.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| "never".into())
}

fn tenant_row(out: &mut String, t: &TenantState) {
    let score = t.snapshot.as_ref().and_then(|s| s.score.as_ref());
    let score_text = match score.map(|s| (s.current_points, s.max_points)) {
        Some((Some(cur), Some(max))) if max > 0.0 => {
            format!("{:.1}% ({cur} / {max} points)", cur * 100.0 / max)
        }
        Some(_) => "incomplete record".into(),
        None if t.snapshot.is_some() => "no score yet (new tenant)".into(),
        None => "—".into(),
    };
    let state = match (t.attempted, t.up) {
        (false, _) => "pending",
        (true, true) => "up",
        (true, false) => "failing",
    };
    let _ = write!(
        out,
        "<tr><td>{}</td><td class=\"{state}\">{state}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(&t.name),
        escape(&score_text),
        escape(&format_unix(t.last_success)),
        escape(t.last_error.as_deref().unwrap_or("")),
    );
}

/// Renders the page.
pub fn render(store: &Store) -> String {
    let mut rows = String::new();
    for t in store.tenants() {
        tenant_row(&mut rows, &t);
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>securescore_exporter</title>
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem;max-width:70rem}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}}.up{{color:#1a7f37}}.failing{{color:#cf222e}}.pending{{color:#9a6700}}</style>
</head><body>
<h1>securescore_exporter</h1>
<p>Microsoft Secure Score exporter, version {version}. Metrics: <a href="/metrics">/metrics</a> · health: <a href="/-/healthy">/-/healthy</a> · readiness: <a href="/-/ready">/-/ready</a></p>
<table><thead><tr><th>Tenant</th><th>State</th><th>Score</th><th>Last successful refresh</th><th>Last error</th></tr></thead><tbody>
{rows}
</tbody></table>
</body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<b a=\"x\">&'"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn tenant_names_and_errors_are_escaped() {
        let store = Store::new([("<script>alert(1)</script>", "id")]);
        store.record_failure("<script>alert(1)</script>", "<img src=x>".into());
        let html = render(&store);
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("href=\"/metrics\""));
    }
}
