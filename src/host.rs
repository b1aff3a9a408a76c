//! TrueNAS hosts as the UI and the API see them. Secrets are never part of these types: a
//! view says only whether a secret is set and a short hint.

use serde::{Deserialize, Serialize};

/// How the dashboard trusts a host's TLS certificate. There is no "accept anything".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Pin the SHA-256 fingerprint of the certificate the host presents (trusted on first
    /// use after the operator compares it with the TrueNAS UI).
    Fingerprint,
    /// Trust a CA certificate (PEM) and check the host name against it.
    Ca,
    /// Plain `ws://`, allowed only to a loopback address.
    PlainLoopback,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Fingerprint => "fingerprint",
            TlsMode::Ca => "ca",
            TlsMode::PlainLoopback => "plain_loopback",
        }
    }

    pub fn parse(s: &str) -> Option<TlsMode> {
        [TlsMode::Fingerprint, TlsMode::Ca, TlsMode::PlainLoopback]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// Whether the dashboard currently reaches a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostStatus {
    /// Not contacted yet.
    Unknown,
    Connecting,
    Online,
    /// Stopped answering; its drives show the last known data with its age.
    Offline,
    /// Answers but refuses us (wrong key, untrusted certificate, unsupported version).
    Error,
    Disabled,
}

impl HostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Unknown => "unknown",
            HostStatus::Connecting => "connecting",
            HostStatus::Online => "online",
            HostStatus::Offline => "offline",
            HostStatus::Error => "error",
            HostStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> HostStatus {
        [
            HostStatus::Connecting,
            HostStatus::Online,
            HostStatus::Offline,
            HostStatus::Error,
            HostStatus::Disabled,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .unwrap_or(HostStatus::Unknown)
    }
}

/// A host as listed: configuration without secrets, and its live status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostView {
    pub id: i64,
    pub name: String,
    pub api_url: String,
    pub api_user: String,
    /// "…f3a9" when an API key is stored.
    pub api_key_hint: Option<String>,
    pub tls_mode: TlsMode,
    /// `SHA256:AB:CD:…` when pinned.
    pub tls_fingerprint: Option<String>,
    pub has_tls_ca: bool,
    pub ssh_host: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub has_ssh_key: bool,
    pub has_ssh_password: bool,
    /// SHA-256 fingerprint of the pinned SSH host key.
    pub ssh_host_key_fingerprint: Option<String>,
    pub enabled: bool,
    /// Whether admins may open a terminal on it: the admin's choice, or by default on unless
    /// its API key has only read-only roles.
    pub terminal: bool,
    /// The API key's roles are all read-only (from `auth.me`; false while unknown).
    pub api_read_only: bool,
    /// Part of the built-in simulated fleet.
    pub simulated: bool,
    pub status: HostStatus,
    pub status_detail: Option<String>,
    /// RFC 3339 UTC.
    pub last_seen_at: Option<String>,
    pub truenas_version: Option<String>,
    pub drive_count: i64,
    /// When the host was removed from service; its drives and burn-ins stay on record.
    #[serde(default)]
    pub archived_at: Option<String>,
}

/// What the operator submits to add or change a host. Secrets are write-only: `None` keeps
/// the stored value, `Some("")` clears it. `Debug` redacts them.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostInput {
    pub name: String,
    pub api_url: String,
    pub api_user: String,
    pub api_key: Option<String>,
    pub tls_mode: Option<TlsMode>,
    pub tls_fingerprint: Option<String>,
    pub tls_ca_pem: Option<String>,
    pub ssh_host: String,
    pub ssh_port: Option<u16>,
    pub ssh_user: String,
    pub ssh_private_key: Option<String>,
    pub ssh_password: Option<String>,
    pub enabled: Option<bool>,
    /// Whether admins may open a terminal on this host; `None` keeps the stored choice (on
    /// a new host: on, unless its API key turns out to have only read-only roles).
    #[serde(default)]
    pub terminal: Option<bool>,
}

impl std::fmt::Display for HostStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl HostInput {
    /// Whether this input sets or clears a stored secret (API key, SSH key or password).
    pub fn carries_secrets(&self) -> bool {
        self.api_key.is_some() || self.ssh_private_key.is_some() || self.ssh_password.is_some()
    }
}

