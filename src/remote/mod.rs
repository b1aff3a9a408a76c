//! The commands the product runs on a NAS over SSH, as typed values.
//!
//! Every remote command is built from typed arguments and rendered to a POSIX `sh` command
//! line with every argument quoted, never from pasted strings. The same module parses a
//! rendered line back into the typed value: the simulator's restricted interpreter uses
//! [`RemoteCommand::parse`] so the commands it accepts are exactly the ones the product sends,
//! and a round-trip test keeps the two from drifting apart.
//!
//! Surface tests run detached on the NAS ([`RemoteCommand::Start`]): in their own session, with
//! stdout and stderr in log files and the pid and exit code in files under a per-job
//! directory, so a dashboard restart or a dropped SSH link never kills a multi-day badblocks
//! run (reference/anchors.md gotcha 34). [`RemoteCommand::Poll`] reads a job's state and its
//! logs by offset; [`PollReport`] parses that answer.

mod job;
mod poll;
mod quote;

pub use job::{
    AbandonReport, JobReplyError, RemoveReport, Signal, StartReport, StopReport, Target,
    exit_codes, lock_file, render_abandon_report, render_remove_report, render_start_report,
    render_stop_report, udev_id,
};
pub use poll::{JobState, PollParseError, PollReport, render_report};
pub use quote::{quote, split_words};

use serde::{Deserialize, Serialize};

/// The NAS's operating system: SCALE is Linux, CORE is FreeBSD. Decides device paths, how a
/// process is detached and which probes exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Os {
    Linux,
    FreeBsd,
}

/// A path under `/dev`, checked so it cannot smuggle anything into a command line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DevicePath(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error(
        "`{0}` is not a device path: expected /dev/ followed by letters, digits and `_/-.:+@=#,`, without `..`"
    )]
    BadDevice(String),
    #[error(
        "`{0}` is not a job directory: expected an absolute path of letters, digits, `_`, `-`, `.` and `/`, without `..`"
    )]
    BadJobDir(String),
    #[error("{0} must be a power of two between 512 and 1048576")]
    BadBlockSize(u32),
    #[error("blocks at once must be between 1 and 1048576, not {0}")]
    BadBlocksAtOnce(u32),
    #[error(
        "the serial {0:?} cannot be checked on the NAS safely: a serial must be 1 to 64 printable ASCII characters"
    )]
    BadSerial(String),
    #[error("the WWN {0:?} cannot be checked on the NAS: expected hex digits")]
    BadLunid(String),
    #[error("the program's device {program} is not the target disk {target}")]
    TargetMismatch { program: String, target: String },
}

impl DevicePath {
    pub fn new(path: impl Into<String>) -> Result<DevicePath, CommandError> {
        let path = path.into();
        let name = path.strip_prefix("/dev/").unwrap_or("");
        let valid = !name.is_empty()
            && !name.contains("..")
            && !name.starts_with('/')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_/-.:+@=#,".contains(c));
        if valid { Ok(DevicePath(path)) } else { Err(CommandError::BadDevice(path)) }
    }

    /// `/dev/<name>` for a device name as TrueNAS reports it (`sda`, `ada3`, `nvme0n1`).
    pub fn for_name(name: &str) -> Result<DevicePath, CommandError> {
        DevicePath::new(format!("/dev/{name}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without `/dev/`.
    pub fn name(&self) -> &str {
        self.0.strip_prefix("/dev/").unwrap_or(&self.0)
    }
}

impl TryFrom<String> for DevicePath {
    type Error = CommandError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DevicePath::new(value)
    }
}

impl From<DevicePath> for String {
    fn from(value: DevicePath) -> String {
        value.0
    }
}

/// A per-job directory on the NAS, e.g. `/var/tmp/burnin/job-12-stage-3`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobDir(String);

impl JobDir {
    pub fn new(path: impl Into<String>) -> Result<JobDir, CommandError> {
        let path = path.into();
        let valid = path.starts_with('/')
            && path.len() > 1
            && !path.contains("..")
            && !path.contains("//")
            && path.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
        if valid { Ok(JobDir(path)) } else { Err(CommandError::BadJobDir(path)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A file inside the directory.
    pub fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.0)
    }
}

impl TryFrom<String> for JobDir {
    type Error = CommandError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        JobDir::new(value)
    }
}

impl From<JobDir> for String {
    fn from(value: JobDir) -> String {
        value.0
    }
}

/// smartctl's `-d` device type, where the NAS needs one (reference/truenas-api.md §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceType {
    Sat,
    Nvme,
    Scsi,
}

impl DeviceType {
    fn as_str(self) -> &'static str {
        match self {
            DeviceType::Sat => "sat",
            DeviceType::Nvme => "nvme",
            DeviceType::Scsi => "scsi",
        }
    }

