//! The terminal: a shell on a NAS in the page. An admin who entered the password within the
//! step-up window asks for a one-time ticket (30 s, bound to the user, the session and the
//! host); the WebSocket upgrade at `/terminal?ticket=…` consumes it and bridges the socket to
//! a PTY over a dedicated SSH connection (the host's stored key, its pinned host key).
//!
//! Frames: binary both ways carry the terminal's bytes; a text frame
//! `{"type":"resize","cols":N,"rows":M}` resizes the PTY. The bridge awaits each send before
//! reading more from SSH, so a slow browser stalls the SSH channel's window instead of
//! growing server memory. It closes on `exit`, after the idle time, when the session ends
//! (sign-out, timeout, password change), when the host is disabled, or when the terminal is
//! turned off in Settings; one audit event marks the open, one the close.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use axum::{
    extract::{
        Query, State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    response::{IntoResponse, Response},
};
use burnin::access::{Action, TERMINAL_TICKET_SECS, TerminalTicket, Via};
use burnin_app::{AppError, backend::Caller};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::time::Instant;

use crate::service::Services;

/// Outstanding tickets: consumed once, dropped when old.
#[derive(Debug, Default)]
pub struct Tickets {
    open: Mutex<HashMap<String, Issued>>,
}

#[derive(Clone, Debug)]
struct Issued {
    user_id: i64,
    session: String,
    host_id: i64,
    at: Instant,
}

impl Tickets {
    fn issue(&self, user_id: i64, session: &str, host_id: i64) -> Result<String, AppError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| AppError::internal(e.to_string()))?;
        let ticket: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut open = self.open.lock().map_err(|_| AppError::internal("tickets poisoned"))?;
        open.retain(|_, issued| issued.at.elapsed() < lifetime());
        open.insert(
            ticket.clone(),
            Issued { user_id, session: session.to_owned(), host_id, at: Instant::now() },
        );
        Ok(ticket)
    }

    /// The ticket's host, once, if it is fresh and was issued to this user and session.
    fn take(&self, ticket: &str, user_id: i64, session: &str) -> Result<i64, AppError> {
        let issued = self.open.lock().ok().and_then(|mut open| open.remove(ticket));
        match issued {
            Some(issued)
                if issued.at.elapsed() < lifetime()
                    && issued.user_id == user_id
                    && issued.session == session =>
            {
                Ok(issued.host_id)
            }
            _ => Err(AppError::refused(
                "This terminal ticket is used, expired or not yours: open the terminal again.",
                Vec::new(),
            )),
        }
    }
}

fn lifetime() -> Duration {
    Duration::from_secs(TERMINAL_TICKET_SECS.into())
}

impl Services {
    /// A ticket to open a terminal on `host_id`: admins only, with the password entered
    /// within the step-up window, in a browser session, while the terminal is on.
    pub async fn terminal_ticket(
        &self,
        caller: Caller,
        host_id: i64,
    ) -> Result<TerminalTicket, AppError> {
        let principal = caller.principal()?;
        principal
            .check(Action::OpenTerminal, crate::auth::now_unix())
            .map_err(crate::service::denied)?;
        let (Some(session), Via::Session { .. }) = (caller.session.as_deref(), &principal.via)
        else {
            return Err(AppError::refused(
                "A terminal opens only from a browser session whose password was just entered, not with an API token or single sign-on.",
                Vec::new(),
            ));
        };
        if !self.settings.read(|s| s.terminal_enabled) {
            return Err(AppError::refused(
                "The terminal is turned off (terminal_enabled in Settings).",
                Vec::new(),
            ));
        }
        let host = self.hosts.get(host_id).await?;
        if !host.enabled {
            return Err(AppError::refused(
                format!("{} is disabled: enable it to open a terminal on it.", host.name),
                Vec::new(),
            ));
        }
        refuse_unless_allowed(&host)?;
        let ticket = self.terminal_tickets.issue(principal.user_id, session, host_id)?;
        Ok(TerminalTicket { ticket, host_id, expires_in_secs: TERMINAL_TICKET_SECS })
    }
}

