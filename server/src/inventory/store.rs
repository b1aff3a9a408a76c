//! The `drives` table.

use std::collections::{BTreeMap, BTreeSet};

use burnin::{DriveFilter, DriveKind, DriveRow, DriveState, PoolMembership, SmartHealth};
use serde_json::json;
use sqlx::{FromRow, SqlitePool};

use super::Reported;
use crate::{audit, db::DbError};

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
    last_seen_at: Option<String>,
    job_id: Option<i64>,
    job_state: Option<String>,
    job_percent: Option<f64>,
    job_eta: Option<f64>,
    job_stage: Option<String>,
    job_stage_percent: Option<f64>,
    job_stuck: Option<bool>,
    job_bad_blocks: Option<i64>,
    job_stopping: Option<bool>,
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
            seen_at: self.last_seen_at,
            progress: match (
                self.job_id,
                self.job_state.as_deref().and_then(burnin::job::JobState::parse),
            ) {
                (Some(job_id), Some(state)) => Some(burnin::job::JobProgress {
                    job_id,
                    state,
                    stage: self.job_stage.as_deref().and_then(burnin::job::StageKind::parse),
                    percent: self.job_percent.unwrap_or(0.0),
                    stage_percent: self.job_stage_percent,
                    eta_seconds: self.job_eta,
                    stuck: self.job_stuck.unwrap_or(false),
                    bad_blocks: u64::try_from(self.job_bad_blocks.unwrap_or(0)).unwrap_or(0),
                    stopping: self.job_stopping.unwrap_or(false) && state.is_active(),
                }),
                _ => None,
            },
        }
    }
}

const SELECT: &str =
    "SELECT d.id, d.host_id, h.name AS host_name, d.devname, d.serial, d.model, d.size_bytes,
        d.kind, d.temperature_c, d.smart_health, d.pool_kind, d.pool_name, d.state,
        d.location, d.notes, d.last_seen_at,
        j.id AS job_id, j.state AS job_state, j.percent AS job_percent, j.eta_seconds AS job_eta,
        j.current_stage AS job_stage, j.stage_percent AS job_stage_percent, j.stuck AS job_stuck,
        j.bad_blocks AS job_bad_blocks, j.cancel_requested AS job_stopping
   FROM drives d JOIN hosts h ON h.id = d.host_id
   LEFT JOIN jobs j ON j.id = (SELECT MAX(id) FROM jobs WHERE drive_id = d.id)";

/// Drives of hosts in service matching `filter`, in `burnin::natural_order` (the table's
/// order). Drives of an archived host stay in the database, with its record, but are not
/// listed.
pub async fn list_drives(
    pool: &SqlitePool,
    filter: &DriveFilter,
) -> Result<Vec<DriveRow>, DbError> {
    let records: Vec<DriveRecord> = sqlx::query_as(&format!(
        "{SELECT}
          WHERE ($1 IS NULL OR d.host_id = $1)
            AND ($2 IS NULL OR d.state = $2)
            AND h.archived_at IS NULL"
    ))
    .bind(filter.host_id)
    .bind(filter.state.map(DriveState::as_str))
    .fetch_all(pool)
    .await?;
    // The text search is the same function the browser runs, so the API and the page agree.
    let mut rows: Vec<DriveRow> =
        records.into_iter().map(DriveRecord::into_row).filter(|row| filter.matches(row)).collect();
    rows.sort_by(burnin::natural_order);
    Ok(rows)
}

/// Every drive recorded for a host, archived or not (its record).
pub async fn drives_of_host(pool: &SqlitePool, host_id: i64) -> Result<Vec<DriveRow>, DbError> {
    let records: Vec<DriveRecord> = sqlx::query_as(&format!("{SELECT} WHERE d.host_id = $1"))
        .bind(host_id)
        .fetch_all(pool)
        .await?;
    let mut rows: Vec<DriveRow> = records.into_iter().map(DriveRecord::into_row).collect();
    rows.sort_by(burnin::natural_order);
    Ok(rows)
}

