//! `[state] path` with the real binary: a restart serves the saved data before anything else,
//! asks Graph nothing for tenants whose data is fresh, keeps `securescore_up` 0 until a live
//! refresh, survives SIGKILL at any moment of its writes, ignores a damaged or foreign file
//! with one warning, never brings back a removed tenant, and writes nothing when unset.

use crate::cli::{exporter, free_port, terminate_and_wait};
use crate::helpers::{write_config, KillOnDrop, Scrape, Setup};
use securescore_exporter::state::persist::format::{decode, encode};
use securescore_sim::{Simulator, SimulatorOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A simulator in this process (so its requests can be counted) and the daemon's files.
struct Deployment {
    sim: Simulator,
    dir: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
}

/// A running daemon, its port and the file its log goes to.
struct Daemon {
    child: KillOnDrop,
    port: u16,
    log: PathBuf,
    started: Instant,
}

impl Deployment {
    async fn new(options: SimulatorOptions, interval: &'static str) -> Deployment {
        let sim = Simulator::start(options).await.expect("simulator starts");
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let setup = Setup {
            interval,
            extra_refresh: "max_concurrent_tenants = 64\n",
            extra_toml: String::new(),
            ..Setup::default()
        };
        let config = write_config(dir.path(), &sim, &setup);
        let mut deployment = Deployment {
            sim,
            dir,
            config,
            state,
        };
        deployment.set_state_path(true);
        deployment
    }

    /// Puts `[state] path` in the config file (before the tenants, where a table may go).
    fn set_state_path(&mut self, on: bool) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let text: String = text
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("[state]") && !l.starts_with("path = "))
            .collect();
        let text = if on {
            text.replacen(
                "[web]",
                &format!(
                    "[state]\npath = {}\n\n[web]",
                    crate::helpers::q(&self.state.to_string_lossy())
                ),
                1,
            )
        } else {
            text
        };
        std::fs::write(&self.config, text).unwrap();
    }

    /// Leaves tenant `name` out of the config file.
    fn remove_tenant(&self, name: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let blocks: Vec<&str> = text.split("\n[[tenants]]\n").collect();
        let kept: Vec<&str> = blocks
            .iter()
            .copied()
            .filter(|b| !b.starts_with(&format!("name = \"{name}\"\n")))
            .collect();
        assert_eq!(kept.len() + 1, blocks.len(), "{name} was configured");
        std::fs::write(&self.config, kept.join("\n[[tenants]]\n")).unwrap();
    }

    fn start(&self, run: usize) -> Daemon {
        let port = free_port();
        let log = self.dir.path().join(format!("daemon-{run}.log"));
        let child = exporter()
            .arg("--config")
            .arg(&self.config)
            .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon {
            child: KillOnDrop(child),
            port,
            log,
            started: Instant::now(),
        }
    }

    /// Graph and token requests so far, for tenant `name` or for all.
    fn requests(&self, name: Option<&str>) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| name.is_none() || r.tenant.as_deref() == name)
            .count()
    }

    fn state_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.state)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|f| f.extension().is_some_and(|x| x == "state"));
        files.sort();
        files
    }

    /// The state file of tenant `name` (the one whose contents name it).
    fn file_of(&self, name: &str, tenant_id: &str) -> PathBuf {
        self.state_files()
            .into_iter()
            .find(|f| tenant_in(&std::fs::read(f).unwrap()).as_deref() == Some(name))
            .filter(|f| decode(&std::fs::read(f).unwrap(), name, tenant_id).is_ok())
            .unwrap_or_else(|| panic!("no state file holds {name}"))
    }
}

