//! The audit log: who did what to which host or drive, and when. Owns `audit_events`.
//! Written in the same transaction as the change where one exists, so the log never claims a
//! change that did not happen, nor misses one that did.

use serde_json::Value;
use sqlx::{Executor, Sqlite};

use crate::db::DbError;

tokio::task_local! {
    /// The client address of the request being served, set by the gate around each request:
    /// every event a request causes records where it came from. Background work has none.
    pub static CLIENT: std::net::IpAddr;
}

/// Records one event. `actor` is the operator's name (or `system` for the server's own
/// actions); `detail` must never contain secrets.
pub async fn record<'e>(
    executor: impl Executor<'e, Database = Sqlite>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &Value,
) -> Result<(), DbError> {
    let address = CLIENT.try_with(|a| a.to_string()).unwrap_or_default();
    let (job_id, drive_id) = about(detail);
    // An event about a job is also about its drive, even when the detail names only the job.
    sqlx::query(
        "INSERT INTO audit_events (actor, action, subject, detail, address, job_id, drive_id)
         VALUES ($1, $2, $3, $4, $5, $6,
                 COALESCE($7, (SELECT drive_id FROM jobs WHERE id = $6)))",
    )
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(detail.to_string())
    .bind(&address)
    .bind(job_id)
    .bind(drive_id)
    .execute(executor)
    .await?;
    tracing::info!(audit.actor = %actor, audit.action = %action, audit.subject = %subject, audit.address = %address, "audit event");
    Ok(())
}

/// The job and the drive an event's detail names: `job_id`, and `drive_id` or a one-drive
/// `drive_ids`. The same rule as the migration that filled these columns for older events.
fn about(detail: &Value) -> (Option<i64>, Option<i64>) {
    let job = detail.get("job_id").and_then(Value::as_i64);
    let drive = detail.get("drive_id").and_then(Value::as_i64).or_else(|| {
        match detail.get("drive_ids").and_then(Value::as_array).map(Vec::as_slice) {
            Some([only]) => only.as_i64(),
            _ => None,
        }
    });
    (job, drive)
}

/// One page of the audit log, newest first: the events matching `query` and the cursor of the
/// next page when there is one. Reads only: nothing edits or deletes an event.
pub async fn list(
    pool: &sqlx::SqlitePool,
    query: &burnin::history::AuditQuery,
) -> Result<(Vec<burnin::history::AuditEvent>, Option<burnin::history::Cursor>), DbError> {
    use burnin::history::{ActionMatch, AuditEvent, Cursor};
    let limit = i64::from(query.limit.max(1));
    let filter = &query.filter;
    let mut sql = sqlx::QueryBuilder::<Sqlite>::new(
        "SELECT id, at, actor, action, subject, address, detail FROM audit_events WHERE 1 = 1",
    );
    if let Some(actor) = &filter.actor {
        // The person: `ann` is `ann`, `ann (token #3)` and `ann (sso)`.
        sql.push(" AND (actor = ")
            .push_bind(actor.clone())
            .push(" OR substr(actor, 1, length(")
            .push_bind(actor.clone())
            .push(") + 1) = ")
            .push_bind(actor.clone())
            .push(" || ' ')");
    }
    match &filter.action {
        Some(ActionMatch::Exact(action)) => {
            sql.push(" AND action = ").push_bind(action.clone());
        }
        Some(ActionMatch::Prefix(prefix)) => {
            sql.push(" AND substr(action, 1, length(")
                .push_bind(prefix.clone())
                .push(")) = ")
                .push_bind(prefix.clone());
        }
        None => {}
    }
    if let Some(subject) = &filter.subject {
        sql.push(" AND instr(lower(subject), lower(").push_bind(subject.clone()).push(")) > 0");
    }
    if let Some(from) = &filter.from {
        sql.push(" AND at >= ").push_bind(from.clone());
    }
    if let Some(to) = &filter.to {
        sql.push(" AND at < ").push_bind(to.clone());
    }
    if let Some(cursor) = &query.cursor {
        sql.push(" AND id < ").push_bind(cursor.id);
    }
    sql.push(" ORDER BY id DESC LIMIT ").push_bind(limit + 1);
    let mut rows: Vec<(i64, String, String, String, String, String, String)> =
        sql.build_query_as().fetch_all(pool).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|row| Cursor {
            sort: burnin::history::AUDIT_SORT.to_owned(),
            value: String::new(),
            id: row.0,
        })
    } else {
        None
    };
    let events = rows
        .into_iter()
        .map(|(id, at, actor, action, subject, address, detail)| AuditEvent {
            id,
            at,
            actor,
            action,
            subject,
            address,
            // Written by `record` from a JSON value; text that is not JSON shows as a string.
            detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
        })
        .collect();
    Ok((events, next))
}

/// Every event about one job, oldest first (an indexed column, not a scan of the details).
pub async fn of_job(
    pool: &sqlx::SqlitePool,
    job_id: i64,
) -> Result<Vec<burnin::history::AuditEvent>, DbError> {
    let rows: Vec<(i64, String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT id, at, actor, action, subject, address, detail FROM audit_events \
         WHERE job_id = $1 ORDER BY id",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, at, actor, action, subject, address, detail)| burnin::history::AuditEvent {
            id,
            at,
            actor,
            action,
            subject,
            address,
            detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
        })
        .collect())
}