    fn parse(s: &str) -> Option<DeviceType> {
        [DeviceType::Sat, DeviceType::Nvme, DeviceType::Scsi].into_iter().find(|t| t.as_str() == s)
    }
}

/// Which SMART self-test to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfTestKind {
    Short,
    Long,
    Conveyance,
}

impl SelfTestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SelfTestKind::Short => "short",
            SelfTestKind::Long => "long",
            SelfTestKind::Conveyance => "conveyance",
        }
    }

    fn parse(s: &str) -> Option<SelfTestKind> {
        [SelfTestKind::Short, SelfTestKind::Long, SelfTestKind::Conveyance]
            .into_iter()
            .find(|kind| kind.as_str() == s)
    }
}

/// What a smartctl call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", content = "test", rename_all = "snake_case")]
pub enum SmartctlAction {
    /// `-x`: everything the drive reports.
    Report,
    /// `-t <kind>`: start a self-test. Refused by the drive when one is running.
    StartSelfTest(SelfTestKind),
    /// `-X`: abort the running self-test.
    AbortSelfTest,
}

/// One smartctl invocation. Always JSON; `with_text` adds smartctl's plain text as
/// `smartctl.output[]` (`--json=co`), which is the only place smartctl ≤ 7.5 reports SAS
/// self-test progress and the "Please wait N minutes" of a test start (reference §5.1, §5.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Smartctl {
    pub device: DevicePath,
    pub device_type: Option<DeviceType>,
    pub action: SmartctlAction,
    pub with_text: bool,
}

/// badblocks' test mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BadblocksMode {
    /// `-w`: write four patterns and read each back. Destroys all data.
    Destructive,
    /// `-n`: non-destructive read-write.
    NonDestructive,
    /// Read-only.
    ReadOnly,
}

/// One badblocks invocation. Always `-s -v` (progress and a summary on stderr); bad block
/// numbers go to stdout in units of `block_size` (reference §6).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Badblocks {
    pub device: DevicePath,
    pub mode: BadblocksMode,
    /// `-b`: bytes per block; keeps the block count under 2^32.
    pub block_size: u32,
    /// `-c`: blocks tested at once.
    pub blocks_at_once: u32,
    /// `-e`: stop after this many bad blocks; `None` collects the full list.
    pub max_bad_blocks: Option<u32>,
}

impl Badblocks {
    pub fn validate(&self) -> Result<(), CommandError> {
        if !self.block_size.is_power_of_two() || !(512..=1_048_576).contains(&self.block_size) {
            return Err(CommandError::BadBlockSize(self.block_size));
        }
        if !(1..=1_048_576).contains(&self.blocks_at_once) {
            return Err(CommandError::BadBlocksAtOnce(self.blocks_at_once));
        }
        Ok(())
    }
}

/// A long-running program started detached.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "program", rename_all = "snake_case")]
pub enum Program {
    Badblocks(Badblocks),
}

impl Program {
    fn device(&self) -> &DevicePath {
        match self {
            Program::Badblocks(badblocks) => &badblocks.device,
        }
    }
}

