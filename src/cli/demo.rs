//! `demo`: the daemon against the built-in Graph simulator. The listen address, the web
//! config (TLS, basic auth) and the log flags apply as they do to the daemon.

use super::args::DaemonFlags;
use super::daemon::{exit_code, serve};
use super::{config_failure, init_logging};
use anyhow::Context;
use securescore_exporter::app::demo::{self, DemoError};
use securescore_exporter::app::ConfigLoader;
use securescore_exporter::config::{AzureEnv, Config};
use std::process::ExitCode;

pub async fn run(flags: &DaemonFlags, refresh_interval: &str) -> ExitCode {
    let listen = vec!["127.0.0.1:10057".to_string()];
    let overrides = flags.overrides();
    let options = securescore_sim::SimulatorOptions::default();
    let demo = match demo::prepare(options, &listen, refresh_interval, &overrides).await {
        Ok(d) => d,
        Err(DemoError::Config(e)) => return config_failure(&e),
        Err(e) => {
            let e = Err(anyhow::Error::new(e)).context("preparing the demo");
            return exit_code(e, flags);
        }
    };
    init_logging(&demo.config);
    let scheme = if demo.config.web_config_file.is_some() {
        "https or http, as the web config says"
    } else {
        "http"
    };
    tracing::info!(
        simulator = demo.simulator.base_url(),
        config = %demo.config_path.display(),
        "demo: the daemon reads the built-in Graph simulator; open /metrics on {} ({scheme})",
        demo.config.listen[0]
    );
    let path = demo.config_path.clone();
    let loader: ConfigLoader = std::sync::Arc::new(move || {
        Config::load_with(Some(&path), &AzureEnv::default(), &overrides)
    });
    let result = serve(demo.config.clone(), Some(loader)).await;
    drop(demo);
    exit_code(result, flags)
}
