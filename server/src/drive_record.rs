//! A drive's record by serial (`burnin::drive_record`): its rows on every host (archived ones
//! too), its burn-ins with their SMART captures, and the audit log's location edits. Reads
//! only.

use burnin::access::{Action, Principal};
use burnin::drive_record::{DriveSource, MAX_JOBS, MAX_PLACES, Reading, Run, Sighting, Sources};
use burnin::history::AuditEvent;
use burnin_app::AppError;
use serde_json::Value;
use sqlx::SqlitePool;

use crate::{db::DbError, engine::store, inventory, service::Services};

/// The most location and notes edits read; a drive is moved a handful of times.
const MAX_EDITS: i64 = 500;

impl Services {
    pub async fn drive_record(
        &self,
        caller: &Principal,
        serial: &str,
    ) -> Result<burnin::drive_record::DriveRecord, AppError> {
        crate::service::allow(caller, Action::View)?;
        let serial = serial.trim();
        if serial.is_empty() {
            return Err(AppError::bad_request(
                "a drive's address is /drives/ and its serial number, e.g. /drives/ZA1B2C3D",
            ));
        }
        let pool = self.db.pool();
        let drives = drives(pool, serial).await?;
        if drives.is_empty() {
            return Err(AppError::not_found(format!(
                "no drive with serial {serial} is recorded on any host, archived ones included; \
                 the dashboard (/) lists the drives in service and the history (/history) every \
                 drive burned in. Serials are matched exactly, letter case included"
            )));
        }
        let sightings = sightings(pool, serial).await?;
        let jobs_total = job_count(pool, serial).await?;
        let mut runs = Vec::new();
        for id in job_ids(pool, serial).await? {
            // Deleted between the two reads: it is simply no longer part of the record.
            let Some(job) = store::view(pool, id).await? else { continue };
            runs.push(Run {
                before: reading(pool, id, "before").await?,
                after: reading(pool, id, "after").await?,
                job,
            });
        }
        let audit = edits(pool, serial).await?;
        tracing::debug!(
            drive.serial = %serial,
            drive.rows = drives.len(),
            drive.places = sightings.len(),
            drive.jobs = runs.len(),
            drive.jobs_total = jobs_total,
            "read a drive's record"
        );
        Ok(burnin::drive_record::build(Sources {
            serial: serial.to_owned(),
            drives,
            sightings,
            runs,
            jobs_total,
            audit,
        }))
    }
}

/// Every row recorded under `serial`, whatever its host's state.
async fn drives(pool: &SqlitePool, serial: &str) -> Result<Vec<DriveSource>, AppError> {
    let rows: Vec<(i64, bool)> = sqlx::query_as(
        "SELECT d.id, h.archived_at IS NOT NULL FROM drives d JOIN hosts h ON h.id = d.host_id
          WHERE d.serial = $1 ORDER BY d.id",
    )
    .bind(serial)
    .fetch_all(pool)
    .await
    .map_err(DbError::from)?;
    let mut drives = Vec::with_capacity(rows.len());
    for (id, host_archived) in rows {
        let Some(row) = inventory::get_drive(pool, id).await? else { continue };
        let latest = store::drive_smart(pool, id)
            .await?
            .and_then(|(raw, at)| parse(&raw, at, &format!("drive {id}'s latest reading")));
        drives.push(DriveSource { row, host_archived, latest });
    }
    Ok(drives)
}

/// The newest [`MAX_PLACES`] places the inventory recorded for the serial's rows
/// (`drive_places`).
async fn sightings(pool: &SqlitePool, serial: &str) -> Result<Vec<Sighting>, AppError> {
    // id, drive, host name, host archived, device name, bay, first and last seen.
    type PlaceRow = (i64, i64, String, bool, String, Option<i64>, String, String);
    let rows: Vec<PlaceRow> = sqlx::query_as(
        "SELECT p.id, p.drive_id, h.name, h.archived_at IS NOT NULL, p.devname, p.slot,
                p.first_seen_at, p.last_seen_at
           FROM drive_places p JOIN drives d ON d.id = p.drive_id JOIN hosts h ON h.id = p.host_id
          WHERE d.serial = $1 ORDER BY p.id DESC LIMIT $2",
    )
    .bind(serial)
    .bind(i64::try_from(MAX_PLACES).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .map_err(DbError::from)?;
    Ok(rows
        .into_iter()
        .map(|(id, drive_id, host_name, host_archived, devname, slot, first_seen, last_seen)| {
            Sighting {
                id,
                drive_id,
                host_name,
                host_archived,
                devname,
                slot: slot.and_then(|s| u32::try_from(s).ok()),
                first_seen,
                last_seen,
            }
        })
        .collect())
}

async fn job_count(pool: &SqlitePool, serial: &str) -> Result<usize, AppError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs j JOIN drives d ON d.id = j.drive_id WHERE d.serial = $1",
    )
    .bind(serial)
    .fetch_one(pool)
    .await
    .map_err(DbError::from)?;
    Ok(usize::try_from(count).unwrap_or(0))
}

/// The newest [`MAX_JOBS`] burn-ins of the serial, on any of its rows.
async fn job_ids(pool: &SqlitePool, serial: &str) -> Result<Vec<i64>, AppError> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT j.id FROM jobs j JOIN drives d ON d.id = j.drive_id
          WHERE d.serial = $1 ORDER BY j.id DESC LIMIT $2",
    )
    .bind(serial)
    .bind(i64::try_from(MAX_JOBS).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .map_err(DbError::from)?;
    Ok(ids)
}

/// A job's newest capture of `kind` (`before`, `after`), parsed.
async fn reading(pool: &SqlitePool, job_id: i64, kind: &str) -> Result<Option<Reading>, AppError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT taken_at, raw_json FROM smart_snapshots WHERE job_id = $1 AND kind = $2
          ORDER BY id DESC LIMIT 1",
    )
    .bind(job_id)
    .bind(kind)
    .fetch_optional(pool)
    .await
    .map_err(DbError::from)?;
    Ok(row.and_then(|(at, raw)| parse(&raw, at, &format!("job {job_id}'s {kind} capture"))))
}

/// A stored capture that does not parse is left out of the record (and logged), not an error:
/// the rest of the drive's record still stands.
fn parse(raw: &str, at: String, what: &str) -> Option<Reading> {
    match burnin::smart::parse_smartctl_json(raw.as_bytes()) {
        Ok(report) => Some(Reading { at, report }),
        Err(error) => {
            tracing::warn!(smart.capture = %what, error = %error, "a stored SMART capture does not parse; left out of the drive's record");
            None
        }
    }
}

/// The audit log's edits of the serial's rows, oldest first.
async fn edits(pool: &SqlitePool, serial: &str) -> Result<Vec<AuditEvent>, AppError> {
    let rows: Vec<(i64, String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT id, at, actor, action, subject, address, detail FROM audit_events
          WHERE action = $1 AND subject = $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(burnin::drive_record::EDIT_ACTION)
    .bind(serial)
    .bind(MAX_EDITS)
    .fetch_all(pool)
    .await
    .map_err(DbError::from)?;
    Ok(rows
        .into_iter()
        .rev()
        .map(|(id, at, actor, action, subject, address, detail)| AuditEvent {
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
