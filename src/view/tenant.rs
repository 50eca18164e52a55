//! `/tenants/NAME`: one tenant's page, which is also the printable report (`snapshot --format
//! html` writes the same article, styles inline). The big score and band, the trend over the
//! kept days, categories against similar-size and all organisations, every recommended action
//! (and the set-aside ones apart), what changed in the last 30 days, and the days to the next
//! band. A failing tenant shows its error first, with its last good data under it.

use super::chart::trend;
use super::html::{
    document, escape, format_unix, legend, pct, ratio_attr, signed_points, width, Styles,
};
use super::model::{ActionView, TenantView, CHANGES_DAYS};
use crate::core::band::points;
use std::fmt::Write;

/// Actions a printed report lists (the screen lists them all).
pub const PRINTED_ACTIONS: usize = 10;

/// The hosts an action link may point to: Microsoft's portals in every cloud.
const MICROSOFT_DOMAINS: &[&str] = &[
    "microsoft.com",
    "microsoftonline.com",
    "office.com",
    "office365.com",
    "microsoft365.com",
    "cloud.microsoft",
    "azure.com",
    "windows.net",
    "microsoft.us",
    "office365.us",
    "azure.us",
    "microsoftonline.us",
];

/// `url` when it is an `https://` address on a Microsoft host (no user info, no other port),
/// else `None`: Graph's `actionUrl` is data, and data is never trusted to be a safe link.
pub fn microsoft_link(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    if parsed.scheme() != "https"
        || !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.port().is_some()
    {
        return None;
    }
    let host = match parsed.host()? {
        url::Host::Domain(d) => d.to_ascii_lowercase(),
        _ => return None,
    };
    MICROSOFT_DOMAINS
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        .then(|| parsed.to_string())
}

fn fact(out: &mut String, label: &str, value: &str) {
    let _ = write!(out, "<dt>{label}</dt><dd>{value}</dd>");
}

fn next_band_text(v: &TenantView) -> String {
    match (v.band, v.next_band, v.days_to_next_band) {
        (Some("excellent"), _, _) => "already excellent".into(),
        (_, Some(next), Some(days)) if days <= 0.0 => format!("{next} at the next record"),
        (_, Some(next), Some(days)) => format!(
            "{next} in about {days:.0} day{} at the current trend",
            if days == 1.0 { "" } else { "s" }
        ),
        (Some(_), _, _) => "not on track (the 30-day trend does not rise)".into(),
        _ => "—".into(),
    }
}

fn head(out: &mut String, v: &TenantView) {
    let _ = write!(
        out,
        "<header class=\"tenant-head\"><div><p class=\"print-only muted\">Microsoft Secure Score report</p><h1>{}</h1>",
        escape(&v.tenant)
    );
    match (v.score_ratio, v.band) {
        (Some(r), Some(b)) => {
            let _ = write!(
                out,
                "<div class=\"big band-{b}\">{}<span class=\"band\">{b}</span></div>",
                pct(r)
            );
        }
        _ => out.push_str("<div class=\"big muted\">—</div>"),
    }
    out.push_str("</div><dl class=\"facts\">");
    if let (Some(c), Some(m)) = (v.current_points, v.max_points) {
        fact(out, "Points", &format!("{} of {}", points(c), points(m)));
        fact(
            out,
            "Points available",
            &points(v.points_available.unwrap_or(0.0)),
        );
    }
    fact(
        out,
        "Snapshot",
        &escape(v.snapshot_date.as_deref().unwrap_or("none yet")),
    );
    for (label, c) in [
        ("Change, 7 days", &v.change_7d),
        ("Change, 30 days", &v.change_30d),
    ] {
        let text = match c {
            Some(c) => format!(
                "{} points{}",
                signed_points(c.points),
                c.ratio
                    .map(|r| format!(" ({:+.1} pp)", r * 100.0))
                    .unwrap_or_default()
            ),
            None => "— (no record kept that day)".into(),
        };
        fact(out, label, &text);
    }
    fact(out, "Next band", &escape(&next_band_text(v)));
    if let Some(p) = v.peers.iter().find(|p| p.basis == "total_seats") {
        fact(out, "Similar-size organisations", &pct(p.average_ratio));
    }
    fact(out, "Tenant ID", &escape(&v.tenant_id));
    fact(out, "Last refresh", &escape(&format_unix(v.last_success)));
    out.push_str("</dl></header>");
}

