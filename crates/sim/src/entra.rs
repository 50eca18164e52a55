//! The Entra ID token endpoint: client secret, certificate assertion and federated token
//! grants, with Entra's AADSTS errors.

use crate::faults::fault_response;
use crate::identity;
use crate::options::Endpoint;
use crate::respond::{entra_error, json_response, Resp};
use crate::spec::Consent;
use crate::state::{lock, IssuedToken, State};
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;

/// Graph resources whose `/.default` scope the simulator accepts (one per supported cloud).
pub(crate) const ACCEPTED_SCOPES: [&str; 3] = [
    "https://graph.microsoft.com/.default",
    "https://graph.microsoft.us/.default",
    "https://dod-graph.microsoft.us/.default",
];

pub(crate) async fn token(
    state: &State,
    tenant_key: &str,
    body: &[u8],
    form_log: &mut Vec<(String, String)>,
) -> (Resp, Option<usize>) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    for (k, v) in &form {
        let shown = if k == "client_secret" || k == "client_assertion" {
            "<redacted>".to_string()
        } else {
            v.clone()
        };
        form_log.push((k.clone(), shown));
    }
    form_log.sort();
    let Some(t) = state.find_tenant(tenant_key) else {
        return (
            entra_error(400, "invalid_request", 90002, &format!("Tenant '{tenant_key}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")),
            None,
        );
    };
    if let Some(f) = state.take_fault(Some(t), Endpoint::Token) {
        if let Some(r) = fault_response(&f, false, true).await {
            return (r, Some(t));
        }
    }
    let spec = &state.tenants[t].spec;
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if get("grant_type") != "client_credentials" {
        return (
            entra_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            ),
            Some(t),
        );
    }
    if !ACCEPTED_SCOPES.contains(&get("scope")) {
        return (
            entra_error(400, "invalid_scope", 1002012, &format!("The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", get("scope"))),
            Some(t),
        );
    }
    let client_id = get("client_id");
    if client_id != spec.client_id || spec.consent == Consent::NoServicePrincipal {
        return (
            entra_error(400, "unauthorized_client", 700016, &format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", spec.domain)),
            Some(t),
        );
    }
    if spec.app_disabled {
        return (
            entra_error(
                401,
                "unauthorized_client",
                7000112,
                &format!("Application '{client_id}' is disabled."),
            ),
            Some(t),
        );
    }
    let assertion = get("client_assertion");
    if !assertion.is_empty() {
        if get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        {
            return (
                entra_error(400, "invalid_request", 90014, "The request body must contain the following parameter: 'client_assertion_type'."),
                Some(t),
            );
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp() + state.clock_offset_secs;
        let audience = format!("{}/{tenant_key}/oauth2/v2.0/token", state.base_url);
        let checked = if identity::is_certificate_assertion(assertion) {
            identity::verify_certificate_assertion(
                assertion,
                &spec.certificates,
                client_id,
                &audience,
                now,
            )
            .and_then(|jti| {
                if lock(&state.used_jti).insert(jti) {
                    Ok(())
                } else {
                    Err(identity::Refusal {
                        status: 401,
                        error: "invalid_client",
                        code: 700025,
                        text: "Client assertion has already been used: its jti was seen before."
                            .into(),
                    })
                }
            })
        } else {
            state
                .federation
                .verify(assertion, &spec.federated_subjects, now)
        };
        if let Err(r) = checked {
            return (entra_error(r.status, r.error, r.code, &r.text), Some(t));
        }
    } else if get("client_secret") != spec.client_secret || spec.client_secret.is_empty() {
        return (
            entra_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app."),
            Some(t),
        );
    }
    (issue_token(state, t), Some(t))
}

/// Issues an access token for tenant `t`, valid on Graph until it expires.
pub(crate) fn issue_token(state: &State, t: usize) -> Resp {
    let access_token = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.{}.{}",
        (0..96)
            .map(|_| fastrand::alphanumeric())
            .collect::<String>(),
        (0..43)
            .map(|_| fastrand::alphanumeric())
            .collect::<String>()
    );
    lock(&state.tokens).insert(
        access_token.clone(),
        IssuedToken {
            tenant: t,
            expires: Instant::now() + state.token_lifetime,
            roles: state.tenants[t].spec.consent != Consent::NoAppRole,
        },
    );
    let secs = state.token_lifetime.as_secs();
    json_response(
        200,
        &json!({"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": access_token}),
        false,
    )
}
