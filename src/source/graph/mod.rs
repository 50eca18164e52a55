//! Microsoft Graph client for the two Secure Score endpoints.
//!
//! Knows URLs, paging, retries and Graph's status codes; knows nothing about metrics or
//! schedules: what it does is reported through [`GraphEvents`]. One [`TenantGraph`] per tenant
//! owns that tenant's token provider and the semaphore that keeps at most 4 requests in flight
//! (Graph's per-tenant limit).
//!
//! Rules enforced here: `secureScores?$top=1` never follows its `nextLink`; profile pages are
//! followed only on the `graph_url` origin, and the bearer token is never sent anywhere else;
//! 429 honours `Retry-After` (else bounded exponential backoff with jitter); 5xx and transport
//! errors are retried a bounded number of times; 401 drops the token and retries once.

use crate::config::GraphConfig;
use crate::source::auth::TokenProvider;
use crate::source::error::GraphError;
use crate::source::events::GraphEvents;
use crate::source::http::retry_after;
use crate::source::model::{self, ControlProfile, ModelError, Page, SecureScoreRecord};

mod limiter;
pub use crate::source::http::{backoff, http_client, USER_AGENT};
pub use limiter::AppLimiter;
use reqwest::Url;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Largest response body accepted; a real profile page is well under 1 MiB.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// A `Retry-After` longer than this ends the refresh instead of holding it; the refresh loop
/// then waits at least that long before trying again.
const MAX_INLINE_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Guard against a `nextLink` loop.
const MAX_PAGES: usize = 200;

/// Endpoint names, used as the `endpoint` label.
pub const SECURE_SCORES: &str = "secure_scores";
pub const CONTROL_PROFILES: &str = "control_profiles";

/// One page and what came with it.
struct Fetched {
    page: Page,
    /// The `Warning` header of a 206 Partial Content answer.
    partial_warning: Option<String>,
}

/// Everything one refresh read from Graph.
#[derive(Debug, Clone, Default)]
pub struct GraphData {
    pub records: Vec<SecureScoreRecord>,
    pub profiles: Vec<ControlProfile>,
    /// `Warning` headers of 206 answers: the data may be incomplete.
    pub partial_warnings: Vec<String>,
}

/// Graph access for one tenant.
pub struct TenantGraph {
    http: reqwest::Client,
    graph_url: String,
    origin: reqwest::Url,
    tenant: String,
    tokens: TokenProvider,
    permits: Semaphore,
    /// The app's share of Graph's global per-app limit, shared by every tenant of the app.
    app_limit: Option<Arc<AppLimiter>>,
    max_retries: u32,
    retry_backoff: Duration,
    events: Arc<dyn GraphEvents>,
}

/// A page's records, each checked against what Graph's schema requires.
fn records_of(page: &Page) -> Result<Vec<SecureScoreRecord>, GraphError> {
    page.items
        .iter()
        .map(|item| {
            SecureScoreRecord::check_schema(item).map_err(|source| GraphError::Decode {
                endpoint: SECURE_SCORES,
                source,
            })?;
            Ok(SecureScoreRecord::from_json(item))
        })
        .collect()
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str().map(str::to_ascii_lowercase) == b.host_str().map(str::to_ascii_lowercase)
        && a.port_or_known_default() == b.port_or_known_default()
}

impl TenantGraph {
    pub fn new(
        http: reqwest::Client,
        cfg: &GraphConfig,
        tenant: &str,
        tokens: TokenProvider,
        events: Arc<dyn GraphEvents>,
    ) -> Result<Self, url::ParseError> {
        Ok(TenantGraph {
            http,
            origin: Url::parse(&cfg.graph_url)?,
            graph_url: cfg.graph_url.clone(),
            tenant: tenant.to_string(),
            tokens,
            permits: Semaphore::new(cfg.max_concurrent_requests.max(1)),
            app_limit: None,
            max_retries: cfg.max_retries,
            retry_backoff: cfg.retry_backoff,
            events,
        })
    }

    /// Counts this tenant's requests against `limiter` (one per app registration).
    pub fn with_app_limit(mut self, limiter: Arc<AppLimiter>) -> Self {
        self.app_limit = Some(limiter);
        self
    }

    /// The newest daily record(s): `secureScores?$top=n`, first page only (Graph adds a
    /// `nextLink` even with `$top`, and following it would read all 90 days).
    pub async fn latest_scores(
        &self,
        top: u32,
    ) -> Result<(Vec<SecureScoreRecord>, Option<String>), GraphError> {
        let url = format!(
            "{}/v1.0/security/secureScores?$top={}",
            self.graph_url,
            top.max(1)
        );
        let f = self.get_page(SECURE_SCORES, &url).await?;
        let records = records_of(&f.page)?;
        Ok((records, f.partial_warning))
    }

