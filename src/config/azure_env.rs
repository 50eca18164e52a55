//! The Azure SDK's environment convention (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, …), read
//! only when no tenant is configured, and the platform's managed-identity variables.

use super::raw::RawTenant;
use crate::core::secret::Secret;
use std::path::PathBuf;

/// Environment variables of the Azure SDK convention, read only when no tenant is configured.
#[derive(Debug, Default, Clone)]
pub struct AzureEnv {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub federated_token_file: Option<String>,
    pub client_certificate_path: Option<String>,
    pub client_certificate_password: Option<String>,
    /// `AZURE_AUTHORITY_HOST`: the login host when `graph.login_url` is not set.
    pub authority_host: Option<String>,
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` (App Service managed identity).
    pub identity_endpoint: Option<String>,
    pub identity_header: Option<String>,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST`: IMDS override.
    pub imds_host: Option<String>,
}

impl AzureEnv {
    pub fn from_process() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        AzureEnv {
            tenant_id: get("AZURE_TENANT_ID"),
            client_id: get("AZURE_CLIENT_ID"),
            client_secret: get("AZURE_CLIENT_SECRET"),
            federated_token_file: get("AZURE_FEDERATED_TOKEN_FILE"),
            client_certificate_path: get("AZURE_CLIENT_CERTIFICATE_PATH"),
            client_certificate_password: get("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
            authority_host: get("AZURE_AUTHORITY_HOST"),
            identity_endpoint: get("IDENTITY_ENDPOINT"),
            identity_header: get("IDENTITY_HEADER"),
            imds_host: get("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        }
    }

    /// True when the variables describe a usable tenant.
    pub fn is_complete(&self) -> bool {
        self.tenant_id.is_some()
            && self.client_id.is_some()
            && (self.client_secret.is_some()
                || self.federated_token_file.is_some()
                || self.client_certificate_path.is_some())
    }

    pub(crate) fn tenant(&self) -> RawTenant {
        RawTenant {
            tenant_id: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone().map(Secret::new),
            federated_token_file: if self.client_secret.is_none() {
                self.federated_token_file.clone().map(PathBuf::from)
            } else {
                None
            },
            client_certificate_path: if self.client_secret.is_none()
                && self.federated_token_file.is_none()
            {
                self.client_certificate_path.clone().map(PathBuf::from)
            } else {
                None
            },
            client_certificate_password: self.client_certificate_password.clone().map(Secret::new),
            ..RawTenant::default()
        }
    }
}
