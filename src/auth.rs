//! Access tokens: turns a tenant's credential into a bearer token for Graph, on demand.
//!
//! Hides the client-credentials flow, the per-tenant cache, refreshing before `expires_in`
//! runs out, and Entra ID's error shapes. Tokens are [`Secret`]s and are never logged.

use crate::config::{CredentialConfig, GraphConfig};
use crate::error::AuthError;
use crate::graph::model::Obj;
use crate::metrics::ExporterMetrics;
use crate::secret::Secret;
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
    scope: String,
    tenant_name: String,
    credential: Arc<CredentialConfig>,
    metrics: Arc<ExporterMetrics>,
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

impl TokenProvider {
    pub fn new(
        http: reqwest::Client,
        graph: &GraphConfig,
        tenant_name: &str,
        tenant_id: &str,
        credential: Arc<CredentialConfig>,
        metrics: Arc<ExporterMetrics>,
    ) -> Self {
        TokenProvider {
            http,
            token_url: format!("{}/{}/oauth2/v2.0/token", graph.login_url, tenant_id),
            scope: graph.scope.clone(),
            tenant_name: tenant_name.to_string(),
            credential,
            metrics,
            cache: Mutex::new(None),
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

    #[tracing::instrument(name = "token", skip_all, fields(tenant = %self.tenant_name, credential = self.credential.kind()))]
    async fn request(&self) -> Result<(Secret, Duration), AuthError> {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".into()),
            ("scope", self.scope.clone()),
        ];
        match self.credential.as_ref() {
            CredentialConfig::ClientSecret { client_id, secret } => {
                let secret = secret.read().map_err(|e| AuthError::Credential {
                    tenant: self.tenant_name.clone(),
                    message: format!("cannot read client_secret_file: {e}"),
                })?;
                form.push(("client_id", client_id.clone()));
                form.push(("client_secret", secret.expose().to_string()));
            }
            CredentialConfig::WorkloadIdentity {
                client_id,
                token_file,
            } => {
                // Re-read every time: the kubelet rotates the projected token.
                let assertion =
                    std::fs::read_to_string(token_file).map_err(|e| AuthError::Credential {
                        tenant: self.tenant_name.clone(),
                        message: format!(
                            "cannot read federated_token_file {}: {e}",
                            token_file.display()
                        ),
                    })?;
                form.push(("client_id", client_id.clone()));
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion", assertion.trim().to_string()));
            }
            other => {
                return Err(AuthError::Credential {
                    tenant: self.tenant_name.clone(),
                    message: format!(
                        "the {} credential type is not available in this version",
                        other.kind()
                    ),
                })
            }
        }
        let sent = self.http.post(&self.token_url).form(&form).send().await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let code = if e.is_timeout() {
                    "timeout"
                } else {
                    "transport"
                };
                self.metrics.graph_request("token", code);
                return Err(if e.is_timeout() {
                    AuthError::Timeout
                } else {
                    AuthError::Transport(e)
                });
            }
        };
        let status = resp.status();
        self.metrics.graph_request("token", status.as_str());
        let retry_after = crate::graph::retry_after(resp.headers());
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
            return Err(AuthError::Status {
                status: status.as_u16(),
            });
        }
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let obj = json.as_ref().and_then(|v| v.as_object()).map(Obj::new);
        if !status.is_success() {
            let (code, message) = entra_error(obj);
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
        // expires_in is an integer from Entra ID, a string from some proxies and IMDS.
        let lifetime = obj
            .f64("expires_in")
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::from_secs(600));
        tracing::debug!(expires_in = lifetime.as_secs(), "token acquired");
        Ok((Secret::new(token), lifetime))
    }
}

/// The AADSTS code and the first line of `error_description` (the rest is trace ids).
fn entra_error(obj: Option<Obj<'_>>) -> (Option<String>, String) {
    let Some(o) = obj else {
        return (None, "no error details in the response".into());
    };
    let description = o
        .string("error_description")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let code = description
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.starts_with("AADSTS"))
        .map(str::to_string);
    let error = o.string("error").unwrap_or_default();
    let message = match (error.is_empty(), description.is_empty()) {
        (false, false) => format!("{error}: {description}"),
        (false, true) => error,
        (true, false) => description,
        (true, true) => "no error details in the response".into(),
    };
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn entra_errors_yield_code_and_first_line() {
        let v = json!({"error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: abc\r\nCorrelation ID: def",
            "error_codes": [7000215]});
        let (code, message) = entra_error(v.as_object().map(Obj::new));
        assert_eq!(code.as_deref(), Some("AADSTS7000215"));
        assert_eq!(
            message,
            "invalid_client: AADSTS7000215: Invalid client secret provided."
        );
        assert!(!message.contains("Trace"));
    }
}
