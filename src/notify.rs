//! Notification channels: what each one receives, the one envelope every webhook carries, the
//! messages email and ntfy make of it, and when a failed delivery is tried again. Pure: the
//! server stores channels, keeps the outbox and does the sending.

use serde::{Deserialize, Serialize};

use crate::alert::{AlertKind, AlertState, Severity};

/// The envelope's version: a receiver can rely on the fields of a version never changing.
pub const ENVELOPE_VERSION: u32 = 1;

/// Attempts before a delivery is given up (about 14 hours with [`RETRY_AFTER_SECS`]).
pub const MAX_ATTEMPTS: u32 = 10;

/// Seconds before attempt 2, 3, …: quick at first for a blip, then spread out (jittered by
/// the server).
pub const RETRY_AFTER_SECS: [i64; 9] = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800];

/// The longest `Retry-After` honoured; a receiver asking for more gets this.
pub const MAX_RETRY_AFTER_SECS: i64 = 6 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Port 587: plain connection upgraded with STARTTLS, which is required (no downgrade).
    Starttls,
    /// Port 465: TLS from the first byte.
    Tls,
    /// No encryption: only for a relay on the same machine or network.
    Plain,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookPreset {
    /// The versioned envelope, signed (Standard Webhooks).
    #[default]
    Standard,
    /// Slack incoming webhook: `text` and `blocks`.
    Slack,
    /// Discord webhook: `content` and an embed.
    Discord,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Empty: no login. The password is the channel's secret.
    #[serde(default)]
    pub username: String,
    pub from: String,
    pub to: Vec<String>,
    /// One message per alert; off leaves only the digest.
    #[serde(default = "yes")]
    pub per_alert: bool,
    /// The hour (0–23, in the channel's time zone offset) of the daily digest; none: no digest.
    #[serde(default)]
    pub digest_hour: Option<u8>,
    /// Minutes east of UTC the digest hour is read in (Berlin in winter: 60).
    #[serde(default)]
    pub utc_offset_mins: i32,
    /// Send the digest on a day with nothing to report, too.
    #[serde(default)]
    pub digest_when_empty: bool,
    /// A certificate (PEM) to trust besides the system's, for a relay with its own.
    #[serde(default)]
    pub tls_certificate: String,
    /// A message about a finished burn-in carries the job's certificate as a PDF.
    #[serde(default = "yes")]
    pub attach_certificate: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default)]
    pub preset: WebhookPreset,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NtfyConfig {
    /// The topic's address: `https://ntfy.sh/my-drives`.
    pub url: String,
    /// Extra tags (emoji short codes or words) on every message.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Where a channel delivers, by kind. Its secret (SMTP password, webhook signing secret, ntfy
/// token) is kept apart, encrypted, and never shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChannelConfig {
    Email(EmailConfig),
    Webhook(WebhookConfig),
    Ntfy(NtfyConfig),
}

impl ChannelConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelConfig::Email(_) => "email",
            ChannelConfig::Webhook(_) => "webhook",
            ChannelConfig::Ntfy(_) => "ntfy",
        }
    }
}

/// A webhook or topic address as shown: its path often is the credential (Slack's and
/// Discord's tokens, an ntfy topic), so only the scheme, host and last four characters show.
pub fn redact_url(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else { return "…".into() };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.rsplit('@').next().unwrap_or(host);
    if path.is_empty() {
        return format!("{scheme}://{host}/");
    }
    let chars: Vec<char> = path.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{scheme}://{host}/…{tail}")
}

impl ChannelConfig {
    /// The settings as shown: addresses redacted (see [`redact_url`]).
    pub fn redacted(&self) -> ChannelConfig {
        let mut out = self.clone();
        match &mut out {
            ChannelConfig::Webhook(hook) => hook.url = redact_url(&hook.url),
            ChannelConfig::Ntfy(ntfy) => ntfy.url = redact_url(&ntfy.url),
            ChannelConfig::Email(_) => {}
        }
        out
    }

    /// An address sent back as it was shown (redacted) means "unchanged": the stored one stays.
    pub fn keep_redacted_from(&mut self, stored: &ChannelConfig) {
        match (self, stored) {
            (ChannelConfig::Webhook(new), ChannelConfig::Webhook(old))
                if new.url.trim() == redact_url(&old.url) =>
            {
                new.url = old.url.clone()
            }
            (ChannelConfig::Ntfy(new), ChannelConfig::Ntfy(old))
                if new.url.trim() == redact_url(&old.url) =>
            {
                new.url = old.url.clone()
            }
            _ => {}
        }
    }
}

fn yes() -> bool {
    true
}

fn warning() -> Severity {
    Severity::Warning
}

/// A channel as created or changed through the API or the Settings page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelInput {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The least severity it hears of.
    #[serde(default = "warning")]
    pub min_severity: Severity,
    /// The kinds it hears of; empty: every kind but `burnin_passed` (a notice).
    #[serde(default)]
    pub kinds: Vec<AlertKind>,
    /// Whether it hears of acknowledgements and resolutions too.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    pub config: ChannelConfig,
    /// The SMTP password, webhook signing secret or ntfy token. Left out: unchanged; empty:
    /// removed.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A channel as shown: never its secret, only whether it has one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelView {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub min_severity: Severity,
    pub kinds: Vec<AlertKind>,
    pub send_resolved: bool,
    pub config: ChannelConfig,
    pub secret_set: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_delivery: Option<DeliveryView>,
}

