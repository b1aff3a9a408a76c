//! The restricted interpreter behind the simulator's SSH server: not a shell. It accepts
//! exactly the command lines the product sends (`burnin::remote::RemoteCommand::parse_wire`:
//! `env LC_ALL=C sh -c '<line>'`), so the product's command builder and this interpreter cannot
//! drift apart; anything else is "not found", exit 127, as dash says it.
//!
//! The job commands follow the protocol of `burnin::remote`'s job module on the host's files:
//! a folder is claimed once, the disk's identity is checked the way the start script checks it
//! (by-id on SCALE, `geom` on CORE), a per-disk lock refuses a second writer, and `group`,
//! `started`, `refused`, `target` and `exit_code` are written as the real scripts write them.

use burnin::remote::{
    AbandonReport, JobDir, JobState, Os, PollReport, Probe, Program, RemoteCommand, RemoveReport,
    Signal, StartReport, StopReport, Target, files, render_abandon_report, render_remove_report,
    render_report, render_start_report, render_stop_report,
};

use crate::{
    HostCore,
    host::{BeforeStart, HostState, Process, ProcessState, WriterRecord},
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: u32,
}

impl Output {
    fn ok(stdout: impl Into<Vec<u8>>) -> Output {
        Output { stdout: stdout.into(), stderr: Vec::new(), exit_code: 0 }
    }

    fn with_code(stdout: impl Into<Vec<u8>>, exit_code: u32) -> Output {
        Output { stdout: stdout.into(), stderr: Vec::new(), exit_code }
    }

    fn error(stderr: impl Into<String>, exit_code: u32) -> Output {
        Output { stdout: Vec::new(), stderr: stderr.into().into_bytes(), exit_code }
    }

    fn not_found(word: &str) -> Output {
        Output::error(format!("sh: 1: {word}: not found\n"), 127)
    }
}

/// Parses a line as it arrives over SSH.
pub fn parse(line: &str) -> Option<RemoteCommand> {
    RemoteCommand::parse_wire(line.trim_end_matches('\n'))
}

/// Runs one command line against the host, at the current simulated time.
pub fn execute(host: &HostCore, line: &str) -> Output {
    let Some(command) = parse(line) else {
        let word = line.split_whitespace().next().unwrap_or("");
        return Output::not_found(word);
    };
    host.with(|state| run(state, command))
}

/// Runs a parsed command against the host's state.
pub fn run(state: &mut HostState, command: RemoteCommand) -> Output {
    let os = state.personality.os();
    match command {
        RemoteCommand::Smartctl(smartctl) => {
            let out = crate::smartctl::run(state, &smartctl);
            Output { stdout: out.stdout, stderr: out.stderr, exit_code: out.exit_code }
        }
        RemoteCommand::Probe { os: probe_os, probe } => {
            if probe_os != os && !shared(&probe) {
                let word = RemoteCommand::Probe { os: probe_os, probe }.render();
                return Output::not_found(word.split_whitespace().next().unwrap_or(""));
            }
            let (stdout, stderr, exit_code) = crate::probes::run(state, &probe);
            Output { stdout, stderr, exit_code }
        }
        RemoteCommand::Start {
            os: start_os,
            dir,
            lock,
            target,
            program: Program::Badblocks(params),
        } => {
            *state.start_attempts.entry(target.serial.clone()).or_default() += 1;
            if start_os != os {
                // The other OS's tools (setsid and flock on FreeBSD, daemon and lockf on Linux).
                let tool = if start_os == Os::Linux { "setsid" } else { "daemon" };
                return Output::error(format!("sh: 1: {tool}: not found\n"), 127);
            }
            start(state, &dir, &lock, &target, &params)
        }
        RemoteCommand::Poll { dir, stdout_offset, stderr_offset, max_bytes } => {
            Output::ok(render_report(&poll(state, &dir, stdout_offset, stderr_offset, max_bytes)))
        }
        RemoteCommand::Stop { dir, signal } => {
            Output::ok(render_stop_report(stop(state, &dir, signal)))
        }
        RemoteCommand::Abandon { dir } => Output::ok(render_abandon_report(&abandon(state, &dir))),
        RemoteCommand::Remove { dir } => {
            let (stdout, code) = render_remove_report(remove(state, &dir));
            Output::with_code(stdout, code)
        }
    }
}

