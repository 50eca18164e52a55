//! MSP-scale benchmark: the release daemon against a simulated fleet of thousands of tenants.
//! Not a timed test; every figure of BENCHMARKS.md's "MSP scale" table comes from here.
//!
//!     cargo build --release && cargo run --release --example scale_bench -- \
//!         [--tenants 1000,10000] [--latency 100ms..400ms] [--concurrency 64] \
//!         [--idle 20s] [--wrk 10s] [--controls all,incomplete] [--runs 3]
//!
//! With `--runs N` each case runs N times: every run's figures, then each figure's median and
//! range (flagged when it moved by more than 10 %), every target per run and how many runs
//! passed it. The machine's load is printed before the start and before each run.
//!
//! Needs nginx and wrk (`apt-get install nginx wrk`). For each fleet size it starts
//! `securescore_exporter simulate --tenants N` at nice 19 (one multi-tenant app, Graph's per-tenant limits
//! of 4 concurrent and 150 requests a minute enforced, the latency injected into every Graph
//! answer) in its own process, then for `controls = all` and `incomplete` runs the daemon in
//! another and measures:
//! - the first full refresh (until `/-/ready`) against its lower bound: each tenant's Graph
//!   requests on its critical path (token; then `secureScores` alongside the chain of
//!   `secureScoreControlProfiles` pages) at the injected latency, the tenants spread over
//!   `refresh.max_concurrent_tenants` slots;
//! - peak RSS (VmHWM) and CPU seconds per tenant refresh of the daemon process;
//! - `/metrics` scrape latency (gzip, as Prometheus asks) during that refresh and idle after it;
//! - body bytes, and the encode cost measured in this process: rendering every tenant's
//!   series once (what a refresh pays) and joining them per scrape;
//! - `/metrics` throughput against nginx serving the same bytes as static files (wrk).
//!
//! Every target of the MSP-scale issue is printed with PASS or FAIL. `SCALE_BENCH_TRACE=1`
//! prints every scrape's time and duration.

mod measure;
mod procs;
mod serving;
mod summary;

use measure::*;
use procs::*;
use securescore_exporter::config::series_filter::ControlsMode;
use serving::*;
use std::time::Instant;
use summary::*;

pub(crate) const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    let o = parse_args();
    let bin = exporter_binary();
    let work = std::env::temp_dir().join(format!("securescore-scale-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("work dir");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "machine: {} cores ({cpu}); latency {}..{} ms per Graph answer; refresh.max_concurrent_tenants = {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        o.latency.0.as_millis(),
        o.latency.1.as_millis(),
        o.concurrency
    );
    println!("before start: {}", load_line());
    let mut results = Vec::new();
    for (i, &n) in o.tenants.iter().enumerate() {
        let started = Instant::now();
        let sim = start_simulator(&bin, n, &o, &work);
        println!(
            "simulator with {n} tenants ready in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        for &controls in &o.controls {
            let compare = i == 0 && controls == "incomplete";
            let mut runs = Vec::new();
            for run in 1..=o.runs {
                if o.runs > 1 {
                    println!("\n# run {run} of {}, {}", o.runs, load_line());
                }
                let r = run_case(&bin, &sim, n, controls, &o, &work, compare);
                report_case(&r);
                runs.push(r);
            }
            if o.runs > 1 {
                print_summary(&runs);
            }
            results.extend(runs);
        }
    }
    println!("\n## encode cost (in-process, release build)");
    for &n in &o.tenants {
        for name in &o.controls {
            let mode = ControlsMode::parse(name).expect("all or incomplete");
            let c = encode_cost(n, mode);
            println!(
                "{n} tenants, controls={name}: render every tenant once {:.2} s ({:.3} ms per tenant, paid by each refresh); join per scrape: gzip {}, plain {}",
                c.render_total.as_secs_f64(),
                c.render_total.as_secs_f64() * 1000.0 / n as f64,
                ms(c.gzip_join),
                ms(c.plain_join)
            );
        }
    }
    print_targets(&results);
    let _ = std::fs::remove_dir_all(&work);
}

/// The machine's load, so a run on a busy machine shows as one.
fn load_line() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let f: Vec<&str> = load.split_whitespace().collect();
    format!(
        "load average {} {} {} (1, 5, 15 min), {} runnable",
        f.first().unwrap_or(&"?"),
        f.get(1).unwrap_or(&"?"),
        f.get(2).unwrap_or(&"?"),
        f.get(3).unwrap_or(&"?")
    )
}

fn report_case(r: &CaseResult) {
    println!("\n## {} tenants, controls = {}", r.n, r.controls);
    println!("tenants up after the first refresh: {} of {}", r.up, r.n);
    println!(
        "full-refresh makespan (scraped every 15 s): {:.1} s; lower bound {:.1} s; ratio {:.3} (scraped every 100 ms: {:.1} s)",
        r.makespan,
        r.bound,
        r.makespan / r.bound,
        r.makespan_sampled
    );
    println!("peak RSS: {:.0} MiB", r.hwm_mib);
    println!(
        "CPU per tenant refresh (whole process, scraped every 15 s): {:.2} ms",
        r.cpu_per_tenant_ms
    );
    println!(
        "/metrics: {} series; {:.1} MiB plain, {:.1} MiB gzip",
        r.series,
        r.plain_bytes as f64 / MIB,
        r.gzip_bytes as f64 / MIB
    );
    println!(
        "scrape (gzip) during refresh: n={} p50 {} p99 {}; idle: n={} p50 {} p99 {}",
        r.during.len(),
        ms(percentile(&r.during, 50.0)),
        ms(percentile(&r.during, 99.0)),
        r.idle.len(),
        ms(percentile(&r.idle, 50.0)),
        ms(percentile(&r.idle, 99.0))
    );
    println!(
        "scrape (gzip) during refresh from 1 s after start: n={} p50 {} p99 {}",
        r.during_warm.len(),
        ms(percentile(&r.during_warm, 50.0)),
        ms(percentile(&r.during_warm, 99.0))
    );
    if let Some(t) = &r.throughput {
        println!(
            "throughput (wrk -t2 -c16): gzip {:.0} req/s vs nginx {:.0} ({:.2}); plain {:.0} vs nginx {:.0} ({:.2})",
            t.gzip.0,
            t.gzip.1,
            t.gzip.0 / t.gzip.1,
            t.plain.0,
            t.plain.1,
            t.plain.0 / t.plain.1
        );
    }
}
