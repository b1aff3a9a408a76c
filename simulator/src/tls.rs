//! A self-signed certificate for hosts that serve the API over TLS, as a fresh TrueNAS does
//! (its default certificate is self-signed), persisted so a pin survives restarts.

use std::{path::Path, sync::Arc};

use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};

use crate::SimError;

/// The acceptor and the certificate's DER bytes.
pub fn acceptor(dir: Option<&Path>) -> Result<(TlsAcceptor, Vec<u8>), SimError> {
    let (cert_der, key_der) = match dir {
        Some(dir) if dir.join("tls.crt.der").exists() => {
            let read = |name: &str| {
                std::fs::read(dir.join(name))
                    .map_err(|error| SimError::Tls(format!("{name}: {error}")))
            };
            (read("tls.crt.der")?, read("tls.key.der")?)
        }
        _ => {
            let generated = rcgen::generate_simple_self_signed(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
            ])
            .map_err(|error| SimError::Tls(error.to_string()))?;
            let pair = (generated.cert.der().to_vec(), generated.signing_key.serialize_der());
            if let Some(dir) = dir {
                let write = |name: &str, bytes: &[u8]| {
                    std::fs::write(dir.join(name), bytes)
                        .map_err(|error| SimError::Tls(format!("{name}: {error}")))
                };
                write("tls.crt.der", &pair.0)?;
                write("tls.key.der", &pair.1)?;
            }
            pair
        }
    };
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| SimError::Tls(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der)),
        )
        .map_err(|error| SimError::Tls(error.to_string()))?;
    Ok((TlsAcceptor::from(Arc::new(config)), cert_der))
}
