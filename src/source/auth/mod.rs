//! Access tokens: turns a tenant's credential into a bearer token for Graph, on demand.
//!
//! Hides the four credential flows (client secret, certificate assertion, workload identity
//! federation, managed identity), the per-(credential, tenant) cache, refreshing before
//! `expires_in` runs out, and Entra ID's error shapes, which become messages that say what to
//! fix ([`entra`]). Tokens, secrets and assertions are [`Secret`]s or stay local; none is logged.

pub mod entra;

use crate::config::{CredentialConfig, GraphConfig, ManagedIdentityEndpoints};
use crate::core::certificate::CertificateCredential;
use crate::core::secret::Secret;
use crate::source::error::AuthError;
use crate::source::events::GraphEvents;
use crate::source::model::Obj;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// What the token cache holds.
#[derive(Debug, Clone)]
struct CachedToken {
    token: Secret,
    /// When to fetch a new one: well before the token expires, so a token never dies mid-refresh.
    refresh_at: Instant,
}

/// Gets and caches tokens for one (credential, tenant) pair.
pub struct TokenProvider {
    http: reqwest::Client,
    token_url: String,
    login_url: String,
    scope: String,
    tenant_name: String,
    tenant_id: String,
    credential_name: String,
    credential: Arc<CredentialConfig>,
    managed_identity: ManagedIdentityEndpoints,
    events: Arc<dyn GraphEvents>,
    // An async mutex: concurrent Graph calls that find no token wait for one fetch instead of
    // each asking Entra ID.
    cache: Mutex<Option<CachedToken>>,
}

/// How long to use a token that lives `lifetime`: until 5 minutes before it expires, or half its
/// life for short-lived tokens.
pub fn refresh_margin(lifetime: Duration) -> Duration {
    lifetime
        .saturating_sub(Duration::from_secs(300))
        .max(lifetime / 2)
}

fn unix_now() -> i64 {
    crate::core::clock::unix_now() as i64
}