/// Facts a safety check gathers on the NAS. Each renders per [`Os`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "probe", content = "device", rename_all = "snake_case")]
pub enum Probe {
    /// The device and everything below it (partitions, holders). Linux: `lsblk` JSON;
    /// FreeBSD: `gpart show`.
    BlockTree(DevicePath),
    /// Filesystem, RAID, LVM, ZFS and partition-table signatures on the device. Linux:
    /// `wipefs --no-act --json`; FreeBSD: `fstyp`.
    Signatures(DevicePath),
    /// Mounted filesystems. Linux: `/proc/mounts`; FreeBSD: `mount -p`.
    Mounts,
    /// Active swap. Linux: `/proc/swaps`; FreeBSD: `swapctl -l`.
    Swaps,
    /// md RAID arrays (Linux only).
    MdStat,
    /// LVM physical volumes (Linux only).
    LvmPhysicalVolumes,
    /// Devices holding this one (dm, md), from sysfs (Linux only).
    Holders(DevicePath),
    /// Pools that `zpool import` would offer: exported pools whose data is intact.
    ZpoolImportScan,
    /// Imported pools and their member devices.
    ZpoolStatus,
    /// Processes that have the disk or one of its partitions open. Linux: the `/proc/*/fd`
    /// links (one `find`, not a fork per descriptor); FreeBSD: `fstat`.
    OpenBy(DevicePath),
    /// The GEOM provider of a disk: its ident (serial), media size and access counts, which
    /// show any consumer (ZFS, geli, gmirror, a label) holding it (FreeBSD only).
    GeomDisk(DevicePath),
    /// Burn-ins whose processes are alive under a job root, with the disk each one writes.
    BurninJobs(JobDir),
    /// Who the NAS says it is over SSH: its hostname and the digest of its host id, to compare
    /// with what its API says.
    HostIdentity,
    /// Where device paths lead now (`readlink -f`): the paths VMs and iSCSI extents are
    /// configured with may name a disk by-path, by-partuuid or by-id.
    Resolve(Vec<DevicePath>),
}

/// Everything the product runs on a NAS.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum RemoteCommand {
    Smartctl(Smartctl),
    Probe {
        os: Os,
        probe: Probe,
    },
    /// Starts `program` detached in `dir`, at most once per folder: the folder is claimed
    /// atomically, the disk's identity is checked through a serial-bound path in the same
    /// shell, the disk's lock (`lock`) is taken, and only then does the program run, on the
    /// path that was checked. See [`job`] for the protocol and [`StartReport`] for the answer.
    Start {
        os: Os,
        dir: JobDir,
        lock: JobDir,
        target: Target,
        program: Program,
    },
    /// Reports a job's state and the bytes of its logs from the given offsets.
    Poll {
        dir: JobDir,
        stdout_offset: u64,
        stderr_offset: u64,
        max_bytes: u64,
    },
    /// Sends a signal to the job's whole process group.
    Stop {
        dir: JobDir,
        signal: Signal,
    },
    /// Claims a folder whose start was never confirmed, so a start still on its way can never
    /// run there.
    Abandon {
        dir: JobDir,
    },
    /// Removes a job's folder; refused while any of its processes lives.
    Remove {
        dir: JobDir,
    },
}

/// Where a job's files live inside its directory.
pub mod files {
    /// The process group of the detached job (its session leader's pid).
    pub const GROUP: &str = "group";
    /// Written by earlier versions instead of [`GROUP`]; read as the group.
    pub const LEGACY_PID: &str = "pid";
    /// Written once the disk's lock is held, right before the program runs.
    pub const STARTED: &str = "started";
    /// Why the job did not start: the identity check or the lock refused it.
    pub const REFUSED: &str = "refused";
    /// A folder claimed by a start (or by an abandon, which then adds `claim/abandoned`).
    pub const CLAIM: &str = "claim";
    pub const ABANDONED: &str = "claim/abandoned";
    /// The target: serial, device name and the path the program was given, one per line.
    pub const TARGET: &str = "target";
    pub const EXIT_CODE: &str = "exit_code";
    pub const STDOUT: &str = "stdout.log";
    pub const STDERR: &str = "stderr.log";
}

/// The longest command line sent: BSD csh, a login shell some NASes give root, refuses words
/// longer than about 8 KiB ("Word too long", measured: 8,000 bytes pass, 10,000 fail), and the
/// whole line is one word of it.
pub const MAX_WIRE_BYTES: usize = 8000;

/// The prefix of every line on the wire: whatever the user's login shell is (sh, bash, zsh,
/// csh), it runs `env`, which runs POSIX `sh` with the C locale, so the line is parsed by `sh`
/// and every tool prints the English messages the parsers read.
pub const WIRE_PREFIX: &str = "env LC_ALL=C sh -c ";

