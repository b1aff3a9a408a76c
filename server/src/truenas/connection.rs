//! One authenticated WebSocket session to a host. A task owns the socket; calls reach it
//! through a channel and get their answer through a oneshot, matched by request id.

use std::{collections::HashMap, time::Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::{
    net::TcpStream,
    sync::{broadcast, mpsc, oneshot, watch},
    task::JoinHandle,
};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, client_async_with_config,
    tungstenite::{Message, protocol::WebSocketConfig},
};

/// The largest message taken from a NAS: `disk.query` of a 1,000-drive shelf is about 2 MB,
/// so 32 MiB is room for any real answer and a bound on what a broken or hostile NAS can make
/// the dashboard hold.
pub const MAX_MESSAGE_BYTES: usize = 32 << 20;

use super::{
    Address, ClientOptions, Dialect, Endpoint, TlsTrust, TrueNasError, call_error, discover,
    login_outcome, login_request, stream,
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Reply = oneshot::Sender<Result<Value, TrueNasError>>;

/// A `collection_update` (JSON-RPC) or `added`/`changed`/`removed` frame (legacy).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub collection: String,
    pub msg: String,
    pub id: Value,
    pub fields: Value,
}

enum Command {
    Call { method: String, params: Value, reply: Reply },
    Subscribe { name: String, reply: Reply },
}

pub struct Client {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    closed: watch::Receiver<bool>,
    dialect: Dialect,
    version: Option<String>,
    hostname: Option<String>,
    options: ClientOptions,
    task: JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("dialect", &self.dialect)
            .field("version", &self.version)
            .finish()
    }
}

impl Client {
    /// Discovers the dialect, opens the WebSocket, logs in and reads `system.info`.
    pub async fn connect(
        endpoint: &Endpoint,
        options: &ClientOptions,
    ) -> Result<Client, TrueNasError> {
        let address = Address::parse(&endpoint.url)?;
        if address.secure && endpoint.trust == TlsTrust::PlainLoopback {
            return Err(TrueNasError::Protocol {
                detail: "a wss:// address needs a pinned certificate or a CA".into(),
            });
        }
        let timeout = options.connect_timeout;
        let dialect = discover(&address, &endpoint.trust, timeout).await?;
        let path = match dialect {
            Dialect::JsonRpc => "/api/current",
            Dialect::Legacy => "/websocket",
        };
        let scheme = if address.secure { "wss" } else { "ws" };
        let url = format!("{scheme}://{}{path}", address.authority());
        let transport = stream(&address, &endpoint.trust, timeout).await?;
        let limits = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let (mut socket, _) =
            tokio::time::timeout(timeout, client_async_with_config(url, transport, Some(limits)))
                .await
                .map_err(|_| TrueNasError::Timeout {
                    what: format!("opening {path}"),
                    after: timeout,
                })?
                .map_err(|error| match error {
                    tokio_tungstenite::tungstenite::Error::Http(response) => TrueNasError::Http {
                        status: response.status().as_u16(),
                        path: path.to_owned(),
                    },
                    other => {
                        TrueNasError::Protocol { detail: format!("WebSocket handshake: {other}") }
                    }
                })?;
        if dialect == Dialect::Legacy {
            legacy_handshake(&mut socket, timeout).await?;
        }
        let (commands, receiver) = mpsc::channel(64);
        let (events, _) = broadcast::channel(1024);
        let (closed_tx, closed) = watch::channel(false);
        let task = tokio::spawn(run(
            socket,
            dialect,
            receiver,
            events.clone(),
            closed_tx,
            options.clone(),
        ));
        let mut client = Client {
            commands,
            events,
            closed,
            dialect,
            version: None,
            hostname: None,
            options: options.clone(),
            task,
        };
        let (method, params) = login_request(dialect, endpoint);
        login_outcome(dialect, &client.call(method, params).await?)?;
        let info = client.call("system.info", json!([])).await?;
        client.version = info["version"].as_str().map(str::to_owned);
        client.hostname = info["hostname"].as_str().map(str::to_owned);
        if client.version.as_deref().is_some_and(|v| v.contains("FreeNAS")) {
            return Err(TrueNasError::UnsupportedVersion {
                detail: format!(
                    "{} is FreeNAS; TrueNAS CORE 13 or SCALE is needed",
                    client.version.clone().unwrap_or_default()
                ),
            });
        }
        Ok(client)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The `system.info` version string, e.g. `TrueNAS-SCALE-25.10.6`.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn hostname(&self) -> Option<&str> {
        self.hostname.as_deref()
    }

    async fn request(
        &self,
        command: Command,
        reply: oneshot::Receiver<Result<Value, TrueNasError>>,
        what: &str,
    ) -> Result<Value, TrueNasError> {
        self.commands.send(command).await.map_err(|_| TrueNasError::Closed)?;
        let timeout = self.options.call_timeout;
        match tokio::time::timeout(timeout, reply).await {
            Err(_) => Err(TrueNasError::Timeout { what: what.to_owned(), after: timeout }),
            Ok(Err(_)) => Err(TrueNasError::Closed),
            Ok(Ok(result)) => result,
        }
    }

    /// Calls a middleware method and waits for its answer.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, TrueNasError> {
        let (reply, answer) = oneshot::channel();
        self.request(Command::Call { method: method.to_owned(), params, reply }, answer, method)
            .await
    }