impl std::fmt::Debug for HostInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("HostInput")
            .field("name", &self.name)
            .field("api_url", &self.api_url)
            .field("api_user", &self.api_user)
            .field("api_key", &set(&self.api_key))
            .field("tls_mode", &self.tls_mode)
            .field("tls_fingerprint", &self.tls_fingerprint)
            .field("tls_ca_pem", &self.tls_ca_pem.as_ref().map(|_| "<pem>"))
            .field("ssh_host", &self.ssh_host)
            .field("ssh_port", &self.ssh_port)
            .field("ssh_user", &self.ssh_user)
            .field("ssh_private_key", &set(&self.ssh_private_key))
            .field("ssh_password", &set(&self.ssh_password))
            .field("enabled", &self.enabled)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_input_debug_never_shows_secrets() {
        let input = HostInput {
            api_key: Some("1-TopSecretKey".into()),
            ssh_private_key: Some("-----BEGIN OPENSSH PRIVATE KEY-----abc".into()),
            ssh_password: Some("hunter2".into()),
            ..Default::default()
        };
        let shown = format!("{input:?}");
        for secret in ["TopSecretKey", "OPENSSH", "hunter2"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}

/// Normalises a certificate fingerprint as people paste it (`SHA256:ab:cd…`, `AB:CD…`,
/// `abcd…`, with spaces) to the form the dashboard shows: `SHA256:AB:CD:…` (32 bytes).
/// `None` when it is not 64 hex digits.
pub fn normalize_fingerprint(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let body = trimmed
        .strip_prefix("SHA256:")
        .or_else(|| trimmed.strip_prefix("sha256:"))
        .or_else(|| trimmed.strip_prefix("sha256 Fingerprint="))
        .unwrap_or(trimmed);
    let hex: String = body.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let upper = hex.to_ascii_uppercase();
    let pairs: Vec<&str> = (0..32).map(|i| &upper[i * 2..i * 2 + 2]).collect();
    Some(format!("SHA256:{}", pairs.join(":")))
}

#[cfg(test)]
mod fingerprint_tests {
    use super::normalize_fingerprint;

    #[test]
    fn fingerprints_are_accepted_in_every_common_spelling() {
        let canonical = format!("SHA256:{}", vec!["AB"; 32].join(":"));
        for input in [
            canonical.clone(),
            canonical.to_lowercase(),
            "ab".repeat(32),
            vec!["ab"; 32].join(":"),
            format!("  sha256 Fingerprint={}  ", vec!["AB"; 32].join(":")),
        ] {
            assert_eq!(
                normalize_fingerprint(&input).as_deref(),
                Some(canonical.as_str()),
                "{input}"
            );
        }
        assert_eq!(normalize_fingerprint("ab:cd"), None);
        assert_eq!(normalize_fingerprint(&"zz".repeat(32)), None);
    }
}

/// One step of a connection test, as the Hosts page lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestStep {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// The outcome of "Test connection".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostTest {
    pub steps: Vec<TestStep>,
    /// The certificate the host presented, when it is not pinned yet or differs from the pin:
    /// the operator compares it with the TrueNAS UI and trusts it.
    pub presented_fingerprint: Option<String>,
    pub fingerprint_matches_pin: Option<bool>,
    pub truenas_version: Option<String>,
    pub drive_count: Option<usize>,
    /// The SSH host key the NAS presented when neither a pin nor the API vouches for it
    /// (OpenSSH line), and its fingerprint, for the operator to compare and trust.
    #[serde(default)]
    pub presented_ssh_host_key: Option<String>,
    #[serde(default)]
    pub presented_ssh_fingerprint: Option<String>,
    /// A one-time reference to the certificate this test saw: trusting it pins exactly that,
    /// never a value a browser sends.
    #[serde(default)]
    pub certificate_observation: Option<String>,
    /// The same for the SSH host key this test saw.
    #[serde(default)]
    pub ssh_host_key_observation: Option<String>,
    pub ok: bool,
}

/// Whether a TrueNAS API user's privilege roles are all read-only (`READONLY_ADMIN` or
/// `*_READ`): such a key was given for watching, and the terminal stays off by default.
/// Unknown or empty roles are not read-only.
pub fn read_only_roles(roles: &[String]) -> bool {
    !roles.is_empty()
        && roles.iter().all(|role| {
            let role = role.trim().to_ascii_uppercase();
            role == "READONLY_ADMIN" || role.ends_with("_READ")
        })
}

/// The roles in an `auth.me` answer: `privilege.roles` as a list or as `{"$set": [...]}`.
pub fn roles_of(me: &serde_json::Value) -> Option<Vec<String>> {
    let roles = &me["privilege"]["roles"];
    let list = roles.as_array().or_else(|| roles["$set"].as_array())?;
    Some(list.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect())
}

#[cfg(test)]
mod role_tests {
    use super::*;

    #[test]
    fn only_keys_with_nothing_but_read_roles_are_read_only() {
        let roles = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(read_only_roles(&roles(&["READONLY_ADMIN"])));
        assert!(read_only_roles(&roles(&["DISK_READ", "POOL_READ"])));
        assert!(!read_only_roles(&roles(&["FULL_ADMIN"])));
        assert!(!read_only_roles(&roles(&["READONLY_ADMIN", "DISK_WRITE"])));
        assert!(!read_only_roles(&[]));
        let me = serde_json::json!({"privilege": {"roles": {"$set": ["READONLY_ADMIN"]}}});
        assert_eq!(roles_of(&me), Some(roles(&["READONLY_ADMIN"])));
        let me = serde_json::json!({"privilege": {"roles": ["FULL_ADMIN"]}});
        assert_eq!(roles_of(&me), Some(roles(&["FULL_ADMIN"])));
        assert_eq!(roles_of(&serde_json::json!({"pw_name": "root"})), None);
    }
}
