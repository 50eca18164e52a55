//! What the simulator checks the way Entra ID does: certificate client assertions (signature
//! against the registered certificate, `aud`, `iss`/`sub`, `exp`/`nbf`, `jti` reuse), federated
//! tokens from a registered issuer, and managed-identity endpoints (IMDS and App Service) on
//! loopback HTTP.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::time::Duration;

/// The audience Entra ID requires on federated tokens.
pub const FEDERATION_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The RSA key of the demo's and tests' app registration (a test key, never a real one).
pub const TEST_APP_KEY_PEM: &str = include_str!("../keys/app-key.pem");
/// A different RSA key, for "wrong key" tests.
pub const TEST_OTHER_KEY_PEM: &str = include_str!("../keys/other-key.pem");

/// Makes a certificate for an RSA key (PEM), valid between the given Unix times.
/// Returns the DER certificate and a PEM file holding the certificate and the key.
pub fn make_certificate(
    key_pem: &str,
    not_before: i64,
    not_after: i64,
) -> Result<(Vec<u8>, String), rcgen::Error> {
    let key = rcgen::KeyPair::from_pem_and_sign_algo(key_pem, &rcgen::PKCS_RSA_SHA256)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "securescore_exporter test app");
    params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before)
        .map_err(|_| rcgen::Error::CouldNotParseCertificate)?;
    params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after)
        .map_err(|_| rcgen::Error::CouldNotParseCertificate)?;
    let cert = params.self_signed(&key)?;
    let pem = format!("{}{}", cert.pem(), key_pem);
    Ok((cert.der().to_vec(), pem))
}

/// Why an assertion was refused: Entra's HTTP status, error, AADSTS code and text.
pub struct Refusal {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub text: String,
}

fn refuse(code: u32, text: impl Into<String>) -> Refusal {
    Refusal {
        status: 401,
        error: "invalid_client",
        code,
        text: text.into(),
    }
}

