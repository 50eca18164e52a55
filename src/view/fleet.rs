//! `/`: the fleet overview. A summary over every tenant (each count a link to the filtered
//! list), a filter (band or status, name search, order), then one compact row per tenant of
//! the page: failing first, then lowest score first, at most 100 rows. Filtering, sorting and
//! paging happen on the server (a form, no script), and only the page's rows are rendered, so
//! 10,000 tenants stay fast.

use super::chart::sparkline;
use super::html::{
    document, escape, format_unix, legend, path_segment, pct, ratio_attr, signed_points, Styles,
};
use super::model::{change_of, ratio_of, status_of, Status};
use super::query::{BandFilter, FleetPage, FleetQuery, Sort};
use crate::core::band::{band, points};
use crate::state::TenantState;
use std::fmt::Write;

/// Days the row's small trend line covers.
const SPARK_DAYS: usize = 30;

/// The overview's address for `query` with `band` and `page` replaced.
fn href(query: &FleetQuery, band: Option<BandFilter>, page: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(b) = band {
        parts.push(format!("band={}", b.as_str()));
    }
    if !query.q.is_empty() {
        let q: String = url::form_urlencoded::byte_serialize(query.q.as_bytes()).collect();
        parts.push(format!("q={q}"));
    }
    if query.sort != Sort::Score {
        parts.push(format!("sort={}", query.sort.as_str()));
    }
    if page > 1 {
        parts.push(format!("page={page}"));
    }
    if parts.is_empty() {
        "./".into()
    } else {
        format!("?{}", parts.join("&amp;"))
    }
}

fn summary(out: &mut String, page: &FleetPage<'_>) {
    let s = &page.summary;
    let _ = write!(
        out,
        "<ul class=\"summary\" data-tenants=\"{}\" data-failing=\"{}\" data-band-concern=\"{}\" data-band-good=\"{}\" data-band-excellent=\"{}\" data-band-no-data=\"{}\">",
        s.tenants, s.failing, s.concern, s.good, s.excellent, s.no_data
    );
    let item = |out: &mut String,
                n: String,
                label: &str,
                class: &str,
                filter: Option<BandFilter>| {
        let on = if page.query.band == filter && filter.is_some() {
            " on"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<li class=\"{class}{on}\"><a href=\"{}\"><span class=\"n\">{n}</span><span class=\"k\">{label}</span></a></li>",
            href(&FleetQuery { q: String::new(), ..page.query.clone() }, filter, 1)
        );
    };
    item(out, s.tenants.to_string(), "tenants", "", None);
    let med = s.median_ratio.map(pct).unwrap_or_else(|| "—".into());
    let avg = s.average_ratio.map(pct).unwrap_or_else(|| "—".into());
    let med_class = s
        .median_ratio
        .map(|r| format!("band-{}", band(r)))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<li class=\"{med_class}\" title=\"over the {} tenants with a score, failing ones with their last good score\"><span class=\"n\">{med}</span><span class=\"k\">median of {} · average {avg}</span></li>",
        s.scored, s.scored
    );
    item(
        out,
        s.failing.to_string(),
        "failing",
        "band-concern",
        Some(BandFilter::Failing),
    );
    item(
        out,
        s.concern.to_string(),
        "concern",
        "band-concern",
        Some(BandFilter::Concern),
    );
    item(
        out,
        s.good.to_string(),
        "good",
        "band-good",
        Some(BandFilter::Good),
    );
    item(
        out,
        s.excellent.to_string(),
        "excellent",
        "band-excellent",
        Some(BandFilter::Excellent),
    );
    item(
        out,
        s.no_data.to_string(),
        "no score",
        "",
        Some(BandFilter::NoData),
    );
    out.push_str("</ul>");
}

fn filter_form(out: &mut String, q: &FleetQuery) {
    out.push_str("<form class=\"filter\" method=\"get\" action=\"./\"><label>Show<select name=\"band\"><option value=\"\">every tenant</option>");
    for b in [
        BandFilter::Failing,
        BandFilter::Concern,
        BandFilter::Good,
        BandFilter::Excellent,
        BandFilter::NoData,
    ] {
        let _ = write!(
            out,
            "<option value=\"{}\"{}>{}</option>",
            b.as_str(),
            if q.band == Some(b) { " selected" } else { "" },
            b.as_str().replace('_', " ")
        );
    }
    let _ = write!(
        out,
        "</select></label><label>Name contains<input type=\"search\" name=\"q\" value=\"{}\" maxlength=\"200\"></label><label>Order<select name=\"sort\">",
        escape(&q.q)
    );
    for (s, label) in [
        (Sort::Score, "failing, then lowest score"),
        (Sort::Change, "largest 7-day fall"),
        (Sort::Name, "name"),
    ] {
        let _ = write!(
            out,
            "<option value=\"{}\"{}>{label}</option>",
            s.as_str(),
            if q.sort == s { " selected" } else { "" }
        );
    }
    out.push_str("</select></label><button type=\"submit\">Apply</button></form>");
}

