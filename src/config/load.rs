//! Where configuration comes from: the exact config file, `SECURESCORE_*` environment
//! overrides and the Azure convention, merged by figment, and how a key's source is named in
//! errors.

use super::describe::describe;
use super::raw::RawSettings;
use super::validate::validate;
use super::{AzureEnv, Config, ConfigError, Overrides, ENV_PREFIX};
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use std::path::Path;

/// Builds the figment: the exact file (if any), then `SECURESCORE_*` overrides.
pub fn figment(path: Option<&Path>) -> Figment {
    let mut fig = Figment::new();
    if let Some(path) = path {
        // file_exact: a typo in --config must be an error, not a silent empty config.
        fig = fig.merge(Toml::file_exact(path));
    }
    fig.merge(Env::prefixed(ENV_PREFIX).split("__"))
}

impl Config {
    /// Loads and validates: `path` (if given), the environment, and the Azure convention.
    pub fn load(path: Option<&Path>, azure: &AzureEnv) -> Result<Config, ConfigError> {
        Config::load_with(path, azure, &Overrides::default())
    }

    /// Like [`Config::load`], with command-line settings on top of everything else.
    pub fn load_with(
        path: Option<&Path>,
        azure: &AzureEnv,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let fig = figment(path).merge(overrides.provider()?);
        let raw: RawSettings = fig.extract().map_err(|e| ConfigError::Parse(describe(e)))?;
        validate(raw, &fig, azure)
    }
}

impl Config {
    /// Loads from TOML text instead of a file (for fuzzing and embedding); no environment.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let fig = Figment::new().merge(Toml::string(text));
        let raw: RawSettings = fig.extract().map_err(|e| ConfigError::Parse(describe(e)))?;
        validate(raw, &fig, &AzureEnv::default())
    }
}

/// Describes where a key came from, e.g. ` in TOML file /etc/x/config.toml`.
pub(crate) fn origin_of(fig: &Figment, key: &str) -> String {
    match fig.find_metadata(key) {
        Some(md) if md.name == super::overrides::SOURCE => {
            format!(" (from the {})", super::overrides::SOURCE)
        }
        Some(md) if md.name.contains("environment") => format!(
            " (from the environment variable {ENV_PREFIX}{})",
            key.replace('.', "__").to_ascii_uppercase()
        ),
        Some(md) => match &md.source {
            Some(src) => format!(" (from {} {})", md.name, src),
            None => format!(" (from {})", md.name),
        },
        None => String::new(),
    }
}

pub(crate) fn invalid(
    fig: &Figment,
    key: impl Into<String>,
    reason: impl Into<String>,
) -> ConfigError {
    let key = key.into();
    // Attribute to the most specific key figment knows; array elements share their array's source.
    let lookup = key.split('[').next().unwrap_or(&key).to_string();
    let origin = origin_of(fig, &lookup);
    // Name the key as the user wrote it: the flag, or the environment variable.
    let key = match fig.find_metadata(&lookup) {
        Some(md) if md.name == super::overrides::SOURCE => super::overrides::flag_of(&key)
            .map(str::to_string)
            .unwrap_or(key),
        _ => key,
    };
    ConfigError::Invalid {
        origin,
        key,
        reason: reason.into(),
    }
}
