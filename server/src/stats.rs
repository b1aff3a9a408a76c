//! The statistics page's figures: a handful of aggregating reads over the whole record,
//! grouped in SQL so a fleet of thousands of jobs sends back tens of rows, never one per job
//! (the per-job exceptions, durations and failing reasons, are one narrow row per passed or
//! failed job). The grouping rules and the figures are `burnin::stats`'.

use burnin::access::{Action, Principal};
use burnin::history::StatsScope;
use burnin::job::StageKind;
use burnin::stats::{DayRow, OutcomeRow, Rows};
use burnin::verdict::Outcome;
use burnin_app::AppError;
use sqlx::SqlitePool;

use crate::db::DbError;
use crate::service::Services;

// A job's outcome as the history filters by it: the one rule, `engine::store`'s.
use crate::engine::store::VERDICT_SQL as OUTCOME_SQL;

impl Services {
    /// The figures over the finished jobs `scope` chooses. The per-day figure ends on `to`'s
    /// last day when a range is given, else today.
    pub async fn statistics(
        &self,
        caller: &Principal,
        scope: &StatsScope,
    ) -> Result<burnin::stats::Statistics, AppError> {
        crate::service::allow(caller, Action::View)?;
        let started = std::time::Instant::now();
        let now = crate::auth::now_unix();
        let end = scope
            .to
            .as_deref()
            .and_then(burnin::format::parse_utc)
            // `to` is exclusive: its last day is the one before the bound's instant.
            .map_or(now, |to| (to as i64 - 1).min(now));
        let today = end.div_euclid(86_400);
        let rows = read(self.db.pool(), today, scope).await?;
        let stats = burnin::stats::statistics(&rows);
        tracing::debug!(
            stats.judged = stats.judged,
            duration_ms = started.elapsed().as_millis() as u64,
            "statistics computed"
        );
        Ok(stats)
    }
}

/// The scope as SQL conditions on `jobs j`. Its values are inlined, not bound, so that every
/// query below can carry it whatever its own parameters: the host is a number and the bounds
/// are `burnin::history::instant_bound`'s output (digits, `-`, `:`, `T`, `.`, `Z`), checked
/// again here so nothing else can reach the text.
fn scope_sql(scope: &StatsScope) -> String {
    let mut sql = String::new();
    if let Some(host) = scope.host_id {
        sql.push_str(&format!(" AND j.host_id = {host}"));
    }
    let safe = |t: &str| t.chars().all(|c| c.is_ascii_digit() || "-:T.Z".contains(c));
    if let Some(from) = scope.from.as_deref().filter(|t| safe(t)) {
        sql.push_str(&format!(" AND j.finished_at >= '{from}'"));
    }
    if let Some(to) = scope.to.as_deref().filter(|t| safe(t)) {
        sql.push_str(&format!(" AND j.finished_at < '{to}'"));
    }
    sql
}

