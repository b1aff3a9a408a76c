//! SSH to a NAS (russh): key login from the stored key (a password as the fallback), the host
//! key checked against a pin, and commands built only from `burnin::remote` types.
//!
//! russh accepts no server key by default, and its own examples accept every key
//! (reference/security.md §6.1). Here a key is accepted only if it equals the pinned one; an
//! unknown key is refused with its fingerprint so the operator can confirm it, and a changed
//! key is refused outright.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use burnin::remote::RemoteCommand;
use russh::{
    ChannelMsg,
    client::{self, Handle},
    keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate},
};

use crate::secrets::Secret;

/// Where and as whom to log in. `Debug` redacts the credentials (through [`Secret`]).
#[derive(Clone, Debug)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub private_key: Option<Secret>,
    pub password: Option<Secret>,
    /// The pinned host key, an OpenSSH public key line. `None`: refuse, reporting the key
    /// presented, so it can be confirmed and pinned.
    pub host_key: Option<String>,
}

/// The most output one command may print (stdout and stderr together).
pub const MAX_COMMAND_OUTPUT: usize = 16 << 20;

#[derive(Clone, Debug)]
pub struct SshOptions {
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub keepalive: Duration,
}

impl Default for SshOptions {
    fn default() -> SshOptions {
        SshOptions {
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(60),
            keepalive: Duration::from_secs(15),
        }
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum SshError {
    #[error(
        "cannot reach SSH at {address}: {cause}. Check the SSH address and that the SSH service is enabled on the NAS"
    )]
    Unreachable { address: String, cause: String },
    #[error("{what} over SSH did not finish within {} s", after.as_secs())]
    Timeout { what: String, after: Duration },
    #[error(
        "the NAS's SSH host key {presented} is not pinned yet: confirm this fingerprint in the host's settings"
    )]
    HostKeyUnknown { presented: String, key: String },
    #[error(
        "the NAS's SSH host key changed: it presents {presented}, not the pinned {expected}. If the NAS was reinstalled, \
         pin the new key in the host's settings; otherwise someone may be intercepting the connection"
    )]
    HostKeyChanged { presented: String, expected: String },
    #[error(
        "SSH login as {user} was refused: check the user and the private key (or password) in the host's settings"
    )]
    AuthFailed { user: String },
    #[error(
        "the stored SSH private key cannot be used: {0}. Paste an unencrypted OpenSSH or PEM key"
    )]
    BadKey(String),
    #[error("no SSH private key or password is stored: add one in the host's settings")]
    NoCredentials,
    #[error("the SSH connection dropped before the command finished")]
    Dropped,
    #[error(
        "{what} printed more than {} MiB over SSH; its output was cut off and the command stopped", limit >> 20
    )]
    TooMuchOutput { what: String, limit: usize },
    #[error("SSH protocol error: {0}")]
    Protocol(String),
}

/// What a command printed and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: u32,
}

impl CommandOutput {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_owned()
    }
}

/// SHA-256 fingerprint of a public key, as `ssh-keygen -l` shows it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

struct Verifier {
    pinned: Option<PublicKey>,
    presented: Arc<Mutex<Option<PublicKey>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = server_key else {
            // Host certificates are not used by TrueNAS; without a CA configured, refuse.
            return Ok(false);
        };
        if let Ok(mut slot) = self.presented.lock() {
            *slot = Some(key.clone());
        }
        Ok(self.pinned.as_ref().is_some_and(|pinned| pinned.key_data() == key.key_data()))
    }
}

/// One logged-in SSH connection.
pub struct SshSession {
    handle: Handle<Verifier>,
    options: SshOptions,
    host_key: PublicKey,
}

