//! The browser side of the live channel: a reactive store fed by one WebSocket.
//!
//! Each drive row is its own signal, and its temperature another: temperature messages, most of
//! the traffic, wake the one cell that shows it, not the filters and counts that read whole
//! rows. The list of ids changes only when drives come or go. Messages are applied once per
//! animation frame, so a burst costs one recomputation, not one per message. The socket reconnects
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
    /// Each drive's temperature; its row holds the same value but is not notified of it.
    temperatures: StoredValue<HashMap<i64, RwSignal<Option<f64>>>>,
    pub hosts: RwSignal<Vec<HostView>>,
    pub link: RwSignal<Link>,
    /// The temperature limits in force, for the table's colours.
    pub limits: RwSignal<burnin::TemperatureTable>,
}

use burnin::drive::natural_key;

impl LiveStore {
    pub fn new(snapshot: Snapshot) -> LiveStore {
        let store = LiveStore {
            version: RwSignal::new(snapshot.version),
            drive_ids: RwSignal::new(Vec::new()),
            rows: StoredValue::new(HashMap::new()),
            temperatures: StoredValue::new(HashMap::new()),
            hosts: RwSignal::new(Vec::new()),
            link: RwSignal::new(Link::Connecting),
            limits: RwSignal::new(snapshot.limits),
        };
        store.replace(snapshot);
        store
    }

    pub fn row(&self, id: i64) -> Option<RwSignal<DriveRow>> {
        self.rows.with_value(|rows| rows.get(&id).copied())
    }

    /// A drive's temperature, notified on its own (see the module's comment).
    pub fn temperature(&self, id: i64) -> Option<RwSignal<Option<f64>>> {
        self.temperatures.with_value(|temperatures| temperatures.get(&id).copied())
    }

    fn set_temperature(&self, id: i64, celsius: Option<f64>) {
        let existing = self.temperature(id);
        match existing {
            Some(signal) => {
                if signal.get_untracked() != celsius {
                    signal.set(celsius);
                }
            }
            None => self.temperatures.update_value(|temperatures| {
                temperatures.insert(id, RwSignal::new(celsius));
            }),
        }
    }