impl RemoteCommand {
    /// The command line for `sh`, every argument quoted.
    pub fn render(&self) -> String {
        match self {
            RemoteCommand::Smartctl(smartctl) => join(&smartctl_words(smartctl)),
            RemoteCommand::Probe { os, probe } => render_probe(*os, probe),
            RemoteCommand::Start { os, dir, lock, target, program } => {
                job::render_start(*os, dir, lock, target, &program_words_for_start(program))
            }
            RemoteCommand::Poll { dir, stdout_offset, stderr_offset, max_bytes } => {
                poll::render(dir, *stdout_offset, *stderr_offset, *max_bytes)
            }
            RemoteCommand::Stop { dir, signal } => job::render_stop(dir, *signal),
            RemoteCommand::Abandon { dir } => job::render_abandon(dir),
            RemoteCommand::Remove { dir } => job::render_remove(dir),
        }
    }

    /// What is sent over SSH: [`RemoteCommand::render`] run by `sh` under `env LC_ALL=C`,
    /// whatever the login shell.
    pub fn wire(&self) -> String {
        format!("{WIRE_PREFIX}{}", quote(&self.render()))
    }

    /// Parses a command line this module rendered. Anything else is `None`: the simulator
    /// answers it with "command not found" (exit 127), as a restricted shell would.
    pub fn parse(line: &str) -> Option<RemoteCommand> {
        let candidate = parse_candidate(line)?;
        // Parsing is defined as "the typed value that renders to exactly this line", so the
        // interpreter cannot accept a form the product never sends.
        (candidate.render() == line).then_some(candidate)
    }

    /// Parses what arrives over SSH: only the [`RemoteCommand::wire`] form.
    pub fn parse_wire(line: &str) -> Option<RemoteCommand> {
        let rest = line.strip_prefix(WIRE_PREFIX)?;
        let words = split_words(rest)?;
        match words.as_slice() {
            [inner] => RemoteCommand::parse(inner),
            _ => None,
        }
    }

    /// A short name for logs and timeouts ("smartctl", "badblocks start", "poll").
    pub fn what(&self) -> &'static str {
        match self {
            RemoteCommand::Smartctl(_) => "smartctl",
            RemoteCommand::Probe { .. } => "a safety probe",
            RemoteCommand::Start { .. } => "the start of badblocks",
            RemoteCommand::Poll { .. } => "reading the job's state",
            RemoteCommand::Stop { .. } => "stopping the job",
            RemoteCommand::Abandon { .. } => "abandoning an unconfirmed start",
            RemoteCommand::Remove { .. } => "removing the job's folder",
        }
    }
}

fn join(words: &[String]) -> String {
    words.iter().map(|word| quote(word)).collect::<Vec<_>>().join(" ")
}

fn smartctl_words(smartctl: &Smartctl) -> Vec<String> {
    let mut words = vec!["smartctl".to_owned()];
    words.push(if smartctl.with_text { "--json=co" } else { "--json=c" }.to_owned());
    if let Some(device_type) = smartctl.device_type {
        words.push("-d".to_owned());
        words.push(device_type.as_str().to_owned());
    }
    match smartctl.action {
        SmartctlAction::Report => words.push("-x".to_owned()),
        SmartctlAction::StartSelfTest(kind) => {
            words.push("-t".to_owned());
            words.push(kind.as_str().to_owned());
        }
        SmartctlAction::AbortSelfTest => words.push("-X".to_owned()),
    }
    words.push(smartctl.device.as_str().to_owned());
    words
}

/// badblocks' words without the device, which the start script appends as the path it
/// checked.
pub(crate) fn badblocks_option_words(badblocks: &Badblocks) -> Vec<String> {
    let mut words = vec![
        "badblocks".to_owned(),
        "-b".to_owned(),
        badblocks.block_size.to_string(),
        "-c".to_owned(),
        badblocks.blocks_at_once.to_string(),
    ];
    match badblocks.mode {
        BadblocksMode::Destructive => words.push("-w".to_owned()),
        BadblocksMode::NonDestructive => words.push("-n".to_owned()),
        BadblocksMode::ReadOnly => {}
    }
    words.push("-s".to_owned());
    words.push("-v".to_owned());
    if let Some(max) = badblocks.max_bad_blocks {
        words.push("-e".to_owned());
        words.push(max.to_string());
    }
    words
}