fn bar(out: &mut String, label: &str, ratio: f64, class: &str, value: &str, attrs: &str) {
    let _ = write!(
        out,
        "<li{attrs}><span class=\"label\">{}</span><span class=\"bar\"><span class=\"fill {class} {}\"></span></span><span class=\"val\">{value}</span></li>",
        escape(label),
        width(ratio)
    );
}

fn comparison(out: &mut String, v: &TenantView) {
    let Some(r) = v.score_ratio else { return };
    out.push_str("<section class=\"panel\"><h2>Compared with other organisations</h2><ul class=\"bars peers\">");
    bar(
        out,
        "This tenant",
        r,
        &format!("band-{}", v.band.unwrap_or("")),
        &pct(r),
        "",
    );
    for p in &v.peers {
        let label = match p.basis.as_str() {
            "total_seats" => "Similar size",
            "all_tenants" => "All organisations",
            "industry_types" => "Same industry",
            other => other,
        };
        bar(
            out,
            label,
            p.average_ratio,
            "peer",
            &pct(p.average_ratio),
            &format!(" data-basis=\"{}\"", escape(&p.basis)),
        );
    }
    out.push_str("</ul></section>");
}

fn categories(out: &mut String, v: &TenantView) {
    if v.categories.is_empty() {
        return;
    }
    out.push_str("<section class=\"panel\"><h2>Categories</h2><table class=\"categories\"><thead><tr><th>Category</th><th class=\"num\">Points</th><th class=\"num\">Similar size</th><th class=\"num hide-narrow\">All organisations</th><th class=\"num\">30 days</th></tr></thead><tbody>");
    for c in &v.categories {
        let band = c.ratio.map(crate::core::band::band).unwrap_or("");
        let opt = |p: Option<f64>| p.map(points).unwrap_or_else(|| "—".into());
        let _ = write!(
            out,
            "<tr data-category=\"{}\"><td>{}</td><td class=\"num band-{band}\">{} / {}</td><td class=\"num\">{}</td><td class=\"num hide-narrow\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&c.category),
            escape(&c.category),
            points(c.points),
            points(c.max_points),
            opt(c.similar_size_points),
            opt(c.all_tenants_points),
            c.change_30d.map(signed_points).unwrap_or_else(|| "—".into()),
        );
    }
    out.push_str("</tbody></table></section>");
}

fn action_rows(out: &mut String, actions: &[ActionView], extra_from: usize, links: bool) {
    for (i, a) in actions.iter().enumerate() {
        let extra = if i >= extra_from {
            " class=\"extra\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr{extra} data-control=\"{}\" data-points-available=\"{}\"><td class=\"num\">{}</td><td class=\"title\">{}",
            escape(&a.control),
            a.points_available,
            i + 1,
            escape(&a.title)
        );
        if let Some(why) = a.set_aside_reason() {
            let _ = write!(out, "<span class=\"why\">{why}</span>");
        }
        if let Some(s) = &a.implementation_status {
            let _ = write!(out, "<span class=\"why detail\">{}</span>", escape(s));
        }
        if let (Some(n), Some(of)) = (a.items, a.items_in_scope) {
            let _ = write!(
                out,
                "<span class=\"why\">{} of {} covered</span>",
                points(n),
                points(of)
            );
        }
        if let Some(link) = a
            .action_url
            .as_deref()
            .filter(|_| links)
            .and_then(microsoft_link)
        {
            let _ = write!(
                out,
                "<a class=\"why no-print\" href=\"{}\" rel=\"noreferrer noopener\" target=\"_blank\">Open in Microsoft's portal</a>",
                escape(&link)
            );
        }
        let _ = write!(
            out,
            "</td><td class=\"hide-narrow\">{}</td><td class=\"num\">+{}</td><td>{}</td><td class=\"hide-narrow\">{}</td><td class=\"hide-narrow\">{}</td></tr>",
            escape(&a.category),
            points(a.points_available),
            escape(&a.user_impact),
            escape(&a.implementation_cost),
            escape(&a.state.replace('_', " ")),
        );
    }
}

