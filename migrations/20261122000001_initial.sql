-- The initial schema: hosts, the drives they report, and the audit log.
-- Times are UTC, stored as ISO 8601 text with milliseconds.

CREATE TABLE hosts (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE drives (
    id             INTEGER PRIMARY KEY,
    host_id        INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    -- Identity is serial plus LUN id (WWN); device names change across reboots.
    serial         TEXT    NOT NULL,
    lunid          TEXT    NOT NULL DEFAULT '',
    devname        TEXT    NOT NULL,
    model          TEXT    NOT NULL DEFAULT '',
    size_bytes     INTEGER NOT NULL DEFAULT 0,
    kind           TEXT    NOT NULL DEFAULT 'UNKNOWN' CHECK (kind IN ('HDD', 'SSD', 'NVME', 'UNKNOWN')),
    temperature_c  REAL,
    smart_health   TEXT    NOT NULL DEFAULT 'unknown' CHECK (smart_health IN ('passed', 'failed', 'unknown')),
    pool_kind      TEXT    NOT NULL DEFAULT 'unknown' CHECK (pool_kind IN ('free', 'pool', 'exported_pool', 'boot', 'unknown')),
    pool_name      TEXT,
    state          TEXT    NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'queued', 'running', 'passed', 'failed', 'absent')),
    location       TEXT    NOT NULL DEFAULT '',
    notes          TEXT    NOT NULL DEFAULT '',
    first_seen_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_seen_at   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (serial, lunid)
);

CREATE INDEX drives_host ON drives (host_id);

CREATE TABLE audit_events (
    id       INTEGER PRIMARY KEY,
    at       TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    subject  TEXT    NOT NULL DEFAULT '',
    detail   TEXT    NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_events_at ON audit_events (at);
