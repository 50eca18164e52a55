//! Certificate credentials: loading a PEM (certificate + private key) or PKCS#12 file, and
//! signing the client-assertion JWT Entra ID expects.
//!
//! The assertion carries `alg` PS256, `x5t#S256` (SHA-256 of the DER certificate), `aud` = the
//! exact token URL, `iss` = `sub` = client id, a fresh `jti`, `nbf`/`iat` = now and `exp` ten
//! minutes on. Entra ID certificate credentials are RSA keys; other key types are refused with a
//! message that says so.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RsaKeyPair, RSA_PSS_SHA256};
use std::path::Path;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How long a client assertion is valid.
pub const ASSERTION_LIFETIME_SECS: i64 = 600;

/// Why a certificate credential cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// A loaded certificate credential.
pub struct CertificateCredential {
    key: RsaKeyPair,
    /// base64url(SHA-256(DER)), the `x5t#S256` header.
    thumbprint_s256: String,
    /// notAfter as Unix seconds.
    pub not_after: i64,
    /// notBefore as Unix seconds.
    pub not_before: i64,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("thumbprint_s256", &self.thumbprint_s256)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

fn invalid(msg: impl Into<String>) -> CertificateError {
    CertificateError::Invalid(msg.into())
}

fn rsa_key(der: &PrivateKeyDer<'_>) -> Result<RsaKeyPair, CertificateError> {
    let parsed = match der {
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        PrivateKeyDer::Sec1(_) => {
            return Err(invalid(
                "the private key is an EC key; Entra ID certificate credentials need an RSA key (2048 bits or more)",
            ))
        }
        _ => return Err(invalid("unsupported private key format")),
    };
    parsed.map_err(|e| invalid(format!("the private key is not a usable RSA key ({e})")))
}

/// Parses PKCS#12 when the file is not PEM.
fn from_pkcs12(
    bytes: &[u8],
    password: &str,
) -> Result<(Vec<Vec<u8>>, PrivateKeyDer<'static>), CertificateError> {
    let archive = p12_keystore::KeyStore::from_pkcs12(
        bytes,
        password,
        p12_keystore::Pkcs12ImportPolicy::Relaxed,
    )
    .map_err(|e| {
        invalid(format!(
            "not a PEM file, and not a PKCS#12 file this password opens ({e})"
        ))
    })?;
    let (_, chain) = archive
        .private_key_chain()
        .ok_or_else(|| invalid("the PKCS#12 file holds no private key with a certificate"))?;
    let certs = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
    let key = PrivateKeyDer::Pkcs8(chain.key().as_der().to_vec().into());
    Ok((certs, key))
}

impl CertificateCredential {
    /// Loads `path`: PEM with the certificate and its private key, or PKCS#12 with `password`.
    pub fn load(
        path: &Path,
        password: Option<&str>,
    ) -> Result<CertificateCredential, CertificateError> {
        let bytes = std::fs::read(path).map_err(|source| CertificateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let is_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
        let (certs, key) = if is_pem {
            let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&bytes)
                .filter_map(Result::ok)
                .map(|c| c.as_ref().to_vec())
                .collect();
            let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
                invalid("the PEM file holds no private key (it needs the certificate and its key)")
            })?;
            (certs, key)
        } else {
            from_pkcs12(&bytes, password.unwrap_or(""))?
        };
        if certs.is_empty() {
            return Err(invalid("the file holds no certificate"));
        }
        let key = rsa_key(&key)?;
        // The certificate Entra ID knows is the one whose public key matches the private key.
        let public = key.public().as_ref().to_vec();
        for der in &certs {
            let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
                invalid(format!("a certificate in the file cannot be parsed ({e})"))
            })?;
            if cert.public_key().subject_public_key.data.as_ref() == public.as_slice() {
                let digest = ring::digest::digest(&ring::digest::SHA256, der);
                return Ok(CertificateCredential {
                    key,
                    thumbprint_s256: URL_SAFE_NO_PAD.encode(digest.as_ref()),
                    not_after: cert.validity().not_after.timestamp(),
                    not_before: cert.validity().not_before.timestamp(),
                });
            }
        }
        Err(invalid(
            "no certificate in the file matches its private key",
        ))
    }

    /// base64url SHA-256 thumbprint of the certificate (`x5t#S256`).
    pub fn thumbprint_s256(&self) -> &str {
        &self.thumbprint_s256
    }

    /// A signed client assertion for `client_id` at the token URL `audience`.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: i64,
    ) -> Result<String, CertificateError> {
        let rng = SystemRandom::new();
        let mut jti = [0u8; 16];
        rng.fill(&mut jti)
            .map_err(|_| invalid("no randomness for the assertion id"))?;
        // A v4 UUID, as Entra ID's own libraries send.
        jti[6] = (jti[6] & 0x0f) | 0x40;
        jti[8] = (jti[8] & 0x3f) | 0x80;
        let hex: String = jti.iter().map(|b| format!("{b:02x}")).collect();
        let jti = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        let header =
            serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": self.thumbprint_s256});
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id, "jti": jti,
            "nbf": now, "iat": now, "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PSS_SHA256, &rng, signing_input.as_bytes(), &mut sig)
            .map_err(|_| invalid("signing the client assertion failed"))?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}
