//! Soak test: thousands of refresh cycles at an accelerated interval against the simulator,
//! with faults mixed in, while RSS and open file descriptors are sampled. Not a timed test.
//!
//!     cargo run --release --example soak -- [SECONDS] [INTERVAL]
//!
//! Defaults: 300 s at a 25 ms refresh interval. Prints samples and a verdict: RSS after warm-up
//! grows less than 10 % and the descriptor count does not trend up.

use securescore_exporter::app::App;
use securescore_exporter::config::{AzureEnv, Config};
use securescore_sim::{Endpoint, Fault, Simulator, SimulatorOptions};
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn refreshes(body: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with("securescore_refresh_duration_seconds_count"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(300);
    let interval = args.get(2).cloned().unwrap_or_else(|| "25ms".into());
    let sim = Simulator::start(SimulatorOptions {
        requests_per_minute: 1_000_000,
        record_requests: false,
        ..SimulatorOptions::default()
    })
    .await
    .expect("simulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = securescore_exporter::app::demo::write_files(
        &sim,
        dir.path(),
        &["127.0.0.1:0".into()],
        &interval,
    )
    .expect("config");
    let mut text = std::fs::read_to_string(&config_path).expect("config text");
    text = text.replace("[refresh]\n", "[refresh]\nfailure_backoff = \"10ms\"\n");
    text = text.replace(
        "[graph]\n",
        "[graph]\nretry_backoff = \"5ms\"\nmax_retries = 1\ntimeout = \"2s\"\n",
    );
    std::fs::write(&config_path, text).expect("write config");
    let config = Config::load(Some(&config_path), &AzureEnv::default()).expect("valid config");
    let app = App::build(&config).await.expect("app");
    let metrics = app.metrics();
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(app.run_until(stop.clone()));

    let faults = [
        Fault::Throttle {
            retry_after: Some(0),
        },
        Fault::ServerError(503),
        Fault::MalformedJson,
        Fault::ConnectionReset,
        Fault::Slow(Duration::from_millis(300)),
        Fault::Partial {
            warning: "199 - \"Microsoft/SecureScore/504/10034\"".into(),
        },
        Fault::Unauthorized,
    ];
    let endpoints = [
        Some(Endpoint::SecureScores),
        Some(Endpoint::ControlProfiles),
        Some(Endpoint::Token),
    ];
    let tenants = ["contoso", "fabrikam", "northwind", "tailspin"];
    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(7);
    let mut samples = Vec::new();
    let mut next_sample = Duration::ZERO;
    println!(
        "{:>6} {:>10} {:>8} {:>6}",
        "t_s", "refreshes", "rss_kib", "fds"
    );
    while started.elapsed() < Duration::from_secs(secs) {
        // A fault somewhere, every 50 ms; now and then tokens are revoked.
        sim.inject(
            Some(tenants[rng.usize(..tenants.len())]),
            endpoints[rng.usize(..endpoints.len())],
            faults[rng.usize(..faults.len())].clone(),
            rng.usize(1..4),
        );
        if rng.usize(0..40) == 0 {
            sim.revoke_tokens();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if started.elapsed() >= next_sample {
            let body = String::from_utf8(metrics.encode()).unwrap_or_default();
            let s = (
                started.elapsed().as_secs(),
                refreshes(&body),
                rss_kib(),
                open_fds(),
            );
            println!("{:>6} {:>10} {:>8} {:>6}", s.0, s.1, s.2, s.3);
            samples.push(s);
            next_sample += Duration::from_secs(10);
        }
    }
    stop.cancel();
    let _ = task.await;
    // Verdict: compare the last sample with the first after a 30 s warm-up.
    let warm = samples
        .iter()
        .find(|s| s.0 >= 30)
        .or(samples.first())
        .copied()
        .unwrap_or_default();
    let last = samples.last().copied().unwrap_or_default();
    let rss_growth = (last.2 as f64 - warm.2 as f64) / warm.2.max(1) as f64;
    let fd_growth = last.3 as i64 - warm.3 as i64;
    println!(
        "refreshes: {}; RSS {} KiB -> {} KiB ({:+.1} %); fds {} -> {} ({:+}); verdict: {}",
        last.1,
        warm.2,
        last.2,
        rss_growth * 100.0,
        warm.3,
        last.3,
        fd_growth,
        if rss_growth < 0.10 && fd_growth <= 4 {
            "PASS"
        } else {
            "FAIL"
        }
    );
}
