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
    sqlx::query(
        "INSERT INTO audit_events (actor, action, subject, detail, address) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(detail.to_string())
    .bind(&address)
    .execute(executor)
    .await?;
    tracing::info!(audit.actor = %actor, audit.action = %action, audit.subject = %subject, audit.address = %address, "audit event");
    Ok(())
}
