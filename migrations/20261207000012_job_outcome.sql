-- A finished job's outcome and the reallocation its verdict saw, as columns, and a narrow
-- index over what the statistics and the history's verdict filter read: they aggregate a
-- hundred thousand jobs from the index instead of parsing every job's verdict JSON (and
-- reading every wide row) on each request. Written with the verdict (`engine::store::end_in`).
ALTER TABLE jobs ADD COLUMN outcome TEXT;
-- The rise of the reallocated-sector (ATA) or grown-defect (SAS) counter over the job; NULL
-- when the verdict held neither (an NVMe drive, a job not judged).
ALTER TABLE jobs ADD COLUMN reallocated_rise INTEGER;
-- How its surface stage ended and the bad blocks it counted; NULL without a surface stage.
ALTER TABLE jobs ADD COLUMN surface_state TEXT;
ALTER TABLE jobs ADD COLUMN surface_bad_blocks INTEGER;

UPDATE jobs SET outcome = json_extract(verdict_json, '$.outcome')
 WHERE json_valid(verdict_json);

-- The counters' names as `burnin::stats::REALLOCATED_ATA` and `GROWN_DEFECTS_SAS` spelled them
-- when this migration was written.
UPDATE jobs SET reallocated_rise = (
    SELECT MAX(MAX(0, json_extract(c.value, '$.after') - json_extract(c.value, '$.before')))
      FROM json_each(jobs.verdict_json, '$.deltas') c
     WHERE json_extract(c.value, '$.name') IN ('Reallocated sectors (5)', 'Grown defect list')
       AND json_type(c.value, '$.before') = 'integer'
       AND json_type(c.value, '$.after') = 'integer')
 WHERE json_valid(verdict_json);

UPDATE jobs SET
    surface_state = (SELECT s.state FROM job_stages s WHERE s.job_id = jobs.id AND s.kind = 'surface'),
    surface_bad_blocks = (SELECT s.bad_blocks FROM job_stages s WHERE s.job_id = jobs.id AND s.kind = 'surface')
 WHERE finished_at IS NOT NULL;

CREATE INDEX jobs_judged ON jobs (
    state, outcome, host_id, finished_at, drive_id, started_at, reallocated_rise, surface_state,
    surface_bad_blocks);

-- A job's stages by kind with their result, read without the wide rows (outputs, bad block
-- lists) the stages table also holds.
CREATE INDEX job_stages_result ON job_stages (job_id, kind, state, bad_blocks);