const ACTION_HEAD: &str = "<thead><tr><th class=\"num\">#</th><th>Action</th><th class=\"hide-narrow\">Category</th><th class=\"num\">Points</th><th>User impact</th><th class=\"hide-narrow\">Cost</th><th class=\"hide-narrow\">State</th></tr></thead>";

fn actions(out: &mut String, v: &TenantView, links: bool) {
    if v.score_ratio.is_none() {
        return;
    }
    let _ = write!(
        out,
        "<section class=\"panel\"><h2>Recommended actions ({}, most points first)</h2>",
        v.actions.len()
    );
    if v.actions.is_empty() {
        out.push_str("<p class=\"none\">Nothing left to recommend.</p>");
    } else {
        let _ = write!(out, "<table class=\"actions\">{ACTION_HEAD}<tbody>");
        action_rows(out, &v.actions, PRINTED_ACTIONS, links);
        out.push_str("</tbody></table>");
        if v.actions.len() > PRINTED_ACTIONS {
            let _ = write!(
                out,
                "<p class=\"print-only muted\">The {PRINTED_ACTIONS} with the most points; {} more on the tenant page.</p>",
                v.actions.len() - PRINTED_ACTIONS
            );
        }
    }
    out.push_str("</section>");
    if !v.set_aside.is_empty() {
        let _ = write!(
            out,
            "<section class=\"panel no-print\"><h2>Set aside ({}: deprecated, risk accepted or covered by a third party)</h2><table class=\"actions set-aside\">{ACTION_HEAD}<tbody>",
            v.set_aside.len()
        );
        action_rows(out, &v.set_aside, usize::MAX, links);
        out.push_str("</tbody></table></section>");
    }
}

