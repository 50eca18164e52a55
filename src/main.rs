//! The `securescore_exporter` binary: parses the command line, sets up logging, loads the
//! config and runs the daemon until SIGTERM or SIGINT. Everything else lives in the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use securescore_exporter::app::App;
use securescore_exporter::config::{AzureEnv, Config, LogFormat};
use securescore_exporter::{demo, simulator, telemetry};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Exit code for a configuration that cannot be used.
const EXIT_CONFIG: u8 = 2;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "securescore_exporter",
    version,
    about = "Microsoft Secure Score exporter for Prometheus"
)]
struct Cli {
    /// Config file (TOML). Without it, AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET define
    /// one tenant; with neither, the exporter runs the built-in demo.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (repeatable); overrides web.listen_address.
    #[arg(long = "web.listen-address", global = true, value_name = "ADDR")]
    listen: Vec<String>,
    /// TLS, mutual TLS, basic auth and headers, in the exporter-toolkit web-config format
    /// (overrides web.config_file).
    #[arg(long = "web.config.file", global = true, value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// This replica's shard index (overrides shard.index). `hostname` takes the trailing number
    /// of $HOSTNAME, as in a StatefulSet pod name (`securescore-exporter-2` → 2).
    #[arg(long = "shard.index", global = true, value_name = "N|hostname")]
    shard_index: Option<String>,
    /// Number of shards (overrides shard.count).
    #[arg(long = "shard.count", global = true, value_name = "N")]
    shard_count: Option<u32>,
    /// Log level or filter (overrides log.level; RUST_LOG wins over both).
    #[arg(long = "log.level", global = true, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Log format: text or json (overrides log.format).
    #[arg(long = "log.format", global = true, value_name = "FORMAT")]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ReportFormat {
    Json,
    Csv,
    Markdown,
}

#[derive(Subcommand, Debug, Clone)]
enum Command {
    /// Run the daemon against the built-in Microsoft Graph simulator (no credentials, no network).
    Demo {
        /// Refresh interval of the demo daemon.
        #[arg(long = "refresh.interval", default_value = "1h")]
        refresh_interval: String,
    },
    /// Validate the configuration and exit: 0 if good, 2 with a message naming the bad key.
    CheckConfig,
    /// Write up to N days of history as OpenMetrics for `promtool tsdb create-blocks-from openmetrics`.
    Backfill {
        /// Days of history per tenant (Graph keeps 90).
        #[arg(long, default_value_t = 90)]
        days: usize,
        /// Output file (OpenMetrics text, ending in `# EOF`).
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        /// Extra label on every series, e.g. `--label job=securescore --label instance=host:10057`
        /// (what Prometheus adds at scrape time), so backfilled series continue the live ones.
        #[arg(long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
    },
    /// Fetch every tenant once and print a report; non-zero exit if any tenant failed.
    Snapshot {
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: ReportFormat,
    },
    /// Run only the Graph simulator (for benchmarks and experiments) and write a daemon config for it.
    Simulate {
        /// Address of the simulator's HTTPS listener.
        #[arg(long = "listen", default_value = "127.0.0.1:8443")]
        address: std::net::SocketAddr,
        /// Directory for the CA certificate and the generated config.toml.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Listen address written into the generated config.
        #[arg(long = "exporter.listen-address", default_value = "127.0.0.1:10057")]
        exporter_listen: String,
        /// Serve an MSP fleet of this many tenants sharing one multi-tenant app, instead of
        /// the demo's four.
        #[arg(long, value_name = "N")]
        tenants: Option<usize>,
        /// Days of history per fleet tenant (1 to 90).
        #[arg(long = "history-days", default_value_t = 1)]
        history_days: usize,
        /// Every Graph answer waits a random time in MIN..MAX, e.g. `100ms..400ms`.
        #[arg(long, value_name = "MIN..MAX", value_parser = parse_latency)]
        latency: Option<(std::time::Duration, std::time::Duration)>,
        /// The refresh interval written into the generated config.
        #[arg(long, default_value = "1h")]
        interval: String,
    },
}

fn log_format(cli: &Cli, config: Option<&Config>) -> LogFormat {
    match cli.log_format.as_deref() {
        Some(f) if f.eq_ignore_ascii_case("json") => LogFormat::Json,
        Some(_) => LogFormat::Text,
        None => config.map(|c| c.log.format).unwrap_or(LogFormat::Text),
    }
}

fn init_logging(cli: &Cli, config: Option<&Config>) {
    let level = cli
        .log_level
        .clone()
        .or_else(|| config.map(|c| c.log.level.clone()))
        .unwrap_or_else(|| "info".into());
    telemetry::init(&level, log_format(cli, config));
}

