//! `check-config`: validates what the daemon would run with, web config included, and exits
//! 0, or 2 with a message naming the bad key (or flag, or environment variable).

use super::args::DaemonFlags;
use super::{check_web_config, config_failure, load};
use std::process::ExitCode;

pub fn run(flags: &DaemonFlags) -> ExitCode {
    match load(flags).and_then(|c| check_web_config(&c, flags).map(|_| c)) {
        Ok(c) => {
            let names: Vec<&str> = c.tenants.iter().map(|t| t.name.as_str()).collect();
            println!(
                "configuration is valid: {} tenant(s): {}",
                names.len(),
                names.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(e) => config_failure(&e),
    }
}
