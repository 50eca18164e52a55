//! HTTP transport: listeners and connections, hyper 1 with one task per connection and
//! graceful shutdown. With `--web.config.file`, connections are TLS (optionally mutual, with
//! allowed SANs). Slow or idle clients are cut off, request headers are bounded, and the number
//! of open connections is capped. What each path answers is [`super::routes`].

use super::routes::{handle, HttpState};
use super::web_config::sans_allowed;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Most connections served at once; further clients wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 1024;
/// A client gets this long to send its request headers (and to start the next request).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Request line plus headers larger than this get 431.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

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
