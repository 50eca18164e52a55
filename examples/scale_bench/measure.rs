//! The measurements: the lower bound of a refresh, the simulator and daemon runs, scrape
//! latencies and resources.

use crate::*;
use securescore_sim::spec;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut s = samples.to_vec();
    s.sort();
    let i = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
    s[i.min(s.len() - 1)]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// E[critical path] of one tenant's refresh: `secureScores` alongside `pages` profile pages in
/// a chain, each answer delayed uniformly in `latency` (the token endpoint adds none).
pub(crate) fn expected_path(
    pages: usize,
    latency: (Duration, Duration),
    rng: &mut fastrand::Rng,
) -> f64 {
    const DRAWS: usize = 1_000_000;
    let (lo, hi) = (latency.0.as_secs_f64(), latency.1.as_secs_f64());
    let mut draw = || lo + (hi - lo) * rng.f64();
    let total: f64 = (0..DRAWS)
        .map(|_| {
            let scores = draw();
            let chain: f64 = (0..pages).map(|_| draw()).sum();
            scores.max(chain)
        })
        .sum();
    total / DRAWS as f64
}

pub(crate) fn lower_bound(n: usize, o: &Options) -> f64 {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut by_pages = std::collections::HashMap::new();
    let mut sum = 0.0;
    let mut longest: f64 = 0.0;
    for t in spec::fleet_tenants(n, 1) {
        let pages = t
            .profile_count()
            .div_ceil(securescore_sim::PROFILES_PAGE_SIZE);
        let e = *by_pages
            .entry(pages)
            .or_insert_with(|| expected_path(pages, o.latency, &mut rng));
        sum += e;
        longest = longest.max(e);
    }
    (sum / o.concurrency as f64).max(longest)
}

pub(crate) struct Sim {
    pub(crate) _proc: Killed,
    pub(crate) dir: PathBuf,
}

