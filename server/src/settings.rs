//! Run-time settings kept in the `settings` table (their rules are `burnin::settings`), and
//! the shared handle every part of the server reads them from.

use burnin::{settings::Settings, verdict::Thresholds};
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

const RUNTIME: &str = "runtime.settings";

/// The settings in force, shared: every reader asks it at the moment of use, so a saved
/// change takes effect without a restart.
#[derive(Clone, Debug)]
pub struct Live {
    sender: std::sync::Arc<tokio::sync::watch::Sender<Settings>>,
}

impl Default for Live {
    fn default() -> Live {
        Live::new(Settings::default())
    }
}

impl Live {
    pub fn new(settings: Settings) -> Live {
        Live { sender: std::sync::Arc::new(tokio::sync::watch::channel(settings).0) }
    }

    /// The settings now.
    pub fn get(&self) -> Settings {
        self.sender.borrow().clone()
    }

    /// Reads one value without copying the whole.
    pub fn read<T>(&self, f: impl FnOnce(&Settings) -> T) -> T {
        f(&self.sender.borrow())
    }

    /// Moves on whenever the settings change.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Settings> {
        self.sender.subscribe()
    }

    fn set(&self, settings: Settings) {
        self.sender.send_replace(settings);
    }
}

/// The stored settings laid over `first` (the flags' values): a setting never saved keeps
/// its flag's value, and a stored value that no longer reads is logged and skipped.
pub async fn load(pool: &SqlitePool, first: Settings) -> Result<Settings, DbError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE key = $1")
        .bind(RUNTIME)
        .fetch_optional(pool)
        .await?;
    let mut settings = first;
    if let Some((json,)) = row {
        match serde_json::from_str::<serde_json::Value>(&json) {
            Ok(serde_json::Value::Object(stored)) => {
                for (key, value) in stored {
                    let patch = serde_json::json!({ key.clone(): value });
                    match burnin::settings::merge(&settings, &patch) {
                        Ok(merged) => settings = merged,
                        Err(error) => tracing::warn!(
                            settings.key = %key,
                            error = %error,
                            "a stored setting does not read; keeping its flag's value"
                        ),
                    }
                }
            }
            _ => tracing::warn!(
                settings.key = RUNTIME,
                "stored settings are unreadable; using the flags' values"
            ),
        }
    }
    settings.verdict = verdict_thresholds(pool).await?;
    Ok(settings)
}

/// Stores `new` (checked by the caller), audits each changed setting with its old and new
/// value in the same transaction, and puts it in force.
pub async fn save(
    pool: &SqlitePool,
    live: &Live,
    new: Settings,
    actor: &str,
) -> Result<Vec<(String, serde_json::Value, serde_json::Value)>, DbError> {
    let old = live.get();
    let changes = burnin::settings::changes(&old, &new);
    if changes.is_empty() {
        return Ok(changes);
    }
    let mut runtime = serde_json::to_value(&new).unwrap_or_default();
    if let Some(object) = runtime.as_object_mut() {
        object.remove("verdict");
    }
    let mut tx = crate::db::begin_write(pool).await?;
    for (key, value) in [
        (RUNTIME, runtime.to_string()),
        (VERDICT, serde_json::to_string(&new.verdict).unwrap_or_default()),
    ] {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    }
    let detail: Vec<serde_json::Value> = changes
        .iter()
        .map(|(setting, old, new)| serde_json::json!({"setting": setting, "old": old, "new": new}))
        .collect();
    crate::audit::record(
        &mut *tx,
        actor,
        "settings.changed",
        "",
        &serde_json::json!({"changes": detail}),
    )
    .await?;
    tx.commit().await?;
    live.set(new);
    Ok(changes)
}
