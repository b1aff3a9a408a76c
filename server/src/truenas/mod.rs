//! The TrueNAS API client: JSON-RPC 2.0 over `/api/current` for SCALE 25.04 and later, the
//! legacy DDP-style protocol over `/websocket` for CORE 13 and SCALE ≤ 24.10, chosen by
//! probing `GET /api/versions` (reference/truenas-api.md §1.2, §1.3).
//!
//! An API key goes only over TLS with a pinned certificate or a trusted CA; plain `ws://` is
//! accepted only to loopback, because TrueNAS revokes a key it receives in the clear
//! (reference §1.2 ⚠).

mod backoff;
mod connection;
mod tls;

use std::{fmt, net::IpAddr, time::Duration};

use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::MaybeTlsStream;

pub use backoff::{Backoff, staggered_interval};
pub use connection::{Client, Event};
pub use tls::{PresentedCertificate, fingerprint};

/// How to trust a host's certificate.
#[derive(Clone, PartialEq, Eq)]
pub enum TlsTrust {
    /// Pin the leaf certificate's SHA-256 fingerprint.
    Fingerprint(String),
    /// Trust a CA (or the self-signed certificate itself), given as PEM.
    CaPem(String),
    /// Plain `ws://`; only valid to loopback.
    PlainLoopback,
}

impl fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsTrust::Fingerprint(pin) => write!(f, "Fingerprint({pin})"),
            TlsTrust::CaPem(_) => f.write_str("CaPem(..)"),
            TlsTrust::PlainLoopback => f.write_str("PlainLoopback"),
        }
    }
}

/// Where a host's API is and how to log in. `Debug` never shows the key.
#[derive(Clone)]
pub struct Endpoint {
    /// `wss://host[:port]` (or `https://`; `ws://`/`http://` only to loopback), no path.
    pub url: String,
    pub api_user: String,
    pub api_key: String,
    pub trust: TlsTrust,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("api_user", &self.api_user)
            .field("api_key", &"<redacted>")
            .field("trust", &self.trust)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub call_timeout: Duration,
    pub keepalive_interval: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(30),
        }
    }
}

/// Which protocol a host speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// JSON-RPC 2.0 at `/api/current` (SCALE 25.04+).
    JsonRpc,
    /// The DDP-style protocol at `/websocket` (CORE 13, SCALE ≤ 24.10).
    Legacy,
}

/// Errors name the cause and the fix; none ever contains the API key.
#[derive(Clone, Debug, thiserror::Error)]
pub enum TrueNasError {
    #[error(
        "cannot reach {address}: {cause}. Check the address and that the TrueNAS web UI answers there"
    )]
    Unreachable { address: String, cause: String },
    #[error("{what} did not answer within {} s; the host may be overloaded or the network slow", after.as_secs())]
    Timeout { what: String, after: Duration },
    #[error(
        "the host's certificate has fingerprint {presented}, not the pinned {expected}. If the certificate was \
         replaced on purpose, trust the new one in the host's settings; otherwise someone may be intercepting the connection"
    )]
    UntrustedCertificate { presented: String, expected: String },
    #[error(
        "the host's certificate is not trusted: {reason}. Check the CA certificate in the host's settings, or pin the fingerprint instead"
    )]
    CertificateRejected { reason: String },
    #[error(
        "{url} is not encrypted: TrueNAS revokes an API key it receives in the clear. Use wss:// and pin the certificate"
    )]
    InsecureUrl { url: String },
    #[error(
        "TrueNAS refused the API key: it is wrong, or belongs to another user. Create a key under Credentials → API Keys and store it in the host's settings"
    )]
    WrongKey,
    #[error(
        "TrueNAS has revoked the API key (it was sent over an unencrypted link). Create a new key and connect with wss://"
    )]
    KeyRevoked,
    #[error("this TrueNAS release is not supported: {detail}")]
    UnsupportedVersion { detail: String },
    #[error(
        "the TrueNAS API answered HTTP {status} at {path}; the middleware may be restarting, try again shortly"
    )]
    Http { status: u16, path: String },
    #[error("unexpected answer from the TrueNAS API: {detail}")]
    Protocol { detail: String },
    #[error("{method} failed on the host: {reason} ({errname})")]
    Call { method: String, errname: String, reason: String },
    #[error("this TrueNAS release has no method {method}")]
    MethodMissing { method: String },
    #[error("the connection to the host closed")]
    Closed,
}

