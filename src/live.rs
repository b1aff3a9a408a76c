//! The live channel's protocol: one WebSocket per browser tab; the server sends a snapshot,
//! then small versioned deltas. Both ends use these types, so they cannot disagree.

use serde::{Deserialize, Serialize};

use crate::{DriveRow, TemperatureTable, host::HostView};

/// Everything the dashboard shows, at one version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u64,
    pub hosts: Vec<HostView>,
    pub drives: Vec<DriveRow>,
    /// The temperature limits in force, for the table's colours.
    #[serde(default)]
    pub limits: TemperatureTable,
    /// On the wire: how many [`ServerMessage::SnapshotMore`] parts follow with more drives.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Snapshot {
    /// The snapshot as messages of at most `drives_per_message` drives: itself, then its
    /// [`ServerMessage::SnapshotMore`] parts. A server keeps a write buffer as large as the
    /// largest message it sent, per connection, for as long as the connection lives; parts keep
    /// that small however large the fleet.
    pub fn into_messages(mut self, drives_per_message: usize) -> Vec<ServerMessage> {
        let per = drives_per_message.max(1);
        let mut rest = std::mem::take(&mut self.drives).into_iter();
        self.drives = rest.by_ref().take(per).collect();
        let mut parts: Vec<Vec<DriveRow>> = Vec::new();
        loop {
            let part: Vec<DriveRow> = rest.by_ref().take(per).collect();
            if part.is_empty() {
                break;
            }
            parts.push(part);
        }
        let total = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        self.more = total;
        let v = self.version;
        let mut messages = vec![ServerMessage::Snapshot(self)];
        for (index, drives) in parts.into_iter().enumerate() {
            let sent = u32::try_from(index + 1).unwrap_or(u32::MAX);
            messages.push(ServerMessage::SnapshotMore { v, drives, more: total - sent });
        }
        messages
    }
}

/// What [`Assembler::feed`] makes of a message.
#[derive(Debug, PartialEq)]
pub enum Fed {
    /// A message to apply: a delta, or a whole snapshot with all its parts.
    Ready(Box<ServerMessage>),
    /// A part of a snapshot; more are coming.
    Pending,
    /// A part out of place (another version, or none expected): ask for a fresh snapshot.
    Broken,
}

/// Joins a snapshot's parts on the client; every other message passes through.
#[derive(Debug, Default)]
pub struct Assembler {
    partial: Option<Snapshot>,
}

impl Assembler {
    pub fn feed(&mut self, message: ServerMessage) -> Fed {
        match message {
            ServerMessage::Snapshot(snapshot) if snapshot.more > 0 => {
                self.partial = Some(snapshot);
                Fed::Pending
            }
            ServerMessage::SnapshotMore { v, drives, more } => {
                let Some(mut partial) = self.partial.take() else { return Fed::Broken };
                if partial.version != v || more.checked_add(1) != Some(partial.more) {
                    return Fed::Broken;
                }
                partial.drives.extend(drives);
                partial.more = more;
                if more == 0 {
                    return Fed::Ready(Box::new(ServerMessage::Snapshot(partial)));
                }
                self.partial = Some(partial);
                Fed::Pending
            }
            other => {
                if self.partial.take().is_some() {
                    // The server never interleaves; a delta here means parts were lost.
                    return Fed::Broken;
                }
                Fed::Ready(Box::new(other))
            }
        }
    }
}

/// A message from the server. Tagged with a one-letter `t` and short field names where the
/// message is frequent, since thousands of drives update every few seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum ServerMessage {
    /// The whole state: on connect, and whenever the client fell behind.
    #[serde(rename = "snapshot")]
    Snapshot(Snapshot),
    /// More drives of the snapshot just sent (see [`Snapshot::into_messages`]).
    #[serde(rename = "snapshot_more")]
    SnapshotMore { v: u64, drives: Vec<DriveRow>, more: u32 },
    /// One drive changed (anything but only its temperature).
    #[serde(rename = "drive")]
    Drive { v: u64, drive: DriveRow },
    /// Only a drive's temperature changed: the most frequent update, kept tiny.
    #[serde(rename = "temp")]
    Temperature { v: u64, id: i64, c: Option<f64> },
    /// A drive is gone for good (its host was removed).
    #[serde(rename = "drive_removed")]
    DriveRemoved { v: u64, id: i64 },
    #[serde(rename = "host")]
    Host { v: u64, host: HostView },
    #[serde(rename = "host_removed")]
    HostRemoved { v: u64, id: i64 },
    /// The temperature limits changed.
    #[serde(rename = "limits")]
    Limits { v: u64, limits: TemperatureTable },
}

impl ServerMessage {
    pub fn version(&self) -> u64 {
        match self {
            ServerMessage::Snapshot(snapshot) => snapshot.version,
            ServerMessage::SnapshotMore { v, .. }
            | ServerMessage::Drive { v, .. }
            | ServerMessage::Temperature { v, .. }
            | ServerMessage::DriveRemoved { v, .. }
            | ServerMessage::Host { v, .. }
            | ServerMessage::HostRemoved { v, .. }
            | ServerMessage::Limits { v, .. } => *v,
        }
    }
}

