//! Placeholder: the badblocks emulation (helper-owned).

use crate::{clock::SimTime, host::HostState};

#[derive(Clone, Debug)]
pub struct SurfaceRun {
    pub device_name: String,
}

pub fn advance_processes(_host: &mut HostState, _now: SimTime) {}