/// One attempt to deliver one notification.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: i64,
    pub outbox_id: i64,
    pub channel_id: i64,
    /// `alert.raised`, `digest`, `test`, …
    pub event: String,
    pub alert_id: Option<i64>,
    pub attempt: u32,
    pub at: i64,
    pub ok: bool,
    /// The HTTP status or SMTP reply code, when there was an answer.
    pub code: Option<u32>,
    pub detail: String,
    pub duration_ms: u64,
    /// When it will be tried again, if it failed and will be.
    pub retry_at: Option<i64>,
}

/// The kinds a channel with no list of its own hears of.
pub fn default_kinds() -> Vec<AlertKind> {
    AlertKind::ALL.into_iter().filter(|k| *k != AlertKind::BurninPassed).collect()
}

/// Why a channel hears of something now: an alert's notice, the digest, or a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    #[serde(rename = "alert.raised")]
    Raised,
    #[serde(rename = "alert.escalated")]
    Escalated,
    #[serde(rename = "alert.reminder")]
    Reminder,
    #[serde(rename = "alert.acknowledged")]
    Acknowledged,
    #[serde(rename = "alert.resolved")]
    Resolved,
    #[serde(rename = "digest")]
    Digest,
    #[serde(rename = "test")]
    Test,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Raised => "alert.raised",
            EventType::Escalated => "alert.escalated",
            EventType::Reminder => "alert.reminder",
            EventType::Acknowledged => "alert.acknowledged",
            EventType::Resolved => "alert.resolved",
            EventType::Digest => "digest",
            EventType::Test => "test",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        [
            EventType::Raised,
            EventType::Escalated,
            EventType::Reminder,
            EventType::Acknowledged,
            EventType::Resolved,
            EventType::Digest,
            EventType::Test,
        ]
        .into_iter()
        .find(|e| e.as_str() == text)
    }

    pub fn of(notice: crate::alert::Notice) -> EventType {
        use crate::alert::Notice;
        match notice {
            Notice::Raised => EventType::Raised,
            Notice::Escalated => EventType::Escalated,
            Notice::Reminder => EventType::Reminder,
            Notice::Acknowledged => EventType::Acknowledged,
            Notice::Resolved => EventType::Resolved,
        }
    }
}

impl ChannelInput {
    /// Whether a channel so set hears of `event` about an alert of `kind` and `severity`.
    pub fn wants(&self, event: EventType, kind: AlertKind, severity: Severity) -> bool {
        if !self.enabled {
            return false;
        }
        if let ChannelConfig::Email(email) = &self.config
            && !email.per_alert
        {
            return false;
        }
        let kind_ok = if self.kinds.is_empty() {
            kind != AlertKind::BurninPassed
        } else {
            self.kinds.contains(&kind)
        };
        let event_ok = match event {
            EventType::Acknowledged | EventType::Resolved => self.send_resolved,
            EventType::Digest | EventType::Test => false,
            _ => true,
        };
        kind_ok && event_ok && severity >= self.min_severity
    }

    /// Every problem with the channel's settings, each naming the field and the fix.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
            problems.push("name: give the channel a name of 1–80 characters".to_owned());
        }
        let secret = self.secret.as_deref().unwrap_or("");
        if secret.len() > 4096 || secret.chars().any(|c| c.is_control()) {
            problems.push("secret: must be one line of at most 4096 bytes".to_owned());
        }
        let web = |field: &str, url: &str, problems: &mut Vec<String>| {
            let url = url.trim();
            if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.len() > 2000
                || url.chars().any(|c| c.is_control() || c == ' ')
            {
                problems.push(format!(
                    "{field}: {url:?} is not an http:// or https:// address (one line, no spaces)"
                ));
            }
        };
        match &self.config {
            ChannelConfig::Email(email) => {
                if email.host.trim().is_empty() || email.host.contains(char::is_whitespace) {
                    problems.push("config.host: name the SMTP server (smtp.example.com)".into());
                }
                if email.port == 0 {
                    problems
                        .push("config.port: 587 for STARTTLS, 465 for TLS, 25 for plain".into());
                }
                if !plausible_address(&email.from) {
                    problems.push(format!(
                        "config.from: {:?} is not an email address (name@example.com)",
                        email.from
                    ));
                }
                if email.to.is_empty() {
                    problems.push("config.to: list at least one recipient".into());
                }
                for to in &email.to {
                    if !plausible_address(to) {
                        problems.push(format!("config.to: {to:?} is not an email address"));
                    }
                }
                if email.digest_hour.is_some_and(|h| h > 23) {
                    problems.push("config.digest_hour: an hour of the day, 0–23".into());
                }
                if !(-14 * 60..=14 * 60).contains(&email.utc_offset_mins) {
                    problems.push("config.utc_offset_mins: between -840 and 840".into());
                }
                let pem = email.tls_certificate.trim();
                if !pem.is_empty() && !pem.starts_with("-----BEGIN CERTIFICATE-----") {
                    problems.push("config.tls_certificate: paste a PEM certificate (-----BEGIN CERTIFICATE-----…), or leave it empty".into());
                }
                if !email.per_alert && email.digest_hour.is_none() {
                    problems.push(
                        "config: with per_alert off and no digest_hour this channel would never send"
                            .into(),
                    );
                }
            }
            ChannelConfig::Webhook(hook) => {
                web("config.url", &hook.url, &mut problems);
                if hook.preset == WebhookPreset::Standard
                    && let Some(secret) = self.secret.as_deref().filter(|s| !s.is_empty())
                    && signing_key(secret).is_err()
                {
                    problems
                        .push(format!("secret: {}", signing_key(secret).err().unwrap_or_default()));
                }
            }
            ChannelConfig::Ntfy(ntfy) => {
                web("config.url", &ntfy.url, &mut problems);
                let topic = ntfy.url.trim().trim_end_matches('/').rsplit('/').next().unwrap_or("");
                let topic_ok = !topic.is_empty()
                    && topic.len() <= 64
                    && topic.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !topic_ok || ntfy.url.trim().matches('/').count() < 3 {
                    problems.push(format!(
                        "config.url: {:?} must end in a topic of 1–64 letters, digits, - or _ (https://ntfy.sh/my-drives)",
                        ntfy.url
                    ));
                }
                if ntfy.tags.iter().any(|t| t.contains([',', '\n', '\r']) || t.len() > 64) {
                    problems.push("config.tags: single words, no commas".into());
                }
            }
        }
        problems
    }
}

