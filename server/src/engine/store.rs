//! The `jobs`, `job_stages`, `stage_outputs`, `smart_snapshots`, `temperature_samples` and
//! `idempotency_keys` tables.
//!
//! Lists of states in SQL are built from `burnin::job`'s own (`JobState::terminal`,
//! `StageState::done`), never written out a second time.

use std::io::{Read as _, Write as _};

use burnin::job::{HostConfig, JobState, JobView, StageKind, StageOutput, StageState, StageView};
use sqlx::{FromRow, SqliteConnection, SqlitePool};

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
    pub host_config: Option<String>,
    pub verdict_json: Option<String>,
    pub drive_serial: String,
    pub drive_lunid: String,
    pub host_name: String,
}

impl JobRecord {
    pub fn state(&self) -> JobState {
        JobState::parse(&self.state).unwrap_or(JobState::Interrupted)
    }

    pub fn host_config(&self) -> Option<HostConfig> {
        self.host_config.as_deref().and_then(|json| serde_json::from_str(json).ok())
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

    pub fn view(&self, outputs: Vec<StageOutput>) -> StageView {
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
            outputs,
        }
    }
}

/// `'a', 'b'`: states as an SQL list, from the one definition in `burnin::job`.
fn sql_list(states: impl Iterator<Item = &'static str>) -> String {
    states.map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
}

fn done_stages() -> String {
    sql_list(StageState::done().map(StageState::as_str))
}

/// The states a job ends in, as an SQL list (the statistics, the sealer).
pub(crate) fn ended_jobs() -> String {
    sql_list(JobState::terminal().map(JobState::as_str))
}

const JOB_SELECT: &str =
    "SELECT j.id, j.drive_id, j.host_id, j.state, j.operator, j.max_bad_blocks, j.created_at,
        j.started_at, j.finished_at, j.reason, j.percent, j.eta_seconds, j.cancel_requested,
        j.host_config, j.verdict_json,
        d.serial AS drive_serial, d.lunid AS drive_lunid, h.name AS host_name
   FROM jobs j JOIN drives d ON d.id = j.drive_id JOIN hosts h ON h.id = j.host_id";

