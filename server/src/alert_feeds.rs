//! The alert feeds: what the engine and the inventory come across, as checks of
//! [`crate::alerts::observe`]. Which facts warrant an alert, and how much, is
//! `burnin::alert`'s (with the temperature table and the verdict's watched counters); when a
//! pending one is raised and when a clear one resolves is `burnin::alert::step`'s. A feed says
//! what it saw, each time it looks.
//!
//! Most checks of most conditions find nothing wrong and nothing open: a clear check costs a
//! read, and writes only where there is an alert to count it against.

use std::collections::HashSet;

use burnin::alert::{AlertFilter, AlertKind, AlertRules, Notice, Seen, Severity};
use sqlx::SqlitePool;

use crate::db::DbError;

/// (host, kind, subject): one alert's key.
type Key<'a> = (i64, AlertKind, &'a str);

/// How often a condition that keeps firing, seen on every poll, is written again at most (its
/// count, last-seen time and reminders).
pub const REPEAT_SECS: i64 = 60;

/// Whether a key has an alert a clear check would change: pending, raised or acknowledged.
async fn has_alert(pool: &SqlitePool, (host_id, kind, subject): Key<'_>) -> Result<bool, DbError> {
    let (found,): (bool,) = sqlx::query_as(
        "SELECT EXISTS(SELECT 1 FROM alerts
                        WHERE host_id = $1 AND kind = $2 AND subject = $3 AND state != 'resolved')",
    )
    .bind(host_id)
    .bind(kind.as_str())
    .bind(subject)
    .fetch_one(pool)
    .await?;
    Ok(found)
}

/// The subjects of a host's alerts of `kind` that a clear check would change.
async fn subjects(
    pool: &SqlitePool,
    host_id: i64,
    kind: AlertKind,
) -> Result<HashSet<String>, DbError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT subject FROM alerts WHERE host_id = $1 AND kind = $2 AND state != 'resolved'",
    )
    .bind(host_id)
    .bind(kind.as_str())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(subject,)| subject).collect())
}

/// One check that found the condition clear.
pub async fn clear(
    pool: &SqlitePool,
    rules: &AlertRules,
    key: Key<'_>,
    now: i64,
) -> Result<Option<(i64, Notice)>, DbError> {
    if !has_alert(pool, key).await? {
        return Ok(None);
    }
    crate::alerts::observe(pool, rules, key, Seen::Clear, now).await
}

/// One check of a condition: firing with its severity and message, or clear.
pub async fn check(
    pool: &SqlitePool,
    rules: &AlertRules,
    key: Key<'_>,
    firing: Option<(Severity, String)>,
    now: i64,
) -> Result<Option<(i64, Notice)>, DbError> {
    match firing {
        Some((severity, message)) => {
            crate::alerts::observe(pool, rules, key, Seen::Firing { severity, message }, now).await
        }
        None => clear(pool, rules, key, now).await,
    }
}

/// Resolves the open alerts of `kind` on `subject` by hand of the system, with a note: what
/// they were about is over (the job they watched ended).
async fn resolve_open(
    pool: &SqlitePool,
    (host_id, kind, subject): Key<'_>,
    note: &str,
    now: i64,
) -> Result<(), DbError> {
    let open = crate::alerts::list(
        pool,
        &AlertFilter { host_id: Some(host_id), kind: Some(kind), ..Default::default() },
    )
    .await?;
    for alert in open.into_iter().filter(|a| a.subject == subject) {
        // Someone may have resolved it a moment ago; that is no error.
        let _ = crate::alerts::handle(
            pool,
            alert.id,
            crate::alerts::Handling::Resolve,
            "system",
            Some(note),
            now,
        )
        .await?;
    }
    Ok(())
}

/// `burnin_stuck`: a running stage's stuck flag, as its runner sees it on each progress
/// report. Remembers what it last told, so a stage polled every few seconds writes only when
/// there is news (or once a [`REPEAT_SECS`] while it stays stuck).
#[derive(Debug, Default)]
pub struct Stuck {
    /// Whether an alert may be open (`None`: not known yet, as after a restart).
    open: Option<bool>,
    last_firing: Option<i64>,
}

