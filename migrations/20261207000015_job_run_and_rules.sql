-- Two more of a job's ending facts beside it, so the statistics read neither a date twice per
-- job nor a verdict's JSON (`engine::store::end_in` writes both with the verdict):
-- - `run_seconds`: from start to end, by the history's rule (`engine::store::DURATION_SQL`);
--   NULL unless the job has both.
-- - `fail_rules`: the rules of its fail-level reasons, in the verdict's order, joined by
--   commas (`burnin::stats::failing_rules`); NULL when none failed.
ALTER TABLE jobs ADD COLUMN run_seconds INTEGER;
ALTER TABLE jobs ADD COLUMN fail_rules TEXT;

UPDATE jobs SET run_seconds = CAST(ROUND((julianday(finished_at) - julianday(started_at)) * 86400) AS INTEGER)
 WHERE started_at IS NOT NULL AND finished_at IS NOT NULL;

UPDATE jobs SET fail_rules = (
    SELECT group_concat(json_extract(r.value, '$.rule'), ',')
      FROM json_each(jobs.verdict_json, '$.reasons') r
     WHERE json_extract(r.value, '$.level') = 'fail'
       AND json_extract(r.value, '$.rule') IS NOT NULL)
 WHERE verdict_json IS NOT NULL AND json_valid(verdict_json);

-- The statistics' two covering indexes read the run's seconds instead of its start, and the
-- one over judged jobs the failing rules (only failed jobs have them), so counting failure
-- reasons reads no wide row.
DROP INDEX jobs_by_drive;
CREATE INDEX jobs_by_drive ON jobs (
    drive_id, state, outcome, surface_state, surface_bad_blocks, reallocated_rise, surface_mb_s,
    run_seconds, finished_at, host_id);

DROP INDEX jobs_judged;
CREATE INDEX jobs_judged ON jobs (
    state, outcome, host_id, finished_at, drive_id, run_seconds, reallocated_rise, surface_state,
    surface_bad_blocks, surface_mb_s, fail_rules);
