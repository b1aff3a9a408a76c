//! Reaching a host for the burn-in: one managed SSH session per host (reused while it lives),
//! its host key pinned from the NAS's own `ssh.config` over the TLS-verified API, and fresh
//! API sessions for the safety checks. Each host has its own slot and lock: connecting to a NAS
//! that does not answer holds up only that NAS's callers, never another host's polls, cancels or
//! temperature stops.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use base64::Engine as _;
use burnin::remote::{Os, RemoteCommand};
use serde_json::json;
use tokio::sync::Mutex;

use crate::{
    hosts::{HostConnection, HostError, HostStore},
    inventory::sync::endpoint,
    ssh::{CommandOutput, SshError, SshOptions, SshSession, SshTarget},
    truenas::{Client, ClientOptions, TrueNasError},
};

#[derive(Clone, Debug, thiserror::Error)]
pub enum NasError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(transparent)]
    Api(#[from] TrueNasError),
    #[error("the host's settings cannot be read: {0}")]
    Settings(String),
}

impl From<HostError> for NasError {
    fn from(error: HostError) -> NasError {
        NasError::Settings(error.to_string())
    }
}

impl NasError {
    /// Worth retrying later (the link, not the settings, is the problem).
    pub fn is_transient(&self) -> bool {
        match self {
            NasError::Ssh(error) => matches!(
                error,
                SshError::Unreachable { .. }
                    | SshError::Timeout { .. }
                    | SshError::Dropped
                    | SshError::Protocol(_)
            ),
            NasError::Api(error) => matches!(
                error,
                TrueNasError::Unreachable { .. }
                    | TrueNasError::Timeout { .. }
                    | TrueNasError::Closed
                    | TrueNasError::Http { .. }
            ),
            NasError::Settings(_) => false,
        }
    }

    /// The NAS's SSH host key is not the pinned one (or none is pinned): a person must look.
    pub fn is_host_key(&self) -> bool {
        matches!(
            self,
            NasError::Ssh(SshError::HostKeyChanged { .. } | SshError::HostKeyUnknown { .. })
        )
    }
}

/// The NAS's OS, from its `system.info` version: CORE (FreeBSD) is 13.x and older.
pub fn os_of(version: Option<&str>) -> Os {
    let version = version.unwrap_or("");
    let core = version.contains("CORE")
        || version.contains("FreeBSD")
        || ["TrueNAS-12.", "TrueNAS-13."].iter().any(|prefix| version.starts_with(prefix));
    if core { Os::FreeBsd } else { Os::Linux }
}

/// A session and when a command last went through it.
struct Kept {
    session: Arc<SshSession>,
    used_at: Instant,
}

/// One host's session, behind its own lock.
#[derive(Default)]
struct Slot {
    kept: Mutex<Option<Kept>>,
}

#[derive(Clone)]
pub struct Nas {
    hosts: HostStore,
    /// Held only to find or make a host's slot, never across an await.
    slots: Arc<std::sync::Mutex<HashMap<i64, Arc<Slot>>>>,
    pub ssh: SshOptions,
    pub api: ClientOptions,
}

impl Nas {
    pub fn new(hosts: HostStore, ssh: SshOptions, api: ClientOptions) -> Nas {
        Nas { hosts, slots: Arc::default(), ssh, api }
    }

    pub async fn connection(&self, host_id: i64) -> Result<HostConnection, NasError> {
        Ok(self.hosts.connection(host_id).await?)
    }

    /// A logged-in API session (fresh: safety checks must see the NAS as it is now).
    pub async fn api(&self, host_id: i64) -> Result<Client, NasError> {
        let connection = self.connection(host_id).await?;
        let endpoint = endpoint(&connection).map_err(NasError::Settings)?;
        Ok(Client::connect(&endpoint, &self.api).await?)
    }

    /// The NAS's SSH host key as the NAS itself publishes it (`ssh.config`), read over the
    /// TLS-verified API: better than trusting whatever answers on port 22 the first time.
    async fn host_key_from_api(&self, host_id: i64) -> Result<Option<String>, NasError> {
        let client = self.api(host_id).await?;
        let config = client.call("ssh.config", json!([])).await?;
        for field in ["host_ed25519_key_pub", "host_ecdsa_key_pub", "host_rsa_key_pub"] {
            let Some(encoded) = config[field].as_str().filter(|v| !v.is_empty()) else { continue };
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok();
            let line = decoded
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .unwrap_or_else(|| encoded.to_owned());
            if russh::keys::PublicKey::from_openssh(line.trim()).is_ok() {
                return Ok(Some(line.trim().to_owned()));
            }
        }
        Ok(None)
    }

    /// A new SSH connection of its own (not the shared one, which is closed when idle): for
    /// the terminal.
    pub async fn dedicated(&self, host_id: i64) -> Result<SshSession, NasError> {
        self.open(host_id).await
    }

