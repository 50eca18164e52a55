//! The pages at MSP scale: server time and size of the fleet overview (first page and a
//! filtered page) and of a tenant page, and the memory 90 kept days add. Not a timed test;
//! the "Pages" figures of BENCHMARKS.md come from here.
//!
//!     cargo build --release --examples
//!     ./target/release/examples/pages_bench [--tenants 10000] [--runs 3] [--iterations 50]
//!
//! The fleet is the simulator's (`simulate --tenants N`), converted as a refresh converts it;
//! each tenant gets 90 kept days (the score falling back 0.37 points a day, categories and
//! peers as today's) and 6 control changes. Server time is the handler's work: a consistent
//! copy of the store, the filter/sort/page, and the HTML (what `/` and `/tenants/NAME` do
//! before the bytes go out). RSS: the process's resident memory before and after every tenant
//! gets its history.

use securescore_exporter::core::history::{ControlChange, DailyScore, History};
use securescore_exporter::core::snapshot::TenantSnapshot;
use securescore_exporter::state::{Store, TenantState};
use securescore_exporter::view::query::FleetQuery;
use securescore_exporter::view::{fleet, model::TenantView, tenant};
use std::sync::Arc;
use std::time::Instant;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn history_for(t: &TenantState, today: i32) -> History {
    let Some(s) = t.snapshot.as_ref().and_then(|s| s.score.as_ref()) else {
        return History::default();
    };
    let Some(newest) = DailyScore::of(s) else {
        return History::default();
    };
    let days: Vec<DailyScore> = (0..90)
        .map(|d| {
            let mut day = newest;
            day.day = today - 89 + d;
            day.current_points = (newest.current_points - f64::from(89 - d) * 0.37).max(0.0);
            day
        })
        .collect();
    let changes = s
        .controls
        .iter()
        .take(6)
        .enumerate()
        .map(|(i, c)| ControlChange {
            day: today - 5 * i as i32,
            control: c.name.clone(),
            delta: 1.0,
            points: c.points.get().unwrap_or(0.0),
        })
        .collect();
    History::from_parts(days, changes, 90)
}

fn time_ms(iterations: usize, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let mut times = Vec::with_capacity(iterations);
    let mut bytes = 0;
    for _ in 0..iterations {
        let t = Instant::now();
        bytes = std::hint::black_box(f());
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    (median(times), bytes)
}

fn main() {
    let n = arg("--tenants", 10_000);
    let runs = arg("--runs", 3);
    let iterations = arg("--iterations", 50);
    eprintln!(
        "load before start: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let specs = securescore_sim::spec::fleet_tenants(n, 1);
    let today = time::OffsetDateTime::now_utc().date();
    let now = securescore_exporter::core::clock::unix_now();
    let today_day = securescore_exporter::core::history::day_of(now);
    let states: Vec<TenantState> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let data = securescore_sim::generate::generate(spec, today);
            let mut t = TenantState::new(&spec.name, &spec.tenant_id);
            let snapshot = TenantSnapshot::from_json(&data.records, &data.profiles);
            if i % 50 == 7 {
                t.failed("AADSTS7000215: Invalid client secret provided.", now);
            } else {
                t.succeeded(Arc::new(snapshot), now);
            }
            t
        })
        .collect();
    let before = rss_mib();
    let states: Vec<TenantState> = states
        .into_iter()
        .map(|mut t| {
            t.history = history_for(&t, today_day);
            t
        })
        .collect();
    let after = rss_mib();
    let heap: usize = states.iter().map(|t| t.history.heap_bytes()).sum();
    println!(
        "history: {n} tenants x 90 days: RSS {before:.1} -> {after:.1} MiB (+{:.1} MiB; the records and changes themselves: {:.1} MiB)",
        after - before,
        heap as f64 / 1048576.0
    );
    let store = Store::from_states(states);
    // An E5 tenant (every tenth is one): the most controls, the largest page.
    let target = format!("customer-{:05}", (n / 2 / 10) * 10 + 9);
    let filtered = FleetQuery::parse(Some("band=concern&q=customer-01&sort=change"));
    let mut first = Vec::new();
    let mut filt = Vec::new();
    let mut page = Vec::new();
    let mut sizes = (0, 0, 0);
    for run in 1..=runs {
        let (a, sa) = time_ms(iterations, || {
            fleet::render(&store.tenants(), FleetQuery::parse(None), now).len()
        });
        let (b, sb) = time_ms(iterations, || {
            fleet::render(&store.tenants(), filtered.clone(), now).len()
        });
        let (c, sc) = time_ms(iterations, || {
            let t = store.get(&target).expect("the tenant");
            tenant::render(&TenantView::of(&t), now).len()
        });
        println!(
            "run {run}: / first page p50 {a:.2} ms ({sa} B); filtered p50 {b:.2} ms ({sb} B); tenant page p50 {c:.2} ms ({sc} B)"
        );
        first.push(a);
        filt.push(b);
        page.push(c);
        sizes = (sa, sb, sc);
    }
    let summary = |name: &str, v: &[f64], target: f64| {
        let (lo, hi) = (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(0.0, f64::max),
        );
        let m = median(v.to_vec());
        let spread = if m > 0.0 { (hi - lo) / m } else { 0.0 };
        println!(
            "{name}: median {m:.2} ms (range {lo:.2}–{hi:.2}) target < {target} ms: {}{}",
            if m < target { "pass" } else { "FAIL" },
            if spread > 0.10 {
                " (moved more than 10 % between runs)"
            } else {
                ""
            }
        );
    };
    summary("/ first page", &first, 50.0);
    summary("/ filtered", &filt, 50.0);
    summary("tenant page", &page, 20.0);
    println!(
        "sizes: / {} B, filtered {} B (target < 200 KB: {}), tenant page {} B",
        sizes.0,
        sizes.1,
        if sizes.0 < 200_000 && sizes.1 < 200_000 {
            "pass"
        } else {
            "FAIL"
        },
        sizes.2
    );
}
