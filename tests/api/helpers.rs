//! Starting a simulator plus daemon, scraping, parsing the exposition, waiting with timeouts.

use securescore_exporter::app::App;
use securescore_exporter::config::{AzureEnv, Config};
use securescore_sim::spec::TenantSpec;
use securescore_sim::{Simulator, SimulatorOptions};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Knobs of one test deployment.
pub struct Setup {
    pub sim: SimulatorOptions,
    pub interval: &'static str,
    pub failure_backoff: &'static str,
    pub retry_backoff: &'static str,
    pub max_retries: u32,
    pub timeout: &'static str,
    /// Tenants to configure (by simulator name); all when empty.
    pub only: Vec<&'static str>,
    /// Per tenant name: a client secret to use instead of the right one.
    pub wrong_secret: Vec<&'static str>,
    pub extra_graph: &'static str,
    /// Extra lines in `[refresh]`.
    pub extra_refresh: &'static str,
    /// TOML lines for a tenant's credential (default: its client secret); files go in the dir.
    pub credential: Option<CredentialFn>,
    /// Extra TOML appended after the tenants (e.g. `[credentials.NAME]` tables).
    pub extra_toml: String,
    /// The Azure environment the config sees (managed-identity endpoints, authority host).
    pub azure: AzureEnv,
    /// Builds that environment from the running simulator (its IMDS port is known only then).
    pub azure_from_sim: Option<AzureFromSim>,
    /// A web config (exporter-toolkit YAML), written next to the config and referenced by it.
    pub web_config: Option<String>,
    /// Runs on the simulator before the daemon starts (to change what it serves).
    pub prepare: Option<PrepareFn>,
}

/// Changes what the simulator serves before the daemon starts.
pub type PrepareFn = Box<dyn Fn(&Simulator) + Send + Sync>;

/// Builds the Azure environment from the running simulator.
pub type AzureFromSim = Box<dyn Fn(&Simulator) -> AzureEnv + Send + Sync>;

/// Writes a tenant's credential keys; gets the spec and a directory for files.
pub type CredentialFn = Box<dyn Fn(&TenantSpec, &std::path::Path) -> String + Send + Sync>;

