-- One writer, exactly once; records that outlive hosts; verdicts kept as judged; stage output
-- kept after the NAS folder is gone; idempotent starts.

-- At most one queued or running job per drive, enforced by the database. Before this index a
-- race could leave two; the oldest stays active and the others are ended with a reason that
-- says to look on the NAS (the index cannot be created beside them). The states listed must be
-- exactly `JobState::is_active`'s (a test in server/tests/database.rs checks it).
UPDATE jobs
   SET state = 'interrupted',
       reason = 'a second job for this drive was active when the dashboard was upgraded: check the NAS for a second badblocks on it',
       finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
 WHERE state IN ('queued', 'running')
   AND id NOT IN (SELECT MIN(id) FROM jobs WHERE state IN ('queued', 'running') GROUP BY drive_id);

CREATE UNIQUE INDEX jobs_one_active_per_drive ON jobs (drive_id) WHERE state IN ('queued', 'running');

-- The host settings a job started with (JSON, no secrets), and what it was judged with when
-- it ended: a later threshold change never rewrites a verdict already handed out.
ALTER TABLE jobs ADD COLUMN host_config TEXT;
ALTER TABLE jobs ADD COLUMN verdict_json TEXT;
ALTER TABLE jobs ADD COLUMN thresholds_json TEXT;

-- A removed host is archived: its drives and jobs stay, its secrets are dropped.
ALTER TABLE hosts ADD COLUMN archived_at TEXT;

-- The full output of a stage (badblocks' stdout and stderr, every smartctl call of a
-- self-test), its head and tail kept within a bound, gzip-compressed.
CREATE TABLE stage_outputs (
    stage_id   INTEGER NOT NULL REFERENCES job_stages (id) ON DELETE CASCADE,
    stream     TEXT    NOT NULL CHECK (stream IN ('stdout', 'stderr', 'smartctl')),
    bytes      INTEGER NOT NULL,
    omitted    INTEGER NOT NULL,
    gzip       BLOB    NOT NULL,
    stored_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (stage_id, stream)
);

-- Answers of `POST /api/v1/burnin/start` by Idempotency-Key: a repeat returns the first one.
CREATE TABLE idempotency_keys (
    key           TEXT PRIMARY KEY,
    request_hash  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    job_ids       TEXT,
    body          TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