fn plausible_address(text: &str) -> bool {
    let text = text.trim();
    let address = match (text.rfind('<'), text.ends_with('>')) {
        (Some(open), true) => &text[open + 1..text.len() - 1],
        _ => text,
    };
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !address.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

/// The HMAC key of a webhook secret: a Standard Webhooks `whsec_` secret is base64 of 24–64
/// bytes; any other text of at least 16 characters is used as it is.
pub fn signing_key(secret: &str) -> Result<Vec<u8>, String> {
    let secret = secret.trim();
    if let Some(encoded) = secret.strip_prefix("whsec_") {
        let bytes = base64_decode(encoded).ok_or_else(|| {
            "a whsec_ secret must be followed by standard base64 (whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)"
                .to_owned()
        })?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(format!(
                "a whsec_ secret holds 24–64 bytes; this one holds {}",
                bytes.len()
            ));
        }
        return Ok(bytes);
    }
    if secret.chars().count() < 16 {
        return Err("a signing secret needs at least 16 characters (or use whsec_…)".into());
    }
    Ok(secret.as_bytes().to_vec())
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The host an alert or job is on, in an envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeHost {
    pub id: i64,
    pub name: String,
}

/// The alert an envelope is about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeAlert {
    pub id: i64,
    pub kind: AlertKind,
    pub severity: Severity,
    pub state: AlertState,
    /// The drive's serial, the pool's name; empty for the host itself.
    pub subject: String,
    pub message: String,
    pub first_seen: String,
    pub last_seen: String,
    pub count: u32,
    pub acknowledged_by: Option<String>,
    pub resolved_by: Option<String>,
    pub note: Option<String>,
    /// The alert on the Alerts page.
    pub url: String,
}

/// The burn-in job an alert is about, when it is one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeJob {
    pub id: i64,
    pub serial: String,
    pub model: String,
    pub capacity_bytes: u64,
    pub location: String,
    /// queued, running, passed, failed, cancelled, interrupted.
    pub state: String,
    /// pass, warn, fail, when judged.
    pub outcome: Option<String>,
    pub reasons: Vec<String>,
    pub operator: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub url: String,
}

/// The one JSON envelope every webhook (and nothing else) receives, versioned. Its `id` is the
/// idempotency key: a retried delivery carries the same one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u32,
    pub id: String,
    #[serde(rename = "type")]
    pub event: EventType,
    /// When the event happened (RFC 3339, UTC).
    pub time: String,
    /// The dashboard's name and address.
    pub source: EnvelopeSource,
    pub host: Option<EnvelopeHost>,
    pub alert: Option<EnvelopeAlert>,
    pub job: Option<EnvelopeJob>,
    /// A one-line summary a person can read.
    pub summary: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeSource {
    pub name: String,
    pub version: String,
    pub url: String,
}

impl Envelope {
    /// The severity a channel ranks it by (a test or digest is information).
    pub fn severity(&self) -> Severity {
        self.alert.as_ref().map_or(Severity::Info, |a| a.severity)
    }

    /// The address a person follows from the notification: the job, else the alert, else
    /// the dashboard.
    pub fn link(&self) -> String {
        if let Some(job) = &self.job {
            return job.url.clone();
        }
        if let Some(alert) = &self.alert {
            return alert.url.clone();
        }
        self.source.url.clone()
    }

