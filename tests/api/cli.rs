//! The binary as users run it: check-config exit codes, demo, signals, and what reaches the log.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_securescore_exporter");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A command with no inherited SECURESCORE_/AZURE_ variables.
pub fn exporter() -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("SECURESCORE_") || k.starts_with("AZURE_") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}

pub fn terminate(child: &std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

/// SIGTERM, then the exit status within 15 s.
pub fn terminate_and_wait(child: &mut std::process::Child) -> std::process::ExitStatus {
    terminate(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "no exit within 15 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for `url` to answer 200.
pub async fn wait_http_ok(url: &str, secs: u64) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(r) = client.get(url).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{url} not OK after {secs}s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn check_config_accepts_the_example_config() {
    let out = exporter()
        .args(["check-config", "--config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration is valid"));
}

#[test]
fn check_config_names_the_bad_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[refresh]\ninterval = \"1h\"\nbogus = 1\n", "bogus"),
        ("[graph]\ncloud = \"china\"\n", "graph.cloud"),
        ("[graph]\ntimeout = \"forever\"\n", "graph.timeout"),
        (
            "[[tenants]]\ntenant_id = \"t\"\nclient_id = \"c\"\n",
            "tenants[0].client_secret",
        ),
    ];
    for (text, key) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = exporter()
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{key}: {err}");
        assert!(err.contains("bad.toml"), "names the file: {err}");
    }
    let out = exporter()
        .args(["check-config", "--config", "/nonexistent/config.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Environment overrides are named as the source.
    let path = dir.path().join("ok.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml"),
        &path,
    )
    .unwrap();
    let out = exporter()
        .args(["check-config", "--config"])
        .arg(&path)
        .env("SECURESCORE_GRAPH__MAX_RETRIES", "many")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.to_lowercase().contains("max_retries") && err.contains("SECURESCORE_"),
        "{err}"
    );
}

#[test]
fn azure_environment_convention_defines_a_tenant() {
    let out = exporter()
        .arg("check-config")
        .env("AZURE_TENANT_ID", "00000000-0000-0000-0000-00000000abcd")
        .env("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111")
        .env("AZURE_CLIENT_SECRET", "shh")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("00000000-0000-0000-0000-00000000abcd"));
}

#[tokio::test]
async fn demo_runs_without_credentials_never_logs_secrets_at_trace_level_and_stops_on_sigterm() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("exporter.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // No subcommand, no config, no AZURE_*: the default command runs the demo.
    let mut child = exporter()
        .args([
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--log.level",
            "debug",
        ])
        .env("TMPDIR", dir.path())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    wait_http_ok(&format!("http://127.0.0.1:{port}/-/ready"), 30).await;
    let body = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for t in ["contoso", "fabrikam", "northwind"] {
        assert!(
            body.contains(&format!("securescore_current_points{{tenant=\"{t}\"}}")),
            "{t}"
        );
    }
    let status = terminate_and_wait(&mut child);
    assert!(status.success(), "{status:?}");
    let mut logs = String::new();
    std::fs::File::open(&log_path)
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("refresh complete"), "{logs}");
    assert!(logs.contains("SIGTERM"), "{logs}");
    for spec in securescore_sim::spec::demo_tenants() {
        assert!(
            !logs.contains(&spec.client_secret),
            "client secret of {} in the log",
            spec.name
        );
    }
    assert!(
        !logs.contains("eyJ0eXAi"),
        "an access token reached the log"
    );
}

