//! Secrets at rest: TrueNAS API keys, SSH private keys and passwords are stored encrypted
//! with a master key the server generates on first start (reference/security.md §5).
//!
//! Format: `v1:<base64(nonce ‖ ciphertext ‖ tag)>` with XChaCha20-Poly1305; the 192-bit random
//! nonce removes nonce bookkeeping. The associated data binds a ciphertext to its row and
//! field (`host:<uid>|field:api_key`), so a value copied into another row or column fails to
//! decrypt instead of quietly becoming some other host's key.

use std::{fmt, io::Write as _, path::Path};

use base64::{Engine as _, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "cannot read the master key {path}: {cause}. Restore the file from a backup; without it the stored API and SSH keys cannot be read and must be entered again"
    )]
    Read { path: String, cause: String },
    #[error("cannot create the master key {path}: {cause}. Check that the data folder is writable")]
    Create { path: String, cause: String },
    #[error(
        "the master key {path} is {len} bytes, not 32: it is damaged. Restore it from a backup"
    )]
    BadKey { path: String, len: usize },
    #[error(
        "a stored secret could not be decrypted ({0}); the master key may have changed. Enter the secret again"
    )]
    Decrypt(&'static str),
    #[error(
        "the master key {path} can be read by other users (mode {mode:o}): anyone who can read it can read every stored API and SSH key. Run `chmod 600 {path}` (in Docker Compose, give the secret `mode: 0400`), then start again"
    )]
    Exposed { path: String, mode: u32 },
    #[error("no random numbers from the operating system: {0}")]
    Random(String),
}

/// A secret in memory: never printed, never serialised.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The last four characters, for telling keys apart in the UI ("…f3a9").
    pub fn hint(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
        format!("…{tail}")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

pub struct MasterKey {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| SecretError::Random(error.to_string()))?;
    Ok(bytes)
}

impl MasterKey {
    /// Reads the key at `path`, or creates it (mode 0600) on first start.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, SecretError> {
        let path_text = path.display().to_string();
        let (key, created) = load_or_create_key_file(path).map_err(|error| match error {
            KeyFileError::Read(cause) => SecretError::Read { path: path_text.clone(), cause },
            KeyFileError::Create(cause) => SecretError::Create { path: path_text.clone(), cause },
            KeyFileError::Length(len) => SecretError::BadKey { path: path_text.clone(), len },
            KeyFileError::Exposed(mode) => SecretError::Exposed { path: path_text.clone(), mode },
            KeyFileError::Random(cause) => SecretError::Random(cause),
        })?;
        if created {
            tracing::info!(secrets.key_path = %path_text, "generated a new master key for secrets at rest; back it up with the database");
        }
        Ok(MasterKey::from_bytes(&key))
    }

    pub fn from_bytes(key: &[u8; 32]) -> MasterKey {
        MasterKey { cipher: XChaCha20Poly1305::new(key.into()) }
    }

    pub fn encrypt(&self, plaintext: &Secret, aad: &str) -> Result<String, SecretError> {
        let nonce = random_bytes::<24>()?;
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload { msg: plaintext.expose().as_bytes(), aad: aad.as_bytes() },
            )
            .map_err(|_| SecretError::Decrypt("encryption failed"))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        Ok(format!("v1:{}", STANDARD.encode(blob)))
    }

    pub fn decrypt(&self, stored: &str, aad: &str) -> Result<Secret, SecretError> {
        let body = stored.strip_prefix("v1:").ok_or(SecretError::Decrypt("unknown format"))?;
        let blob = STANDARD.decode(body).map_err(|_| SecretError::Decrypt("not base64"))?;
        if blob.len() < 24 + 16 {
            return Err(SecretError::Decrypt("too short"));
        }
        let (nonce, ciphertext) = blob.split_at(24);
        let plaintext = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: aad.as_bytes() })
            .map_err(|_| SecretError::Decrypt("authentication failed"))?;
        String::from_utf8(plaintext).map(Secret).map_err(|_| SecretError::Decrypt("not UTF-8"))
    }
}