fn program_words_for_start(program: &Program) -> String {
    match program {
        Program::Badblocks(badblocks) => join(&badblocks_option_words(badblocks)),
    }
}

pub(crate) fn parse_badblocks_options(words: &[String], device: DevicePath) -> Option<Badblocks> {
    let mut it = words.iter().peekable();
    if it.next()? != "badblocks" || it.next()? != "-b" {
        return None;
    }
    let block_size = it.next()?.parse().ok()?;
    if it.next()? != "-c" {
        return None;
    }
    let blocks_at_once = it.next()?.parse().ok()?;
    let mode = match it.peek().map(|w| w.as_str()) {
        Some("-w") => {
            it.next();
            BadblocksMode::Destructive
        }
        Some("-n") => {
            it.next();
            BadblocksMode::NonDestructive
        }
        _ => BadblocksMode::ReadOnly,
    };
    if it.next()? != "-s" || it.next()? != "-v" {
        return None;
    }
    let mut max_bad_blocks = None;
    if it.peek().map(|w| w.as_str()) == Some("-e") {
        it.next();
        max_bad_blocks = Some(it.next()?.parse().ok()?);
    }
    if it.next().is_some() {
        return None;
    }
    let badblocks = Badblocks { device, mode, block_size, blocks_at_once, max_bad_blocks };
    badblocks.validate().ok()?;
    Some(badblocks)
}

/// The glob that matches a disk's partitions under `/dev`: `sdb1`…, but `nvme0n1p1`… and
/// `loop3p1`… for names ending in a digit.
pub fn partition_glob(device: &DevicePath) -> String {
    if device.as_str().ends_with(|c: char| c.is_ascii_digit()) {
        format!("{}p[0-9]*", device.as_str())
    } else {
        format!("{}[0-9]*", device.as_str())
    }
}

fn render_probe(os: Os, probe: &Probe) -> String {
    let words: Vec<String> = match (os, probe) {
        (Os::Linux, Probe::BlockTree(device)) => vec![
            "lsblk".into(),
            "--json".into(),
            "--bytes".into(),
            "--paths".into(),
            "--output".into(),
            "NAME,TYPE,SIZE,FSTYPE,MOUNTPOINT,PARTTYPE".into(),
            device.as_str().into(),
        ],
        (Os::FreeBsd, Probe::BlockTree(device)) => {
            vec!["gpart".into(), "show".into(), "-p".into(), device.name().into()]
        }
        (Os::Linux, Probe::Signatures(device)) => {
            vec!["wipefs".into(), "--no-act".into(), "--json".into(), device.as_str().into()]
        }
        (Os::FreeBsd, Probe::Signatures(device)) => {
            vec!["fstyp".into(), "-u".into(), device.as_str().into()]
        }
        (Os::Linux, Probe::Mounts) => vec!["cat".into(), "/proc/mounts".into()],
        (Os::FreeBsd, Probe::Mounts) => vec!["mount".into(), "-p".into()],
        (Os::Linux, Probe::Swaps) => vec!["cat".into(), "/proc/swaps".into()],
        (Os::FreeBsd, Probe::Swaps) => vec!["swapctl".into(), "-l".into()],
        (_, Probe::MdStat) => vec!["cat".into(), "/proc/mdstat".into()],
        (_, Probe::LvmPhysicalVolumes) => vec![
            "pvs".into(),
            "--noheadings".into(),
            "--separator".into(),
            ":".into(),
            "-o".into(),
            "pv_name,vg_name".into(),
        ],
        (_, Probe::Holders(device)) => {
            vec!["ls".into(), "-1".into(), format!("/sys/class/block/{}/holders", device.name())]
        }
        // `-d /dev` scans the device nodes themselves, so members are named `sdb1` / `ada1p2`
        // rather than by-id or partuuid links the interlock could not tie to a disk.
        (_, Probe::ZpoolImportScan) => {
            vec!["zpool".into(), "import".into(), "-d".into(), "/dev".into()]
        }
        // `-L` resolves SCALE's /dev/disk/by-partuuid links to the device (`/dev/sdb1`).
        (Os::Linux, Probe::ZpoolStatus) => {
            vec!["zpool".into(), "status".into(), "-P".into(), "-L".into()]
        }
        (Os::FreeBsd, Probe::ZpoolStatus) => vec!["zpool".into(), "status".into(), "-P".into()],
        (_, Probe::GeomDisk(device)) => {
            vec!["geom".into(), "disk".into(), "list".into(), device.name().into()]
        }
        (os, Probe::OpenBy(device)) => return job::render_open_by(os, device),
        (os, Probe::BurninJobs(root)) => return job::render_burnin_jobs(os, root),
        (os, Probe::HostIdentity) => return job::render_host_identity(os),
        (os, Probe::Resolve(paths)) => return job::render_resolve(os, paths),
    };
    join(&words)
}

