//! What every page and the printable report share: escaping, number formats, the page shell,
//! the stylesheet (screen, dark scheme, print) and the Content-Security-Policy.
//!
//! Pages are rendered on the server with no script at all. Served pages load one same-origin
//! stylesheet, so the CSP can forbid inline styles and every script; the `snapshot --format
//! html` report carries the same stylesheet inline instead, so the file stands alone. Every
//! value from the config or Graph goes through [`escape`].

use crate::core::band::{points, CONCERN_RATIO, EXCELLENT_RATIO};
use std::fmt::Write;

/// The served pages' Content-Security-Policy: nothing but same-origin styles and images, and
/// forms (the overview's filter) sent to the same origin.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A shield icon, so browsers find a favicon on the same origin.
pub const FAVICON_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M16 2 4 7v8c0 7.5 5 13.5 12 15 7-1.5 12-7.5 12-15V7z" fill="#2e7d32"/><path d="m10 16 4 4 8-9" stroke="#fff" stroke-width="3" fill="none"/></svg>"##;

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

/// A path segment: every byte outside the unreserved set percent-encoded.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes a percent-encoded path segment; `None` when it is not valid UTF-8 or malformed.
pub fn decode_segment(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A ratio as people read it: `63.2 %`.
pub fn pct(ratio: f64) -> String {
    format!("{:.1} %", ratio * 100.0)
}

/// A ratio as a data attribute: a plain number with at least 3 decimals kept.
pub fn ratio_attr(r: Option<f64>) -> String {
    r.map(|r| r.to_string()).unwrap_or_default()
}

/// A signed point change for people: `+2.5`, `−4`, `0`.
pub fn signed_points(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", points(v))
    } else if v < 0.0 {
        format!("−{}", points(-v))
    } else {
        "0".into()
    }
}