    /// Subscribes to an event source; its events arrive on [`Client::events`].
    pub async fn subscribe(&self, name: &str) -> Result<(), TrueNasError> {
        let (reply, answer) = oneshot::channel();
        self.request(Command::Subscribe { name: name.to_owned(), reply }, answer, "core.subscribe")
            .await
            .map(|_| ())
    }

    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Resolves when the connection has ended (dropped, or the keepalive went unanswered).
    pub async fn closed(&self) {
        let mut closed = self.closed.clone();
        let _ = closed.wait_for(|closed| *closed).await;
    }
}

async fn legacy_handshake(
    socket: &mut Socket,
    timeout: std::time::Duration,
) -> Result<(), TrueNasError> {
    let hello = json!({"msg": "connect", "version": "1", "support": ["1"]}).to_string();
    socket.send(Message::Text(hello.into())).await.map_err(|_| TrueNasError::Closed)?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next()).await.map_err(|_| {
            TrueNasError::Timeout { what: "the legacy connect handshake".into(), after: timeout }
        })?;
        let Some(Ok(Message::Text(text))) = frame else {
            match frame {
                Some(Ok(_)) => continue,
                _ => return Err(TrueNasError::Closed),
            }
        };
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match value["msg"].as_str() {
            Some("connected") => return Ok(()),
            Some("failed") => {
                return Err(TrueNasError::UnsupportedVersion {
                    detail: "the host refused protocol version 1".into(),
                });
            }
            _ => continue,
        }
    }
}

struct Pending {
    method: String,
    reply: Option<Reply>,
}

