//! The alert store and its feeds. Rules and lifecycle are `burnin::alert`'s; this keeps each
//! alert and every transition in the database (audited), in one write transaction per check,
//! and runs the periodic check of host reachability. Each transition worth telling queues its
//! notifications (`crate::notify::enqueue`) in the same transaction.

use std::time::Duration;

use burnin::alert::{
    Alert, AlertFilter, AlertKind, AlertRules, AlertState, AlertView, Notice, Seen, Severity,
};
use sqlx::SqlitePool;

use crate::db::DbError;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    host_id: i64,
    host_name: String,
    kind: String,
    subject: String,
    state: String,
    severity: String,
    message: String,
    first_seen: i64,
    last_seen: i64,
    raised_at: Option<i64>,
    count: i64,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<i64>,
    resolved_by: Option<String>,
    resolved_at: Option<i64>,
    note: Option<String>,
    job_id: Option<i64>,
}

const COLUMNS: &str =
    "a.id, a.host_id, h.name AS host_name, a.kind, a.subject, a.state, a.severity, a.message,
    a.first_seen, a.last_seen, a.raised_at, a.count, a.acknowledged_by, a.acknowledged_at,
    a.resolved_by, a.resolved_at, a.note, a.job_id";

fn severity(text: &str) -> Severity {
    match text {
        "critical" => Severity::Critical,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    }
}

fn state(text: &str) -> AlertState {
    match text {
        "pending" => AlertState::Pending,
        "acknowledged" => AlertState::Acknowledged,
        "resolved" => AlertState::Resolved,
        _ => AlertState::Raised,
    }
}

fn view(row: Row) -> Option<AlertView> {
    Some(AlertView {
        id: row.id,
        host_id: row.host_id,
        host_name: row.host_name,
        kind: AlertKind::parse(&row.kind)?,
        subject: row.subject,
        state: state(&row.state),
        severity: severity(&row.severity),
        message: row.message,
        first_seen: row.first_seen,
        last_seen: row.last_seen,
        raised_at: row.raised_at,
        count: u32::try_from(row.count).unwrap_or(u32::MAX),
        acknowledged_by: row.acknowledged_by,
        acknowledged_at: row.acknowledged_at,
        resolved_by: row.resolved_by,
        resolved_at: row.resolved_at,
        note: row.note,
        job_id: row.job_id,
    })
}

fn alert_of(view: &AlertView, clear_checks: u32, last_notified: Option<i64>) -> Alert {
    Alert {
        host_id: view.host_id,
        kind: view.kind,
        subject: view.subject.clone(),
        state: view.state,
        severity: view.severity,
        message: view.message.clone(),
        first_seen: view.first_seen,
        last_seen: view.last_seen,
        raised_at: view.raised_at,
        count: view.count,
        clear_checks,
        last_notified,
    }
}

/// Applies one check of a condition (or one burn-in event) at `now`: stores the alert's new
/// state and, on a transition worth telling, the transition, audited. Answers the alert's id
/// and the notice given.
pub async fn observe(
    pool: &SqlitePool,
    rules: &AlertRules,
    key: (i64, AlertKind, &str),
    seen: Seen,
    now: i64,
) -> Result<Option<(i64, Notice)>, DbError> {
    observe_with(pool, rules, key, seen, now, None).await
}