impl Daemon {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The first `/metrics` this process answers, and how long after its start.
    async fn first_scrape(&self) -> (Scrape, Duration) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(self.url("/metrics")).await {
                let text = r.text().await.unwrap();
                return (Scrape::parse(&text), self.started.elapsed());
            }
            assert!(Instant::now() < deadline, "the daemon never answered");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn scrape(&self) -> Scrape {
        Scrape::parse(
            &reqwest::get(self.url("/metrics"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
    }

    async fn wait_for(&self, what: &str, secs: u64, pred: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(r) = reqwest::get(self.url("/metrics")).await {
                let s = Scrape::parse(&r.text().await.unwrap());
                if pred(&s) {
                    return s;
                }
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(mut self) -> String {
        let status = terminate_and_wait(&mut self.child);
        assert!(status.success(), "{status:?}\n{}", self.log());
        self.log()
    }
}

/// Every score series of `scrape` (all but the refresh status), as text.
fn score_lines(scrape: &Scrape) -> Vec<String> {
    let mut lines: Vec<String> = scrape
        .samples
        .iter()
        .filter(|s| {
            s.name.starts_with("securescore_")
                && s.labels.contains_key("tenant")
                && !matches!(
                    s.name.as_str(),
                    "securescore_up"
                        | "securescore_refresh_failures_total"
                        | "securescore_graph_partial_responses_total"
                )
        })
        .map(|s| format!("{} {:?} {}", s.name, s.labels, s.value))
        .collect();
    lines.sort();
    lines
}

/// The tenant a state file says it holds, if it can be read as JSON at all.
fn tenant_in(bytes: &[u8]) -> Option<String> {
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut json).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
    Some(v.get("tenant")?.as_str()?.to_string())
}

/// Equal lists, or a panic naming the lines that differ (not both lists whole).
fn assert_same(got: &[String], want: &[String]) {
    let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
    let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "{} extra: {extra:#?}\n{} missing: {missing:#?}",
        extra.len(),
        missing.len()
    );
}

/// The log's warnings, but for the one about a short refresh interval that tests ask for.
fn warnings(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("WARN") && !l.contains("refresh.interval is under a minute"))
        .collect()
}

/// Runs the daemon until every tenant is up and saved, and stops it with SIGTERM.
async fn first_run(d: &Deployment) -> Scrape {
    let tenants = d.sim.tenants().len();
    let daemon = d.start(0);
    daemon
        .wait_for("every tenant up and saved", 60, |s| {
            d.sim.tenants().iter().all(|t| s.up(&t.name) == Some(1.0))
                && s.get("securescore_state_saves_total", &[]).unwrap_or(0.0) >= tenants as f64
        })
        .await;
    let scrape = daemon.scrape().await;
    let log = daemon.stop();
    assert!(warnings(&log).is_empty(), "{log}");
    assert_eq!(d.state_files().len(), tenants);
    scrape
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_serves_the_saved_data_at_once_and_asks_graph_nothing_for_fresh_data() {
    let d = Deployment::new(SimulatorOptions::default(), "1h").await;
    let before = first_run(&d).await;
    let tenants = d.sim.tenants();
    assert!(score_lines(&before).len() > 100);
    // Files and directory are the owner's alone, and hold no secret.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d.state), 0o700);
    for f in d.state_files() {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&std::fs::read(&f).unwrap()[..]),
            &mut text,
        )
        .unwrap();
        for t in &tenants {
            assert!(
                !text.contains(&t.client_secret),
                "{} holds a secret",
                f.display()
            );
        }
        assert!(!text.to_lowercase().contains("bearer") && !text.contains("eyJ"));
    }

    // One tenant's saved data is two hours old: that one is refreshed at once.
    let stale = &tenants[0];
    let file = d.file_of(&stale.name, &stale.tenant_id);
    let mut saved = decode(
        &std::fs::read(&file).unwrap(),
        &stale.name,
        &stale.tenant_id,
    )
    .unwrap();
    saved.last_success -= 7200.0;
    let mut bytes = Vec::new();
    encode(&saved, &mut bytes).unwrap();
    std::fs::write(&file, bytes).unwrap();

    let requests_before = d.requests(None);
    let daemon = d.start(1);
    let (first, after) = daemon.first_scrape().await;
    // The very first answer already holds every tenant's saved series, with up = 0.
    let restored_lines: Vec<String> = score_lines(&first)
        .into_iter()
        .filter(|l| !l.contains(&format!("\"{}\"", stale.name)))
        .collect();
    let saved_lines: Vec<String> = score_lines(&before)
        .into_iter()
        .filter(|l| !l.contains(&format!("\"{}\"", stale.name)))
        .collect();
    assert_same(&restored_lines, &saved_lines);
    for t in &tenants[1..] {
        assert_eq!(first.up(&t.name), Some(0.0), "{}", t.name);
    }
    assert_eq!(
        first.get("securescore_state_restored_tenants", &[]),
        Some(tenants.len() as f64)
    );
    // Served within a second of the process start (4 tenants; BENCHMARKS.md has 10,000).
    assert!(
        after < Duration::from_secs(1),
        "the saved data was first served {after:?} after start"
    );
    let ready = reqwest::get(daemon.url("/-/ready")).await.unwrap();
    assert_eq!(ready.status(), 200, "saved data counts as ready");
    // The stale tenant is refreshed and goes up; nobody else is asked anything.
    daemon
        .wait_for("the stale tenant refreshed", 30, |s| {
            s.up(&stale.name) == Some(1.0)
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = daemon.scrape().await;
    for t in &tenants[1..] {
        assert_eq!(s.up(&t.name), Some(0.0), "{} was refreshed", t.name);
    }
    let asked: Vec<String> = d.sim.requests()[requests_before..]
        .iter()
        .filter(|r| r.tenant.as_deref() != Some(stale.name.as_str()))
        .map(|r| format!("{:?} {:?}", r.tenant, r.path_and_query))
        .collect();
    assert!(asked.is_empty(), "requests for fresh tenants: {asked:?}");
    assert!(d.requests(Some(&stale.name)) > 0);
    let log = daemon.stop();
    assert!(warnings(&log).is_empty(), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_stays_0_until_the_first_live_refresh_then_1() {
    // A short interval: the saved data is fresh only for a few seconds.
    let d = Deployment::new(SimulatorOptions::default(), "4s").await;
    first_run(&d).await;
    let daemon = d.start(1);
    let (first, _) = daemon.first_scrape().await;
    let name = &d.sim.tenants()[0].name;
    assert_eq!(first.up(name), Some(0.0));
    let saved = first.get(
        "securescore_last_refresh_success_timestamp_seconds",
        &[("tenant", name)],
    );
    assert!(saved.is_some());
    let live = daemon
        .wait_for("a live refresh", 30, |s| s.up(name) == Some(1.0))
        .await;
    assert!(
        live.get(
            "securescore_last_refresh_success_timestamp_seconds",
            &[("tenant", name)]
        ) > saved
    );
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_any_moment_of_the_writes_never_leaves_half_a_tenant() {
    // 80 tenants refreshed every 2 s: the daemon writes a batch of state every 2 s.
    let options = SimulatorOptions {
        tenants: securescore_sim::spec::fleet_tenants(80, 1),
        ..SimulatorOptions::default()
    };
    let d = Deployment::new(options, "2s").await;
    let specs = d.sim.tenants();
    let mut rng = fastrand::Rng::with_seed(7);
    // The first run lives until the first batch is on disk; the others die at random.
    let first = d.start(100);
    first
        .wait_for("a first batch saved", 60, |s| {
            s.get("securescore_state_saves_total", &[]).unwrap_or(0.0) > 0.0
        })
        .await;
    eprintln!("first batch after {:?}", first.started.elapsed());
    drop(first);
    for run in 0..8 {
        let mut daemon = d.start(run);
        daemon.first_scrape().await;
        tokio::time::sleep(Duration::from_millis(rng.u64(300..2_500))).await;
        daemon.child.kill().unwrap();
        daemon.child.wait().unwrap();
        eprintln!("run {run}: killed after {:?}", daemon.started.elapsed());
        // Every file there is whole: it decodes as its tenant's.
        for f in d.state_files() {
            let bytes = std::fs::read(&f).unwrap();
            let spec = tenant_in(&bytes).and_then(|n| specs.iter().find(|t| t.name == n));
            assert!(
                spec.is_some_and(|t| decode(&bytes, &t.name, &t.tenant_id).is_ok()),
                "run {run}: {} is not a whole state file",
                f.display()
            );
        }
        assert!(!daemon.log().contains("panicked"), "{}", daemon.log());
    }
    // And the next start restores them all, with no warning.
    let files = d.state_files().len();
    assert!(files > 0);
    let daemon = d.start(99);
    let (first, _) = daemon.first_scrape().await;
    assert_eq!(
        first.get("securescore_state_restored_tenants", &[]),
        Some(files as f64)
    );
    let log = daemon.stop();
    assert!(!log.contains("saved state ignored"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_or_foreign_files_are_ignored_with_one_warning() {
    let d = Deployment::new(SimulatorOptions::default(), "1h").await;
    let before = first_run(&d).await;
    let tenants = d.sim.tenants();
    let (a, b) = (&tenants[0], &tenants[1]);
    // A torn file, and one from a future version of the exporter.
    let file_a = d.file_of(&a.name, &a.tenant_id);
    let bytes = std::fs::read(&file_a).unwrap();
    std::fs::write(&file_a, &bytes[..bytes.len() / 2]).unwrap();
    let file_b = d.file_of(&b.name, &b.tenant_id);
    let mut future = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(
        &mut future,
        br#"{"format":"securescore_exporter state","version":2,"tenants":{}}"#,
    )
    .unwrap();
    std::fs::write(&file_b, future.finish().unwrap()).unwrap();
    // And a stranger's file in the directory, which is left alone.
    std::fs::write(d.state.join("README.txt"), "not ours").unwrap();

    let daemon = d.start(1);
    let (first, _) = daemon.first_scrape().await;
    for t in [a, b] {
        assert!(
            first.score_series(&t.name).is_empty(),
            "{} half restored",
            t.name
        );
    }
    for t in &tenants[2..] {
        assert_eq!(
            first.score_series(&t.name).len(),
            before.score_series(&t.name).len(),
            "{}",
            t.name
        );
    }
    assert_eq!(
        first.get("securescore_state_restored_tenants", &[]),
        Some((tenants.len() - 2) as f64)
    );
    // The two start cold: refreshed at once, and saved again.
    daemon
        .wait_for("the two refreshed", 30, |s| {
            s.up(&a.name) == Some(1.0) && s.up(&b.name) == Some(1.0)
        })
        .await;
    let log = daemon.stop();
    let warned = warnings(&log);
    assert_eq!(warned.len(), 1, "{log}");
    assert!(
        warned[0].contains("saved state ignored") && warned[0].contains("ignored=2"),
        "{log}"
    );
    assert!(std::fs::read_to_string(d.state.join("README.txt")).is_ok());
    assert!(decode(&std::fs::read(&file_a).unwrap(), &a.name, &a.tenant_id).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_tenant_is_not_resurrected() {
    let d = Deployment::new(SimulatorOptions::default(), "1h").await;
    first_run(&d).await;
    let gone = d.sim.tenants()[0].clone();
    let file = d.file_of(&gone.name, &gone.tenant_id);
    d.remove_tenant(&gone.name);
    let daemon = d.start(1);
    let (first, _) = daemon.first_scrape().await;
    assert!(first.up(&gone.name).is_none());
    assert!(first.score_series(&gone.name).is_empty());
    assert!(!file.exists(), "the removed tenant's file is deleted");
    daemon.stop();
    assert_eq!(d.state_files().len(), d.sim.tenants().len() - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_removed_by_a_reload_loses_its_file() {
    let d = Deployment::new(SimulatorOptions::default(), "1h").await;
    first_run(&d).await;
    let gone = d.sim.tenants()[1].clone();
    let file = d.file_of(&gone.name, &gone.tenant_id);
    let daemon = d.start(1);
    daemon.first_scrape().await;
    d.remove_tenant(&gone.name);
    let reload = reqwest::Client::new()
        .post(daemon.url("/-/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while file.exists() {
        assert!(Instant::now() < deadline, "the file outlived the reload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_state_path_nothing_is_written() {
    let mut d = Deployment::new(SimulatorOptions::default(), "1h").await;
    d.set_state_path(false);
    let before: Vec<PathBuf> = listing(d.dir.path());
    let daemon = d.start(0);
    daemon
        .wait_for("every tenant up", 60, |s| {
            d.sim.tenants().iter().all(|t| s.up(&t.name) == Some(1.0))
        })
        .await;
    let s = daemon.scrape().await;
    assert_eq!(s.get("securescore_state_saves_total", &[]), Some(0.0));
    daemon.stop();
    let mut after = listing(d.dir.path());
    after.retain(|p| !p.to_string_lossy().ends_with(".log"));
    assert_eq!(after, before);
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walk(dir);
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_directory_that_cannot_be_used_stops_the_start_with_its_reason() {
    let d = Deployment::new(SimulatorOptions::default(), "1h").await;
    let daemon = d.start(0);
    daemon.first_scrape().await;
    // A second process on the same directory would overwrite the first one's files.
    assert_start_fails(
        &d,
        1,
        &format!(
            "error: starting the exporter: the state directory {} ([state] path) is in use by another securescore_exporter process; give each process its own",
            d.state.display()
        ),
    );
    daemon.stop();
    // A path that cannot be a directory.
    let mut d = d;
    d.state = d.config.join("state");
    d.set_state_path(true);
    assert_start_fails(
        &d,
        2,
        &format!(
            "error: starting the exporter: cannot use the state directory {} ([state] path): Not a directory (os error 20)",
            d.state.display()
        ),
    );
}

/// Start `run` exits 1 with `message` in its log.
fn assert_start_fails(d: &Deployment, run: usize, message: &str) {
    let mut daemon = d.start(run);
    assert_eq!(daemon.child.wait().unwrap().code(), Some(1));
    let log = daemon.log();
    assert!(log.contains(message), "{log}");
}
