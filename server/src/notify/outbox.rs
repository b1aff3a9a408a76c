//! The outbox worker: delivers what is due, a few at a time, records every attempt, and
//! schedules the retries; the daily digest; the test send.

use std::time::{Duration, Instant};

use burnin::notify::{
    ChannelConfig, Digest, DigestFailure, ENVELOPE_VERSION, Envelope, EventType, Next,
};
use futures_util::future::join_all;

use super::{
    Notifier, NotifyError,
    send::{self, Payload},
    store,
};
use crate::db::DbError;

/// Deliveries in flight at once: a slow mail relay does not hold up the webhooks.
const AT_ONCE: i64 = 4;

/// Runs the outbox and the digest until the process ends.
pub struct Worker;

impl Worker {
    pub fn start(notifier: Notifier) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // A delivery that was in flight when the last process stopped is due again: the
            // receiver may see it twice, with the same id to tell.
            if let Err(error) =
                sqlx::query("UPDATE outbox SET state = 'pending' WHERE state = 'sending'")
                    .execute(&notifier.pool)
                    .await
            {
                tracing::error!(error = %error, "cannot take up the outbox");
            }
            let mut last_digest_check = 0;
            loop {
                // Registered before looking, so a wake-up while this round runs is not lost.
                let woken = super::WAKE.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                let now = crate::auth::now_unix();
                match run_due(&notifier, now).await {
                    // More may be due: go on at once.
                    Ok(n) if n as i64 >= AT_ONCE => continue,
                    Ok(_) => {}
                    Err(error) => tracing::error!(error = %error, "the outbox cannot be read"),
                }
                if now - last_digest_check >= 60 {
                    last_digest_check = now;
                    if let Err(error) = digest_tick(&notifier, now).await {
                        tracing::error!(error = %error, "the daily digest cannot be made");
                    }
                }
                let wait = next_due_in(&notifier, now).await.unwrap_or(Duration::from_secs(30));
                tokio::select! {
                    () = woken => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        })
    }
}

async fn next_due_in(notifier: &Notifier, now: i64) -> Option<Duration> {
    let (next,): (Option<i64>,) =
        sqlx::query_as("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'")
            .fetch_one(&notifier.pool)
            .await
            .ok()?;
    let secs = next.map_or(30, |at| (at - now).clamp(1, 30));
    Some(Duration::from_secs(u64::try_from(secs).unwrap_or(30)))
}

/// Delivers everything due at `now` (a few at once); answers how many were tried. The
/// worker calls it with the clock; a test may call it with a later time.
pub async fn run_due(notifier: &Notifier, now: i64) -> Result<usize, DbError> {
    // Claimed in one statement, so two callers never send the same row.
    let claimed: Vec<(i64,)> = sqlx::query_as(
        "UPDATE outbox SET state = 'sending'
          WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1
                        ORDER BY next_attempt_at, id LIMIT $2)
          RETURNING id",
    )
    .bind(now)
    .bind(AT_ONCE)
    .fetch_all(&notifier.pool)
    .await?;
    let results = join_all(claimed.iter().map(|(id,)| deliver(notifier, *id, now))).await;
    for ((id,), result) in claimed.iter().zip(&results) {
        if let Err(error) = result {
            tracing::error!(outbox.id = id, error = %error, "a delivery could not be recorded; it is due again in a minute");
            // Not left claimed: it is tried again (the receiver may see it twice, same id).
            if let Err(error) = sqlx::query(
                "UPDATE outbox SET state = 'pending', next_attempt_at = $2 WHERE id = $1 AND state = 'sending'",
            )
            .bind(id)
            .bind(now + 60)
            .execute(&notifier.pool)
            .await
            {
                tracing::error!(outbox.id = id, error = %error, "the delivery stays claimed until the next start");
            }
        }
    }
    Ok(claimed.len())
}

type OutboxRow = (i64, String, String, i64, i64);