/// [`observe`], naming the burn-in job the alert is about (its notifications link to it and
/// carry its reasons).
pub async fn observe_with(
    pool: &SqlitePool,
    rules: &AlertRules,
    (host_id, kind, subject): (i64, AlertKind, &str),
    seen: Seen,
    now: i64,
    job_id: Option<i64>,
) -> Result<Option<(i64, Notice)>, DbError> {
    let mut tx = crate::db::begin_write(pool).await?;
    let current: Option<(Row, i64, Option<i64>)> = {
        let row: Option<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM alerts a JOIN hosts h ON h.id = a.host_id
              WHERE a.host_id = $1 AND a.kind = $2 AND a.subject = $3 AND a.state != 'resolved'"
        ))
        .bind(host_id)
        .bind(kind.as_str())
        .bind(subject)
        .fetch_optional(&mut *tx)
        .await?;
        match row {
            Some(row) => {
                let (checks, notified): (i64, Option<i64>) =
                    sqlx::query_as("SELECT clear_checks, last_notified FROM alerts WHERE id = $1")
                        .bind(row.id)
                        .fetch_one(&mut *tx)
                        .await?;
                Some((row, checks, notified))
            }
            None => None,
        }
    };
    let (id, existing) = match current {
        Some((row, checks, notified)) => {
            let id = row.id;
            let view = view(row);
            (Some(id), view.map(|v| alert_of(&v, u32::try_from(checks).unwrap_or(0), notified)))
        }
        None => (None, None),
    };
    let step = burnin::alert::step(existing.as_ref(), (host_id, kind, subject), seen, now, rules);
    let id = match (&step.alert, id) {
        (None, Some(id)) => {
            sqlx::query("DELETE FROM alerts WHERE id = $1").bind(id).execute(&mut *tx).await?;
            None
        }
        (None, None) => None,
        (Some(alert), Some(id)) => {
            sqlx::query(
                "UPDATE alerts SET state = $2, severity = $3, message = $4, last_seen = $5,
                        raised_at = $6, count = $7, clear_checks = $8, last_notified = $9,
                        resolved_by = CASE WHEN $2 = 'resolved' THEN 'system' ELSE resolved_by END,
                        resolved_at = CASE WHEN $2 = 'resolved' THEN $5 ELSE resolved_at END,
                        job_id = COALESCE($10, job_id)
                  WHERE id = $1",
            )
            .bind(id)
            .bind(alert.state.as_str())
            .bind(alert.severity.as_str())
            .bind(&alert.message)
            .bind(alert.last_seen)
            .bind(alert.raised_at)
            .bind(i64::from(alert.count))
            .bind(i64::from(alert.clear_checks))
            .bind(alert.last_notified)
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
            Some(id)
        }
        (Some(alert), None) => Some(
            sqlx::query(
                "INSERT INTO alerts (host_id, kind, subject, state, severity, message, first_seen,
                                     last_seen, raised_at, count, clear_checks, last_notified, job_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(host_id)
            .bind(kind.as_str())
            .bind(subject)
            .bind(alert.state.as_str())
            .bind(alert.severity.as_str())
            .bind(&alert.message)
            .bind(alert.first_seen)
            .bind(alert.last_seen)
            .bind(alert.raised_at)
            .bind(i64::from(alert.count))
            .bind(i64::from(alert.clear_checks))
            .bind(alert.last_notified)
            .bind(job_id)
            .execute(&mut *tx)
            .await?
            .last_insert_rowid(),
        ),
    };
    let told = match (id, step.notice, &step.alert) {
        (Some(id), Some(notice), Some(alert)) => {
            transition(&mut tx, id, now, alert.state, Some(notice), "system", None).await?;
            crate::audit::record(
                &mut *tx,
                "system",
                &format!("alert.{}", notice_name(notice)),
                &alert.subject,
                &serde_json::json!({"alert_id": id, "host_id": host_id, "kind": kind.as_str(),
                                     "severity": alert.severity.as_str(), "message": alert.message}),
            )
            .await?;
            crate::notify::enqueue(&mut tx, id, burnin::notify::EventType::of(notice), now).await?;
            Some((id, notice))
        }
        _ => None,
    };
    tx.commit().await?;
    if told.is_some() {
        crate::notify::WAKE.notify_waiters();
    }
    Ok(told)
}

fn notice_name(notice: Notice) -> &'static str {
    match notice {
        Notice::Raised => "raised",
        Notice::Escalated => "escalated",
        Notice::Reminder => "reminder",
        Notice::Acknowledged => "acknowledged",
        Notice::Resolved => "resolved",
    }
}

