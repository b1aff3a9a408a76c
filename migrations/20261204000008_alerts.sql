-- Alerts (rules in burnin::alert): one open alert per (host, kind, subject), its lifecycle
-- pending → raised → acknowledged → resolved, and every transition kept.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    host_id         INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL,
    subject         TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'raised', 'acknowledged', 'resolved')),
    severity        TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    message         TEXT    NOT NULL,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    raised_at       INTEGER,
    count           INTEGER NOT NULL DEFAULT 1,
    clear_checks    INTEGER NOT NULL DEFAULT 0,
    last_notified   INTEGER,
    acknowledged_by TEXT,
    acknowledged_at INTEGER,
    resolved_by     TEXT,
    resolved_at     INTEGER,
    note            TEXT
);

CREATE UNIQUE INDEX alerts_one_open ON alerts (host_id, kind, subject) WHERE state != 'resolved';
CREATE INDEX alerts_state ON alerts (state);

CREATE TABLE alert_transitions (
    id        INTEGER PRIMARY KEY,
    alert_id  INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    state     TEXT    NOT NULL,
    notice    TEXT,
    actor     TEXT    NOT NULL,
    note      TEXT
);

CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id);
