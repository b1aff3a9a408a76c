//! The `jobs`, `job_stages`, `smart_snapshots` and `temperature_samples` tables.

use burnin::job::{JobState, JobView, StageKind, StageState, StageView};
use sqlx::{FromRow, SqlitePool};

use crate::db::DbError;

#[derive(Clone, Debug, FromRow)]
pub struct JobRecord {
    pub id: i64,
    pub drive_id: i64,
    pub host_id: i64,
    pub state: String,
    pub operator: String,
    pub max_bad_blocks: Option<i64>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub reason: Option<String>,
    pub percent: f64,
    pub eta_seconds: Option<f64>,
    pub cancel_requested: bool,
    pub drive_serial: String,
    pub host_name: String,
}

impl JobRecord {
    pub fn state(&self) -> JobState {
        JobState::parse(&self.state).unwrap_or(JobState::Interrupted)
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct StageRecord {
    pub id: i64,
    pub job_id: i64,
    pub position: i64,
    pub kind: String,
    pub state: String,
    pub percent: Option<f64>,
    pub detail: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub bad_blocks: i64,
    pub bad_block_list: String,
    pub read_errors: i64,
    pub write_errors: i64,
    pub corruption_errors: i64,
    pub throughput_mb_s: Option<f64>,
    pub eta_seconds: Option<f64>,
    pub stuck: bool,
    pub log_tail: String,
    pub remote_dir: Option<String>,
    pub stdout_offset: i64,
    pub stderr_offset: i64,
    pub block_size: Option<i64>,
    pub blocks_at_once: Option<i64>,
    pub parser_state: String,
}

impl StageRecord {
    pub fn kind(&self) -> Option<StageKind> {
        StageKind::parse(&self.kind)
    }

    pub fn state(&self) -> StageState {
        StageState::parse(&self.state).unwrap_or(StageState::Interrupted)
    }

    pub fn view(&self) -> StageView {
        StageView {
            position: u32::try_from(self.position).unwrap_or(0),
            kind: self.kind().unwrap_or(StageKind::Precheck),
            state: self.state(),
            percent: self.percent,
            detail: self.detail.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
            bad_blocks: u64::try_from(self.bad_blocks).unwrap_or(0),
            read_errors: u32::try_from(self.read_errors).unwrap_or(0),
            write_errors: u32::try_from(self.write_errors).unwrap_or(0),
            corruption_errors: u32::try_from(self.corruption_errors).unwrap_or(0),
            throughput_mb_s: self.throughput_mb_s,
            eta_seconds: self.eta_seconds,
            stuck: self.stuck,
            log_tail: self.log_tail.clone(),
            bad_block_list: self
                .bad_block_list
                .split(',')
                .filter_map(|n| n.trim().parse().ok())
                .take(1000)
                .collect(),
            block_size: self.block_size.and_then(|b| u32::try_from(b).ok()),
        }
    }
}

const JOB_SELECT: &str =
    "SELECT j.id, j.drive_id, j.host_id, j.state, j.operator, j.max_bad_blocks, j.created_at,
        j.started_at, j.finished_at, j.reason, j.percent, j.eta_seconds, j.cancel_requested,
        d.serial AS drive_serial, h.name AS host_name
   FROM jobs j JOIN drives d ON d.id = j.drive_id JOIN hosts h ON h.id = j.host_id";

pub async fn job(pool: &SqlitePool, id: i64) -> Result<Option<JobRecord>, DbError> {
    Ok(sqlx::query_as(&format!("{JOB_SELECT} WHERE j.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

pub async fn jobs_in(pool: &SqlitePool, states: &[JobState]) -> Result<Vec<JobRecord>, DbError> {
    let all: Vec<JobRecord> =
        sqlx::query_as(&format!("{JOB_SELECT} ORDER BY j.id")).fetch_all(pool).await?;
    Ok(all.into_iter().filter(|job| states.contains(&job.state())).collect())
}

/// Jobs, newest first, optionally for one drive / in one state.
pub async fn list(
    pool: &SqlitePool,
    drive_id: Option<i64>,
    state: Option<JobState>,
    limit: i64,
) -> Result<Vec<JobRecord>, DbError> {
    Ok(sqlx::query_as(&format!(
        "{JOB_SELECT} WHERE ($1 IS NULL OR j.drive_id = $1) AND ($2 IS NULL OR j.state = $2) ORDER BY j.id DESC LIMIT $3"
    ))
    .bind(drive_id)
    .bind(state.map(JobState::as_str))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

pub async fn stages(pool: &SqlitePool, job_id: i64) -> Result<Vec<StageRecord>, DbError> {
    Ok(sqlx::query_as("SELECT * FROM job_stages WHERE job_id = $1 ORDER BY position")
        .bind(job_id)
        .fetch_all(pool)
        .await?)
}

/// Temperatures of a job, oldest first, thinned evenly to at most `points` (the hottest of
/// each bucket, so a peak is never thinned away).
async fn temperatures(pool: &SqlitePool, job_id: i64, points: usize) -> Result<Vec<f64>, DbError> {
    let rows: Vec<(f64,)> = sqlx::query_as(
        "SELECT celsius FROM temperature_samples WHERE job_id = $1 ORDER BY at, rowid",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await?;
    let all: Vec<f64> = rows.into_iter().map(|(c,)| c).collect();
    if all.len() <= points {
        return Ok(all);
    }
    let size = all.len().div_ceil(points);
    Ok(all.chunks(size).map(|chunk| chunk.iter().copied().fold(f64::MIN, f64::max)).collect())
}

async fn max_temperature(pool: &SqlitePool, job_id: i64) -> Result<Option<f64>, DbError> {
    let row: (Option<f64>,) =
        sqlx::query_as("SELECT MAX(celsius) FROM temperature_samples WHERE job_id = $1")
            .bind(job_id)
            .fetch_one(pool)
            .await?;
    Ok(row.0)
}

/// The verdict from what the job stored: stages, both snapshots, temperatures.
async fn judge(
    pool: &SqlitePool,
    job: &JobRecord,
    stages: &[burnin::job::StageView],
    state: JobState,
) -> Result<burnin::verdict::Verdict, DbError> {
    let parse = |raw: Option<String>| {
        raw.and_then(|raw| burnin::smart::parse_smartctl_json(raw.as_bytes()).ok())
    };
    let before = parse(snapshot(pool, job.id, "before").await?);
    let after = parse(snapshot(pool, job.id, "after").await?);
    let kind: Option<(String,)> = sqlx::query_as("SELECT kind FROM drives WHERE id = $1")
        .bind(job.drive_id)
        .fetch_optional(pool)
        .await?;
    let evidence = burnin::verdict::Evidence {
        kind: kind.map_or(burnin::DriveKind::Unknown, |(k,)| burnin::DriveKind::parse(&k)),
        job_state: state,
        stages,
        before: before.as_ref(),
        after: after.as_ref(),
        max_temperature_c: max_temperature(pool, job.id).await?,
    };
    let thresholds = crate::settings::verdict_thresholds(pool).await?;
    Ok(burnin::verdict::verdict(&evidence, &thresholds))
}

/// The verdict the job would get if it ended in `state` now.
pub async fn verdict_if(
    pool: &SqlitePool,
    id: i64,
    state: JobState,
) -> Result<Option<burnin::verdict::Verdict>, DbError> {
    let Some(job) = job(pool, id).await? else { return Ok(None) };
    let stages: Vec<burnin::job::StageView> =
        stages(pool, id).await?.iter().map(StageRecord::view).collect();
    Ok(Some(judge(pool, &job, &stages, state).await?))
}

pub async fn view(pool: &SqlitePool, id: i64) -> Result<Option<JobView>, DbError> {
    let Some(job) = job(pool, id).await? else { return Ok(None) };
    let stages: Vec<burnin::job::StageView> =
        stages(pool, id).await?.iter().map(StageRecord::view).collect();
    let verdict = judge(pool, &job, &stages, job.state()).await?;
    let temperatures = temperatures(pool, id, 120).await?;
    Ok(Some(JobView {
        id: job.id,
        drive_id: job.drive_id,
        drive_serial: job.drive_serial.clone(),
        host_name: job.host_name.clone(),
        state: job.state(),
        operator: job.operator.clone(),
        created_at: job.created_at.clone(),
        started_at: job.started_at.clone(),
        finished_at: job.finished_at.clone(),
        percent: job.percent,
        eta_seconds: job.eta_seconds,
        reason: job.reason.clone(),
        stages,
        verdict: Some(verdict),
        temperatures,
    }))
}

/// Creates a queued job with its stages; returns its id.
pub async fn create(
    tx: &mut sqlx::SqliteConnection,
    drive_id: i64,
    host_id: i64,
    operator: &str,
    plan: &[StageKind],
    max_bad_blocks: Option<u32>,
) -> Result<i64, DbError> {
    let id = sqlx::query(
        "INSERT INTO jobs (drive_id, host_id, operator, max_bad_blocks) VALUES ($1, $2, $3, $4)",
    )
    .bind(drive_id)
    .bind(host_id)
    .bind(operator)
    .bind(max_bad_blocks.map(i64::from))
    .execute(&mut *tx)
    .await?
    .last_insert_rowid();
    for (position, kind) in plan.iter().enumerate() {
        sqlx::query("INSERT INTO job_stages (job_id, position, kind) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(position as i64)
            .bind(kind.as_str())
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE drives SET state = 'queued' WHERE id = $1")
        .bind(drive_id)
        .execute(&mut *tx)
        .await?;
    Ok(id)
}

pub async fn set_job_state(
    pool: &SqlitePool,
    id: i64,
    state: JobState,
    reason: Option<&str>,
) -> Result<(), DbError> {
    let mut tx = crate::db::begin_write(pool).await?;
    sqlx::query(
        "UPDATE jobs SET state = $2, reason = COALESCE($3, reason),
                started_at = CASE WHEN $2 = 'running' AND started_at IS NULL THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ELSE started_at END,
                finished_at = CASE WHEN $2 IN ('passed', 'failed', 'cancelled', 'interrupted') THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ELSE finished_at END,
                percent = CASE WHEN $2 = 'passed' THEN 100 ELSE percent END,
                eta_seconds = CASE WHEN $2 IN ('passed', 'failed', 'cancelled', 'interrupted') THEN NULL ELSE eta_seconds END,
                current_stage = CASE WHEN $2 IN ('passed', 'failed', 'cancelled', 'interrupted') THEN NULL ELSE current_stage END
          WHERE id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(reason)
    .execute(&mut *tx)
    .await?;
    let drive_state = match state {
        JobState::Queued => "queued",
        JobState::Running => "running",
        JobState::Passed => "passed",
        JobState::Failed => "failed",
        JobState::Cancelled | JobState::Interrupted => "idle",
    };
    sqlx::query("UPDATE drives SET state = $2 WHERE id = (SELECT drive_id FROM jobs WHERE id = $1) AND state != 'absent'")
        .bind(id)
        .bind(drive_state)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn request_cancel(pool: &SqlitePool, id: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// The job's headline for the drive table.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub percent: f64,
    pub eta: Option<f64>,
    pub stage: Option<StageKind>,
    pub stage_percent: Option<f64>,
    pub stuck: bool,
    pub bad_blocks: u64,
}

pub async fn set_summary(pool: &SqlitePool, id: i64, summary: &Summary) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE jobs SET percent = $2, eta_seconds = $3, current_stage = $4, stage_percent = $5, stuck = $6, bad_blocks = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(summary.percent)
    .bind(summary.eta)
    .bind(summary.stage.map(StageKind::as_str))
    .bind(summary.stage_percent)
    .bind(summary.stuck)
    .bind(i64::try_from(summary.bad_blocks).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    Ok(())
}

/// Writes a stage's whole state.
pub async fn save_stage(pool: &SqlitePool, stage: &StageRecord) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE job_stages SET state = $2, percent = $3, detail = $4,
                started_at = COALESCE(started_at, CASE WHEN $2 != 'pending' THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END),
                finished_at = CASE WHEN $2 IN ('passed', 'failed', 'skipped', 'cancelled', 'interrupted') THEN COALESCE(finished_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ELSE NULL END,
                bad_blocks = $5, bad_block_list = $6, read_errors = $7, write_errors = $8, corruption_errors = $9,
                throughput_mb_s = $10, eta_seconds = $11, stuck = $12, log_tail = $13, remote_dir = $14,
                stdout_offset = $15, stderr_offset = $16, block_size = $17, blocks_at_once = $18, parser_state = $19
          WHERE id = $1",
    )
    .bind(stage.id)
    .bind(&stage.state)
    .bind(stage.percent)
    .bind(&stage.detail)
    .bind(stage.bad_blocks)
    .bind(&stage.bad_block_list)
    .bind(stage.read_errors)
    .bind(stage.write_errors)
    .bind(stage.corruption_errors)
    .bind(stage.throughput_mb_s)
    .bind(stage.eta_seconds)
    .bind(stage.stuck)
    .bind(&stage.log_tail)
    .bind(&stage.remote_dir)
    .bind(stage.stdout_offset)
    .bind(stage.stderr_offset)
    .bind(stage.block_size)
    .bind(stage.blocks_at_once)
    .bind(&stage.parser_state)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn save_snapshot(
    pool: &SqlitePool,
    job_id: i64,
    drive_id: i64,
    kind: &str,
    raw: &str,
) -> Result<(), DbError> {
    let mut tx = crate::db::begin_write(pool).await?;
    if kind == "latest" {
        sqlx::query("DELETE FROM smart_snapshots WHERE job_id = $1 AND kind = 'latest'")
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("INSERT INTO smart_snapshots (job_id, kind, raw_json) VALUES ($1, $2, $3)")
        .bind(job_id)
        .bind(kind)
        .bind(raw)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE drives SET smart_json = $2, smart_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = $1")
        .bind(drive_id)
        .bind(raw)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn snapshot(
    pool: &SqlitePool,
    job_id: i64,
    kind: &str,
) -> Result<Option<String>, DbError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT raw_json FROM smart_snapshots WHERE job_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1")
            .bind(job_id)
            .bind(kind)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(raw,)| raw))
}

pub async fn add_temperature(pool: &SqlitePool, job_id: i64, celsius: f64) -> Result<(), DbError> {
    sqlx::query("INSERT INTO temperature_samples (job_id, celsius) VALUES ($1, $2)")
        .bind(job_id)
        .bind(celsius)
        .execute(pool)
        .await?;
    Ok(())
}

/// The drive's latest smartctl JSON, for the SMART tab.
pub async fn drive_smart(
    pool: &SqlitePool,
    drive_id: i64,
) -> Result<Option<(String, String)>, DbError> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT smart_json, smart_at FROM drives WHERE id = $1")
            .bind(drive_id)
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(json, at)| json.zip(at)))
}

pub async fn set_drive_smart(
    pool: &SqlitePool,
    drive_id: i64,
    raw: &str,
    health: &str,
) -> Result<(), DbError> {
    sqlx::query("UPDATE drives SET smart_json = $2, smart_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), smart_health = $3 WHERE id = $1")
        .bind(drive_id)
        .bind(raw)
        .bind(health)
        .execute(pool)
        .await?;
    Ok(())
}