/// Probes that render the same on both systems (zpool, and the ones that simply fail there).
fn shared(probe: &Probe) -> bool {
    matches!(
        probe,
        Probe::ZpoolImportScan
            | Probe::ZpoolStatus
            | Probe::MdStat
            | Probe::LvmPhysicalVolumes
            | Probe::Holders(_)
            | Probe::BurninJobs(_)
            | Probe::GeomDisk(_)
            | Probe::Resolve(_)
    )
}

fn file(state: &HostState, dir: &JobDir, name: &str) -> Option<Vec<u8>> {
    state.files.get(&dir.file(name)).cloned()
}

fn has(state: &HostState, dir: &JobDir, name: &str) -> bool {
    state.files.get(&dir.file(name)).is_some_and(|bytes| !bytes.is_empty())
}

fn dir_exists(state: &HostState, dir: &JobDir) -> bool {
    let prefix = format!("{}/", dir.as_str());
    state.files.keys().any(|path| path.starts_with(&prefix))
}

/// The live process of a job folder, if any.
fn live_process(state: &HostState, dir: &JobDir) -> Option<u32> {
    state
        .processes
        .values()
        .find(|p| p.dir == dir.as_str() && p.state == ProcessState::Running)
        .map(|p| p.pid)
}

fn claim(state: &mut HostState, dir: &JobDir) -> bool {
    if state.files.contains_key(&dir.file(files::CLAIM)) {
        return false;
    }
    state.files.insert(dir.file(files::CLAIM), b"claimed".to_vec());
    true
}

/// The start's identity check, as the start script does it on each system: the path badblocks
/// is given, or why the disk is not the recorded one.
fn check_identity(state: &HostState, target: &Target) -> Result<String, String> {
    let device = target.device.as_str();
    let name = target.device.name();
    if state.personality.is_core() {
        let Some(drive) = state.drive_by_name(name) else {
            return Err(format!("geom cannot see {name}: geom: No such geom: {name}."));
        };
        if drive.spec.serial != target.serial {
            return Err(format!(
                "{device} reports serial {}, not {}",
                drive.spec.serial, target.serial
            ));
        }
        if drive.spec.size_bytes != target.size_bytes {
            return Err(format!(
                "{device} is {} bytes, not the recorded {}",
                drive.spec.size_bytes, target.size_bytes
            ));
        }
        return Ok(device.to_owned());
    }
    // by-id: the links whose name ends with the serial, or that name the disk's WWN, each
    // of which must lead to `device`.
    let wanted = burnin::remote::udev_id(&target.serial);
    let wwn_links = target.wwn_links();
    let mut path = None;
    for drive in state.present_drives() {
        for link in state.by_id_names(drive) {
            let serial_bound = link.ends_with(&format!("_{wanted}"))
                || link.ends_with(&format!("-{wanted}"))
                || wwn_links.contains(&link);
            if !serial_bound {
                continue;
            }
            if drive.devname != name {
                return Err(format!(
                    "the disk with serial {} is /dev/{}, not {device}",
                    target.serial, drive.devname
                ));
            }
            path.get_or_insert(format!("/dev/disk/by-id/{link}"));
        }
    }
    let Some(path) = path else {
        return Err(format!(
            "no link in /dev/disk/by-id carries serial {}{}: the disk at {device} is not the recorded one, or udev is not running",
            target.serial,
            if target.lunid.is_empty() {
                String::new()
            } else {
                format!(" or its WWN {}", target.lunid)
            }
        ));
    };
    let drive = state.drive_by_name(name).ok_or_else(|| format!("{path} is not a block device"))?;
    if drive.spec.size_bytes != target.size_bytes {
        return Err(format!(
            "{device} has {} sectors of 512 bytes, not the recorded {} ({} bytes)",
            drive.spec.size_bytes / 512,
            target.size_bytes / 512,
            target.size_bytes
        ));
    }
    Ok(path)
}

