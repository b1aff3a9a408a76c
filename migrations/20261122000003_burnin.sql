-- Burn-in jobs, their stages, and the evidence they collect.

CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY,
    drive_id       INTEGER NOT NULL REFERENCES drives (id) ON DELETE CASCADE,
    host_id        INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    state          TEXT    NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'running', 'passed', 'failed', 'cancelled', 'interrupted')),
    operator       TEXT    NOT NULL,
    max_bad_blocks INTEGER,
    created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at     TEXT,
    finished_at    TEXT,
    reason         TEXT,
    -- A summary the drive table shows, kept current by the engine.
    percent        REAL    NOT NULL DEFAULT 0,
    eta_seconds    REAL,
    current_stage  TEXT,
    stage_percent  REAL,
    stuck          INTEGER NOT NULL DEFAULT 0,
    bad_blocks     INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX jobs_drive ON jobs (drive_id);
CREATE INDEX jobs_state ON jobs (state);

CREATE TABLE job_stages (
    id                INTEGER PRIMARY KEY,
    job_id            INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position          INTEGER NOT NULL,
    kind              TEXT    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'running', 'passed', 'failed', 'skipped', 'cancelled', 'interrupted')),
    percent           REAL,
    detail            TEXT    NOT NULL DEFAULT '',
    started_at        TEXT,
    finished_at       TEXT,
    bad_blocks        INTEGER NOT NULL DEFAULT 0,
    bad_block_list    TEXT    NOT NULL DEFAULT '',
    read_errors       INTEGER NOT NULL DEFAULT 0,
    write_errors      INTEGER NOT NULL DEFAULT 0,
    corruption_errors INTEGER NOT NULL DEFAULT 0,
    throughput_mb_s   REAL,
    eta_seconds       REAL,
    stuck             INTEGER NOT NULL DEFAULT 0,
    log_tail          TEXT    NOT NULL DEFAULT '',
    -- The detached process on the NAS, for re-attaching after a restart or a dropped link.
    remote_dir        TEXT,
    stdout_offset     INTEGER NOT NULL DEFAULT 0,
    stderr_offset     INTEGER NOT NULL DEFAULT 0,
    block_size        INTEGER,
    blocks_at_once    INTEGER,
    -- Where the parser stood when the offsets were saved (phase, percent), to resume exactly.
    parser_state      TEXT    NOT NULL DEFAULT '',
    UNIQUE (job_id, position)
);

CREATE TABLE smart_snapshots (
    id        INTEGER PRIMARY KEY,
    job_id    INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind      TEXT    NOT NULL CHECK (kind IN ('before', 'after', 'latest')),
    taken_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    raw_json  TEXT    NOT NULL
);

CREATE INDEX smart_snapshots_job ON smart_snapshots (job_id, kind);

CREATE TABLE temperature_samples (
    job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    celsius  REAL    NOT NULL
);

CREATE INDEX temperature_samples_job ON temperature_samples (job_id, at);

-- The latest SMART report of each drive, for the drawer's SMART tab.
ALTER TABLE drives ADD COLUMN smart_json TEXT;
ALTER TABLE drives ADD COLUMN smart_at TEXT;
