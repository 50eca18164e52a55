//! Repeated runs: every target per run and how many runs it passed, and each figure's median
//! with its range, saying so when a figure moved by more than 10 % between runs of the same
//! code (BENCHMARKS.md figures are medians of at least three runs).

use crate::measure::{ms, percentile, verdict, CaseResult};

/// One target's outcome in one run: its name, whether it passed, and the measured detail.
pub(crate) struct Outcome {
    pub(crate) name: String,
    pub(crate) pass: bool,
    pub(crate) detail: String,
}

/// The targets of the MSP-scale issues that apply to `r`.
pub(crate) fn targets(r: &CaseResult) -> Vec<Outcome> {
    let mut out = Vec::new();
    let mut push =
        |name: String, pass: bool, detail: String| out.push(Outcome { name, pass, detail });
    let ratio = r.makespan / r.bound;
    if r.n >= 10_000 && r.controls == "incomplete" {
        push(
            "10,000 tenants incomplete: makespan <= 1.15 x bound".into(),
            ratio <= 1.15,
            format!("{:.1} s = {ratio:.3} x bound {:.1} s", r.makespan, r.bound),
        );
        push(
            "10,000 tenants incomplete: peak RSS <= 512 MiB".into(),
            r.hwm_mib <= 512.0,
            format!("{:.0} MiB", r.hwm_mib),
        );
    }
    if r.n == 1_000 && r.controls == "all" {
        push(
            "1,000 tenants all: peak RSS <= 256 MiB".into(),
            r.hwm_mib <= 256.0,
            format!("{:.0} MiB", r.hwm_mib),
        );
    }
    let (d, i) = (percentile(&r.during, 99.0), percentile(&r.idle, 99.0));
    let warm = percentile(&r.during_warm, 99.0);
    push(
        format!(
            "{} tenants {}: scrape p99 during refresh <= 2 x idle p99",
            r.n, r.controls
        ),
        d.as_secs_f64() <= 2.0 * i.as_secs_f64(),
        format!(
            "{} vs idle {} (from 1 s after start: {})",
            ms(d),
            ms(i),
            ms(warm)
        ),
    );
    if let Some(t) = &r.throughput {
        for (what, (e, x)) in [("gzip", t.gzip), ("plain", t.plain)] {
            push(
                format!(
                    "/metrics throughput ({what}, {} tenants) >= 0.8 x nginx",
                    r.n
                ),
                e >= 0.8 * x,
                format!("{e:.0} req/s vs nginx {x:.0} req/s = {:.2}", e / x),
            );
        }
    }
    if r.up != r.n {
        push(
            format!("{} tenants {}: every tenant up", r.n, r.controls),
            false,
            format!("only {} up", r.up),
        );
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Median [min–max] of each figure over the runs of one case, flagging moves above 10 %.
pub(crate) fn print_summary(runs: &[CaseResult]) {
    let Some(first) = runs.first() else { return };
    println!(
        "\n## {} tenants, controls = {}: {} runs, median [min-max]",
        first.n,
        first.controls,
        runs.len()
    );
    let p99 = |s: &[std::time::Duration]| percentile(s, 99.0).as_secs_f64() * 1000.0;
    let mut figures: Vec<(&str, Vec<f64>)> = vec![
        (
            "makespan / bound",
            runs.iter().map(|r| r.makespan / r.bound).collect(),
        ),
        ("peak RSS (MiB)", runs.iter().map(|r| r.hwm_mib).collect()),
        (
            "CPU per tenant refresh (ms)",
            runs.iter().map(|r| r.cpu_per_tenant_ms).collect(),
        ),
        (
            "scrape p99 during refresh (ms)",
            runs.iter().map(|r| p99(&r.during)).collect(),
        ),
        (
            "scrape p99 idle (ms)",
            runs.iter().map(|r| p99(&r.idle)).collect(),
        ),
    ];
    if runs.iter().all(|r| r.throughput.is_some()) {
        let ratio = |f: fn(&CaseResult) -> (f64, f64)| -> Vec<f64> {
            runs.iter()
                .map(|r| {
                    let (e, x) = f(r);
                    e / x
                })
                .collect()
        };
        figures.push((
            "gzip throughput / nginx",
            ratio(|r| r.throughput.as_ref().map_or((0.0, 1.0), |t| t.gzip)),
        ));
        figures.push((
            "plain throughput / nginx",
            ratio(|r| r.throughput.as_ref().map_or((0.0, 1.0), |t| t.plain)),
        ));
    }
    for (name, values) in figures {
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
        let m = median(values);
        let spread = if m > 0.0 { (hi - lo) / m * 100.0 } else { 0.0 };
        let note = if spread > 10.0 {
            format!("  (moved by {spread:.1} % between runs)")
        } else {
            String::new()
        };
        println!("{name}: {m:.3} [{lo:.3}-{hi:.3}]{note}");
    }
}

/// Each target per run, then how many runs passed it.
pub(crate) fn print_targets(results: &[CaseResult]) {
    println!("\n## targets");
    let mut tally: Vec<(String, usize, usize)> = Vec::new();
    for r in results {
        for o in targets(r) {
            println!("{} {}: {}", verdict(o.pass), o.name, o.detail);
            match tally.iter_mut().find(|(n, _, _)| *n == o.name) {
                Some(t) => {
                    t.1 += usize::from(o.pass);
                    t.2 += 1;
                }
                None => tally.push((o.name, usize::from(o.pass), 1)),
            }
        }
    }
    if tally.iter().any(|(_, _, runs)| *runs > 1) {
        println!("\n## targets over the runs");
        for (name, passed, runs) in tally {
            println!(
                "{} {name}: passed in {passed} of {runs} runs",
                verdict(passed == runs)
            );
        }
    }
}