    /// Up to `days` daily records, following `nextLink` on the Graph origin until enough are read.
    pub async fn score_history(&self, days: usize) -> Result<Vec<SecureScoreRecord>, GraphError> {
        let url = format!(
            "{}/v1.0/security/secureScores?$top={}",
            self.graph_url,
            days.max(1)
        );
        let mut records = Vec::new();
        let mut broken = None;
        self.follow_pages(SECURE_SCORES, url, |page| match records_of(page) {
            Ok(r) => {
                records.extend(r);
                records.len() < days
            }
            Err(e) => {
                broken = Some(e);
                false
            }
        })
        .await?;
        if let Some(e) = broken {
            return Err(e);
        }
        records.truncate(days);
        Ok(records)
    }

    /// Every control profile, following `nextLink` on the Graph origin.
    pub async fn control_profiles(&self) -> Result<(Vec<ControlProfile>, Vec<String>), GraphError> {
        let url = format!(
            "{}/v1.0/security/secureScoreControlProfiles",
            self.graph_url
        );
        let mut profiles = Vec::new();
        let mut broken = None;
        let warnings = self
            .follow_pages(CONTROL_PROFILES, url, |page| {
                for item in &page.items {
                    if let Err(source) = ControlProfile::check_schema(item) {
                        broken = Some(GraphError::Decode {
                            endpoint: CONTROL_PROFILES,
                            source,
                        });
                        return false;
                    }
                    profiles.push(ControlProfile::from_json(item));
                }
                true
            })
            .await?;
        if let Some(e) = broken {
            return Err(e);
        }
        Ok((profiles, warnings))
    }

    /// Reads the newest record and the whole catalogue, concurrently.
    pub async fn fetch_all(&self) -> Result<GraphData, GraphError> {
        let (scores, profiles) = tokio::join!(self.latest_scores(1), self.control_profiles());
        let (records, w1) = scores?;
        let (profiles, mut warnings) = profiles?;
        warnings.extend(w1);
        Ok(GraphData {
            records,
            profiles,
            partial_warnings: warnings,
        })
    }