async fn transition(
    tx: &mut sqlx::SqliteConnection,
    id: i64,
    at: i64,
    state: AlertState,
    notice: Option<Notice>,
    actor: &str,
    note: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO alert_transitions (alert_id, at, state, notice, actor, note)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(at)
    .bind(state.as_str())
    .bind(notice.map(notice_name))
    .bind(actor)
    .bind(note)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Alerts matching `filter`, newest first (at most 1,000).
pub async fn list(pool: &SqlitePool, filter: &AlertFilter) -> Result<Vec<AlertView>, DbError> {
    let states: &[&str] = match filter.state.as_deref().unwrap_or("open") {
        "raised" => &["raised"],
        "acknowledged" => &["acknowledged"],
        "resolved" => &["resolved"],
        "all" => &["raised", "acknowledged", "resolved"],
        _ => &["raised", "acknowledged"],
    };
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM alerts a JOIN hosts h ON h.id = a.host_id
          WHERE a.state IN (SELECT value FROM json_each($1))
            AND ($2 IS NULL OR a.host_id = $2)
            AND ($3 IS NULL OR a.kind = $3)
            AND ($4 IS NULL OR a.severity = $4)
          ORDER BY a.last_seen DESC, a.id DESC LIMIT 1000"
    ))
    .bind(serde_json::to_string(states).unwrap_or_default())
    .bind(filter.host_id)
    .bind(filter.kind.map(AlertKind::as_str))
    .bind(filter.severity.map(Severity::as_str))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(view).collect())
}

/// Counts of the open alerts, per host, and the newest raised critical ones.
pub async fn summary(pool: &SqlitePool) -> Result<burnin::alert::AlertSummary, DbError> {
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT host_id, state, severity, COUNT(*) FROM alerts
          WHERE state IN ('raised', 'acknowledged') GROUP BY host_id, state, severity",
    )
    .fetch_all(pool)
    .await?;
    let mut out = burnin::alert::AlertSummary::default();
    let mut by_host: std::collections::BTreeMap<i64, (u32, Severity)> = Default::default();
    for (host, state, severity_text, count) in rows {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let severity = severity(&severity_text);
        out.open += count;
        if state == "raised" {
            out.unacknowledged += count;
        }
        if severity == Severity::Critical {
            out.critical += count;
        }
        let entry = by_host.entry(host).or_insert((0, Severity::Info));
        entry.0 += count;
        entry.1 = entry.1.max(severity);
    }
    out.by_host = by_host.into_iter().map(|(host, (n, s))| (host, n, s)).collect();
    let newest: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT a.id, a.kind, a.subject, h.name FROM alerts a JOIN hosts h ON h.id = a.host_id
          WHERE a.state = 'raised' AND a.severity = 'critical' ORDER BY a.id DESC LIMIT 5",
    )
    .fetch_all(pool)
    .await?;
    out.newest_critical = newest
        .into_iter()
        .filter_map(|(id, kind, subject, host)| {
            let kind = AlertKind::parse(&kind)?;
            let subject = if subject.is_empty() { String::new() } else { format!("{subject} ") };
            Some((id, format!("{subject}{} on {host}", burnin::notify::kind_label(kind))))
        })
        .collect();
    Ok(out)
}

pub async fn get(pool: &SqlitePool, id: i64) -> Result<Option<AlertView>, DbError> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM alerts a JOIN hosts h ON h.id = a.host_id WHERE a.id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(view))
}

pub use burnin::alert::Handling;

