-- The statistics read every ended job once, in drive order: each drive's outcome counts and
-- its jobs' durations, bad block counts and reallocation rises, grouped as the index is
-- walked (no sort of a hundred thousand rows) and named by model and capacity only after
-- grouping (one drive lookup per drive, not per job). This index covers that pass.
CREATE INDEX jobs_by_drive ON jobs (
    drive_id, state, outcome, surface_state, surface_bad_blocks, reallocated_rise, started_at,
    finished_at, host_id);
