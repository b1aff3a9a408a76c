//! Inventory: the drives each host reports, kept current. Owns the `drives` table.
//!
//! A drive is identified by serial plus LUN id (WWN), never by its device name: `sdc` today
//! is `sdf` after a reboot, and a drive that comes back under a new name keeps its history.
//! A drive its host stops reporting is marked absent, not deleted. Where it sat is kept in
//! `drive_places`: a move to another bay, device name or host opens a new place.

pub mod report;
mod store;
pub mod sync;

pub use report::Reported;
pub use store::{
    apply_report, drives_of_host, get_drive, list_drives, lunid_of, set_smart_temperature,
    set_temperatures, update_drive_text,
};
pub use sync::{Inventory, InventoryOptions};
