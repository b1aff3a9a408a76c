-- Notification channels (rules in burnin::notify), the outbox every notification waits in
-- until it is delivered or given up (so a restart loses none), and each attempt's result.
CREATE TABLE channels (
    id            INTEGER PRIMARY KEY,
    uid           TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL CHECK (kind IN ('email', 'webhook', 'ntfy')),
    enabled       INTEGER NOT NULL DEFAULT 1,
    min_severity  TEXT    NOT NULL CHECK (min_severity IN ('info', 'warning', 'critical')),
    -- JSON array of alert kinds; empty: the default set.
    kinds         TEXT    NOT NULL DEFAULT '[]',
    send_resolved INTEGER NOT NULL DEFAULT 1,
    -- burnin::notify::ChannelConfig as JSON, without the secret.
    config        TEXT    NOT NULL,
    -- The SMTP password, signing secret or ntfy token, sealed with the master key.
    secret        TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- The local date (YYYY-MM-DD) of the last digest, so a day gets one.
    digest_day    TEXT
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    -- The envelope's id: the receiver's idempotency key, the same on every retry.
    uid             TEXT    NOT NULL UNIQUE,
    channel_id      INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    alert_id        INTEGER REFERENCES alerts (id) ON DELETE SET NULL,
    -- burnin::notify::Envelope, or for a digest the rendered subject, text and html.
    payload         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT
);

CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    channel_id  INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    code        INTEGER,
    detail      TEXT    NOT NULL,
    duration_ms INTEGER NOT NULL,
    retry_at    INTEGER
);

CREATE INDEX deliveries_channel ON deliveries (channel_id, id);

-- The job a burn-in alert is about, for the link and the reasons a notification carries.
ALTER TABLE alerts ADD COLUMN job_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL;
