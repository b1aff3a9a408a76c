//! smartctl 7.4 (the version TrueNAS ships, reference/truenas-api.md §2.4, §5) answering for
//! simulated drives, in JSON (`--json=c`, compact) or JSON with smartctl's plain text as
//! `smartctl.output[]` (`--json=co`).
//!
//! Reports (`-x`) start from real captures of the same protocol, kind and vendor (see
//! captures/PROVENANCE.md) and get the simulated drive's identity and live values written in;
//! the shapes and words smartctl adds come from smartmontools' own source at tag RELEASE_7_4
//! (`smartctl.cpp`, `ataprint.cpp`, `atacmds.cpp`, `scsiprint.cpp`, `nvmeprint.cpp`). Self-test
//! start (`-t`) and abort (`-X`) act on the [`DriveSim`] and print what smartctl prints. Exit
//! statuses carry smartctl's bits (§5.5).
//!
//! Nothing here panics, whatever the command or drive state.

mod ata;
mod ata_attributes;
mod capture;
mod nvme;
mod scsi;
mod selftest;
mod text;

use burnin::remote::{DeviceType, Smartctl, SmartctlAction};
use serde_json::{Value, json};

use crate::{clock::SimTime, drive::DriveSim, host::HostState, scenario::Protocol};
use text::Lines;

/// What the command printed and how it exited.
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: u32,
}

/// smartctl's exit-status bits (smartctl(8), EXIT STATUS; reference §5.5).
pub mod bits {
    pub const COMMAND_LINE: u32 = 1 << 0;
    pub const OPEN_FAILED: u32 = 1 << 1;
    pub const COMMAND_FAILED: u32 = 1 << 2;
    pub const FAILING: u32 = 1 << 3;
    pub const PREFAIL_AT_THRESHOLD: u32 = 1 << 4;
    pub const WAS_AT_THRESHOLD: u32 = 1 << 5;
    pub const ERROR_LOG: u32 = 1 << 6;
    pub const SELF_TEST_ERRORS: u32 = 1 << 7;
}

/// The circumstances of one run.
struct Invocation<'a> {
    command: &'a Smartctl,
    /// TrueNAS CORE (FreeBSD) rather than SCALE (Linux).
    core: bool,
    /// Simulated time.
    now: SimTime,
    /// Wall-clock Unix time, for `local_time` and the completion dates smartctl prints.
    wall: i64,
    /// Simulated seconds per real second.
    speed: f64,
}

impl Invocation<'_> {
    /// The wall-clock time `sim_seconds` of simulated time from now (when a test started now
    /// will really end, at the simulator's speed).
    fn wall_after(&self, sim_seconds: f64) -> i64 {
        let speed = if self.speed.is_finite() && self.speed > 0.0 { self.speed } else { 1.0 };
        let real = (sim_seconds / speed).clamp(0.0, 1e12);
        self.wall.saturating_add(real as i64)
    }

    /// `js_device_info`: the device as smartctl opened it.
    fn device(&self, protocol: Protocol) -> Value {
        let name = self.command.device.as_str();
        let (kind, info_name) = match (self.command.device_type, protocol) {
            (Some(DeviceType::Sat), _) => ("sat", format!("{name} [SAT]")),
            (Some(DeviceType::Scsi), _) => ("scsi", name.to_owned()),
            (Some(DeviceType::Nvme), _) => ("nvme", name.to_owned()),
            // FreeBSD talks to ada disks through CAM's ATA passthrough.
            (None, Protocol::Ata) if self.core => ("atacam", name.to_owned()),
            (None, Protocol::Ata) => ("sat", format!("{name} [SAT]")),
            (None, Protocol::Scsi) => ("scsi", name.to_owned()),
            (None, Protocol::Nvme) => ("nvme", name.to_owned()),
        };
        let protocol = match protocol {
            Protocol::Ata => "ATA",
            Protocol::Scsi => "SCSI",
            Protocol::Nvme => "NVMe",
        };
        json!({"name": name, "info_name": info_name, "type": kind, "protocol": protocol})
    }
}

/// What a protocol module produced: the report's keys, its text, `jerr` messages and the
/// status smartctl returns (an `int`: the SAS refusal returns -1).
struct Answer {
    doc: Value,
    lines: Lines,
    errors: Vec<String>,
    status: i32,
}

/// Runs one smartctl command against the host's drives at the host's current simulated time.
pub fn run(state: &mut HostState, command: &Smartctl) -> Output {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX));
    let invocation = Invocation {
        command,
        core: state.personality.is_core(),
        now: state.now,
        wall,
        speed: state.speed,
    };
    let answer = answer(state, &invocation);
    render(&invocation, answer)
}

