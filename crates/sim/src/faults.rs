//! Injected faults: how each [`Fault`] answers instead of the real endpoint.

use crate::options::Fault;
use crate::respond::{entra_error, graph_error, raw_response, Resp};

/// Marks a response that must become a dropped connection.
#[derive(Clone, Copy)]
pub(crate) struct DropConnection;

/// Applies a fault that answers by itself; `Slow` waits and lets the request go on.
pub(crate) async fn fault_response(fault: &Fault, gzip: bool, entra: bool) -> Option<Resp> {
    match fault {
        Fault::Slow(d) => {
            tokio::time::sleep(*d).await;
            None
        }
        Fault::Throttle { retry_after } => {
            let mut r = if entra {
                entra_error(429, "temporarily_unavailable", 50196, "The server temporarily blocked the request.")
            } else {
                graph_error(429, "TooManyRequests", "Too many requests.", gzip)
            };
            if let Some(s) = retry_after {
                r.headers_mut().insert("retry-after", s.to_string().parse().ok()?);
            }
            Some(r)
        }
        Fault::Unavailable {
            status,
            retry_after,
        } => {
            let mut r = if entra {
                entra_error(*status, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
            } else {
                graph_error(*status, "ServiceNotAvailable", "The service is temporarily unavailable.", gzip)
            };
            r.headers_mut()
                .insert("retry-after", retry_after.parse().ok()?);
            Some(r)
        }
        Fault::ServerError(code) => Some(if entra {
            entra_error(*code, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
        } else {
            graph_error(*code, "UnknownError", "An internal server error occurred.", gzip)
        }),
        Fault::MalformedJson => Some(raw_response(200, br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#security/secureScores","value":[{"id":"trunc"#.to_vec(), gzip)),
        Fault::Unauthorized => Some(graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.", gzip)),
        Fault::Forbidden => Some(graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", gzip)),
        Fault::ConnectionReset => {
            let mut r = raw_response(500, Vec::new(), false);
            r.extensions_mut().insert(DropConnection);
            Some(r)
        }
        Fault::WrongContentType => {
            let mut r = raw_response(200, b"<html><body><h1>Proxy error</h1><p>The upstream is unavailable.</p></body></html>".to_vec(), gzip);
            r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("text/html"));
            Some(r)
        }
        Fault::Oversized(n) => {
            let mut body = Vec::with_capacity(*n);
            body.extend_from_slice(br#"{"value":["#);
            while body.len() + 16 < *n {
                body.extend_from_slice(br#"{"id":"padding"},"#);
            }
            body.extend_from_slice(br#"{"id":"end"}]}"#);
            Some(raw_response(200, body, false))
        }
        Fault::Partial { .. } | Fault::NextLink(_) => None,
    }
}