/// Writes a file only its owner can read, creating it fresh.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Why a 32-byte key file could not be had; each key's owner words it for its own stakes.
#[derive(Debug)]
pub enum KeyFileError {
    Read(String),
    Create(String),
    Length(usize),
    /// Others may read it (the file's mode).
    Exposed(u32),
    Random(String),
}

/// Reads the 32-byte key at `path`, refusing one that other users can read, or makes it (mode
/// 0600, folder created) when there is none. Answers the key and whether it was just made.
pub fn load_or_create_key_file(path: &Path) -> Result<([u8; 32], bool), KeyFileError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(path)
                    .map_err(|e| KeyFileError::Read(e.to_string()))?
                    .permissions()
                    .mode()
                    & 0o777;
                if mode & 0o077 != 0 {
                    return Err(KeyFileError::Exposed(mode));
                }
            }
            let key: [u8; 32] =
                bytes.as_slice().try_into().map_err(|_| KeyFileError::Length(bytes.len()))?;
            Ok((key, false))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = random_bytes::<32>().map_err(|e| KeyFileError::Random(e.to_string()))?;
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| KeyFileError::Create(e.to_string()))?;
            }
            write_private(path, &key).map_err(|e| KeyFileError::Create(e.to_string()))?;
            Ok((key, true))
        }
        Err(error) => Err(KeyFileError::Read(error.to_string())),
    }
}

/// The associated data for a host's secret field.
pub fn host_aad(host_uid: &str, field: &str) -> String {
    format!("host:{host_uid}|field:{field}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_master_key_others_can_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("master.key");
        MasterKey::load_or_create(&path).expect("made");
        assert!(MasterKey::load_or_create(&path).is_ok(), "its own 0600 file is accepted");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let Err(error) = MasterKey::load_or_create(&path) else {
            panic!("a master key readable by others was accepted");
        };
        assert!(matches!(error, SecretError::Exposed { mode: 0o644, .. }), "{error}");
        assert!(error.to_string().contains("chmod 600"));
    }

    #[test]
    fn secrets_round_trip_and_are_bound_to_their_row_and_field() {
        let key = MasterKey::from_bytes(&[7; 32]);
        let secret = Secret::new("1-AbCdEf0123456789");
        let stored = key.encrypt(&secret, &host_aad("u1", "api_key")).expect("encrypts");
        assert!(stored.starts_with("v1:") && !stored.contains("AbCdEf"));
        assert_eq!(key.decrypt(&stored, &host_aad("u1", "api_key")).expect("decrypts"), secret);
        assert!(key.decrypt(&stored, &host_aad("u2", "api_key")).is_err(), "moved to another host");
        assert!(
            key.decrypt(&stored, &host_aad("u1", "ssh_key")).is_err(),
            "moved to another field"
        );
        let other = MasterKey::from_bytes(&[8; 32]);
        assert!(other.decrypt(&stored, &host_aad("u1", "api_key")).is_err(), "another master key");
        // Two encryptions of one secret differ (random nonce).
        assert_ne!(stored, key.encrypt(&secret, &host_aad("u1", "api_key")).expect("encrypts"));
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("super-secret-value");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(secret.hint(), "…alue");
    }

    #[test]
    fn the_master_key_is_created_private_once_and_then_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("keys/master.key");
        let first = MasterKey::load_or_create(&path).expect("created");
        let stored = first.encrypt(&Secret::new("x"), "a").expect("encrypts");
        let second = MasterKey::load_or_create(&path).expect("read back");
        assert_eq!(second.decrypt(&stored, "a").expect("same key").expose(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").expect("overwrite");
        assert!(matches!(
            MasterKey::load_or_create(&path),
            Err(SecretError::BadKey { len: 5, .. })
        ));
    }
}