    /// "Critical: FAIL001 burn-in failed on nas-01", the line every channel leads with.
    pub fn title(&self) -> String {
        match (&self.alert, self.event) {
            (Some(alert), event) => {
                let what = kind_label(alert.kind);
                let on = self.host.as_ref().map(|h| format!(" on {}", h.name)).unwrap_or_default();
                let subject = if alert.subject.is_empty() {
                    String::new()
                } else {
                    format!("{} ", alert.subject)
                };
                let lead = match event {
                    EventType::Resolved => "Resolved".to_owned(),
                    EventType::Acknowledged => "Acknowledged".to_owned(),
                    EventType::Reminder => format!("Reminder, {}", severity_label(alert.severity)),
                    EventType::Escalated => format!("Now {}", severity_label(alert.severity)),
                    _ => capitalised(severity_label(alert.severity)),
                };
                format!("{lead}: {subject}{what}{on}")
            }
            (None, EventType::Test) => format!("Test from {}", self.source.name),
            (None, _) => self.summary.clone(),
        }
    }

    /// The message as plain text: summary, facts, reasons, link.
    pub fn text(&self) -> String {
        let mut out = vec![self.summary.clone(), String::new()];
        if let Some(alert) = &self.alert {
            out.push(format!("Alert:    {} ({})", kind_label(alert.kind), alert.severity.as_str()));
            out.push(format!("State:    {}", alert.state.as_str()));
            if let Some(host) = &self.host {
                out.push(format!("Host:     {}", host.name));
            }
            if !alert.subject.is_empty() {
                out.push(format!("Subject:  {}", alert.subject));
            }
            out.push(format!("Since:    {} (seen {} times)", alert.first_seen, alert.count));
            if let Some(by) = &alert.acknowledged_by {
                out.push(format!("Acknowledged by: {by}"));
            }
            if let Some(note) = &alert.note {
                out.push(format!("Note:     {note}"));
            }
        }
        if let Some(job) = &self.job {
            out.push(format!(
                "Drive:    {} {} ({})",
                job.model,
                job.serial,
                crate::format::capacity(job.capacity_bytes)
            ));
            if !job.location.is_empty() {
                out.push(format!("Location: {}", job.location));
            }
            out.push(format!(
                "Job:      #{} {}{}, started by {}",
                job.id,
                job.state,
                job.outcome.as_deref().map(|o| format!(" ({o})")).unwrap_or_default(),
                job.operator
            ));
            if !job.reasons.is_empty() {
                out.push(String::new());
                out.push("Reasons:".into());
                out.extend(job.reasons.iter().map(|r| format!("  - {r}")));
            }
        }
        out.push(String::new());
        out.push(self.link());
        out.join("\n")
    }