fn load(cli: &Cli) -> Result<Config, securescore_exporter::config::ConfigError> {
    let mut overrides = Vec::new();
    if let Some(index) = &cli.shard_index {
        let index = if index == "hostname" {
            let host = std::env::var("HOSTNAME").unwrap_or_default();
            host.rsplit('-').next().unwrap_or_default().to_string()
        } else {
            index.clone()
        };
        if index.parse::<u32>().is_err() {
            return Err(securescore_exporter::config::ConfigError::Invalid {
                key: "--shard.index".into(),
                origin: " (from the command line)".into(),
                reason: format!(
                    "`{index}` is not a shard number (or `hostname` with a trailing -N)"
                ),
            });
        }
        overrides.push(("shard.index", index));
    }
    if let Some(count) = cli.shard_count {
        overrides.push(("shard.count", count.to_string()));
    }
    let mut config =
        Config::load_with(cli.config.as_deref(), &AzureEnv::from_process(), &overrides)?;
    if !cli.listen.is_empty() {
        config.listen = cli
            .listen
            .iter()
            .map(|a| {
                securescore_exporter::config::parse_listen_address(a).map_err(|reason| {
                    securescore_exporter::config::ConfigError::Invalid {
                        key: "--web.listen-address".into(),
                        origin: " (from the command line)".into(),
                        reason,
                    }
                })
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(path) = &cli.web_config_file {
        config.web_config_file = Some(path.clone());
    }
    if let Some(path) = &config.web_config_file {
        // A bad web config is a configuration error, reported before anything listens.
        securescore_exporter::web_config::WebConfig::load(path).map_err(|e| {
            securescore_exporter::config::ConfigError::Invalid {
                key: "--web.config.file".into(),
                origin: String::new(),
                reason: e.to_string(),
            }
        })?;
    }
    Ok(config)
}

/// Loads the configuration, or prints why not and gives the exit code for it.
/// `backfill` and `snapshot` with no `--config` and no `AZURE_*` credentials read the built-in
/// demo's simulator, like the daemon does (compose backfills the demo's history this way).
/// The returned demo keeps the simulator running.
async fn config_or_demo(cli: &Cli) -> Result<(Config, Option<demo::Demo>), ExitCode> {
    if cli.config.is_some() || AzureEnv::from_process().is_complete() {
        return load_or_report(cli).map(|c| (c, None));
    }
    eprintln!("no --config and no AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET: reading the built-in demo's simulator");
    let listen = ["127.0.0.1:0".to_string()];
    match demo::prepare(simulator::SimulatorOptions::default(), &listen, "1h").await {
        Ok(d) => Ok((d.config.clone(), Some(d))),
        Err(e) => {
            eprintln!("error: {}", securescore_exporter::error::chain(&e));
            Err(ExitCode::FAILURE)
        }
    }
}

fn load_or_report(cli: &Cli) -> Result<Config, ExitCode> {
    load(cli).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

async fn shutdown_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        _ = term => tracing::info!("SIGTERM received, shutting down"),
    }
    token.cancel();
}

/// Reloads on SIGHUP until the process ends.
fn reload_on_sighup(sender: tokio::sync::mpsc::Sender<securescore_exporter::app::ReloadRequest>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received, reloading the configuration");
            let (reply, answer) = tokio::sync::oneshot::channel();
            if sender.send(reply).await.is_err() {
                return;
            }
            let _ = answer.await;
        }
    });
}

async fn run(
    config: Config,
    loader: Option<securescore_exporter::app::ConfigLoader>,
) -> anyhow::Result<()> {
    if config.refresh.interval < std::time::Duration::from_secs(60) {
        tracing::warn!(
            interval = %humantime::format_duration(config.refresh.interval),
            "refresh.interval is under a minute: Graph's Secure Score changes once a day, so this only spends Graph quota"
        );
    }
    let app = App::build_with_loader(&config, loader)
        .await
        .context("starting the exporter")?;
    reload_on_sighup(app.reload_sender());
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        tenants = config.tenants.len(),
        cloud = config.graph.cloud.as_str(),
        "securescore_exporter started"
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(shutdown_signal(shutdown.clone()));
    app.run_until(shutdown).await;
    tracing::info!("stopped");
    Ok(())
}

async fn run_demo(cli: &Cli, refresh_interval: &str) -> anyhow::Result<()> {
    let listen = if cli.listen.is_empty() {
        vec!["127.0.0.1:10057".to_string()]
    } else {
        cli.listen.clone()
    };
    let demo = demo::prepare(
        simulator::SimulatorOptions::default(),
        &listen,
        refresh_interval,
    )
    .await
    .context("preparing the demo")?;
    init_logging(cli, Some(&demo.config));
    tracing::info!(
        simulator = demo.simulator.base_url(),
        config = %demo.config_path.display(),
        "demo: the daemon reads the built-in Graph simulator; open http://{}/metrics",
        listen[0]
    );
    let path = demo.config_path.clone();
    let loader: securescore_exporter::app::ConfigLoader =
        std::sync::Arc::new(move || Config::load(Some(&path), &AzureEnv::default()));
    run(demo.config.clone(), Some(loader)).await
}