    async fn open(&self, host_id: i64) -> Result<SshSession, NasError> {
        let mut connection = self.connection(host_id).await?;
        if connection.ssh_host_key.is_none()
            && let Ok(Some(line)) = self.host_key_from_api(host_id).await
        {
            self.hosts.pin_ssh_host_key(host_id, &line, "api", "system").await?;
            connection = self.connection(host_id).await?;
        }
        let target = SshTarget {
            host: connection.ssh_host.clone(),
            port: connection.ssh_port,
            user: connection.ssh_user.clone(),
            private_key: connection.ssh_private_key.clone(),
            password: connection.ssh_password.clone(),
            host_key: connection.ssh_host_key.clone(),
        };
        Ok(SshSession::connect(&target, &self.ssh).await?)
    }

    fn slot(&self, host_id: i64) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slots.entry(host_id).or_default().clone()
    }

    /// The host's SSH session, opening one if there is none alive.
    pub async fn session(&self, host_id: i64) -> Result<Arc<SshSession>, NasError> {
        let slot = self.slot(host_id);
        let mut kept = slot.kept.lock().await;
        if let Some(current) = kept.as_mut()
            && !current.session.is_closed()
        {
            current.used_at = Instant::now();
            return Ok(current.session.clone());
        }
        let session = Arc::new(self.open(host_id).await?);
        *kept = Some(Kept { session: session.clone(), used_at: Instant::now() });
        Ok(session)
    }

    /// Logs out of sessions no command has used for `idle` (none is mid-command: those are
    /// borrowed). A fleet read once per SMART sweep then holds no SSH connection, nor its
    /// buffers, between sweeps; a running job polls far more often and keeps its session.
    pub async fn close_idle(&self, idle: Duration) -> usize {
        let slots: Vec<Arc<Slot>> = {
            let slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            slots.values().cloned().collect()
        };
        let mut stale = Vec::new();
        for slot in slots {
            // A slot that is busy (connecting, or handing out its session) is not idle.
            let Ok(mut kept) = slot.kept.try_lock() else { continue };
            let idle_now = kept
                .as_ref()
                .is_some_and(|k| k.used_at.elapsed() >= idle && Arc::strong_count(&k.session) == 1);
            if idle_now && let Some(k) = kept.take() {
                stale.push(k.session);
            }
        }
        let closed = stale.len();
        for session in stale {
            if let Ok(session) = Arc::try_unwrap(session) {
                session.close().await;
            }
        }
        closed
    }

    /// Runs a command on the host; a broken session is dropped so the next call reconnects.
    pub async fn run(
        &self,
        host_id: i64,
        command: &RemoteCommand,
    ) -> Result<CommandOutput, NasError> {
        let session = self.session(host_id).await?;
        match session.run(command).await {
            Ok(output) => Ok(output),
            Err(error) => {
                self.drop_session(host_id, &session).await;
                Err(error.into())
            }
        }
    }

    /// Forgets `session` if it is still the host's current one.
    async fn drop_session(&self, host_id: i64, session: &Arc<SshSession>) {
        let slot = self.slot(host_id);
        let mut kept = slot.kept.lock().await;
        if kept.as_ref().is_some_and(|k| Arc::ptr_eq(&k.session, session)) {
            *kept = None;
        }
    }

    pub async fn forget(&self, host_id: i64) {
        let slot = self.slot(host_id);
        *slot.kept.lock().await = None;
    }

    /// A shell on the host: every command through its current session (reconnecting).
    pub fn shell(&self, host_id: i64) -> Shell<'_> {
        Shell { nas: self, host_id, pinned: None }
    }

    /// A shell bound to one session: a check and the start it allows go through the same SSH
    /// connection, and if it drops in between nothing is started on a new one.
    pub async fn pinned_shell(&self, host_id: i64) -> Result<Shell<'_>, NasError> {
        let session = self.session(host_id).await?;
        Ok(Shell { nas: self, host_id, pinned: Some(session) })
    }
}

/// Where commands of a check or a stage go.
pub struct Shell<'a> {
    nas: &'a Nas,
    pub host_id: i64,
    pinned: Option<Arc<SshSession>>,
}

impl Shell<'_> {
    pub async fn run(&self, command: &RemoteCommand) -> Result<CommandOutput, NasError> {
        match &self.pinned {
            None => self.nas.run(self.host_id, command).await,
            Some(session) => match session.run(command).await {
                Ok(output) => Ok(output),
                Err(error) => {
                    self.nas.drop_session(self.host_id, session).await;
                    Err(error.into())
                }
            },
        }
    }

    /// Whether this shell's session is still the one it started with (and still open).
    pub fn still_connected(&self) -> bool {
        self.pinned.as_ref().is_none_or(|session| !session.is_closed())
    }

    pub fn nas(&self) -> &Nas {
        self.nas
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_releases_are_freebsd_and_scale_is_linux() {
        assert_eq!(os_of(Some("TrueNAS-13.3-U1.2")), Os::FreeBsd);
        assert_eq!(os_of(Some("TrueNAS-13.0-U6.8")), Os::FreeBsd);
        assert_eq!(os_of(Some("TrueNAS-SCALE-25.10.6")), Os::Linux);
        assert_eq!(os_of(Some("25.10.6")), Os::Linux);
        assert_eq!(os_of(None), Os::Linux);
    }
}
