//! Channels and the outbox in the database.

use burnin::{
    alert::{AlertKind, AlertState, Severity},
    notify::{
        ChannelInput, ChannelView, DeliveryView, ENVELOPE_VERSION, Envelope, EnvelopeAlert,
        EnvelopeHost, EnvelopeJob, EnvelopeSource, EventType,
    },
};
use sqlx::SqliteConnection;

use super::{Notifier, NotifyError};
use crate::{db::DbError, secrets::Secret};

#[derive(sqlx::FromRow, Clone)]
pub(crate) struct ChannelRow {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub enabled: bool,
    pub min_severity: String,
    pub kinds: String,
    pub send_resolved: bool,
    pub config: String,
    pub secret: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub digest_day: Option<String>,
}

const CHANNEL: &str = "id, uid, name, enabled, min_severity, kinds, send_resolved, config, secret,
    created_at, updated_at, digest_day";

pub fn secret_aad(uid: &str) -> String {
    format!("channel:{uid}|field:secret")
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    outbox_id: i64,
    channel_id: i64,
    event: String,
    alert_id: Option<i64>,
    attempt: i64,
    at: i64,
    ok: bool,
    code: Option<i64>,
    detail: String,
    duration_ms: i64,
    retry_at: Option<i64>,
}

impl DeliveryRow {
    fn view(self) -> DeliveryView {
        DeliveryView {
            id: self.id,
            outbox_id: self.outbox_id,
            channel_id: self.channel_id,
            event: self.event,
            alert_id: self.alert_id,
            attempt: u32::try_from(self.attempt).unwrap_or(0),
            at: self.at,
            ok: self.ok,
            code: self.code.and_then(|c| u32::try_from(c).ok()),
            detail: self.detail,
            duration_ms: u64::try_from(self.duration_ms).unwrap_or(0),
            retry_at: self.retry_at,
        }
    }
}

const DELIVERY: &str = "d.id, d.outbox_id, d.channel_id, o.event, o.alert_id, d.attempt, d.at,
    d.ok, d.code, d.detail, d.duration_ms, d.retry_at";

/// The latest attempts, newest first: of one channel, or of all.
pub async fn deliveries(
    pool: &sqlx::SqlitePool,
    channel_id: Option<i64>,
    limit: u32,
) -> Result<Vec<DeliveryView>, DbError> {
    let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
        "SELECT {DELIVERY} FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
          WHERE ($1 IS NULL OR d.channel_id = $1) ORDER BY d.id DESC LIMIT $2"
    ))
    .bind(channel_id)
    .bind(i64::from(limit.clamp(1, 1000)))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(DeliveryRow::view).collect())
}