impl Default for Setup {
    fn default() -> Self {
        Setup {
            sim: SimulatorOptions::default(),
            interval: "1h",
            failure_backoff: "1s",
            retry_backoff: "50ms",
            max_retries: 2,
            timeout: "5s",
            only: Vec::new(),
            wrong_secret: Vec::new(),
            extra_graph: "",
            extra_refresh: "",
            credential: None,
            extra_toml: String::new(),
            azure: AzureEnv::default(),
            azure_from_sim: None,
            web_config: None,
            prepare: None,
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub sim: Simulator,
    pub specs: Vec<TenantSpec>,
    pub http: reqwest::Client,
    pub config_path: std::path::PathBuf,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

thread_local! {
    /// Log lines emitted on this thread: each `#[tokio::test]` runs its daemon on one thread.
    static THREAD_LOG: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes log lines into the emitting thread's buffer (and to stderr with TEST_LOG).
struct ThreadLog;

impl std::io::Write for ThreadLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        THREAD_LOG.with(|l| l.borrow_mut().extend_from_slice(buf));
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// This thread's log so far.
pub fn thread_log() -> String {
    THREAD_LOG.with(|l| String::from_utf8_lossy(&l.borrow()).to_string())
}

/// One global subscriber for the whole test binary (a scoped one can miss callsites that other
/// threads registered first).
pub fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_writer(|| ThreadLog)
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .try_init();
    });
}

/// A tenant credential that signs in with `pem` (certificate and key), written to `file`.
pub fn certificate_credential(file: &'static str, pem: String) -> CredentialFn {
    Box::new(move |t, dir| {
        let path = dir.join(file);
        std::fs::write(&path, &pem).unwrap();
        format!(
            "client_id = {}\nclient_certificate_path = {}\n",
            q(&t.client_id),
            q(&path.to_string_lossy())
        )
    })
}

pub fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Writes the config file for `setup` against `sim`.
pub fn write_config(dir: &std::path::Path, sim: &Simulator, setup: &Setup) -> std::path::PathBuf {
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sim.ca_pem()).unwrap();
    let mut text = format!(
        "[graph]\nlogin_url = {url}\ngraph_url = {url}\nca_file = {ca}\ntimeout = {timeout}\nmax_retries = {retries}\nretry_backoff = {backoff}\n{extra}\n[refresh]\ninterval = {interval}\nfailure_backoff = {fb}\n{extra_refresh}\n[web]\nlisten_address = [\"127.0.0.1:0\"]\n{web}",
        url = q(sim.base_url()),
        ca = q(&ca.to_string_lossy()),
        timeout = q(setup.timeout),
        retries = setup.max_retries,
        backoff = q(setup.retry_backoff),
        extra = setup.extra_graph,
        interval = q(setup.interval),
        fb = q(setup.failure_backoff),
        extra_refresh = setup.extra_refresh,
        web = match &setup.web_config {
            Some(yaml) => {
                let path = dir.join("web.yml");
                std::fs::write(&path, yaml).unwrap();
                format!("config_file = {}\n", q(&path.to_string_lossy()))
            }
            None => String::new(),
        },
    );
    for t in sim.tenants() {
        if !setup.only.is_empty() && !setup.only.contains(&t.name.as_str()) {
            continue;
        }
        let secret = if setup.wrong_secret.contains(&t.name.as_str()) {
            "definitely-not-the-secret".to_string()
        } else {
            t.client_secret.clone()
        };
        let credential = match &setup.credential {
            Some(f) => f(&t, dir),
            None => format!(
                "client_id = {}\nclient_secret = {}\n",
                q(&t.client_id),
                q(&secret)
            ),
        };
        text.push_str(&format!(
            "\n[[tenants]]\nname = {}\ntenant_id = {}\n{credential}",
            q(&t.name),
            q(&t.tenant_id),
        ));
    }
    text.push_str(&setup.extra_toml);
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

pub async fn spawn_app(setup: Setup) -> TestApp {
    init_logs();
    let sim = Simulator::start(setup.sim.clone())
        .await
        .expect("simulator starts");
    if let Some(prepare) = &setup.prepare {
        prepare(&sim);
    }
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &sim, &setup);
    let azure = match &setup.azure_from_sim {
        Some(f) => f(&sim),
        None => setup.azure.clone(),
    };
    let config = Config::load(Some(&config_path), &azure).expect("test config is valid");
    let (path, env) = (config_path.clone(), azure.clone());
    let loader: securescore_exporter::app::ConfigLoader =
        std::sync::Arc::new(move || Config::load(Some(&path), &env));
    let app = App::build_with_loader(&config, Some(loader))
        .await
        .expect("app builds");
    let addr = app.local_addrs()[0];
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(app.run_until(shutdown.clone()));
    TestApp {
        addr,
        specs: sim.tenants(),
        sim,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        config_path,
        shutdown,
        task: Some(task),
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn spec(&self, name: &str) -> &TenantSpec {
        self.specs
            .iter()
            .find(|s| s.name == name)
            .expect("known tenant")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("exporter answers")
    }

    pub async fn metrics_text(&self) -> String {
        let r = self.get("/metrics").await;
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    pub async fn scrape(&self) -> Scrape {
        Scrape::parse(&self.metrics_text().await)
    }

    /// Scrapes until `pred` holds, failing after `secs`.
    pub async fn wait_for(&self, what: &str, secs: u64, pred: impl Fn(&Scrape) -> bool) -> Scrape {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.scrape().await;
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {secs}s waiting for: {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for every configured tenant's first refresh attempt.
    pub async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.get("/-/ready").await.status() != 200 {
            assert!(Instant::now() < deadline, "not ready after 20s");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), t)
                .await
                .expect("daemon stops within 15 s")
                .expect("daemon task did not panic");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// One sample of the text exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed `/metrics` body.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    pub help: BTreeMap<String, String>,
    pub types: BTreeMap<String, String>,
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let name = name.trim_start_matches(',').trim().to_string();
        if name.is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label value starts with a quote");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(o) => value.push(o),
                    None => break,
                },
                '"' => break,
                o => value.push(o),
            }
        }
        out.insert(name, value);
    }
    out
}

