//! The simulated host's SSH server (russh): public-key login for the scenario's user, `exec`
//! requests answered by the restricted interpreter, and the SSH faults on demand.

pub mod interp;

use std::{path::Path, sync::Arc, time::Duration};

use russh::{
    ChannelId,
    server::{Auth, Msg, Session, VerifiedPublicKey},
};
use tokio::{net::TcpListener, sync::Notify};

use crate::{HostCore, SimError};

pub type HostKey = russh::keys::PrivateKey;

/// Reads the host key at `path`, or creates it (mode 0600) so restarts keep the same key and
/// a client's pin stays valid. Without a path, a fresh key.
pub fn load_or_create_host_key(path: Option<&Path>) -> Result<HostKey, SimError> {
    let error = |path: &Path, reason: String| SimError::HostKey {
        path: path.display().to_string(),
        reason,
    };
    if let Some(path) = path
        && let Ok(text) = std::fs::read_to_string(path)
    {
        return HostKey::from_openssh(text.trim()).map_err(|e| error(path, e.to_string()));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| SimError::HostKey { path: "(random)".into(), reason: e.to_string() })?;
    let key = HostKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed));
    if let Some(path) = path {
        let text = key
            .to_openssh(russh::keys::ssh_key::LineEnding::LF)
            .map_err(|e| error(path, e.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        use std::io::Write as _;
        let mut file = options.open(path).map_err(|e| error(path, e.to_string()))?;
        file.write_all(text.as_bytes()).map_err(|e| error(path, e.to_string()))?;
    }
    Ok(key)
}

/// The host key as an OpenSSH public key line (`ssh-ed25519 AAAA…`).
pub fn public_key_openssh(key: &HostKey) -> String {
    key.public_key().to_openssh().unwrap_or_default()
}

pub async fn serve(host: Arc<HostCore>, listener: TcpListener, key: HostKey) {
    let config = Arc::new(russh::server::Config {
        keys: vec![key],
        inactivity_timeout: Some(Duration::from_secs(3600)),
        auth_rejection_time: Duration::from_millis(50),
        auth_rejection_time_initial: Some(Duration::ZERO),
        ..Default::default()
    });
    loop {
        let Ok((mut tcp, _peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let faults = host.faults();
        if faults.offline || faults.ssh_refuse {
            drop(tcp);
            host.note_refused_ssh();
            continue;
        }
        // russh runs on one end of a pipe and a relay copies to the socket, so a fault can cut
        // the connection at once, as a pulled cable or a rebooting NAS would.
        let (server_side, mut relay_side) = tokio::io::duplex(256 * 1024);
        let cut = Arc::new(Notify::new());
        let mut kill = host.ssh_kill.subscribe();
        let relay_cut = cut.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut tcp, &mut relay_side) => {}
                _ = kill.changed() => {}
                () = relay_cut.notified() => {}
            }
        });
        let handler = Connection { host: host.clone(), cut, terminals: Default::default() };
        let config = config.clone();
        tokio::spawn(async move {
            if let Ok(session) = russh::server::run_stream(config, server_side, handler).await {
                let _ = session.await;
            }
        });
    }
}

struct Connection {
    host: Arc<HostCore>,
    cut: Arc<Notify>,
    /// Channels with a pseudo-terminal: their size and the line being typed.
    terminals: std::collections::HashMap<ChannelId, Terminal>,
}

/// A pseudo-terminal's state on one channel.
struct Terminal {
    cols: u32,
    rows: u32,
    line: Vec<u8>,
    /// Inside an escape sequence.
    escape: bool,
}

impl Connection {
    fn prompt(&self) -> Vec<u8> {
        format!("root@{}[~]# ", self.host.spec.name).into_bytes()
    }
}

