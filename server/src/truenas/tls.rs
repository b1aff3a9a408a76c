//! Trusting a TrueNAS host's certificate: a pinned fingerprint or a CA, never "accept
//! anything" (reference/security.md §6.2 and §5: pin rather than trust blindly).

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_rustls::{
    TlsConnector,
    client::TlsStream,
    rustls::{
        self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
        client::{
            WebPkiServerVerifier,
            danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        },
        crypto::{
            CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature,
            verify_tls13_signature,
        },
        pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject},
    },
};

use super::{TlsTrust, TrueNasError};

/// `SHA256:AB:CD:…` of a certificate's DER bytes, as the dashboard shows fingerprints.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let pairs: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    format!("SHA256:{}", pairs.join(":"))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts exactly one certificate, by fingerprint. Host name and expiry are deliberately not
/// checked: the pin is stronger than either, and TrueNAS ships a self-signed certificate
/// whose name rarely matches the address used. Handshake signatures are still verified, so
/// only the holder of the pinned certificate's key can complete the handshake.
#[derive(Debug)]
struct PinVerifier {
    /// `None` records the certificate and accepts it: only for [`probe`], which sends nothing.
    pin: Option<String>,
    presented: Arc<Mutex<Option<String>>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = fingerprint(end_entity);
        if let Ok(mut slot) = self.presented.lock() {
            *slot = Some(presented.clone());
        }
        match &self.pin {
            None => Ok(ServerCertVerified::assertion()),
            Some(pin) if *pin == presented => Ok(ServerCertVerified::assertion()),
            Some(_) => {
                Err(rustls::Error::General("certificate fingerprint does not match the pin".into()))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// How a TLS connection for `trust` is made, and what it saw.
pub struct Connector {
    config: Arc<ClientConfig>,
    presented: Arc<Mutex<Option<String>>>,
    pin: Option<String>,
}

impl Connector {
    pub fn new(trust: &TlsTrust) -> Result<Connector, TrueNasError> {
        let provider = provider();
        let presented = Arc::new(Mutex::new(None));
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TrueNasError::Protocol { detail: format!("TLS set-up: {e}") })?;
        let (config, pin) = match trust {
            TlsTrust::Fingerprint(pin) => {
                let pin = burnin::host::normalize_fingerprint(pin).ok_or_else(|| {
                    TrueNasError::Protocol {
                        detail: format!(
                            "the pinned fingerprint {pin:?} is not a SHA-256 fingerprint"
                        ),
                    }
                })?;
                let verifier = PinVerifier {
                    pin: Some(pin.clone()),
                    presented: presented.clone(),
                    algorithms: provider.signature_verification_algorithms,
                };
                (
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(verifier))
                        .with_no_client_auth(),
                    Some(pin),
                )
            }
            TlsTrust::CaPem(pem) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    let cert = cert.map_err(|e| TrueNasError::CertificateRejected {
                        reason: format!("the CA PEM cannot be read: {e}"),
                    })?;
                    roots.add(cert).map_err(|e| TrueNasError::CertificateRejected {
                        reason: format!("the CA certificate is not usable: {e}"),
                    })?;
                }
                if roots.is_empty() {
                    return Err(TrueNasError::CertificateRejected {
                        reason: "the CA PEM holds no certificate".into(),
                    });
                }
                let verifier =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| TrueNasError::CertificateRejected { reason: e.to_string() })?;
                (builder.with_webpki_verifier(verifier).with_no_client_auth(), None)
            }
            TlsTrust::PlainLoopback => {
                return Err(TrueNasError::Protocol {
                    detail: "a wss:// address needs a pinned certificate or a CA, not plain trust"
                        .into(),
                });
            }
        };
        Ok(Connector { config: Arc::new(config), presented, pin })
    }

    /// Records and accepts whatever certificate is presented; see [`probe`].
    fn recording() -> Result<Connector, TrueNasError> {
        let provider = provider();
        let presented = Arc::new(Mutex::new(None));
        let verifier = PinVerifier {
            pin: None,
            presented: presented.clone(),
            algorithms: provider.signature_verification_algorithms,
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TrueNasError::Protocol { detail: format!("TLS set-up: {e}") })?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Connector { config: Arc::new(config), presented, pin: None })
    }

    pub async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, TrueNasError> {
        let name =
            ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_owned())
                .map_err(|_| TrueNasError::Protocol {
                    detail: format!("{host:?} is not a valid host name"),
                })?;
        match TlsConnector::from(self.config.clone()).connect(name, tcp).await {
            Ok(stream) => Ok(stream),
            Err(error) => {
                let presented = self.presented.lock().ok().and_then(|p| p.clone());
                match (&self.pin, presented) {
                    (Some(pin), Some(presented)) if *pin != presented => {
                        Err(TrueNasError::UntrustedCertificate { presented, expected: pin.clone() })
                    }
                    (None, _) if error.to_string().contains("certificate") => {
                        Err(TrueNasError::CertificateRejected { reason: error.to_string() })
                    }
                    _ => Err(TrueNasError::Unreachable {
                        address: host.to_owned(),
                        cause: format!("TLS handshake failed: {error}"),
                    }),
                }
            }
        }
    }
}

/// The certificate a host presents, for trust on first use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentedCertificate {
    pub sha256_fingerprint: String,
}

/// Connects, records the presented certificate and closes at once. Accepting an unverified
/// certificate is safe here only because nothing is sent over the connection: no key, no
/// request. The operator then compares the fingerprint with the TrueNAS UI before pinning it.
pub async fn probe(
    address: &super::Address,
    timeout: std::time::Duration,
) -> Result<PresentedCertificate, TrueNasError> {
    if !address.secure {
        return Err(TrueNasError::Protocol {
            detail: "a plain ws:// address has no certificate to trust".into(),
        });
    }
    let tcp = super::tcp(address, timeout).await?;
    let connector = Connector::recording()?;
    let _ = tokio::time::timeout(timeout, connector.connect(&address.host, tcp)).await.map_err(
        |_| TrueNasError::Timeout { what: "the TLS handshake".into(), after: timeout },
    )??;
    let presented = connector.presented.lock().ok().and_then(|p| p.clone()).ok_or_else(|| {
        TrueNasError::Protocol { detail: "the host presented no certificate".into() }
    })?;
    Ok(PresentedCertificate { sha256_fingerprint: presented })
}
