//! `burnin`: the domain core of the burn-in dashboard.
//!
//! Pure Rust: no I/O, no async runtime, no clock. It compiles for the server and for the browser
//! (wasm), so the types here are the words both sides speak. Logic that must be exactly right
//! (parsers, rules, the verdict) lives here, where it can be table-tested without a network.

pub mod access;
pub mod alert;
pub mod badblocks;
pub mod capture;
pub mod chart;
pub mod drive;
pub mod drive_record;
pub mod evidence;
pub mod format;
pub mod history;
pub mod host;
pub mod interlock;
pub mod job;
pub mod live;
pub mod notify;
pub mod record;
pub mod remote;
pub mod settings;
pub mod smart;
pub mod stats;
pub mod verdict;

pub use drive::{
    DriveFilter, DriveKind, DriveRow, DriveState, PoolMembership, SmartHealth, TemperatureLevel,
    TemperatureLimits, TemperatureTable, natural_order,
};
