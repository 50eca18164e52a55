//! `[state] path` at MSP scale: how large a fleet's saved state is, how long a full write takes,
//! and how long a restarted daemon needs until it serves every tenant. Not a timed test; the
//! "State directory" figures of BENCHMARKS.md come from here.
//!
//!     cargo build --release --bins --examples
//!     ./target/release/examples/state_bench [--tenants 10000] [--runs 3] [--dir /var/tmp]
//!
//! The fleet is the simulator's (`simulate --tenants N`: every control of each tenant's
//! licence) with 90 kept days each, the most a state holds. Per run, in a fresh directory on
//! the file system of `--dir`:
//! - **full write**: every tenant written at once, as after the first pass (each file written,
//!   fsynced, renamed; the directory fsynced), and the bytes and disk blocks it takes;
//! - **restore**: reading and decoding every file on every core, then rendering every
//!   tenant's series, in this process: what the daemon does before it listens;
//! - **start to serving**: the release daemon started on that directory with a Graph it cannot
//!   reach (fresh saved data asks Graph nothing), until its `/metrics` holds every tenant's
//!   score, and its peak RSS then.

use securescore_exporter::core::history::{DailyScore, History};
use securescore_exporter::core::snapshot::TenantSnapshot;
use securescore_exporter::exposition::SeriesRenderer;
use securescore_exporter::state::persist::{SavedTenant, StateDir};
use securescore_exporter::state::{Publisher, Store, TenantState};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Options {
    tenants: usize,
    runs: usize,
    dir: PathBuf,
}

fn parse_args() -> Options {
    let mut o = Options {
        tenants: 10_000,
        runs: 3,
        dir: PathBuf::from("/var/tmp"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--tenants" => o.tenants = value().parse().expect("--tenants N"),
            "--runs" => o.runs = value().parse().expect("--runs N"),
            "--dir" => o.dir = PathBuf::from(value()),
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// The fleet's saved state: the simulator's data converted as a refresh converts it.
fn fleet(n: usize) -> (Vec<securescore_sim::spec::TenantSpec>, Vec<SavedTenant>) {
    let specs = securescore_sim::spec::fleet_tenants(n, 1);
    let today = time::OffsetDateTime::now_utc().date();
    let now = securescore_exporter::core::clock::unix_now();
    let today_day = securescore_exporter::core::history::day_of(now);
    let saved = specs
        .iter()
        .map(|spec| {
            let data = securescore_sim::generate::generate(spec, today);
            let snapshot = TenantSnapshot::from_json(&data.records, &data.profiles);
            let (current, max) = snapshot
                .score
                .as_ref()
                .map(|s| (s.current_points.unwrap_or(0.0), s.max_points.unwrap_or(0.0)))
                .unwrap_or_default();
            let newest = snapshot.score.as_ref().and_then(DailyScore::of);
            let history: Vec<DailyScore> = (0..90)
                .map(|d| {
                    let mut day = newest.unwrap_or(DailyScore::new(0, current, max));
                    day.day = today_day - 89 + d;
                    day.current_points = (current - (89 - d) as f64 * 0.37).max(0.0);
                    day
                })
                .collect();
            SavedTenant {
                name: spec.name.clone(),
                tenant_id: spec.tenant_id.clone(),
                last_success: now,
                snapshot: Arc::new(snapshot),
                history: History::from_parts(history, Vec::new(), 90),
            }
        })
        .collect();
    (specs, saved)
}

fn disk_usage(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut bytes = 0;
    let mut blocks = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        bytes += m.len();
        blocks += m.blocks() * 512;
    }
    (bytes, blocks)
}

fn config_text(specs: &[securescore_sim::spec::TenantSpec], state: &Path, port: u16) -> String {
    // A Graph nobody listens on: a fetch would fail at once, and none is made.
    let mut text = format!(
        "[graph]\nlogin_url = \"https://127.0.0.1:9\"\ngraph_url = \"https://127.0.0.1:9\"\n\n[refresh]\ninterval = \"1h\"\n\n[log]\nlevel = \"info\"\n\n[state]\npath = {state:?}\n\n[web]\nlisten_address = [\"127.0.0.1:{port}\"]\n\n[credentials.msp]\nclient_id = {:?}\nclient_secret = {:?}\n",
        securescore_sim::spec::fleet_client_id(),
        securescore_sim::spec::fleet_client_secret(),
    );
    for s in specs {
        text.push_str(&format!(
            "\n[[tenants]]\nname = {:?}\ntenant_id = {:?}\ncredential = \"msp\"\n",
            s.name, s.tenant_id
        ));
    }
    text
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A GET over a fresh connection asking for gzip, as Prometheus does; the inflated body.
fn get(port: u16, path: &str) -> Option<String> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n"
    )
    .ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let end = out.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&out[..end]).to_lowercase();
    if !head.starts_with("http/1.1 200") && !head.starts_with("http/1.0 200") {
        return None;
    }
    let body = &out[end + 4..];
    let mut text = String::new();
    if head.contains("content-encoding: gzip") {
        flate2::read::MultiGzDecoder::new(body)
            .read_to_string(&mut text)
            .ok()?;
    } else {
        text = String::from_utf8_lossy(body).to_string();
    }
    Some(text)
}

