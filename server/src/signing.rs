//! The key that seals evidence bundles (`burnin::evidence`), made on first start beside the
//! database, and the sealed manifests the record keeps.
//!
//! A job is sealed once, when it ends (`Services::start_sealer`): the manifest (every part's
//! digest) and its signature are stored, so the bundle and the hash printed on a certificate
//! stay the same for good, even after retention drops a stage's output (the part is then
//! absent and its signed digest still names it).
//!
//! Every key that ever signed here is listed in `signing_keys`; the one in use has no
//! `retired_at`. Rotating (`burnin-server rotate-signing-key`) or losing the key file retires
//! the old key without forgetting it, so the bundles it signed still verify as this
//! dashboard's.

use std::path::Path;

use burnin::evidence::{self, Manifest};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sqlx::SqlitePool;

use crate::secrets::{KeyFileError, load_or_create_key_file};

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(
        "cannot read the signing key {path}: {cause}. Restore it from a backup; without it new certificates are signed by a new key that old ones do not name"
    )]
    Read { path: String, cause: String },
    #[error(
        "cannot create the signing key {path}: {cause}. Check that the data folder is writable"
    )]
    Create { path: String, cause: String },
    #[error(
        "the signing key {path} is {len} bytes, not 32: it is damaged. Restore it from a backup"
    )]
    Length { path: String, len: usize },
    #[error(
        "the signing key {path} can be read by other users (mode {mode:o}): anyone who can read it can forge certificates. Run `chmod 600 {path}`, then start again"
    )]
    Exposed { path: String, mode: u32 },
    #[error("no random numbers from the operating system: {0}")]
    Random(String),
}

/// The evidence signer. Its secret half never leaves this type.
pub struct Signer {
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.public_key_text())
    }
}

impl Signer {
    /// Reads the key at `path`, or makes it (mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> Result<Signer, SigningError> {
        let shown = path.display().to_string();
        let (seed, created) = load_or_create_key_file(path).map_err(|error| match error {
            KeyFileError::Read(cause) => SigningError::Read { path: shown.clone(), cause },
            KeyFileError::Create(cause) => SigningError::Create { path: shown.clone(), cause },
            KeyFileError::Length(len) => SigningError::Length { path: shown.clone(), len },
            KeyFileError::Exposed(mode) => SigningError::Exposed { path: shown.clone(), mode },
            KeyFileError::Random(cause) => SigningError::Random(cause),
        })?;
        let signer = Signer { key: SigningKey::from_bytes(&seed) };
        if created {
            tracing::info!(signing.key_path = %shown, signing.public_key = %signer.public_key_text(), "generated the key that signs evidence bundles; back it up with the database");
        }
        Ok(signer)
    }

    /// A signer over a new random key, for a rotation.
    pub fn generate() -> Result<(Signer, [u8; 32]), SigningError> {
        let seed = crate::secrets::random_bytes::<32>()
            .map_err(|error| SigningError::Random(error.to_string()))?;
        Ok((Signer { key: SigningKey::from_bytes(&seed) }, seed))
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn public_key_text(&self) -> String {
        evidence::public_key_text(&self.verifying_key())
    }

    /// The public key's SHA-256, short, for telling keys apart at a glance.
    pub fn fingerprint(&self) -> String {
        evidence::fingerprint_of(&self.public_key_text())
    }

    pub fn seal(&self, manifest: Manifest, parts: Vec<evidence::Part>) -> evidence::Bundle {
        evidence::seal(manifest, parts, &self.key)
    }
}

/// Records `signer` as the key in use, and retires any other that was: run at every start,
/// so a key file replaced by hand (or lost and made anew) is noticed too.
pub async fn remember(pool: &SqlitePool, signer: &Signer) -> Result<(), sqlx::Error> {
    let current = signer.public_key_text();
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT OR IGNORE INTO signing_keys (public_key) VALUES ($1)")
        .bind(&current)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE signing_keys SET retired_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
          WHERE retired_at IS NULL AND public_key != $1",
    )
    .bind(&current)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE signing_keys SET retired_at = NULL WHERE public_key = $1")
        .bind(&current)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// The keys that signed here before the current one, newest retirement first.
pub async fn retired_keys(pool: &SqlitePool) -> Result<Vec<evidence::RetiredKey>, sqlx::Error> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT public_key, first_seen, retired_at FROM signing_keys
          WHERE retired_at IS NOT NULL ORDER BY retired_at DESC, public_key",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(public_key, first_seen, retired_at)| evidence::RetiredKey {
            fingerprint: evidence::fingerprint_of(&public_key),
            public_key,
            first_seen,
            retired_at,
        })
        .collect())
}

/// A job's sealed manifest and signature, if it was sealed.
pub async fn sealed(
    pool: &SqlitePool,
    job_id: i64,
) -> Result<Option<(Manifest, String)>, sqlx::Error> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT manifest_json, signature FROM job_evidence WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(pool)
            .await?;
    Ok(row.and_then(|(manifest, signature)| {
        serde_json::from_str(&manifest).ok().map(|manifest| (manifest, signature))
    }))
}

/// The parts sealed as they were (all but stage outputs), as a JSON object by name.
pub async fn sealed_parts(pool: &SqlitePool, job_id: i64) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT parts_json FROM job_evidence WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(text,)| text))
}

/// Keeps a job's seal. A second seal of the same job (two first requests at once) keeps the
/// first, so every copy handed out has the same hash; answers the kept one.
pub async fn keep(
    pool: &SqlitePool,
    bundle: &evidence::Bundle,
    kept_parts: &str,
) -> Result<(Manifest, String), sqlx::Error> {
    let manifest_json = serde_json::to_string(&bundle.manifest)
        .map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    sqlx::query(
        "INSERT INTO job_evidence (job_id, manifest_json, signature, sha256, parts_json)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id) DO NOTHING",
    )
    .bind(bundle.manifest.job_id)
    .bind(&manifest_json)
    .bind(&bundle.signature)
    .bind(evidence::manifest_hash(&bundle.manifest))
    .bind(kept_parts)
    .execute(pool)
    .await?;
    sealed(pool, bundle.manifest.job_id).await?.ok_or(sqlx::Error::RowNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_private_and_read_back_the_same() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("keys/signing.key");
        let first = Signer::load_or_create(&path).expect("made");
        let mode = std::fs::metadata(&path).expect("the file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = Signer::load_or_create(&path).expect("read");
        assert_eq!(first.public_key_text(), again.public_key_text());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = Signer::load_or_create(&path).expect_err("an exposed key is refused");
        assert!(matches!(error, SigningError::Exposed { .. }), "{error}");
        assert!(error.to_string().contains("chmod 600"));
    }
}
