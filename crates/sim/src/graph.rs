//! Graph's two Secure Score endpoints: bearer-token checks, latency, throttling, faults, and
//! paging with `$top`/`$skiptoken` and a `nextLink` whenever more items exist.

use crate::faults::fault_response;
use crate::limits::admit;
use crate::options::{Endpoint, Fault, PROFILES_PAGE_SIZE, SCORES_PAGE_SIZE};
use crate::respond::{graph_error, raw_response, Resp};
use crate::state::{lock, State};
use hyper::StatusCode;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub(crate) fn issued_tenant_of(state: &State, token: &str) -> usize {
    lock(&state.tokens)
        .get(token)
        .map(|t| t.tenant)
        .unwrap_or(0)
}

pub(crate) fn skiptoken(offset: usize) -> String {
    format!("{offset:08x}-5c1e-4b7a-9d2f-{:012x}", 0x5ec5c0e_u64 * 7)
}

pub(crate) fn parse_skiptoken(token: &str) -> Option<usize> {
    usize::from_str_radix(token.get(..8)?, 16).ok()
}

pub(crate) async fn graph(
    state: &State,
    endpoint: Endpoint,
    authorization: Option<&str>,
    query: &str,
    gzip: bool,
) -> (Resp, Option<usize>) {
    let Some(token) = authorization.and_then(|a| a.strip_prefix("Bearer ")) else {
        return (
            graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token is empty.",
                gzip,
            ),
            None,
        );
    };
    let tenant = {
        let tokens = lock(&state.tokens);
        match tokens.get(token) {
            None => None,
            Some(issued) if issued.expires <= Instant::now() => {
                drop(tokens);
                return (
                    graph_error(
                        401,
                        "InvalidAuthenticationToken",
                        "Lifetime validation failed, the token is expired.",
                        gzip,
                    ),
                    None,
                );
            }
            Some(issued) if !issued.roles => {
                drop(tokens);
                return (
                    graph_error(
                        403,
                        "Authorization_RequestDenied",
                        "Insufficient privileges to complete the operation.",
                        gzip,
                    ),
                    Some(issued_tenant_of(state, token)),
                );
            }
            Some(issued) => Some(issued.tenant),
        }
    };
    let Some(t) = tenant else {
        return (
            graph_error(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format.", gzip),
            None,
        );
    };
    let (lo, hi) = state.latency;
    if hi > Duration::ZERO {
        let span = hi.saturating_sub(lo).as_secs_f64();
        tokio::time::sleep(lo + Duration::from_secs_f64(span * fastrand::f64())).await;
    }
    let _in_flight = match admit(state, t) {
        Ok(g) => g,
        Err(wait) => {
            let mut r = graph_error(
                429,
                "TooManyRequests",
                "Too many requests, please retry after some time.",
                gzip,
            );
            if let Ok(v) = wait.to_string().parse() {
                r.headers_mut().insert("retry-after", v);
            }
            return (r, Some(t));
        }
    };
    let fault = state.take_fault(Some(t), endpoint);
    if let Some(f) = &fault {
        if let Some(r) = fault_response(f, gzip, false).await {
            return (r, Some(t));
        }
    }
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let top = params.get("$top").and_then(|v| v.parse::<usize>().ok());
    let offset = params
        .get("$skiptoken")
        .and_then(|v| parse_skiptoken(v))
        .or_else(|| params.get("$skip").and_then(|v| v.parse().ok()))
        .unwrap_or(0);
    let (page, page_len, total, path) = {
        let data = lock(&state.tenants[t].data);
        let (items, cap, path) = match endpoint {
            Endpoint::SecureScores => (&data.records, SCORES_PAGE_SIZE, "security/secureScores"),
            _ => (
                &data.profiles,
                PROFILES_PAGE_SIZE,
                "security/secureScoreControlProfiles",
            ),
        };
        let size = top.unwrap_or(cap).clamp(1, cap);
        let page: Vec<&str> = items.iter().skip(offset).take(size).map(|s| &**s).collect();
        (
            format!("[{}]", page.join(",")),
            page.len(),
            items.len(),
            path,
        )
    };
    let mut body =
        format!("{{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#{path}\"");
    // Graph adds a nextLink whenever more items exist, even when $top asked for fewer.
    let next = offset + page_len;
    let mut next_link = (next < total).then(|| {
        let top_part = top.map(|n| format!("$top={n}&")).unwrap_or_default();
        format!(
            "{}/v1.0/{path}?{top_part}$skiptoken={}",
            state.base_url,
            skiptoken(next)
        )
    });
    if let Some(Fault::NextLink(link)) = &fault {
        next_link = Some(link.clone());
    }
    if let Some(link) = next_link {
        body.push_str(&format!(",\"@odata.nextLink\":{}", json!(link)));
    }
    body.push_str(&format!(",\"value\":{page}}}"));
    let mut resp = raw_response(200, body.into_bytes(), gzip);
    if let Some(Fault::Partial { warning }) = &fault {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = warning.parse() {
            resp.headers_mut().insert("warning", v);
        }
    }
    (resp, Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip() {
        assert_eq!(parse_skiptoken(&skiptoken(200)), Some(200));
        assert_eq!(parse_skiptoken("zz"), None);
    }
}