fn split_sample(line: &str) -> (&str, &str, &str) {
    match line.find('{') {
        Some(open) => {
            // The label block ends at the last '}' (values may contain braces).
            let close = line.rfind('}').expect("closing brace");
            (
                &line[..open],
                &line[open + 1..close],
                line[close + 1..].trim(),
            )
        }
        None => {
            let (n, v) = line.split_once(' ').expect("name value");
            (n, "", v.trim())
        }
    }
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let mut samples = Vec::new();
        let mut help = BTreeMap::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (n, h) = rest.split_once(' ').unwrap_or((rest, ""));
                help.insert(n.to_string(), h.to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (n, t) = rest.split_once(' ').unwrap_or((rest, ""));
                types.insert(n.to_string(), t.to_string());
            } else if !line.is_empty() && !line.starts_with('#') {
                let (name, labels, value) = split_sample(line);
                let value = match value.split_whitespace().next().unwrap_or("") {
                    "+Inf" => f64::INFINITY,
                    "-Inf" => f64::NEG_INFINITY,
                    v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
                };
                samples.push(Sample {
                    name: name.to_string(),
                    labels: parse_labels(labels),
                    value,
                });
            }
        }
        Scrape {
            samples,
            help,
            types,
        }
    }

    fn matches(s: &Sample, name: &str, labels: &[(&str, &str)]) -> bool {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
    }

    /// The samples of `name` whose labels include `labels`.
    pub fn all(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| Self::matches(s, name, labels))
            .collect()
    }

    /// The value of the one sample of `name` with `labels`; panics when there are several.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.all(name, labels);
        assert!(
            found.len() <= 1,
            "{name}{labels:?} matches {} samples",
            found.len()
        );
        found.first().map(|s| s.value)
    }

    /// `securescore_refresh_failures_total{tenant, reason}`.
    pub fn failures(&self, tenant: &str, reason: &str) -> Option<f64> {
        self.get(
            "securescore_refresh_failures_total",
            &[("tenant", tenant), ("reason", reason)],
        )
    }

    /// `securescore_graph_requests_total{endpoint, code}`.
    pub fn requests(&self, endpoint: &str, code: &str) -> Option<f64> {
        self.get(
            "securescore_graph_requests_total",
            &[("endpoint", endpoint), ("code", code)],
        )
    }

    pub fn up(&self, tenant: &str) -> Option<f64> {
        self.get("securescore_up", &[("tenant", tenant)])
    }

    /// Every per-tenant score series of `tenant` (everything but the exporter's own).
    pub fn score_series(&self, tenant: &str) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.labels.get("tenant").map(String::as_str) == Some(tenant))
            .filter(|s| {
                !matches!(
                    s.name.as_str(),
                    "securescore_up"
                        | "securescore_last_refresh_success_timestamp_seconds"
                        | "securescore_refresh_failures_total"
                        | "securescore_graph_partial_responses_total"
                )
            })
            .collect()
    }
}

/// A JSON number, or a number sent as a string.
pub fn num(v: &serde_json::Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Polls `f` until it returns true, failing after `secs`.
pub async fn eventually<F, Fut>(what: &str, secs: u64, f: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A tool that `scripts/test` installs into `target/tools/<dir>`: its directory once `marker`
/// (a path inside it) exists. Tests never install anything themselves.
pub fn installed_tool(dir: &str, marker: &str, what: &str) -> std::path::PathBuf {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/tools")
        .join(dir);
    assert!(
        root.join(marker).exists(),
        "{what} is not installed in {}: run ./scripts/test, whose install step puts it there",
        root.display()
    );
    root
}

/// `promtool check metrics` on `body`: its whole report (empty when it finds nothing).
pub fn promtool_check_metrics(body: &[u8]) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (apt-get install prometheus; scripts/test does it)");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {report}");
    report
}

/// A child process that is killed when the test lets go of it, so a failing assertion never
/// leaves a daemon or a Prometheus running.
pub struct KillOnDrop(pub std::process::Child);

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Turns an OpenMetrics file into TSDB blocks with promtool and starts a Prometheus (no scrape,
/// no rules, 400-day retention) on them; returns it once ready, with its port.
pub async fn prometheus_on_backfill(
    om: &std::path::Path,
    dir: &std::path::Path,
) -> (KillOnDrop, u16) {
    use std::process::{Command, Stdio};
    let tsdb = dir.join("tsdb");
    let mut cmd = Command::new("promtool");
    cmd.args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(om)
        .arg(&tsdb);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("promtool is installed");
    assert!(
        out.status.success(),
        "promtool: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = crate::cli::free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, "global:\n  scrape_interval: 1m\n").unwrap();
    let prom = KillOnDrop(
        Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg("--storage.tsdb.retention.time=400d")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed"),
    );
    crate::cli::wait_http_ok(&format!("http://127.0.0.1:{port}/-/ready"), 30).await;
    (prom, port)
}
