//! The server's integration tests, as one test binary.
//!
//! Each file beside this one is a module here rather than a crate of its own: every test crate
//! links the whole server (about 150 MB each with line tables), so two dozen of them cost
//! gigabytes of disk and as many links on a 2-core CI machine, which once ran out of space. They
//! share one harness (`common`) and run in one process; a test selects its file by path, e.g.
//! `cargo test -p burnin-server --test integration alerts::`.
#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

mod access;
mod alert_feeds;
mod alerts;
mod binary;
mod burnin;
mod canary;
mod crash;
mod database;
mod drive_record;
mod evidence;
mod faults;
mod history;
mod hosts;
mod http;
mod inventory;
mod notify;
mod openssh;
mod reattach;
mod settings;
mod snapshots;
mod stats;
mod terminal;
mod truenas;
