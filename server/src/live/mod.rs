//! The live hub: the current dashboard state with a version number, and the WebSocket every
//! browser tab holds open to receive it. The database is the truth; the hub is a view of it,
//! fed only after a change is written.

mod socket;

use std::{collections::BTreeMap, sync::Arc};

use burnin::{
    DriveRow,
    host::HostView,
    live::{ServerMessage, Snapshot},
};
use tokio::sync::{RwLock, broadcast};

pub use socket::live_socket;

/// A message and its JSON, serialised once for every subscriber.
#[derive(Debug)]
pub struct Outgoing {
    pub message: ServerMessage,
    pub json: String,
}

impl Outgoing {
    fn new(message: ServerMessage) -> Arc<Outgoing> {
        let json = serde_json::to_string(&message).unwrap_or_default();
        Arc::new(Outgoing { message, json })
    }
}

#[derive(Default)]
struct State {
    version: u64,
    hosts: BTreeMap<i64, HostView>,
    drives: BTreeMap<i64, DriveRow>,
    limits: burnin::TemperatureTable,
}

/// Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct Hub {
    state: Arc<RwLock<State>>,
    sender: broadcast::Sender<Arc<Outgoing>>,
    /// Live channels open per user, for `live_connections_per_user`.
    pub(crate) channels: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub::new()
    }
}

impl Hub {
    pub fn new() -> Hub {
        // Deep enough for a burst of a whole fleet's temperatures; a slower client gets a
        // fresh snapshot instead of a backlog.
        Hub { state: Arc::default(), sender: broadcast::channel(4096).0, channels: Arc::default() }
    }

    /// Replaces everything (at start-up, from the database).
    pub async fn load(
        &self,
        hosts: Vec<HostView>,
        drives: Vec<DriveRow>,
        limits: burnin::TemperatureTable,
    ) {
        let mut state = self.state.write().await;
        state.hosts = hosts.into_iter().map(|host| (host.id, host)).collect();
        state.drives = drives.into_iter().map(|row| (row.id, row)).collect();
        state.limits = limits;
        state.version += 1;
        let snapshot = snapshot_of(&state);
        let _ = self.sender.send(Outgoing::new(ServerMessage::Snapshot(snapshot)));
    }

    pub async fn snapshot(&self) -> Snapshot {
        snapshot_of(&*self.state.read().await)
    }

    /// The current snapshot and a receiver for every delta after it, taken atomically.
    pub async fn subscribe(&self) -> (Snapshot, broadcast::Receiver<Arc<Outgoing>>) {
        let state = self.state.read().await;
        (snapshot_of(&state), self.sender.subscribe())
    }

    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }

    /// Publishes a drive as written to the database; nothing is sent when nothing changed.
    pub async fn drive(&self, row: DriveRow) {
        let mut state = self.state.write().await;
        let change = state.drives.get(&row.id).map_or(Some(Change::Row), |p| change(p, &row));
        let message = match change {
            None => return,
            Some(Change::Temperature) => ServerMessage::Temperature {
                v: state.version + 1,
                id: row.id,
                c: row.temperature_c,
            },
            Some(Change::Row) => ServerMessage::Drive { v: state.version + 1, drive: row.clone() },
        };
        state.version += 1;
        state.drives.insert(row.id, row);
        let _ = self.sender.send(Outgoing::new(message));
    }

    pub async fn drive_removed(&self, id: i64) {
        let mut state = self.state.write().await;
        if state.drives.remove(&id).is_none() {
            return;
        }
        state.version += 1;
        let _ =
            self.sender.send(Outgoing::new(ServerMessage::DriveRemoved { v: state.version, id }));
    }

    pub async fn host(&self, host: HostView) {
        let mut state = self.state.write().await;
        if state.hosts.get(&host.id) == Some(&host) {
            return;
        }
        state.version += 1;
        let message = ServerMessage::Host { v: state.version, host: host.clone() };
        state.hosts.insert(host.id, host);
        let _ = self.sender.send(Outgoing::new(message));
    }

    /// The temperature limits changed (the table's colours follow).
    pub async fn limits(&self, limits: burnin::TemperatureTable) {
        let mut state = self.state.write().await;
        if state.limits == limits {
            return;
        }
        state.limits = limits;
        state.version += 1;
        let _ = self.sender.send(Outgoing::new(ServerMessage::Limits { v: state.version, limits }));
    }

    pub async fn host_removed(&self, id: i64) {
        let mut state = self.state.write().await;
        state.hosts.remove(&id);
        state.drives.retain(|_, row| row.host_id != id);
        state.version += 1;
        let _ =
            self.sender.send(Outgoing::new(ServerMessage::HostRemoved { v: state.version, id }));
    }
}

fn snapshot_of(state: &State) -> Snapshot {
    Snapshot {
        version: state.version,
        hosts: state.hosts.values().cloned().collect(),
        drives: state.drives.values().cloned().collect(),
        limits: state.limits,
        more: 0,
    }
}

