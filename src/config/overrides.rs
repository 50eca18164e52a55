//! Settings given on the command line. They reach the configuration through one path: a
//! figment provider named "command line", merged over the file and the environment, so a flag
//! is validated exactly like the key it sets, and errors name the flag.

use super::ConfigError;
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};
use std::path::PathBuf;

/// The provider's name in errors and metadata.
pub const SOURCE: &str = "command line";

/// Each overridable key and the flag that sets it.
pub const FLAGS: [(&str, &str); 6] = [
    ("web.listen_address", "--web.listen-address"),
    ("web.config_file", "--web.config.file"),
    ("shard.index", "--shard.index"),
    ("shard.count", "--shard.count"),
    ("log.level", "--log.level"),
    ("log.format", "--log.format"),
];

/// The flag that sets `key` (`web.listen_address[1]` → `--web.listen-address`).
pub fn flag_of(key: &str) -> Option<&'static str> {
    let base = key.split('[').next().unwrap_or(key);
    FLAGS.iter().find(|(k, _)| *k == base).map(|(_, f)| *f)
}

/// Command-line settings; `None` or empty leaves the key to the file and environment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub listen_address: Vec<String>,
    pub web_config_file: Option<PathBuf>,
    /// A shard number, or `hostname`: the trailing number of `$HOSTNAME`, as in a StatefulSet
    /// pod name (`securescore-exporter-2` → 2).
    pub shard_index: Option<String>,
    pub shard_count: Option<u32>,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
}

impl Overrides {
    /// `shard.index` as given, `hostname` resolved.
    fn shard_index(&self) -> Result<Option<u32>, ConfigError> {
        let Some(given) = &self.shard_index else {
            return Ok(None);
        };
        let index = if given == "hostname" {
            let host = std::env::var("HOSTNAME").unwrap_or_default();
            host.rsplit('-').next().unwrap_or_default().to_string()
        } else {
            given.clone()
        };
        index
            .parse::<u32>()
            .map(Some)
            .map_err(|_| ConfigError::Invalid {
                key: "--shard.index".into(),
                origin: format!(" (from the {SOURCE})"),
                reason: format!(
                    "`{index}` is not a shard number (or `hostname` with a trailing -N)"
                ),
            })
    }

    /// The provider to merge last.
    pub fn provider(&self) -> Result<CommandLine, ConfigError> {
        let mut web = Dict::new();
        if !self.listen_address.is_empty() {
            let list = self.listen_address.iter().cloned().map(Value::from);
            web.insert(
                "listen_address".into(),
                Value::from(list.collect::<Vec<_>>()),
            );
        }
        if let Some(path) = &self.web_config_file {
            let path = path.to_string_lossy().to_string();
            web.insert("config_file".into(), Value::from(path));
        }
        let mut shard = Dict::new();
        if let Some(index) = self.shard_index()? {
            shard.insert("index".into(), Value::from(index));
        }
        if let Some(count) = self.shard_count {
            shard.insert("count".into(), Value::from(count));
        }
        let mut log = Dict::new();
        if let Some(level) = &self.log_level {
            log.insert("level".into(), Value::from(level.clone()));
        }
        if let Some(format) = &self.log_format {
            log.insert("format".into(), Value::from(format.clone()));
        }
        let mut root = Dict::new();
        for (name, table) in [("web", web), ("shard", shard), ("log", log)] {
            if !table.is_empty() {
                root.insert(name.into(), Value::from(table));
            }
        }
        Ok(CommandLine(root))
    }
}

/// The command-line settings as a figment provider.
pub struct CommandLine(Dict);

impl Provider for CommandLine {
    fn metadata(&self) -> Metadata {
        Metadata::named(SOURCE)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}
