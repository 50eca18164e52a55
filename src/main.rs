//! The `securescore_exporter` binary: parses the command line and runs one command
//! (`src/cli/`). Everything else lives in the library.

mod cli;

use clap::Parser;
use cli::args::{Cli, Command};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(command) = &cli.command else {
        if cli::no_tenant_given(&cli.daemon) {
            eprintln!("no --config and no AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET: running the built-in demo (see `securescore_exporter --help`)");
            if let Some(flag) = ["--shard.index", "--shard.count"]
                .into_iter()
                .find(|f| cli.daemon.given().contains(f))
            {
                eprintln!("error: {flag} does not apply to the demo");
                return ExitCode::from(cli::EXIT_CONFIG);
            }
            return cli::demo::run(&cli.daemon, "1h").await;
        }
        return cli::daemon::run(&cli.daemon).await;
    };
    // Daemon flags before the command apply to it where it honours them.
    if let Some(flag) = cli
        .daemon
        .given()
        .into_iter()
        .find(|f| !command.honours().contains(f))
    {
        eprintln!("error: {flag} does not apply to `{}`", command.name());
        return ExitCode::from(cli::EXIT_CONFIG);
    }
    let flags = cli.daemon.under(&command.daemon_flags());
    match command {
        Command::Demo {
            refresh_interval, ..
        } => cli::demo::run(&flags, refresh_interval).await,
        Command::CheckConfig { .. } => cli::check_config::run(&flags),
        Command::Backfill {
            days,
            output,
            labels,
            ..
        } => cli::backfill::run(&flags, *days, output, labels).await,
        Command::Snapshot { format, tenant, .. } => {
            cli::snapshot::run(&flags, *format, tenant.as_deref()).await
        }
        Command::Simulate {
            address,
            out,
            exporter_listen,
            tenants,
            history_days,
            latency,
            interval,
            ..
        } => {
            if let Err(e) = cli::init_logging_from_flags(&flags.log) {
                return cli::config_failure(&e);
            }
            let fleet = cli::simulate::Fleet {
                listen: *address,
                exporter_listen: exporter_listen.clone(),
                fleet: tenants.map(|n| (n, *history_days)),
                latency: *latency,
                interval: interval.clone(),
            };
            match cli::simulate::run(fleet, out).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
