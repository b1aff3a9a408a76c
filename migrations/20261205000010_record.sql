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
