//! The audit log: who did what to which host or drive, and when. Owns `audit_events`.
//! Written in the same transaction as the change where one exists, so the log never claims a
//! change that did not happen, nor misses one that did.

use serde_json::Value;
use sqlx::{Executor, Sqlite};

use crate::db::DbError;

/// Records one event. `actor` is the operator's name (or `system` for the server's own
/// actions); `detail` must never contain secrets.
pub async fn record<'e>(
    executor: impl Executor<'e, Database = Sqlite>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &Value,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO audit_events (actor, action, subject, detail) VALUES ($1, $2, $3, $4)",
    )
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(detail.to_string())
    .execute(executor)
    .await?;
    tracing::info!(audit.actor = %actor, audit.action = %action, audit.subject = %subject, "audit event");
    Ok(())
}
