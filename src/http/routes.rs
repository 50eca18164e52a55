//! What each path answers: `/metrics`, `/probe`, `/` (fleet overview), `/tenants/NAME`, static files,
//! `/-/healthy`, `/-/ready` and `/-/reload`, behind basic auth when the web config asks for it,
//! with the configured response headers. Handlers only read memory; nothing waits on Graph.

use super::body::Chunks;
use super::web_config::{WebConfig, WebConfigSource};
use super::ReloadRequest;
use crate::exposition::{MetricsBody, TEXT_CONTENT_TYPE};
use crate::state::Store;
use crate::view::{fleet, html, model, query, tenant};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;

/// What the handlers read.
#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<MetricsBody>,
    pub store: Arc<Store>,
    pub web: Option<Arc<WebConfigSource>>,
    /// Where `POST /-/reload` sends its request (none: reload is not available).
    pub reload: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    /// `/-/healthy` skips basic auth (`web.healthy_without_auth`).
    pub healthy_without_auth: bool,
}

fn text(status: StatusCode, body: &'static str) -> Response<Chunks> {
    let mut r = Response::new(Chunks::from(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// True when `Accept-Encoding` allows gzip (and does not forbid it with `q=0`).
pub fn accepts_gzip(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
        })
}

pub async fn handle(state: &HttpState, req: Request<Incoming>) -> Response<Chunks> {
    let web: Option<Arc<WebConfig>> = state.web.as_ref().map(|w| w.get());
    let mut resp = match (&state.web, &web) {
        (Some(source), Some(cfg))
            if cfg.requires_auth()
                && !(state.healthy_without_auth && req.uri().path() == "/-/healthy") =>
        {
            let auth = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            if source.authorize(cfg, auth).await {
                dispatch(state, req).await
            } else {
                let mut r = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"securescore_exporter\""),
                );
                r
            }
        }
        _ => dispatch(state, req).await,
    };
    if let Some(cfg) = &web {
        for (k, v) in &cfg.headers {
            resp.headers_mut().insert(k.clone(), v.clone());
        }
    }
    resp
}

/// `/-/reload` (POST or PUT) is answered after the reload; everything else by [`route`].
async fn dispatch(state: &HttpState, req: Request<Incoming>) -> Response<Chunks> {
    if req.uri().path() != "/-/reload" {
        return route(state, req);
    }
    if req.method() != Method::POST && req.method() != Method::PUT {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "use POST to reload\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST, PUT"));
        return r;
    }
    let Some(sender) = &state.reload else {
        return text(StatusCode::NOT_FOUND, "reload is not available\n");
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    if sender.send(reply).await.is_err() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
    }
    let (status, body) = match answer.await {
        Ok(Ok(summary)) => (StatusCode::OK, format!("reloaded: {summary}\n")),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload failed, keeping the running configuration: {e}\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n".to_string(),
        ),
    };
    let mut r = Response::new(Chunks::from(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn route(state: &HttpState, req: Request<Incoming>) -> Response<Chunks> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/metrics" => metrics(state, &req),
        "/probe" => {
            let tenant = req.uri().query().and_then(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .find(|(k, _)| k == "tenant" || k == "target")
                    .map(|(_, v)| v.into_owned())
            });
            match tenant.and_then(|t| state.metrics.encode_tenant(&t)) {
                Some(body) => {
                    let mut r = Response::new(Chunks::from(Bytes::from(body)));
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(TEXT_CONTENT_TYPE),
                    );
                    r
                }
                None => text(
                    StatusCode::NOT_FOUND,
                    "unknown tenant: use /probe?tenant=NAME with a configured tenant name\n",
                ),
            }
        }
        "/" => page(fleet::render(
            &state.store.tenants(),
            query::FleetQuery::parse(req.uri().query()),
            crate::core::clock::unix_now(),
        )),
        path if path.starts_with("/tenants/") => {
            let found = html::decode_segment(&path["/tenants/".len()..])
                .and_then(|name| state.store.get(&name));
            match found {
                Some(t) => page(tenant::render(
                    &model::TenantView::of(&t),
                    crate::core::clock::unix_now(),
                )),
                None => text(
                    StatusCode::NOT_FOUND,
                    "unknown tenant: the overview at / links every configured tenant\n",
                ),
            }
        }
        "/static/status.css" => {
            let mut r = Response::new(Chunks::from(Bytes::from(html::stylesheet())));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            );
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            r
        }
        "/static/favicon.svg" | "/favicon.ico" => {
            let mut r = Response::new(Chunks::from(Bytes::from_static(
                html::FAVICON_SVG.as_bytes(),
            )));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            );
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            r
        }
        "/-/healthy" => text(StatusCode::OK, "Healthy\n"),
        "/-/ready" => {
            if state.store.ready() {
                text(StatusCode::OK, "Ready\n")
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Not ready: waiting for the first refresh of every tenant\n",
                )
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// An HTML page with the strict CSP (no script, same-origin styles only).
fn page(body: String) -> Response<Chunks> {
    let mut r = Response::new(Chunks::from(Bytes::from(body)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(html::CSP),
    );
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn metrics(state: &HttpState, req: &Request<Incoming>) -> Response<Chunks> {
    let mut r = if accepts_gzip(req) {
        let mut r = Response::new(Chunks::segments(state.metrics.encode_gzip_chunks()));
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        Response::new(Chunks::segments(state.metrics.encode_pieces()))
    };
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TEXT_CONTENT_TYPE),
    );
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    r
}
