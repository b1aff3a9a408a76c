//! The statistics page's figures: a few aggregating reads over the whole record, grouped in
//! SQL so a fleet of a hundred thousand jobs sends back a row per drive, never one per job
//! (but the failed jobs' failing rules). The grouping rules and the figures are
//! `burnin::stats`'.

use burnin::access::{Action, Principal};
use burnin::history::StatsScope;
use burnin::job::StageKind;
use burnin::stats::{DayRow, DriveRate, OutcomeRow, Rows};
use burnin::verdict::Outcome;
use std::collections::BTreeMap;

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

    // One pass over the ended jobs in drive order (the `jobs_by_drive` index): each drive's
    // outcome counts and mean surface test rate, and its jobs' durations, bad block counts and
    // reallocation rises as lists, named by model and capacity after grouping. Four passes with a
    // sort each, and a drive lookup per job, took three times as long at 100,000 jobs.
    // Without `sqlite_stat1` the planner would take `jobs_judged` and sort; one host's jobs are
    // few, and there it may choose.
    let clock = std::time::Instant::now();
    let walk = if scope.host_id.is_none() { "INDEXED BY jobs_by_drive" } else { "" };
    let per_drive: Vec<PerDrive> = sqlx::query_as(&format!(
        "WITH x AS MATERIALIZED (
             SELECT j.drive_id,
                    SUM(j.o = 'pass') AS passed, SUM(j.o = 'warn') AS warned,
                    SUM(j.o = 'fail') AS failed,
                    group_concat(CASE WHEN j.o IN ('pass', 'warn') AND j.surface_state = 'passed'
                         THEN j.run_seconds END) AS seconds,
                    group_concat(CASE WHEN j.o IN ('pass', 'warn', 'fail')
                                       AND j.surface_state IN ('passed', 'failed')
                         THEN j.surface_bad_blocks END) AS bad_blocks,
                    group_concat(CASE WHEN j.o IN ('pass', 'warn', 'fail')
                         THEN j.reallocated_rise END) AS rises,
                    AVG(CASE WHEN j.surface_state = 'passed' AND j.surface_mb_s > 0
                         THEN j.surface_mb_s END) AS mb_s,
                    COUNT(CASE WHEN j.surface_state = 'passed' AND j.surface_mb_s > 0
                         THEN 1 END) AS rated
               FROM (SELECT j.*, {OUTCOME_SQL} AS o FROM jobs j {walk} WHERE {ended}) j
              GROUP BY j.drive_id)
         SELECT d.serial, d.model, d.size_bytes, x.passed, x.warned, x.failed, x.seconds,
                x.bad_blocks, x.rises, x.mb_s, x.rated
           FROM x JOIN drives d ON d.id = x.drive_id"
    ))
    .fetch_all(pool)
    .await?;
    let per_drive_ms = clock.elapsed().as_millis() as u64;
    let clock = std::time::Instant::now();

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
    let days_ms = clock.elapsed().as_millis() as u64;
    let clock = std::time::Instant::now();

    // Failed jobs by the stage that failed, and (kind NULL) those with none. The outcome rule
    // read as its two cases, each an index seek: a stored outcome of `fail`, and the rule
    // itself for the few jobs without one.
    let by_stage: Vec<(Option<String>, i64)> = sqlx::query_as(&format!(
        "WITH failed AS (
             SELECT j.id FROM jobs j WHERE {ended} AND j.outcome = 'fail'
             UNION ALL
             SELECT j.id FROM jobs j WHERE {ended} AND j.outcome IS NULL AND {OUTCOME_SQL} = 'fail')
         SELECT s.kind, COUNT(DISTINCT f.id)
           FROM failed f LEFT JOIN job_stages s ON s.job_id = f.id AND s.state = 'failed'
          GROUP BY s.kind"
    ))
    .fetch_all(pool)
    .await?;
    let stages_ms = clock.elapsed().as_millis() as u64;
    let clock = std::time::Instant::now();
    let failed_without_stage = by_stage.iter().filter(|(k, _)| k.is_none()).map(|(_, n)| *n).sum();
    let failed_stages: Vec<(String, i64)> =
        by_stage.into_iter().filter_map(|(kind, n)| Some((kind?, n))).collect();

    // Only a judged job has reasons: its stored outcome picks the failures from the index,
    // and their failing rules are a column (no verdict is parsed).
    let failed_rules: Vec<(i64, String)> = sqlx::query_as(&format!(
        "SELECT j.id, j.fail_rules FROM jobs j
          WHERE {ended} AND j.outcome = 'fail' AND j.fail_rules IS NOT NULL"
    ))
    .fetch_all(pool)
    .await?;
    let failure_rules: Vec<(i64, String)> = failed_rules
        .iter()
        .flat_map(|(id, rules)| {
            burnin::stats::split_rules(rules).map(move |rule| (*id, rule.to_owned()))
        })
        .collect();
    let rules_ms = clock.elapsed().as_millis() as u64;

    // Which read costs what, for anyone tuning this on a large record.
    tracing::debug!(
        stats.per_drive_ms = per_drive_ms,
        stats.days_ms = days_ms,
        stats.stages_ms = stages_ms,
        stats.rules_ms = rules_ms,
        "statistics read"
    );
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    // By model, then in this order.
    const OUTCOMES: [Outcome; 3] = [Outcome::Pass, Outcome::Warn, Outcome::Fail];
    let mut outcomes: BTreeMap<(String, usize), u64> = BTreeMap::new();
    let mut durations = Vec::new();
    let mut bad_blocks: BTreeMap<u64, u64> = BTreeMap::new();
    let mut reallocations: BTreeMap<u64, u64> = BTreeMap::new();
    let mut drive_rates = Vec::new();
    for drive in per_drive {
        if let Some(mb_s) = drive.mb_s.filter(|_| drive.rated > 0) {
            drive_rates.push(DriveRate {
                serial: drive.serial.clone(),
                model: drive.model.clone(),
                mb_s,
                jobs: count(drive.rated),
            });
        }
        for (i, jobs) in [drive.passed, drive.warned, drive.failed].into_iter().enumerate() {
            if jobs > 0 {
                *outcomes.entry((drive.model.clone(), i)).or_default() += count(jobs);
            }
        }
        let bytes = count(drive.size_bytes);
        durations.extend(numbers(drive.seconds.as_deref()).map(|secs| (bytes, secs as f64)));
        for n in numbers(drive.bad_blocks.as_deref()) {
            *bad_blocks.entry(count(n)).or_default() += 1;
        }
        for n in numbers(drive.rises.as_deref()) {
            *reallocations.entry(count(n)).or_default() += 1;
        }
    }
    Ok(Rows {
        today,
        outcomes: outcomes
            .into_iter()
            .map(|((model, i), jobs)| OutcomeRow { model, outcome: OUTCOMES[i], jobs })
            .collect(),
        days: days
            .into_iter()
            .map(|(day, ended, failed)| DayRow { day, ended: count(ended), failed: count(failed) })
            .collect(),
        durations,
        failed_stages: failed_stages
            .into_iter()
            .filter_map(|(kind, jobs)| Some((StageKind::parse(&kind)?, count(jobs))))
            .collect(),
        failed_without_stage: count(failed_without_stage),
        failure_rules,
        bad_blocks: bad_blocks.into_iter().collect(),
        reallocations: reallocations.into_iter().collect(),
        drive_rates,
    })
}

/// One drive's row of the statistics' pass: its outcome counts, and its jobs' figures as
/// `group_concat` lists (NULL when it has none).
#[derive(sqlx::FromRow)]
struct PerDrive {
    serial: String,
    model: String,
    size_bytes: i64,
    passed: i64,
    warned: i64,
    failed: i64,
    seconds: Option<String>,
    bad_blocks: Option<String>,
    rises: Option<String>,
    /// The mean closing rate of its passed surface tests, over `rated` of them.
    mb_s: Option<f64>,
    rated: i64,
}

/// The integers of a `group_concat` list; SQLite wrote them, so anything else is skipped.
fn numbers(list: Option<&str>) -> impl Iterator<Item = i64> + '_ {
    list.into_iter().flat_map(|l| l.split(',')).filter_map(|n| n.trim().parse().ok())
}
