//! Credentials: one `[credentials.NAME]` table or a tenant's inline keys become exactly one
//! [`CredentialConfig`], with files checked as they will be read.

use super::load::invalid;
use super::raw::RawCredential;
use super::{ConfigError, CredentialConfig, SecretSource};
use figment::Figment;

pub(crate) fn build_credential(
    fig: &Figment,
    key: &str,
    c: &RawCredential,
) -> Result<CredentialConfig, ConfigError> {
    let mut kinds = Vec::new();
    if c.client_secret.is_some() {
        kinds.push("client_secret");
    }
    if c.client_secret_file.is_some() {
        kinds.push("client_secret_file");
    }
    if c.client_certificate_path.is_some() {
        kinds.push("client_certificate_path");
    }
    if c.federated_token_file.is_some() {
        kinds.push("federated_token_file");
    }
    if c.managed_identity == Some(true) {
        kinds.push("managed_identity");
    }
    if kinds.len() > 1 {
        return Err(invalid(
            fig,
            format!("{key}.{}", kinds[1]),
            format!("conflicts with `{}`: set exactly one credential", kinds[0]),
        ));
    }
    let client_id = || -> Result<String, ConfigError> {
        c.client_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                invalid(
                    fig,
                    format!("{key}.client_id"),
                    "is required for this credential",
                )
            })
    };
    if c.client_certificate_password.is_some() && c.client_certificate_path.is_none() {
        return Err(invalid(
            fig,
            format!("{key}.client_certificate_password"),
            "is only valid together with client_certificate_path",
        ));
    }
    if c.managed_identity_client_id.is_some() && c.managed_identity != Some(true) {
        return Err(invalid(
            fig,
            format!("{key}.managed_identity_client_id"),
            "is only valid together with managed_identity = true",
        ));
    }
    match kinds.first().copied() {
        Some("client_secret") => {
            let secret = c.client_secret.clone().unwrap_or_default();
            if secret.is_empty() {
                return Err(invalid(fig, format!("{key}.client_secret"), "must not be empty"));
            }
            Ok(CredentialConfig::ClientSecret {
                client_id: client_id()?,
                secret: SecretSource::Inline(secret),
            })
        }
        Some("client_secret_file") => {
            let path = c.client_secret_file.clone().unwrap_or_default();
            let source = SecretSource::File(path.clone());
            match source.read() {
                Ok(s) if !s.is_empty() => {}
                Ok(_) => {
                    return Err(invalid(
                        fig,
                        format!("{key}.client_secret_file"),
                        format!("{} is empty", path.display()),
                    ))
                }
                Err(e) => {
                    return Err(invalid(
                        fig,
                        format!("{key}.client_secret_file"),
                        format!("cannot read {}: {e}", path.display()),
                    ))
                }
            }
            Ok(CredentialConfig::ClientSecret {
                client_id: client_id()?,
                secret: source,
            })
        }
        Some("client_certificate_path") => {
            let path = c.client_certificate_path.clone().unwrap_or_default();
            let password = c.client_certificate_password.as_ref().map(|p| p.expose());
            if let Err(e) = crate::core::certificate::CertificateCredential::load(&path, password) {
                return Err(invalid(
                    fig,
                    format!("{key}.client_certificate_path"),
                    format!("{}: {e}", path.display()),
                ));
            }
            Ok(CredentialConfig::Certificate {
                client_id: client_id()?,
                path,
                password: c.client_certificate_password.clone(),
            })
        }
        Some("federated_token_file") => Ok(CredentialConfig::WorkloadIdentity {
            client_id: client_id()?,
            token_file: c.federated_token_file.clone().unwrap_or_default(),
        }),
        Some(_) => Ok(CredentialConfig::ManagedIdentity {
            client_id: c
                .managed_identity_client_id
                .clone()
                .or_else(|| c.client_id.clone()),
        }),
        None => Err(invalid(
            fig,
            format!("{key}.client_secret"),
            "no credential: set one of client_secret, client_secret_file, client_certificate_path, federated_token_file, managed_identity, or credential = \"NAME\"",
        )),
    }
}
