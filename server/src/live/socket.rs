//! `GET /live`: the WebSocket each dashboard tab holds open. The cross-site guard in front
//! of every route refuses upgrades from other sites (axum checks no Origin itself).

use std::time::Duration;

use axum::{
    extract::{
        State, WebSocketUpgrade,
        ws::{Message, WebSocket},
    },
    response::Response,
};
use burnin::live::Snapshot;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::Hub;

/// Drives per snapshot message: ~350 B each, so a part stays near 22 KiB and so does the
/// write buffer each connection keeps (a whole 1,000-drive snapshot is 320 KiB).
const SNAPSHOT_DRIVES_PER_MESSAGE: usize = 64;

/// A client may ask for a fresh snapshot this often at most; more asks wait their turn (a
/// snapshot of 5,000 drives is 1.6 MB of work, and a client loops on a bug, not on need).
const RESYNC_EVERY: Duration = Duration::from_secs(2);

type Open = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>;

/// One open channel counted against its user; uncounted when dropped.
struct Counted(Open, String);

impl Counted {
    fn take(channels: &Open, user: &str, limit: usize) -> Option<Counted> {
        let mut open = channels.lock().ok()?;
        let count = open.entry(user.to_owned()).or_default();
        if *count >= limit.max(1) {
            return None;
        }
        *count += 1;
        Some(Counted(channels.clone(), user.to_owned()))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Ok(mut open) = self.0.lock()
            && let Some(count) = open.get_mut(&self.1)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.1);
            }
        }
    }
}

/// Opens a live channel: a snapshot, then deltas.
/// Its door (signed in, may view) is checked before the upgrade; the channel closes when the
/// credential it was opened with stops working (sign-out, password change, disabled user,
/// timeout, a revoked token).
pub async fn live_socket(
    State(hub): State<Hub>,
    State(auth): State<crate::auth::Auth>,
    State(settings): State<crate::settings::Live>,
    axum::Extension(caller): axum::Extension<burnin_app::backend::Caller>,
    upgrade: WebSocketUpgrade,
) -> Response {
    use axum::response::IntoResponse as _;
    let user = caller.principal.as_ref().map(|p| p.name.clone()).unwrap_or_default();
    let limit = settings.read(|s| s.live_connections_per_user) as usize;
    let Some(counted) = Counted::take(&hub.channels, &user, limit) else {
        tracing::warn!(user.name = %user, live.limit = limit, "live channel refused: too many open");
        return burnin_app::AppError::new(
            burnin_app::ErrorKind::TooMany,
            format!(
                "{user} already has {limit} live channels open (live_connections_per_user in Settings); close a tab or raise the limit"
            ),
        )
        .into_response();
    };
    // Clients only ever send tiny control messages: a 4 KiB read buffer, not 128 KiB, per tab.
    upgrade.max_message_size(1024).read_buffer_size(4096).on_upgrade(move |socket| async move {
        serve(hub, auth, caller, socket).await;
        drop(counted);
    })
}

/// Whether the credential the channel was opened with still works.
async fn still_signed_in(auth: &crate::auth::Auth, caller: &burnin_app::backend::Caller) -> bool {
    match (&caller.session, caller.principal.as_ref().map(|p| &p.via)) {
        (Some(session), _) => auth.session_alive(session).await,
        (None, Some(burnin::access::Via::Token { token_id })) => auth.token_alive(*token_id).await,
        // A proxy's user is re-checked by the proxy on every request it forwards.
        _ => true,
    }
}

async fn serve(
    hub: Hub,
    auth: crate::auth::Auth,
    caller: burnin_app::backend::Caller,
    socket: WebSocket,
) {
    let mut ended = auth.ended();
    // Timeouts end sessions without an event: look again now and then.
    let mut recheck = tokio::time::interval(Duration::from_secs(60));
    recheck.tick().await;
    let (mut sink, mut stream) = socket.split();
    let (snapshot, mut deltas) = hub.subscribe().await;
    let mut version = snapshot.version;
    if send_snapshot(&mut sink, snapshot).await.is_err() {
        return;
    }
    // Proxies close idle connections; a ping every 20 s keeps this one open and tells a dead
    // peer from a quiet one.
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    ping.tick().await;
    let mut last_resync: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            delta = deltas.recv() => match delta {
                Ok(outgoing) => {
                    if outgoing.message.version() <= version {
                        continue;
                    }
                    version = outgoing.message.version();
                    if sink.send(Message::Text(outgoing.json.clone().into())).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(skipped)) => {
                    // The client fell behind the channel: a fresh snapshot is cheaper than the
                    // backlog, and deltas older than it are skipped above.
                    tracing::debug!(live.skipped = skipped, "live client lagged; sending a snapshot");
                    let snapshot = hub.snapshot().await;
                    version = snapshot.version;
                    if send_snapshot(&mut sink, snapshot).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) if text.as_str() == "resync" => {
                    if let Some(at) = last_resync {
                        tokio::time::sleep_until(at + RESYNC_EVERY).await;
                    }
                    last_resync = Some(tokio::time::Instant::now());
                    let snapshot = hub.snapshot().await;
                    version = snapshot.version;
                    if send_snapshot(&mut sink, snapshot).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            changed = ended.changed() => {
                if changed.is_err() || !still_signed_in(&auth, &caller).await {
                    let _ = sink.send(Message::Close(None)).await;
                    return;
                }
            }
            _ = recheck.tick() => {
                if !still_signed_in(&auth, &caller).await {
                    let _ = sink.send(Message::Close(None)).await;
                    return;
                }
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends a snapshot in parts, back to back (no delta comes between them), each flushed on its
/// own so the connection's write buffer never holds more than one.
async fn send_snapshot(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    snapshot: Snapshot,
) -> Result<(), axum::Error> {
    for message in snapshot.into_messages(SNAPSHOT_DRIVES_PER_MESSAGE) {
        let json = serde_json::to_string(&message).unwrap_or_default();
        sink.send(Message::Text(json.into())).await?;
    }
    Ok(())
}