/// Builds the typed value a line would parse to; [`RemoteCommand::parse`] then checks that it
/// renders back to exactly that line.
fn parse_candidate(line: &str) -> Option<RemoteCommand> {
    if let Some(command) = job::parse(line) {
        return Some(command);
    }
    if line.starts_with("cd ") && line.contains("burnin-poll") {
        return poll::parse(line);
    }
    let words = split_words(line)?;
    let first = words.first()?.as_str();
    match first {
        "smartctl" => parse_smartctl(&words).map(RemoteCommand::Smartctl),
        _ => parse_probe(&words),
    }
}

fn parse_smartctl(words: &[String]) -> Option<Smartctl> {
    let mut rest = words.get(1..)?.iter();
    let with_text = match rest.next()?.as_str() {
        "--json=co" => true,
        "--json=c" => false,
        _ => return None,
    };
    let mut device_type = None;
    let mut word = rest.next()?;
    if word == "-d" {
        device_type = Some(DeviceType::parse(rest.next()?)?);
        word = rest.next()?;
    }
    let action = match word.as_str() {
        "-x" => SmartctlAction::Report,
        "-X" => SmartctlAction::AbortSelfTest,
        "-t" => SmartctlAction::StartSelfTest(SelfTestKind::parse(rest.next()?)?),
        _ => return None,
    };
    let device = DevicePath::new(rest.next()?.clone()).ok()?;
    rest.next().is_none().then_some(Smartctl { device, device_type, action, with_text })
}

fn parse_probe(words: &[String]) -> Option<RemoteCommand> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let device = |path: &str| DevicePath::new(path.to_owned()).ok();
    let (os, probe) = match words.as_slice() {
        ["lsblk", "--json", "--bytes", "--paths", "--output", _, path] => {
            (Os::Linux, Probe::BlockTree(device(path)?))
        }
        ["gpart", "show", "-p", name] => {
            (Os::FreeBsd, Probe::BlockTree(DevicePath::for_name(name).ok()?))
        }
        ["wipefs", "--no-act", "--json", path] => (Os::Linux, Probe::Signatures(device(path)?)),
        ["fstyp", "-u", path] => (Os::FreeBsd, Probe::Signatures(device(path)?)),
        ["cat", "/proc/mounts"] => (Os::Linux, Probe::Mounts),
        ["mount", "-p"] => (Os::FreeBsd, Probe::Mounts),
        ["cat", "/proc/swaps"] => (Os::Linux, Probe::Swaps),
        ["swapctl", "-l"] => (Os::FreeBsd, Probe::Swaps),
        ["cat", "/proc/mdstat"] => (Os::Linux, Probe::MdStat),
        ["pvs", ..] => (Os::Linux, Probe::LvmPhysicalVolumes),
        ["ls", "-1", path] => {
            let name = path.strip_prefix("/sys/class/block/")?.strip_suffix("/holders")?;
            (Os::Linux, Probe::Holders(DevicePath::for_name(name).ok()?))
        }
        ["zpool", "import", "-d", "/dev"] => (Os::Linux, Probe::ZpoolImportScan),
        ["zpool", "status", "-P", "-L"] => (Os::Linux, Probe::ZpoolStatus),
        ["zpool", "status", "-P"] => (Os::FreeBsd, Probe::ZpoolStatus),
        ["geom", "disk", "list", name] => {
            (Os::FreeBsd, Probe::GeomDisk(DevicePath::for_name(name).ok()?))
        }
        _ => return None,
    };
    Some(RemoteCommand::Probe { os, probe })
}

#[cfg(test)]
mod tests;
