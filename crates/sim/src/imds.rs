//! Managed identity: the IMDS and App Service token endpoints on loopback HTTP.

use crate::entra::{issue_token, ACCEPTED_SCOPES};
use crate::respond::{json_response, Resp};
use crate::state::State;
use hyper::body::Incoming;
use hyper::Request;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The managed-identity endpoints: IMDS (`/metadata/identity/oauth2/token`, header
/// `Metadata: true`) and App Service (`/msi/token`, header `X-IDENTITY-HEADER`).
pub(crate) async fn managed_identity(state: &State, req: Request<Incoming>) -> Resp {
    let mi_error = |status: u16, error: &str, text: &str| {
        json_response(
            status,
            &json!({"error": error, "error_description": text}),
            false,
        )
    };
    let Some(mi) = &state.managed_identity else {
        return mi_error(404, "not_found", "no managed identity on this host");
    };
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let path = req.uri().path();
    let authorised = match path {
        "/metadata/identity/oauth2/token" => header("metadata") == "true",
        "/msi/token" => header("x-identity-header") == mi.header_secret,
        _ => return mi_error(404, "not_found", "unknown path"),
    };
    if !authorised {
        return mi_error(
            400,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    let resource = params.get("resource").map(String::as_str).unwrap_or("");
    if !ACCEPTED_SCOPES
        .iter()
        .any(|s| s.trim_end_matches("/.default") == resource.trim_end_matches('/'))
    {
        return mi_error(
            400,
            "invalid_resource",
            "AADSTS500011: The resource principal was not found in the tenant.",
        );
    }
    let identity_ok = match params.get("client_id") {
        Some(id) => mi.client_ids.contains(id),
        None => mi.system_assigned,
    };
    if !identity_ok {
        return mi_error(400, "invalid_request", "Identity not found");
    }
    let Some(t) = state.find_tenant(&mi.tenant) else {
        return mi_error(400, "invalid_request", "Identity not found");
    };
    let issued = issue_token(state, t);
    // Managed-identity endpoints send expires_in and expires_on as strings.
    let body = http_body_util::BodyExt::collect(issued.into_body())
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let secs = state.token_lifetime.as_secs();
    let expires_on = time::OffsetDateTime::now_utc().unix_timestamp() + secs as i64;
    let mut out = json!({"access_token": v["access_token"], "expires_on": expires_on.to_string(),
        "resource": resource, "token_type": "Bearer", "client_id": params.get("client_id").cloned().unwrap_or_else(|| "system".into())});
    if path.starts_with("/metadata") {
        out["expires_in"] = json!(secs.to_string());
    }
    json_response(200, &out, false)
}
