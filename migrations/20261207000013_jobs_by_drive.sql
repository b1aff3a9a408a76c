-- The statistics read every ended job once, in drive order: each drive's outcome counts and
-- its jobs' durations, bad block counts, reallocation rises and surface test rates, grouped as
-- the index is walked (no sort of a hundred thousand rows) and named by model and capacity
-- only after grouping (one drive lookup per drive, not per job). This index covers that pass.

-- The surface test's closing rate (MB/s over its last measuring window, `job_stages.
-- throughput_mb_s`: the same point of the disk and the same pass for every drive of a model),
-- beside the job for the drive-against-peers figure. Written with the verdict
-- (`engine::store::end_in`).
ALTER TABLE jobs ADD COLUMN surface_mb_s REAL;

UPDATE jobs SET surface_mb_s = (
    SELECT s.throughput_mb_s FROM job_stages s WHERE s.job_id = jobs.id AND s.kind = 'surface')
 WHERE finished_at IS NOT NULL;

CREATE INDEX jobs_by_drive ON jobs (
    drive_id, state, outcome, surface_state, surface_bad_blocks, reallocated_rise, surface_mb_s,
    started_at, finished_at, host_id);

-- One host's jobs are read through `jobs_judged` instead; it covers the rate too, so that read
-- never touches the wide rows either.
DROP INDEX jobs_judged;
CREATE INDEX jobs_judged ON jobs (
    state, outcome, host_id, finished_at, drive_id, started_at, reallocated_rise, surface_state,
    surface_bad_blocks, surface_mb_s);
