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
use burnin::live::ServerMessage;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::Hub;

/// Opens a live channel: a snapshot, then deltas.
pub async fn live_socket(State(hub): State<Hub>, upgrade: WebSocketUpgrade) -> Response {
    // Clients only ever send tiny control messages.
    upgrade.max_message_size(1024).on_upgrade(move |socket| serve(hub, socket))
}

async fn serve(hub: Hub, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (snapshot, mut deltas) = hub.subscribe().await;
    let mut version = snapshot.version;
    if send(&mut sink, &ServerMessage::Snapshot(snapshot)).await.is_err() {
        return;
    }
    // Proxies close idle connections; a ping every 20 s keeps this one open and tells a dead
    // peer from a quiet one.
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    ping.tick().await;
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
                    if send(&mut sink, &ServerMessage::Snapshot(snapshot)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) if text.as_str() == "resync" => {
                    let snapshot = hub.snapshot().await;
                    version = snapshot.version;
                    if send(&mut sink, &ServerMessage::Snapshot(snapshot)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: &ServerMessage,
) -> Result<(), axum::Error> {
    let json = serde_json::to_string(message).unwrap_or_default();
    sink.send(Message::Text(json.into())).await
}