fn apply_before_start(state: &mut HostState) {
    let Some(change) = state.faults.before_start.take() else { return };
    match change {
        BeforeStart::Rename { serial, to } => {
            if let Some(drive) = state.drives.iter_mut().find(|d| d.spec.serial == serial) {
                drive.devname = to;
            }
        }
        BeforeStart::SwapNames { a, b } => {
            let name_of = |state: &HostState, serial: &str| {
                state.drive_by_serial(serial).map(|d| d.devname.clone())
            };
            if let (Some(name_a), Some(name_b)) = (name_of(state, &a), name_of(state, &b)) {
                for drive in &mut state.drives {
                    if drive.spec.serial == a {
                        drive.devname = name_b.clone();
                    } else if drive.spec.serial == b {
                        drive.devname = name_a.clone();
                    }
                }
            }
        }
    }
    state.disk_generation += 1;
}

fn start(
    state: &mut HostState,
    dir: &JobDir,
    lock: &JobDir,
    target: &Target,
    params: &burnin::remote::Badblocks,
) -> Output {
    apply_before_start(state);
    let refuse = |state: &mut HostState, identity: bool, reason: String| {
        let line = format!("{} {reason}\n", if identity { "identity" } else { "busy" });
        state.files.insert(dir.file(files::REFUSED), line.into_bytes());
        let (stdout, code) = render_start_report(&StartReport::Refused { identity, reason });
        Output::with_code(stdout, code)
    };
    if !claim(state, dir) {
        let (stdout, code) = render_start_report(&StartReport::Claimed);
        return Output::with_code(stdout, code);
    }
    let path = match check_identity(state, target) {
        Ok(path) => path,
        Err(reason) => return refuse(state, true, reason),
    };
    state.files.insert(
        dir.file(files::TARGET),
        format!("{}\n{}\n{path}\n", target.serial, target.device.as_str()).into_bytes(),
    );
    let group = state.allocate_pid();
    state.files.insert(dir.file(files::GROUP), format!("{group}\n").into_bytes());
    // The lock: a live writer on the same disk holds it.
    let holders = state
        .processes
        .values()
        .filter(|p| p.state == ProcessState::Running && p.serial == target.serial)
        .count();
    if holders > 0 {
        return refuse(
            state,
            false,
            format!("the disk's lock {} is held: another burn-in is writing to it", lock.as_str()),
        );
    }
    state.files.insert(dir.file(files::STARTED), format!("{group}\n").into_bytes());
    state.files.insert(dir.file(files::STDOUT), Vec::new());
    state.files.insert(dir.file(files::STDERR), Vec::new());
    let now = state.now;
    match crate::badblocks::start_on(state, params, &path, now) {
        Ok((run, header)) => {
            state.files.insert(dir.file(files::STDERR), header.into_bytes());
            if params.mode != burnin::remote::BadblocksMode::ReadOnly {
                state.writers.push(WriterRecord {
                    serial: run.serial.clone(),
                    pid: group,
                    dir: dir.as_str().to_owned(),
                    overlapping: holders,
                });
            }
            state.processes.insert(
                group,
                Process {
                    pid: group,
                    dir: dir.as_str().to_owned(),
                    started: now,
                    state: ProcessState::Running,
                    serial: run.serial.clone(),
                    program: run,
                    term_received: false,
                },
            );
        }
        Err((stderr, code)) => {
            // The job starts, badblocks refuses and exits: its words land in the log and its
            // status in exit_code, exactly as on a NAS.
            state.files.insert(dir.file(files::STDERR), stderr.into_bytes());
            state.files.insert(dir.file(files::EXIT_CODE), format!("{code}\n").into_bytes());
        }
    }
    let (stdout, code) = render_start_report(&StartReport::Started { group });
    Output::with_code(stdout, code)
}