/// A parsed API address.
#[derive(Clone, Debug)]
pub struct Address {
    pub host: String,
    pub port: u16,
    pub secure: bool,
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Address {
    pub fn parse(text: &str) -> Result<Address, TrueNasError> {
        let url = url::Url::parse(text.trim()).map_err(|e| TrueNasError::Protocol {
            detail: format!("{text:?} is not a URL ({e})"),
        })?;
        let secure = match url.scheme() {
            "wss" | "https" => true,
            "ws" | "http" => false,
            other => {
                return Err(TrueNasError::Protocol {
                    detail: format!("unsupported scheme {other:?}; use wss://"),
                });
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| TrueNasError::Protocol { detail: format!("{text:?} has no host") })?;
        if !secure && !is_loopback(host) {
            return Err(TrueNasError::InsecureUrl { url: text.trim().to_owned() });
        }
        Ok(Address {
            host: host.to_owned(),
            port: url.port().unwrap_or(if secure { 443 } else { 80 }),
            secure,
        })
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{host}:{}", self.port)
    }
}

async fn tcp(address: &Address, timeout: Duration) -> Result<TcpStream, TrueNasError> {
    let authority = address.authority();
    let host = address.host.trim_start_matches('[').trim_end_matches(']').to_owned();
    match tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), address.port))).await {
        Err(_) => Err(TrueNasError::Timeout {
            what: format!("connecting to {authority}"),
            after: timeout,
        }),
        Ok(Err(error)) => {
            Err(TrueNasError::Unreachable { address: authority, cause: error.to_string() })
        }
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
    }
}