fn answer(state: &mut HostState, inv: &Invocation<'_>) -> Answer {
    let name = inv.command.device.name();
    // CORE's smartctl refuses the nvd namespace nodes (os_freebsd.cpp); TrueNAS passes the
    // controller /dev/nvmeN instead (reference §4.2).
    if inv.core && name.starts_with("nvd") && inv.command.device_type.is_none() {
        return usage_error(inv);
    }
    let Some(drive) = lookup(state, name, inv.core) else { return open_failed(inv) };
    let protocol = drive.spec.protocol;
    let mut answer = match inv.command.action {
        SmartctlAction::Report => match protocol {
            Protocol::Ata => ata::report(drive, inv),
            Protocol::Scsi => scsi::report(drive, inv),
            Protocol::Nvme => nvme::report(drive, inv),
        },
        SmartctlAction::StartSelfTest(kind) => selftest::start(drive, inv, kind),
        SmartctlAction::AbortSelfTest => selftest::abort(drive),
    };
    answer.doc["device"] = inv.device(protocol);
    answer
}

/// The present drive `/dev/<name>` means: its own device node, or on either OS the NVMe
/// controller node `nvmeN` of namespace `nvdN` (CORE) or `nvmeNn1` (SCALE).
fn lookup<'a>(state: &'a mut HostState, name: &str, core: bool) -> Option<&'a mut DriveSim> {
    let controller = name
        .strip_prefix("nvme")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .map(|n| if core { format!("nvd{n}") } else { format!("nvme{n}n1") });
    let index = state.drives.iter().position(|d| d.present && d.devname == name).or_else(|| {
        let controller = controller.as_deref()?;
        state.drives.iter().position(|d| d.present && d.devname == controller)
    })?;
    state.drives.get_mut(index)
}

/// `main_worker` when the device cannot be opened: exit status 2.
fn open_failed(inv: &Invocation<'_>) -> Answer {
    let name = inv.command.device.as_str();
    let info_name = match inv.command.device_type {
        Some(DeviceType::Sat) => format!("{name} [SAT]"),
        _ => name.to_owned(),
    };
    let message = format!("Smartctl open device: {info_name} failed: No such device");
    Answer {
        doc: json!({}),
        lines: Lines(vec![message.clone()]),
        errors: vec![message],
        status: bits::OPEN_FAILED as i32,
    }
}

/// `main_worker` when no device object can be made for the name: exit status 1.
fn usage_error(inv: &Invocation<'_>) -> Answer {
    let message = format!(
        "{}: To monitor NVMe disks use /dev/nvme* device names",
        inv.command.device.as_str()
    );
    let mut lines = Lines(vec![message.clone()]);
    lines.line("Please specify device type with the -d option.");
    lines.blank();
    lines.line("Use smartctl -h to get a usage summary");
    lines.blank();
    Answer { doc: json!({}), lines, errors: vec![message], status: bits::COMMAND_LINE as i32 }
}

/// The whole JSON document as `jglb.print` writes it, compact, with a final newline.
fn render(inv: &Invocation<'_>, answer: Answer) -> Output {
    let argv = burnin::remote::split_words(
        &burnin::remote::RemoteCommand::Smartctl(inv.command.clone()).render(),
    )
    .unwrap_or_default();
    let mut smartctl = json!({
        "version": [7, 4],
        "pre_release": false,
        "svn_revision": text::SVN_REVISION,
        "platform_info": text::platform(inv.core),
        "build_info": "(local build)",
        "argv": argv,
    });
    if inv.command.with_text {
        let mut lines = text::banner(inv.core);
        lines.extend(answer.lines);
        smartctl["output"] = json!(lines.0);
    }
    if !answer.errors.is_empty() {
        smartctl["messages"] =
            answer.errors.iter().map(|text| json!({"string": text, "severity": "error"})).collect();
    }
    smartctl["exit_status"] = json!(answer.status);
    let mut document = json!({
        "json_format_version": [1, 0],
        "smartctl": smartctl,
        "local_time": {"time_t": inv.wall, "asctime": text::asctime(inv.wall)},
    });
    if let (Some(target), Value::Object(keys)) = (document.as_object_mut(), answer.doc) {
        for (key, value) in keys {
            if !matches!(key.as_str(), "json_format_version" | "smartctl" | "local_time") {
                target.insert(key, value);
            }
        }
    }
    let mut stdout = serde_json::to_vec(&document).unwrap_or_default();
    stdout.push(b'\n');
    // A process exit status is one byte: smartctl's -1 reaches the shell as 255.
    Output { stdout, stderr: Vec::new(), exit_code: u32::from(answer.status as u8) }
}
