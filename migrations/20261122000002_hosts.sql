-- Host connection settings and live status. Secrets (API key, SSH key, SSH password) are
-- stored encrypted (`v1:` XChaCha20-Poly1305, see server::secrets); `uid` is the stable id
-- their associated data binds to.

ALTER TABLE hosts ADD COLUMN uid TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN api_url TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN api_user TEXT NOT NULL DEFAULT 'root';
ALTER TABLE hosts ADD COLUMN api_key_enc TEXT;
ALTER TABLE hosts ADD COLUMN api_key_hint TEXT;
ALTER TABLE hosts ADD COLUMN tls_mode TEXT NOT NULL DEFAULT 'fingerprint'
    CHECK (tls_mode IN ('fingerprint', 'ca', 'plain_loopback'));
ALTER TABLE hosts ADD COLUMN tls_fingerprint TEXT;
ALTER TABLE hosts ADD COLUMN tls_ca_pem TEXT;
ALTER TABLE hosts ADD COLUMN ssh_host TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN ssh_port INTEGER NOT NULL DEFAULT 22;
ALTER TABLE hosts ADD COLUMN ssh_user TEXT NOT NULL DEFAULT 'root';
ALTER TABLE hosts ADD COLUMN ssh_key_enc TEXT;
ALTER TABLE hosts ADD COLUMN ssh_password_enc TEXT;
-- The pinned SSH host key, as an OpenSSH public key line, and where the pin came from:
-- 'api' (the NAS's own ssh.config over the TLS-verified API) or 'tofu' (operator confirmed).
ALTER TABLE hosts ADD COLUMN ssh_host_key TEXT;
ALTER TABLE hosts ADD COLUMN ssh_host_key_source TEXT;
ALTER TABLE hosts ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE hosts ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN status TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE hosts ADD COLUMN status_detail TEXT;
ALTER TABLE hosts ADD COLUMN last_seen_at TEXT;
ALTER TABLE hosts ADD COLUMN truenas_version TEXT;
ALTER TABLE hosts ADD COLUMN updated_at TEXT;

-- Drive facts the inventory keeps beyond the table columns.
ALTER TABLE drives ADD COLUMN identifier TEXT NOT NULL DEFAULT '';
ALTER TABLE drives ADD COLUMN rotation_rpm INTEGER;
ALTER TABLE drives ADD COLUMN bus TEXT NOT NULL DEFAULT '';
ALTER TABLE drives ADD COLUMN slot INTEGER;
ALTER TABLE drives ADD COLUMN temperature_at TEXT;
ALTER TABLE drives ADD COLUMN updated_at TEXT;

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
