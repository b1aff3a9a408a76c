//! Notifications: the channels (stored, their secrets sealed), the outbox every notification
//! waits in, and the worker that delivers it. What a channel hears of, the envelope, the
//! messages and the retry schedule are `burnin::notify`'s.
//!
//! An alert's transition writes its notifications into the outbox in the same transaction
//! (see [`enqueue`]), so an alert is never told without being stored nor stored without being
//! told, and a restart finds every notification still due. The worker delivers them at most
//! a few at a time off the engine's path; a retry carries the same envelope id, the receiver's
//! idempotency key.

mod outbox;
mod send;
mod store;

use std::sync::Arc;

pub use outbox::{Worker, digest_tick, run_due, send_test};
pub use store::{create, delete, deliveries, get, list, secret_aad, update};

use burnin::notify::{ChannelInput, Envelope, EventType};

use crate::{db::DbError, secrets::SecretError};

/// Wakes every outbox worker in this process: a notification was just queued. Workers of
/// other databases (tests run several servers) wake, find nothing of theirs and sleep again.
pub static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Secret(#[from] SecretError),
    /// The channel's settings, each problem named.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("there is no channel with id {0}")]
    NotFound(i64),
    #[error("a channel named {0:?} exists already; choose another name")]
    NameTaken(String),
}

impl From<sqlx::Error> for NotifyError {
    fn from(error: sqlx::Error) -> NotifyError {
        NotifyError::Db(error.into())
    }
}

/// Seconds before a delivery attempt is given up for lost.
pub const ATTEMPT_TIMEOUT_SECS: u64 = 20;

/// What the sender needs: the database, the key that opens the secrets, and the address
/// links are made from.
#[derive(Clone)]
pub struct Notifier {
    pub(crate) pool: sqlx::SqlitePool,
    pub(crate) master: Arc<crate::secrets::MasterKey>,
    pub(crate) live: crate::settings::Live,
    /// The address links use when `public_url` is not set.
    pub(crate) listen_url: String,
    /// Where an email about a finished burn-in gets the job's certificate: the record's
    /// services, given once they exist (they hold this notifier, so they come after it).
    pub(crate) certificates: Arc<std::sync::OnceLock<Arc<dyn CertificateSource>>>,
}

/// Makes a finished job's certificate as a PDF file: its name and bytes, or why not.
pub trait CertificateSource: Send + Sync {
    fn certificate_pdf(
        &self,
        job_id: i64,
    ) -> futures_util::future::BoxFuture<'_, Result<(String, Vec<u8>), String>>;
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifier")
    }
}

impl Notifier {
    pub fn new(
        pool: sqlx::SqlitePool,
        master: Arc<crate::secrets::MasterKey>,
        live: crate::settings::Live,
        listen: std::net::SocketAddr,
        tls: bool,
    ) -> Notifier {
        let host = if listen.ip().is_unspecified() {
            "localhost".to_owned()
        } else if listen.is_ipv6() {
            format!("[{}]", listen.ip())
        } else {
            listen.ip().to_string()
        };
        let scheme = if tls { "https" } else { "http" };
        Notifier {
            pool,
            master,
            live,
            listen_url: format!("{scheme}://{host}:{}", listen.port()),
            certificates: Arc::default(),
        }
    }

    /// Gives the notifier the source of certificates for emails; the first one given stays.
    pub fn attach_certificates_from(&self, source: Arc<dyn CertificateSource>) {
        let _ = self.certificates.set(source);
    }

    /// The dashboard's address for links: the `public_url` setting, else where it listens.
    pub fn base_url(&self) -> String {
        let public = self.live.read(|s| s.public_url.trim().trim_end_matches('/').to_owned());
        if public.is_empty() { self.listen_url.clone() } else { public }
    }
}

/// Where a person follows an alert to.
pub fn alert_path(id: i64) -> String {
    format!("/alerts?id={id}")
}

/// Where a person reads a job: its page.
pub fn job_path(id: i64) -> String {
    format!("/jobs/{id}")
}

/// Queues the notifications of alert `alert_id`'s `event` for every channel that wants it,
/// inside the caller's transaction (the one that stored the transition). Links are kept
/// relative and completed when sent, so they follow the `public_url` in force then.
pub async fn enqueue(
    tx: &mut sqlx::SqliteConnection,
    alert_id: i64,
    event: EventType,
    now: i64,
) -> Result<usize, DbError> {
    let Some(envelope) = store::alert_envelope(tx, alert_id, event, now).await? else {
        return Ok(0);
    };
    let Some(alert) = envelope.alert.as_ref() else { return Ok(0) };
    let channels = store::wanting(tx).await?;
    let mut queued = 0;
    for (channel_id, input) in channels {
        if !input.wants(event, alert.kind, alert.severity) {
            continue;
        }
        store::queue(tx, channel_id, &envelope, Some(alert_id), now, burnin::notify::MAX_ATTEMPTS)
            .await?;
        queued += 1;
    }
    if queued > 0 {
        tracing::debug!(
            alert.id = alert_id,
            notify.event = event.as_str(),
            notify.queued = queued,
            "notifications queued"
        );
    }
    Ok(queued)
}

/// Completes an envelope's relative links with `base`.
pub(crate) fn absolutize(mut envelope: Envelope, base: &str) -> Envelope {
    let full = |path: &mut String| {
        if path.starts_with('/') {
            *path = format!("{base}{path}");
        }
    };
    full(&mut envelope.source.url);
    if let Some(alert) = envelope.alert.as_mut() {
        full(&mut alert.url);
    }
    if let Some(job) = envelope.job.as_mut() {
        full(&mut job.url);
    }
    envelope
}

/// Reads a stored channel's settings back as its input (secret left out).
pub(crate) fn input_of(row: &store::ChannelRow) -> Option<ChannelInput> {
    Some(ChannelInput {
        name: row.name.clone(),
        enabled: row.enabled,
        min_severity: burnin::alert::Severity::parse(&row.min_severity)?,
        kinds: serde_json::from_str(&row.kinds).ok()?,
        send_resolved: row.send_resolved,
        config: serde_json::from_str(&row.config).ok()?,
        secret: None,
    })
}
