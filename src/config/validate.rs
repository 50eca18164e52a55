//! Validation: every value checked, every tenant resolved to its credential, the tenant
//! filter and this replica's shard applied. Errors name the key and its source.

use super::credentials::build_credential;
use super::load::invalid;
use super::raw::{RawSettings, RawTenant};
use super::series_filter::{ControlsMode, Patterns, SeriesFilter};
use super::shard::shard_of;
use super::tenant_files::read_tenant_files;
use super::{
    AzureEnv, Config, ConfigError, GraphConfig, LogConfig, LogFormat, ManagedIdentityEndpoints,
    RefreshConfig, TenantConfig, DEFAULT_IMDS_URL,
};
use crate::core::cloud::Cloud;
use crate::core::secret::Secret;
use figment::Figment;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

/// Parses `:10057`, `0.0.0.0:10057`, `[::]:10057` or `localhost:10057`.
pub fn parse_listen_address(addr: &str) -> Result<SocketAddr, String> {
    let addr = addr.trim();
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else if let Some(rest) = addr.strip_prefix("localhost:") {
        format!("127.0.0.1:{rest}")
    } else {
        addr.to_string()
    };
    full.parse::<SocketAddr>().map_err(|_| {
        format!("`{addr}` is not a host:port address such as `:10057` or `127.0.0.1:10057`")
    })
}

pub(crate) fn normalise_url(fig: &Figment, key: &str, value: &str) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(value)
        .map_err(|e| invalid(fig, key, format!("`{value}` is not a URL: {e}")))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(invalid(
            fig,
            key,
            format!("`{value}` must be an http or https URL"),
        ));
    }
    if url.host_str().is_none() {
        return Err(invalid(fig, key, format!("`{value}` has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            fig,
            key,
            format!("`{value}` must not have a query or fragment"),
        ));
    }
    Ok(value.trim_end_matches('/').to_string())
}
/// Tenant ids go into the token URL path: a GUID or a verified domain, nothing else.
pub(crate) fn valid_tenant_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 253
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// `log.format`: `text` (or `logfmt`) or `json`, in any case.
pub fn log_format(value: &str) -> Result<LogFormat, String> {
    match value.to_ascii_lowercase().as_str() {
        "text" | "logfmt" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("`{other}` is not one of `text`, `json`")),
    }
}

/// `log.level`: a level or a tracing filter directive.
pub fn check_log_level(value: &str) -> Result<(), String> {
    match tracing_subscriber::EnvFilter::try_new(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "`{value}` is not a level (error, warn, info, debug, trace) or filter directive"
        )),
    }
}