/// The drive's recorded world wide name (LUN id), empty when it has none.
pub async fn lunid_of(pool: &SqlitePool, id: i64) -> Result<String, DbError> {
    Ok(sqlx::query_scalar("SELECT lunid FROM drives WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .unwrap_or_default())
}

pub async fn get_drive(pool: &SqlitePool, id: i64) -> Result<Option<DriveRow>, DbError> {
    let record: Option<DriveRecord> =
        sqlx::query_as(&format!("{SELECT} WHERE d.id = $1")).bind(id).fetch_optional(pool).await?;
    Ok(record.map(DriveRecord::into_row))
}

fn pool_columns(pool: &PoolMembership) -> (&'static str, Option<&str>) {
    match pool {
        PoolMembership::Free => ("free", None),
        PoolMembership::Pool { name } => ("pool", Some(name)),
        PoolMembership::ExportedPool { name } => ("exported_pool", Some(name)),
        PoolMembership::Boot => ("boot", None),
        PoolMembership::Unknown => ("unknown", None),
    }
}

fn kind_column(kind: DriveKind) -> &'static str {
    match kind {
        DriveKind::Hdd => "HDD",
        DriveKind::Ssd => "SSD",
        DriveKind::Nvme => "NVME",
        DriveKind::Unknown => "UNKNOWN",
    }
}

/// Writes what a host reported: known drives are updated (and follow their new device name
/// or host), new ones inserted, and this host's drives it no longer reports marked absent.
/// Returns the ids of every drive whose row was touched, for publishing.
pub async fn apply_report(
    pool: &SqlitePool,
    host_id: i64,
    reported: &[Reported],
) -> Result<Vec<i64>, DbError> {
    let mut tx = crate::db::begin_write(pool).await?;
    let mut present = BTreeSet::new();
    // Drives this report brings back from absent: they open a new place even in their old bay,
    // since where they were meanwhile is not known.
    let mut returned = BTreeSet::new();
    for drive in reported {
        let (pool_kind, pool_name) = pool_columns(&drive.pool);
        let existing: Option<(i64, String)> =
            sqlx::query_as("SELECT id, state FROM drives WHERE serial = $1 AND lunid = $2")
                .bind(&drive.serial)
                .bind(&drive.lunid)
                .fetch_optional(&mut *tx)
                .await?;
        let id = match existing {
            Some((id, state)) => {
                if state == "absent" {
                    returned.insert(id);
                }
                sqlx::query(
                    "UPDATE drives SET host_id = $2, devname = $3, model = $4, size_bytes = $5, kind = $6,
                            pool_kind = $7, pool_name = $8, identifier = $9, rotation_rpm = $10, bus = $11,
                            -- A poll without bays keeps the last known for the drive where
                            -- it was; under another name or host the old bay means nothing.
                            slot = CASE WHEN host_id = $2 AND devname = $3 THEN COALESCE($12, slot) ELSE $12 END,
                            state = CASE WHEN state = 'absent' THEN 'idle' ELSE state END,
                            last_seen_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                            updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                      WHERE id = $1",
                )
                .bind(id)
                .bind(host_id)
                .bind(&drive.devname)
                .bind(&drive.model)
                .bind(i64::try_from(drive.size_bytes).unwrap_or(i64::MAX))
                .bind(kind_column(drive.kind))
                .bind(pool_kind)
                .bind(pool_name)
                .bind(&drive.identifier)
                .bind(drive.rotation_rpm.map(i64::from))
                .bind(&drive.bus)
                .bind(drive.slot.map(i64::from))
                .execute(&mut *tx)
                .await?;
                id
            }
            None => sqlx::query(
                "INSERT INTO drives (host_id, serial, lunid, devname, model, size_bytes, kind, pool_kind,
                                     pool_name, identifier, rotation_rpm, bus, slot, last_seen_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                         strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            )
            .bind(host_id)
            .bind(&drive.serial)
            .bind(&drive.lunid)
            .bind(&drive.devname)
            .bind(&drive.model)
            .bind(i64::try_from(drive.size_bytes).unwrap_or(i64::MAX))
            .bind(kind_column(drive.kind))
            .bind(pool_kind)
            .bind(pool_name)
            .bind(&drive.identifier)
            .bind(drive.rotation_rpm.map(i64::from))
            .bind(&drive.bus)
            .bind(drive.slot.map(i64::from))
            .execute(&mut *tx)
            .await?
            .last_insert_rowid(),
        };
        present.insert(id);
    }
    // Once per drive, after every entry is written: a report that lists a drive twice (two
    // paths to one disk) leaves one place, not a new one each poll.
    for id in &present {
        record_place(&mut tx, *id, returned.contains(id)).await?;
    }
    let previous: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM drives WHERE host_id = $1 AND state != 'absent'")
            .bind(host_id)
            .fetch_all(&mut *tx)
            .await?;
    let mut touched: Vec<i64> = present.iter().copied().collect();
    for (id,) in previous {
        if !present.contains(&id) {
            // Gone from its host: keep the row and its history; nothing about it is guessed.
            sqlx::query("UPDATE drives SET state = 'absent', temperature_c = NULL WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            touched.push(id);
        }
    }
    tx.commit().await?;
    Ok(touched)
}

/// Extends the drive's newest place while it sits where it sat (the row's host, device name
/// and bay, as just written) and opens a new one when any of them changed, so a move is
/// recorded, not overwritten. A drive `returned` from absent opens a new place in any case.
async fn record_place(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    drive_id: i64,
    returned: bool,
) -> Result<(), DbError> {
    let extended = if returned {
        0
    } else {
        sqlx::query(
            "UPDATE drive_places SET last_seen_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
              WHERE id = (SELECT MAX(id) FROM drive_places WHERE drive_id = $1)
                AND EXISTS (SELECT 1 FROM drives d WHERE d.id = $1 AND d.host_id = drive_places.host_id
                               AND d.devname = drive_places.devname AND d.slot IS drive_places.slot)",
        )
        .bind(drive_id)
        .execute(&mut **tx)
        .await?
        .rows_affected()
    };
    if extended == 0 {
        sqlx::query(
            "INSERT INTO drive_places (drive_id, host_id, devname, slot, first_seen_at, last_seen_at)
             SELECT id, host_id, devname, slot, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                    strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
               FROM drives WHERE id = $1",
        )
        .bind(drive_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Stores temperatures by device name for one host's present drives; returns the ids
/// whose value changed.
pub async fn set_temperatures(
    pool: &SqlitePool,
    host_id: i64,
    temperatures: &BTreeMap<String, Option<f64>>,
) -> Result<Vec<i64>, DbError> {
    let mut changed = Vec::new();
    let mut tx = crate::db::begin_write(pool).await?;
    for (devname, celsius) in temperatures {
        let row: Option<(i64, Option<f64>, Option<String>, bool)> = sqlx::query_as(&format!(
            "SELECT id, temperature_c, temperature_source,
                    COALESCE(temperature_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{SMART_TEMPERATURE_KEPT_SECS} seconds'), 0)
             FROM drives WHERE host_id = $1 AND devname = $2 AND state != 'absent'"
        ))
        .bind(host_id)
        .bind(devname)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, current, source, fresh)) = row else { continue };
        // The API has no sensor for this drive (SAS on SCALE 25.10+): a fresh smartctl reading
        // stands; an old one is not shown as if it were current.
        if celsius.is_none() && source.as_deref() == Some("smart") && fresh {
            continue;
        }
        if current != *celsius || (celsius.is_some() && source.as_deref() != Some("api")) {
            sqlx::query(
                "UPDATE drives SET temperature_c = $2, temperature_source = $3, temperature_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = $1",
            )
            .bind(id)
            .bind(celsius)
            .bind(celsius.map(|_| "api"))
            .execute(&mut *tx)
            .await?;
            if current != *celsius {
                changed.push(id);
            }
        }
    }
    tx.commit().await?;
    Ok(changed)
}

/// How long a smartctl temperature stands for a drive the API reports none for: longer than
/// the idle SMART sweep's interval (600 s by default), so the reading does not blink out.
pub const SMART_TEMPERATURE_KEPT_SECS: u64 = 900;

/// Records a temperature smartctl read, for a drive the API gives no temperature for (or none
/// yet). A drive the API reports is left to the API: two sensors must not take turns. Returns
/// whether the shown temperature changed.
pub async fn set_smart_temperature(
    pool: &SqlitePool,
    drive_id: i64,
    celsius: f64,
) -> Result<bool, DbError> {
    // One write transaction: an API reading cannot land between the check and the write.
    let mut tx = crate::db::begin_write(pool).await?;
    let current: Option<Option<f64>> = sqlx::query_scalar(
        "SELECT temperature_c FROM drives WHERE id = $1
         AND NOT (temperature_source IS 'api' AND temperature_c IS NOT NULL)",
    )
    .bind(drive_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(current) = current else { return Ok(false) };
    sqlx::query(
        "UPDATE drives SET temperature_c = $2, temperature_source = 'smart',
         temperature_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = $1",
    )
    .bind(drive_id)
    .bind(celsius)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(current != Some(celsius))
}

/// Sets a drive's location and/or notes, and audits the change. Returns the new row, or
/// `None` when the drive does not exist.
pub async fn update_drive_text(
    pool: &SqlitePool,
    id: i64,
    location: Option<&str>,
    notes: Option<&str>,
    actor: &str,
) -> Result<Option<DriveRow>, DbError> {
    let Some(before) = get_drive(pool, id).await? else { return Ok(None) };
    let mut tx = crate::db::begin_write(pool).await?;
    sqlx::query(
        "UPDATE drives SET location = COALESCE($2, location), notes = COALESCE($3, notes),
                updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = $1",
    )
    .bind(id)
    .bind(location)
    .bind(notes)
    .execute(&mut *tx)
    .await?;
    let mut detail = serde_json::Map::new();
    if let Some(location) = location.filter(|l| *l != before.location) {
        detail.insert("location".into(), json!({"from": before.location, "to": location}));
    }
    if let Some(notes) = notes.filter(|n| *n != before.notes) {
        detail.insert("notes".into(), json!({"from": before.notes, "to": notes}));
    }
    if !detail.is_empty() {
        detail.insert("drive_id".into(), json!(id));
        audit::record(
            &mut *tx,
            actor,
            "drive.edit",
            &before.serial,
            &serde_json::Value::Object(detail),
        )
        .await?;
    }
    tx.commit().await?;
    get_drive(pool, id).await
}
