//! Run-time settings kept in the `settings` table: for now the verdict's thresholds.

use burnin::verdict::Thresholds;
use sqlx::SqlitePool;

use crate::db::DbError;

const VERDICT: &str = "verdict.thresholds";

/// The thresholds in force: the stored ones, or the defaults when none (or unreadable ones,
/// which are logged) are stored.
pub async fn verdict_thresholds(pool: &SqlitePool) -> Result<Thresholds, DbError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE key = $1")
        .bind(VERDICT)
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        None => Thresholds::default(),
        Some((json,)) => match serde_json::from_str::<Thresholds>(&json) {
            Ok(thresholds) if thresholds.validate().is_ok() => thresholds,
            _ => {
                tracing::warn!(
                    settings.key = VERDICT,
                    "stored verdict thresholds are unreadable; using the defaults"
                );
                Thresholds::default()
            }
        },
    })
}

/// Stores new thresholds (validated by the caller) and audits the change.
pub async fn set_verdict_thresholds(
    pool: &SqlitePool,
    thresholds: &Thresholds,
    actor: &str,
) -> Result<(), DbError> {
    let json = serde_json::to_string(thresholds).unwrap_or_default();
    let mut tx = crate::db::begin_write(pool).await?;
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(VERDICT)
    .bind(&json)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(&mut *tx, actor, "settings.verdict", "", &serde_json::json!(thresholds))
        .await?;
    tx.commit().await?;
    Ok(())
}
