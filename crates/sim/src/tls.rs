//! The simulator's TLS: a fresh CA and a loopback leaf certificate at every start.

use crate::error::SimulatorError;
use std::sync::Arc;
use tokio_rustls::rustls;

/// A CA and a leaf certificate for 127.0.0.1/localhost/::1, made fresh at every start.
pub(crate) fn make_certificates() -> Result<(String, rustls::ServerConfig), SimulatorError> {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "securescore_exporter simulator CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;
    let mut leaf_params = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "localhost".to_string(),
        "::1".to_string(),
    ])?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "securescore_exporter simulator");
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )?;
    // Graph and Entra offer HTTP/2 and HTTP/1.1 over ALPN; so does the simulator.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((ca.pem(), config))
}

/// A CA certificate in PEM form, for tests that need a readable `ca_file`.
pub fn test_ca_pem() -> String {
    make_certificates().map(|(pem, _)| pem).unwrap_or_default()
}