fn reject() -> Auth {
    Auth::Reject { proceed_with_methods: None, partial_success: false }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        let spec = &self.host.spec;
        if user != spec.ssh_user {
            return Ok(reject());
        }
        let allowed = spec.authorized_keys.iter().any(|line| {
            russh::keys::PublicKey::from_openssh(line.trim())
                .is_ok_and(|allowed| allowed.key_data() == key.public_key.key_data())
        });
        Ok(if allowed { Auth::Accept } else { reject() })
    }

    async fn auth_password(&mut self, _user: &str, _password: &str) -> Result<Auth, Self::Error> {
        Ok(reject())
    }

    async fn channel_open_session(
        &mut self,
        _channel: russh::Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.terminals.insert(
            channel,
            Terminal { cols: col_width, rows: row_height, line: Vec::new(), escape: false },
        );
        session.channel_success(channel)?;
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if let Some(terminal) = self.terminals.get_mut(&channel) {
            terminal.cols = col_width;
            terminal.rows = row_height;
        }
        Ok(())
    }

    /// An interactive shell needs a terminal first, as TrueNAS's does.
    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if !self.terminals.contains_key(&channel) {
            session.channel_failure(channel)?;
            return Ok(());
        }
        session.channel_success(channel)?;
        session.data(channel, self.prompt())?;
        Ok(())
    }

    /// Keys typed into the shell: echoed as a terminal in cooked mode would, each line run
    /// when Enter comes.
    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let prompt = self.prompt();
        let Some(terminal) = self.terminals.get_mut(&channel) else { return Ok(()) };
        let mut echo = Vec::new();
        let mut lines = Vec::new();
        for &byte in data {
            match byte {
                // Escape sequences (arrows, bracketed paste markers) are not line input.
                0x1b => terminal.escape = true,
                b if terminal.escape => terminal.escape = !(b.is_ascii_alphabetic() || b == b'~'),
                b'\r' | b'\n' => {
                    echo.extend_from_slice(b"\r\n");
                    lines.push(
                        String::from_utf8_lossy(&std::mem::take(&mut terminal.line)).into_owned(),
                    );
                }
                0x7f | 0x08 => {
                    let erased = terminal.line.pop().is_some();
                    echo.extend_from_slice(if erased { b"\x08 \x08" } else { b"" });
                }
                0x03 => {
                    terminal.line.clear();
                    echo.extend_from_slice(b"^C\r\n");
                    echo.extend_from_slice(&prompt);
                }
                b if b >= 0x20 => {
                    terminal.line.push(b);
                    echo.push(b);
                }
                _ => {}
            }
        }
        let (cols, rows) = (terminal.cols, terminal.rows);
        if !echo.is_empty() {
            session.data(channel, echo)?;
        }
        for line in lines {
            let line = line.trim();
            if line == "exit" || line == "logout" {
                session.exit_status_request(channel, 0)?;
                session.eof(channel)?;
                session.close(channel)?;
                self.terminals.remove(&channel);
                return Ok(());
            }
            let output: Vec<u8> = if line.is_empty() {
                Vec::new()
            } else if line == "stty size" {
                format!("{rows} {cols}\n").into_bytes()
            } else if let Some(text) = line.strip_prefix("echo ") {
                format!("{}\n", text.replace(['\'', '"'], "")).into_bytes()
            } else {
                let output = interp::execute(&self.host, line);
                [output.stdout, output.stderr].concat()
            };
            // The terminal's line discipline turns each newline into CR LF.
            let mut shown = Vec::with_capacity(output.len() + 16);
            for byte in output {
                if byte == b'\n' {
                    shown.push(b'\r');
                }
                shown.push(byte);
            }
            shown.extend_from_slice(&prompt);
            session.data(channel, shown)?;
        }
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)?;
        let line = String::from_utf8_lossy(data).into_owned();
        let Some(command) = interp::parse(&line) else {
            let output = interp::execute(&self.host, &line);
            session.extended_data(channel, 1, output.stderr)?;
            session.exit_status_request(channel, output.exit_code)?;
            session.eof(channel)?;
            session.close(channel)?;
            return Ok(());
        };
        let kind = crate::host::CommandKind::of(&command);
        self.host.wait_while_held(kind).await;
        let (output, lose_reply) = self.host.with(|state| {
            let lose_reply = match &mut state.faults.drop_reply {
                Some((dropped, count)) if *dropped == kind && *count > 0 => {
                    *count -= 1;
                    true
                }
                _ => false,
            };
            (interp::run(state, command), lose_reply)
        });
        if lose_reply {
            // The command ran; its answer is lost with the link.
            self.cut.notify_one();
            return Ok(());
        }
        if let Some(after_ms) = self.host.faults().ssh_drop_after_ms {
            // Part of the answer, then the link dies with no exit status.
            let half = output.stdout.len() / 2;
            session.data(channel, output.stdout[..half].to_vec())?;
            let cut = self.cut.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(after_ms)).await;
                cut.notify_one();
            });
            return Ok(());
        }
        if !output.stdout.is_empty() {
            session.data(channel, output.stdout)?;
        }
        if !output.stderr.is_empty() {
            session.extended_data(channel, 1, output.stderr)?;
        }
        session.exit_status_request(channel, output.exit_code)?;
        session.eof(channel)?;
        session.close(channel)?;
        Ok(())
    }
}