/// `YYYY-MM-DD HH:MM UTC`, or "never".
pub fn format_unix(t: Option<f64>) -> String {
    t.and_then(|s| time::OffsetDateTime::from_unix_timestamp(s as i64).ok())
        .and_then(|d| {
            d.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| "never".into())
}

/// `w0`…`w100`: a bar width class for a ratio (inline styles are forbidden by the CSP).
pub fn width(ratio: f64) -> String {
    format!("w{}", (ratio.clamp(0.0, 1.0) * 100.0).round() as u32)
}

/// The band legend, from the thresholds' one place.
pub fn legend() -> String {
    format!(
        "<p class=\"legend\"><span class=\"band-concern\">≤ {c:.0} % concern</span> <span class=\"band-good\">{c:.0}–{e:.0} % good</span> <span class=\"band-excellent\">≥ {e:.0} % excellent</span></p>",
        c = CONCERN_RATIO * 100.0,
        e = EXCELLENT_RATIO * 100.0
    )
}

/// How a page gets its styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Styles<'a> {
    /// A `<link>` to the served stylesheet, at this (relative) address.
    Linked(&'a str),
    /// The stylesheet inline, for a file that stands alone.
    Inline,
}

/// A whole document around `body`.
pub fn document(title: &str, styles: Styles<'_>, refresh: bool, body: &str) -> String {
    let head_styles = match styles {
        Styles::Linked(href) => format!(
            "<link rel=\"stylesheet\" href=\"{href}\">\n<link rel=\"icon\" href=\"{}\" type=\"image/svg+xml\">",
            href.replace("status.css", "favicon.svg")
        ),
        Styles::Inline => format!("<style>{}</style>", stylesheet()),
    };
    let refresh = if refresh {
        // Wall screens: reload every five minutes (a meta refresh, not a script).
        "<meta http-equiv=\"refresh\" content=\"300\">\n"
    } else {
        ""
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"color-scheme\" content=\"light dark\">\n{refresh}<title>{}</title>\n{head_styles}\n</head><body>\n{body}\n</body></html>\n",
        escape(title)
    )
}

/// The stylesheet of every page: phone to wall screen, light and dark, and print.
pub fn stylesheet() -> String {
    let mut css = String::from(
        r#":root{--concern:#c62828;--good:#b26a00;--excellent:#2e7d32;--muted:#5f6368;--bg:#f6f7f9;--card:#fff;--fg:#1f2328;--line:#dde1e6;--link:#0b57d0;--track:#e8eaed;--peer:#7a869a;--zone-concern:#fdecea;--zone-good:#fff4e0;--zone-excellent:#e8f5e9}
@media (prefers-color-scheme:dark){:root{--concern:#ef5350;--good:#ffb74d;--excellent:#66bb6a;--muted:#a0a7b0;--bg:#101418;--card:#1a1f25;--fg:#e6e8eb;--line:#323a44;--link:#8ab4f8;--track:#2a3038;--peer:#8a96a8;--zone-concern:#3a1f1f;--zone-good:#3a2e16;--zone-excellent:#1b3320}}
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg);font-size:clamp(14px,1.05vw,22px);line-height:1.4}
a{color:var(--link)}
.top{padding:.8rem 1.5rem;background:var(--card);border-bottom:1px solid var(--line)}
.top h1{margin:0 0 .2rem;font-size:1.5em}
.top .crumbs{margin:0;font-size:.9em}
.links,.legend,.rendered{margin:.2rem 0;color:var(--muted);font-size:.85em}
.legend span{margin-right:1em;font-weight:600}
main{padding:1rem 1.5rem;max-width:120em;margin:0 auto}
.band-concern{color:var(--concern)}.band-good{color:var(--good)}.band-excellent{color:var(--excellent)}
.summary{display:flex;flex-wrap:wrap;gap:.6rem;margin:0 0 1rem;padding:0;list-style:none}
.summary li{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.5rem .9rem;min-width:8em}
.summary a{text-decoration:none;color:inherit;display:block}
.summary .n{display:block;font-size:1.8em;font-weight:800;line-height:1.1}
.summary .k{display:block;color:var(--muted);font-size:.85em}
.summary .on{outline:2px solid var(--link)}
form.filter{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:0 0 .8rem}
form.filter label{display:flex;flex-direction:column;font-size:.85em;color:var(--muted)}
form.filter input,form.filter select,form.filter button{font:inherit;padding:.3em .5em;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg)}
form.filter button{cursor:pointer}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);border-radius:8px}
th,td{padding:.4em .6em;text-align:left;border-bottom:1px solid var(--line);vertical-align:middle}
th{font-size:.8em;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.num{white-space:nowrap}
.fleet td.name a{font-weight:600;overflow-wrap:anywhere}
.fleet .score{font-weight:800;font-size:1.15em;white-space:nowrap}
.fleet .band{font-size:.75em;font-weight:700;text-transform:uppercase;margin-left:.3em}
.status{font-size:.75em;font-weight:700;text-transform:uppercase;padding:.1em .5em;border-radius:1em;background:var(--track);white-space:nowrap}
.status.up{color:var(--excellent)}.status.failing{color:#fff;background:var(--concern)}.status.waiting,.status.no_data{color:var(--muted)}
.fleet tr.failing td{background:color-mix(in srgb,var(--concern) 8%,transparent)}
.fleet .err{display:block;color:var(--concern);font-size:.8em;overflow-wrap:anywhere}
svg.spark{width:7em;height:1.6em;display:block}
svg.spark polyline{fill:none;stroke:var(--link);stroke-width:1.5;vector-effect:non-scaling-stroke}
.pager{display:flex;gap:1em;align-items:center;margin:.8rem 0}
.muted{color:var(--muted)}
.none{color:var(--muted);font-style:italic}
.tenant-head{display:flex;flex-wrap:wrap;gap:1rem 2.5rem;align-items:flex-end;margin-bottom:1rem}
.big{font-size:4em;font-weight:800;line-height:1}
.big .band{font-size:.3em;text-transform:uppercase;margin-left:.4em;vertical-align:middle}
.facts{margin:0;display:grid;grid-template-columns:auto auto;gap:.1em 1em}
.facts dt{color:var(--muted)}.facts dd{margin:0;font-variant-numeric:tabular-nums}
.panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.8rem 1.1rem;margin:0 0 1rem}
.panel h2{font-size:1em;margin:0 0 .5rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,28em),1fr));gap:1rem}
.error-box{border:2px solid var(--concern);background:color-mix(in srgb,var(--concern) 10%,var(--card));border-radius:10px;padding:.8rem 1.1rem;margin:0 0 1rem}
.error-box h2{margin:0 0 .3rem;color:var(--concern);font-size:1.2em}
.error-box p{margin:.2em 0;overflow-wrap:anywhere}
svg.trend{width:100%;height:auto;max-height:22em;display:block}
svg.trend .zone-concern{fill:var(--zone-concern)}svg.trend .zone-good{fill:var(--zone-good)}svg.trend .zone-excellent{fill:var(--zone-excellent)}
svg.trend .line{fill:none;stroke:var(--link);stroke-width:2.5;vector-effect:non-scaling-stroke}
svg.trend .target{stroke:var(--excellent);stroke-dasharray:6 4;stroke-width:1.5;vector-effect:non-scaling-stroke}
svg.trend text{fill:var(--muted);font-size:12px}
svg.trend .dot{fill:var(--link)}
.bars{list-style:none;margin:0;padding:0}
.bars li{display:grid;grid-template-columns:9em 1fr 9em;gap:.5em;align-items:center;margin:.25em 0}
.bars .label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar{display:block;position:relative;height:.9em;background:var(--track);border-radius:.45em;overflow:hidden}
.fill{display:block;height:100%;background:currentColor}
.fill.peer{color:var(--peer)}
.val{text-align:right;font-variant-numeric:tabular-nums;font-size:.9em}
.actions td.title{overflow-wrap:anywhere}
.actions .why{display:block;color:var(--muted);font-size:.85em}
.delta-down{color:var(--concern)}.delta-up{color:var(--excellent)}
.source{color:var(--muted);font-size:.85em}
.print-only{display:none}
@media (max-width:700px){
 main{padding:.6rem}
 .top{padding:.6rem}
 .hide-narrow{display:none}
 .bars li{grid-template-columns:6.5em 1fr 6.5em}
 .big{font-size:3em}
 th,td{padding:.35em .35em}
}
@media (min-width:2400px){body{font-size:22px}main{max-width:none}}
@media print{
 :root{--concern:#b71c1c;--good:#8a5300;--excellent:#1b5e20;--muted:#444;--bg:#fff;--card:#fff;--fg:#000;--line:#bbb;--link:#000;--track:#e5e5e5;--zone-concern:#fbe3e1;--zone-good:#fdf0d8;--zone-excellent:#e3f1e4}
 body{font-size:10.5pt;background:#fff}
 .no-print,form.filter,.pager,.links{display:none}
 .print-only{display:block}
 .top{border:0;padding:0 0 .4rem}
 main{padding:0;max-width:none}
 .panel,.error-box,table{border-color:#bbb}
 .tenant-head,.error-box,.cols .panel,tr,svg.trend{break-inside:avoid}
 .actions .no-print,.actions .detail{display:none}
 .actions tr.extra{display:none}
 .big{font-size:3em}
 svg.trend{max-height:14em}
 a{text-decoration:none}
 .cols{grid-template-columns:1fr 1fr}
 .bars li{grid-template-columns:6.5em 1fr 3.8em}
 th,td{padding:.3em .4em}
 .report+.report{break-before:page}
}
@page{size:A4;margin:14mm}
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
    fn path_segments_round_trip() {
        for name in ["contoso", "a b/c?d#e%f", "münchen", "<script>"] {
            let seg = path_segment(name);
            assert!(seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            assert_eq!(decode_segment(&seg).as_deref(), Some(name));
        }
        assert_eq!(decode_segment("%zz"), None);
        assert_eq!(decode_segment("%"), None);
        assert_eq!(decode_segment("%ff"), None, "not UTF-8");
    }

    #[test]
    fn every_width_class_exists() {
        let css = stylesheet();
        assert!(css.contains(".w0{width:0%}") && css.contains(".w100{width:100%}"));
        assert_eq!(width(0.456), "w46");
        assert_eq!(width(1.7), "w100");
    }

    #[test]
    fn signed_changes_read_as_people_write_them() {
        assert_eq!(signed_points(2.5), "+2.5");
        assert_eq!(signed_points(-4.0), "−4");
        assert_eq!(signed_points(0.0), "0");
    }
}
