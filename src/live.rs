//! The live channel's protocol: one WebSocket per browser tab; the server sends a snapshot,
//! then small versioned deltas. Both ends use these types, so they cannot disagree.

use serde::{Deserialize, Serialize};

use crate::{DriveRow, host::HostView};

/// Everything the dashboard shows, at one version.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u64,
    pub hosts: Vec<HostView>,
    pub drives: Vec<DriveRow>,
}

/// A message from the server. Tagged with a one-letter `t` and short field names where the
/// message is frequent, since thousands of drives update every few seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum ServerMessage {
    /// The whole state: on connect, and whenever the client fell behind.
    #[serde(rename = "snapshot")]
    Snapshot(Snapshot),
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
}

impl ServerMessage {
    pub fn version(&self) -> u64 {
        match self {
            ServerMessage::Snapshot(snapshot) => snapshot.version,
            ServerMessage::Drive { v, .. }
            | ServerMessage::Temperature { v, .. }
            | ServerMessage::DriveRemoved { v, .. }
            | ServerMessage::Host { v, .. }
            | ServerMessage::HostRemoved { v, .. } => *v,
        }
    }
}

/// Applies a delta to a snapshot; returns false when the delta does not follow the
/// snapshot's version (the client should ask for a fresh snapshot).
pub fn apply(snapshot: &mut Snapshot, message: ServerMessage) -> bool {
    if let ServerMessage::Snapshot(fresh) = message {
        *snapshot = fresh;
        return true;
    }
    if message.version() != snapshot.version + 1 {
        return false;
    }
    snapshot.version = message.version();
    match message {
        ServerMessage::Snapshot(_) => {}
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
    }
    true
}
