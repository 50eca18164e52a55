//! The status page at `/`: where each tenant stands, for people without Grafana.
//!
//! Per tenant: the score in its band colour with points, categories as bars, the top actions by
//! points available, the peer comparison, and the last refresh and any error. Rendered on the
//! server with no scripts and no external assets: its one stylesheet is served from
//! `/static/status.css`, so a strict Content-Security-Policy (`default-src 'none'; style-src
//! 'self'`) holds. Bar widths are classes (`w0`…`w100`), not inline styles. Every value that comes
//! from the config or Graph is HTML-escaped. It reloads itself every five minutes (a meta
//! refresh, not a script) for wall screens.

use crate::core::band::{band, points};
use crate::core::snapshot::ScoreSnapshot;
use crate::state::store::{Store, TenantState};
use std::fmt::Write;

/// The page's Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

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
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| "never".into())
}

/// `w0`…`w100`: a bar width class for a ratio.
fn width(ratio: f64) -> String {
    format!("w{}", (ratio.clamp(0.0, 1.0) * 100.0).round() as u32)
}

fn pct(ratio: f64) -> String {
    format!("{:.1} %", ratio * 100.0)
}

fn score_block(out: &mut String, s: &ScoreSnapshot) {
    let (Some(cur), Some(max)) = (s.current_points, s.max_points) else {
        out.push_str("<p class=\"nodata\">The newest record has no score.</p>");
        return;
    };
    let ratio = if max > 0.0 { cur / max } else { 0.0 };
    let b = band(ratio);
    let _ = write!(
        out,
        "<div class=\"score band-{b}\" data-ratio=\"{ratio}\"><span class=\"pct\">{}</span><span class=\"band\">{b}</span></div>\
         <p class=\"points\"><span data-points=\"{cur}\">{}</span> of <span data-max=\"{max}\">{}</span> points · {} available",
        pct(ratio),
        points(cur),
        points(max),
        points((max - cur).max(0.0)),
    );
    if let Some(t) = s.created_at {
        let _ = write!(out, " · snapshot {}", escape(&format_unix(Some(t))[..10]));
    }
    out.push_str("</p>");
    // Peers, on the same scale as the score.
    let peers: Vec<_> = s
        .peers
        .iter()
        .filter_map(|p| p.average_ratio.map(|r| (p, r)))
        .collect();
    if !peers.is_empty() {
        out.push_str("<h3>Compared with</h3><ul class=\"bars peers\">");
        let _ = write!(out, "<li><span class=\"label\">This tenant</span><span class=\"bar\"><span class=\"fill band-{b} {}\"></span></span><span class=\"val\">{}</span></li>", width(ratio), pct(ratio));
        for (p, r) in peers {
            let label = match p.basis.as_str() {
                "all_tenants" => "All organisations".to_string(),
                "total_seats" => "Similar size".to_string(),
                "industry_types" => "Same industry".to_string(),
                other => other.to_string(),
            };
            let _ = write!(out, "<li data-basis=\"{}\"><span class=\"label\">{}</span><span class=\"bar\"><span class=\"fill peer {}\"></span></span><span class=\"val\">{}</span></li>", escape(&p.basis), escape(&label), width(r), pct(r));
        }
        out.push_str("</ul>");
    }
    if !s.categories.is_empty() {
        out.push_str("<h3>Categories</h3><ul class=\"bars categories\">");
        for c in &s.categories {
            let r = if c.max_points > 0.0 {
                c.points / c.max_points
            } else {
                0.0
            };
            let _ = write!(
                out,
                "<li data-category=\"{}\"><span class=\"label\">{}</span><span class=\"bar\"><span class=\"fill band-{} {}\"></span></span><span class=\"val\">{} / {}</span></li>",
                escape(&c.category),
                escape(&c.category),
                band(r),
                width(r),
                points(c.points),
                points(c.max_points)
            );
        }
        out.push_str("</ul>");
    }
    let mut actions: Vec<_> = s
        .controls
        .iter()
        .filter_map(|c| {
            let max = c.max_points.get()?;
            let avail = max - c.points.get().unwrap_or(0.0);
            (avail > 0.0).then_some((c, avail))
        })
        .collect();
    actions.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.name.cmp(&b.0.name)));
    if !actions.is_empty() {
        out.push_str("<h3>Top actions</h3><ol class=\"actions\">");
        for (c, avail) in actions.iter().take(5) {
            // Graph's count/total, where it sends them: how far the control has got.
            let coverage = match (c.items.get(), c.items_in_scope.get()) {
                (Some(n), Some(of)) => format!(" · {} of {} covered", points(n), points(of)),
                _ => String::new(),
            };
            let _ = write!(
                out,
                "<li data-control=\"{}\"><span class=\"title\">{}</span><span class=\"meta\">+{} points · {} impact · {} cost{}</span></li>",
                escape(&c.name),
                escape(&c.info.title),
                points(*avail),
                escape(&c.info.user_impact),
                escape(&c.info.implementation_cost),
                coverage
            );
        }
        out.push_str("</ol>");
    }
}

