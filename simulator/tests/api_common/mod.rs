#![allow(dead_code, reason = "each test crate uses part of the helpers")]

//! Minimal TrueNAS API clients for tests, talking to the simulator over real sockets.

use std::{collections::VecDeque, time::Duration};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async, tungstenite::Message};

use burnin_simulator::{
    DriveSpec, HostSpec, Personality, PoolSpec, Protocol, Scenario,
    scenario::{Behaviour, PoolLayout},
};

pub const KEY: &str = "1-SimulatorTestKey0123456789";

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub fn drive(serial: &str, model: &str, size_tb: u64, protocol: Protocol) -> DriveSpec {
    DriveSpec {
        serial: serial.into(),
        model: model.into(),
        size_bytes: size_tb * 1_000_000_000_000,
        protocol,
        rotation_rpm: if protocol == Protocol::Nvme { 0 } else { 7200 },
        wwn: None,
        devname: None,
        idle_temperature_c: 33.0,
        power_on_hours: 10,
        throughput_mb_s: 200.0,
        physical_sector_bytes: 4096,
        behaviours: Vec::new(),
        slot: None,
    }
}

/// One host of the given personality: a boot SSD, two pool members, an exported-pool member,
/// two free drives (one NVMe).
pub fn host(name: &str, personality: Personality) -> HostSpec {
    let mut free = drive("FREE0001", "ST12000NM0008-2H3101", 12, Protocol::Ata);
    free.behaviours.push(Behaviour::SelfTestStuck { at_percent: 10 });
    HostSpec {
        name: name.into(),
        personality,
        api_key: KEY.into(),
        api_user: "root".into(),
        tls: false,
        ssh_user: "root".into(),
        authorized_keys: Vec::new(),
        drives: vec![
            drive("BOOT0001", "Samsung SSD 870 EVO 250GB", 1, Protocol::Ata),
            drive("POOL0001", "WDC WD40EFZX-68AWUN0", 4, Protocol::Ata),
            drive("POOL0002", "WDC WD40EFZX-68AWUN0", 4, Protocol::Ata),
            drive("EXPD0001", "ST4000VN006-3CW104", 4, Protocol::Ata),
            free,
            drive("NVME0001", "Samsung SSD 970 EVO Plus 500GB", 1, Protocol::Nvme),
        ],
        pools: vec![PoolSpec {
            name: "tank".into(),
            layout: PoolLayout::Mirror,
            members: vec!["POOL0001".into(), "POOL0002".into()],
            used_percent: 50.0,
        }],
        exported_pools: vec![PoolSpec {
            name: "oldbackup".into(),
            layout: PoolLayout::Stripe,
            members: vec!["EXPD0001".into()],
            used_percent: 10.0,
        }],
        boot_drives: vec!["BOOT0001".into()],
    }
}

pub fn scenario(hosts: Vec<HostSpec>) -> Scenario {
    Scenario { seed: 7, speed: 1.0, hosts }
}

pub struct Client {
    socket: Socket,
    next_id: u64,
    legacy: bool,
    pub notifications: VecDeque<Value>,
}

impl Client {
    /// JSON-RPC 2.0 at `/api/current`.
    pub async fn jsonrpc(base: &str) -> Client {
        let (socket, _) =
            connect_async(format!("{base}/api/current")).await.expect("connect /api/current");
        Client { socket, next_id: 1, legacy: false, notifications: VecDeque::new() }
    }

    /// The legacy protocol at `/websocket`, before the `connect` handshake.
    pub async fn legacy_unconnected(base: &str) -> Client {
        let (socket, _) =
            connect_async(format!("{base}/websocket")).await.expect("connect /websocket");
        Client { socket, next_id: 1, legacy: true, notifications: VecDeque::new() }
    }

    /// The legacy protocol at `/websocket`, after the `connect` handshake.
    pub async fn legacy(base: &str) -> Client {
        let mut client = Client::legacy_unconnected(base).await;
        let connected =
            client.exchange(json!({"msg": "connect", "version": "1", "support": ["1"]})).await;
        assert_eq!(connected["msg"], "connected", "{connected}");
        client
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.socket.send(Message::Text(text.into())).await.expect("send");
    }

    /// The next non-notification frame, or `None` when the socket closes.
    pub async fn next_reply(&mut self) -> Option<Value> {
        loop {
            let frame =
                tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await.ok()??;
            match frame {
                Ok(Message::Text(text)) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON frame");
                    let notification = if self.legacy {
                        matches!(value["msg"].as_str(), Some("added" | "changed" | "removed"))
                    } else {
                        value.get("id").is_none()
                    };
                    if notification {
                        self.notifications.push_back(value);
                        continue;
                    }
                    return Some(value);
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    pub async fn exchange(&mut self, frame: Value) -> Value {
        self.send_raw(&frame.to_string()).await;
        self.next_reply().await.expect("a reply")
    }

    /// The whole reply frame of a call.
    pub async fn call_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let frame = if self.legacy {
            json!({"id": format!("call-{id}"), "msg": "method", "method": method, "params": params})
        } else {
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        };
        self.exchange(frame).await
    }

    /// The result of a call, or the error object.
    pub async fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let reply = self.call_raw(method, params).await;
        match reply.get("error") {
            Some(error) if !error.is_null() => Err(error.clone()),
            _ => Ok(reply["result"].clone()),
        }
    }

    pub async fn login(&mut self) {
        if self.legacy {
            assert_eq!(self.call("auth.login_with_api_key", json!([KEY])).await, Ok(json!(true)));
        } else {
            let answer = self
                .call(
                    "auth.login_ex",
                    json!([{"mechanism": "API_KEY_PLAIN", "username": "root", "api_key": KEY}]),
                )
                .await
                .expect("login_ex answers");
            assert_eq!(answer["response_type"], "SUCCESS", "{answer}");
        }
    }

    /// Waits for a notification matching `predicate`.
    pub async fn wait_notification(&mut self, predicate: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(position) = self.notifications.iter().position(&predicate) {
                return self.notifications.remove(position).expect("present");
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(!left.is_zero(), "no matching notification; got {:?}", self.notifications);
            match tokio::time::timeout(left, self.socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    self.notifications.push_back(serde_json::from_str(&text).expect("JSON"));
                }
                Ok(Some(Ok(_))) => {}
                _ => panic!("socket closed while waiting for a notification"),
            }
        }
    }
}
