//! TLS for the web config: certificates and keys, protocol versions, the five client-auth
//! types with their CA, and allowed client SANs.

use super::{invalid, RawTls, WebConfigError};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::{self, pki_types};

/// A client verifier for `RequestClientCert`/`RequireAnyClientCert`: any certificate, unverified,
/// as Go's crypto/tls does for those modes.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::server::danger::ClientCertVerifier for AnyClientCert {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
    fn verify_client_cert(
        &self,
        _end_entity: &pki_types::CertificateDer<'_>,
        _intermediates: &[pki_types::CertificateDer<'_>],
        _now: pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn tls_version(
    path: &Path,
    key: &str,
    v: &str,
) -> Result<&'static rustls::SupportedProtocolVersion, WebConfigError> {
    match v {
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS10" | "TLS11" => Err(invalid(
            path,
            format!("tls_server_config.{key}: {v} is not supported (insecure); use TLS12 or TLS13"),
        )),
        other => Err(invalid(
            path,
            format!("tls_server_config.{key}: unknown version {other:?} (TLS12 or TLS13)"),
        )),
    }
}

const CLIENT_AUTH_TYPES: [&str; 5] = [
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
];

pub(super) fn build_tls(
    path: &Path,
    t: &RawTls,
) -> Result<Arc<rustls::ServerConfig>, WebConfigError> {
    use pki_types::pem::PemObject;
    let auth = t.client_auth_type.as_deref().unwrap_or("NoClientCert");
    if !CLIENT_AUTH_TYPES.contains(&auth) {
        return Err(invalid(
            path,
            format!(
                "tls_server_config.client_auth_type: unknown value {auth:?} (one of {})",
                CLIENT_AUTH_TYPES.join(", ")
            ),
        ));
    }
    let read = |key: &str, f: &Path| {
        std::fs::read(f).map_err(|e| {
            invalid(
                path,
                format!("tls_server_config.{key}: cannot read {}: {e}", f.display()),
            )
        })
    };
    let cert_pem = match (&t.cert_file, &t.cert) {
        (Some(f), None) => read("cert_file", f)?,
        (None, Some(c)) => c.clone().into_bytes(),
        (Some(_), Some(_)) => {
            return Err(invalid(
                path,
                "tls_server_config: set cert_file or cert, not both",
            ))
        }
        (None, None) => return Err(invalid(path, "tls_server_config.cert_file is required")),
    };
    let key_pem = match (&t.key_file, &t.key) {
        (Some(f), None) => read("key_file", f)?,
        (None, Some(k)) => k.expose().as_bytes().to_vec(),
        (Some(_), Some(_)) => {
            return Err(invalid(
                path,
                "tls_server_config: set key_file or key, not both",
            ))
        }
        (None, None) => return Err(invalid(path, "tls_server_config.key_file is required")),
    };
    let certs: Vec<pki_types::CertificateDer<'static>> =
        pki_types::CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| {
                invalid(
                    path,
                    format!("tls_server_config.cert_file: not PEM certificates ({e})"),
                )
            })?;
    if certs.is_empty() {
        return Err(invalid(
            path,
            "tls_server_config.cert_file holds no certificate",
        ));
    }
    let key = pki_types::PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        invalid(
            path,
            format!("tls_server_config.key_file: no private key ({e})"),
        )
    })?;
    let min = tls_version(
        path,
        "min_version",
        t.min_version.as_deref().unwrap_or("TLS12"),
    )?;
    let max = tls_version(
        path,
        "max_version",
        t.max_version.as_deref().unwrap_or("TLS13"),
    )?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [&rustls::version::TLS12, &rustls::version::TLS13]
            .into_iter()
            .filter(|v| {
                let rank = |x: &rustls::SupportedProtocolVersion| {
                    if x.version == rustls::ProtocolVersion::TLSv1_2 {
                        12
                    } else {
                        13
                    }
                };
                rank(v) >= rank(min) && rank(v) <= rank(max)
            })
            .collect();
    if versions.is_empty() {
        return Err(invalid(
            path,
            "tls_server_config: min_version is above max_version",
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| invalid(path, format!("tls_server_config: {e}")))?;
    let client_roots = || -> Result<Arc<rustls::RootCertStore>, WebConfigError> {
        let pem = match (&t.client_ca_file, &t.client_ca) {
            (Some(f), _) => read("client_ca_file", f)?,
            (None, Some(c)) => c.clone().into_bytes(),
            (None, None) => {
                return Err(invalid(
                    path,
                    "tls_server_config.client_ca_file is required for this client_auth_type",
                ))
            }
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in pki_types::CertificateDer::pem_slice_iter(&pem) {
            let c =
                c.map_err(|e| invalid(path, format!("tls_server_config.client_ca_file: {e}")))?;
            roots
                .add(c)
                .map_err(|e| invalid(path, format!("tls_server_config.client_ca_file: {e}")))?;
        }
        if roots.is_empty() {
            return Err(invalid(
                path,
                "tls_server_config.client_ca_file holds no certificate",
            ));
        }
        Ok(Arc::new(roots))
    };
    let verifier_error = |e: rustls::server::VerifierBuilderError| {
        invalid(path, format!("tls_server_config.client_ca_file: {e}"))
    };
    let builder = match auth {
        "NoClientCert" => builder.with_no_client_auth(),
        "RequestClientCert" | "RequireAnyClientCert" => builder.with_client_cert_verifier(Arc::new(AnyClientCert {
            mandatory: auth == "RequireAnyClientCert",
            algorithms: provider.signature_verification_algorithms,
        })),
        "VerifyClientCertIfGiven" => builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder_with_provider(client_roots()?, provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(verifier_error)?,
        ),
        "RequireAndVerifyClientCert" => builder.with_client_cert_verifier(
            rustls::server::WebPkiClientVerifier::builder_with_provider(client_roots()?, provider.clone())
                .build()
                .map_err(verifier_error)?,
        ),
        other => {
            return Err(invalid(
                path,
                format!("tls_server_config.client_auth_type: unknown value {other:?} (NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"),
            ))
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        invalid(
            path,
            format!("tls_server_config: certificate and key do not work together ({e})"),
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// True when the peer certificate carries one of `allowed` as a DNS, IP, email or URI SAN.
pub fn sans_allowed(cert: &[u8], allowed: &[String]) -> bool {
    use x509_parser::extensions::GeneralName;
    if allowed.is_empty() {
        return true;
    }
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
        return false;
    };
    let Ok(Some(san)) = parsed.subject_alternative_name() else {
        return false;
    };
    san.value.general_names.iter().any(|n| {
        let v = match n {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                s.to_string()
            }
            GeneralName::IPAddress(b) => match b.len() {
                4 => std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
                16 => <[u8; 16]>::try_from(*b)
                    .map(|a| std::net::Ipv6Addr::from(a).to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            },
            _ => String::new(),
        };
        allowed.contains(&v)
    })
}
