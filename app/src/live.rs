//! The browser side of the live channel: a reactive store fed by one WebSocket.
//!
//! Each drive row is its own signal, so a temperature change re-renders that row's cells and
//! nothing else; the list of ids changes only when drives come or go. The socket reconnects
//! with backoff and starts over from a fresh snapshot, since neither the browser nor Leptos
//! does that by itself.

use std::collections::HashMap;

use burnin::{
    DriveRow,
    host::HostView,
    live::{ServerMessage, Snapshot},
};
use leptos::prelude::*;

/// Whether the page is receiving live updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    /// Lost; retrying in this many seconds.
    Retrying(u32),
}

#[derive(Clone, Copy)]
pub struct LiveStore {
    pub version: RwSignal<u64>,
    /// Drive ids in display order (host, then device name).
    pub drive_ids: RwSignal<Vec<i64>>,
    rows: StoredValue<HashMap<i64, RwSignal<DriveRow>>>,
    pub hosts: RwSignal<Vec<HostView>>,
    pub link: RwSignal<Link>,
}

fn natural_key(row: &DriveRow) -> (String, usize, String, String) {
    (row.host_name.clone(), row.devname.len(), row.devname.clone(), row.serial.clone())
}

impl LiveStore {
    pub fn new(snapshot: Snapshot) -> LiveStore {
        let store = LiveStore {
            version: RwSignal::new(snapshot.version),
            drive_ids: RwSignal::new(Vec::new()),
            rows: StoredValue::new(HashMap::new()),
            hosts: RwSignal::new(Vec::new()),
            link: RwSignal::new(Link::Connecting),
        };
        store.replace(snapshot);
        store
    }

    pub fn row(&self, id: i64) -> Option<RwSignal<DriveRow>> {
        self.rows.with_value(|rows| rows.get(&id).copied())
    }

    /// All current rows (reading every row's signal: tracks them all).
    pub fn rows(&self) -> Vec<DriveRow> {
        let ids = self.drive_ids.get();
        ids.iter().filter_map(|id| self.row(*id)).map(|row| row.get()).collect()
    }

    fn reorder(&self) {
        let mut keyed: Vec<(i64, (String, usize, String, String))> = self.rows.with_value(|rows| {
            rows.iter().map(|(id, row)| (*id, row.with_untracked(natural_key))).collect()
        });
        keyed.sort_by(|a, b| a.1.cmp(&b.1));
        let ids: Vec<i64> = keyed.into_iter().map(|(id, _)| id).collect();
        if self.drive_ids.with_untracked(|current| *current != ids) {
            self.drive_ids.set(ids);
        }
    }

    /// Takes a whole snapshot, updating rows in place so their DOM stays.
    pub fn replace(&self, snapshot: Snapshot) {
        let incoming: HashMap<i64, DriveRow> =
            snapshot.drives.into_iter().map(|row| (row.id, row)).collect();
        self.rows.update_value(|rows| {
            rows.retain(|id, _| incoming.contains_key(id));
            for (id, row) in incoming {
                match rows.get(&id) {
                    Some(signal) => {
                        if signal.with_untracked(|current| *current != row) {
                            signal.set(row);
                        }
                    }
                    None => {
                        rows.insert(id, RwSignal::new(row));
                    }
                }
            }
        });
        self.hosts.set(snapshot.hosts);
        self.version.set(snapshot.version);
        self.reorder();
    }

    /// Applies one message; false when it does not follow our version (ask for a snapshot).
    pub fn apply(&self, message: ServerMessage) -> bool {
        if let ServerMessage::Snapshot(snapshot) = message {
            self.replace(snapshot);
            return true;
        }
        let version = message.version();
        let current = self.version.get_untracked();
        if version <= current {
            return true;
        }
        if version != current + 1 {
            return false;
        }
        self.version.set(version);
        match message {
            ServerMessage::Snapshot(_) => {}
            ServerMessage::Drive { drive, .. } => {
                let id = drive.id;
                let reorder = match self.row(id) {
                    Some(signal) => {
                        let moved =
                            signal.with_untracked(|row| natural_key(row) != natural_key(&drive));
                        signal.set(drive);
                        moved
                    }
                    None => {
                        self.rows.update_value(|rows| {
                            rows.insert(id, RwSignal::new(drive));
                        });
                        true
                    }
                };
                if reorder {
                    self.reorder();
                }
            }
            ServerMessage::Temperature { id, c, .. } => {
                if let Some(signal) = self.row(id) {
                    signal.update(|row| row.temperature_c = c);
                }
            }
            ServerMessage::DriveRemoved { id, .. } => {
                self.rows.update_value(|rows| {
                    rows.remove(&id);
                });
                self.reorder();
            }
            ServerMessage::Host { host, .. } => self.hosts.update(|hosts| {
                match hosts.iter_mut().find(|h| h.id == host.id) {
                    Some(existing) => *existing = host,
                    None => hosts.push(host),
                }
                hosts.sort_by(|a, b| a.name.cmp(&b.name));
            }),
            ServerMessage::HostRemoved { id, .. } => {
                self.hosts.update(|hosts| hosts.retain(|h| h.id != id));
                self.rows.update_value(|rows| {
                    rows.retain(|_, row| row.with_untracked(|r| r.host_id != id))
                });
                self.reorder();
            }
        }
        true
    }
}

/// Opens the live channel and keeps it open (browser only; a no-op during server rendering).
pub fn connect(store: LiveStore) {
    #[cfg(feature = "hydrate")]
    socket::open(store, 0);
    #[cfg(not(feature = "hydrate"))]
    let _ = store;
}

#[cfg(feature = "hydrate")]
mod socket {
    use std::time::Duration;

    use burnin::live::ServerMessage;
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, closure::Closure};
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    use super::{Link, LiveStore};

    fn url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
        Some(format!("{scheme}://{}/live", location.host().ok()?))
    }

    pub fn open(store: LiveStore, attempt: u32) {
        let Some(url) = url() else { return };
        let Ok(socket) = WebSocket::new(&url) else {
            retry(store, attempt);
            return;
        };
        store.link.set(Link::Connecting);
        let on_message = {
            let socket = socket.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let Some(text) = event.data().as_string() else { return };
                match serde_json::from_str::<ServerMessage>(&text) {
                    Ok(message) => {
                        let snapshot = matches!(message, ServerMessage::Snapshot(_));
                        if !store.apply(message) {
                            // A gap: ask for the whole state rather than guess.
                            let _ = socket.send_with_str("resync");
                        } else if snapshot {
                            store.link.set(Link::Live);
                        }
                    }
                    Err(error) => leptos::logging::warn!("live: unreadable message ({error})"),
                }
            })
        };
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| {
            retry(store, attempt + 1);
        });
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        on_close.forget();
    }

    /// 1, 2, 4 … 30 seconds, with jitter so a restarted server is not stormed by every tab.
    fn retry(store: LiveStore, attempt: u32) {
        let base = 2u32.saturating_pow(attempt.min(5)).min(30);
        let jitter = (js_sys_random() * f64::from(base) * 0.3) as u32;
        let seconds = base.max(1) + jitter;
        store.link.set(Link::Retrying(seconds));
        set_timeout(move || open(store, attempt), Duration::from_secs(u64::from(seconds)));
    }

    fn js_sys_random() -> f64 {
        // Math.random via the window's crypto-free path; precision is irrelevant here.
        let now = web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0);
        (now * 7919.0).fract()
    }
}