/// The job whose certificate an email carries: one about a burn-in that has ended, to an
/// email channel that asks for it.
fn certificate_for(config: &ChannelConfig, payload: &Payload) -> Option<i64> {
    let (ChannelConfig::Email(email), Payload::Envelope(envelope)) = (config, payload) else {
        return None;
    };
    let job = envelope.job.as_ref()?;
    let ended = burnin::job::JobState::parse(&job.state).is_some_and(|s| !s.is_active());
    (email.attach_certificate && ended).then_some(job.id)
}

/// One attempt at a claimed outbox row, recorded; answers the attempt.
async fn deliver(
    notifier: &Notifier,
    id: i64,
    now: i64,
) -> Result<burnin::notify::DeliveryView, DbError> {
    let (channel_id, event, payload, attempts, max_attempts): OutboxRow = sqlx::query_as(
        "SELECT channel_id, event, payload, attempts, max_attempts FROM outbox WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&notifier.pool)
    .await?;
    let attempt = u32::try_from(attempts + 1).unwrap_or(u32::MAX);
    let started = Instant::now();
    let channel = store::row(&notifier.pool, channel_id).await?;
    let sent = match channel.as_ref().and_then(|row| Some((row, super::input_of(row)?))) {
        None => send::Sent {
            attempt: burnin::notify::Attempt::Unsendable,
            code: None,
            detail: "the channel's stored settings do not read; save the channel again".into(),
        },
        Some((row, input)) => {
            let secret = match &row.secret {
                Some(sealed) => match notifier.master.decrypt(sealed, &store::secret_aad(&row.uid))
                {
                    Ok(secret) => Some(secret),
                    Err(error) => {
                        tracing::error!(channel.id = channel_id, error = %error, "a channel secret does not open");
                        None
                    }
                },
                None => None,
            };
            let payload = if event == EventType::Digest.as_str() {
                serde_json::from_str::<serde_json::Value>(&payload).ok().map(|v| Payload::Mail {
                    subject: v["subject"].as_str().unwrap_or_default().to_owned(),
                    text: v["text"].as_str().unwrap_or_default().to_owned(),
                    html: v["html"].as_str().unwrap_or_default().to_owned(),
                })
            } else {
                serde_json::from_str::<Envelope>(&payload).ok().map(|e| {
                    Payload::Envelope(Box::new(super::absolutize(e, &notifier.base_url())))
                })
            };
            match (payload, secret.is_none() && row.secret.is_some()) {
                (_, true) => send::Sent {
                    attempt: burnin::notify::Attempt::Unsendable,
                    code: None,
                    detail:
                        "the channel's secret cannot be opened with this master key; set it again"
                            .into(),
                },
                (None, false) => send::Sent {
                    attempt: burnin::notify::Attempt::Unsendable,
                    code: None,
                    detail: "the queued notification does not read".into(),
                },
                (Some(payload), false) => {
                    let (attachment, unattached) = match certificate_for(&input.config, &payload) {
                        Some(job_id) => match notifier.certificates.get() {
                            Some(source) => match source.certificate_pdf(job_id).await {
                                Ok((name, bytes)) => (Some(send::Attachment { name, bytes }), None),
                                Err(why) => (None, Some(why)),
                            },
                            None => (None, Some("no certificate source is set up".to_owned())),
                        },
                        None => (None, None),
                    };
                    let mut sent = send::send(
                        &input.config,
                        secret.as_ref().map(|s| s.expose()),
                        &payload,
                        attachment.as_ref(),
                        now,
                    )
                    .await;
                    // The message matters more than its attachment: it goes, and says why not.
                    if let Some(why) = unattached {
                        tracing::warn!(outbox.id = id, reason = %why, "sent without the job's certificate");
                        sent.detail =
                            format!("{} (the certificate was not attached: {why})", sent.detail);
                    }
                    sent
                }
            }
        }
    };
    let smtp = channel
        .as_ref()
        .and_then(super::input_of)
        .is_some_and(|i| matches!(i.config, ChannelConfig::Email(_)));
    let max = u32::try_from(max_attempts).unwrap_or(1);
    let next = burnin::notify::next(attempt, &sent.attempt, now, smtp, max);
    let next = match next {
        // Spread retries a little so many channels failing together do not retry together.
        Next::RetryAt(at) if at - now >= 30 => {
            let spread = (at - now) / 10;
            let jitter =
                i64::from(crate::secrets::random_bytes::<2>().map(u16::from_le_bytes).unwrap_or(0));
            Next::RetryAt(at + jitter % spread.max(1))
        }
        other => other,
    };
    let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let ok = next == Next::Done;
    let retry_at = match next {
        Next::RetryAt(at) => Some(at),
        _ => None,
    };
    let mut tx = crate::db::begin_write(&notifier.pool).await?;
    let delivery = sqlx::query(
        "INSERT INTO deliveries (outbox_id, channel_id, attempt, at, ok, code, detail, duration_ms, retry_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(channel_id)
    .bind(i64::from(attempt))
    .bind(now)
    .bind(ok)
    .bind(sent.code.map(i64::from))
    .bind(&sent.detail)
    .bind(elapsed)
    .bind(retry_at)
    .execute(&mut *tx)
    .await?
    .last_insert_rowid();
    let (state, next_at) = match next {
        Next::Done => ("delivered", now),
        Next::RetryAt(at) => ("pending", at),
        Next::GiveUp => ("failed", now),
    };
    sqlx::query(
        "UPDATE outbox SET state = $2, attempts = $3, next_attempt_at = $4,
                last_error = CASE WHEN $5 THEN NULL ELSE $6 END WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(i64::from(attempt))
    .bind(next_at)
    .bind(ok)
    .bind(&sent.detail)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if ok {
        tracing::info!(channel.id = channel_id, notify.event = %event, notify.attempt = attempt, "notification delivered");
    } else {
        tracing::warn!(channel.id = channel_id, notify.event = %event, notify.attempt = attempt, notify.state = state, notify.detail = %sent.detail, "notification not delivered");
    }
    store::delivery(&notifier.pool, delivery)
        .await?
        .ok_or_else(|| DbError::from(sqlx::Error::RowNotFound))
}

/// Sends a test through the channel's real path, once, now, and answers how it went. A
/// disabled channel can be tested too: that is how one checks it before turning it on.
pub async fn send_test(
    notifier: &Notifier,
    channel_id: i64,
    actor: &str,
    now: i64,
) -> Result<burnin::notify::DeliveryView, NotifyError> {
    let row =
        store::row(&notifier.pool, channel_id).await?.ok_or(NotifyError::NotFound(channel_id))?;
    let nonce = store::hex(&crate::secrets::random_bytes::<6>()?);
    let envelope = Envelope {
        version: ENVELOPE_VERSION,
        id: format!("msg_test_{channel_id}_{now}_{nonce}"),
        event: EventType::Test,
        time: burnin::format::utc(now),
        source: store::source(),
        host: None,
        alert: None,
        job: None,
        summary: format!(
            "This is a test from the burn-in dashboard, sent by {actor} to the channel {:?}. If you read this, it works.",
            row.name
        ),
    };
    let mut tx = crate::db::begin_write(&notifier.pool).await?;
    let id = store::queue(&mut tx, channel_id, &envelope, None, now, 1).await?;
    sqlx::query("UPDATE outbox SET state = 'sending' WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    crate::audit::record(
        &mut *tx,
        actor,
        "channel.tested",
        &row.name,
        &serde_json::json!({"channel_id": channel_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(deliver(notifier, id, now).await?)
}

/// Queues the daily digest of every email channel whose hour it is at `now` (in its offset)
/// and which has not had today's; answers how many were queued. Called each minute by the
/// worker, and by tests with a simulated time.
pub async fn digest_tick(notifier: &Notifier, now: i64) -> Result<usize, DbError> {
    let rows: Vec<store::ChannelRow> = sqlx::query_as(
        "SELECT id, uid, name, enabled, min_severity, kinds, send_resolved, config, secret,
                created_at, updated_at, digest_day
           FROM channels WHERE enabled = 1 AND kind = 'email'",
    )
    .fetch_all(&notifier.pool)
    .await?;
    let mut queued = 0;
    for row in rows {
        let Some(input) = super::input_of(&row) else { continue };
        let ChannelConfig::Email(email) = &input.config else { continue };
        let Some(hour) = email.digest_hour else { continue };
        let (day, now_hour) = burnin::notify::local_day_and_hour(now, email.utc_offset_mins);
        if now_hour != hour || row.digest_day.as_deref() == Some(day.as_str()) {
            continue;
        }
        let digest = digest(notifier, now, &day).await?;
        let mut tx = crate::db::begin_write(&notifier.pool).await?;
        // Marked first: a day gets one digest even if its sending fails for good.
        sqlx::query("UPDATE channels SET digest_day = $2 WHERE id = $1")
            .bind(row.id)
            .bind(&day)
            .execute(&mut *tx)
            .await?;
        if !digest.is_empty() || email.digest_when_empty {
            let payload = serde_json::json!({
                "subject": digest.subject(),
                "text": digest.text(),
                "html": digest.html(),
            });
            sqlx::query(
                "INSERT INTO outbox (uid, channel_id, event, payload, created_at, max_attempts, next_attempt_at)
                 VALUES ($1, $2, 'digest', $3, $4, $5, $4)",
            )
            .bind(format!("digest-{}-{day}", row.id))
            .bind(row.id)
            .bind(payload.to_string())
            .bind(now)
            .bind(i64::from(burnin::notify::MAX_ATTEMPTS))
            .execute(&mut *tx)
            .await?;
            queued += 1;
        }
        tx.commit().await?;
    }
    if queued > 0 {
        super::WAKE.notify_waiters();
    }
    Ok(queued)
}

/// What the digest at `now` reports: the 24 hours before it.
async fn digest(notifier: &Notifier, now: i64, day: &str) -> Result<Digest, DbError> {
    let base = notifier.base_url();
    let since = now - 86_400;
    let ended: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT j.id, j.state, h.name FROM jobs j JOIN hosts h ON h.id = j.host_id
          WHERE j.finished_at IS NOT NULL
            AND j.finished_at >= strftime('%Y-%m-%dT%H:%M:%fZ', $1, 'unixepoch')
            AND j.finished_at <= strftime('%Y-%m-%dT%H:%M:%fZ', $2, 'unixepoch')
          ORDER BY j.id",
    )
    .bind(since)
    .bind(now)
    .fetch_all(&notifier.pool)
    .await?;
    let mut out =
        Digest { day: day.to_owned(), dashboard_url: format!("{base}/"), ..Digest::default() };
    let mut conn = notifier.pool.acquire().await?;
    for (job_id, state, host) in ended {
        match state.as_str() {
            "passed" => out.passed += 1,
            "failed" => {
                if let Some(job) = store::job_facts(&mut conn, job_id).await? {
                    out.failed.push(DigestFailure {
                        job_id,
                        host,
                        serial: job.serial,
                        model: job.model,
                        reasons: job.reasons,
                        url: format!("{base}{}", job.url),
                    });
                }
            }
            _ => out.ended_otherwise += 1,
        }
    }
    let (running,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")
            .fetch_one(&mut *conn)
            .await?;
    out.running = u32::try_from(running).unwrap_or(u32::MAX);
    let open = crate::alerts::list(&notifier.pool, &burnin::alert::AlertFilter::default()).await?;
    out.open_alerts = open
        .into_iter()
        .map(|a| {
            let subject =
                if a.subject.is_empty() { String::new() } else { format!("{} ", a.subject) };
            (
                a.severity,
                format!("{subject}{} on {}", burnin::notify::kind_label(a.kind), a.host_name),
                format!("{base}{}", super::alert_path(a.id)),
            )
        })
        .collect();
    Ok(out)
}
