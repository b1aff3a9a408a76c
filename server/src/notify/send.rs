//! One delivery attempt per channel kind: a webhook (signed), ntfy, or email through SMTP.

use std::time::Duration;

use base64::Engine as _;
use burnin::notify::{
    Attempt, ChannelConfig, EmailConfig, Envelope, NtfyConfig, SmtpSecurity, WebhookConfig,
    WebhookPreset,
};
use hmac::{Hmac, Mac as _};

use crate::outbound::{self, OutboundError};

/// How an attempt went, for the delivery log.
#[derive(Debug)]
pub(crate) struct Sent {
    pub attempt: Attempt,
    pub code: Option<u32>,
    pub detail: String,
}

/// A file an email carries.
pub(crate) struct Attachment {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What one notification carries to its channel.
pub(crate) enum Payload {
    Envelope(Box<Envelope>),
    /// A rendered message (the digest): subject, text and HTML.
    Mail {
        subject: String,
        text: String,
        html: String,
    },
}

const TIMEOUT: Duration = Duration::from_secs(super::ATTEMPT_TIMEOUT_SECS);

/// The most of an answer kept in the delivery log.
const DETAIL: usize = 300;

pub(crate) async fn send(
    config: &ChannelConfig,
    secret: Option<&str>,
    payload: &Payload,
    attachment: Option<&Attachment>,
    now: i64,
) -> Sent {
    match (config, payload) {
        (ChannelConfig::Webhook(hook), Payload::Envelope(envelope)) => {
            webhook(hook, secret, envelope, now).await
        }
        (ChannelConfig::Ntfy(ntfy), Payload::Envelope(envelope)) => {
            self::ntfy(ntfy, secret, envelope).await
        }
        (ChannelConfig::Email(email), Payload::Envelope(envelope)) => {
            let body = (envelope.text(), envelope.html());
            mail(email, secret, &envelope.title(), body, attachment).await
        }
        (ChannelConfig::Email(email), Payload::Mail { subject, text, html }) => {
            mail(email, secret, subject, (text.clone(), html.clone()), attachment).await
        }
        (_, Payload::Mail { .. }) => Sent {
            attempt: Attempt::Unsendable,
            code: None,
            detail: "a digest goes only to email channels".into(),
        },
    }
}

/// The Standard Webhooks signature of `body`: `v1,` and base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        // HMAC takes a key of any length; this cannot happen.
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

fn answered(status: u16, retry_after: Option<&str>, body: &[u8], now: i64) -> Sent {
    let text = String::from_utf8_lossy(body);
    let text: String = text.trim().chars().take(DETAIL).collect();
    if (200..300).contains(&status) {
        return Sent {
            attempt: Attempt::Delivered,
            code: Some(u32::from(status)),
            detail: format!("HTTP {status}"),
        };
    }
    let retry_after_secs = retry_after.and_then(|v| burnin::notify::retry_after(v, now));
    let hint = match status {
        301..=308 => {
            ": the address moved; put the new one in the channel (redirects are not followed)"
        }
        401 | 403 => ": the receiver refused our credentials; check the token or secret",
        404 => ": nothing is at that address; check the URL",
        410 => ": the receiver says this hook is gone; make a new one",
        413 => ": the message is too large for the receiver",
        429 => ": the receiver asks us to slow down",
        _ => "",
    };
    Sent {
        attempt: Attempt::Refused { code: u32::from(status), retry_after_secs },
        code: Some(u32::from(status)),
        detail: if text.is_empty() {
            format!("HTTP {status}{hint}")
        } else {
            format!("HTTP {status}{hint}: {text}")
        },
    }
}

fn unreached(error: OutboundError) -> Sent {
    match error {
        OutboundError::Invalid(why) => {
            Sent { attempt: Attempt::Unsendable, code: None, detail: why }
        }
        OutboundError::Unreachable(why) => {
            Sent { attempt: Attempt::Unreachable, code: None, detail: why }
        }
    }
}

async fn webhook(
    hook: &WebhookConfig,
    secret: Option<&str>,
    envelope: &Envelope,
    now: i64,
) -> Sent {
    let body = serde_json::to_vec(&envelope.webhook_body(hook.preset)).unwrap_or_default();
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        match burnin::notify::signing_key(secret) {
            Ok(key) => {
                headers.push(("webhook-id", envelope.id.clone()));
                headers.push(("webhook-timestamp", now.to_string()));
                headers.push(("webhook-signature", signature(&key, &envelope.id, now, &body)));
            }
            Err(why) => {
                return Sent {
                    attempt: Attempt::Unsendable,
                    code: None,
                    detail: format!("the signing secret is unusable: {why}"),
                };
            }
        }
    } else if hook.preset == WebhookPreset::Standard {
        return Sent {
            attempt: Attempt::Unsendable,
            code: None,
            detail: "this webhook has no signing secret; set one on the channel".into(),
        };
    } else {
        // Unsigned presets still carry the idempotency key.
        headers.push(("webhook-id", envelope.id.clone()));
    }
    match outbound::request(
        hyper::Method::POST,
        hook.url.trim(),
        &headers,
        Some(body),
        TIMEOUT,
        64 * 1024,
    )
    .await
    {
        Ok(answer) => answered(answer.status, answer.retry_after.as_deref(), &answer.body, now),
        Err(error) => unreached(error),
    }
}