/// Everything the figures are made of, for `today` (days since the epoch, UTC), over the jobs
/// `scope` chooses.
pub async fn read(pool: &SqlitePool, today: i64, scope: &StatsScope) -> Result<Rows, DbError> {
    let terminal = crate::engine::store::ended_jobs();
    let ended = format!("j.state IN ({terminal}){}", scope_sql(scope));
    let judged = format!("{ended} AND {OUTCOME_SQL} IN ('pass', 'warn', 'fail')");

    // Counted per drive from the narrow index first, then named by model: joining the drives
    // first would read every job's wide row.
    let outcomes: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "WITH x AS MATERIALIZED (
             SELECT j.drive_id, {OUTCOME_SQL} AS outcome, COUNT(*) AS jobs
               FROM jobs j
              WHERE {judged}
              GROUP BY j.drive_id, outcome)
         SELECT d.model, x.outcome, SUM(x.jobs)
           FROM x JOIN drives d ON d.id = x.drive_id
          GROUP BY d.model, x.outcome"
    ))
    .fetch_all(pool)
    .await?;

    // Days since the epoch of the day a job ended; `julianday` of the epoch is 2440587.5.
    let first_day = today - (burnin::stats::DAYS - 1);
    let days: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
        "SELECT CAST(julianday(substr(j.finished_at, 1, 10)) - 2440587.5 AS INTEGER) AS day,
                COUNT(*),
                SUM(CASE WHEN {OUTCOME_SQL} = 'fail' THEN 1 ELSE 0 END)
           FROM jobs j
          WHERE {ended} AND j.finished_at IS NOT NULL AND j.finished_at >= $1
          GROUP BY day"
    ))
    .bind(burnin::format::utc(first_day * 86_400))
    .fetch_all(pool)
    .await?;

    let durations: Vec<(i64, f64)> = sqlx::query_as(&format!(
        "WITH x AS MATERIALIZED (
             SELECT j.drive_id,
                    ROUND((julianday(j.finished_at) - julianday(j.started_at)) * 86400.0) AS secs
               FROM jobs j
              WHERE {ended} AND {OUTCOME_SQL} IN ('pass', 'warn')
                AND j.started_at IS NOT NULL AND j.finished_at IS NOT NULL
                AND j.surface_state = 'passed')
         SELECT d.size_bytes, x.secs FROM x JOIN drives d ON d.id = x.drive_id"
    ))
    .fetch_all(pool)
    .await?;

    let failed_stages: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT s.kind, COUNT(DISTINCT j.id)
           FROM jobs j JOIN job_stages s ON s.job_id = j.id
          WHERE {ended} AND {OUTCOME_SQL} = 'fail' AND s.state = 'failed'
          GROUP BY s.kind"
    ))
    .fetch_all(pool)
    .await?;

    let (failed_without_stage,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM jobs j
          WHERE {ended} AND {OUTCOME_SQL} = 'fail'
            AND NOT EXISTS (SELECT 1 FROM job_stages s WHERE s.job_id = j.id AND s.state = 'failed')"
    ))
    .fetch_one(pool)
    .await?;

    // Only a judged job has reasons: its stored outcome picks the failures from the index
    // before any verdict is parsed.
    let failure_rules: Vec<(i64, String)> = sqlx::query_as(&format!(
        "SELECT j.id, json_extract(r.value, '$.rule')
           FROM jobs j, json_each(j.verdict_json, '$.reasons') r
          WHERE {ended} AND j.outcome = 'fail' AND j.verdict_json IS NOT NULL
            AND json_extract(r.value, '$.level') = 'fail'
            AND json_extract(r.value, '$.rule') IS NOT NULL"
    ))
    .fetch_all(pool)
    .await?;

    // The surface stage's own count: a job that never reached one says nothing of bad blocks.
    let bad_blocks: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT j.surface_bad_blocks, COUNT(*)
           FROM jobs j
          WHERE {judged} AND j.surface_state IN ('passed', 'failed')
          GROUP BY j.surface_bad_blocks"
    ))
    .fetch_all(pool)
    .await?;

    // Stored with the verdict (`burnin::stats::reallocated_rise`): a column's histogram.
    let reallocations: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT j.reallocated_rise, COUNT(*)
           FROM jobs j
          WHERE {judged} AND j.reallocated_rise IS NOT NULL
          GROUP BY j.reallocated_rise"
    ))
    .fetch_all(pool)
    .await?;

    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Rows {
        today,
        outcomes: outcomes
            .into_iter()
            .filter_map(|(model, outcome, jobs)| {
                let outcome = match outcome.as_str() {
                    "pass" => Outcome::Pass,
                    "warn" => Outcome::Warn,
                    "fail" => Outcome::Fail,
                    _ => return None,
                };
                Some(OutcomeRow { model, outcome, jobs: count(jobs) })
            })
            .collect(),
        days: days
            .into_iter()
            .map(|(day, ended, failed)| DayRow { day, ended: count(ended), failed: count(failed) })
            .collect(),
        durations: durations.into_iter().map(|(bytes, secs)| (count(bytes), secs)).collect(),
        failed_stages: failed_stages
            .into_iter()
            .filter_map(|(kind, jobs)| Some((StageKind::parse(&kind)?, count(jobs))))
            .collect(),
        failed_without_stage: count(failed_without_stage),
        failure_rules,
        bad_blocks: bad_blocks.into_iter().map(|(n, jobs)| (count(n), count(jobs))).collect(),
        reallocations: reallocations
            .into_iter()
            .map(|(rise, jobs)| (count(rise), count(jobs)))
            .collect(),
    })
}
