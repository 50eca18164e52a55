//! HTTP transport: `/metrics`, `/` (status page), `/-/healthy`, `/-/ready`.
//!
//! Hyper 1 with one task per connection and graceful shutdown. Handlers only read the
//! in-memory store; nothing here ever waits on Graph. With `--web.config.file`, connections are
//! TLS (optionally mutual, with allowed SANs), requests need basic auth, and responses carry the
//! configured headers. Slow or idle clients are cut off, request headers are bounded, and the
//! number of open connections is capped.

use crate::exposition::Piece;
use crate::metrics::{ExporterMetrics, TEXT_CONTENT_TYPE};
use crate::status_page;
use crate::store::Store;
use crate::web_config::{sans_allowed, WebConfig, WebConfigSource};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A response body of ready chunks: lets `/metrics` send the cached per-tenant bytes without
/// copying them into one buffer.
pub struct Chunks(std::collections::VecDeque<Piece>);

impl Chunks {
    pub fn many(chunks: Vec<Bytes>) -> Chunks {
        Chunks::pieces(chunks.into_iter().map(Piece::Plain).collect())
    }

    /// A body of prepared pieces; compressed ones are inflated one at a time as they are sent.
    pub fn pieces(pieces: Vec<Piece>) -> Chunks {
        Chunks(pieces.into_iter().filter(|c| !c.is_empty()).collect())
    }
}

impl From<Bytes> for Chunks {
    fn from(b: Bytes) -> Chunks {
        Chunks::many(vec![b])
    }
}

/// Pieces smaller than this are copied together into frames of up to [`FRAME`] bytes, so a
/// body of 100,000 small parts is written as a few hundred frames; larger ones go as they are.
const SMALL_PIECE: u64 = 16 * 1024;
const FRAME: usize = 256 * 1024;

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        let Some(first) = self.0.pop_front() else {
            return std::task::Poll::Ready(None);
        };
        if first.len() >= SMALL_PIECE {
            return std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(first.into_bytes()))));
        }
        // Copying only when needed: one frame per call, so memory stays at one frame, sized
        // exactly (a fixed 256 KB buffer would cost a mmap per small response).
        let mut size = first.len();
        let mut count = 0;
        for next in &self.0 {
            if next.len() >= SMALL_PIECE || size + next.len() > FRAME as u64 {
                break;
            }
            size += next.len();
            count += 1;
        }
        let mut frame = bytes::BytesMut::with_capacity(size as usize);
        frame.extend_from_slice(&first.into_bytes());
        for next in self.0.drain(..count) {
            frame.extend_from_slice(&next.into_bytes());
        }
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(frame.freeze()))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.0.iter().map(Piece::len).sum())
    }
}

/// Most connections served at once; further clients wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 1024;
/// A client gets this long to send its request headers (and to start the next request).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Request line plus headers larger than this get 431.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// What the handlers read.
#[derive(Clone)]
pub struct HttpState {
    pub metrics: Arc<ExporterMetrics>,
    pub store: Arc<Store>,
    pub web: Option<Arc<WebConfigSource>>,
    /// Where `POST /-/reload` sends its request (none: reload is not available).
    pub reload: Option<tokio::sync::mpsc::Sender<crate::app::ReloadRequest>>,
    /// `/-/healthy` skips basic auth (`web.healthy_without_auth`).
    pub healthy_without_auth: bool,
}

/// Serves `listener` until `shutdown` fires, then lets open requests finish (up to 10 s).
pub async fn serve(listener: TcpListener, state: HttpState, shutdown: CancellationToken) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // A body goes out in several writes; without this, Nagle's algorithm holds the last
        // small one until the client's delayed ACK (~40 ms a response). Go's servers do the same.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let state = state.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let web = state.web.as_ref().map(|w| w.get());
            match web.as_ref().and_then(|w| w.tls.clone()) {
                None => serve_connection(TokioIo::new(stream), state, watcher).await,
                Some(tls) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                    let stream = match tokio::time::timeout(
                        HANDSHAKE_TIMEOUT,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    let allowed = web
                        .as_ref()
                        .map(|w| w.client_allowed_sans.as_slice())
                        .unwrap_or(&[]);
                    if !allowed.is_empty() {
                        let cert = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                            .map(|c| c.as_ref().to_vec());
                        if !cert.is_some_and(|c| sans_allowed(&c, allowed)) {
                            tracing::debug!(%peer, "client certificate SAN not allowed");
                            return;
                        }
                    }
                    serve_connection(TokioIo::new(stream), state, watcher).await
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10 s; closing them");
        }
    }
}

async fn serve_connection<IO>(
    io: TokioIo<IO>,
    state: HttpState,
    watcher: hyper_util::server::graceful::Watcher,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Slowloris guard: a client gets 10 s to send its request headers.
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD)
        .serve_connection(io, service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
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

async fn handle(state: &HttpState, req: Request<Incoming>) -> Response<Chunks> {
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
        "/" => {
            let mut r = Response::new(Chunks::from(Bytes::from(status_page::render(&state.store))));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(status_page::CSP),
            );
            r.headers_mut().insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            r
        }
        "/static/status.css" => {
            let mut r = Response::new(Chunks::from(Bytes::from(status_page::stylesheet())));
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
                status_page::FAVICON_SVG.as_bytes(),
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

fn metrics(state: &HttpState, req: &Request<Incoming>) -> Response<Chunks> {
    let mut r = if accepts_gzip(req) {
        let mut r = Response::new(Chunks::many(state.metrics.encode_gzip_chunks()));
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        Response::new(Chunks::pieces(state.metrics.encode_pieces()))
    };
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(TEXT_CONTENT_TYPE),
    );
    r.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    r
}