/// Acknowledges or resolves alert `id` as `actor`, with an optional note; the rule decides
/// whether it may (`Err` names why not).
pub async fn handle(
    pool: &SqlitePool,
    id: i64,
    handling: Handling,
    actor: &str,
    note: Option<&str>,
    now: i64,
) -> Result<Result<AlertView, String>, DbError> {
    let Some(current) = get(pool, id).await? else {
        return Ok(Err(format!("there is no alert with id {id}")));
    };
    let alert = alert_of(&current, 0, None);
    let next = match handling {
        Handling::Acknowledge => burnin::alert::acknowledge(&alert),
        Handling::Resolve => burnin::alert::resolve(&alert, now),
    };
    let next = match next {
        Ok(next) => next,
        Err(why) => return Ok(Err(why)),
    };
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    let mut tx = crate::db::begin_write(pool).await?;
    let (notice, sql) = match handling {
        Handling::Acknowledge => (
            Notice::Acknowledged,
            "UPDATE alerts SET state = $2, acknowledged_by = $3, acknowledged_at = $4, note = COALESCE($5, note) WHERE id = $1",
        ),
        Handling::Resolve => (
            Notice::Resolved,
            "UPDATE alerts SET state = $2, resolved_by = $3, resolved_at = $4, note = COALESCE($5, note) WHERE id = $1",
        ),
    };
    sqlx::query(sql)
        .bind(id)
        .bind(next.state.as_str())
        .bind(actor)
        .bind(now)
        .bind(note)
        .execute(&mut *tx)
        .await?;
    transition(&mut tx, id, now, next.state, Some(notice), actor, note).await?;
    crate::audit::record(
        &mut *tx,
        actor,
        &format!("alert.{}", notice_name(notice)),
        &current.subject,
        &serde_json::json!({"alert_id": id, "kind": current.kind.as_str(), "note": note,
                             "old": current.state.as_str(), "new": next.state.as_str()}),
    )
    .await?;
    crate::notify::enqueue(&mut tx, id, burnin::notify::EventType::of(notice), now).await?;
    tx.commit().await?;
    crate::notify::WAKE.notify_waiters();
    Ok(get(pool, id).await?.ok_or_else(|| format!("alert {id} went away")))
}

/// A burn-in ended: a failure or a pass with warnings raises an alert on the drive; a pass
/// is a notice, and resolves the drive's open failure alerts from earlier runs.
/// The burn-in that ended, as the engine knows it.
pub struct Ended<'a> {
    pub job_id: i64,
    pub host_id: i64,
    pub serial: &'a str,
    pub state: burnin::job::JobState,
    pub outcome: Option<burnin::verdict::Outcome>,
    pub reason: &'a str,
}

pub async fn job_ended(
    pool: &SqlitePool,
    rules: &AlertRules,
    job: Ended<'_>,
    now: i64,
) -> Result<(), DbError> {
    use burnin::job::JobState;
    use burnin::verdict::Outcome;
    let (kind, severity) = match (job.state, job.outcome) {
        (JobState::Failed, _) => (AlertKind::BurninFailed, Severity::Critical),
        (JobState::Passed, Some(Outcome::Warn)) => {
            (AlertKind::BurninPassedWithWarnings, Severity::Warning)
        }
        (JobState::Passed, _) => (AlertKind::BurninPassed, Severity::Info),
        (JobState::Interrupted, _) => (AlertKind::BurninInterrupted, Severity::Warning),
        _ => return Ok(()),
    };
    // A later job's outcome is news even when the last one's alert is still open: that one is
    // superseded (and says so), and this one is raised and told.
    let open = list(
        pool,
        &AlertFilter { host_id: Some(job.host_id), kind: Some(kind), ..Default::default() },
    )
    .await?;
    for alert in
        open.into_iter().filter(|a| a.subject == job.serial && a.job_id != Some(job.job_id))
    {
        let note = format!("superseded by burn-in job {}", job.job_id);
        let _ = handle(pool, alert.id, Handling::Resolve, "system", Some(&note), now).await?;
    }
    let message = format!(
        "{}: burn-in job {} {}: {}",
        job.serial,
        job.job_id,
        job.state.as_str(),
        job.reason
    );
    observe_with(
        pool,
        rules,
        (job.host_id, kind, job.serial),
        Seen::Firing { severity, message },
        now,
        Some(job.job_id),
    )
    .await?;
    if job.state == JobState::Passed {
        for earlier in [AlertKind::BurninFailed, AlertKind::BurninInterrupted] {
            let open = list(
                pool,
                &AlertFilter {
                    host_id: Some(job.host_id),
                    kind: Some(earlier),
                    ..Default::default()
                },
            )
            .await?;
            for alert in open.into_iter().filter(|a| a.subject == job.serial) {
                let note = format!("burn-in job {} passed", job.job_id);
                let _ =
                    handle(pool, alert.id, Handling::Resolve, "system", Some(&note), now).await?;
            }
        }
    }
    Ok(())
}