pub(crate) fn start_simulator(bin: &Path, n: usize, o: &Options, work: &Path) -> Sim {
    let dir = work.join(format!("sim-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    let port = free_port();
    let latency = format!(
        "{}ms..{}ms",
        o.latency.0.as_millis(),
        o.latency.1.as_millis()
    );
    let log = std::fs::File::create(work.join(format!("sim-{n}.log"))).expect("log file");
    // The simulator stands in for Microsoft Graph, which runs on someone else's machines: at
    // the lowest priority it takes only CPU the exporter leaves, instead of competing with it
    // for the same 2 cores as no real deployment would.
    let child = Command::new("nice")
        .args(["-n", "19"])
        .arg(bin)
        .args([
            "simulate",
            "--tenants",
            &n.to_string(),
            "--latency",
            &latency,
        ])
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--interval",
            "24h",
        ])
        .arg("--out")
        .arg(&dir)
        .args(["--log.level", "warn"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("simulator starts");
    let proc = Killed(child);
    let started = Instant::now();
    // The config is written once the data is generated and the listener is up.
    while !dir.join("config.toml").exists() || TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "simulator did not start"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Sim { _proc: proc, dir }
}

/// Scrape durations: during the refresh, idle after it, during it from 1 s after start.
pub(crate) type Samples = (Vec<Duration>, Vec<Duration>, Vec<Duration>);

pub(crate) struct CaseResult {
    pub(crate) n: usize,
    pub(crate) controls: &'static str,
    pub(crate) makespan: f64,
    /// The makespan while scraped every 100 ms (for comparison).
    pub(crate) makespan_sampled: f64,
    pub(crate) bound: f64,
    pub(crate) up: usize,
    pub(crate) hwm_mib: f64,
    pub(crate) cpu_per_tenant_ms: f64,
    pub(crate) during: Vec<Duration>,
    /// Scrapes during the refresh that started at least 1 s after the daemon (the first second
    /// holds the start-up burst: every refresh slot opening its TLS connection at once).
    pub(crate) during_warm: Vec<Duration>,
    pub(crate) idle: Vec<Duration>,
    pub(crate) gzip_bytes: usize,
    pub(crate) plain_bytes: usize,
    pub(crate) series: usize,
    pub(crate) throughput: Option<Throughput>,
}

pub(crate) struct Throughput {
    pub(crate) gzip: (f64, f64),
    pub(crate) plain: (f64, f64),
}

pub(crate) fn count_up(gz: &[u8]) -> (usize, usize) {
    let mut text = String::new();
    let _ = flate2::read::GzDecoder::new(gz).read_to_string(&mut text);
    let up = text
        .lines()
        .filter(|l| l.starts_with("securescore_up{") && l.ends_with(" 1"))
        .count();
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    (up, series)
}

/// Two runs of the daemon per case. Scraping every 100 ms costs the daemon CPU a real
/// Prometheus (every 15-60 s) never would, so the makespan, CPU and memory of a refresh come
/// from a run scraped every 15 s, and scrape latency from a second run scraped every 100 ms.
pub(crate) fn run_case(
    bin: &Path,
    sim: &Sim,
    n: usize,
    controls: &'static str,
    o: &Options,
    work: &Path,
    compare_nginx: bool,
) -> CaseResult {
    let realistic = run_pass(
        bin,
        sim,
        n,
        controls,
        o,
        work,
        Duration::from_secs(15),
        false,
        false,
    );
    let sampled = run_pass(
        bin,
        sim,
        n,
        controls,
        o,
        work,
        Duration::from_millis(100),
        true,
        compare_nginx,
    );
    CaseResult {
        makespan: realistic.makespan,
        cpu_per_tenant_ms: realistic.cpu_per_tenant_ms,
        hwm_mib: realistic.hwm_mib.max(sampled.hwm_mib),
        up: realistic.up.min(sampled.up),
        makespan_sampled: sampled.makespan,
        ..sampled
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn run_pass(
    bin: &Path,
    sim: &Sim,
    n: usize,
    controls: &'static str,
    o: &Options,
    work: &Path,
    pause: Duration,
    idle_phase: bool,
    compare_nginx: bool,
) -> CaseResult {
    let port = free_port();
    let base = std::fs::read_to_string(sim.dir.join("config.toml")).expect("simulator config");
    let config = base.replace(
        "[refresh]\n",
        &format!("[refresh]\nmax_concurrent_tenants = {}\n", o.concurrency),
    ) + &format!("\n[metrics]\ncontrols = \"{controls}\"\n")
        // No history fill: its requests would run during the idle and throughput phases (the
        // fills are measured by pages_bench and BENCHMARKS.md's live 2,000-tenant run).
        + "\n[history]\ndays = 1\n";
    let path = work.join(format!("exporter-{n}-{controls}.toml"));
    std::fs::write(&path, config).expect("config written");
    let log =
        std::fs::File::create(work.join(format!("exporter-{n}-{controls}.log"))).expect("log");
    let start = Instant::now();
    let child = Command::new(bin)
        .arg("--config")
        .arg(&path)
        .args([
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--log.level",
            "warn",
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("exporter starts");
    let pid = child.id();
    let exporter = Killed(child);
    let mut probe = Conn::new(port);
    while !matches!(probe.get("/-/healthy", false, false), Ok((200, _, _))) {
        std::thread::sleep(Duration::from_millis(20));
    }

    // Prometheus-like scrapes (gzip, keep-alive) with `pause` between them (100 ms: even a
    // 5-second refresh yields enough samples for a p99), labelled by phase.
    let refreshing = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(AtomicBool::new(false));
    let samples: Arc<Mutex<Samples>> = Arc::default();
    let scraper = {
        let (refreshing, stop, samples) = (refreshing.clone(), stop.clone(), samples.clone());
        std::thread::spawn(move || {
            let mut c = Conn::new(port);
            while !stop.load(Ordering::Acquire) {
                let during = refreshing.load(Ordering::Acquire);
                let t = Instant::now();
                if let Ok((200, _, _)) = c.get("/metrics", true, false) {
                    let took = t.elapsed();
                    // A scrape that straddles the end of the refresh counts as during.
                    let mut s = samples.lock().unwrap();
                    if std::env::var_os("SCALE_BENCH_TRACE").is_some() {
                        eprintln!(
                            "scrape at {:?} took {took:?} during={during}",
                            t.duration_since(start)
                        );
                    }
                    if during {
                        s.0.push(took);
                        if t.duration_since(start) >= Duration::from_secs(1) {
                            s.2.push(took);
                        }
                    } else {
                        s.1.push(took)
                    }
                }
                // Sleep in steps, so the end of the run is not held up by a long pause.
                let until = Instant::now() + pause;
                while Instant::now() < until && !stop.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        })
    };
    while !matches!(probe.get("/-/ready", false, false), Ok((200, _, _))) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let makespan = start.elapsed().as_secs_f64();
    let cpu_refresh = proc_stats(pid).cpu_secs;
    refreshing.store(false, Ordering::Release);
    if idle_phase {
        std::thread::sleep(o.idle);
    }
    stop.store(true, Ordering::Release);
    let _ = scraper.join();

    let (_, gz, gzip_bytes) = probe.get("/metrics", true, true).expect("gzip scrape");
    let (up, series) = count_up(&gz);
    let (_, _, plain_bytes) = probe.get("/metrics", false, false).expect("plain scrape");

    let throughput = compare_nginx.then(|| {
        let www = work.join("www");
        std::fs::create_dir_all(&www).expect("www");
        std::fs::write(www.join("metrics.gz"), &gz).expect("gz copy");
        let (_, plain, _) = probe.get("/metrics", false, true).expect("plain scrape");
        std::fs::write(www.join("metrics.txt"), &plain).expect("plain copy");
        nginx_comparison(port, work, o)
    });
    let hwm_mib = proc_stats(pid).hwm_kib as f64 / 1024.0;
    drop(exporter);
    let (during, idle, during_warm) = std::mem::take(&mut *samples.lock().unwrap());
    CaseResult {
        n,
        controls,
        makespan,
        makespan_sampled: makespan,
        bound: lower_bound(n, o),
        up,
        hwm_mib,
        cpu_per_tenant_ms: cpu_refresh * 1000.0 / n as f64,
        during,
        during_warm,
        idle,
        gzip_bytes,
        plain_bytes,
        series,
        throughput,
    }
}