/// How stale a drive's published "last reported" time may get before a sync that changed
/// nothing else is worth a message. Without it every poll of every drive went to every tab
/// (the live benchmark measured 41 % of all messages carrying no change).
const SEEN_AT_GRANULARITY_SECS: f64 = 300.0;

/// What a tab needs to hear of a drive's new row.
enum Change {
    /// Only the temperature moved (and perhaps `seen_at`, which the next row message brings).
    Temperature,
    /// Anything else, or `seen_at` alone by [`SEEN_AT_GRANULARITY_SECS`] or more.
    Row,
}

/// `None`: nothing a tab shows changed, or only `seen_at` by less than the granularity. The
/// hub keeps the published row then, so the next comparison is against what tabs show.
fn change(published: &DriveRow, row: &DriveRow) -> Option<Change> {
    if published == row {
        return None;
    }
    let mut rest = published.clone();
    rest.temperature_c = row.temperature_c;
    rest.seen_at = row.seen_at.clone();
    if rest != *row {
        return Some(Change::Row);
    }
    if published.temperature_c != row.temperature_c {
        return Some(Change::Temperature);
    }
    let at = |row: &DriveRow| row.seen_at.as_deref().and_then(burnin::format::parse_utc);
    match (at(published), at(row)) {
        (Some(before), Some(now)) if now - before < SEEN_AT_GRANULARITY_SECS => None,
        _ => Some(Change::Row),
    }
}

#[cfg(test)]
mod tests {
    use burnin::{DriveKind, DriveState, PoolMembership, SmartHealth, live::apply};

    use super::*;

    fn row(id: i64, temperature: f64) -> DriveRow {
        DriveRow {
            id,
            host_id: 1,
            host_name: "nas".into(),
            devname: format!("sd{id}"),
            serial: format!("S{id}"),
            model: "M".into(),
            size_bytes: 1,
            kind: DriveKind::Hdd,
            temperature_c: Some(temperature),
            smart_health: SmartHealth::Passed,
            pool: PoolMembership::Free,
            state: DriveState::Idle,
            location: String::new(),
            notes: String::new(),
            seen_at: None,
            progress: None,
        }
    }

    #[tokio::test]
    async fn a_subscriber_rebuilds_the_hub_state_from_its_snapshot_and_deltas() {
        let hub = Hub::new();
        hub.load(Vec::new(), vec![row(1, 30.0)], Default::default()).await;
        let (mut mirror, mut receiver) = hub.subscribe().await;
        hub.drive(row(1, 31.0)).await;
        hub.drive(row(1, 31.0)).await; // no change, no message
        let mut renamed = row(1, 31.0);
        renamed.devname = "sdz".into();
        hub.drive(renamed).await;
        hub.drive(row(2, 40.0)).await;
        hub.drive_removed(2).await;
        let mut kinds = Vec::new();
        while let Ok(message) = receiver.try_recv() {
            kinds.push(match &message.message {
                ServerMessage::Temperature { .. } => "temp",
                ServerMessage::Drive { .. } => "drive",
                ServerMessage::DriveRemoved { .. } => "removed",
                _ => "other",
            });
            assert!(apply(&mut mirror, message.message.clone()), "delta out of order");
        }
        assert_eq!(kinds, ["temp", "drive", "drive", "removed"]);
        assert_eq!(mirror, hub.snapshot().await);
    }

    #[tokio::test]
    async fn a_sync_that_only_refreshes_seen_at_is_published_every_five_minutes_not_every_poll() {
        let seen = |at: &str| {
            let mut row = row(1, 30.0);
            row.seen_at = Some(at.to_owned());
            row
        };
        let hub = Hub::new();
        hub.load(Vec::new(), vec![seen("2026-11-22T10:00:00Z")], Default::default()).await;
        let (_, mut receiver) = hub.subscribe().await;
        hub.drive(seen("2026-11-22T10:00:30Z")).await;
        hub.drive(seen("2026-11-22T10:04:59Z")).await;
        assert!(receiver.try_recv().is_err(), "a fresher seen_at alone is not news");
        hub.drive(seen("2026-11-22T10:05:00Z")).await;
        let message = receiver.try_recv().expect("five minutes on, the age is news");
        assert!(matches!(message.message, ServerMessage::Drive { .. }), "{:?}", message.message);
        let mut warmer = seen("2026-11-22T10:05:10Z");
        warmer.temperature_c = Some(31.0);
        hub.drive(warmer).await;
        let message = receiver.try_recv().expect("a temperature change is always news");
        assert!(matches!(message.message, ServerMessage::Temperature { .. }));
    }

    #[tokio::test]
    async fn a_temperature_update_is_small_on_the_wire() {
        let message = ServerMessage::Temperature { v: 123_456, id: 987, c: Some(41.0) };
        let bytes = serde_json::to_string(&message).expect("serializes").len();
        assert!(bytes <= 64, "{bytes} bytes");
    }
}
