//! The daemon: serves `/metrics` and the pages, refreshes every tenant, reloads on SIGHUP and
//! `POST /-/reload`, stops on SIGTERM or SIGINT.

use super::args::DaemonFlags;
use super::{config_failure, init_logging, load, shutdown_signal, web_config_error};
use anyhow::Context;
use securescore_exporter::app::{App, AppError, ConfigLoader};
use securescore_exporter::config::Config;
use securescore_exporter::http::ReloadRequest;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// Reloads on SIGHUP until the process ends.
fn reload_on_sighup(sender: tokio::sync::mpsc::Sender<ReloadRequest>) {
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

/// Runs `config` until a signal stops it; `loader` re-reads the configuration for reloads.
pub async fn serve(config: Config, loader: Option<ConfigLoader>) -> anyhow::Result<()> {
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

/// The exit code for a daemon that ended with `result`: a web config that cannot be used is a
/// configuration error (2), like every other, reported before anything listens.
pub fn exit_code(result: anyhow::Result<()>, flags: &DaemonFlags) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<AppError>() {
            Some(AppError::WebConfig(w)) => config_failure(&web_config_error(w.to_string(), flags)),
            _ => {
                tracing::error!(error = format!("{e:#}"), "exporter failed");
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// `securescore_exporter [--config F]`: the daemon with a real configuration.
pub async fn run(flags: &DaemonFlags) -> ExitCode {
    let config = match load(flags) {
        Ok(c) => c,
        Err(e) => return config_failure(&e),
    };
    init_logging(&config);
    let for_reload = flags.clone();
    let loader: ConfigLoader = std::sync::Arc::new(move || load(&for_reload));
    exit_code(serve(config, Some(loader)).await, flags)
}