    /// The message as HTML (for email), every value escaped.
    pub fn html(&self) -> String {
        let mut rows = Vec::new();
        let mut row = |k: &str, v: &str| {
            rows.push(format!(
                "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
                escape(k),
                escape(v)
            ))
        };
        if let Some(alert) = &self.alert {
            row("Alert", &format!("{} ({})", kind_label(alert.kind), alert.severity.as_str()));
            row("State", alert.state.as_str());
            if let Some(host) = &self.host {
                row("Host", &host.name);
            }
            if !alert.subject.is_empty() {
                row("Subject", &alert.subject);
            }
            row("Since", &format!("{} (seen {} times)", alert.first_seen, alert.count));
            if let Some(by) = &alert.acknowledged_by {
                row("Acknowledged by", by);
            }
            if let Some(note) = &alert.note {
                row("Note", note);
            }
        }
        if let Some(job) = &self.job {
            row(
                "Drive",
                &format!(
                    "{} {} ({})",
                    job.model,
                    job.serial,
                    crate::format::capacity(job.capacity_bytes)
                ),
            );
            if !job.location.is_empty() {
                row("Location", &job.location);
            }
            row("Job", &format!("#{} {} · started by {}", job.id, job.state, job.operator));
        }
        let reasons = self
            .job
            .as_ref()
            .filter(|j| !j.reasons.is_empty())
            .map(|j| {
                let items: String =
                    j.reasons.iter().map(|r| format!("<li>{}</li>", escape(r))).collect();
                format!("<h3>Reasons</h3><ul>{items}</ul>")
            })
            .unwrap_or_default();
        let link = self.link();
        format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{}</h2><p>{}</p><table cellpadding=\"4\">{}</table>{reasons}<p><a href=\"{}\">{}</a></p></body></html>",
            escape(&self.title()),
            escape(&self.summary),
            rows.join(""),
            escape(&link),
            escape(&link)
        )
    }

    /// ntfy's priority (1–5) for it: critical urgent, warning high, resolved and the rest low.
    pub fn ntfy_priority(&self) -> u8 {
        match (self.event, self.severity()) {
            (EventType::Resolved | EventType::Acknowledged, _) => 2,
            (_, Severity::Critical) => 5,
            (_, Severity::Warning) => 4,
            (_, Severity::Info) => 3,
        }
    }

    /// ntfy's tags (emoji short codes): the severity's, then the kind.
    pub fn ntfy_tags(&self) -> Vec<String> {
        let lead = match (self.event, self.severity()) {
            (EventType::Test, _) => "test_tube",
            (EventType::Resolved, _) => "white_check_mark",
            (EventType::Acknowledged, _) => "eyes",
            (_, Severity::Critical) => "rotating_light",
            (_, Severity::Warning) => "warning",
            (_, Severity::Info) => "information_source",
        };
        let mut tags = vec![lead.to_owned()];
        if let Some(alert) = &self.alert {
            tags.push(alert.kind.as_str().to_owned());
        }
        tags
    }

    /// The body a webhook preset posts.
    pub fn webhook_body(&self, preset: WebhookPreset) -> serde_json::Value {
        match preset {
            WebhookPreset::Standard => serde_json::to_value(self).unwrap_or_default(),
            WebhookPreset::Slack => {
                let text = format!(
                    "*{}*\n{}\n<{}|Open in the dashboard>",
                    self.title(),
                    self.summary,
                    self.link()
                );
                serde_json::json!({
                    "text": truncate(&format!("{}: {}", self.title(), self.summary), 3000),
                    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": truncate(&text, 3000)}}],
                })
            }
            WebhookPreset::Discord => {
                let color = match (self.event, self.severity()) {
                    (EventType::Resolved, _) => 0x2e_a0_43,
                    (_, Severity::Critical) => 0xd0_3b_3b,
                    (_, Severity::Warning) => 0xe0_a0_20,
                    (_, Severity::Info) => 0x3b_82_d0,
                };
                let mut fields = Vec::new();
                if let Some(host) = &self.host {
                    fields.push(serde_json::json!({"name": "Host", "value": truncate(&host.name, 1024), "inline": true}));
                }
                if let Some(job) = &self.job {
                    fields.push(serde_json::json!({"name": "Drive", "value": truncate(&format!("{} {}", job.model, job.serial), 1024), "inline": true}));
                    if !job.reasons.is_empty() {
                        fields.push(serde_json::json!({"name": "Reasons", "value": truncate(&job.reasons.join("\n"), 1024)}));
                    }
                }
                serde_json::json!({
                    "content": truncate(&self.title(), 2000),
                    "embeds": [{
                        "title": truncate(&self.title(), 256),
                        "description": truncate(&self.summary, 4000),
                        "url": self.link(),
                        "color": color,
                        "timestamp": self.time,
                        "fields": fields,
                    }],
                    "allowed_mentions": {"parse": []},
                })
            }
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

pub fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "notice",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// What a kind is called in a sentence.
pub fn kind_label(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::BurninFailed => "burn-in failed",
        AlertKind::BurninPassedWithWarnings => "burn-in passed with warnings",
        AlertKind::BurninPassed => "burn-in passed",
        AlertKind::BurninStuck => "burn-in stuck",
        AlertKind::BurninInterrupted => "burn-in interrupted",
        AlertKind::BurninCancelled => "burn-in cancelled by someone else",
        AlertKind::TemperatureHigh => "temperature over its limit",
        AlertKind::SmartFailed => "SMART health failed",
        AlertKind::CounterRising => "SMART counter rising",
        AlertKind::HostOffline => "host offline",
        AlertKind::ApiAuthFailing => "API sign-in failing",
        AlertKind::SshUnreachable => "SSH unreachable",
        AlertKind::PoolDegraded => "pool degraded",
        AlertKind::PoolUsage => "pool filling up",
    }
}

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How one attempt ended, as the sender saw it.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    Delivered,
    /// The receiver answered with an HTTP status (or an SMTP reply code) that is not success.
    Refused {
        code: u32,
        retry_after_secs: Option<i64>,
    },
    /// No answer: the connection failed or timed out.
    Unreachable,
    /// Our side cannot send it as configured (a bad address, a missing secret): trying again
    /// will not help.
    Unsendable,
}

/// What to do after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    Done,
    RetryAt(i64),
    GiveUp,
}

/// After attempt number `attempt` (1 for the first) ended `how` at `now`: done, again at a
/// time, or given up. Timeouts, 408, 429 and 5xx (SMTP: 4xx) are passing troubles; anything
/// else refused is not, and a test send is tried once.
pub fn next(attempt: u32, how: &Attempt, now: i64, smtp: bool, max_attempts: u32) -> Next {
    let transient = match how {
        Attempt::Delivered => return Next::Done,
        Attempt::Unsendable => false,
        Attempt::Unreachable => true,
        Attempt::Refused { code, .. } if smtp => (400..500).contains(code),
        Attempt::Refused { code, .. } => {
            matches!(code, 408 | 425 | 429) || (500..600).contains(code) && *code != 501
        }
    };
    if !transient || attempt >= max_attempts.min(MAX_ATTEMPTS) {
        return Next::GiveUp;
    }
    let scheduled = RETRY_AFTER_SECS
        .get(attempt.saturating_sub(1) as usize)
        .copied()
        .unwrap_or(RETRY_AFTER_SECS[RETRY_AFTER_SECS.len() - 1]);
    let wait = match how {
        Attempt::Refused { retry_after_secs: Some(asked), .. } => {
            (*asked).clamp(1, MAX_RETRY_AFTER_SECS)
        }
        _ => scheduled,
    };
    Next::RetryAt(now + wait)
}

/// `Retry-After` as seconds from `now`: delta seconds, or an HTTP date.
pub fn retry_after(value: &str, now: i64) -> Option<i64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<i64>() {
        return Some(secs.max(0));
    }
    // IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT".
    let parts: Vec<&str> = value.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let months =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = months.iter().position(|m| *m == parts[2])? + 1;
    let text = format!("{}-{month:02}-{:0>2}T{}Z", parts[3], parts[1], parts[4]);
    let at = crate::format::parse_utc(&text)? as i64;
    Some((at - now).max(0))
}