fn row(out: &mut String, t: &TenantState) {
    let status = status_of(t);
    let ratio = ratio_of(t);
    let b = ratio.map(band).unwrap_or("");
    let _ = write!(
        out,
        "<tr class=\"{}\" data-tenant=\"{}\" data-status=\"{}\" data-band=\"{b}\" data-ratio=\"{}\"><td class=\"name\"><a href=\"tenants/{}\">{}</a>",
        status.as_str(),
        escape(&t.name),
        status.as_str(),
        ratio_attr(ratio),
        path_segment(&t.name),
        escape(&t.name),
    );
    if let (Status::Failing, Some(e)) = (status, &t.last_error) {
        let short: String = e.chars().take(160).collect();
        let more = if e.chars().count() > 160 { "…" } else { "" };
        let _ = write!(out, "<span class=\"err\">{}{more}</span>", escape(&short));
    }
    out.push_str("</td>");
    match ratio {
        Some(r) => {
            let _ = write!(
                out,
                "<td class=\"num\"><span class=\"score band-{b}\">{}</span><span class=\"band band-{b}\">{b}</span></td>",
                pct(r)
            );
        }
        None => out.push_str("<td class=\"num none\">no score</td>"),
    }
    let ratios: Vec<f64> = t
        .history
        .days
        .iter()
        .rev()
        .take(SPARK_DAYS)
        .rev()
        .filter_map(|d| d.ratio())
        .collect();
    let _ = write!(out, "<td class=\"hide-narrow\">{}</td>", sparkline(&ratios));
    let score = t.snapshot.as_ref().and_then(|s| s.score.as_ref());
    let change = score.and_then(|s| change_of(s, &t.history, 7));
    match change {
        Some(c) => {
            let class = if c.points < 0.0 {
                "delta-down"
            } else if c.points > 0.0 {
                "delta-up"
            } else {
                ""
            };
            let _ = write!(
                out,
                "<td class=\"num {class}\" data-change-7d=\"{}\">{}</td>",
                c.points,
                signed_points(c.points)
            );
        }
        None => out.push_str("<td class=\"num muted\" data-change-7d=\"\">—</td>"),
    }
    let available = score.and_then(|s| Some((s.max_points? - s.current_points?).max(0.0)));
    let _ = write!(
        out,
        "<td class=\"num hide-narrow\">{}</td><td class=\"hide-narrow\">{}</td><td><span class=\"status {}\">{}</span></td></tr>",
        available.map(points).unwrap_or_else(|| "—".into()),
        escape(&format_unix(t.last_success)),
        status.as_str(),
        status.as_str().replace('_', " "),
    );
}

/// The overview page for `query`.
pub fn render(tenants: &[TenantState], query: FleetQuery, rendered_at: f64) -> String {
    let page = FleetPage::of(tenants, query);
    let mut body = String::with_capacity(16_384 + page.rows.len() * 1_200);
    let _ = write!(
        body,
        "<header class=\"top\"><h1>Microsoft Secure Score</h1><p class=\"links\">securescore_exporter {} · <a href=\"metrics\">/metrics</a> · <a href=\"-/healthy\">/-/healthy</a> · <a href=\"-/ready\">/-/ready</a></p>{}</header><main data-page=\"{}\" data-pages=\"{}\">",
        env!("CARGO_PKG_VERSION"),
        legend(),
        page.page,
        page.pages
    );
    summary(&mut body, &page);
    filter_form(&mut body, &page.query);
    let shown = if page.query.band.is_some() || !page.query.q.is_empty() {
        format!(
            "{} of {} tenants match",
            page.matching, page.summary.tenants
        )
    } else {
        format!("{} tenants", page.matching)
    };
    let _ = write!(body, "<p class=\"muted\">{shown}</p>");
    if page.rows.is_empty() {
        body.push_str("<p class=\"none\">No tenant matches.</p>");
    } else {
        body.push_str("<table class=\"fleet\"><thead><tr><th>Tenant</th><th class=\"num\">Score</th><th class=\"hide-narrow\">30 days</th><th class=\"num\">7-day change (points)</th><th class=\"num hide-narrow\">Points available</th><th class=\"hide-narrow\">Last refresh</th><th>Status</th></tr></thead><tbody>");
        for t in &page.rows {
            row(&mut body, t);
        }
        body.push_str("</tbody></table>");
    }
    if page.pages > 1 {
        body.push_str("<nav class=\"pager\">");
        if page.page > 1 {
            let _ = write!(
                body,
                "<a rel=\"prev\" href=\"{}\">← previous</a>",
                href(&page.query, page.query.band, page.page - 1)
            );
        }
        let _ = write!(body, "<span>page {} of {}</span>", page.page, page.pages);
        if page.page < page.pages {
            let _ = write!(
                body,
                "<a rel=\"next\" href=\"{}\">next →</a>",
                href(&page.query, page.query.band, page.page + 1)
            );
        }
        body.push_str("</nav>");
    }
    let _ = write!(
        body,
        "<p class=\"rendered\">Rendered at {} from the exporter's cached data (reloads every 5 minutes).</p></main>",
        escape(&format_unix(Some(rendered_at)))
    );
    document(
        "Secure Score · securescore_exporter",
        Styles::Linked("static/status.css"),
        true,
        &body,
    )
}