fn parse_latency(s: &str) -> Result<(std::time::Duration, std::time::Duration), String> {
    let (lo, hi) = s
        .split_once("..")
        .ok_or_else(|| format!("`{s}` is not MIN..MAX (e.g. 100ms..400ms)"))?;
    let d = |v: &str| humantime::parse_duration(v.trim()).map_err(|e| format!("`{v}`: {e}"));
    let (lo, hi) = (d(lo)?, d(hi)?);
    if lo > hi {
        return Err(format!("`{s}`: MIN is above MAX"));
    }
    Ok((lo, hi))
}

async fn run_simulator(
    listen: std::net::SocketAddr,
    out: &std::path::Path,
    exporter_listen: &str,
    fleet: Option<(usize, usize)>,
    latency: Option<(std::time::Duration, std::time::Duration)>,
    interval: &str,
) -> anyhow::Result<()> {
    let mut options = simulator::SimulatorOptions {
        listen,
        ..simulator::SimulatorOptions::default()
    };
    if let Some((n, days)) = fleet {
        options.tenants = simulator::data::fleet_tenants(n, days);
        // Long benchmark runs would otherwise keep every request in memory.
        options.record_requests = false;
    }
    if let Some(l) = latency {
        options.latency = l;
    }
    let started = std::time::Instant::now();
    let sim = simulator::Simulator::start(options)
        .await
        .context("starting the simulator")?;
    let config = demo::write_files(&sim, out, &[exporter_listen.to_string()], interval)?;
    tracing::info!(
        tenants = sim.tenants().len(),
        took_ms = started.elapsed().as_millis() as u64,
        "simulator data generated"
    );
    tracing::info!(url = sim.base_url(), config = %config.display(), "simulator running; start the exporter with --config on that file");
    let token = CancellationToken::new();
    shutdown_signal(token.clone()).await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Simulate {
            address,
            out,
            exporter_listen,
            tenants,
            history_days,
            latency,
            interval,
        }) => {
            init_logging(&cli, None);
            let fleet = tenants.map(|n| (n, *history_days));
            match run_simulator(*address, out, exporter_listen, fleet, *latency, interval).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::CheckConfig) => match load(&cli) {
            Ok(c) => {
                let names: Vec<&str> = c.tenants.iter().map(|t| t.name.as_str()).collect();
                println!(
                    "configuration is valid: {} tenant(s): {}",
                    names.len(),
                    names.join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Some(Command::Backfill {
            days,
            output,
            labels,
        }) => {
            let (config, _demo) = match config_or_demo(&cli).await {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(&cli, Some(&config));
            let labels = match securescore_exporter::backfill::parse_labels(labels) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let started = std::time::Instant::now();
            match securescore_exporter::backfill::run(&config, *days, output, &labels).await {
                Ok(s) => {
                    eprintln!(
                        "wrote {}: {} tenant(s), up to {} day(s), {} samples, {} bytes in {:.1} s",
                        output.display(),
                        s.tenants_written,
                        s.days_written,
                        s.samples,
                        s.bytes,
                        started.elapsed().as_secs_f64()
                    );
                    for (tenant, error) in &s.failures {
                        eprintln!("error: tenant {tenant}: {error}");
                    }
                    if s.failures.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("error: {}", securescore_exporter::error::chain(&e));
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Snapshot { format }) => {
            let (config, _demo) = match config_or_demo(&cli).await {
                Ok(c) => c,
                Err(code) => return code,
            };
            // Reports go to stdout; keep the log quiet unless asked.
            if cli.log_level.is_none() {
                telemetry::init("warn", log_format(&cli, Some(&config)));
            } else {
                init_logging(&cli, Some(&config));
            }
            match securescore_exporter::report::collect(&config).await {
                Ok(report) => {
                    let text = match format {
                        ReportFormat::Json => securescore_exporter::report::to_json(&report),
                        ReportFormat::Csv => securescore_exporter::report::to_csv(&report),
                        ReportFormat::Markdown => {
                            securescore_exporter::report::to_markdown(&report)
                        }
                    };
                    print!("{text}");
                    for t in report.tenants.iter().filter(|t| t.status == "error") {
                        eprintln!(
                            "error: tenant {}: {}",
                            t.tenant,
                            t.error.as_deref().unwrap_or("")
                        );
                    }
                    if report.any_failed() {
                        ExitCode::FAILURE
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("error: {}", securescore_exporter::error::chain(&e));
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Demo { refresh_interval }) => match run_demo(&cli, refresh_interval).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        None => {
            if cli.config.is_none() && !AzureEnv::from_process().is_complete() {
                eprintln!("no --config and no AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET: running the built-in demo (see `securescore_exporter --help`)");
                return match run_demo(&cli, "1h").await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        ExitCode::FAILURE
                    }
                };
            }
            let config = match load_or_report(&cli) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(&cli, Some(&config));
            let for_reload = cli.clone();
            let loader: securescore_exporter::app::ConfigLoader =
                std::sync::Arc::new(move || load(&for_reload));
            match run(config, Some(loader)).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "exporter failed");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