fn poll(
    state: &HostState,
    dir: &JobDir,
    stdout_offset: u64,
    stderr_offset: u64,
    max_bytes: u64,
) -> PollReport {
    if !dir_exists(state, dir) {
        return PollReport {
            state: JobState::NoJob,
            stdout_size: 0,
            stderr_size: 0,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
    }
    let code = file(state, dir, files::EXIT_CODE)
        .and_then(|bytes| String::from_utf8_lossy(&bytes).trim().parse::<i32>().ok());
    let refused = file(state, dir, files::REFUSED)
        .map(|bytes| String::from_utf8_lossy(&bytes).lines().next().unwrap_or("").to_owned());
    let job_state = match (code, refused, live_process(state, dir)) {
        (Some(code), _, _) => JobState::Exited { code },
        (None, Some(reason), _) => JobState::Refused { reason },
        (None, None, Some(pid)) => JobState::Running { pid },
        _ if has(state, dir, files::GROUP) => JobState::Gone,
        _ if state.files.contains_key(&dir.file(files::ABANDONED)) => JobState::Abandoned,
        _ => JobState::Unstarted,
    };
    let chunk = |name: &str, offset: u64| -> (u64, Vec<u8>) {
        let bytes = file(state, dir, name).unwrap_or_default();
        let size = bytes.len() as u64;
        let start = offset.min(size) as usize;
        let end = (offset.saturating_add(max_bytes)).min(size) as usize;
        (size, bytes[start..end.max(start)].to_vec())
    };
    let (stdout_size, stdout) = chunk(files::STDOUT, stdout_offset);
    let (stderr_size, stderr) = chunk(files::STDERR, stderr_offset);
    PollReport { state: job_state, stdout_size, stderr_size, stdout, stderr }
}

fn stop(state: &mut HostState, dir: &JobDir, signal: Signal) -> StopReport {
    if !dir_exists(state, dir) {
        return StopReport::NoJob;
    }
    if !has(state, dir, files::GROUP) {
        return StopReport::Unstarted;
    }
    let log = if signal == Signal::Kill { &mut state.kills } else { &mut state.terms };
    *log.entry(dir.as_str().to_owned()).or_default() += 1;
    let ignore_term = state.faults.ignore_term;
    let Some(process) = state
        .processes
        .values_mut()
        .find(|p| p.dir == dir.as_str() && p.state == ProcessState::Running)
    else {
        return StopReport::Gone;
    };
    process.term_received |= signal == Signal::Term;
    if signal == Signal::Term && ignore_term {
        return StopReport::Signalled;
    }
    // A signal to the group kills the job's shell with badblocks: nothing records an exit code.
    process.state = ProcessState::Killed;
    let serial = process.serial.clone();
    if let Some(drive) = state.drives.iter_mut().find(|d| d.spec.serial == serial) {
        drive.surface_fraction = None;
    }
    StopReport::Signalled
}

fn abandon(state: &mut HostState, dir: &JobDir) -> AbandonReport {
    if claim(state, dir) {
        state.files.insert(dir.file(files::ABANDONED), Vec::new());
        AbandonReport::Abandoned
    } else {
        AbandonReport::Claimed
    }
}

fn remove(state: &mut HostState, dir: &JobDir) -> RemoveReport {
    if live_process(state, dir).is_some() {
        return RemoveReport::Running;
    }
    let prefix = format!("{}/", dir.as_str());
    state.files.retain(|path, _| !path.starts_with(&prefix));
    state.processes.retain(|_, p| !(p.dir == dir.as_str() && p.state != ProcessState::Running));
    RemoveReport::Removed
}