fn changes(out: &mut String, v: &TenantView) {
    if v.score_ratio.is_none() {
        return;
    }
    let _ = write!(
        out,
        "<section class=\"panel no-print\"><h2>What changed in the last {CHANGES_DAYS} days</h2>"
    );
    if v.changes.is_empty() {
        out.push_str("<p class=\"none\">No control's points changed in the kept days.</p>");
    } else {
        out.push_str("<table class=\"changes\"><thead><tr><th>Date</th><th>Control</th><th class=\"num\">Change</th><th class=\"num\">Points now</th></tr></thead><tbody>");
        for c in &v.changes {
            let class = if c.delta < 0.0 {
                "delta-down"
            } else {
                "delta-up"
            };
            let _ = write!(
                out,
                "<tr data-control=\"{}\" data-date=\"{}\" data-delta=\"{}\"><td>{}</td><td>{}</td><td class=\"num {class}\">{}</td><td class=\"num\">{}</td></tr>",
                escape(&c.control),
                escape(&c.date),
                c.delta,
                escape(&c.date),
                escape(&c.title),
                signed_points(c.delta),
                points(c.points)
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
}

/// The tenant's article: the page's content and one report of `snapshot --format html`.
/// `links`: whether actions link to Microsoft's portal (the standalone report points nowhere).
pub fn article(v: &TenantView, rendered_at: f64, links: bool) -> String {
    let mut out = String::with_capacity(32_768);
    let opt = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
    let _ = write!(
        out,
        "<article class=\"report\" data-tenant=\"{}\" data-status=\"{}\" data-ratio=\"{}\" data-band=\"{}\" data-current-points=\"{}\" data-max-points=\"{}\" data-change-7d=\"{}\" data-change-30d=\"{}\" data-days-to-next-band=\"{}\">",
        escape(&v.tenant),
        v.status.as_str(),
        ratio_attr(v.score_ratio),
        v.band.unwrap_or(""),
        opt(v.current_points),
        opt(v.max_points),
        opt(v.change_7d.as_ref().map(|c| c.points)),
        opt(v.change_30d.as_ref().map(|c| c.points)),
        opt(v.days_to_next_band),
    );
    head(&mut out, v);
    if let Some(e) = &v.error {
        let _ = write!(
            out,
            "<section class=\"error-box\" role=\"alert\"><h2>The last refresh failed</h2><p>{}</p><p class=\"muted\">{}</p></section>",
            escape(e),
            if v.score_ratio.is_some() {
                "The data below is the last good data, from the last successful refresh."
            } else {
                "There is no good data for this tenant yet."
            }
        );
    }
    if v.restored {
        out.push_str("<p class=\"muted\">Saved before the last restart; refreshed again at the tenant's next slot.</p>");
    }
    if v.score_ratio.is_none() && v.error.is_none() {
        let text = match v.status {
            super::model::Status::NoData => {
                "No Secure Score yet: Microsoft publishes one 2–4 days after a tenant is created."
            }
            _ => "Waiting for the first successful refresh.",
        };
        let _ = write!(out, "<p class=\"none\">{text}</p>");
    }
    if v.score_ratio.is_some() {
        let _ = write!(
            out,
            "<section class=\"panel\"><h2>Score over the kept {} days</h2>{}{}</section><div class=\"cols\">",
            v.trend.len(),
            trend(&v.trend),
            legend()
        );
        comparison(&mut out, v);
        categories(&mut out, v);
        out.push_str("</div>");
    }
    actions(&mut out, v, links);
    changes(&mut out, v);
    let _ = write!(
        out,
        "<p class=\"source\">Source: Microsoft Graph (<code>/security/secureScores</code>, <code>/security/secureScoreControlProfiles</code>), snapshot of {}; rendered at {} by securescore_exporter {}.</p></article>",
        escape(v.snapshot_date.as_deref().unwrap_or("—")),
        escape(&format_unix(Some(rendered_at))),
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// The served page.
pub fn render(v: &TenantView, rendered_at: f64) -> String {
    let body = format!(
        "<header class=\"top no-print\"><p class=\"crumbs\"><a href=\"../\">← every tenant</a></p></header><main>{}</main>",
        article(v, rendered_at, true)
    );
    document(
        &format!("{} · Secure Score", v.tenant),
        Styles::Linked("../static/status.css"),
        true,
        &body,
    )
}

/// One self-contained file with a report per tenant (styles inline, nothing fetched).
pub fn report_document(views: &[TenantView], rendered_at: f64) -> String {
    let mut body = String::from("<main>");
    for v in views {
        body.push_str(&article(v, rendered_at, false));
    }
    body.push_str("</main>");
    let title = match views {
        [one] => format!("{} · Secure Score report", one.tenant),
        _ => "Secure Score report".to_string(),
    };
    document(&title, Styles::Inline, false, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_links_to_microsoft_hosts_survive() {
        for ok in [
            "https://security.microsoft.com/securescore?viewid=actions",
            "https://admin.microsoft.com/",
            "https://portal.azure.us/x",
            "https://entra.microsoft.com",
        ] {
            assert!(microsoft_link(ok).is_some(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "http://security.microsoft.com/",
            "https://security.microsoft.com.evil.example/",
            "https://evilmicrosoft.com/",
            "https://user:pw@security.microsoft.com/",
            "https://security.microsoft.com:8443/",
            "https://1.2.3.4/",
            "data:text/html,<script>alert(1)</script>",
            "//security.microsoft.com/",
            "",
        ] {
            assert!(microsoft_link(bad).is_none(), "{bad}");
        }
    }
}
