//! One API connection: framing for both dialects, authentication state, subscriptions.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

use super::{
    MAX_MESSAGE_UNAUTHENTICATED,
    error::CallError,
    methods::{self, Effect},
};
use crate::{HostCore, HostEvent, clock::mix};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// JSON-RPC 2.0 at `/api/current`.
    JsonRpc,
    /// The DDP-style protocol at `/websocket`.
    Legacy,
}

pub struct Session {
    pub dialect: Dialect,
    pub authenticated: bool,
    /// TLS or loopback: where a plain API key may be sent without being revoked.
    pub secure_transport: bool,
    /// Legacy only: the `connect` handshake happened.
    connected: bool,
    ids: u64,
    subscriptions: Vec<(String, String)>,
}

impl Session {
    /// A fresh uuid4-shaped identifier.
    pub fn new_id(&mut self) -> String {
        self.ids += 1;
        let a = mix(self.ids ^ 0x5eed);
        let b = mix(a);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a as u32,
            (a >> 32) as u16,
            (a >> 48) as u16 & 0xfff,
            (b as u16 & 0x3fff) | 0x8000,
            b >> 16 & 0xffff_ffff_ffff
        )
    }

    fn wants(&self, collection: &str) -> Option<&str> {
        self.subscriptions
            .iter()
            .find(|(_, name)| name.split(':').next() == Some(collection))
            .map(|(id, _)| id.as_str())
    }
}

pub async fn run(host: Arc<HostCore>, socket: WebSocket, dialect: Dialect, secure: bool) {
    let mut session = Session {
        dialect,
        authenticated: false,
        secure_transport: secure,
        connected: false,
        ids: host.session_seed(),
        subscriptions: Vec::new(),
    };
    let (mut sink, mut stream) = socket.split();
    let mut kill = host.api_kill.subscribe();
    let mut events = host.events.subscribe();
    loop {
        tokio::select! {
            changed = kill.changed() => {
                // The "WebSocket dropped" fault: the connection just ends, as when a NAS
                // reboots or a middleware restart kills it; no close handshake.
                if changed.is_ok() {
                    return;
                }
            }
            event = events.recv() => {
                if let Ok(event) = event
                    && let Some(frame) = render_event(&session, &event)
                    && sink.send(Message::Text(frame.into())).await.is_err()
                {
                    return;
                }
            }
            message = stream.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        let reply = protocol_error(&session, Value::Null, "Binary messages are not supported");
                        if sink.send(Message::Text(reply.into())).await.is_err() { return; }
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                };
                if !session.authenticated && text.len() > MAX_MESSAGE_UNAUTHENTICATED {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame { code: 1009, reason: Utf8Bytes::from_static("Max message length exceeded") })))
                        .await;
                    return;
                }
                let delay = host.faults().api_delay_ms;
                if delay > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                }
                let replies = match dialect {
                    Dialect::JsonRpc => handle_jsonrpc(&host, &mut session, &text),
                    Dialect::Legacy => handle_legacy(&host, &mut session, &text),
                };
                for reply in replies {
                    if sink.send(Message::Text(reply.into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

fn render_event(session: &Session, event: &HostEvent) -> Option<String> {
    session.wants(&event.collection)?;
    let body = json!({"msg": event.msg, "collection": event.collection, "id": event.id, "fields": event.fields});
    Some(match session.dialect {
        Dialect::JsonRpc => {
            json!({"jsonrpc": "2.0", "method": "collection_update", "params": body}).to_string()
        }
        Dialect::Legacy => body.to_string(),
    })
}

fn protocol_error(session: &Session, id: Value, reason: &str) -> String {
    match session.dialect {
        Dialect::JsonRpc => json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32600, "message": "Invalid Request", "data": {"error": 22, "errname": "EINVAL", "reason": reason, "trace": null, "extra": []}}}).to_string(),
        Dialect::Legacy => json!({"msg": "result", "id": id, "error": {"error": 22, "errname": "EINVAL", "type": null, "reason": reason, "trace": null, "extra": null}}).to_string(),
    }
}