/// The digest's day: the date (`2026-12-04`) and hour at `now` in a channel's offset.
pub fn local_day_and_hour(now: i64, utc_offset_mins: i32) -> (String, u8) {
    let local = now + i64::from(utc_offset_mins) * 60;
    let (y, m, d) = crate::format::civil(local.div_euclid(86_400));
    (format!("{y:04}-{m:02}-{d:02}"), (local.rem_euclid(86_400) / 3600) as u8)
}

/// One drive that failed in the digest's day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DigestFailure {
    pub job_id: i64,
    pub host: String,
    pub serial: String,
    pub model: String,
    pub reasons: Vec<String>,
    pub url: String,
}

/// What the daily digest reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub day: String,
    pub dashboard_url: String,
    /// Jobs that ended in the last 24 hours: passed, failed, other.
    pub passed: u32,
    pub failed: Vec<DigestFailure>,
    pub ended_otherwise: u32,
    pub running: u32,
    /// Open alerts: (severity, title, url).
    pub open_alerts: Vec<(Severity, String, String)>,
}

impl Digest {
    pub fn is_empty(&self) -> bool {
        self.passed == 0
            && self.failed.is_empty()
            && self.ended_otherwise == 0
            && self.running == 0
            && self.open_alerts.is_empty()
    }

    pub fn subject(&self) -> String {
        let worst = if !self.failed.is_empty()
            || self.open_alerts.iter().any(|a| a.0 == Severity::Critical)
        {
            "Attention: "
        } else {
            ""
        };
        format!(
            "{worst}Burn-in digest {}: {} passed, {} failed, {} running, {} open alerts",
            self.day,
            self.passed,
            self.failed.len(),
            self.running,
            self.open_alerts.len()
        )
    }

    pub fn text(&self) -> String {
        let mut out = vec![self.subject(), String::new()];
        out.push(format!("In the last 24 hours: {} passed, {} failed, {} ended otherwise (cancelled or interrupted).", self.passed, self.failed.len(), self.ended_otherwise));
        out.push(format!("Running now: {}.", self.running));
        if !self.failed.is_empty() {
            out.push(String::new());
            out.push("Failed drives:".into());
            for f in &self.failed {
                out.push(format!(
                    "  - {} {} on {} (job #{}): {}",
                    f.model,
                    f.serial,
                    f.host,
                    f.job_id,
                    f.reasons.join("; ")
                ));
                out.push(format!("    {}", f.url));
            }
        }
        if !self.open_alerts.is_empty() {
            out.push(String::new());
            out.push("Open alerts:".into());
            for (severity, title, url) in &self.open_alerts {
                out.push(format!("  - [{}] {title}  {url}", severity.as_str()));
            }
        }
        if self.is_empty() {
            out.push(String::new());
            out.push("Nothing to report.".into());
        }
        out.push(String::new());
        out.push(self.dashboard_url.clone());
        out.join("\n")
    }

