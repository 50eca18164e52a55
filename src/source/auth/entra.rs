//! Entra ID's token errors, and what the user should do about each.
//!
//! Entra answers a failed token request with `error`, `error_description` (starting with an
//! AADSTS code, followed by trace ids) and `error_codes`. The codes that a misconfigured
//! exporter meets get a sentence saying what to fix and where.

use crate::source::model::Obj;

/// What the exporter knows when a token request fails, to word the advice.
pub struct Context<'a> {
    pub tenant_name: &'a str,
    pub tenant_id: &'a str,
    pub client_id: Option<&'a str>,
    pub login_url: &'a str,
    pub credential: &'a str,
}

/// The AADSTS code and the first line of `error_description` (the rest is trace ids).
pub fn parse(obj: Option<Obj<'_>>) -> (Option<String>, String) {
    let Some(o) = obj else {
        return (None, "no error details in the response".into());
    };
    let description = o
        .string("error_description")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    // Entra puts "Trace ID: …" on the same line in some answers; keep only the message.
    let description = description
        .split(" Trace ID:")
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    let code = description
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.starts_with("AADSTS"))
        .map(str::to_string)
        .or_else(|| {
            o.get("error_codes")
                .and_then(|v| v.as_array())
                .and_then(|a| a.first())
                .and_then(|c| c.as_u64())
                .map(|c| format!("AADSTS{c}"))
        });
    let error = o.string("error").unwrap_or_default();
    let message = match (error.is_empty(), description.is_empty()) {
        (false, false) => format!("{error}: {description}"),
        (false, true) => error,
        (true, false) => description,
        (true, true) => "no error details in the response".into(),
    };
    (code, message)
}

fn consent_url(c: &Context<'_>) -> String {
    format!(
        "{}/{}/adminconsent?client_id={}",
        c.login_url,
        c.tenant_id,
        c.client_id.unwrap_or("<client_id>")
    )
}

/// A sentence that says what to fix, for the codes a misconfiguration produces.
pub fn advice(code: &str, c: &Context<'_>) -> Option<String> {
    let tenant = c.tenant_name;
    let text = match code {
        "AADSTS7000215" => format!(
            "the client secret of credential {} is wrong: use the secret's Value (not its Secret ID) from the app registration's Certificates & secrets, or create a new secret",
            c.credential
        ),
        "AADSTS7000222" => format!(
            "the client secret of credential {} has expired: create a new secret in the app registration and update the configuration",
            c.credential
        ),
        "AADSTS700016" => format!(
            "admin consent for SecurityEvents.Read.All is missing in tenant {tenant} (the application is not registered there): an administrator of that tenant must grant it at {}",
            consent_url(c)
        ),
        "AADSTS65001" | "AADSTS650057" => format!(
            "admin consent for SecurityEvents.Read.All is missing in tenant {tenant}: an administrator of that tenant must grant it at {}",
            consent_url(c)
        ),
        "AADSTS7000112" | "AADSTS7000114" => format!(
            "the application is disabled in tenant {tenant}: an administrator must enable its enterprise application (Enterprise applications → Properties → Enabled for users to sign-in)"
        ),
        "AADSTS700027" => format!(
            "tenant {tenant} rejected the certificate of credential {}: upload the certificate's public part to the app registration (Certificates & secrets), or renew it if it expired",
            c.credential
        ),
        "AADSTS700024" => "the client assertion is outside its valid time range: check the clock of this host, or renew the federated token".into(),
        "AADSTS70021" | "AADSTS700213" | "AADSTS700211" | "AADSTS700212" => format!(
            "no federated identity credential of the app matches the presented token: add one with the token's issuer and subject and audience api://AzureADTokenExchange (credential {})",
            c.credential
        ),
        "AADSTS90002" => format!(
            "tenant {} does not exist in this cloud: check tenant_id and graph.cloud",
            c.tenant_id
        ),
        "AADSTS1002012" | "AADSTS70011" => "the token scope is invalid: graph.cloud must match the cloud the app is registered in".into(),
        "AADSTS90014" => "the token request lacks a required field: check the credential's configuration".into(),
        _ => return None,
    };
    Some(text)
}

/// Advice for a Graph 403: the token carries no SecurityEvents.Read.All role.
pub fn graph_forbidden_advice(c: &Context<'_>) -> String {
    format!(
        "admin consent for SecurityEvents.Read.All is missing in tenant {}: add the application permission SecurityEvents.Read.All to the app registration; an administrator of that tenant must grant it at {}",
        c.tenant_name,
        consent_url(c)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context<'static> {
        Context {
            tenant_name: "contoso",
            tenant_id: "contoso.onmicrosoft.com",
            client_id: Some("11111111-1111-1111-1111-111111111111"),
            login_url: "https://login.microsoftonline.com",
            credential: "msp",
        }
    }

    #[test]
    fn entra_errors_yield_code_and_first_line() {
        let v = json!({"error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. Trace ID: abc Correlation ID: def",
            "error_codes": [7000215]});
        let (code, message) = parse(v.as_object().map(Obj::new));
        assert_eq!(code.as_deref(), Some("AADSTS7000215"));
        assert_eq!(
            message,
            "invalid_client: AADSTS7000215: Invalid client secret provided."
        );
        let v = json!({"error": "invalid_client", "error_description": "AADSTS7000215: x\r\nTrace ID: abc"});
        assert_eq!(
            parse(v.as_object().map(Obj::new)).1,
            "invalid_client: AADSTS7000215: x"
        );
        let v = json!({"error": "x", "error_codes": [700016]});
        assert_eq!(
            parse(v.as_object().map(Obj::new)).0.as_deref(),
            Some("AADSTS700016")
        );
    }

    #[test]
    fn consent_advice_names_tenant_and_url() {
        let a = advice("AADSTS65001", &ctx()).unwrap();
        assert!(a.starts_with("admin consent for SecurityEvents.Read.All is missing in tenant contoso: an administrator of that tenant must grant it at https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=11111111"), "{a}");
        assert!(advice("AADSTS700016", &ctx())
            .unwrap()
            .contains("adminconsent"));
        assert!(advice("AADSTS7000215", &ctx())
            .unwrap()
            .contains("Value (not its Secret ID)"));
        assert!(advice("AADSTS7000112", &ctx())
            .unwrap()
            .contains("disabled"));
        assert!(advice("AADSTS999", &ctx()).is_none());
    }
}