fn vm_hwm_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The daemon on `state` until its `/metrics` has every tenant's score: (time, peak RSS MiB).
fn start_to_serving(
    specs: &[securescore_sim::spec::TenantSpec],
    state: &Path,
    work: &Path,
) -> (Duration, f64) {
    let bin = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("securescore_exporter"))
        .unwrap();
    assert!(
        bin.exists(),
        "run `cargo build --release --bins --examples` first"
    );
    let port = free_port();
    let config = work.join("config.toml");
    std::fs::write(&config, config_text(specs, state, port)).unwrap();
    let started = Instant::now();
    let mut child = std::process::Command::new(&bin)
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(work.join("daemon.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = started + Duration::from_secs(300);
    let took = loop {
        if let Some(body) = get(port, "/metrics") {
            let scored = body
                .lines()
                .filter(|l| l.starts_with("securescore_current_points{"))
                .count();
            assert_eq!(scored, specs.len(), "the first answer misses tenants");
            break started.elapsed();
        }
        assert!(Instant::now() < deadline, "the daemon never served");
        std::thread::sleep(Duration::from_millis(5));
    };
    let rss = vm_hwm_mib(child.id());
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    if std::env::var_os("STATE_BENCH_LOG").is_some() {
        println!(
            "spawned at {:?}, served after {took:?}",
            time::OffsetDateTime::from(std::time::SystemTime::now() - started.elapsed())
        );
        print!(
            "{}",
            std::fs::read_to_string(work.join("daemon.log")).unwrap_or_default()
        );
    }
    (took, rss)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let o = parse_args();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "state_bench: {} tenants, {} runs, on {} ({} cores, load {})",
        o.tenants,
        o.runs,
        o.dir.display(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let made = Instant::now();
    let (specs, saved) = fleet(o.tenants);
    let controls: usize = saved
        .iter()
        .map(|s| s.snapshot.score.as_ref().map_or(0, |x| x.controls.len()))
        .sum();
    println!(
        "fleet built in {:.1} s: {controls} controls, 90 kept days a tenant",
        made.elapsed().as_secs_f64()
    );
    // The CPU part of a full write alone: every tenant encoded into memory, on one core.
    let t = Instant::now();
    let encoded: usize = saved
        .iter()
        .map(|s| {
            let mut out = Vec::new();
            securescore_exporter::state::persist::format::encode(s, &mut out).unwrap();
            out.len()
        })
        .sum();
    println!(
        "encoding every tenant on one core: {:.2} s ({:.0} MiB)",
        t.elapsed().as_secs_f64(),
        encoded as f64 / 1048576.0
    );
    let renderer = Arc::new(SeriesRenderer::new(Duration::from_secs(3600)));
    let (mut writes, mut restores, mut serving, mut rss, mut sizes, mut disk) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for run in 1..=o.runs {
        let work = o.dir.join(format!(
            "securescore-state-bench-{}-{run}",
            std::process::id()
        ));
        let state = work.join("state");
        let dir = StateDir::open(&state).expect("state dir");
        let t = Instant::now();
        let report = dir.save(&saved, &[]);
        let write = t.elapsed().as_secs_f64();
        assert_eq!(report.written, o.tenants, "{:?}", report.failed.first());
        let (bytes, blocks) = disk_usage(&state);
        // Restore as the daemon does: read and decode, then render every tenant.
        let names: Vec<(String, String)> = specs
            .iter()
            .map(|s| (s.name.clone(), s.tenant_id.clone()))
            .collect();
        let t = Instant::now();
        let restored = dir.restore(&names);
        assert_eq!(restored.tenants.len(), o.tenants);
        let mut states: Vec<TenantState> = specs
            .iter()
            .map(|s| TenantState::new(&s.name, &s.tenant_id))
            .collect();
        restored.apply(&mut states, 90);
        let store = Arc::new(Store::from_states(states));
        let _publisher = Publisher::new(store, renderer.clone());
        let restore = t.elapsed().as_secs_f64();
        drop(dir);
        let (to_serving, peak) = start_to_serving(&specs, &state, &work);
        println!(
            "run {run}: full write {write:.2} s ({:.0} MiB, {:.0} MiB on disk, {:.1} KiB a tenant) · restore + render in process {restore:.2} s · daemon start to serving all {:.2} s, peak RSS {peak:.0} MiB",
            bytes as f64 / 1048576.0,
            blocks as f64 / 1048576.0,
            bytes as f64 / 1024.0 / o.tenants as f64,
            to_serving.as_secs_f64(),
        );
        writes.push(write);
        restores.push(restore);
        serving.push(to_serving.as_secs_f64());
        rss.push(peak);
        sizes.push(bytes as f64 / 1048576.0);
        disk.push(blocks as f64 / 1048576.0);
        let _ = std::fs::remove_dir_all(&work);
    }
    let range = |v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        format!("{lo:.2}–{hi:.2}")
    };
    println!("median of {} runs (range):", o.runs);
    for (what, v, unit) in [
        ("state size", &mut sizes, "MiB"),
        ("on disk", &mut disk, "MiB"),
        ("full write", &mut writes, "s"),
        ("restore + render in process", &mut restores, "s"),
        ("daemon start to serving every tenant", &mut serving, "s"),
        ("peak RSS at that moment", &mut rss, "MiB"),
    ] {
        let r = range(v);
        println!("  {what}: {:.2} {unit} ({r})", median(v));
    }
}
