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

mod poll;
mod quote;

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
    #[error("`{0}` is not a device path: expected /dev/ followed by letters, digits, `_` or `/`")]
    BadDevice(String),
    #[error(
        "`{0}` is not a job directory: expected an absolute path of letters, digits, `_`, `-`, `.` and `/`, without `..`"
    )]
    BadJobDir(String),
    #[error("{0} must be a power of two between 512 and 1048576")]
    BadBlockSize(u32),
    #[error("blocks at once must be between 1 and 1048576, not {0}")]
    BadBlocksAtOnce(u32),
}

impl DevicePath {
    pub fn new(path: impl Into<String>) -> Result<DevicePath, CommandError> {
        let path = path.into();
        let name = path.strip_prefix("/dev/").unwrap_or("");
        let valid = !name.is_empty()
            && !name.contains("..")
            && !name.starts_with('/')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '-');
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
    /// Starts `program` detached in `dir` and prints its pid.
    Start {
        os: Os,
        dir: JobDir,
        program: Program,
    },
    /// Reports a job's state and the bytes of its logs from the given offsets.
    Poll {
        dir: JobDir,
        stdout_offset: u64,
        stderr_offset: u64,
        max_bytes: u64,
    },
    /// Sends SIGTERM to the job's whole process group.
    Stop {
        dir: JobDir,
    },
    /// Removes a finished job's directory.
    Remove {
        dir: JobDir,
    },
}

/// Where a job's files live inside its directory.
pub mod files {
    pub const PID: &str = "pid";
    pub const EXIT_CODE: &str = "exit_code";
    pub const STDOUT: &str = "stdout.log";
    pub const STDERR: &str = "stderr.log";
}

impl RemoteCommand {
    /// The command line for `sh -c`, every argument quoted.
    pub fn render(&self) -> String {
        match self {
            RemoteCommand::Smartctl(smartctl) => join(&smartctl_words(smartctl)),
            RemoteCommand::Probe { os, probe } => render_probe(*os, probe),
            RemoteCommand::Start { os, dir, program } => render_start(*os, dir, program),
            RemoteCommand::Poll { dir, stdout_offset, stderr_offset, max_bytes } => {
                poll::render(dir, *stdout_offset, *stderr_offset, *max_bytes)
            }
            RemoteCommand::Stop { dir } => format!(
                "cd {} && pid=$(cat {}) && kill -s TERM -- -\"$pid\"",
                quote(dir.as_str()),
                files::PID
            ),
            RemoteCommand::Remove { dir } => format!("rm -rf -- {}", quote(dir.as_str())),
        }
    }