#[tokio::test]
async fn a_simulated_fleet_is_served_through_one_shared_credential_and_a_tenant_file() {
    let dir = tempfile::tempdir().unwrap();
    let sim_port = free_port();
    let mut sim = exporter()
        .args(["simulate", "--tenants", "130", "--latency", "5ms..20ms"])
        .args(["--listen", &format!("127.0.0.1:{sim_port}"), "--out"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let config = dir.path().join("config.toml");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !config.exists() {
        assert!(Instant::now() < deadline, "simulate wrote no config");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An MSP's layout: one multi-tenant app, the tenants in a generated CSV.
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[credentials.msp]") && text.contains("tenant_files"));
    let csv = std::fs::read_to_string(dir.path().join("tenants.csv")).unwrap();
    assert_eq!(csv.lines().count(), 131, "a header and 130 tenants");
    let port = free_port();
    let mut daemon = exporter()
        .arg("--config")
        .arg(&config)
        .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_http_ok(&format!("http://127.0.0.1:{port}/-/ready"), 120).await;
    // More tenants than one block of the exposition: every one is up, once.
    let body = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let up: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("securescore_up{"))
        .collect();
    assert_eq!(up.len(), 130);
    assert!(up.iter().all(|l| l.ends_with(" 1")), "{up:?}");
    // Every tenant names the shared credential it signs in with.
    let info: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("securescore_tenant_info{"))
        .collect();
    assert_eq!(info.len(), 130);
    assert!(
        info.iter().all(|l| l.contains("credential=\"msp\"")),
        "{info:?}"
    );
    assert_eq!(
        body.lines()
            .filter(|l| l.starts_with("# HELP securescore_up "))
            .count(),
        1
    );
    terminate(&daemon);
    terminate(&sim);
    let _ = daemon.wait();
    let _ = sim.wait();
}

/// Bad inputs, each with the exact message and exit code a user sees: file keys, values,
/// environment overrides and flags, all through the one configuration path.
#[test]
fn bad_inputs_get_precise_messages() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[[tenants]]\nname = \"a\"\ntenant_id = \"00000000-0000-0000-0000-000000000001\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
    let files = [
        ("base.toml", String::new()),
        ("unknown.toml", "[graph]\ntimout_x = \"1s\"\n".to_string()),
        ("duration.toml", "[graph]\ntimeout = \"5x\"\n".to_string()),
        (
            "number.toml",
            "[graph]\nmax_retries = \"many\"\n".to_string(),
        ),
        ("format.toml", "[log]\nformat = \"xml\"\n".to_string()),
        ("history.toml", "[history]\ndays = 91\n".to_string()),
        ("state.toml", "[state]\npath = \"base.toml\"\n".to_string()),
    ];
    for (name, extra) in &files {
        std::fs::write(dir.path().join(name), format!("{base}{extra}")).unwrap();
    }
    std::fs::write(dir.path().join("broken.toml"), "[graph\n").unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing-key.pem\n",
    )
    .unwrap();
    // (arguments, environment, the exact message)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            &["check-config", "--config", "unknown.toml"],
            &[],
            "error: invalid configuration: unknown key `graph.timout_x` (from TOML file unknown.toml); expected one of: cloud, login_url, graph_url, ca_file, timeout, max_retries, retry_backoff, max_concurrent_requests, app_request_limit, app_request_window",
        ),
        (
            &["check-config", "--config", "duration.toml"],
            &[],
            "error: invalid configuration: key `graph.timeout` (from TOML file duration.toml): `5x` is not a duration such as `30s`, `5m` or `1h`",
        ),
        (
            &["check-config", "--config", "number.toml"],
            &[],
            "error: invalid configuration: key `graph.max_retries` (from TOML file number.toml): `many` is not a whole number",
        ),
        (
            &["check-config", "--config", "format.toml"],
            &[],
            "error: invalid configuration: key `log.format` (from TOML file format.toml): `xml` is not one of `text`, `json`",
        ),
        (
            &["check-config", "--config", "history.toml"],
            &[],
            "error: invalid configuration: key `history.days` (from TOML file history.toml): 91 is more than 90 (Graph keeps 90 daily records)",
        ),
        (
            &["check-config", "--config", "state.toml"],
            &[],
            "error: invalid configuration: key `state.path` (from TOML file state.toml): base.toml is a file; it must name a directory",
        ),
        (
            &["check-config", "--config", "base.toml"],
            &[("SECURESCORE_STATE__PATH", "base.toml")],
            "error: invalid configuration: key `state.path` (from the environment variable SECURESCORE_STATE__PATH): base.toml is a file; it must name a directory",
        ),
        (
            &["check-config", "--config", "broken.toml"],
            &[],
            "error: cannot read config file broken.toml: TOML parse error at line 1, column 7: invalid table header; expected `.`, `]`",
        ),
        (
            &["check-config", "--config", "missing.toml"],
            &[],
            "error: cannot read config file missing.toml: No such file or directory (os error 2)",
        ),
        (
            &["check-config", "--config", "base.toml"],
            &[("SECURESCORE_GRAPH__TIMEOUT", "abc")],
            "error: invalid configuration: key `graph.timeout` (from the environment variable SECURESCORE_GRAPH__TIMEOUT): `abc` is not a duration such as `30s`, `5m` or `1h`",
        ),
        (
            &["check-config", "--config", "base.toml"],
            &[("SECURESCORE_REFRESH__INTERVAL", "0s")],
            "error: invalid configuration: key `refresh.interval` (from the environment variable SECURESCORE_REFRESH__INTERVAL): must be greater than zero",
        ),
        (
            &["check-config", "--config", "base.toml", "--log.format", "xml"],
            &[],
            "error: invalid configuration: key `--log.format` (from the command line): `xml` is not one of `text`, `json`",
        ),
        (
            &["check-config", "--config", "base.toml", "--log.level", "no=such=thing"],
            &[],
            "error: invalid configuration: key `--log.level` (from the command line): `no=such=thing` is not a level (error, warn, info, debug, trace) or filter directive",
        ),
        (
            &["--log.format", "xml", "check-config", "--config", "base.toml"],
            &[],
            "error: invalid configuration: key `--log.format` (from the command line): `xml` is not one of `text`, `json`",
        ),
        (
            &["check-config", "--config", "base.toml", "--web.listen-address", "nope"],
            &[],
            "error: invalid configuration: key `--web.listen-address` (from the command line): `nope` is not a host:port address such as `:10057` or `127.0.0.1:10057`",
        ),
        (
            &["check-config", "--config", "base.toml", "--shard.index", "x", "--shard.count", "2"],
            &[],
            "error: invalid configuration: key `--shard.index` (from the command line): `x` is not a shard number (or `hostname` with a trailing -N)",
        ),
        (
            &["check-config", "--config", "base.toml", "--shard.index", "5", "--shard.count", "2"],
            &[],
            "error: invalid configuration: key `--shard.index` (from the command line): must be below shard.count, and shard.count above 0",
        ),
        (
            &["--config", "base.toml", "--web.config.file", "web.yml", "--web.listen-address", "127.0.0.1:0"],
            &[],
            "error: invalid configuration: key `--web.config.file` (from the command line): web config web.yml: tls_server_config.cert_file: cannot read missing.pem: No such file or directory (os error 2)",
        ),
        (
            &["demo", "--web.config.file", "web.yml", "--web.listen-address", "127.0.0.1:0", "--log.level", "error"],
            &[],
            "error: invalid configuration: key `--web.config.file` (from the command line): web config web.yml: tls_server_config.cert_file: cannot read missing.pem: No such file or directory (os error 2)",
        ),
        (
            &["check-config", "--config", "base.toml", "--web.config.file", "web.yml"],
            &[],
            "error: invalid configuration: key `--web.config.file` (from the command line): web config web.yml: tls_server_config.cert_file: cannot read missing.pem: No such file or directory (os error 2)",
        ),
        (
            &["--config", "base.toml", "demo"],
            &[],
            "error: --config does not apply to `demo`",
        ),
        (
            &["--shard.count", "2", "simulate", "--out", "x"],
            &[],
            "error: --shard.count does not apply to `simulate`",
        ),
    ];
    for (args, env, want) in cases {
        let out = exporter()
            .args(*args)
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end(), *want, "{args:?} {env:?}");
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {err}");
    }
}