    /// Follows `nextLink`s while `more(page)` says so; returns the 206 warnings seen.
    async fn follow_pages(
        &self,
        endpoint: &'static str,
        first: String,
        mut more: impl FnMut(&Page) -> bool,
    ) -> Result<Vec<String>, GraphError> {
        let mut url = first;
        let mut warnings = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let f = self.get_page(endpoint, &url).await?;
            warnings.extend(f.partial_warning);
            if !more(&f.page) {
                return Ok(warnings);
            }
            let Some(next) = f.page.next_link else {
                return Ok(warnings);
            };
            let next_url = self.origin.join(&next).map_err(|_| GraphError::Paging {
                endpoint,
                message: "@odata.nextLink is not a URL".into(),
            })?;
            if !same_origin(&next_url, &self.origin) {
                return Err(GraphError::ForeignNextLink {
                    endpoint,
                    origin: next_url.origin().ascii_serialization(),
                });
            }
            if !seen.insert(next_url.to_string()) {
                return Err(GraphError::Paging {
                    endpoint,
                    message: "@odata.nextLink repeats an earlier page".into(),
                });
            }
            url = next_url.to_string();
        }
        Err(GraphError::Paging {
            endpoint,
            message: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// One GET with the retry policy; `url` must already be on the Graph origin.
    async fn get_page(&self, endpoint: &'static str, url: &str) -> Result<Fetched, GraphError> {
        let mut attempt: u32 = 0;
        let mut reauthenticated = false;
        loop {
            let token = self.tokens.token().await?;
            let outcome = {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .expect("semaphore is never closed");
                if let Some(limit) = &self.app_limit {
                    limit.acquire().await;
                }
                self.send(endpoint, url, &token).await
            };
            let retry_in = match outcome {
                Ok(Response::Ok(f)) => return Ok(f),
                Ok(Response::Unauthorized(message)) => {
                    if reauthenticated {
                        return Err(GraphError::Denied {
                            endpoint,
                            status: 401,
                            message,
                        });
                    }
                    // The token may have been revoked or expired early: fetch a new one, once.
                    reauthenticated = true;
                    self.tokens.invalidate(&token).await;
                    continue;
                }
                Ok(Response::Throttled(after)) => {
                    if attempt >= self.max_retries
                        || after.is_some_and(|a| a > MAX_INLINE_RETRY_AFTER)
                    {
                        return Err(GraphError::Throttled {
                            endpoint,
                            retry_after: after,
                        });
                    }
                    after.unwrap_or_else(|| backoff(self.retry_backoff, attempt))
                }
                Err(e) => {
                    let retryable = matches!(
                        e,
                        GraphError::Timeout { .. }
                            | GraphError::Transport { .. }
                            | GraphError::Status {
                                status: 500..=599,
                                ..
                            }
                    );
                    let asked = e.retry_after();
                    if !retryable
                        || attempt >= self.max_retries
                        || asked.is_some_and(|a| a > MAX_INLINE_RETRY_AFTER)
                    {
                        return Err(e);
                    }
                    asked.unwrap_or_else(|| backoff(self.retry_backoff, attempt))
                }
            };
            attempt += 1;
            tracing::debug!(tenant = %self.tenant, endpoint, attempt, wait_ms = retry_in.as_millis() as u64, "retrying Graph request");
            tokio::time::sleep(retry_in).await;
        }
    }

    async fn send(
        &self,
        endpoint: &'static str,
        url: &str,
        token: &crate::core::secret::Secret,
    ) -> Result<Response, GraphError> {
        let sent = self
            .http
            .get(url)
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.transport_error(endpoint, e)),
        };
        let status = resp.status().as_u16();
        self.events.graph_request(endpoint, resp.status().as_str());
        let after = retry_after(resp.headers());
        let warning = resp
            .headers()
            .get_all(reqwest::header::WARNING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let body = self.read_body(endpoint, resp).await?;
        match status {
            200 | 206 => {
                // Parsing half a megabyte of JSON is CPU work: off the async workers, so
                // scrapes stay fast while thousands of tenants refresh.
                let page = crate::core::cpu_work::run(move || Page::parse(&body))
                    .await
                    .unwrap_or_else(|e| Err(ModelError::Body(format!("parser stopped: {e}"))))
                    .map_err(|source| GraphError::Decode { endpoint, source })?;
                let partial_warning = (status == 206).then(|| {
                    let w = if warning.is_empty() { "(no Warning header)".to_string() } else { warning };
                    tracing::warn!(tenant = %self.tenant, endpoint, warning = %w, "Graph answered 206 Partial Content: data may be incomplete");
                    self.events.partial_response(&self.tenant, endpoint);
                    w
                });
                Ok(Response::Ok(Fetched {
                    page,
                    partial_warning,
                }))
            }
            401 => Ok(Response::Unauthorized(graph_error_message(&body))),
            429 => Ok(Response::Throttled(after)),
            403 => {
                let advice =
                    crate::source::auth::entra::graph_forbidden_advice(&self.tokens.context());
                let detail = graph_error_message(&body).unwrap_or_default();
                Err(GraphError::Denied {
                    endpoint,
                    status,
                    message: Some(format!("{advice} ({detail})")),
                })
            }
            _ => Err(GraphError::Status {
                endpoint,
                status,
                message: graph_error_message(&body),
                // Graph's guidance: a 503 may be repeated after the delay Retry-After gives;
                // Microsoft's SDKs honour it on 429, 503 and 504 alike.
                retry_after: matches!(status, 503 | 504).then_some(after).flatten(),
            }),
        }
    }

    async fn read_body(
        &self,
        endpoint: &'static str,
        mut resp: reqwest::Response,
    ) -> Result<Vec<u8>, GraphError> {
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(GraphError::Paging {
                            endpoint,
                            message: format!("response larger than {MAX_BODY_BYTES} bytes"),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(self.transport_error(endpoint, e)),
            }
        }
    }

    fn transport_error(&self, endpoint: &'static str, e: reqwest::Error) -> GraphError {
        if e.is_timeout() {
            self.events.graph_request(endpoint, "timeout");
            GraphError::Timeout { endpoint }
        } else if e.is_decode() {
            self.events.graph_request(endpoint, "decode");
            GraphError::Decode {
                endpoint,
                source: ModelError::Body(e.to_string()),
            }
        } else {
            self.events.graph_request(endpoint, "transport");
            GraphError::Transport {
                endpoint,
                source: e,
            }
        }
    }
}

enum Response {
    Ok(Fetched),
    Unauthorized(Option<String>),
    Throttled(Option<Duration>),
}

/// `error.code: error.message` from a Graph error body, shortened; never the whole body.
fn graph_error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let err = model::Obj::new(v.as_object()?);
    let inner = err.get("error")?.as_object().map(model::Obj::new)?;
    let code = inner.string("code").unwrap_or_default();
    let message: String = inner
        .string("message")
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    let text = match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{code}: {message}"),
        (false, true) => code,
        (true, false) => message,
        (true, true) => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Url::parse("https://graph.microsoft.com/v1.0/x").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("https://GRAPH.microsoft.com:443/y?$skiptoken=1").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://graph.microsoft.com/y").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://graph.microsoft.com.evil.example/y").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://graph.microsoft.com:8443/y").unwrap()
        ));
    }

    #[test]
    fn backoff_is_bounded_and_jittered() {
        for attempt in 0..40 {
            let d = backoff(Duration::from_secs(1), attempt);
            assert!(d <= Duration::from_secs(60));
            assert!(d >= Duration::from_millis(500));
        }
    }

    #[test]
    fn graph_error_message_is_code_and_message() {
        let body = br#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired."}}"#;
        assert_eq!(
            graph_error_message(body).as_deref(),
            Some("InvalidAuthenticationToken: Access token has expired.")
        );
        assert_eq!(graph_error_message(b"<html>"), None);
    }
}