/// A decoded JWT: header, claims, signing input and signature.
struct Jwt {
    header: Value,
    claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

fn decode(token: &str) -> Option<Jwt> {
    let mut parts = token.trim().split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    Some(Jwt {
        header,
        claims,
        signing_input: format!("{h}.{c}"),
        signature: URL_SAFE_NO_PAD.decode(s).ok()?,
    })
}

/// True when the assertion names a certificate (x5t or x5t#S256) rather than a federated issuer.
pub fn is_certificate_assertion(token: &str) -> bool {
    decode(token)
        .is_some_and(|j| j.header.get("x5t#S256").is_some() || j.header.get("x5t").is_some())
}

fn check_times(claims: &Value, now: i64) -> Result<(), Refusal> {
    let exp = claims["exp"].as_i64().unwrap_or(0);
    let nbf = claims["nbf"].as_i64().unwrap_or(0);
    // Entra allows a few minutes of clock skew.
    if exp < now - 300 || nbf > now + 300 {
        return Err(refuse(
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    Ok(())
}

/// Checks a certificate assertion against the certificates registered for the app.
/// Returns the `jti` so the caller can refuse its reuse.
pub fn verify_certificate_assertion(
    token: &str,
    registered: &[Vec<u8>],
    client_id: &str,
    audience: &str,
    now: i64,
) -> Result<String, Refusal> {
    let jwt =
        decode(token).ok_or_else(|| refuse(700025, "Client assertion is not a valid JWT."))?;
    let (alg, digest_alg, hdr) = match jwt.header["alg"].as_str() {
        Some("PS256") => (
            &signature::RSA_PSS_2048_8192_SHA256,
            &ring::digest::SHA256,
            "x5t#S256",
        ),
        Some("RS256") if jwt.header.get("x5t#S256").is_some() => (
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &ring::digest::SHA256,
            "x5t#S256",
        ),
        Some("RS256") => (
            &signature::RSA_PKCS1_2048_8192_SHA256,
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            "x5t",
        ),
        _ => {
            return Err(refuse(
                700027,
                "Client assertion contains an unsupported signature algorithm.",
            ))
        }
    };
    let thumb = jwt.header[hdr].as_str().unwrap_or_default();
    let cert = registered
        .iter()
        .find(|der| URL_SAFE_NO_PAD.encode(ring::digest::digest(digest_alg, der)) == thumb)
        .ok_or_else(|| refuse(700027, format!("Client assertion failed signature validation. The key was not found: the certificate with thumbprint {thumb} is not registered on application '{client_id}'.")))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|_| refuse(700027, "The registered certificate cannot be read."))?;
    let public = parsed.public_key().subject_public_key.data.to_vec();
    signature::UnparsedPublicKey::new(alg, public)
        .verify(jwt.signing_input.as_bytes(), &jwt.signature)
        .map_err(|_| refuse(700027, "Client assertion failed signature validation."))?;
    if parsed.validity().not_after.timestamp() < now {
        return Err(refuse(
            700027,
            format!("The certificate with identifier used to sign the client assertion is expired on application '{client_id}'."),
        ));
    }
    let c = &jwt.claims;
    if c["aud"].as_str() != Some(audience) {
        return Err(refuse(700023, format!("Client assertion audience claim does not match Realm issuer: expected '{audience}'.")));
    }
    if c["iss"].as_str() != Some(client_id) || c["sub"].as_str() != Some(client_id) {
        return Err(refuse(
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    check_times(c, now)?;
    c["jti"]
        .as_str()
        .filter(|j| !j.is_empty())
        .map(str::to_string)
        .ok_or_else(|| refuse(700025, "Client assertion has no jti claim."))
}

/// The simulator's OIDC issuer for workload identity federation (like an AKS cluster's).
pub struct FederatedIssuer {
    pub issuer: String,
    key: EcdsaKeyPair,
    kid: String,
}

impl FederatedIssuer {
    pub fn new(issuer: String) -> FederatedIssuer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("P-256 key generation works");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("a freshly generated key parses");
        let kid = URL_SAFE_NO_PAD.encode(
            &ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref()).as_ref()[..12],
        );
        FederatedIssuer { issuer, key, kid }
    }

    /// A service-account token for `subject`, valid for `lifetime` from `now`.
    pub fn issue(&self, subject: &str, now: i64, lifetime: Duration) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let claims = json!({"iss": self.issuer, "sub": subject, "aud": [FEDERATION_AUDIENCE],
            "iat": now, "nbf": now, "exp": now + lifetime.as_secs() as i64,
            "kubernetes.io": {"namespace": "monitoring", "serviceaccount": {"name": "securescore-exporter"}}});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("ECDSA signing works");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    /// Checks a federated token: our signature, issuer, audience, a registered subject, time.
    pub fn verify(&self, token: &str, subjects: &[String], now: i64) -> Result<(), Refusal> {
        let no_match = || {
            refuse(
                70021,
                "No matching federated identity record found for presented assertion.",
            )
        };
        let jwt = decode(token).ok_or_else(no_match)?;
        if jwt.header["kid"].as_str() != Some(&self.kid) {
            return Err(no_match());
        }
        signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.key.public_key().as_ref(),
        )
        .verify(jwt.signing_input.as_bytes(), &jwt.signature)
        .map_err(|_| refuse(700027, "Client assertion failed signature validation."))?;
        let c = &jwt.claims;
        let aud_ok = match &c["aud"] {
            Value::String(a) => a == FEDERATION_AUDIENCE,
            Value::Array(a) => a.iter().any(|v| v == FEDERATION_AUDIENCE),
            _ => false,
        };
        let sub = c["sub"].as_str().unwrap_or_default();
        if c["iss"].as_str() != Some(&self.issuer) || !aud_ok || !subjects.iter().any(|s| s == sub)
        {
            return Err(no_match());
        }
        check_times(c, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn federated_tokens_are_checked_for_issuer_subject_and_time() {
        let issuer = FederatedIssuer::new("https://oidc.test/abc".into());
        let subjects = vec!["system:serviceaccount:monitoring:securescore-exporter".to_string()];
        let t = issuer.issue(&subjects[0], now(), Duration::from_secs(3600));
        assert!(issuer.verify(&t, &subjects, now()).is_ok());
        assert_eq!(
            issuer
                .verify(&t, &["other".into()], now())
                .err()
                .unwrap()
                .code,
            70021
        );
        assert_eq!(
            issuer
                .verify(&t, &subjects, now() + 7200)
                .err()
                .unwrap()
                .code,
            700024
        );
        let stranger = FederatedIssuer::new("https://oidc.test/abc".into());
        assert_eq!(
            stranger.verify(&t, &subjects, now()).err().unwrap().code,
            70021
        );
    }
}