/// The request to send for one token.
enum TokenRequest {
    /// POST the form to the Entra ID token endpoint.
    Entra(Vec<(&'static str, String)>),
    /// GET a managed-identity endpoint with this header.
    ManagedIdentity {
        url: String,
        header: (&'static str, String),
    },
}

impl TokenProvider {
    #[allow(clippy::too_many_arguments)] // all of it is identity, and each piece is distinct
    pub fn new(
        http: reqwest::Client,
        graph: &GraphConfig,
        tenant_name: &str,
        tenant_id: &str,
        credential_name: &str,
        credential: Arc<CredentialConfig>,
        events: Arc<dyn GraphEvents>,
    ) -> Self {
        TokenProvider {
            http,
            token_url: format!("{}/{}/oauth2/v2.0/token", graph.login_url, tenant_id),
            login_url: graph.login_url.clone(),
            scope: graph.scope.clone(),
            tenant_name: tenant_name.to_string(),
            tenant_id: tenant_id.to_string(),
            credential_name: credential_name.to_string(),
            credential,
            managed_identity: graph.managed_identity.clone(),
            events,
            cache: Mutex::new(None),
        }
    }

    /// Words advice for errors about this tenant and credential.
    pub fn context(&self) -> entra::Context<'_> {
        entra::Context {
            tenant_name: &self.tenant_name,
            tenant_id: &self.tenant_id,
            client_id: self.credential.client_id(),
            login_url: &self.login_url,
            credential: &self.credential_name,
        }
    }

    /// A valid token, from the cache or freshly requested.
    pub async fn token(&self) -> Result<Secret, AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if Instant::now() < c.refresh_at {
                return Ok(c.token.clone());
            }
        }
        let (token, lifetime) = self.request().await?;
        *cache = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + refresh_margin(lifetime),
        });
        Ok(token)
    }

    /// Drops `token` from the cache (after Graph answered 401), unless a newer one replaced it.
    pub async fn invalidate(&self, token: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.token == token) {
            *cache = None;
        }
    }

    fn credential_error(&self, message: String) -> AuthError {
        AuthError::Credential {
            tenant: self.tenant_name.clone(),
            message,
        }
    }

    fn client_form(&self, client_id: &str) -> Vec<(&'static str, String)> {
        vec![
            ("grant_type", "client_credentials".into()),
            ("scope", self.scope.clone()),
            ("client_id", client_id.to_string()),
        ]
    }

    /// Builds the request for the configured credential.
    fn build_request(&self) -> Result<TokenRequest, AuthError> {
        const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        match self.credential.as_ref() {
            CredentialConfig::ClientSecret { client_id, secret } => {
                let secret = secret.read().map_err(|e| {
                    self.credential_error(format!("cannot read client_secret_file: {e}"))
                })?;
                let mut form = self.client_form(client_id);
                form.push(("client_secret", secret.expose().to_string()));
                Ok(TokenRequest::Entra(form))
            }
            CredentialConfig::Certificate {
                client_id,
                path,
                password,
            } => {
                // Loaded for every token so a renewed certificate file is picked up.
                let cert = CertificateCredential::load(path, password.as_ref().map(|p| p.expose()))
                    .map_err(|e| {
                        self.credential_error(format!(
                            "client_certificate_path {}: {e}",
                            path.display()
                        ))
                    })?;
                self.events
                    .credential_expiry(&self.credential_name, cert.not_after as f64);
                let now = unix_now();
                if cert.not_after < now {
                    tracing::warn!(credential = %self.credential_name, "the certificate has expired; Entra ID will refuse it");
                }
                let assertion = cert
                    .assertion(client_id, &self.token_url, now)
                    .map_err(|e| self.credential_error(e.to_string()))?;
                let mut form = self.client_form(client_id);
                form.push(("client_assertion_type", JWT_BEARER.into()));
                form.push(("client_assertion", assertion));
                Ok(TokenRequest::Entra(form))
            }
            CredentialConfig::WorkloadIdentity {
                client_id,
                token_file,
            } => {
                // Re-read every time: the kubelet rotates the projected token.
                let assertion = std::fs::read_to_string(token_file).map_err(|e| {
                    self.credential_error(format!(
                        "cannot read federated_token_file {}: {e}",
                        token_file.display()
                    ))
                })?;
                let assertion = assertion.trim();
                if assertion.is_empty() {
                    return Err(self.credential_error(format!(
                        "federated_token_file {} is empty",
                        token_file.display()
                    )));
                }
                let mut form = self.client_form(client_id);
                form.push(("client_assertion_type", JWT_BEARER.into()));
                form.push(("client_assertion", assertion.to_string()));
                Ok(TokenRequest::Entra(form))
            }
            CredentialConfig::ManagedIdentity { client_id } => {
                let resource = self.scope.trim_end_matches("/.default");
                let mut query = vec![("resource", resource.to_string())];
                if let Some(id) = client_id {
                    query.push(("client_id", id.clone()));
                }
                let mi = &self.managed_identity;
                let (base, version, header) = match (&mi.identity_endpoint, &mi.identity_header) {
                    // App Service and Functions.
                    (Some(endpoint), Some(secret)) => (
                        endpoint.clone(),
                        "2019-08-01",
                        ("X-IDENTITY-HEADER", secret.expose().to_string()),
                    ),
                    // Virtual machines, scale sets, AKS pod identity: IMDS.
                    _ => (
                        format!("{}/metadata/identity/oauth2/token", mi.imds_url),
                        "2018-02-01",
                        ("Metadata", "true".to_string()),
                    ),
                };
                let mut url = reqwest::Url::parse(&base).map_err(|e| {
                    self.credential_error(format!(
                        "managed identity endpoint {base} is not a URL: {e}"
                    ))
                })?;
                url.query_pairs_mut().append_pair("api-version", version);
                for (k, v) in query {
                    url.query_pairs_mut().append_pair(k, &v);
                }
                Ok(TokenRequest::ManagedIdentity {
                    url: url.to_string(),
                    header,
                })
            }
        }
    }

    #[tracing::instrument(name = "token", skip_all, fields(tenant = %self.tenant_name, credential = self.credential.kind()))]
    async fn request(&self) -> Result<(Secret, Duration), AuthError> {
        let sent = match self.build_request()? {
            TokenRequest::Entra(form) => self.http.post(&self.token_url).form(&form).send().await,
            TokenRequest::ManagedIdentity { url, header } => {
                self.http.get(url).header(header.0, header.1).send().await
            }
        };
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let timeout = e.is_timeout();
                self.events
                    .graph_request("token", if timeout { "timeout" } else { "transport" });
                return Err(if timeout {
                    AuthError::Timeout
                } else {
                    AuthError::Transport(e)
                });
            }
        };
        let status = resp.status();
        self.events.graph_request("token", status.as_str());
        let retry_after = crate::source::http::retry_after(resp.headers());
        let body = resp.bytes().await.map_err(|e| {
            if e.is_timeout() {
                AuthError::Timeout
            } else {
                AuthError::Transport(e)
            }
        })?;
        if status.as_u16() == 429 {
            return Err(AuthError::Throttled { retry_after });
        }
        if status.is_server_error() {
            // Entra asks for a delay on 503 and 504 as Graph does.
            let retry_after = matches!(status.as_u16(), 503 | 504)
                .then_some(retry_after)
                .flatten();
            return Err(AuthError::Status {
                status: status.as_u16(),
                retry_after,
            });
        }
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let obj = json.as_ref().and_then(|v| v.as_object()).map(Obj::new);
        if !status.is_success() {
            let (code, detail) = entra::parse(obj);
            let message = match code
                .as_deref()
                .and_then(|c| entra::advice(c, &self.context()))
            {
                Some(advice) => format!("{advice} ({detail})"),
                None => detail,
            };
            return Err(AuthError::Rejected {
                tenant: self.tenant_name.clone(),
                status: status.as_u16(),
                code,
                message,
            });
        }
        let obj = obj.ok_or_else(|| AuthError::Decode("body is not a JSON object".into()))?;
        let token = obj
            .string("access_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError::Decode("no access_token".into()))?;
        // expires_in is an integer from Entra ID and a string from managed-identity endpoints,
        // which may send only expires_on (Unix seconds, also a string).
        let lifetime = obj
            .f64("expires_in")
            .or_else(|| obj.f64("expires_on").map(|on| on - unix_now() as f64))
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(600));
        tracing::debug!(expires_in = lifetime.as_secs(), "token acquired");
        Ok((Secret::new(token), lifetime))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_used_until_five_minutes_before_expiry_or_half_their_life() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3599)),
            Duration::from_secs(3299)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(4)),
            Duration::from_secs(2)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(400)),
            Duration::from_secs(200)
        );
    }
}
