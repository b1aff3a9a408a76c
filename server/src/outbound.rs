//! Requests the dashboard makes to the outside: the update check, webhooks and ntfy. One
//! HTTP/1.1 client over hyper and rustls (the system's CA store), with a deadline on every
//! step, no redirects followed (a webhook that moved is a configuration to fix, and following
//! one would let a receiver point us anywhere) and a cap on the answer read.

use std::{sync::Arc, time::Duration};

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The address or request cannot be sent as given; trying again will not help.
    #[error("{0}")]
    Invalid(String),
    /// No answer: connection refused, DNS, TLS, or a deadline passed.
    #[error("{0}")]
    Unreachable(String),
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// Sends one request to `url` and reads at most `max_answer` bytes of the answer.
pub async fn request(
    method: hyper::Method,
    url: &str,
    headers: &[(&str, String)],
    body: Option<Vec<u8>>,
    timeout: Duration,
    max_answer: usize,
) -> Result<Answer, OutboundError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| OutboundError::Invalid(format!("{url:?} is not an address: {e}")))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| OutboundError::Invalid("the address has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let secure = match parsed.scheme() {
        "https" => true,
        "http" => false,
        other => {
            return Err(OutboundError::Invalid(format!("{other}:// is not http or https")));
        }
    };
    let port = parsed.port_or_known_default().unwrap_or(if secure { 443 } else { 80 });
    let secs = timeout.as_secs().max(1);
    let tcp = tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| {
            OutboundError::Unreachable(format!("{host}:{port} did not answer within {secs} s"))
        })?
        .map_err(|e| OutboundError::Unreachable(format!("cannot reach {host}:{port}: {e}")))?;
    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let authority = match parsed.port() {
        Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or(&host)),
        None => parsed.host_str().unwrap_or(&host).to_owned(),
    };
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, concat!("burnin-dashboard/", env!("CARGO_PKG_VERSION")));
    for (name, value) in headers {
        builder = builder.header(*name, value.as_str());
    }
    let request = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| OutboundError::Invalid(format!("the request cannot be made: {e}")))?;
    let response = if secure {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(OutboundError::Invalid("this machine has no CA certificates to check the answer's certificate with (install ca-certificates)".into()));
        }
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| OutboundError::Invalid(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| OutboundError::Invalid(format!("{host} is not a server name: {e}")))?;
        let tls = tokio::time::timeout(
            timeout,
            tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .map_err(|_| OutboundError::Unreachable("the TLS handshake timed out".into()))?
        .map_err(|e| OutboundError::Unreachable(format!("TLS with {host}: {e}")))?;
        send(hyper_util::rt::TokioIo::new(tls), request, timeout).await?
    } else {
        send(hyper_util::rt::TokioIo::new(tcp), request, timeout).await?
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(hyper::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body =
        tokio::time::timeout(timeout, Limited::new(response.into_body(), max_answer).collect())
            .await
            .map_err(|_| {
                OutboundError::Unreachable(format!("the answer did not arrive within {secs} s"))
            })?
            .map(|b| b.to_bytes().to_vec())
            // An answer too long to read is still an answer: its status is what counts.
            .unwrap_or_default();
    Ok(Answer { status, retry_after, body })
}

async fn send<I>(
    io: I,
    request: hyper::Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<hyper::Response<hyper::body::Incoming>, OutboundError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| OutboundError::Unreachable(format!("HTTP handshake: {e}")))?;
    // The connection task runs until the body has been read (or the sender is dropped).
    tokio::spawn(connection);
    tokio::time::timeout(timeout, sender.send_request(request))
        .await
        .map_err(|_| {
            OutboundError::Unreachable(format!("no answer within {} s", timeout.as_secs().max(1)))
        })?
        .map_err(|e| OutboundError::Unreachable(format!("the request failed: {e}")))
}