fn dispatch(
    host: &HostCore,
    session: &mut Session,
    method: &str,
    params: &[Value],
) -> Result<Value, CallError> {
    let uptime = host.uptime_seconds();
    let (result, effect) =
        host.with(|state| methods::call(state, session, method, params, uptime))?;
    match effect {
        Effect::None => {}
        Effect::Subscribe { id, name } => session.subscriptions.push((id, name)),
        Effect::Unsubscribe { id } => session.subscriptions.retain(|(sub, _)| *sub != id),
    }
    Ok(result)
}

fn handle_jsonrpc(host: &HostCore, session: &mut Session, text: &str) -> Vec<String> {
    let error = |id: Value, code: i64, message: &str, reason: &str| {
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message, "data": {"error": 22, "errname": "EINVAL", "reason": reason, "trace": null, "extra": []}}}).to_string()
    };
    let request: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(cause) => return vec![error(Value::Null, -32700, "Parse error", &cause.to_string())],
    };
    if request.is_array() {
        return vec![error(
            Value::Null,
            -32600,
            "Invalid Request",
            "Batch requests are not supported",
        )];
    }
    let id = request.get("id").cloned();
    let reply_id = id.clone().unwrap_or(Value::Null);
    let (Some("2.0"), Some(method)) = (request["jsonrpc"].as_str(), request["method"].as_str())
    else {
        return vec![error(
            reply_id,
            -32600,
            "Invalid Request",
            "`jsonrpc` must be \"2.0\" and `method` a string",
        )];
    };
    let params = match request.get("params") {
        None => Vec::new(),
        Some(Value::Array(params)) => params.clone(),
        Some(_) => {
            return vec![error(reply_id, -32602, "Invalid params", "`params` must be a list")];
        }
    };
    let result = dispatch(host, session, method, &params);
    // A request without an id is a notification: run it, answer nothing.
    let Some(id) = id else { return Vec::new() };
    vec![match result {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string(),
        Err(call_error) => {
            json!({"jsonrpc": "2.0", "id": id, "error": call_error.to_jsonrpc()}).to_string()
        }
    }]
}

fn handle_legacy(host: &HostCore, session: &mut Session, text: &str) -> Vec<String> {
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        return vec![protocol_error(session, Value::Null, "Invalid JSON message")];
    };
    let kind = message["msg"].as_str().unwrap_or("");
    if !session.connected {
        if kind != "connect" {
            return vec![json!({"msg": "failed", "version": "1"}).to_string()];
        }
        let supported = message["version"] == "1"
            && message["support"].as_array().is_some_and(|list| list.iter().any(|v| v == "1"));
        if !supported {
            return vec![json!({"msg": "failed", "version": "1"}).to_string()];
        }
        session.connected = true;
        let id = session.new_id();
        return vec![json!({"msg": "connected", "session": id}).to_string()];
    }
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    match kind {
        "ping" if host.personality().is_core() => {
            let mut pong = json!({"msg": "pong"});
            if !id.is_null() {
                pong["id"] = id;
            }
            vec![pong.to_string()]
        }
        "method" => {
            let method = message["method"].as_str().unwrap_or("");
            let params = message["params"].as_array().cloned().unwrap_or_default();
            match dispatch(host, session, method, &params) {
                Ok(result) => {
                    vec![json!({"msg": "result", "id": id, "result": result}).to_string()]
                }
                Err(call_error) => vec![
                    json!({"msg": "result", "id": id, "error": call_error.to_legacy()}).to_string(),
                ],
            }
        }
        "sub" => {
            let name = message["name"].as_str().unwrap_or("").to_owned();
            let sub_id = id.as_str().unwrap_or("").to_owned();
            if !session.authenticated {
                return vec![json!({"msg": "nosub", "id": id, "error": CallError::NotAuthenticated.to_legacy()}).to_string()];
            }
            session.subscriptions.push((sub_id.clone(), name));
            vec![json!({"msg": "ready", "subs": [sub_id]}).to_string()]
        }
        "unsub" => {
            let sub_id = id.as_str().unwrap_or("").to_owned();
            session.subscriptions.retain(|(sub, _)| *sub != sub_id);
            Vec::new()
        }
        _ => vec![protocol_error(session, id, "Unknown message type")],
    }
}