/// Checks every enabled host's reachability once a minute: offline past the warning time
/// raises, past the critical time escalates, back online resolves after the clear checks.
pub fn start(services: crate::service::Services) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(error) = check_hosts(&services).await {
                tracing::error!(error = %error, "cannot check hosts for alerts");
            }
            let rules = services.settings.read(|s| s.alerts.clone());
            if let Err(error) =
                remind_due(services.db.pool(), &rules, crate::auth::now_unix()).await
            {
                tracing::error!(error = %error, "cannot send alert reminders");
            }
        }
    })
}

/// Tells again of every raised alert whose reminder is due at `now` (the rule is
/// `burnin::alert::reminder_due`); answers how many. Events (a failed burn-in) are never
/// observed again, so without this sweep they would be told once only.
pub async fn remind_due(pool: &SqlitePool, rules: &AlertRules, now: i64) -> Result<usize, DbError> {
    if rules.reminder_mins == 0 {
        return Ok(0);
    }
    let candidates: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, clear_checks, last_notified FROM alerts
          WHERE state = 'raised' AND last_notified IS NOT NULL AND last_notified <= $1",
    )
    .bind(now - i64::from(rules.reminder_mins) * 60)
    .fetch_all(pool)
    .await?;
    let mut told = 0;
    for (id, checks, notified) in candidates {
        let mut tx = crate::db::begin_write(pool).await?;
        let Some(row) = sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLUMNS} FROM alerts a JOIN hosts h ON h.id = a.host_id WHERE a.id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            continue;
        };
        let Some(current) = view(row) else { continue };
        let alert = alert_of(&current, u32::try_from(checks).unwrap_or(0), notified);
        // Checked again inside the write lock: an acknowledgement may have come in between.
        if !burnin::alert::reminder_due(&alert, now, rules) {
            continue;
        }
        sqlx::query("UPDATE alerts SET last_notified = $2 WHERE id = $1 AND state = 'raised'")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        transition(&mut tx, id, now, AlertState::Raised, Some(Notice::Reminder), "system", None)
            .await?;
        crate::audit::record(
            &mut *tx,
            "system",
            "alert.reminder",
            &current.subject,
            &serde_json::json!({"alert_id": id, "kind": current.kind.as_str(), "severity": current.severity.as_str()}),
        )
        .await?;
        crate::notify::enqueue(&mut tx, id, burnin::notify::EventType::Reminder, now).await?;
        tx.commit().await?;
        told += 1;
    }
    if told > 0 {
        crate::notify::WAKE.notify_waiters();
    }
    Ok(told)
}

/// A host's id, name, status, last seen (Unix seconds) and status detail.
type HostReach = (i64, String, String, Option<i64>, Option<String>);

/// One round of the host checks, now.
pub async fn check_hosts(services: &crate::service::Services) -> Result<(), DbError> {
    check_hosts_at(services, crate::auth::now_unix()).await
}

/// One round of the host checks as at `now` (Unix seconds; tests pass simulated time).
pub async fn check_hosts_at(services: &crate::service::Services, now: i64) -> Result<(), DbError> {
    let rules = services.settings.read(|s| s.alerts.clone());
    let rows: Vec<HostReach> = sqlx::query_as(
        "SELECT id, name, status, CAST(strftime('%s', last_seen_at) AS INTEGER), status_detail
           FROM hosts WHERE enabled = 1 AND archived_at IS NULL",
    )
    .fetch_all(services.db.pool())
    .await?;
    for (id, name, status, last_seen, detail) in rows {
        let seen = match (status.as_str(), last_seen) {
            ("online", _) => Seen::Clear,
            (_, Some(last_seen)) => {
                match rules.host_offline(u64::try_from(now - last_seen).unwrap_or(0)) {
                    Some(severity) => Seen::Firing {
                        severity,
                        message: format!(
                            "{name} has not answered for {} minutes{}",
                            (now - last_seen) / 60,
                            detail.map(|d| format!(": {d}")).unwrap_or_default()
                        ),
                    },
                    None => continue,
                }
            }
            (_, None) => continue,
        };
        observe(services.db.pool(), &rules, (id, AlertKind::HostOffline, ""), seen, now).await?;
    }
    Ok(())
}