/// A header value ntfy reads back as UTF-8: ASCII as it is, anything else as an RFC 2047
/// encoded word.
fn header_text(text: &str) -> String {
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if one_line.is_ascii() {
        one_line
    } else {
        format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(one_line))
    }
}

async fn ntfy(ntfy: &NtfyConfig, token: Option<&str>, envelope: &Envelope) -> Sent {
    // ntfy keeps 4,096 bytes; more becomes an attachment, which servers may refuse.
    let mut body = envelope.text();
    while body.len() > 4000 {
        body.pop();
    }
    let mut tags = envelope.ntfy_tags();
    tags.extend(ntfy.tags.iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()));
    let mut headers = vec![
        ("content-type", "text/plain; charset=utf-8".to_owned()),
        ("title", header_text(&envelope.title())),
        ("priority", envelope.ntfy_priority().to_string()),
        ("tags", header_text(&tags.join(","))),
        ("click", envelope.link()),
    ];
    if let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) {
        let value = match token.split_once(':') {
            // user:password
            Some(_) => format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(token)),
            None => format!("Bearer {token}"),
        };
        headers.push(("authorization", value));
    }
    match outbound::request(
        hyper::Method::POST,
        ntfy.url.trim(),
        &headers,
        Some(body.into_bytes()),
        TIMEOUT,
        64 * 1024,
    )
    .await
    {
        Ok(answer) => answered(answer.status, answer.retry_after.as_deref(), &answer.body, 0),
        Err(error) => unreached(error),
    }
}