impl Stuck {
    /// One look at the stage: `stuck` holds what it is stuck on, `None` when it moves.
    pub async fn check(
        &mut self,
        pool: &SqlitePool,
        rules: &AlertRules,
        (host_id, serial): (i64, &str),
        stuck: Option<&str>,
        now: i64,
    ) -> Result<(), DbError> {
        let key = (host_id, AlertKind::BurninStuck, serial);
        match stuck {
            Some(detail) => {
                let recent = self.last_firing.is_some_and(|at| now - at < REPEAT_SECS);
                if self.open == Some(true) && recent {
                    return Ok(());
                }
                let message = format!("{serial}: the burn-in makes no progress: {detail}");
                check(pool, rules, key, Some((Severity::Warning, message)), now).await?;
                self.open = Some(true);
                self.last_firing = Some(now);
            }
            None => {
                if self.open == Some(false) {
                    return Ok(());
                }
                clear(pool, rules, key, now).await?;
                self.open = Some(has_alert(pool, key).await?);
                self.last_firing = None;
            }
        }
        Ok(())
    }
}

/// A job ended: its stuck alert, if any, is over with it.
pub async fn job_over(
    pool: &SqlitePool,
    (host_id, serial): (i64, &str),
    job_id: i64,
    now: i64,
) -> Result<(), DbError> {
    let note = format!("burn-in job {job_id} ended");
    resolve_open(pool, (host_id, AlertKind::BurninStuck, serial), &note, now).await
}

/// A cancel, as the engine took it.
pub struct Cancel<'a> {
    pub job_id: i64,
    pub host_id: i64,
    pub serial: &'a str,
    /// Who started the job (the operator on record).
    pub started_by: &'a str,
    /// Who cancelled it.
    pub cancelled_by: &'a str,
}

/// `burnin_cancelled`: a job cancelled by someone other than who started it (an event).
pub async fn cancelled(
    pool: &SqlitePool,
    rules: &AlertRules,
    cancel: Cancel<'_>,
    now: i64,
) -> Result<(), DbError> {
    if !burnin::alert::cancelled_by_someone_else(cancel.started_by, cancel.cancelled_by) {
        return Ok(());
    }
    let message = format!(
        "{}: burn-in job {} started by {} was cancelled by {}",
        cancel.serial,
        cancel.job_id,
        burnin::access::actor_name(cancel.started_by),
        burnin::access::actor_name(cancel.cancelled_by)
    );
    let key = (cancel.host_id, AlertKind::BurninCancelled, cancel.serial);
    check(pool, rules, key, Some((Severity::Warning, message)), now).await?;
    Ok(())
}

/// `temperature_high`: the drives of a host as their temperatures were just stored, against
/// their kinds' limits in `table`.
pub async fn temperatures(
    pool: &SqlitePool,
    rules: &AlertRules,
    host_id: i64,
    drives: &[burnin::DriveRow],
    table: &burnin::TemperatureTable,
    now: i64,
) -> Result<(), DbError> {
    let open = subjects(pool, host_id, AlertKind::TemperatureHigh).await?;
    for drive in drives {
        let key = (host_id, AlertKind::TemperatureHigh, drive.serial.as_str());
        if drive.state == burnin::DriveState::Absent {
            // Gone from the host: not hot any more, wherever it is.
            if open.contains(&drive.serial) {
                crate::alerts::observe(pool, rules, key, Seen::Clear, now).await?;
            }
            continue;
        }
        // No reading is no evidence either way.
        let Some(celsius) = drive.temperature_c else { continue };
        let limits = table.for_kind(drive.kind);
        match burnin::alert::temperature(&limits, celsius) {
            Some(severity) => {
                let message = format!(
                    "{} ({}) is at {celsius:.0} °C, at or above its limit of {:.0} °C: check the cooling of its bay",
                    drive.serial,
                    drive.devname,
                    if severity == Severity::Critical { limits.fail_c } else { limits.crit_c }
                );
                crate::alerts::observe(pool, rules, key, Seen::Firing { severity, message }, now)
                    .await?;
            }
            None if open.contains(&drive.serial) => {
                crate::alerts::observe(pool, rules, key, Seen::Clear, now).await?;
            }
            None => {}
        }
    }
    Ok(())
}