async fn run(
    mut socket: Socket,
    dialect: Dialect,
    mut commands: mpsc::Receiver<Command>,
    events: broadcast::Sender<Event>,
    closed: watch::Sender<bool>,
    options: ClientOptions,
) {
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut next = 1u64;
    let mut keepalive = tokio::time::interval(options.keepalive_interval);
    keepalive.tick().await;
    // The keepalive ping in flight and when it was sent. `core.ping` exists in both dialects
    // (SCALE's legacy endpoint has no protocol-level ping, reference §1.3).
    let mut ping: Option<(String, Instant)> = None;
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                let id = match dialect {
                    Dialect::JsonRpc => next.to_string(),
                    Dialect::Legacy => format!("c{next}"),
                };
                next += 1;
                let (frame, method, reply) = match command {
                    Command::Call { method, params, reply } => (request_frame(dialect, &id, &method, params), method, reply),
                    Command::Subscribe { name, reply } => match dialect {
                        Dialect::JsonRpc => (request_frame(dialect, &id, "core.subscribe", json!([name])), "core.subscribe".to_owned(), reply),
                        Dialect::Legacy => (json!({"id": id, "name": name, "msg": "sub"}), "sub".to_owned(), reply),
                    },
                };
                pending.insert(id, Pending { method, reply: Some(reply) });
                if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                    break;
                }
            }
            frame = socket.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else { continue };
                handle(dialect, value, &mut pending, &events, &mut ping);
            }
            _ = keepalive.tick() => {
                match &ping {
                    Some((_, sent)) if sent.elapsed() > options.call_timeout.max(options.keepalive_interval) => {
                        tracing::info!("TrueNAS API keepalive unanswered; closing the connection");
                        break;
                    }
                    Some(_) => {}
                    None => {
                        let id = format!("ping{next}");
                        next += 1;
                        let frame = request_frame(dialect, &id, "core.ping", json!([]));
                        pending.insert(id.clone(), Pending { method: "core.ping".into(), reply: None });
                        ping = Some((id, Instant::now()));
                        if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    }
    let _ = closed.send(true);
    for (_, entry) in pending.drain() {
        if let Some(reply) = entry.reply {
            let _ = reply.send(Err(TrueNasError::Closed));
        }
    }
    let _ = socket.close(None).await;
}

fn request_frame(dialect: Dialect, id: &str, method: &str, params: Value) -> Value {
    match dialect {
        Dialect::JsonRpc => {
            // Numeric ids for calls, string ids for our pings: both are valid JSON-RPC ids.
            let id = id.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(id));
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        }
        Dialect::Legacy => json!({"id": id, "msg": "method", "method": method, "params": params}),
    }
}

fn id_key(value: &Value) -> Option<String> {
    match value {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

fn handle(
    dialect: Dialect,
    value: Value,
    pending: &mut HashMap<String, Pending>,
    events: &broadcast::Sender<Event>,
    ping: &mut Option<(String, Instant)>,
) {
    let event = |body: &Value| Event {
        collection: body["collection"].as_str().unwrap_or("").to_owned(),
        msg: body["msg"].as_str().unwrap_or("").to_owned(),
        id: body["id"].clone(),
        fields: body["fields"].clone(),
    };
    let (id, outcome) = match dialect {
        Dialect::JsonRpc => {
            if value["method"] == "collection_update" {
                let _ = events.send(event(&value["params"]));
                return;
            }
            let Some(id) = id_key(&value["id"]) else { return };
            let outcome = match value.get("error").filter(|e| !e.is_null()) {
                Some(error) => Err(error.clone()),
                None => Ok(value["result"].clone()),
            };
            (id, outcome)
        }
        Dialect::Legacy => match value["msg"].as_str() {
            Some("added" | "changed" | "removed") => {
                let _ = events.send(event(&value));
                return;
            }
            Some("result") => {
                let Some(id) = id_key(&value["id"]) else { return };
                let outcome = match value.get("error").filter(|e| !e.is_null()) {
                    Some(error) => Err(error.clone()),
                    None => Ok(value["result"].clone()),
                };
                (id, outcome)
            }
            Some("ready") => {
                let Some(id) =
                    value["subs"].as_array().and_then(|subs| subs.first()).and_then(id_key)
                else {
                    return;
                };
                (id, Ok(Value::Null))
            }
            Some("nosub") => {
                let Some(id) = id_key(&value["id"]) else { return };
                (id, Err(value["error"].clone()))
            }
            _ => return,
        },
    };
    if ping.as_ref().is_some_and(|(ping_id, _)| *ping_id == id) {
        *ping = None;
    }
    let Some(entry) = pending.remove(&id) else { return };
    if let Some(reply) = entry.reply {
        let _ = reply.send(outcome.map_err(|error| call_error(&entry.method, dialect, &error)));
    }
}