fn tenant_card(out: &mut String, t: &TenantState) {
    let state = match (t.attempted, t.up) {
        (false, _) if t.restored => "restored",
        (false, _) => "pending",
        (true, true) => "up",
        (true, false) => "failing",
    };
    let _ = write!(
        out,
        "<section class=\"tenant\" data-tenant=\"{}\"><header><h2>{}</h2><span class=\"state {state}\">{state}</span></header>",
        escape(&t.name),
        escape(&t.name)
    );
    match (&t.snapshot, t.snapshot.as_ref().and_then(|s| s.score.as_ref())) {
        (_, Some(score)) => score_block(out, score),
        (Some(_), None) => out.push_str("<p class=\"nodata\">No Secure Score yet: Microsoft publishes one 2–4 days after a tenant is created.</p>"),
        (None, None) => out.push_str("<p class=\"nodata\">Waiting for the first successful refresh.</p>"),
    }
    let _ = write!(
        out,
        "<footer><p>Last successful refresh: {}</p>",
        escape(&format_unix(t.last_success))
    );
    if t.restored {
        out.push_str(
            "<p>Saved before the last restart; refreshed again at the tenant's next slot.</p>",
        );
    }
    if let Some(e) = &t.last_error {
        let _ = write!(out, "<p class=\"error\">Last error: {}</p>", escape(e));
    }
    out.push_str("</footer></section>");
}