/// Applies a delta to a snapshot; returns false when the delta does not follow the
/// snapshot's version (the client should ask for a fresh snapshot). Snapshot parts must have
/// been joined by an [`Assembler`] first.
pub fn apply(snapshot: &mut Snapshot, message: ServerMessage) -> bool {
    match message {
        ServerMessage::Snapshot(fresh) if fresh.more == 0 => {
            *snapshot = fresh;
            return true;
        }
        ServerMessage::Snapshot(_) | ServerMessage::SnapshotMore { .. } => return false,
        _ => {}
    }
    if message.version() != snapshot.version + 1 {
        return false;
    }
    snapshot.version = message.version();
    match message {
        ServerMessage::Snapshot(_) | ServerMessage::SnapshotMore { .. } => {}
        ServerMessage::Drive { drive, .. } => {
            match snapshot.drives.iter_mut().find(|row| row.id == drive.id) {
                Some(row) => *row = drive,
                None => snapshot.drives.push(drive),
            }
        }
        ServerMessage::Temperature { id, c, .. } => {
            if let Some(row) = snapshot.drives.iter_mut().find(|row| row.id == id) {
                row.temperature_c = c;
            }
        }
        ServerMessage::DriveRemoved { id, .. } => snapshot.drives.retain(|row| row.id != id),
        ServerMessage::Host { host, .. } => {
            match snapshot.hosts.iter_mut().find(|h| h.id == host.id) {
                Some(existing) => *existing = host,
                None => snapshot.hosts.push(host),
            }
        }
        ServerMessage::HostRemoved { id, .. } => {
            snapshot.hosts.retain(|host| host.id != id);
            snapshot.drives.retain(|row| row.host_id != id);
        }
        ServerMessage::Limits { limits, .. } => snapshot.limits = limits,
    }
    true
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use crate::{DriveKind, DriveState, PoolMembership, SmartHealth};

    fn row(id: i64) -> DriveRow {
        DriveRow {
            id,
            host_id: 1,
            host_name: "nas".into(),
            devname: format!("sd{id}"),
            serial: format!("S{id}"),
            model: "M".into(),
            size_bytes: 1,
            kind: DriveKind::Hdd,
            temperature_c: Some(30.0),
            smart_health: SmartHealth::Passed,
            pool: PoolMembership::Free,
            state: DriveState::Idle,
            location: String::new(),
            notes: String::new(),
            seen_at: None,
            progress: None,
        }
    }

    fn snapshot(drives: i64) -> Snapshot {
        Snapshot {
            version: 7,
            hosts: Vec::new(),
            drives: (1..=drives).map(row).collect(),
            limits: TemperatureTable::default(),
            more: 0,
        }
    }

    fn join(messages: Vec<ServerMessage>) -> Vec<Fed> {
        let mut assembler = Assembler::default();
        messages.into_iter().map(|m| assembler.feed(m)).collect()
    }

    #[test]
    fn a_snapshot_in_parts_is_joined_whole_and_each_part_is_small() {
        for drives in [0, 1, 64, 65, 1000] {
            let whole = snapshot(drives);
            let messages = whole.clone().into_messages(64);
            assert_eq!(messages.len(), (drives as usize).div_ceil(64).max(1), "{drives} drives");
            for message in &messages {
                let bytes = serde_json::to_string(message).unwrap().len();
                assert!(bytes < 32 * 1024, "a part of {bytes} bytes");
                let back: ServerMessage =
                    serde_json::from_str(&serde_json::to_string(message).unwrap()).unwrap();
                assert_eq!(&back, message, "survives the wire");
            }
            let mut fed = join(messages);
            let last = fed.pop().unwrap();
            assert!(fed.iter().all(|f| *f == Fed::Pending), "{drives} drives");
            assert_eq!(last, Fed::Ready(Box::new(ServerMessage::Snapshot(whole))));
        }
    }

    #[test]
    fn a_part_out_of_place_asks_for_a_fresh_snapshot() {
        let stray = ServerMessage::SnapshotMore { v: 7, drives: vec![row(1)], more: 0 };
        assert_eq!(join(vec![stray]), [Fed::Broken]);
        let mut parts = snapshot(200).into_messages(64);
        parts.remove(1);
        assert_eq!(join(parts).last(), Some(&Fed::Broken), "a lost part");
        let mut parts = snapshot(200).into_messages(64);
        parts.insert(1, ServerMessage::Temperature { v: 8, id: 1, c: None });
        assert_eq!(join(parts)[1], Fed::Broken, "a delta inside a snapshot");
        let mut parts = snapshot(200).into_messages(64);
        if let ServerMessage::SnapshotMore { v, .. } = &mut parts[2] {
            *v = 6;
        }
        assert_eq!(join(parts)[2], Fed::Broken, "a part of another version");
        let mut mirror = Snapshot::default();
        let unjoined = snapshot(200).into_messages(64).remove(0);
        assert!(!apply(&mut mirror, unjoined), "an unjoined part is never applied as the state");
    }
}