/// `smart_failed` and `counter_rising`: a SMART reading of a drive no burn-in runs on, and
/// the reading before it (if one is stored).
pub async fn smart_reading(
    pool: &SqlitePool,
    rules: &AlertRules,
    (host_id, serial): (i64, &str),
    previous: Option<&burnin::smart::SmartReport>,
    current: &burnin::smart::SmartReport,
    now: i64,
) -> Result<(), DbError> {
    let failed = burnin::alert::smart_health(current.health).map(|severity| {
        (severity, format!("{serial}: the drive's own SMART overall-health assessment says FAILED"))
    });
    check(pool, rules, (host_id, AlertKind::SmartFailed, serial), failed, now).await?;
    let Some(previous) = previous else { return Ok(()) };
    let rising = burnin::alert::counters_rising(previous, current).map(|(severity, rises)| {
        let named: Vec<String> =
            rises.iter().map(|r| format!("{} {} → {}", r.name, r.before, r.after)).collect();
        (
            severity,
            format!("{serial}: SMART counters rose with no burn-in running: {}", named.join(", ")),
        )
    });
    check(pool, rules, (host_id, AlertKind::CounterRising, serial), rising, now).await?;
    Ok(())
}

/// Whether an SSH error means the host's SSH cannot be used at all (as opposed to one command
/// going wrong): no connection, a refused login, an unknown or changed host key, unusable
/// credentials, or no answer in time.
pub fn ssh_cannot_connect(error: &crate::engine::nas::NasError) -> bool {
    use crate::ssh::SshError;
    matches!(
        error,
        crate::engine::nas::NasError::Ssh(
            SshError::Unreachable { .. }
                | SshError::Timeout { .. }
                | SshError::HostKeyUnknown { .. }
                | SshError::HostKeyChanged { .. }
                | SshError::AuthFailed { .. }
                | SshError::BadKey(_)
                | SshError::NoCredentials
        )
    )
}

/// `ssh_unreachable`: one round of SSH use of a host; `failing` holds why it could not be
/// used, `None` when it worked.
pub async fn ssh(
    pool: &SqlitePool,
    rules: &AlertRules,
    (host_id, host_name): (i64, &str),
    failing: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    let firing =
        failing.map(|why| (Severity::Warning, format!("{host_name}: SSH cannot be used: {why}")));
    check(pool, rules, (host_id, AlertKind::SshUnreachable, ""), firing, now).await?;
    Ok(())
}

/// `api_auth_failing`: one attempt to sign in to a host's API; `failing` holds the refusal,
/// `None` when it signed in.
pub async fn api_auth(
    pool: &SqlitePool,
    rules: &AlertRules,
    (host_id, host_name): (i64, &str),
    failing: Option<&str>,
    now: i64,
) -> Result<(), DbError> {
    let firing = failing.map(|why| {
        (Severity::Critical, format!("{host_name}: the TrueNAS API refuses the API key: {why}"))
    });
    check(pool, rules, (host_id, AlertKind::ApiAuthFailing, ""), firing, now).await?;
    Ok(())
}

/// `pool_degraded` and `pool_usage`: the pools a host's API just listed. A pool no longer
/// listed (exported, destroyed) is clear.
pub async fn pools(
    pool: &SqlitePool,
    rules: &AlertRules,
    host_id: i64,
    pools: &[crate::inventory::report::PoolFacts],
    now: i64,
) -> Result<(), DbError> {
    for facts in pools {
        let name = facts.name.as_str();
        let status = facts.status.as_deref().unwrap_or("");
        let degraded = burnin::alert::pool_status(status)
            .map(|severity| (severity, format!("pool {name} is {status}")));
        check(pool, rules, (host_id, AlertKind::PoolDegraded, name), degraded, now).await?;
        // A pool whose size is not reported says nothing about its usage.
        if let (Some(size), Some(allocated)) = (facts.size, facts.allocated) {
            let usage = rules.pool_usage(allocated, size).map(|severity| {
                (
                    severity,
                    format!(
                        "pool {name} is {:.0} % full ({} of {})",
                        allocated as f64 * 100.0 / size.max(1) as f64,
                        burnin::format::capacity(allocated),
                        burnin::format::capacity(size)
                    ),
                )
            });
            check(pool, rules, (host_id, AlertKind::PoolUsage, name), usage, now).await?;
        }
    }
    let listed: HashSet<&str> = pools.iter().map(|p| p.name.as_str()).collect();
    for kind in [AlertKind::PoolDegraded, AlertKind::PoolUsage] {
        for subject in subjects(pool, host_id, kind).await? {
            if !listed.contains(subject.as_str()) {
                crate::alerts::observe(pool, rules, (host_id, kind, &subject), Seen::Clear, now)
                    .await?;
            }
        }
    }
    Ok(())
}
