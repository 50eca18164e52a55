//! Accept loops (HTTPS for Entra and Graph, plain HTTP for managed identity) and routing of
//! each request to its endpoint, with the request log.

use crate::entra::token;
use crate::faults::DropConnection;
use crate::graph::graph;
use crate::imds::managed_identity;
use crate::options::{Endpoint, RequestRecord};
use crate::respond::{graph_error, Resp};
use crate::state::{lock, State};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub(crate) async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<State>,
    shutdown: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            _ = shutdown.cancelled() => return,
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move {
                    let resp = handle(&state, req).await;
                    if resp.extensions().get::<DropConnection>().is_some() {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "simulated reset",
                        ));
                    }
                    Ok(resp)
                }
            });
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                _ = conn => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

/// Plain-HTTP loop for the managed-identity endpoints (IMDS is not TLS).
pub(crate) async fn imds_loop(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            _ = shutdown.cancelled() => return,
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move {
                    let path = req.uri().path().to_string();
                    let resp = managed_identity(&state, req).await;
                    lock(&state.log).push(RequestRecord {
                        tenant: state.managed_identity.as_ref().map(|m| m.tenant.clone()),
                        endpoint: Endpoint::ManagedIdentity,
                        method: "GET".into(),
                        path_and_query: path,
                        authorization: false,
                        user_agent: None,
                        accept_encoding: None,
                        status: resp.status().as_u16(),
                        form: Vec::new(),
                        at: Instant::now(),
                    });
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

pub(crate) fn endpoint_of(method: &hyper::Method, path: &str) -> Endpoint {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", [_, "oauth2", "v2.0", "token"]) => Endpoint::Token,
        ("GET", ["v1.0", "security", s]) if s.eq_ignore_ascii_case("secureScores") => {
            Endpoint::SecureScores
        }
        ("GET", ["v1.0", "security", s])
            if s.eq_ignore_ascii_case("secureScoreControlProfiles") =>
        {
            Endpoint::ControlProfiles
        }
        _ => Endpoint::Other,
    }
}

pub(crate) async fn handle(state: &State, req: Request<Incoming>) -> Resp {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut record = RequestRecord {
        tenant: None,
        endpoint: endpoint_of(&method, &path),
        method: method.to_string(),
        path_and_query,
        authorization: req.headers().contains_key("authorization"),
        user_agent: header("user-agent"),
        accept_encoding: header("accept-encoding"),
        status: 0,
        form: Vec::new(),
        at: Instant::now(),
    };
    let gzip = record
        .accept_encoding
        .as_deref()
        .is_some_and(|v| v.to_ascii_lowercase().contains("gzip"));
    let authorization = header("authorization");
    let query = req.uri().query().unwrap_or("").to_string();
    let (resp, tenant) = match record.endpoint {
        Endpoint::Token => {
            let tenant_key = path
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or("")
                .to_string();
            let body = Limited::new(req.into_body(), 64 * 1024).collect().await;
            let body = body.map(|b| b.to_bytes()).unwrap_or_default();
            token(state, &tenant_key, &body, &mut record.form).await
        }
        Endpoint::SecureScores | Endpoint::ControlProfiles => {
            graph(
                state,
                record.endpoint,
                authorization.as_deref(),
                &query,
                gzip,
            )
            .await
        }
        Endpoint::Other | Endpoint::ManagedIdentity => (
            graph_error(
                404,
                "UnknownError",
                &format!(
                    "Resource not found for the segment '{}'.",
                    path.rsplit('/').next().unwrap_or("")
                ),
                gzip,
            ),
            None,
        ),
    };
    record.tenant = tenant.map(|i| state.tenants[i].spec.name.clone());
    record.status = resp.status().as_u16();
    if state.record_requests {
        lock(&state.log).push(record);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_recognised() {
        use hyper::Method;
        assert_eq!(
            endpoint_of(&Method::POST, "/contoso.onmicrosoft.com/oauth2/v2.0/token"),
            Endpoint::Token
        );
        assert_eq!(
            endpoint_of(&Method::GET, "/v1.0/security/secureScores"),
            Endpoint::SecureScores
        );
        assert_eq!(
            endpoint_of(&Method::GET, "/v1.0/security/securescorecontrolprofiles"),
            Endpoint::ControlProfiles
        );
        assert_eq!(
            endpoint_of(&Method::GET, "/beta/security/secureScores"),
            Endpoint::Other
        );
    }
}
