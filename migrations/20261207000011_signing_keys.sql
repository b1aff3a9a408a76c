-- Every key that has signed evidence here. A rotation (or a key file lost and made anew)
-- retires the old key but keeps it listed, so that bundles it signed still verify as this
-- dashboard's. The server records its current key at every start (`signing::remember`).
CREATE TABLE signing_keys (
    -- Standard base64 of the 32-byte Ed25519 public key, as bundles carry it.
    public_key  TEXT PRIMARY KEY,
    first_seen  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    -- NULL for the key in use.
    retired_at  TEXT
);

-- The keys of bundles sealed before this table existed.
INSERT OR IGNORE INTO signing_keys (public_key, first_seen)
SELECT json_extract(manifest_json, '$.public_key'), MIN(sealed_at)
  FROM job_evidence
 WHERE json_valid(manifest_json) AND json_type(manifest_json, '$.public_key') = 'text'
 GROUP BY json_extract(manifest_json, '$.public_key');