pub(crate) async fn delivery(
    pool: &sqlx::SqlitePool,
    id: i64,
) -> Result<Option<DeliveryView>, DbError> {
    let row: Option<DeliveryRow> = sqlx::query_as(&format!(
        "SELECT {DELIVERY} FROM deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE d.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(DeliveryRow::view))
}

async fn view(pool: &sqlx::SqlitePool, row: ChannelRow) -> Result<Option<ChannelView>, DbError> {
    let Some(input) = super::input_of(&row) else {
        tracing::warn!(channel.id = row.id, "a stored channel does not read; it is skipped");
        return Ok(None);
    };
    let last = deliveries(pool, Some(row.id), 1).await?.into_iter().next();
    Ok(Some(ChannelView {
        id: row.id,
        name: input.name,
        enabled: input.enabled,
        min_severity: input.min_severity,
        kinds: input.kinds,
        send_resolved: input.send_resolved,
        config: input.config.redacted(),
        secret_set: row.secret.is_some(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_delivery: last,
    }))
}

pub async fn list(pool: &sqlx::SqlitePool) -> Result<Vec<ChannelView>, DbError> {
    let rows: Vec<ChannelRow> =
        sqlx::query_as(&format!("SELECT {CHANNEL} FROM channels ORDER BY name COLLATE NOCASE, id"))
            .fetch_all(pool)
            .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.extend(view(pool, row).await?);
    }
    Ok(out)
}

pub(crate) async fn row(pool: &sqlx::SqlitePool, id: i64) -> Result<Option<ChannelRow>, DbError> {
    Ok(sqlx::query_as(&format!("SELECT {CHANNEL} FROM channels WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

pub async fn get(pool: &sqlx::SqlitePool, id: i64) -> Result<Option<ChannelView>, DbError> {
    match row(pool, id).await? {
        Some(row) => view(pool, row).await,
        None => Ok(None),
    }
}

fn check(input: &ChannelInput, has_secret: bool) -> Result<(), NotifyError> {
    let mut problems = input.problems();
    let secret_after = match input.secret.as_deref() {
        Some(secret) => !secret.is_empty(),
        None => has_secret,
    };
    if let burnin::notify::ChannelConfig::Webhook(hook) = &input.config
        && hook.preset == burnin::notify::WebhookPreset::Standard
        && !secret_after
    {
        problems.push("secret: a webhook with the standard envelope is signed; give it a signing secret (whsec_… or 16+ characters; the page's Generate makes one)".into());
    }
    if let burnin::notify::ChannelConfig::Email(email) = &input.config
        && !email.username.trim().is_empty()
        && !secret_after
    {
        problems.push("secret: the SMTP login needs its password".into());
    }
    if problems.is_empty() { Ok(()) } else { Err(NotifyError::Invalid(problems)) }
}

fn audit_detail(input: &ChannelInput) -> serde_json::Value {
    serde_json::json!({
        "name": input.name.trim(),
        "kind": input.config.kind(),
        "enabled": input.enabled,
        "min_severity": input.min_severity.as_str(),
        "kinds": input.kinds,
        "send_resolved": input.send_resolved,
        "config": input.config.redacted(),
        "secret_changed": input.secret.is_some(),
    })
}

/// Stores a new channel, audited.
pub async fn create(
    notifier: &Notifier,
    input: &ChannelInput,
    actor: &str,
    now: i64,
) -> Result<ChannelView, NotifyError> {
    check(input, false)?;
    let uid = hex(&crate::secrets::random_bytes::<16>()?);
    let secret = match input.secret.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(secret) => Some(notifier.master.encrypt(&Secret::new(secret), &secret_aad(&uid))?),
        None => None,
    };
    let mut tx = crate::db::begin_write(&notifier.pool).await?;
    let taken: Option<(i64,)> = sqlx::query_as("SELECT id FROM channels WHERE name = $1")
        .bind(input.name.trim())
        .fetch_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(NotifyError::NameTaken(input.name.trim().to_owned()));
    }
    let id = sqlx::query(
        "INSERT INTO channels (uid, name, kind, enabled, min_severity, kinds, send_resolved,
                               config, secret, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(&uid)
    .bind(input.name.trim())
    .bind(input.config.kind())
    .bind(input.enabled)
    .bind(input.min_severity.as_str())
    .bind(serde_json::to_string(&input.kinds).unwrap_or_else(|_| "[]".into()))
    .bind(input.send_resolved)
    .bind(serde_json::to_string(&input.config).unwrap_or_default())
    .bind(secret)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .last_insert_rowid();
    crate::audit::record(
        &mut *tx,
        actor,
        "channel.created",
        input.name.trim(),
        &audit_detail(input),
    )
    .await?;
    tx.commit().await?;
    get(&notifier.pool, id).await?.ok_or(NotifyError::NotFound(id))
}

/// Changes a channel, audited with its old and new settings (never the secret).
pub async fn update(
    notifier: &Notifier,
    id: i64,
    input: &ChannelInput,
    actor: &str,
    now: i64,
) -> Result<ChannelView, NotifyError> {
    let old = row(&notifier.pool, id).await?.ok_or(NotifyError::NotFound(id))?;
    let old_input = super::input_of(&old);
    let mut input = input.clone();
    if let Some(old) = &old_input {
        input.config.keep_redacted_from(&old.config);
    }
    let input = &input;
    let kind_changed = old_input.as_ref().is_none_or(|o| o.config.kind() != input.config.kind());
    // A secret belongs to its kind: a webhook's signing secret is no SMTP password.
    let keep_secret = input.secret.is_none() && !kind_changed;
    check(input, keep_secret && old.secret.is_some())?;
    let secret = match input.secret.as_deref().map(str::trim) {
        Some("") => None,
        Some(secret) => Some(notifier.master.encrypt(&Secret::new(secret), &secret_aad(&old.uid))?),
        None if keep_secret => old.secret.clone(),
        None => None,
    };
    let mut tx = crate::db::begin_write(&notifier.pool).await?;
    let taken: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM channels WHERE name = $1 AND id != $2")
            .bind(input.name.trim())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if taken.is_some() {
        return Err(NotifyError::NameTaken(input.name.trim().to_owned()));
    }
    sqlx::query(
        "UPDATE channels SET name = $2, kind = $3, enabled = $4, min_severity = $5, kinds = $6,
                send_resolved = $7, config = $8, secret = $9, updated_at = $10 WHERE id = $1",
    )
    .bind(id)
    .bind(input.name.trim())
    .bind(input.config.kind())
    .bind(input.enabled)
    .bind(input.min_severity.as_str())
    .bind(serde_json::to_string(&input.kinds).unwrap_or_else(|_| "[]".into()))
    .bind(input.send_resolved)
    .bind(serde_json::to_string(&input.config).unwrap_or_default())
    .bind(secret)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut *tx,
        actor,
        "channel.changed",
        input.name.trim(),
        &serde_json::json!({
            "channel_id": id,
            "old": old_input.as_ref().map(audit_detail),
            "new": audit_detail(input),
        }),
    )
    .await?;
    tx.commit().await?;
    get(&notifier.pool, id).await?.ok_or(NotifyError::NotFound(id))
}

/// Deletes a channel with its queue and delivery log, audited.
pub async fn delete(pool: &sqlx::SqlitePool, id: i64, actor: &str) -> Result<(), NotifyError> {
    let old = row(pool, id).await?.ok_or(NotifyError::NotFound(id))?;
    let mut tx = crate::db::begin_write(pool).await?;
    sqlx::query("DELETE FROM channels WHERE id = $1").bind(id).execute(&mut *tx).await?;
    crate::audit::record(
        &mut *tx,
        actor,
        "channel.deleted",
        &old.name,
        &serde_json::json!({"channel_id": id, "old": super::input_of(&old).as_ref().map(audit_detail)}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every enabled channel, as its settings.
pub(crate) async fn wanting(
    tx: &mut SqliteConnection,
) -> Result<Vec<(i64, ChannelInput)>, DbError> {
    let rows: Vec<ChannelRow> =
        sqlx::query_as(&format!("SELECT {CHANNEL} FROM channels WHERE enabled = 1 ORDER BY id"))
            .fetch_all(&mut *tx)
            .await?;
    Ok(rows.iter().filter_map(|row| Some((row.id, super::input_of(row)?))).collect())
}

/// Puts one notification in the outbox, due now.
pub(crate) async fn queue(
    tx: &mut SqliteConnection,
    channel_id: i64,
    envelope: &Envelope,
    alert_id: Option<i64>,
    now: i64,
    max_attempts: u32,
) -> Result<i64, DbError> {
    Ok(sqlx::query(
        "INSERT INTO outbox (uid, channel_id, event, alert_id, payload, created_at, max_attempts,
                             next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $6)",
    )
    .bind(format!("{}-{channel_id}", envelope.id))
    .bind(channel_id)
    .bind(envelope.event.as_str())
    .bind(alert_id)
    .bind(serde_json::to_string(envelope).unwrap_or_default())
    .bind(now)
    .bind(i64::from(max_attempts))
    .execute(&mut *tx)
    .await?
    .last_insert_rowid())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn source() -> EnvelopeSource {
    EnvelopeSource {
        name: "burn-in dashboard".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        url: "/".into(),
    }
}

/// The envelope of alert `id`'s `event` as the alert stands now (inside the transaction that
/// just changed it), with relative links.
pub(crate) async fn alert_envelope(
    tx: &mut SqliteConnection,
    id: i64,
    event: EventType,
    now: i64,
) -> Result<Option<Envelope>, DbError> {
    type AlertFacts = (
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
        i64,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
    );
    let row: Option<AlertFacts> = sqlx::query_as(
        "SELECT a.host_id, h.name, a.kind, a.subject, a.state, a.severity, a.message,
                a.first_seen, a.last_seen, a.count, a.acknowledged_by, a.resolved_by, a.note, a.job_id
           FROM alerts a JOIN hosts h ON h.id = a.host_id WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((
        host_id,
        host_name,
        kind,
        subject,
        state,
        severity,
        message,
        first_seen,
        last_seen,
        count,
        acknowledged_by,
        resolved_by,
        note,
        job_id,
    )) = row
    else {
        return Ok(None);
    };
    let (Some(kind), Some(severity)) = (AlertKind::parse(&kind), Severity::parse(&severity)) else {
        return Ok(None);
    };
    let state = match state.as_str() {
        "pending" => AlertState::Pending,
        "acknowledged" => AlertState::Acknowledged,
        "resolved" => AlertState::Resolved,
        _ => AlertState::Raised,
    };
    let job = match job_id {
        Some(job_id) => job_facts(tx, job_id).await?,
        None => None,
    };
    let nonce = hex(&crate::secrets::random_bytes::<6>().unwrap_or([0; 6]));
    Ok(Some(Envelope {
        version: ENVELOPE_VERSION,
        id: format!("msg_{id}_{}_{now}_{nonce}", event.as_str().trim_start_matches("alert.")),
        event,
        time: burnin::format::utc(now),
        source: source(),
        host: Some(EnvelopeHost { id: host_id, name: host_name }),
        summary: message.clone(),
        alert: Some(EnvelopeAlert {
            id,
            kind,
            severity,
            state,
            subject,
            message,
            first_seen: burnin::format::utc(first_seen),
            last_seen: burnin::format::utc(last_seen),
            count: u32::try_from(count).unwrap_or(u32::MAX),
            acknowledged_by,
            resolved_by,
            note,
            url: super::alert_path(id),
        }),
        job,
    }))
}

/// A job as an envelope tells of it.
pub(crate) async fn job_facts(
    tx: &mut SqliteConnection,
    job_id: i64,
) -> Result<Option<EnvelopeJob>, DbError> {
    type JobFacts = (
        String,
        String,
        i64,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<JobFacts> = sqlx::query_as(
        "SELECT d.serial, d.model, d.size_bytes, d.location, j.state, j.operator, j.started_at,
                j.finished_at, j.reason, j.verdict_json
           FROM jobs j JOIN drives d ON d.id = j.drive_id WHERE j.id = $1",
    )
    .bind(job_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((serial, model, size, location, state, operator, started, finished, reason, verdict)) =
        row
    else {
        return Ok(None);
    };
    let verdict: Option<serde_json::Value> =
        verdict.as_deref().and_then(|v| serde_json::from_str(v).ok());
    let mut reasons: Vec<String> = verdict
        .as_ref()
        .and_then(|v| v["reasons"].as_array())
        .map(|list| {
            list.iter()
                .filter(|r| r["level"].as_str() != Some("info"))
                .filter_map(|r| r["text"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if reasons.is_empty()
        && let Some(reason) = reason.filter(|r| !r.trim().is_empty())
    {
        reasons.push(reason);
    }
    Ok(Some(EnvelopeJob {
        id: job_id,
        serial,
        model,
        capacity_bytes: u64::try_from(size).unwrap_or(0),
        location,
        state,
        outcome: verdict.as_ref().and_then(|v| v["outcome"].as_str().map(str::to_owned)),
        reasons,
        operator,
        started_at: started,
        finished_at: finished,
        url: super::job_path(job_id),
    }))
}