pub(crate) fn validate(
    raw: RawSettings,
    fig: &Figment,
    azure: &AzureEnv,
) -> Result<Config, ConfigError> {
    let cloud =
        Cloud::parse(&raw.graph.cloud).map_err(|reason| invalid(fig, "graph.cloud", reason))?;
    let login_url = match (&raw.graph.login_url, &azure.authority_host) {
        (Some(u), _) => normalise_url(fig, "graph.login_url", u)?,
        (None, Some(host)) => normalise_url(fig, "AZURE_AUTHORITY_HOST", host)?,
        (None, None) => cloud.login_url().to_string(),
    };
    let graph_url = match &raw.graph.graph_url {
        Some(u) => normalise_url(fig, "graph.graph_url", u)?,
        None => cloud.graph_url().to_string(),
    };
    let ca_pem = match &raw.graph.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                invalid(
                    fig,
                    "graph.ca_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                invalid(
                    fig,
                    "graph.ca_file",
                    format!("{} holds no usable PEM certificate: {e}", path.display()),
                )
            })?;
            if certs.is_empty() {
                return Err(invalid(
                    fig,
                    "graph.ca_file",
                    format!("{} holds no PEM certificate", path.display()),
                ));
            }
            Some(pem)
        }
        None => None,
    };
    if raw.graph.timeout.is_zero() {
        return Err(invalid(fig, "graph.timeout", "must be greater than zero"));
    }
    if raw.graph.max_concurrent_requests == 0 || raw.graph.max_concurrent_requests > 4 {
        return Err(invalid(
            fig,
            "graph.max_concurrent_requests",
            "must be between 1 and 4 (Graph allows 4 concurrent secure-score requests per tenant)",
        ));
    }
    if raw.graph.app_request_limit == 0 || raw.graph.app_request_window.is_zero() {
        return Err(invalid(
            fig,
            "graph.app_request_limit",
            "the limit and graph.app_request_window must be above zero",
        ));
    }
    if raw.refresh.interval.is_zero() {
        return Err(invalid(
            fig,
            "refresh.interval",
            "must be greater than zero",
        ));
    }
    if raw.refresh.max_concurrent_tenants == 0 {
        return Err(invalid(
            fig,
            "refresh.max_concurrent_tenants",
            "must be at least 1",
        ));
    }
    if raw.refresh.failure_backoff.is_zero() {
        return Err(invalid(
            fig,
            "refresh.failure_backoff",
            "must be greater than zero",
        ));
    }
    let format = log_format(&raw.log.format).map_err(|r| invalid(fig, "log.format", r))?;
    check_log_level(&raw.log.level).map_err(|r| invalid(fig, "log.level", r))?;
    let mut listen = Vec::new();
    for (i, addr) in raw.web.listen_address.iter().enumerate() {
        listen.push(
            parse_listen_address(addr)
                .map_err(|reason| invalid(fig, format!("web.listen_address[{i}]"), reason))?,
        );
    }
    if listen.is_empty() {
        return Err(invalid(
            fig,
            "web.listen_address",
            "needs at least one address",
        ));
    }

    let mut named = BTreeMap::new();
    for (name, cred) in &raw.credentials {
        let key = format!("credentials.{name}");
        let built = build_credential(fig, &key, cred)?;
        named.insert(name.clone(), Arc::new(built));
    }

    // Where each tenant was defined, for error messages: `tenants[i]` or `FILE:LINE`.
    let mut raw_tenants: Vec<RawTenant> = raw.tenants;
    let mut origins: Vec<String> = (0..raw_tenants.len())
        .map(|i| format!("tenants[{i}]"))
        .collect();
    for (path, line, t) in read_tenant_files(fig, &raw.tenant_files)? {
        origins.push(format!("{}:{line}", path.display()));
        raw_tenants.push(t);
    }
    if raw_tenants.is_empty() && azure.is_complete() {
        raw_tenants.push(azure.tenant());
        origins.push("AZURE_TENANT_ID".into());
    }
    if raw_tenants.is_empty() {
        return Err(invalid(
            fig,
            "tenants",
            "no tenant configured: add a [[tenants]] table, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
        ));
    }
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mut tenants = Vec::with_capacity(raw_tenants.len());
    for (i, t) in raw_tenants.iter().enumerate() {
        let key = origins[i].clone();
        let tenant_id = t
            .tenant_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(fig, format!("{key}.tenant_id"), "is required"))?
            .to_string();
        if !valid_tenant_id(&tenant_id) {
            return Err(invalid(
                fig,
                format!("{key}.tenant_id"),
                format!("`{tenant_id}` is not a tenant GUID or domain name"),
            ));
        }
        let name = t.name.clone().unwrap_or_else(|| tenant_id.clone());
        if name.is_empty() {
            return Err(invalid(fig, format!("{key}.name"), "must not be empty"));
        }
        if !names.insert(name.clone()) {
            return Err(invalid(
                fig,
                format!("{key}.name"),
                format!("duplicate tenant name `{name}`"),
            ));
        }
        if !ids.insert(tenant_id.to_ascii_lowercase()) {
            return Err(invalid(
                fig,
                format!("{key}.tenant_id"),
                format!("duplicate tenant_id `{tenant_id}`"),
            ));
        }
        let (credential_name, credential) = match &t.credential {
            Some(cname) => {
                if t.has_inline_credential() || t.client_id.is_some() {
                    return Err(invalid(
                        fig,
                        format!("{key}.credential"),
                        "a tenant that references a named credential must not also set credential keys",
                    ));
                }
                let cred = named.get(cname).ok_or_else(|| {
                    invalid(
                        fig,
                        format!("{key}.credential"),
                        format!("no [credentials.{cname}] table is defined"),
                    )
                })?;
                (cname.clone(), cred.clone())
            }
            None => (
                name.clone(),
                Arc::new(build_credential(fig, &key, &t.inline_credential())?),
            ),
        };
        tenants.push(TenantConfig {
            name,
            tenant_id,
            credential_name,
            credential,
        });
    }

    if raw.history.days > crate::core::history::MAX_DAYS {
        return Err(invalid(
            fig,
            "history.days",
            format!(
                "{} is more than {} (Graph keeps 90 daily records)",
                raw.history.days,
                crate::core::history::MAX_DAYS
            ),
        ));
    }
    let history_days = raw.history.days;
    let state_path = match raw.state.path {
        Some(p) if p.as_os_str().is_empty() => {
            return Err(invalid(
                fig,
                "state.path",
                "is empty; leave it out to keep no state",
            ))
        }
        Some(p) if p.is_file() => {
            return Err(invalid(
                fig,
                "state.path",
                format!("{} is a file; it must name a directory", p.display()),
            ))
        }
        other => other,
    };

    let controls = match raw.metrics.controls.as_deref() {
        None => ControlsMode::All,
        Some(v) => ControlsMode::parse(v).ok_or_else(|| {
            invalid(
                fig,
                "metrics.controls",
                format!("`{v}` is not one of `all`, `incomplete`, `none`"),
            )
        })?,
    };
    let series = SeriesFilter {
        controls,
        categories: Patterns {
            include: raw.metrics.include_categories,
            exclude: raw.metrics.exclude_categories,
        },
        services: Patterns {
            include: raw.metrics.include_services,
            exclude: raw.metrics.exclude_services,
        },
    };
    let tenant_filter = Patterns {
        include: raw.metrics.include_tenants,
        exclude: raw.metrics.exclude_tenants,
    };
    tenants.retain(|t| tenant_filter.allows(&t.name));
    let shard = match (raw.shard.index, raw.shard.count) {
        (None, None) => None,
        (Some(i), Some(n)) if n > 0 && i < n => Some((i, n)),
        (Some(_), Some(_)) => {
            return Err(invalid(
                fig,
                "shard.index",
                "must be below shard.count, and shard.count above 0",
            ))
        }
        _ => {
            return Err(invalid(
                fig,
                "shard.count",
                "shard.index and shard.count go together",
            ))
        }
    };
    if let Some((i, n)) = shard {
        tenants.retain(|t| shard_of(&t.name, n) == i);
    }
    Ok(Config {
        graph: GraphConfig {
            scope: format!("{}/.default", cloud.graph_url()),
            cloud,
            login_url,
            graph_url,
            ca_pem,
            timeout: raw.graph.timeout,
            max_retries: raw.graph.max_retries,
            retry_backoff: raw.graph.retry_backoff,
            max_concurrent_requests: raw.graph.max_concurrent_requests,
            app_request_limit: raw.graph.app_request_limit,
            app_request_window: raw.graph.app_request_window,
            managed_identity: ManagedIdentityEndpoints {
                identity_endpoint: azure.identity_endpoint.clone(),
                identity_header: azure.identity_header.clone().map(Secret::new),
                imds_url: azure
                    .imds_host
                    .as_deref()
                    .unwrap_or(DEFAULT_IMDS_URL)
                    .trim_end_matches('/')
                    .to_string(),
            },
        },
        refresh: RefreshConfig {
            interval: raw.refresh.interval,
            failure_backoff: raw.refresh.failure_backoff,
            max_concurrent_tenants: raw.refresh.max_concurrent_tenants,
        },
        log: LogConfig {
            level: raw.log.level,
            format,
        },
        listen,
        web_config_file: raw.web.config_file,
        healthy_without_auth: raw.web.healthy_without_auth,
        series,
        shard,
        history_days,
        state_path,
        tenants,
    })
}