async fn mail(
    email: &EmailConfig,
    password: Option<&str>,
    subject: &str,
    (text, html): (String, String),
    attachment: Option<&Attachment>,
) -> Sent {
    use lettre::{
        AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor,
        message::{Mailbox, MultiPart, header::ContentType},
        transport::smtp::{
            authentication::Credentials,
            client::{Certificate, Tls, TlsParameters},
        },
    };
    let unsendable = |detail: String| Sent { attempt: Attempt::Unsendable, code: None, detail };
    let from: Mailbox = match email.from.trim().parse() {
        Ok(from) => from,
        Err(error) => {
            return unsendable(format!("the sender {:?} is not an address: {error}", email.from));
        }
    };
    let mut builder = Message::builder().from(from).subject(subject.replace(['\r', '\n'], " "));
    for to in &email.to {
        match to.trim().parse::<Mailbox>() {
            Ok(to) => builder = builder.to(to),
            Err(error) => {
                return unsendable(format!("the recipient {to:?} is not an address: {error}"));
            }
        }
    }
    let body = MultiPart::alternative_plain_html(text, html);
    let body = match attachment {
        None => body,
        Some(file) => {
            let pdf = match ContentType::parse("application/pdf") {
                Ok(pdf) => pdf,
                Err(error) => return unsendable(format!("the attachment's type: {error}")),
            };
            MultiPart::mixed().multipart(body).singlepart(
                lettre::message::Attachment::new(file.name.clone()).body(file.bytes.clone(), pdf),
            )
        }
    };
    let message = match builder.multipart(body) {
        Ok(message) => message,
        Err(error) => return unsendable(format!("the message cannot be made: {error}")),
    };
    let host = email.host.trim();
    let tls = match email.security {
        SmtpSecurity::Plain => None,
        SmtpSecurity::Starttls | SmtpSecurity::Tls => {
            let mut params = TlsParameters::builder(host.to_owned());
            let pem = email.tls_certificate.trim();
            if !pem.is_empty() {
                match Certificate::from_pem(pem.as_bytes()) {
                    Ok(cert) => params = params.add_root_certificate(cert),
                    Err(error) => {
                        return unsendable(format!(
                            "the trusted certificate does not read: {error}"
                        ));
                    }
                }
            }
            match params.build_rustls() {
                Ok(params) => Some(params),
                Err(error) => return unsendable(format!("TLS cannot be set up: {error}")),
            }
        }
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(email.port)
        .timeout(Some(TIMEOUT))
        .tls(match (email.security, tls) {
            (SmtpSecurity::Starttls, Some(params)) => Tls::Required(params),
            (SmtpSecurity::Tls, Some(params)) => Tls::Wrapper(params),
            _ => Tls::None,
        });
    if !email.username.trim().is_empty() {
        transport = transport.credentials(Credentials::new(
            email.username.trim().to_owned(),
            password.unwrap_or_default().to_owned(),
        ));
    }
    let transport = transport.build();
    // lettre's own timeout covers each command but not the wait for the greeting, which never
    // comes when STARTTLS meets a server that expects TLS at once.
    match tokio::time::timeout(TIMEOUT, transport.send(message)).await {
        Err(_) => Sent {
            attempt: Attempt::Unreachable,
            code: None,
            detail: format!(
                "{host}:{} did not finish within {} s (no answer in time: check the port and security; 465 is TLS, 587 STARTTLS)",
                email.port,
                TIMEOUT.as_secs()
            ),
        },
        Ok(Ok(response)) => {
            let code: Option<u32> = response.code().to_string().parse().ok();
            Sent {
                attempt: Attempt::Delivered,
                code,
                detail: format!(
                    "accepted for {} recipient(s): {}",
                    email.to.len(),
                    response
                        .message()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .chars()
                        .take(DETAIL)
                        .collect::<String>()
                ),
            }
        }
        Ok(Err(error)) => {
            let code: Option<u32> = error.status().and_then(|c| c.to_string().parse().ok());
            let detail = {
                let text = error.to_string();
                let hint = if error.is_timeout() {
                    " (no answer in time: check the port and security; 465 is TLS, 587 STARTTLS)"
                } else if error.is_tls() {
                    " (TLS failed: check the port and security, or trust the relay's certificate)"
                } else if code.is_some_and(|c| c == 535) {
                    " (the login was refused: check the user and password)"
                } else {
                    ""
                };
                format!(
                    "{host}:{}: {}{hint}",
                    email.port,
                    text.chars().take(DETAIL).collect::<String>()
                )
            };
            let attempt = match code {
                Some(code) => Attempt::Refused { code, retry_after_secs: None },
                None if error.is_client() => Attempt::Unsendable,
                None => Attempt::Unreachable,
            };
            Sent { attempt, code, detail }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_example() {
        // The Standard Webhooks spec's own example (spec/standard-webhooks.md).
        let key = burnin::notify::signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_or_default();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn non_ascii_header_text_is_an_encoded_word() {
        assert_eq!(header_text("plain"), "plain");
        assert_eq!(header_text("55 °C"), "=?UTF-8?B?NTUgwrBD?=");
        assert_eq!(header_text("a\nb"), "a b");
    }
}
