//! The command line: each command takes only the flags it honours. The daemon's flags may
//! also stand before a command (`--config F check-config`), as the container's CMD and the
//! systemd unit give them; a flag the command does not honour is then an error.

use clap::{Args, Parser, Subcommand, ValueEnum};
use securescore_exporter::config::Overrides;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "securescore_exporter",
    version,
    about = "Microsoft Secure Score exporter for Prometheus",
    long_about = "Microsoft Secure Score exporter for Prometheus.\n\nWith no command it runs the \
                  daemon: with --config, or one tenant from AZURE_TENANT_ID/AZURE_CLIENT_ID/\
                  AZURE_CLIENT_SECRET, or, with neither, the built-in demo."
)]
pub struct Cli {
    #[command(flatten)]
    pub daemon: DaemonFlags,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The daemon flags of each group below, by name.
const CONFIG: &[&str] = &["--config"];
const WEB: &[&str] = &["--web.listen-address", "--web.config.file"];
const SHARD: &[&str] = &["--shard.index", "--shard.count"];
const LOG: &[&str] = &["--log.level", "--log.format"];

/// Where the configuration comes from.
#[derive(Args, Debug, Clone, Default)]
pub struct ConfigFlag {
    /// Config file (TOML). Without it, AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET
    /// define one tenant; with neither, the built-in demo's simulator is read.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// How the HTTP server listens.
#[derive(Args, Debug, Clone, Default)]
pub struct WebFlags {
    /// Address to listen on (repeatable); overrides web.listen_address.
    #[arg(long = "web.listen-address", value_name = "ADDR")]
    pub listen: Vec<String>,
    /// TLS, mutual TLS, basic auth and headers, in the exporter-toolkit web-config format
    /// (overrides web.config_file).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,
}

/// Which shard this replica is.
#[derive(Args, Debug, Clone, Default)]
pub struct ShardFlags {
    /// This replica's shard index (overrides shard.index). `hostname` takes the trailing number
    /// of $HOSTNAME, as in a StatefulSet pod name (`securescore-exporter-2` → 2).
    #[arg(long = "shard.index", value_name = "N|hostname")]
    pub shard_index: Option<String>,
    /// Number of shards (overrides shard.count).
    #[arg(long = "shard.count", value_name = "N")]
    pub shard_count: Option<u32>,
}

/// Logging.
#[derive(Args, Debug, Clone, Default)]
pub struct LogFlags {
    /// Log level or filter (overrides log.level; RUST_LOG wins over both).
    #[arg(long = "log.level", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log format: text or json (overrides log.format).
    #[arg(long = "log.format", value_name = "FORMAT")]
    pub log_format: Option<String>,
}

/// Everything the daemon honours.
#[derive(Args, Debug, Clone, Default)]
pub struct DaemonFlags {
    #[command(flatten)]
    pub config: ConfigFlag,
    #[command(flatten)]
    pub web: WebFlags,
    #[command(flatten)]
    pub shard: ShardFlags,
    #[command(flatten)]
    pub log: LogFlags,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ReportFormat {
    Json,
    Csv,
    Markdown,
    /// The printable report: one self-contained HTML file (styles inline, nothing fetched).
    Html,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Run the daemon against the built-in Microsoft Graph simulator (no credentials, no network).
    Demo {
        #[command(flatten)]
        web: WebFlags,
        #[command(flatten)]
        log: LogFlags,
        /// Refresh interval of the demo daemon.
        #[arg(long = "refresh.interval", default_value = "1h")]
        refresh_interval: String,
    },
    /// Validate the configuration and exit: 0 if good, 2 with a message naming the bad key.
    CheckConfig {
        #[command(flatten)]
        daemon: DaemonFlags,
    },
    /// Write up to N days of history as OpenMetrics for `promtool tsdb create-blocks-from openmetrics`.
    Backfill {
        #[command(flatten)]
        config: ConfigFlag,
        #[command(flatten)]
        shard: ShardFlags,
        #[command(flatten)]
        log: LogFlags,
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
        #[command(flatten)]
        config: ConfigFlag,
        #[command(flatten)]
        shard: ShardFlags,
        #[command(flatten)]
        log: LogFlags,
        /// Output format.
        #[arg(long, value_enum, default_value = "markdown")]
        format: ReportFormat,
        /// Only this tenant (its `name`): only it is fetched and decides the exit code.
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
    },
    /// Run only the Graph simulator (for benchmarks and experiments) and write a daemon config for it.
    Simulate {
        #[command(flatten)]
        log: LogFlags,
        /// Address of the simulator's HTTPS listener.
        #[arg(long = "listen", default_value = "127.0.0.1:8443")]
        address: SocketAddr,
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
        latency: Option<(Duration, Duration)>,
        /// The refresh interval written into the generated config.
        #[arg(long, default_value = "1h")]
        interval: String,
    },
}

pub fn parse_latency(s: &str) -> Result<(Duration, Duration), String> {
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

/// `b`'s value where it has one, else `a`'s.
fn either<T: Clone>(a: &Option<T>, b: &Option<T>) -> Option<T> {
    b.clone().or_else(|| a.clone())
}

impl DaemonFlags {
    /// These flags given before a command, merged under the command's own (which win).
    pub fn under(&self, own: &DaemonFlags) -> DaemonFlags {
        DaemonFlags {
            config: ConfigFlag {
                config: either(&self.config.config, &own.config.config),
            },
            web: WebFlags {
                listen: if own.web.listen.is_empty() {
                    self.web.listen.clone()
                } else {
                    own.web.listen.clone()
                },
                web_config_file: either(&self.web.web_config_file, &own.web.web_config_file),
            },
            shard: ShardFlags {
                shard_index: either(&self.shard.shard_index, &own.shard.shard_index),
                shard_count: either(&self.shard.shard_count, &own.shard.shard_count),
            },
            log: LogFlags {
                log_level: either(&self.log.log_level, &own.log.log_level),
                log_format: either(&self.log.log_format, &own.log.log_format),
            },
        }
    }

    /// The flags that were given, by name: for refusing those a command does not honour.
    pub fn given(&self) -> Vec<&'static str> {
        [
            (CONFIG[0], self.config.config.is_some()),
            (WEB[0], !self.web.listen.is_empty()),
            (WEB[1], self.web.web_config_file.is_some()),
            (SHARD[0], self.shard.shard_index.is_some()),
            (SHARD[1], self.shard.shard_count.is_some()),
            (LOG[0], self.log.log_level.is_some()),
            (LOG[1], self.log.log_format.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect()
    }

    /// What reaches the configuration through its command-line provider.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            listen_address: self.web.listen.clone(),
            web_config_file: self.web.web_config_file.clone(),
            shard_index: self.shard.shard_index.clone(),
            shard_count: self.shard.shard_count,
            log_level: self.log.log_level.clone(),
            log_format: self.log.log_format.clone(),
        }
    }
}

impl Command {
    /// The daemon flags this command honours, from its own flags.
    pub fn daemon_flags(&self) -> DaemonFlags {
        match self {
            Command::Demo { web, log, .. } => DaemonFlags {
                web: web.clone(),
                log: log.clone(),
                ..DaemonFlags::default()
            },
            Command::CheckConfig { daemon } => daemon.clone(),
            Command::Backfill {
                config, shard, log, ..
            }
            | Command::Snapshot {
                config, shard, log, ..
            } => DaemonFlags {
                config: config.clone(),
                shard: shard.clone(),
                log: log.clone(),
                ..DaemonFlags::default()
            },
            Command::Simulate { log, .. } => DaemonFlags {
                log: log.clone(),
                ..DaemonFlags::default()
            },
        }
    }

    /// The daemon flags this command honours, by name: the groups it flattens.
    pub fn honours(&self) -> Vec<&'static str> {
        let groups: &[&[&'static str]] = match self {
            Command::Demo { .. } => &[WEB, LOG],
            Command::CheckConfig { .. } => &[CONFIG, WEB, SHARD, LOG],
            Command::Backfill { .. } | Command::Snapshot { .. } => &[CONFIG, SHARD, LOG],
            Command::Simulate { .. } => &[LOG],
        };
        groups.concat()
    }

    pub fn name(&self) -> &'static str {
        match self {
            Command::Demo { .. } => "demo",
            Command::CheckConfig { .. } => "check-config",
            Command::Backfill { .. } => "backfill",
            Command::Snapshot { .. } => "snapshot",
            Command::Simulate { .. } => "simulate",
        }
    }
}
