//! `tenant_files`: generated tenant lists (TOML `[[tenants]]` tables or CSV, as MSP tooling
//! exports them), each tenant with the file and line it came from.

use super::load::invalid;
use super::raw::{RawTenant, RawTenantFile};
use super::ConfigError;
use figment::providers::{Format, Toml};
use figment::Figment;
use std::path::PathBuf;

pub(crate) const CSV_COLUMNS: [&str; 9] = [
    "name",
    "tenant_id",
    "credential",
    "client_id",
    "client_secret_file",
    "client_certificate_path",
    "federated_token_file",
    "managed_identity",
    "managed_identity_client_id",
];

/// Reads `tenant_files`: files, or directories whose `*.toml` and `*.csv` files are read in
/// name order. Returns each tenant with its file and line.
pub(crate) fn read_tenant_files(
    fig: &Figment,
    paths: &[PathBuf],
) -> Result<Vec<(PathBuf, usize, RawTenant)>, ConfigError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| {
            invalid(
                fig,
                "tenant_files",
                format!("cannot read {}: {e}", p.display()),
            )
        })?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| {
                    invalid(
                        fig,
                        "tenant_files",
                        format!("cannot list {}: {e}", p.display()),
                    )
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml" || x == "csv"))
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(p.clone());
        }
    }
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| {
            invalid(
                fig,
                "tenant_files",
                format!("cannot read {}: {e}", f.display()),
            )
        })?;
        let bad =
            |line: usize, reason: String| invalid(fig, format!("{}:{line}", f.display()), reason);
        if f.extension().is_some_and(|x| x == "csv") {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_reader(text.as_bytes());
            let headers = reader
                .headers()
                .map_err(|e| bad(1, format!("not CSV: {e}")))?
                .clone();
            for h in headers.iter() {
                if !CSV_COLUMNS.contains(&h) {
                    return Err(bad(
                        1,
                        format!("unknown column `{h}` (known: {})", CSV_COLUMNS.join(", ")),
                    ));
                }
            }
            for (i, row) in reader.records().enumerate() {
                let line = i + 2;
                let row = row.map_err(|e| bad(line, format!("not CSV: {e}")))?;
                let get = |c: &str| {
                    headers
                        .iter()
                        .position(|h| h == c)
                        .and_then(|i| row.get(i))
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                };
                let managed_identity = match get("managed_identity").as_deref() {
                    None => None,
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    Some(other) => {
                        return Err(bad(
                            line,
                            format!("managed_identity: `{other}` is not true or false"),
                        ))
                    }
                };
                out.push((
                    f.clone(),
                    line,
                    RawTenant {
                        name: get("name"),
                        tenant_id: get("tenant_id"),
                        credential: get("credential"),
                        client_id: get("client_id"),
                        client_secret_file: get("client_secret_file").map(PathBuf::from),
                        client_certificate_path: get("client_certificate_path").map(PathBuf::from),
                        federated_token_file: get("federated_token_file").map(PathBuf::from),
                        managed_identity,
                        managed_identity_client_id: get("managed_identity_client_id"),
                        ..RawTenant::default()
                    },
                ));
            }
        } else {
            let parsed: RawTenantFile = Figment::from(Toml::string(&text))
                .extract()
                .map_err(|e| bad(0, e.to_string()))?;
            for (i, t) in parsed.tenants.into_iter().enumerate() {
                out.push((f.clone(), i + 1, t));
            }
        }
    }
    Ok(out)
}
