//! What the commands share: loading the configuration through its one path (the command-line
//! flags reach it as a figment provider), logging, the demo fallback, and signals.

pub mod args;
pub mod backfill;
pub mod check_config;
pub mod daemon;
pub mod demo;
pub mod simulate;
pub mod snapshot;

use args::{DaemonFlags, LogFlags};
use securescore_exporter::app::{demo as demo_mode, telemetry};
use securescore_exporter::config::validate::{check_log_level, log_format};
use securescore_exporter::config::{AzureEnv, Config, ConfigError, LogFormat};
use securescore_exporter::http::web_config::WebConfig;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Exit code for a configuration that cannot be used.
pub const EXIT_CONFIG: u8 = 2;

/// Prints a configuration error and gives its exit code.
pub fn config_failure(e: &ConfigError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_CONFIG)
}

/// Loads and validates the configuration `flags` name. The web config it points to is read
/// where it is used: by the server (`App::build`), or by `check-config`.
pub fn load(flags: &DaemonFlags) -> Result<Config, ConfigError> {
    Config::load_with(
        flags.config.config.as_deref(),
        &AzureEnv::from_process(),
        &flags.overrides(),
    )
}

/// A web config that cannot be used, as a configuration error naming the flag or the key that
/// chose the file.
pub fn web_config_error(reason: String, flags: &DaemonFlags) -> ConfigError {
    let (key, origin) = match &flags.web.web_config_file {
        Some(_) => ("--web.config.file", " (from the command line)"),
        None => ("web.config_file", ""),
    };
    ConfigError::Invalid {
        key: key.into(),
        origin: origin.into(),
        reason,
    }
}

/// `check-config`'s look at the web config (the daemon reads it once, when it starts serving).
pub fn check_web_config(config: &Config, flags: &DaemonFlags) -> Result<(), ConfigError> {
    match &config.web_config_file {
        Some(path) => WebConfig::load(path)
            .map(|_| ())
            .map_err(|e| web_config_error(e.to_string(), flags)),
        None => Ok(()),
    }
}

/// True when neither a config file nor the Azure variables name a tenant: the demo runs.
pub fn no_tenant_given(flags: &DaemonFlags) -> bool {
    flags.config.config.is_none() && !AzureEnv::from_process().is_complete()
}

/// Logging from the validated configuration (where the flags already took effect).
pub fn init_logging(config: &Config) {
    telemetry::init(&config.log.level, config.log.format);
}

/// Logging from the flags alone, for commands without a configuration.
pub fn init_logging_from_flags(log: &LogFlags) -> Result<(), ConfigError> {
    let bad = |key: &str, reason| ConfigError::Invalid {
        key: key.into(),
        origin: " (from the command line)".into(),
        reason,
    };
    let level = log.log_level.clone().unwrap_or_else(|| "info".into());
    check_log_level(&level).map_err(|r| bad("--log.level", r))?;
    let format = match &log.log_format {
        Some(f) => log_format(f).map_err(|r| bad("--log.format", r))?,
        None => LogFormat::Text,
    };
    telemetry::init(&level, format);
    Ok(())
}

/// The configuration, or, with no `--config` and no `AZURE_*` credentials, the built-in demo's
/// simulator (compose backfills the demo's history this way); the demo keeps it running.
pub async fn config_or_demo(
    flags: &DaemonFlags,
) -> Result<(Config, Option<demo_mode::Demo>), ExitCode> {
    if !no_tenant_given(flags) {
        return load(flags)
            .map(|c| (c, None))
            .map_err(|e| config_failure(&e));
    }
    eprintln!("no --config and no AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET: reading the built-in demo's simulator");
    let listen = ["127.0.0.1:0".to_string()];
    let options = securescore_sim::SimulatorOptions::default();
    match demo_mode::prepare(options, &listen, "1h", &flags.overrides()).await {
        Ok(d) => Ok((d.config.clone(), Some(d))),
        Err(demo_mode::DemoError::Config(e)) => Err(config_failure(&e)),
        Err(e) => {
            eprintln!("error: {}", securescore_exporter::source::error::chain(&e));
            Err(ExitCode::FAILURE)
        }
    }
}

/// Waits for SIGINT or SIGTERM, then cancels `token`.
pub async fn shutdown_signal(token: CancellationToken) {
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
