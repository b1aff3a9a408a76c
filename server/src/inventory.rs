//! Inventory: hosts and the drives they report. Owns the `hosts` and `drives` tables.

use burnin::{DriveFilter, DriveKind, DriveRow, DriveState, PoolMembership, SmartHealth};
use sqlx::{FromRow, SqlitePool};

use crate::db::DbError;

#[derive(FromRow)]
struct DriveRecord {
    id: i64,
    host_id: i64,
    host_name: String,
    devname: String,
    serial: String,
    model: String,
    size_bytes: i64,
    kind: String,
    temperature_c: Option<f64>,
    smart_health: String,
    pool_kind: String,
    pool_name: Option<String>,
    state: String,
    location: String,
    notes: String,
}

impl DriveRecord {
    fn into_row(self) -> DriveRow {
        let pool_name = self.pool_name.unwrap_or_default();
        let pool = match self.pool_kind.as_str() {
            "free" => PoolMembership::Free,
            "pool" => PoolMembership::Pool { name: pool_name },
            "exported_pool" => PoolMembership::ExportedPool { name: pool_name },
            "boot" => PoolMembership::Boot,
            _ => PoolMembership::Unknown,
        };
        DriveRow {
            id: self.id,
            host_id: self.host_id,
            host_name: self.host_name,
            devname: self.devname,
            serial: self.serial,
            model: self.model,
            size_bytes: u64::try_from(self.size_bytes).unwrap_or(0),
            kind: DriveKind::parse(&self.kind),
            temperature_c: self.temperature_c,
            smart_health: SmartHealth::parse(&self.smart_health),
            pool,
            // A CHECK constraint keeps the column to known values; `Absent` is the safe reading
            // of anything else, since it offers no actions.
            state: DriveState::parse(&self.state).unwrap_or(DriveState::Absent),
            location: self.location,
            notes: self.notes,
        }
    }
}

/// Drives matching `filter`, ordered by host then device name.
pub async fn list_drives(
    pool: &SqlitePool,
    filter: &DriveFilter,
) -> Result<Vec<DriveRow>, DbError> {
    let records: Vec<DriveRecord> = sqlx::query_as(
        "SELECT d.id, d.host_id, h.name AS host_name, d.devname, d.serial, d.model, d.size_bytes,
                d.kind, d.temperature_c, d.smart_health, d.pool_kind, d.pool_name, d.state,
                d.location, d.notes
           FROM drives d JOIN hosts h ON h.id = d.host_id
          WHERE ($1 IS NULL OR d.host_id = $1)
            AND ($2 IS NULL OR d.state = $2)
          ORDER BY h.name, d.devname, d.serial",
    )
    .bind(filter.host_id)
    .bind(filter.state.map(DriveState::as_str))
    .fetch_all(pool)
    .await?;
    // The text search is the same function the browser runs, so the API and the page agree.
    Ok(records.into_iter().map(DriveRecord::into_row).filter(|row| filter.matches(row)).collect())
}
