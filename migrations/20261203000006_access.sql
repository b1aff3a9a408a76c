-- Who may do what: local users (argon2id), browser sessions, API tokens, and the address each
-- audit event came from.

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    role                 TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    -- PHC string; NULL for users made by the proxy's single sign-on, who have no password here.
    password_hash        TEXT,
    source               TEXT    NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'sso')),
    disabled             INTEGER NOT NULL DEFAULT 0,
    -- Bumped when the password changes or the user is disabled: every session and token made
    -- before it stops working.
    epoch                INTEGER NOT NULL DEFAULT 0,
    created_at           TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_login_at        TEXT
);

-- A browser session. The cookie holds a random 256-bit value; only its SHA-256 is stored, so a
-- copy of the database signs nobody in. Times are unix seconds, compared on every request.
CREATE TABLE sessions (
    id_hash           TEXT    PRIMARY KEY,
    user_id           INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    epoch             INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    last_seen_at      INTEGER NOT NULL,
    -- When the password was last entered (sign-in or step-up).
    authenticated_at  INTEGER NOT NULL,
    address           TEXT    NOT NULL DEFAULT '',
    user_agent        TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    scope         TEXT    NOT NULL CHECK (scope IN ('read', 'operate', 'admin')),
    -- SHA-256 of the token (256 random bits: no slow hash needed).
    secret_hash   TEXT    NOT NULL UNIQUE,
    prefix        TEXT    NOT NULL,
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at  TEXT,
    revoked_at    TEXT
);

CREATE INDEX api_tokens_user ON api_tokens (user_id);

ALTER TABLE audit_events ADD COLUMN address TEXT NOT NULL DEFAULT '';
