//! TLS for the mock: many Azure SDKs refuse to send bearer tokens over plain HTTP.

use axum_server::tls_rustls::RustlsConfig;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::server::{ServeError, Tls};

/// Builds the server's TLS configuration. For a generated certificate a small CA is made, its
/// certificate written to `cert_out` for clients to trust, and a serving certificate for
/// 127.0.0.1/localhost signed by it (clients such as rustls refuse a leaf as trust anchor).
pub async fn rustls_config(tls: &Tls) -> Result<RustlsConfig, ServeError> {
    let err = |e: &dyn std::fmt::Display| ServeError::Tls(e.to_string());
    match tls {
        Tls::Files { cert, key } => RustlsConfig::from_pem_file(cert, key)
            .await
            .map_err(|e| err(&e)),
        Tls::SelfSigned { cert_out } => {
            let mut ca_params =
                CertificateParams::new(Vec::<String>::new()).map_err(|e| err(&e))?;
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca_params
                .distinguished_name
                .push(DnType::CommonName, "azure-mock CA");
            let ca_key = KeyPair::generate().map_err(|e| err(&e))?;
            let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(|e| err(&e))?;
            let leaf_params =
                CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                    .map_err(|e| err(&e))?;
            let leaf_key = KeyPair::generate().map_err(|e| err(&e))?;
            let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(|e| err(&e))?;
            std::fs::write(cert_out, ca.pem()).map_err(|e| err(&e))?;
            let chain = format!("{}{}", leaf.pem(), ca.pem());
            RustlsConfig::from_pem(chain.into_bytes(), leaf_key.serialize_pem().into_bytes())
                .await
                .map_err(|e| err(&e))
        }
    }
}
