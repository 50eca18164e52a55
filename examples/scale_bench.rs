//! MSP-scale benchmark: the release daemon against a simulated fleet of thousands of tenants.
//! Not a timed test; every figure of BENCHMARKS.md's "MSP scale" table comes from here.
//!
//!     cargo build --release && cargo run --release --example scale_bench -- \
//!         [--tenants 1000,10000] [--latency 100ms..400ms] [--concurrency 64] \
//!         [--idle 20s] [--wrk 10s] [--controls all,incomplete]
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

use securescore_exporter::metrics::ExporterMetrics;
use securescore_exporter::series_filter::{ControlsMode, SeriesFilter};
use securescore_exporter::simulator::data;
use securescore_exporter::snapshot::TenantSnapshot;
use securescore_exporter::store::Store;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MIB: f64 = 1024.0 * 1024.0;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SIGTERM, so nginx takes its workers down with it; SIGKILL only as a fallback.
        let term = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        if !term.is_ok_and(|s| s.success()) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

struct Options {
    tenants: Vec<usize>,
    latency: (Duration, Duration),
    concurrency: usize,
    idle: Duration,
    wrk: Duration,
    controls: Vec<&'static str>,
}

fn parse_args() -> Options {
    let mut o = Options {
        tenants: vec![1_000, 10_000],
        latency: (Duration::from_millis(100), Duration::from_millis(400)),
        concurrency: 64,
        idle: Duration::from_secs(20),
        wrk: Duration::from_secs(10),
        controls: vec!["all", "incomplete"],
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dur = |v: &str| humantime::parse_duration(v).unwrap_or_else(|e| panic!("`{v}`: {e}"));
    for pair in args.chunks(2) {
        let (k, v) = (
            pair[0].as_str(),
            pair.get(1).map(String::as_str).unwrap_or(""),
        );
        match k {
            "--tenants" => o.tenants = v.split(',').map(|n| n.trim().parse().expect("N")).collect(),
            "--latency" => {
                let (a, b) = v.split_once("..").expect("MIN..MAX");
                o.latency = (dur(a), dur(b));
            }
            "--concurrency" => o.concurrency = v.parse().expect("N"),
            "--idle" => o.idle = dur(v),
            "--wrk" => o.wrk = dur(v),
            "--controls" => {
                o.controls = v
                    .split(',')
                    .map(|c| match c.trim() {
                        "all" => "all",
                        "incomplete" => "incomplete",
                        other => panic!("--controls: `{other}` (all, incomplete)"),
                    })
                    .collect()
            }
            _ => panic!("unknown argument {k}"),
        }
    }
    o
}

fn exporter_binary() -> PathBuf {
    let me = std::env::current_exe().expect("own path");
    let bin = me
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("securescore_exporter"))
        .expect("target dir");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release` first",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A keep-alive HTTP/1.1 client that reads whole bodies (Content-Length framing).
struct Conn {
    addr: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(port: u16) -> Conn {
        Conn {
            addr: format!("127.0.0.1:{port}"),
            stream: None,
        }
    }

    /// Status and body; `keep` false discards the body and returns only its length.
    fn get(
        &mut self,
        path: &str,
        gzip: bool,
        keep: bool,
    ) -> std::io::Result<(u16, Vec<u8>, usize)> {
        // The server closes idle keep-alive connections (10 s): reconnect once then.
        for attempt in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect(&self.addr)?;
                s.set_nodelay(true)?;
                self.stream = Some(BufReader::with_capacity(256 * 1024, s));
            }
            match self.request(path, gzip, keep) {
                Ok(r) => return Ok(r),
                Err(e) => {
                    self.stream = None;
                    if attempt == 1 {
                        return Err(e);
                    }
                }
            }
        }
        unreachable!("the loop returns")
    }

    fn request(
        &mut self,
        path: &str,
        gzip: bool,
        keep: bool,
    ) -> std::io::Result<(u16, Vec<u8>, usize)> {
        let s = self.stream.as_mut().expect("connected");
        let enc = if gzip {
            "Accept-Encoding: gzip\r\n"
        } else {
            ""
        };
        write!(
            s.get_mut(),
            "GET {path} HTTP/1.1\r\nHost: bench\r\n{enc}\r\n"
        )?;
        let mut line = String::new();
        s.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut len = 0usize;
        loop {
            line.clear();
            s.read_line(&mut line)?;
            if line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = Vec::new();
        if keep {
            body.resize(len, 0);
            s.read_exact(&mut body)?;
        } else {
            std::io::copy(&mut s.by_ref().take(len as u64), &mut std::io::sink())?;
        }
        Ok((status, body, len))
    }
}

struct ProcStats {
    hwm_kib: u64,
    cpu_secs: f64,
}

fn proc_stats(pid: u32) -> ProcStats {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ProcStats {
        hwm_kib,
        cpu_secs: (ticks(11) + ticks(12)) / 100.0,
    }
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut s = samples.to_vec();
    s.sort();
    let i = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
    s[i.min(s.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// E[critical path] of one tenant's refresh: `secureScores` alongside `pages` profile pages in
/// a chain, each answer delayed uniformly in `latency` (the token endpoint adds none).
fn expected_path(pages: usize, latency: (Duration, Duration), rng: &mut fastrand::Rng) -> f64 {
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

fn lower_bound(n: usize, o: &Options) -> f64 {
    let mut rng = fastrand::Rng::with_seed(42);
    let mut by_pages = std::collections::HashMap::new();
    let mut sum = 0.0;
    let mut longest: f64 = 0.0;
    for t in data::fleet_tenants(n, 1) {
        let pages = t
            .profile_count()
            .div_ceil(securescore_exporter::simulator::PROFILES_PAGE_SIZE);
        let e = *by_pages
            .entry(pages)
            .or_insert_with(|| expected_path(pages, o.latency, &mut rng));
        sum += e;
        longest = longest.max(e);
    }
    (sum / o.concurrency as f64).max(longest)
}

struct Sim {
    _proc: Killed,
    dir: PathBuf,
}

fn start_simulator(bin: &Path, n: usize, o: &Options, work: &Path) -> Sim {
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
type Samples = (Vec<Duration>, Vec<Duration>, Vec<Duration>);

struct CaseResult {
    n: usize,
    controls: &'static str,
    makespan: f64,
    /// The makespan while scraped every 100 ms (for comparison).
    makespan_sampled: f64,
    bound: f64,
    up: usize,
    hwm_mib: f64,
    cpu_per_tenant_ms: f64,
    during: Vec<Duration>,
    /// Scrapes during the refresh that started at least 1 s after the daemon (the first second
    /// holds the start-up burst: every refresh slot opening its TLS connection at once).
    during_warm: Vec<Duration>,
    idle: Vec<Duration>,
    gzip_bytes: usize,
    plain_bytes: usize,
    series: usize,
    throughput: Option<Throughput>,
}

struct Throughput {
    gzip: (f64, f64),
    plain: (f64, f64),
}

fn count_up(gz: &[u8]) -> (usize, usize) {
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
fn run_case(
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
fn run_pass(
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
    ) + &format!("\n[metrics]\ncontrols = \"{controls}\"\n");
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

fn wrk(url: &str, gzip: bool, o: &Options) -> f64 {
    let mut cmd = Command::new("wrk");
    cmd.args([
        "-t2",
        "-c16",
        &format!("-d{}s", o.wrk.as_secs()),
        "--latency",
    ]);
    if gzip {
        cmd.args(["-H", "Accept-Encoding: gzip"]);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn nginx_comparison(exporter_port: u16, work: &Path, o: &Options) -> Throughput {
    let port = free_port();
    let dir = work.canonicalize().expect("work dir");
    let conf = format!(
        "worker_processes 2; daemon off; pid {d}/nginx.pid; error_log {d}/nginx-error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;\n\
           client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n\
           uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp; default_type text/plain;\n\
           server {{ listen 127.0.0.1:{port}; root {d}/www;\n\
             location = /metrics.gz {{ add_header Content-Encoding gzip; }} }} }}\n",
        d = dir.display()
    );
    std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
    std::fs::write(dir.join("nginx.conf"), conf).expect("nginx.conf");
    let nginx = Killed(
        Command::new("nginx")
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs (apt-get install nginx)"),
    );
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let e = format!("http://127.0.0.1:{exporter_port}/metrics");
    let gzip = (
        wrk(&e, true, o),
        wrk(&format!("http://127.0.0.1:{port}/metrics.gz"), false, o),
    );
    let plain = (
        wrk(&e, false, o),
        wrk(&format!("http://127.0.0.1:{port}/metrics.txt"), false, o),
    );
    drop(nginx);
    Throughput { gzip, plain }
}

/// Rendering and joining cost, measured in this process on a store of `n` fleet tenants.
struct EncodeCost {
    render_total: Duration,
    gzip_join: Duration,
    plain_join: Duration,
}

fn encode_cost(n: usize, controls: ControlsMode) -> EncodeCost {
    let today = time::OffsetDateTime::now_utc().date();
    // 60 distinct tenants' snapshots, reused under n names (rendering is per tenant anyway).
    let snapshots: Vec<TenantSnapshot> = data::fleet_tenants(60, 1)
        .iter()
        .map(|spec| data::generate(spec, today).snapshot())
        .collect();
    let names: Vec<String> = (1..=n).map(|i| format!("customer-{i:05}")).collect();
    let store = Arc::new(Store::new(names.iter().map(|n| (n.as_str(), "id"))));
    let metrics = ExporterMetrics::new();
    metrics.register_store(
        store.clone(),
        Duration::from_secs(3600),
        SeriesFilter {
            controls,
            ..SeriesFilter::default()
        },
    );
    let t = Instant::now();
    for (i, name) in names.iter().enumerate() {
        store.record_success(name, snapshots[i % snapshots.len()].clone());
    }
    let render_total = t.elapsed();
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        for _ in 0..5 {
            f();
        }
        t.elapsed() / 5
    };
    let gzip_join = time(&|| {
        std::hint::black_box(metrics.encode_gzip_chunks());
    });
    let plain_join = time(&|| {
        std::hint::black_box(metrics.encode_pieces());
    });
    EncodeCost {
        render_total,
        gzip_join,
        plain_join,
    }
}

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
            let r = run_case(&bin, &sim, n, controls, &o, &work, compare);
            report_case(&r);
            results.push(r);
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
    println!("\n## targets");
    for r in &results {
        let ratio = r.makespan / r.bound;
        if r.n >= 10_000 && r.controls == "incomplete" {
            println!("{} 10,000 tenants incomplete: makespan {:.1} s = {ratio:.3} x bound {:.1} s (<= 1.15)", verdict(ratio <= 1.15), r.makespan, r.bound);
            println!(
                "{} 10,000 tenants incomplete: peak RSS {:.0} MiB (<= 512)",
                verdict(r.hwm_mib <= 512.0),
                r.hwm_mib
            );
        }
        if r.n == 1_000 && r.controls == "all" {
            println!(
                "{} 1,000 tenants all: peak RSS {:.0} MiB (<= 256)",
                verdict(r.hwm_mib <= 256.0),
                r.hwm_mib
            );
        }
        let (d, i) = (percentile(&r.during, 99.0), percentile(&r.idle, 99.0));
        let warm = percentile(&r.during_warm, 99.0);
        println!(
            "{} {} tenants {}: scrape p99 during refresh {} <= 2 x idle p99 {} (from 1 s after start: {})",
            verdict(d.as_secs_f64() <= 2.0 * i.as_secs_f64()),
            r.n,
            r.controls,
            ms(d),
            ms(i),
            ms(warm)
        );
        if let Some(t) = &r.throughput {
            for (what, (e, x)) in [("gzip", t.gzip), ("plain", t.plain)] {
                println!(
                    "{} /metrics throughput ({what}, {} tenants): {e:.0} req/s vs nginx {x:.0} req/s = {:.2} (>= 0.8)",
                    verdict(e >= 0.8 * x),
                    r.n,
                    e / x
                );
            }
        }
        if r.up != r.n {
            println!(
                "FAIL {} tenants {}: only {} tenants up",
                r.n, r.controls, r.up
            );
        }
    }
    let _ = std::fs::remove_dir_all(&work);
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