/// A TCP (and TLS where the address is secure) stream to the host.
async fn stream(
    address: &Address,
    trust: &TlsTrust,
    timeout: Duration,
) -> Result<MaybeTlsStream<TcpStream>, TrueNasError> {
    let tcp = tcp(address, timeout).await?;
    if !address.secure {
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    let connector = tls::Connector::new(trust)?;
    let tls = tokio::time::timeout(timeout, connector.connect(&address.host, tcp)).await.map_err(
        |_| TrueNasError::Timeout { what: "the TLS handshake".into(), after: timeout },
    )??;
    Ok(MaybeTlsStream::Rustls(tls))
}

/// The certificate a host presents (for trust on first use); see [`tls::probe`].
pub async fn probe_certificate(url: &str) -> Result<PresentedCertificate, TrueNasError> {
    tls::probe(&Address::parse(url)?, Duration::from_secs(10)).await
}

/// `GET /api/versions`: a list means JSON-RPC at `/api/current`; 404 means only the legacy
/// `/websocket` exists (CORE, SCALE ≤ 24.10).
async fn discover(
    address: &Address,
    trust: &TlsTrust,
    timeout: Duration,
) -> Result<Dialect, TrueNasError> {
    use http_body_util::{BodyExt as _, Empty};
    let io = hyper_util::rt::TokioIo::new(stream(address, trust, timeout).await?);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Empty<hyper::body::Bytes>>(io)
            .await
            .map_err(|e| TrueNasError::Protocol { detail: format!("HTTP handshake: {e}") })?;
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get("/api/versions")
        .header(hyper::header::HOST, address.authority())
        .body(Empty::new())
        .map_err(|e| TrueNasError::Protocol { detail: e.to_string() })?;
    let response = tokio::time::timeout(timeout, sender.send_request(request))
        .await
        .map_err(|_| TrueNasError::Timeout { what: "GET /api/versions".into(), after: timeout })?
        .map_err(|e| TrueNasError::Unreachable {
            address: address.authority(),
            cause: e.to_string(),
        })?;
    let status = response.status().as_u16();
    let body = tokio::time::timeout(timeout, response.into_body().collect())
        .await
        .map_err(|_| TrueNasError::Timeout { what: "GET /api/versions".into(), after: timeout })?
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    driver.abort();
    match status {
        404 => Ok(Dialect::Legacy),
        200 => {
            let versions: Vec<String> =
                serde_json::from_slice(&body).map_err(|_| TrueNasError::Protocol {
                    detail: "GET /api/versions did not answer a list of versions".into(),
                })?;
            // JSON-RPC arrived in 25.04 (reference §1.2); anything listed is at least that.
            if versions.is_empty() {
                return Err(TrueNasError::UnsupportedVersion {
                    detail: "the host lists no API versions".into(),
                });
            }
            Ok(Dialect::JsonRpc)
        }
        status => Err(TrueNasError::Http { status, path: "/api/versions".into() }),
    }
}

/// Turns a middleware error object into a [`TrueNasError`].
fn call_error(method: &str, dialect: Dialect, error: &Value) -> TrueNasError {
    let (errname, reason) = match dialect {
        Dialect::JsonRpc => {
            if error["code"] == -32601 {
                return TrueNasError::MethodMissing { method: method.to_owned() };
            }
            let data = &error["data"];
            (
                data["errname"].as_str().unwrap_or("").to_owned(),
                data["reason"]
                    .as_str()
                    .or_else(|| error["message"].as_str())
                    .unwrap_or("")
                    .to_owned(),
            )
        }
        Dialect::Legacy => (
            error["errname"].as_str().unwrap_or("").to_owned(),
            error["reason"].as_str().unwrap_or("").to_owned(),
        ),
    };
    let lowered = reason.to_lowercase();
    if errname == "ENOMETHOD"
        || (lowered.contains("method")
            && (lowered.contains("not found") || lowered.contains("does not exist")))
    {
        return TrueNasError::MethodMissing { method: method.to_owned() };
    }
    TrueNasError::Call { method: method.to_owned(), errname, reason }
}

fn login_request(dialect: Dialect, endpoint: &Endpoint) -> (&'static str, Value) {
    match dialect {
        Dialect::JsonRpc => (
            "auth.login_ex",
            json!([{"mechanism": "API_KEY_PLAIN", "username": endpoint.api_user, "api_key": endpoint.api_key}]),
        ),
        Dialect::Legacy => ("auth.login_with_api_key", json!([endpoint.api_key])),
    }
}

fn login_outcome(dialect: Dialect, answer: &Value) -> Result<(), TrueNasError> {
    match dialect {
        Dialect::Legacy => match answer.as_bool() {
            Some(true) => Ok(()),
            _ => Err(TrueNasError::WrongKey),
        },
        Dialect::JsonRpc => match answer["response_type"].as_str() {
            Some("SUCCESS") => Ok(()),
            Some("AUTH_ERR") => Err(TrueNasError::WrongKey),
            Some("EXPIRED") => Err(TrueNasError::KeyRevoked),
            Some("OTP_REQUIRED") => Err(TrueNasError::Protocol {
                detail: "the user asks for a one-time password; use an API key of a user without two-factor login".into(),
            }),
            other => Err(TrueNasError::Protocol { detail: format!("login answered {other:?}") }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_are_refused_unless_loopback() {
        assert!(matches!(
            Address::parse("ws://192.0.2.10:1"),
            Err(TrueNasError::InsecureUrl { .. })
        ));
        assert!(matches!(Address::parse("http://nas.lan"), Err(TrueNasError::InsecureUrl { .. })));
        assert_eq!(Address::parse("ws://127.0.0.1:9000").expect("loopback").port, 9000);
        assert_eq!(Address::parse("wss://nas.lan").expect("tls").port, 443);
        assert!(Address::parse("ftp://nas.lan").is_err());
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let endpoint = Endpoint {
            url: "wss://nas.lan".into(),
            api_user: "root".into(),
            api_key: "1-SuperSecretKeyMaterial".into(),
            trust: TlsTrust::Fingerprint("x".into()),
        };
        assert!(!format!("{endpoint:?}").contains("SuperSecret"));
    }

    #[test]
    fn middleware_errors_are_classified() {
        let missing = json!({"code": -32601, "message": "Method does not exist"});
        assert!(matches!(
            call_error("smart.test.results", Dialect::JsonRpc, &missing),
            TrueNasError::MethodMissing { .. }
        ));
        let legacy_missing =
            json!({"error": 204, "errname": "ENOMETHOD", "reason": "Method \"x\" not found"});
        assert!(matches!(
            call_error("x", Dialect::Legacy, &legacy_missing),
            TrueNasError::MethodMissing { .. }
        ));
        let denied = json!({"code": -32001, "message": "Method call error", "data": {"errname": "EACCES", "reason": "Not authenticated"}});
        let error = call_error("disk.query", Dialect::JsonRpc, &denied);
        assert_eq!(error.to_string(), "disk.query failed on the host: Not authenticated (EACCES)");
    }

    #[test]
    fn login_answers_map_to_clear_errors() {
        assert!(login_outcome(Dialect::JsonRpc, &json!({"response_type": "SUCCESS"})).is_ok());
        assert!(matches!(
            login_outcome(Dialect::JsonRpc, &json!({"response_type": "AUTH_ERR"})),
            Err(TrueNasError::WrongKey)
        ));
        assert!(matches!(
            login_outcome(Dialect::JsonRpc, &json!({"response_type": "EXPIRED"})),
            Err(TrueNasError::KeyRevoked)
        ));
        assert!(matches!(
            login_outcome(Dialect::Legacy, &json!(false)),
            Err(TrueNasError::WrongKey)
        ));
    }
}
