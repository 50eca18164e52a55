//! Logging setup: `RUST_LOG` wins, else the configured level; text or JSON lines on stderr.
//!
//! A log line is never worth a refresh, a scrape or a clean exit: when stderr is closed or full
//! (a log shipper that restarted, `| head`), lines are dropped. tracing-subscriber would report a
//! failed write with `eprintln!`, which panics on a closed pipe and takes the task with it, so
//! the writer here reports every write as done. Colour only on a terminal, and never with
//! `NO_COLOR`.

use crate::config::LogFormat;
use std::io::{IsTerminal, Write};
use tracing_subscriber::EnvFilter;

/// stderr that swallows its own errors.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A lost line is better than a panic; there is nowhere left to report it.
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

fn make_stderr() -> Stderr {
    Stderr
}

/// Installs the global subscriber; later calls (tests) are no-ops.
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(make_stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