/// The host's own terminal switch.
fn refuse_unless_allowed(host: &burnin::host::HostView) -> Result<(), AppError> {
    if host.terminal {
        return Ok(());
    }
    let why = if host.api_read_only {
        "its API key has only read-only roles, so the terminal is off by default"
    } else {
        "an admin turned the terminal off for it"
    };
    Err(AppError::refused(
        format!(
            "No terminal on {}: {why}. An admin can allow it in the host's settings (Allow the terminal).",
            host.name
        ),
        Vec::new(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct Open {
    ticket: String,
    #[serde(default = "default_cols")]
    cols: u32,
    #[serde(default = "default_rows")]
    rows: u32,
}

fn default_cols() -> u32 {
    80
}

fn default_rows() -> u32 {
    24
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Control {
    Resize { cols: u32, rows: u32 },
}

/// `GET /terminal?ticket=…&cols=…&rows=…`: the upgrade, after the ticket is checked (and
/// consumed) and the SSH shell is open, so a refusal is an HTTP answer, not a dead socket.
pub async fn terminal_socket(
    State(services): State<Services>,
    axum::Extension(caller): axum::Extension<Caller>,
    query: Result<Query<Open>, axum::extract::rejection::QueryRejection>,
    upgrade: WebSocketUpgrade,
) -> Response {
    match open(&services, &caller, query).await {
        Ok((session, channel, host, open)) => {
            let user = caller.principal.as_ref().map(|p| p.actor()).unwrap_or_default();
            upgrade
                .max_message_size(64 * 1024)
                .on_upgrade(move |socket| async move {
                    bridge(services, caller, user, host, open, session, channel, socket).await
                })
                .into_response()
        }
        Err(error) => error.into_response(),
    }
}

type Shell = (crate::ssh::SshSession, russh::Channel<russh::client::Msg>, (i64, String), Open);

async fn open(
    services: &Services,
    caller: &Caller,
    query: Result<Query<Open>, axum::extract::rejection::QueryRejection>,
) -> Result<Shell, AppError> {
    let Query(open) = query.map_err(|r| {
        AppError::bad_request(format!(
            "{}: open /terminal?ticket=<ticket from POST /api/v1/hosts/ID/terminal>",
            r.body_text()
        ))
    })?;
    let principal = caller.principal()?;
    let session = caller.session.as_deref().unwrap_or_default();
    let host_id = services.terminal_tickets.take(open.ticket.trim(), principal.user_id, session)?;
    principal
        .check(Action::OpenTerminal, crate::auth::now_unix())
        .map_err(crate::service::denied)?;
    if !services.settings.read(|s| s.terminal_enabled) {
        return Err(AppError::refused(
            "The terminal is turned off (terminal_enabled in Settings).",
            Vec::new(),
        ));
    }
    let host = services.hosts.get(host_id).await?;
    if !host.enabled {
        return Err(AppError::refused(format!("{} is disabled.", host.name), Vec::new()));
    }
    refuse_unless_allowed(&host)?;
    let ssh = services
        .engine
        .nas()
        .dedicated(host_id)
        .await
        .map_err(|e| AppError::unavailable(e.to_string()))?;
    let channel = ssh
        .open_shell(open.cols.clamp(10, 1000), open.rows.clamp(2, 500))
        .await
        .map_err(|e| AppError::unavailable(e.to_string()))?;
    Ok((ssh, channel, (host_id, host.name), open))
}

#[expect(clippy::too_many_arguments, reason = "one call site, each a different part")]
async fn bridge(
    services: Services,
    caller: Caller,
    user: String,
    (host_id, host_name): (i64, String),
    open: Open,
    ssh: crate::ssh::SshSession,
    mut channel: russh::Channel<russh::client::Msg>,
    socket: WebSocket,
) {
    let started = Instant::now();
    let (mut sink, mut stream) = socket.split();
    let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
    let record = |action: &'static str, detail: serde_json::Value| {
        let services = services.clone();
        let user = user.clone();
        let host = host_name.clone();
        async move {
            if let Err(error) =
                crate::audit::record(services.db.pool(), &user, action, &host, &detail).await
            {
                tracing::error!(error = %error, "cannot audit the terminal");
            }
        }
    };
    record("terminal.opened", serde_json::json!({"cols": open.cols, "rows": open.rows})).await;
    tracing::info!(user.name = %user, host.name = %host_name, "terminal opened");
    let mut ended = services.auth.ended();
    let mut settings = services.settings.subscribe();
    let mut recheck = tokio::time::interval(Duration::from_secs(5));
    recheck.tick().await;
    let mut last_activity = Instant::now();
    let reason = loop {
        let idle =
            Duration::from_secs(u64::from(services.settings.read(|s| s.terminal_idle_mins)) * 60);
        tokio::select! {
            message = channel.wait() => match message {
                Some(russh::ChannelMsg::Data { data }) | Some(russh::ChannelMsg::ExtendedData { data, .. }) => {
                    bytes_out += data.len() as u64;
                    last_activity = Instant::now();
                    // Awaited: until the browser takes this, nothing more is read from SSH.
                    if sink.send(Message::Binary(data.to_vec().into())).await.is_err() {
                        break "the browser went away";
                    }
                }
                Some(russh::ChannelMsg::ExitStatus { .. }) | Some(russh::ChannelMsg::Eof) => {}
                Some(russh::ChannelMsg::Close) | None => break "the shell ended",
                Some(_) => {}
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Binary(data))) => {
                    bytes_in += data.len() as u64;
                    last_activity = Instant::now();
                    if channel.data_bytes(data).await.is_err() {
                        break "the SSH connection dropped";
                    }
                }
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<Control>(&text) {
                    Ok(Control::Resize { cols, rows }) => {
                        let _ = channel.window_change(cols.clamp(10, 1000), rows.clamp(2, 500), 0, 0).await;
                    }
                    Err(_) => {
                        bytes_in += text.len() as u64;
                        last_activity = Instant::now();
                        if channel.data_bytes(text.as_bytes().to_vec()).await.is_err() {
                            break "the SSH connection dropped";
                        }
                    }
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break "the browser closed it",
                Some(Ok(_)) => {}
            },
            changed = ended.changed() => {
                if changed.is_err() || !session_alive(&services, &caller).await {
                    break "the session ended";
                }
            }
            changed = settings.changed() => {
                if changed.is_err() || !services.settings.read(|s| s.terminal_enabled) {
                    break "the terminal was turned off";
                }
            }
            _ = recheck.tick() => {
                if !session_alive(&services, &caller).await {
                    break "the session ended";
                }
                if !services.hosts.get(host_id).await.is_ok_and(|h| h.enabled) {
                    break "the host was disabled";
                }
                if last_activity.elapsed() >= idle {
                    break "it was idle too long";
                }
            }
        }
    };
    let _ = sink.send(Message::Close(None)).await;
    let _ = channel.close().await;
    ssh.close().await;
    let seconds = started.elapsed().as_secs();
    tracing::info!(user.name = %user, host.name = %host_name, terminal.reason = reason, duration_secs = seconds, "terminal closed");
    record(
        "terminal.closed",
        serde_json::json!({"reason": reason, "duration_secs": seconds, "bytes_in": bytes_in, "bytes_out": bytes_out}),
    )
    .await;
}

async fn session_alive(services: &Services, caller: &Caller) -> bool {
    match caller.session.as_deref() {
        Some(session) => services.auth.session_alive(session).await,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_works_once_for_its_own_session_and_not_after_thirty_seconds() {
        let tickets = Tickets::default();
        let ticket = tickets.issue(1, "session-a", 7).expect("issued");
        assert!(tickets.take(&ticket, 1, "session-b").is_err(), "another session used it");
        let ticket = tickets.issue(1, "session-a", 7).expect("issued");
        assert!(tickets.take(&ticket, 2, "session-a").is_err(), "another user used it");
        let ticket = tickets.issue(1, "session-a", 7).expect("issued");
        assert_eq!(tickets.take(&ticket, 1, "session-a").ok(), Some(7));
        assert!(tickets.take(&ticket, 1, "session-a").is_err(), "used twice");
        let ticket = tickets.issue(1, "session-a", 7).expect("issued");
        if let Ok(mut open) = tickets.open.lock()
            && let Some(issued) = open.get_mut(&ticket)
        {
            issued.at =
                Instant::now().checked_sub(Duration::from_secs(31)).expect("a past instant");
        }
        assert!(tickets.take(&ticket, 1, "session-a").is_err(), "an expired ticket opened");
    }
}