pub async fn job(pool: &SqlitePool, id: i64) -> Result<Option<JobRecord>, DbError> {
    Ok(sqlx::query_as(&format!("{JOB_SELECT} WHERE j.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

pub async fn jobs_in(pool: &SqlitePool, states: &[JobState]) -> Result<Vec<JobRecord>, DbError> {
    let list = sql_list(states.iter().map(|s| s.as_str()));
    Ok(sqlx::query_as(&format!("{JOB_SELECT} WHERE j.state IN ({list}) ORDER BY j.id"))
        .fetch_all(pool)
        .await?)
}

/// Active jobs of one host.
pub async fn active_on_host(pool: &SqlitePool, host_id: i64) -> Result<Vec<JobRecord>, DbError> {
    let list = sql_list(JobState::active().map(JobState::as_str));
    Ok(sqlx::query_as(&format!(
        "{JOB_SELECT} WHERE j.host_id = $1 AND j.state IN ({list}) ORDER BY j.id"
    ))
    .bind(host_id)
    .fetch_all(pool)
    .await?)
}

/// The active job of a drive, read inside the write transaction that would add another.
pub async fn active_for_drive(
    tx: &mut SqliteConnection,
    drive_id: i64,
) -> Result<Option<i64>, DbError> {
    let list = sql_list(JobState::active().map(JobState::as_str));
    Ok(sqlx::query_scalar(&format!(
        "SELECT id FROM jobs WHERE drive_id = $1 AND state IN ({list}) LIMIT 1"
    ))
    .bind(drive_id)
    .fetch_optional(&mut *tx)
    .await?)
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

/// Every job that ran on a host, oldest first (the host's record).
pub async fn jobs_of_host(pool: &SqlitePool, host_id: i64) -> Result<Vec<JobRecord>, DbError> {
    Ok(sqlx::query_as(&format!("{JOB_SELECT} WHERE j.host_id = $1 ORDER BY j.id"))
        .bind(host_id)
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
    stages: &[StageView],
    state: JobState,
    thresholds: &burnin::verdict::Thresholds,
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
    Ok(burnin::verdict::verdict(&evidence, thresholds))
}

async fn stage_views(pool: &SqlitePool, job_id: i64) -> Result<Vec<StageView>, DbError> {
    let records = stages(pool, job_id).await?;
    let outputs: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT o.stage_id, o.stream, o.bytes, o.omitted FROM stage_outputs o
           JOIN job_stages s ON s.id = o.stage_id WHERE s.job_id = $1 ORDER BY o.stream",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await?;
    Ok(records
        .iter()
        .map(|stage| {
            let mine = outputs
                .iter()
                .filter(|(id, ..)| *id == stage.id)
                .map(|(_, stream, bytes, omitted)| StageOutput {
                    stream: stream.clone(),
                    bytes: u64::try_from(*bytes).unwrap_or(0),
                    omitted: u64::try_from(*omitted).unwrap_or(0),
                })
                .collect();
            stage.view(mine)
        })
        .collect())
}

/// The verdict the job would get if it ended in `state` now, under `thresholds`.
pub async fn verdict_if(
    pool: &SqlitePool,
    id: i64,
    state: JobState,
    thresholds: &burnin::verdict::Thresholds,
) -> Result<Option<burnin::verdict::Verdict>, DbError> {
    let Some(job) = job(pool, id).await? else { return Ok(None) };
    let stages = stage_views(pool, id).await?;
    Ok(Some(judge(pool, &job, &stages, state, thresholds).await?))
}

pub async fn view(pool: &SqlitePool, id: i64) -> Result<Option<JobView>, DbError> {
    let Some(job) = job(pool, id).await? else { return Ok(None) };
    let stages = stage_views(pool, id).await?;
    // A finished job shows the verdict it was judged with; an open one is judged now.
    let kept = job
        .verdict_json
        .as_deref()
        .and_then(|json| serde_json::from_str::<burnin::verdict::Verdict>(json).ok());
    let verdict_final = kept.is_some();
    let verdict = match kept {
        Some(verdict) => verdict,
        None => {
            let thresholds = crate::settings::verdict_thresholds(pool).await?;
            judge(pool, &job, &stages, job.state(), &thresholds).await?
        }
    };
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
        cancel_requested: job.cancel_requested && job.state().is_active(),
        verdict_final,
        host_config: job.host_config(),
    }))
}

/// Creates a queued job with its stages inside the caller's write transaction; returns its
/// id. The database's partial unique index refuses a second active job for the drive.
pub async fn create(
    tx: &mut SqliteConnection,
    drive_id: i64,
    host_id: i64,
    operator: &str,
    plan: &[StageKind],
    max_bad_blocks: Option<u32>,
    host_config: &HostConfig,
) -> Result<i64, DbError> {
    let id = sqlx::query(
        "INSERT INTO jobs (drive_id, host_id, operator, max_bad_blocks, host_config)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(drive_id)
    .bind(host_id)
    .bind(operator)
    .bind(max_bad_blocks.map(i64::from))
    .bind(serde_json::to_string(host_config).unwrap_or_default())
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

/// What the drive row says while a job is in `state`.
fn drive_state(state: JobState) -> &'static str {
    match state {
        JobState::Queued => "queued",
        JobState::Running => "running",
        JobState::Passed => "passed",
        JobState::Failed => "failed",
        JobState::Cancelled | JobState::Interrupted => "idle",
    }
}

async fn set_drive_state(
    tx: &mut SqliteConnection,
    job_id: i64,
    state: JobState,
) -> Result<(), DbError> {
    sqlx::query("UPDATE drives SET state = $2 WHERE id = (SELECT drive_id FROM jobs WHERE id = $1) AND state != 'absent'")
        .bind(job_id)
        .bind(drive_state(state))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// How the runner may go on with a job it was handed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// Queued → running now, or already running (a re-attach).
    Run,
    /// Cancelled while it waited in the queue: ended, nothing ran.
    CancelledInQueue,
    /// The job had already ended.
    Ended,
}

/// Moves a queued job to running, in one write transaction with the check for a cancel, so a
/// cancel sent while the job waits can never lose to the runner's start.
pub async fn claim_for_run(pool: &SqlitePool, id: i64) -> Result<Claimed, DbError> {
    let mut tx = crate::db::begin_write(pool).await?;
    let row: Option<(String, bool)> =
        sqlx::query_as("SELECT state, cancel_requested FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((state, cancel)) = row else { return Ok(Claimed::Ended) };
    let outcome = match (JobState::parse(&state), cancel) {
        (Some(JobState::Queued), false) => {
            sqlx::query(
                "UPDATE jobs SET state = 'running', started_at = COALESCE(started_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            set_drive_state(&mut tx, id, JobState::Running).await?;
            Claimed::Run
        }
        (Some(JobState::Queued), true) => {
            end_in(&mut tx, id, JobState::Cancelled, "cancelled before it started", None).await?;
            Claimed::CancelledInQueue
        }
        (Some(JobState::Running), _) => Claimed::Run,
        _ => Claimed::Ended,
    };
    tx.commit().await?;
    Ok(outcome)
}

/// What a cancel did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was queued: cancelled now, nothing had run.
    Cancelled,
    /// It runs: its runner stops the remote work, then ends it as cancelled.
    Stopping,
    AlreadyEnded(JobState),
}

pub async fn cancel(pool: &SqlitePool, id: i64) -> Result<Option<CancelOutcome>, DbError> {
    let mut tx = crate::db::begin_write(pool).await?;
    let state: Option<String> = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(state) = state else { return Ok(None) };
    let outcome = match JobState::parse(&state).unwrap_or(JobState::Interrupted) {
        JobState::Queued => {
            end_in(&mut tx, id, JobState::Cancelled, "cancelled before it started", None).await?;
            CancelOutcome::Cancelled
        }
        JobState::Running => {
            sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            CancelOutcome::Stopping
        }
        done => CancelOutcome::AlreadyEnded(done),
    };
    tx.commit().await?;
    Ok(Some(outcome))
}

/// A job's end, with the verdict (and the thresholds) it was judged with.
async fn end_in(
    tx: &mut SqliteConnection,
    id: i64,
    state: JobState,
    reason: &str,
    judged: Option<(&burnin::verdict::Verdict, &burnin::verdict::Thresholds)>,
) -> Result<(), DbError> {
    let (verdict, thresholds, outcome, rise, fail_rules) = match judged {
        Some((verdict, thresholds)) => (
            serde_json::to_string(verdict).ok(),
            serde_json::to_string(thresholds).ok(),
            Some(verdict.outcome.as_str()),
            burnin::stats::reallocated_rise(verdict).map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
            burnin::stats::failing_rules(verdict),
        ),
        None => (None, None, None, None, None),
    };
    sqlx::query(
        "UPDATE jobs SET state = $2, reason = $3,
                finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                percent = CASE WHEN $2 = 'passed' THEN 100 ELSE percent END,
                eta_seconds = NULL, current_stage = NULL,
                verdict_json = $4, thresholds_json = $5, outcome = $6, reallocated_rise = $7,
                fail_rules = $8
          WHERE id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(reason)
    .bind(verdict)
    .bind(thresholds)
    .bind(outcome)
    .bind(rise)
    .bind(fail_rules)
    .execute(&mut *tx)
    .await?;
    // Stages the job never reached: cancelled with it, or skipped when it ended otherwise.
    let done = done_stages();
    let left = if state == JobState::Cancelled { "cancelled" } else { "skipped" };
    sqlx::query(&format!(
        "UPDATE job_stages SET state = $2, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
          WHERE job_id = $1 AND state NOT IN ({done})"
    ))
    .bind(id)
    .bind(left)
    .execute(&mut *tx)
    .await?;
    // The surface stage's end beside the job, for the statistics' narrow index, and the run's
    // seconds by the history's own rule (after the end above is written).
    sqlx::query(&format!(
        "UPDATE jobs AS j SET
            surface_state = (SELECT s.state FROM job_stages s WHERE s.job_id = $1 AND s.kind = $2),
            surface_bad_blocks = (SELECT s.bad_blocks FROM job_stages s WHERE s.job_id = $1 AND s.kind = $2),
            surface_mb_s = (SELECT s.throughput_mb_s FROM job_stages s WHERE s.job_id = $1 AND s.kind = $2),
            run_seconds = {DURATION_SQL}
          WHERE j.id = $1"
    ))
    .bind(id)
    .bind(StageKind::Surface.as_str())
    .execute(&mut *tx)
    .await?;
    set_drive_state(tx, id, state).await
}

/// Ends a job with the verdict it was judged with.
pub async fn finish(
    pool: &SqlitePool,
    id: i64,
    state: JobState,
    reason: &str,
    verdict: &burnin::verdict::Verdict,
    thresholds: &burnin::verdict::Thresholds,
) -> Result<(), DbError> {
    debug_assert!(!state.is_active());
    let mut tx = crate::db::begin_write(pool).await?;
    end_in(&mut tx, id, state, reason, Some((verdict, thresholds))).await?;
    tx.commit().await?;
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
    let done = done_stages();
    sqlx::query(&format!(
        "UPDATE job_stages SET state = $2, percent = $3, detail = $4,
                started_at = COALESCE(started_at, CASE WHEN $2 != 'pending' THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END),
                finished_at = CASE WHEN $2 IN ({done}) THEN COALESCE(finished_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) ELSE NULL END,
                bad_blocks = $5, bad_block_list = $6, read_errors = $7, write_errors = $8, corruption_errors = $9,
                throughput_mb_s = $10, eta_seconds = $11, stuck = $12, log_tail = $13, remote_dir = $14,
                stdout_offset = $15, stderr_offset = $16, block_size = $17, blocks_at_once = $18, parser_state = $19
          WHERE id = $1"
    ))
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

/// Stores a stage's output stream (replacing an earlier copy), gzip-compressed.
pub async fn save_output(
    pool: &SqlitePool,
    stage_id: i64,
    stream: &str,
    capture: &burnin::capture::Capture,
) -> Result<(), DbError> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&capture.bytes()).map_err(|e| DbError::Query(sqlx::Error::Io(e)))?;
    let gzip = encoder.finish().map_err(|e| DbError::Query(sqlx::Error::Io(e)))?;
    sqlx::query(
        "INSERT INTO stage_outputs (stage_id, stream, bytes, omitted, gzip) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (stage_id, stream) DO UPDATE SET bytes = excluded.bytes, omitted = excluded.omitted,
                gzip = excluded.gzip, stored_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    )
    .bind(stage_id)
    .bind(stream)
    .bind(i64::try_from(capture.total()).unwrap_or(i64::MAX))
    .bind(i64::try_from(capture.omitted()).unwrap_or(i64::MAX))
    .bind(gzip)
    .execute(pool)
    .await?;
    Ok(())
}

/// A stage's stored output stream, decompressed.
pub async fn output(
    pool: &SqlitePool,
    job_id: i64,
    position: i64,
    stream: &str,
) -> Result<Option<Vec<u8>>, DbError> {
    let row: Option<(Vec<u8>,)> = sqlx::query_as(
        "SELECT o.gzip FROM stage_outputs o JOIN job_stages s ON s.id = o.stage_id
          WHERE s.job_id = $1 AND s.position = $2 AND o.stream = $3",
    )
    .bind(job_id)
    .bind(position)
    .bind(stream)
    .fetch_optional(pool)
    .await?;
    let Some((gzip,)) = row else { return Ok(None) };
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(gzip.as_slice())
        .read_to_end(&mut text)
        .map_err(|e| DbError::Query(sqlx::Error::Io(e)))?;
    Ok(Some(text))
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

/// The thresholds a finished job was judged with (JSON), if it ended.
pub async fn thresholds(pool: &SqlitePool, job_id: i64) -> Result<Option<String>, DbError> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT thresholds_json FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(text,)| text))
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

/// What an Idempotency-Key has seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySeen {
    /// First use: the caller goes on and must call [`key_done`] or [`key_release`].
    New,
    /// A repeat of a finished request: its jobs.
    Done { job_ids: Vec<i64>, body: Option<String> },
    /// A repeat while the first is still being answered.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// Keys older than this are forgotten (the IETF draft suggests at least 24 hours).
const KEY_DAYS: u32 = 2;
/// A pending key whose request never finished (the server stopped) is given up after this.
const PENDING_MINUTES: u32 = 10;

pub async fn key_begin(pool: &SqlitePool, key: &str, hash: &str) -> Result<KeySeen, DbError> {
    let mut tx = crate::db::begin_write(pool).await?;
    sqlx::query(&format!(
        "DELETE FROM idempotency_keys
          WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{KEY_DAYS} days')
             OR (state = 'pending' AND created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-{PENDING_MINUTES} minutes'))"
    ))
    .execute(&mut *tx)
    .await?;
    let row: Option<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT request_hash, state, job_ids, body FROM idempotency_keys WHERE key = $1",
    )
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    let seen = match row {
        None => {
            sqlx::query(
                "INSERT INTO idempotency_keys (key, request_hash, state) VALUES ($1, $2, 'pending')",
            )
            .bind(key)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
            KeySeen::New
        }
        Some((stored, _, _, _)) if stored != hash => KeySeen::Mismatch,
        Some((_, state, ids, body)) if state == "done" => KeySeen::Done {
            job_ids: ids
                .as_deref()
                .and_then(|ids| serde_json::from_str(ids).ok())
                .unwrap_or_default(),
            body,
        },
        Some(_) => KeySeen::InFlight,
    };
    tx.commit().await?;
    Ok(seen)
}

/// Records the jobs a keyed request created, in the transaction that created them.
pub async fn key_done(
    tx: &mut SqliteConnection,
    key: &str,
    job_ids: &[i64],
) -> Result<(), DbError> {
    sqlx::query("UPDATE idempotency_keys SET state = 'done', job_ids = $2 WHERE key = $1")
        .bind(key)
        .bind(serde_json::to_string(job_ids).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Keeps the first answer's body, for a repeat to return as it was.
pub async fn key_body(pool: &SqlitePool, key: &str, body: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE idempotency_keys SET body = $2 WHERE key = $1 AND state = 'done'")
        .bind(key)
        .bind(body)
        .execute(pool)
        .await?;
    Ok(())
}

/// Frees a key whose request failed: nothing was created, so a retry may run again.
pub async fn key_release(pool: &SqlitePool, key: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE key = $1 AND state = 'pending'")
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// The verdict a job is filtered and sorted by: the one it was judged with when it ended; a
/// job not judged (still open, or cancelled in the queue) is `incomplete`, or `fail` when it
/// ended failed. (An open job's view judges it afresh on every read, so a running job whose
/// evidence already fails shows `fail` there while it still filters as `incomplete`.)
pub(crate) const VERDICT_SQL: &str =
    "COALESCE(j.outcome, CASE WHEN j.state = 'failed' THEN 'fail' ELSE 'incomplete' END)";

/// When a job ran, for the history's date range: its start, or its creation if it never
/// started.
const WHEN_SQL: &str = "COALESCE(j.started_at, j.created_at)";

/// Seconds from start to end, for a job that has both.
const DURATION_SQL: &str = "CASE WHEN j.started_at IS NOT NULL AND j.finished_at IS NOT NULL THEN CAST(ROUND((julianday(j.finished_at) - julianday(j.started_at)) * 86400) AS INTEGER) END";

/// The history's sort keys as text that sorts as the key does (the cursor holds one of these
/// values). Never NULL: a missing end sorts before every end, a missing duration before every
/// duration.
fn sort_sql(key: burnin::history::SortKey) -> String {
    use burnin::history::SortKey;
    match key {
        SortKey::Created => "j.created_at".into(),
        SortKey::Finished => "COALESCE(j.finished_at, '')".into(),
        SortKey::Serial => "d.serial".into(),
        SortKey::Model => "d.model".into(),
        SortKey::Host => "h.name".into(),
        SortKey::State => "j.state".into(),
        SortKey::Verdict => VERDICT_SQL.into(),
        SortKey::Duration => format!("printf('%015d', COALESCE({DURATION_SQL}, -1))"),
        SortKey::Started => "COALESCE(j.started_at, '')".into(),
        SortKey::Capacity => "printf('%020d', MAX(d.size_bytes, 0))".into(),
        SortKey::Location => "d.location".into(),
        SortKey::BadBlocks => "printf('%020d', MAX(COALESCE(j.bad_blocks, 0), 0))".into(),
        SortKey::Operator => "j.operator".into(),
    }
}

/// `FROM … WHERE …` of the history with the filter, the keyset past `cursor`, the order and
/// the limit.
fn push_history(
    query: &mut sqlx::QueryBuilder<'_, sqlx::Sqlite>,
    filter: &burnin::history::JobFilter,
    sort: burnin::history::Sort,
    cursor: Option<&burnin::history::Cursor>,
    limit: i64,
) {
    let key = sort_sql(sort.key);
    query.push(
        " FROM jobs j JOIN drives d ON d.id = j.drive_id JOIN hosts h ON h.id = j.host_id WHERE 1 = 1",
    );
    if let Some(id) = filter.drive_id {
        query.push(" AND j.drive_id = ").push_bind(id);
    }
    if let Some(id) = filter.host_id {
        query.push(" AND j.host_id = ").push_bind(id);
    }
    if let Some(model) = &filter.model {
        query.push(" AND instr(lower(d.model), lower(").push_bind(model.clone()).push(")) > 0");
    }
    if let Some(serial) = &filter.serial {
        query.push(" AND instr(lower(d.serial), lower(").push_bind(serial.clone()).push(")) > 0");
    }
    if let Some(state) = filter.state {
        query.push(" AND j.state = ").push_bind(state.as_str());
    }
    if let Some(verdict) = filter.verdict {
        query.push(format!(" AND {VERDICT_SQL} = ")).push_bind(verdict.as_str());
    }
    if let Some(operator) = &filter.operator {
        // The person: `ann` is `ann`, `ann (token #3)` and `ann (sso)`.
        query
            .push(" AND (j.operator = ")
            .push_bind(operator.clone())
            .push(" OR substr(j.operator, 1, length(")
            .push_bind(operator.clone())
            .push(") + 1) = ")
            .push_bind(operator.clone())
            .push(" || ' ')");
    }
    if let Some(from) = &filter.from {
        query.push(format!(" AND {WHEN_SQL} >= ")).push_bind(from.clone());
    }
    if let Some(to) = &filter.to {
        query.push(format!(" AND {WHEN_SQL} < ")).push_bind(to.clone());
    }
    let (past, direction) = if sort.descending { ("<", "DESC") } else { (">", "ASC") };
    if let Some(cursor) = cursor {
        query
            .push(format!(" AND ({key} {past} "))
            .push_bind(cursor.value.clone())
            .push(format!(" OR ({key} = "))
            .push_bind(cursor.value.clone())
            .push(format!(" AND j.id {past} "))
            .push_bind(cursor.id)
            .push("))");
    }
    query
        .push(format!(" ORDER BY sort_value {direction}, j.id {direction} LIMIT "))
        .push_bind(limit);
}

/// One page of the history: the jobs' ids in order, and the cursor of the next page when
/// there is one.
pub async fn history_page(
    pool: &SqlitePool,
    query: &burnin::history::JobQuery,
) -> Result<(Vec<i64>, Option<burnin::history::Cursor>), DbError> {
    let limit = i64::from(query.limit.max(1));
    let mut sql =
        sqlx::QueryBuilder::new(format!("SELECT j.id, {} AS sort_value", sort_sql(query.sort.key)));
    push_history(&mut sql, &query.filter, query.sort, query.cursor.as_ref(), limit + 1);
    let mut rows: Vec<(i64, String)> = sql.build_query_as().fetch_all(pool).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|(id, value)| burnin::history::Cursor {
            sort: query.sort.as_string(),
            value: value.clone(),
            id: *id,
        })
    } else {
        None
    };
    Ok((rows.into_iter().map(|(id, _)| id).collect(), next))
}

#[derive(Debug, FromRow)]
struct HistoryRecord {
    id: i64,
    sort_value: String,
    host: String,
    serial: String,
    model: String,
    size_bytes: i64,
    location: String,
    state: String,
    verdict: String,
    first_reason: String,
    bad_blocks: i64,
    operator: String,
    created_at: String,
    started_at: String,
    finished_at: String,
    duration_seconds: Option<i64>,
}

/// Up to `limit` rows of the history for the CSV export, past `cursor`; with the cursor of
/// the rows that follow, when any do.
pub async fn history_rows(
    pool: &SqlitePool,
    filter: &burnin::history::JobFilter,
    sort: burnin::history::Sort,
    cursor: Option<&burnin::history::Cursor>,
    limit: i64,
) -> Result<(Vec<burnin::history::HistoryRow>, Option<burnin::history::Cursor>), DbError> {
    let mut sql = sqlx::QueryBuilder::new(format!(
        "SELECT j.id, {key} AS sort_value, h.name AS host, d.serial, d.model, d.size_bytes,
                d.location, j.state, {VERDICT_SQL} AS verdict,
                COALESCE(json_extract(j.verdict_json, '$.reasons[0].text'), j.reason, '') AS first_reason,
                j.bad_blocks, j.operator, j.created_at,
                COALESCE(j.started_at, '') AS started_at, COALESCE(j.finished_at, '') AS finished_at,
                {DURATION_SQL} AS duration_seconds",
        key = sort_sql(sort.key)
    ));
    push_history(&mut sql, filter, sort, cursor, limit + 1);
    let mut records: Vec<HistoryRecord> = sql.build_query_as().fetch_all(pool).await?;
    let next = if records.len() as i64 > limit {
        records.truncate(usize::try_from(limit).unwrap_or(0));
        records.last().map(|r| burnin::history::Cursor {
            sort: sort.as_string(),
            value: r.sort_value.clone(),
            id: r.id,
        })
    } else {
        None
    };
    let rows = records
        .into_iter()
        .map(|r| burnin::history::HistoryRow {
            job_id: r.id,
            host: r.host,
            serial: r.serial,
            model: r.model,
            capacity_bytes: u64::try_from(r.size_bytes).unwrap_or(0),
            location: r.location,
            state: r.state,
            verdict: r.verdict,
            first_reason: r.first_reason,
            bad_blocks: u64::try_from(r.bad_blocks).unwrap_or(0),
            operator: r.operator,
            created: r.created_at,
            started: r.started_at,
            finished: r.finished_at,
            duration_seconds: r.duration_seconds,
        })
        .collect();
    Ok((rows, next))
}

/// A job's temperature readings, oldest first: (Unix seconds, °C).
pub async fn temperature_series(
    pool: &SqlitePool,
    job_id: i64,
) -> Result<Vec<(f64, f64)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT (julianday(at) - 2440587.5) * 86400.0, celsius FROM temperature_samples \
         WHERE job_id = $1 ORDER BY at, rowid",
    )
    .bind(job_id)
    .fetch_all(pool)
    .await?)
}

/// Deletes an ended job and everything hanging off it (stages, outputs, snapshots,
/// temperatures, sealed evidence) in `tx`, counting what went. `None` when it does not exist.
pub async fn delete_job(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    job_id: i64,
) -> Result<Option<burnin::record::Removed>, DbError> {
    let job: Option<(String, i64)> = sqlx::query_as(
        "SELECT d.serial, d.id FROM jobs j JOIN drives d ON d.id = j.drive_id WHERE j.id = $1",
    )
    .bind(job_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((serial, drive_id)) = job else { return Ok(None) };
    let mut counts = [0u32; 5];
    for (slot, sql) in [
        "SELECT COUNT(*) FROM job_stages WHERE job_id = $1",
        "SELECT COUNT(*) FROM stage_outputs WHERE stage_id IN \
         (SELECT id FROM job_stages WHERE job_id = $1)",
        "SELECT COUNT(*) FROM smart_snapshots WHERE job_id = $1",
        "SELECT COUNT(*) FROM temperature_samples WHERE job_id = $1",
        "SELECT COUNT(*) FROM job_evidence WHERE job_id = $1",
    ]
    .into_iter()
    .enumerate()
    {
        let (n,): (i64,) = sqlx::query_as(sql).bind(job_id).fetch_one(&mut **tx).await?;
        counts[slot] = u32::try_from(n).unwrap_or(u32::MAX);
    }
    sqlx::query("DELETE FROM jobs WHERE id = $1").bind(job_id).execute(&mut **tx).await?;
    Ok(Some(burnin::record::Removed {
        job_id,
        drive_id,
        drive_serial: serial,
        stages: counts[0],
        outputs: counts[1],
        snapshots: counts[2],
        temperature_samples: counts[3],
        evidence: counts[4] > 0,
    }))
}

/// Drops the bulky stage outputs (badblocks' messages, smartctl answers) of the given jobs in
/// `tx`, keeping each stage's bad block list (`stdout`). Sealing is the caller's: it seals
/// each job first. Answers how many outputs went.
pub async fn prune_outputs(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    job_ids: &[i64],
) -> Result<u64, DbError> {
    let mut removed = 0;
    for id in job_ids {
        removed += sqlx::query(
            "DELETE FROM stage_outputs WHERE stream != 'stdout' \
             AND stage_id IN (SELECT id FROM job_stages WHERE job_id = $1)",
        )
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(removed)
}

/// Ended jobs that finished more than `days` days ago and still keep outputs retention drops.
pub async fn jobs_to_prune(pool: &SqlitePool, days: u32) -> Result<Vec<i64>, DbError> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT j.id FROM jobs j JOIN job_stages s ON s.job_id = j.id \
         JOIN stage_outputs o ON o.stage_id = s.id AND o.stream != 'stdout' \
         WHERE j.finished_at IS NOT NULL AND j.state NOT IN ('queued', 'running') \
         AND j.finished_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || $1 || ' days') \
         ORDER BY j.id",
    )
    .bind(i64::from(days))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