/// Renders the page.
pub fn render(store: &Store) -> String {
    let tenants = store.tenants();
    let ratios: Vec<f64> = tenants
        .iter()
        .filter_map(|t| {
            let s = t.snapshot.as_ref()?.score.as_ref()?;
            match (s.current_points, s.max_points) {
                (Some(c), Some(m)) if m > 0.0 => Some(c / m),
                _ => None,
            }
        })
        .collect();
    let mut cards = String::new();
    for t in &tenants {
        tenant_card(&mut cards, t);
    }
    let failing = tenants.iter().filter(|t| t.attempted && !t.up).count();
    let summary = if ratios.is_empty() {
        format!("{} tenant(s), no scores yet", tenants.len())
    } else {
        let avg = ratios.iter().sum::<f64>() / ratios.len() as f64;
        format!(
            "{} tenant(s) · average score <span class=\"band-{}\">{}</span> · {} failing",
            tenants.len(),
            band(avg),
            pct(avg),
            failing
        )
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="300">
<title>Secure Score status · securescore_exporter</title>
<link rel="stylesheet" href="/static/status.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head><body>
<header class="top"><h1>Microsoft Secure Score</h1><p class="summary">{summary}</p>
<p class="links">securescore_exporter {version} · <a href="/metrics">/metrics</a> · <a href="/-/healthy">/-/healthy</a> · <a href="/-/ready">/-/ready</a></p>
<p class="legend"><span class="band-concern">≤ 65 % concern</span> <span class="band-good">65–80 % good</span> <span class="band-excellent">≥ 80 % excellent</span></p></header>
<main class="grid">
{cards}
</main>
</body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// A shield icon, so browsers find a favicon on the same origin.
pub const FAVICON_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 2 4 7v8c0 7.5 5 13.5 12 15 7-1.5 12-7.5 12-15V7z" fill="#2e7d32"/><path d="m10 16 4 4 8-9" stroke="#fff" stroke-width="3" fill="none"/></svg>"##;

/// The stylesheet: responsive cards from phone to wall screen, band colours, bar widths.
pub fn stylesheet() -> String {
    let mut css = String::from(
        r#":root{--concern:#c62828;--good:#e08600;--excellent:#2e7d32;--muted:#5f6368;--bg:#f6f7f9;--card:#fff}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:#1f2328;font-size:clamp(14px,1.1vw,22px)}
a{color:#0b57d0}
.top{padding:1rem 1.5rem;background:#fff;border-bottom:1px solid #dde}
.top h1{margin:0 0 .25rem;font-size:1.6em}
.summary{margin:.2rem 0;font-size:1.15em}
.links,.legend{margin:.2rem 0;color:var(--muted);font-size:.9em}
.legend span{margin-right:1em;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,24em),1fr));gap:1rem;padding:1rem 1.5rem}
.tenant{background:var(--card);border:1px solid #dde;border-radius:10px;padding:1rem 1.2rem;display:flex;flex-direction:column}
.tenant header{display:flex;justify-content:space-between;align-items:baseline;gap:.5rem}
.tenant h2{margin:0;font-size:1.3em;overflow-wrap:anywhere}
.state{font-size:.8em;font-weight:700;text-transform:uppercase;padding:.1em .5em;border-radius:1em;background:#eee}
.state.up{color:var(--excellent)}.state.failing{color:#fff;background:var(--concern)}.state.pending,.state.restored{color:var(--good)}
.score{display:flex;align-items:baseline;gap:.6rem;margin:.4rem 0 0}
.score .pct{font-size:3em;font-weight:800;line-height:1.1}
.score .band{font-weight:700;text-transform:uppercase;font-size:.9em}
.band-concern{color:var(--concern)}.band-good{color:var(--good)}.band-excellent{color:var(--excellent)}
.points{margin:.2rem 0 .6rem;color:var(--muted)}
h3{font-size:.95em;margin:.8rem 0 .3rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.bars{list-style:none;margin:0;padding:0}
.bars li{display:grid;grid-template-columns:8.5em 1fr 6.5em;gap:.5em;align-items:center;margin:.2em 0}
.bars .label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar{display:block;height:.8em;background:#e8eaed;border-radius:.4em;overflow:hidden}
.fill{display:block;height:100%;background:currentColor}
.fill.peer{color:#7a869a}
.val{text-align:right;font-variant-numeric:tabular-nums;font-size:.9em}
.actions{margin:0;padding-left:1.3em}
.actions li{margin:.3em 0}
.actions .title{display:block;overflow-wrap:anywhere}
.actions .meta{display:block;color:var(--muted);font-size:.85em}
.nodata{color:var(--muted);font-style:italic}
footer{margin-top:auto;padding-top:.6rem;color:var(--muted);font-size:.85em}
footer p{margin:.2em 0}
.error{color:var(--concern);overflow-wrap:anywhere}
@media (min-width:2400px){.grid{grid-template-columns:repeat(auto-fill,minmax(30em,1fr))}}
"#,
    );
    for w in 0..=100 {
        let _ = writeln!(css, ".w{w}{{width:{w}%}}");
    }
    css
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
        store.update("<script>alert(1)</script>", |t| {
            t.failed("<img src=x>", 0.0)
        });
        let html = render(&store);
        assert!(!html.contains("<script>alert"));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("href=\"/metrics\""));
        assert!(
            !html.contains("style=\""),
            "no inline styles: CSP forbids them"
        );
    }

    #[test]
    fn every_width_class_exists() {
        let css = stylesheet();
        assert!(css.contains(".w0{width:0%}") && css.contains(".w100{width:100%}"));
        assert_eq!(width(0.456), "w46");
        assert_eq!(width(1.7), "w100");
    }

    #[test]
    fn an_action_shows_how_many_items_it_covers() {
        let fixture = |name: &str| {
            std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/graph")
                    .join(name),
            )
            .unwrap()
        };
        let items = |name: &str| {
            let v: serde_json::Value = serde_json::from_str(&fixture(name)).unwrap();
            v["value"].as_array().unwrap().clone()
        };
        let snapshot = crate::core::snapshot::TenantSnapshot::from_json(
            &items("secure_scores_live_shape.json"),
            &items("control_profiles_page.json"),
        );
        let store = Store::new([("contoso", "id")]);
        let snapshot = std::sync::Arc::new(snapshot);
        store.update("contoso", |t| t.succeeded(snapshot.clone(), 0.0));
        let html = render(&store);
        // scid_2010: 0 of 4 devices; a control without count/total shows no coverage.
        let action = html
            .split("<li data-control=\"scid_2010\">")
            .nth(1)
            .and_then(|rest| rest.split("</li>").next())
            .expect("scid_2010 is a top action");
        assert!(action.contains("· 0 of 4 covered"), "{action}");
        assert_eq!(html.matches(" covered</span>").count(), 1, "{html}");
    }
}
