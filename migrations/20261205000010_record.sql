-- The record: sealed evidence, and an audit log nothing can change.

-- A job's evidence manifest (every part's SHA-256) and its Ed25519 signature, kept from the
-- first time the job's evidence or certificate was asked for after it ended. The bundle and
-- the hash on its certificate stay the same for good, even once retention drops outputs.
CREATE TABLE job_evidence (
    job_id         INTEGER PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    manifest_json  TEXT    NOT NULL,
    signature      TEXT    NOT NULL,
    sha256         TEXT    NOT NULL,
    -- The parts that are not stage outputs (job, drive, verdict, thresholds, SMART captures) as
    -- sealed: a later edit of the drive or a newer release cannot change what was signed.
    parts_json     TEXT    NOT NULL,
    sealed_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX job_evidence_sha256 ON job_evidence (sha256);

-- The job and the drive an event is about, as columns: a job page's audit trail is an indexed
-- query, not a scan of every event's JSON. Filled from the detail on insert
-- (`audit::record`); older events are filled here, before the log becomes append-only. No
-- foreign keys: an event outlives the job or drive it names.
ALTER TABLE audit_events ADD COLUMN job_id INTEGER;
ALTER TABLE audit_events ADD COLUMN drive_id INTEGER;

UPDATE audit_events
   SET job_id = json_extract(detail, '$.job_id')
 WHERE json_valid(detail) AND json_type(detail, '$.job_id') = 'integer';

UPDATE audit_events
   SET drive_id = CASE
       WHEN json_type(detail, '$.drive_id') = 'integer' THEN json_extract(detail, '$.drive_id')
       WHEN json_type(detail, '$.drive_ids') = 'array' AND json_array_length(detail, '$.drive_ids') = 1
            AND json_type(detail, '$.drive_ids[0]') = 'integer' THEN json_extract(detail, '$.drive_ids[0]')
       END
 WHERE json_valid(detail);

UPDATE audit_events
   SET drive_id = (SELECT j.drive_id FROM jobs j WHERE j.id = audit_events.job_id)
 WHERE drive_id IS NULL AND job_id IS NOT NULL;

CREATE INDEX audit_events_job ON audit_events (job_id, id) WHERE job_id IS NOT NULL;
CREATE INDEX audit_events_drive ON audit_events (drive_id, id) WHERE drive_id IS NOT NULL;

-- The audit log is append-only: the database itself refuses to change or remove an event,
-- whatever code path asks.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: events cannot be changed');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only: events cannot be removed');
END;