/// Each command's `--help` lists the flags it honours and no other daemon flag.
#[test]
fn each_command_lists_only_its_own_flags() {
    let all = [
        "--config",
        "--web.listen-address",
        "--web.config.file",
        "--shard.index",
        "--shard.count",
        "--log.level",
        "--log.format",
    ];
    let cases: &[(&str, &[&str])] = &[
        (
            "demo",
            &[
                "--web.listen-address",
                "--web.config.file",
                "--log.level",
                "--log.format",
            ],
        ),
        ("check-config", &all),
        (
            "backfill",
            &[
                "--config",
                "--shard.index",
                "--shard.count",
                "--log.level",
                "--log.format",
            ],
        ),
        (
            "snapshot",
            &[
                "--config",
                "--shard.index",
                "--shard.count",
                "--log.level",
                "--log.format",
            ],
        ),
        ("simulate", &["--log.level", "--log.format"]),
    ];
    for (command, own) in cases {
        let out = exporter().args([command, "--help"]).output().unwrap();
        assert!(out.status.success(), "{command} --help");
        let help = String::from_utf8_lossy(&out.stdout);
        for flag in all {
            let listed = help.contains(&format!("{flag} "));
            assert_eq!(
                listed,
                own.contains(&flag),
                "{command} --help and {flag}:\n{help}"
            );
        }
    }
    let out = exporter().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in all {
        assert!(
            help.contains(&format!("{flag} ")),
            "the daemon lists {flag}"
        );
    }
}

/// A closed log pipe costs log lines only: the daemon keeps refreshing and serving, and exits
/// cleanly on SIGTERM (`securescore_exporter demo 2>&1 | head -1`, journald restarts, log
/// shippers that go away).
#[tokio::test]
async fn a_closed_log_pipe_never_takes_the_daemon_down() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = exporter()
        .args(["demo", "--refresh.interval", "2s", "--web.listen-address"])
        .arg(format!("127.0.0.1:{port}"))
        .env("TMPDIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the first bytes, as `head -c` would, then go away.
    let mut first = [0u8; 16];
    child.stderr.take().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    wait_http_ok(&format!("http://127.0.0.1:{port}/-/ready"), 30).await;
    // Refreshes (each one logs) go on after the pipe closed: the snapshot time of a refresh
    // keeps being served and the tenants stay up.
    let body = |port| async move {
        reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let success = |text: &str| -> f64 {
        text.lines()
            .find(|l| {
                l.starts_with(
                    "securescore_last_refresh_success_timestamp_seconds{tenant=\"contoso\"}",
                )
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let before = success(&body(port).await);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = body(port).await;
        if success(&text) > before {
            assert!(
                text.contains("securescore_up{tenant=\"contoso\"} 1"),
                "{text}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no refresh after the log pipe closed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = terminate_and_wait(&mut child);
    assert!(status.success(), "{status:?}");
    // And the demo left nothing behind in its temp directory.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "the demo left {left:?}");
}

/// Every command that runs the demo's simulator (the daemon, `snapshot`, `backfill`) removes
/// its directory (the simulator's secrets, key and CA) when it exits.
#[test]
fn demo_runs_leave_no_directory_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("history.om");
    let runs: [&[&str]; 2] = [
        &["snapshot", "--format", "json"],
        &[
            "backfill",
            "--days",
            "2",
            "--output",
            out_file.to_str().unwrap(),
        ],
    ];
    for args in runs {
        let tmp = tempfile::tempdir().unwrap();
        let out = exporter()
            .args(args)
            .env("TMPDIR", tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
}
