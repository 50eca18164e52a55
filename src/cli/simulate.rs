//! `simulate`: only the Graph simulator (for benchmarks and experiments), with a daemon config
//! for it written to `--out`.

use super::shutdown_signal;
use anyhow::Context;
use securescore_exporter::app::demo;
use securescore_sim::{spec, Simulator, SimulatorOptions};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What `simulate` serves.
pub struct Fleet {
    pub listen: SocketAddr,
    pub exporter_listen: String,
    /// `(tenants, history days)` for an MSP fleet; `None` for the demo's four tenants.
    pub fleet: Option<(usize, usize)>,
    pub latency: Option<(Duration, Duration)>,
    pub interval: String,
}

pub async fn run(f: Fleet, out: &Path) -> anyhow::Result<()> {
    let mut options = SimulatorOptions {
        listen: f.listen,
        ..SimulatorOptions::default()
    };
    if let Some((n, days)) = f.fleet {
        options.tenants = spec::fleet_tenants(n, days);
        // Long benchmark runs would otherwise keep every request in memory.
        options.record_requests = false;
    }
    if let Some(l) = f.latency {
        options.latency = l;
    }
    let started = std::time::Instant::now();
    let sim = Simulator::start(options)
        .await
        .context("starting the simulator")?;
    let config = demo::write_files(&sim, out, &[f.exporter_listen], &f.interval)?;
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