    /// Parses a command line this module rendered. Anything else is `None`: the simulator
    /// answers it with "command not found" (exit 127), as a restricted shell would.
    pub fn parse(line: &str) -> Option<RemoteCommand> {
        let candidate = parse_candidate(line)?;
        // Parsing is defined as "the typed value that renders to exactly this line", so the
        // interpreter cannot accept a form the product never sends.
        (candidate.render() == line).then_some(candidate)
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

pub(crate) fn badblocks_words(badblocks: &Badblocks) -> Vec<String> {
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
    words.push(badblocks.device.as_str().to_owned());
    words
}

fn program_words(program: &Program) -> Vec<String> {
    match program {
        Program::Badblocks(badblocks) => badblocks_words(badblocks),
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
    };
    join(&words)
}

fn render_start(os: Os, dir: &JobDir, program: &Program) -> String {
    // The job script records its own pid first (the pid is its process group: it is a session
    // leader), then runs the program with its streams in files, then records the exit code
    // atomically so a reader never sees a half-written one.
    // LC_ALL=C: the progress parser reads badblocks' English messages.
    let script = format!(
        "echo $$ >{pid}.tmp && mv {pid}.tmp {pid}; LC_ALL=C {program} >{out} 2>{err} </dev/null; \
         echo $? >{code}.tmp; mv {code}.tmp {code}",
        pid = files::PID,
        code = files::EXIT_CODE,
        out = files::STDOUT,
        err = files::STDERR,
        program = join(&program_words(program)),
    );
    let detach = match os {
        // setsid(1) from util-linux starts it in a new session, away from the SSH session's
        // hangup; `-f` always forks so the SSH command returns at once.
        Os::Linux => format!("setsid -f sh -c {} </dev/null >/dev/null 2>&1", quote(&script)),
        // FreeBSD has no setsid(1); daemon(8) detaches the same way.
        Os::FreeBsd => format!("daemon -f sh -c {}", quote(&script)),
    };
    format!(
        "mkdir -p {dir} && cd {dir} && rm -f {pid} {code} && {detach} && \
         i=0; while [ ! -s {pid} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; cat {pid}",
        dir = quote(dir.as_str()),
        pid = files::PID,
        code = files::EXIT_CODE,
    )
}

/// Builds the typed value a line would parse to; [`RemoteCommand::parse`] then checks that it
/// renders back to exactly that line.
fn parse_candidate(line: &str) -> Option<RemoteCommand> {
    if let Some(rest) = line.strip_prefix("mkdir -p ") {
        return parse_start(rest);
    }
    if line.starts_with("cd ") && line.contains("burnin-poll") {
        return poll::parse(line);
    }
    if let Some(rest) = line.strip_prefix("cd ") {
        let dir = split_words(rest.split(" && ").next()?)?;
        return Some(RemoteCommand::Stop { dir: JobDir::new(dir.first()?.clone()).ok()? });
    }
    let words = split_words(line)?;
    let first = words.first()?.as_str();
    match first {
        "smartctl" => parse_smartctl(&words).map(RemoteCommand::Smartctl),
        "rm" => match words.as_slice() {
            [_, flags, dashes, dir] if flags == "-rf" && dashes == "--" => {
                Some(RemoteCommand::Remove { dir: JobDir::new(dir.clone()).ok()? })
            }
            _ => None,
        },
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

pub(crate) fn parse_badblocks(words: &[String]) -> Option<Badblocks> {
    let mut it = words.iter().peekable();
    if it.next()? != "badblocks" || it.next()? != "-b" {
        return None;
    }
    let block_size = it.next()?.parse().ok()?;
    if it.next()? != "-c" {
        return None;
    }
    let blocks_at_once = it.next()?.parse().ok()?;
    let mode = match it.peek()?.as_str() {
        "-w" => {
            it.next();
            BadblocksMode::Destructive
        }
        "-n" => {
            it.next();
            BadblocksMode::NonDestructive
        }
        _ => BadblocksMode::ReadOnly,
    };
    if it.next()? != "-s" || it.next()? != "-v" {
        return None;
    }
    let mut max_bad_blocks = None;
    if it.peek()?.as_str() == "-e" {
        it.next();
        max_bad_blocks = Some(it.next()?.parse().ok()?);
    }
    let device = DevicePath::new(it.next()?.clone()).ok()?;
    if it.next().is_some() {
        return None;
    }
    let badblocks = Badblocks { device, mode, block_size, blocks_at_once, max_bad_blocks };
    badblocks.validate().ok()?;
    Some(badblocks)
}

fn parse_start(rest: &str) -> Option<RemoteCommand> {
    let os = if rest.contains("&& setsid -f sh -c ") {
        Os::Linux
    } else if rest.contains("&& daemon -f sh -c ") {
        Os::FreeBsd
    } else {
        return None;
    };
    let dir = JobDir::new(split_words(rest.split(" && ").next()?)?.first()?.clone()).ok()?;
    let marker = match os {
        Os::Linux => "setsid -f sh -c ",
        Os::FreeBsd => "daemon -f sh -c ",
    };
    let after = &rest[rest.find(marker)? + marker.len()..];
    // The script is one single-quoted word; find where it ends by re-splitting.
    let script_word = quote::first_word(after)?;
    let script = split_words(script_word)?.into_iter().next()?;
    let program_line = script.split("; ").nth(1)?.strip_prefix("LC_ALL=C ")?;
    let program_line = program_line.split(" >").next()?;
    let words = split_words(program_line)?;
    let program = Program::Badblocks(parse_badblocks(&words)?);
    Some(RemoteCommand::Start { os, dir, program })
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
        _ => return None,
    };
    Some(RemoteCommand::Probe { os, probe })
}

#[cfg(test)]
mod tests;
