//! Response shapes: Graph's and Entra ID's JSON errors, gzip when asked, request ids.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde_json::{json, Value};
use std::io::Write;

pub(crate) type Resp = Response<Full<Bytes>>;

pub(crate) fn json_response(status: u16, body: &Value, gzip: bool) -> Resp {
    let raw = serde_json::to_vec(body).unwrap_or_default();
    raw_response(status, raw, gzip)
}

pub(crate) fn raw_response(status: u16, raw: Vec<u8>, gzip: bool) -> Resp {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
        .header("request-id", uuidish())
        .header("client-request-id", uuidish());
    let body = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        match enc.write_all(&raw).and_then(|_| enc.finish()) {
            Ok(z) => {
                builder = builder.header("content-encoding", "gzip");
                z
            }
            Err(_) => raw,
        }
    } else {
        raw
    };
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

pub(crate) fn uuidish() -> String {
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u16(..),
        fastrand::u64(..1 << 48)
    )
}

pub(crate) fn now_iso() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Entra ID's error shape.
pub(crate) fn entra_error(status: u16, error: &str, code: u32, text: &str) -> Resp {
    let trace = uuidish();
    let correlation = uuidish();
    let ts = now_iso();
    json_response(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {ts}"),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}")
        }),
        false,
    )
}

/// Graph's error shape.
pub(crate) fn graph_error(status: u16, code: &str, message: &str, gzip: bool) -> Resp {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message,
            "innerError": {"date": now_iso(), "request-id": uuidish(), "client-request-id": uuidish()}}}),
        gzip,
    )
}