    pub fn html(&self) -> String {
        let failed: String = self
            .failed
            .iter()
            .map(|f| {
                format!(
                    "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&f.url),
                    escape(&f.serial),
                    escape(&f.model),
                    escape(&f.host),
                    escape(&f.reasons.join("; "))
                )
            })
            .collect();
        let alerts: String = self
            .open_alerts
            .iter()
            .map(|(s, t, u)| {
                format!("<li>[{}] <a href=\"{}\">{}</a></li>", s.as_str(), escape(u), escape(t))
            })
            .collect();
        format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{}</h2><p>In the last 24 hours: <b>{}</b> passed, <b>{}</b> failed, {} ended otherwise. Running now: <b>{}</b>.</p>{}{}<p><a href=\"{}\">Open the dashboard</a></p></body></html>",
            escape(&self.subject()),
            self.passed,
            self.failed.len(),
            self.ended_otherwise,
            self.running,
            if failed.is_empty() {
                String::new()
            } else {
                format!(
                    "<h3>Failed drives</h3><table cellpadding=\"4\"><tr><th>Serial</th><th>Model</th><th>Host</th><th>Reasons</th></tr>{failed}</table>"
                )
            },
            if alerts.is_empty() {
                String::new()
            } else {
                format!("<h3>Open alerts</h3><ul>{alerts}</ul>")
            },
            escape(&self.dashboard_url)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(config: ChannelConfig) -> ChannelInput {
        ChannelInput {
            name: "ops".into(),
            enabled: true,
            min_severity: Severity::Warning,
            kinds: Vec::new(),
            send_resolved: true,
            config,
            secret: None,
        }
    }

    fn hook() -> ChannelConfig {
        ChannelConfig::Webhook(WebhookConfig {
            url: "https://hooks.example/x".into(),
            preset: WebhookPreset::Standard,
        })
    }

    #[test]
    fn a_channel_hears_only_the_kinds_severities_and_notices_it_asked_for() {
        let mut c = channel(hook());
        assert!(c.wants(EventType::Raised, AlertKind::BurninFailed, Severity::Critical));
        assert!(
            !c.wants(EventType::Raised, AlertKind::BurninPassed, Severity::Info),
            "a pass is off by default"
        );
        assert!(!c.wants(EventType::Raised, AlertKind::HostOffline, Severity::Info));
        assert!(c.wants(EventType::Resolved, AlertKind::HostOffline, Severity::Warning));
        c.send_resolved = false;
        assert!(!c.wants(EventType::Resolved, AlertKind::HostOffline, Severity::Warning));
        c.kinds = vec![AlertKind::BurninPassed];
        c.min_severity = Severity::Info;
        assert!(c.wants(EventType::Raised, AlertKind::BurninPassed, Severity::Info));
        assert!(!c.wants(EventType::Raised, AlertKind::BurninFailed, Severity::Critical));
        c.enabled = false;
        assert!(!c.wants(EventType::Raised, AlertKind::BurninPassed, Severity::Info));
    }

    #[test]
    fn bad_channel_settings_are_each_named() {
        let mut c =
            channel(ChannelConfig::Ntfy(NtfyConfig { url: "ntfy.sh/x".into(), tags: vec![] }));
        assert!(c.problems().iter().any(|p| p.starts_with("config.url")));
        c.config = ChannelConfig::Ntfy(NtfyConfig {
            url: "https://ntfy.sh/my-drives".into(),
            tags: vec![],
        });
        assert_eq!(c.problems(), Vec::<String>::new());
        c.config = ChannelConfig::Ntfy(NtfyConfig { url: "https://ntfy.sh/".into(), tags: vec![] });
        assert_eq!(c.problems().len(), 1, "{:?}", c.problems());
        c.config = ChannelConfig::Email(EmailConfig {
            host: "smtp.example".into(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            from: "not an address".into(),
            to: vec![],
            per_alert: true,
            digest_hour: Some(24),
            utc_offset_mins: 0,
            digest_when_empty: false,
            tls_certificate: String::new(),
            attach_certificate: true,
        });
        let problems = c.problems();
        for field in ["config.from", "config.to", "config.digest_hour"] {
            assert!(problems.iter().any(|p| p.starts_with(field)), "{field}: {problems:?}");
        }
        c.config = hook();
        c.secret = Some("short".into());
        assert!(c.problems().iter().any(|p| p.starts_with("secret")));
        c.secret = Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        assert_eq!(c.problems(), Vec::<String>::new());
    }

    #[test]
    fn addresses_show_only_their_host_and_tail_and_a_shown_one_means_unchanged() {
        let url = "https://hooks.slack.com/services/T000/B000/XXXXsecretTAIL";
        assert_eq!(redact_url(url), "https://hooks.slack.com/…TAIL");
        assert_eq!(redact_url("https://user:pw@ntfy.example/topic"), "https://ntfy.example/…opic");
        let stored =
            ChannelConfig::Webhook(WebhookConfig { url: url.into(), preset: WebhookPreset::Slack });
        let mut sent = stored.redacted();
        assert!(!serde_json::to_string(&sent).unwrap_or_default().contains("secret"));
        sent.keep_redacted_from(&stored);
        assert_eq!(sent, stored);
        let mut changed = ChannelConfig::Webhook(WebhookConfig {
            url: "https://new.example/x".into(),
            preset: WebhookPreset::Slack,
        });
        changed.keep_redacted_from(&stored);
        assert_ne!(changed, stored);
    }

    #[test]
    fn whsec_secrets_decode_to_their_bytes() {
        // The Standard Webhooks example secret holds 24 bytes.
        assert_eq!(signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").map(|k| k.len()), Ok(24));
        assert!(signing_key("whsec_!!!").is_err());
        assert!(signing_key("whsec_AAAA").is_err(), "3 bytes is too short");
        assert_eq!(signing_key("a-long-enough-passphrase").map(|k| k.len()), Ok(24));
        assert_eq!(base64_decode("aGVsbG8="), Some(b"hello".to_vec()));
    }

    #[test]
    fn passing_troubles_are_retried_with_backoff_and_retry_after_and_others_give_up() {
        let refused = |code| Attempt::Refused { code, retry_after_secs: None };
        assert_eq!(next(1, &Attempt::Delivered, 100, false, 10), Next::Done);
        assert_eq!(next(1, &refused(503), 100, false, 10), Next::RetryAt(105));
        assert_eq!(next(2, &refused(502), 100, false, 10), Next::RetryAt(130));
        assert_eq!(next(1, &Attempt::Unreachable, 100, false, 10), Next::RetryAt(105));
        assert_eq!(
            next(1, &Attempt::Refused { code: 429, retry_after_secs: Some(42) }, 100, false, 10),
            Next::RetryAt(142)
        );
        assert_eq!(
            next(
                1,
                &Attempt::Refused { code: 429, retry_after_secs: Some(1_000_000) },
                0,
                false,
                10
            ),
            Next::RetryAt(MAX_RETRY_AFTER_SECS)
        );
        assert_eq!(next(1, &refused(404), 100, false, 10), Next::GiveUp);
        assert_eq!(next(1, &refused(410), 100, false, 10), Next::GiveUp);
        assert_eq!(next(1, &Attempt::Unsendable, 100, false, 10), Next::GiveUp);
        assert_eq!(next(10, &refused(503), 100, false, 10), Next::GiveUp, "attempts run out");
        assert_eq!(next(1, &refused(503), 100, false, 1), Next::GiveUp, "a test is tried once");
        // SMTP: 4xx is temporary, 5xx permanent.
        assert_eq!(next(1, &refused(451), 100, true, 10), Next::RetryAt(105));
        assert_eq!(next(1, &refused(550), 100, true, 10), Next::GiveUp);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(retry_after("120", 0), Some(120));
        let at = crate::format::parse_utc("2015-10-21T07:28:00Z").unwrap_or_default() as i64;
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT", at - 30), Some(30));
        assert_eq!(retry_after("soon", 0), None);
    }

    #[test]
    fn times_format_as_rfc3339_and_digest_days_follow_the_offset() {
        for secs in [0_i64, 951_782_400, 1_764_820_800, 4_102_444_799] {
            let text = crate::format::utc(secs);
            assert_eq!(crate::format::parse_utc(&text).map(|s| s as i64), Some(secs), "{text}");
        }
        assert_eq!(crate::format::utc(951_782_400), "2000-02-29T00:00:00Z");
        let at = crate::format::parse_utc("2026-12-04T23:30:00Z").unwrap_or_default() as i64;
        assert_eq!(local_day_and_hour(at, 0), ("2026-12-04".into(), 23));
        assert_eq!(local_day_and_hour(at, 60), ("2026-12-05".into(), 0));
        assert_eq!(local_day_and_hour(at, -300), ("2026-12-04".into(), 18));
    }

    fn envelope() -> Envelope {
        Envelope {
            version: ENVELOPE_VERSION,
            id: "msg_1".into(),
            event: EventType::Raised,
            time: "2026-12-04T00:00:00Z".into(),
            source: EnvelopeSource {
                name: "burn-in".into(),
                version: "0.1.0".into(),
                url: "http://d".into(),
            },
            host: Some(EnvelopeHost { id: 1, name: "nas-01".into() }),
            alert: Some(EnvelopeAlert {
                id: 7,
                kind: AlertKind::BurninFailed,
                severity: Severity::Critical,
                state: AlertState::Raised,
                subject: "FAIL001".into(),
                message: "m".into(),
                first_seen: "t".into(),
                last_seen: "t".into(),
                count: 1,
                acknowledged_by: None,
                resolved_by: None,
                note: None,
                url: "http://d/alerts?id=7".into(),
            }),
            job: Some(EnvelopeJob {
                id: 3,
                serial: "FAIL001".into(),
                model: "<b>WD</b>".into(),
                capacity_bytes: 4_000_000_000_000,
                location: "bay 3".into(),
                state: "failed".into(),
                outcome: Some("fail".into()),
                reasons: vec!["12 bad blocks".into()],
                operator: "ann".into(),
                started_at: None,
                finished_at: None,
                url: "http://d/jobs/3".into(),
            }),
            summary: "FAIL001 failed".into(),
        }
    }

    #[test]
    fn every_channel_shape_names_the_drive_the_reasons_and_the_link() {
        let e = envelope();
        assert_eq!(e.title(), "Critical: FAIL001 burn-in failed on nas-01");
        assert_eq!(e.link(), "http://d/jobs/3");
        for text in [e.text(), e.html()] {
            assert!(
                text.contains("FAIL001")
                    && text.contains("12 bad blocks")
                    && text.contains("http://d/jobs/3"),
                "{text}"
            );
        }
        assert!(e.html().contains("&lt;b&gt;WD&lt;/b&gt;") && !e.html().contains("<b>WD"));
        assert_eq!(e.ntfy_priority(), 5);
        assert_eq!(e.ntfy_tags()[0], "rotating_light");
        let slack = e.webhook_body(WebhookPreset::Slack);
        assert!(slack["text"].as_str().is_some_and(|t| t.contains("FAIL001")));
        let discord = e.webhook_body(WebhookPreset::Discord);
        assert_eq!(discord["embeds"][0]["url"], "http://d/jobs/3");
        let standard = e.webhook_body(WebhookPreset::Standard);
        assert_eq!(standard["type"], "alert.raised");
        assert_eq!(standard["version"], 1);
        let back: Envelope = serde_json::from_value(standard).expect("round trip");
        assert_eq!(back, e);
        let resolved = Envelope { event: EventType::Resolved, ..e };
        assert_eq!(resolved.ntfy_priority(), 2);
        assert!(resolved.title().starts_with("Resolved"));
    }

    #[test]
    fn an_empty_digest_says_so_and_a_full_one_lists_failures() {
        let mut d = Digest {
            day: "2026-12-04".into(),
            dashboard_url: "http://d".into(),
            ..Digest::default()
        };
        assert!(d.is_empty());
        assert!(d.text().contains("Nothing to report"));
        d.passed = 3;
        d.failed.push(DigestFailure {
            job_id: 9,
            host: "nas".into(),
            serial: "FAIL001".into(),
            model: "M".into(),
            reasons: vec!["bad blocks".into()],
            url: "http://d/jobs/9".into(),
        });
        assert!(!d.is_empty());
        assert!(d.subject().starts_with("Attention"));
        assert!(d.text().contains("FAIL001") && d.html().contains("http://d/jobs/9"));
    }
}