impl SshSession {
    pub async fn connect(target: &SshTarget, options: &SshOptions) -> Result<SshSession, SshError> {
        let address = format!("{}:{}", target.host, target.port);
        let pinned = match &target.host_key {
            Some(line) => Some(PublicKey::from_openssh(line.trim()).map_err(|e| {
                SshError::Protocol(format!("the pinned host key is unreadable: {e}"))
            })?),
            None => None,
        };
        let presented = Arc::new(Mutex::new(None));
        let verifier = Verifier { pinned: pinned.clone(), presented: presented.clone() };
        let config = Arc::new(client::Config {
            inactivity_timeout: None,
            keepalive_interval: Some(options.keepalive),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        });
        let connecting = client::connect(config, (target.host.as_str(), target.port), verifier);
        let result =
            tokio::time::timeout(options.connect_timeout, connecting).await.map_err(|_| {
                SshError::Timeout {
                    what: format!("connecting to {address}"),
                    after: options.connect_timeout,
                }
            })?;
        let mut handle = match result {
            Ok(handle) => handle,
            Err(error) => {
                let seen = presented.lock().ok().and_then(|p| p.clone());
                return Err(match (seen, &pinned) {
                    (Some(key), None) => SshError::HostKeyUnknown {
                        presented: fingerprint(&key),
                        key: key.to_openssh().unwrap_or_default(),
                    },
                    (Some(key), Some(pin)) if key.key_data() != pin.key_data() => {
                        SshError::HostKeyChanged {
                            presented: fingerprint(&key),
                            expected: fingerprint(pin),
                        }
                    }
                    _ => SshError::Unreachable { address, cause: error.to_string() },
                });
            }
        };
        let host_key = presented
            .lock()
            .ok()
            .and_then(|p| p.clone())
            .ok_or_else(|| SshError::Protocol("the server presented no host key".into()))?;
        let authenticated = if let Some(key) = &target.private_key {
            let key = russh::keys::decode_secret_key(key.expose().trim(), None)
                .map_err(|e| SshError::BadKey(e.to_string()))?;
            let hash = handle
                .best_supported_rsa_hash()
                .await
                .map_err(|e| SshError::Protocol(e.to_string()))?
                .flatten();
            handle
                .authenticate_publickey(
                    &target.user,
                    PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                )
                .await
                .map_err(|e| SshError::Protocol(e.to_string()))?
                .success()
        } else {
            false
        };
        let authenticated = authenticated
            || match &target.password {
                Some(password) => handle
                    .authenticate_password(&target.user, password.expose())
                    .await
                    .map_err(|e| SshError::Protocol(e.to_string()))?
                    .success(),
                None if target.private_key.is_none() => return Err(SshError::NoCredentials),
                None => false,
            };
        if !authenticated {
            return Err(SshError::AuthFailed { user: target.user.clone() });
        }
        Ok(SshSession { handle, options: options.clone(), host_key })
    }

    /// The host key the server presented (equal to the pin).
    pub fn host_key(&self) -> &PublicKey {
        &self.host_key
    }

    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Runs a command and collects its output. A connection that drops before the exit
    /// status arrives is [`SshError::Dropped`], never a success. The line sent is the command's
    /// wire form: run by `sh` under `env LC_ALL=C`, whatever the login shell is.
    pub async fn run(&self, command: &RemoteCommand) -> Result<CommandOutput, SshError> {
        let line = command.wire();
        let timeout = self.options.command_timeout;
        tokio::time::timeout(timeout, self.exec(&line, command.what()))
            .await
            .map_err(|_| SshError::Timeout { what: command.what().to_owned(), after: timeout })?
    }

    async fn exec(&self, line: &str, what: &str) -> Result<CommandOutput, SshError> {
        let mut channel =
            self.handle.channel_open_session().await.map_err(|_| SshError::Dropped)?;
        channel.exec(true, line.as_bytes()).await.map_err(|_| SshError::Dropped)?;
        let mut output = CommandOutput::default();
        let mut status = None;
        while let Some(message) = channel.wait().await {
            // Every command reads bounded chunks; one that floods is broken or hostile, and its
            // output must not grow the dashboard's memory without end.
            if output.stdout.len() + output.stderr.len() > MAX_COMMAND_OUTPUT {
                let _ = channel.close().await;
                return Err(SshError::TooMuchOutput {
                    what: what.to_owned(),
                    limit: MAX_COMMAND_OUTPUT,
                });
            }
            match message {
                ChannelMsg::Data { data } => output.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => output.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::ExitSignal { .. } => status = Some(255),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        output.exit_code = status.ok_or(SshError::Dropped)?;
        Ok(output)
    }

    /// Opens an interactive login shell on a pseudo-terminal (`xterm-256color`).
    pub async fn open_shell(
        &self,
        cols: u32,
        rows: u32,
    ) -> Result<russh::Channel<russh::client::Msg>, SshError> {
        let channel = self.handle.channel_open_session().await.map_err(|_| SshError::Dropped)?;
        channel
            .request_pty(true, "xterm-256color", cols, rows, 0, 0, &[])
            .await
            .map_err(|e| SshError::Protocol(format!("the NAS refused a terminal: {e}")))?;
        channel
            .request_shell(true)
            .await
            .map_err(|e| SshError::Protocol(format!("the NAS refused a shell: {e}")))?;
        Ok(channel)
    }

    pub async fn close(self) {
        let _ = self.handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;
    }
}