    fn forget(&self, keep: impl Fn(i64) -> bool) {
        self.rows.update_value(|rows| rows.retain(|id, _| keep(*id)));
        self.temperatures.update_value(|temperatures| temperatures.retain(|id, _| keep(*id)));
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
        self.forget(|id| incoming.contains_key(&id));
        for row in incoming.values() {
            self.set_temperature(row.id, row.temperature_c);
        }
        self.rows.update_value(|rows| {
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
        if self.limits.get_untracked() != snapshot.limits {
            self.limits.set(snapshot.limits);
        }
        self.version.set(snapshot.version);
        self.reorder();
    }

    /// Applies one message; false when it does not follow our version (ask for a snapshot).
    /// A snapshot's parts must have been joined first (`burnin::live::Assembler`).
    pub fn apply(&self, message: ServerMessage) -> bool {
        match message {
            ServerMessage::Snapshot(snapshot) if snapshot.more == 0 => {
                self.replace(snapshot);
                return true;
            }
            ServerMessage::Snapshot(_) | ServerMessage::SnapshotMore { .. } => return false,
            _ => {}
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
            ServerMessage::Snapshot(_) | ServerMessage::SnapshotMore { .. } => {}
            ServerMessage::Drive { drive, .. } => {
                let id = drive.id;
                self.set_temperature(id, drive.temperature_c);
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
                    signal.update_untracked(|row| row.temperature_c = c);
                    self.set_temperature(id, c);
                }
            }
            ServerMessage::DriveRemoved { id, .. } => {
                self.forget(|other| other != id);
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
                let gone: Vec<i64> = self.rows.with_value(|rows| {
                    rows.iter()
                        .filter(|(_, row)| row.with_untracked(|r| r.host_id == id))
                        .map(|(drive, _)| *drive)
                        .collect()
                });
                self.forget(|drive| !gone.contains(&drive));
                self.reorder();
            }
            ServerMessage::Limits { limits, .. } => self.limits.set(limits),
        }
        true
    }
}

/// Opens the live channel and keeps it open while the page that owns `store` lives (browser
/// only; a no-op during server rendering). Once the page is gone (another page was opened in
/// the app), the channel stops: a message after that would write to the page's disposed
/// signals, which panics.
pub fn connect(store: LiveStore) {
    #[cfg(feature = "hydrate")]
    {
        let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = stopped.clone();
        on_cleanup(move || stop.store(true, std::sync::atomic::Ordering::Relaxed));
        socket::open(store, 0, stopped);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = store;
}

#[cfg(feature = "hydrate")]
mod socket {
    use std::{
        cell::RefCell,
        rc::Rc,
        sync::{
            Arc,
            atomic::{AtomicBool, Ordering},
        },
        time::Duration,
    };

    use burnin::live::{Assembler, Fed, ServerMessage};
    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, closure::Closure};
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    use super::{Link, LiveStore};

    fn url() -> Option<String> {
        let location = web_sys::window()?.location();
        let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
        Some(format!("{scheme}://{}/live", location.host().ok()?))
    }

    /// Set once the page that opened the channel is gone: nothing is applied any more, the
    /// socket is closed at its next message and not opened again.
    pub type Stopped = Arc<AtomicBool>;

    fn is_stopped(stopped: &Stopped) -> bool {
        stopped.load(Ordering::Relaxed)
    }

    pub fn open(store: LiveStore, attempt: u32, stopped: Stopped) {
        if is_stopped(&stopped) {
            return;
        }
        let Some(url) = url() else { return };
        let Ok(socket) = WebSocket::new(&url) else {
            retry(store, attempt, stopped);
            return;
        };
        store.link.set(Link::Connecting);
        let inbox = Inbox::default();
        let on_message = {
            let socket = socket.clone();
            let stopped = stopped.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if is_stopped(&stopped) {
                    let _ = socket.close();
                    return;
                }
                let Some(text) = event.data().as_string() else { return };
                match serde_json::from_str::<ServerMessage>(&text) {
                    Ok(message) => inbox.push(message, store, &socket, &stopped),
                    Err(error) => leptos::logging::warn!("live: unreadable message ({error})"),
                }
            })
        };
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_event: CloseEvent| {
            if !is_stopped(&stopped) {
                retry(store, attempt + 1, stopped.clone());
            }
        });
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        on_close.forget();
    }

    /// Messages waiting for the next animation frame. A hidden tab gets no frames: past
    /// [`Inbox::LIMIT`] the backlog is dropped, and the version gap this leaves makes the first
    /// frame after it ask for a fresh snapshot.
    #[derive(Clone, Default)]
    struct Inbox(Rc<RefCell<Pending>>);

    #[derive(Default)]
    struct Pending {
        /// Joins a snapshot sent in parts.
        assembler: Assembler,
        messages: Vec<ServerMessage>,
        scheduled: bool,
        /// A resync was asked for: gaps until its snapshot are expected, not asked again.
        resyncing: bool,
    }

    impl Inbox {
        const LIMIT: usize = 10_000;

        fn push(
            &self,
            message: ServerMessage,
            store: LiveStore,
            socket: &WebSocket,
            stopped: &Stopped,
        ) {
            let mut inbox = self.0.borrow_mut();
            let message = match inbox.assembler.feed(message) {
                Fed::Ready(message) => *message,
                Fed::Pending => return,
                Fed::Broken => {
                    inbox.messages.clear();
                    inbox.resync(socket);
                    return;
                }
            };
            if inbox.messages.len() >= Self::LIMIT {
                inbox.messages.clear();
            }
            inbox.messages.push(message);
            if inbox.scheduled {
                return;
            }
            inbox.scheduled = true;
            let (inbox, socket, stopped) = (self.clone(), socket.clone(), stopped.clone());
            request_animation_frame(move || inbox.flush(store, &socket, &stopped));
        }

        fn flush(&self, store: LiveStore, socket: &WebSocket, stopped: &Stopped) {
            let messages = {
                let mut inbox = self.0.borrow_mut();
                inbox.scheduled = false;
                std::mem::take(&mut inbox.messages)
            };
            // The page left between the message and this frame.
            if is_stopped(stopped) {
                return;
            }
            for message in messages {
                let snapshot = matches!(message, ServerMessage::Snapshot(_));
                if store.apply(message) {
                    if snapshot {
                        self.0.borrow_mut().resyncing = false;
                        store.link.set(Link::Live);
                    }
                    continue;
                }
                self.0.borrow_mut().resync(socket);
            }
        }
    }

    impl Pending {
        /// A gap: asks for the whole state rather than guess, once until its snapshot comes.
        fn resync(&mut self, socket: &WebSocket) {
            if !self.resyncing {
                self.resyncing = true;
                let _ = socket.send_with_str("resync");
            }
        }
    }

    /// 1, 2, 4 … 30 seconds, with jitter so a restarted server is not stormed by every tab.
    fn retry(store: LiveStore, attempt: u32, stopped: Stopped) {
        if is_stopped(&stopped) {
            return;
        }
        let base = 2u32.saturating_pow(attempt.min(5)).min(30);
        let jitter = (js_sys_random() * f64::from(base) * 0.3) as u32;
        let seconds = base.max(1) + jitter;
        store.link.set(Link::Retrying(seconds));
        set_timeout(move || open(store, attempt, stopped), Duration::from_secs(u64::from(seconds)));
    }

    fn js_sys_random() -> f64 {
        // Math.random via the window's crypto-free path; precision is irrelevant here.
        let now = web_sys::window().and_then(|w| w.performance()).map(|p| p.now()).unwrap_or(0.0);
        (now * 7919.0).fract()
    }
}
