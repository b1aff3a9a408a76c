//! The restricted interpreter behind the simulator's SSH server: not a shell. It accepts
//! exactly the command lines the product renders (`burnin::remote::RemoteCommand::parse`), so
//! the product's command builder and this interpreter cannot drift apart; anything else is
//! "not found", exit 127, as dash says it.

use burnin::remote::{
    BadblocksMode, JobDir, JobState, Os, PollReport, Probe, Program, RemoteCommand, files,
    render_report,
};

use crate::{
    HostCore,
    host::{HostState, Process, ProcessState},
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

    fn error(stderr: impl Into<String>, exit_code: u32) -> Output {
        Output { stdout: Vec::new(), stderr: stderr.into().into_bytes(), exit_code }
    }

    fn not_found(word: &str) -> Output {
        Output::error(format!("sh: 1: {word}: not found\n"), 127)
    }
}

/// Runs one command line against the host, at the current simulated time.
pub fn execute(host: &HostCore, line: &str) -> Output {
    let Some(command) = RemoteCommand::parse(line.trim_end_matches('\n')) else {
        let word = line.split_whitespace().next().unwrap_or("");
        return Output::not_found(word);
    };
    host.with(|state| run(state, command))
}

fn run(state: &mut HostState, command: RemoteCommand) -> Output {
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
        RemoteCommand::Start { os: start_os, dir, program: Program::Badblocks(params) } => {
            if start_os != os {
                // The other OS's detach tool (setsid on FreeBSD, daemon(8) on Linux).
                let tool = if start_os == Os::Linux { "setsid" } else { "daemon" };
                return Output::error(format!("sh: 1: {tool}: not found\n"), 127);
            }
            start(state, &dir, &params)
        }
        RemoteCommand::Poll { dir, stdout_offset, stderr_offset, max_bytes } => {
            Output::ok(render_report(&poll(state, &dir, stdout_offset, stderr_offset, max_bytes)))
        }
        RemoteCommand::Stop { dir } => stop(state, &dir),
        RemoteCommand::Remove { dir } => {
            let prefix = format!("{}/", dir.as_str());
            state.files.retain(|path, _| !path.starts_with(&prefix));
            state
                .processes
                .retain(|_, p| !(p.dir == dir.as_str() && p.state != ProcessState::Running));
            Output::ok(Vec::new())
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
    )
}

fn file(state: &HostState, dir: &JobDir, name: &str) -> Option<Vec<u8>> {
    state.files.get(&dir.file(name)).cloned()
}

fn dir_exists(state: &HostState, dir: &JobDir) -> bool {
    let prefix = format!("{}/", dir.as_str());
    state.files.keys().any(|path| path.starts_with(&prefix))
}

fn start(state: &mut HostState, dir: &JobDir, params: &burnin::remote::Badblocks) -> Output {
    for name in [files::PID, files::EXIT_CODE] {
        state.files.remove(&dir.file(name));
    }
    let pid = state.allocate_pid();
    state.files.insert(dir.file(files::PID), format!("{pid}\n").into_bytes());
    state.files.insert(dir.file(files::STDOUT), Vec::new());
    state.files.insert(dir.file(files::STDERR), Vec::new());
    let now = state.now;
    match crate::badblocks::start(state, params, now) {
        Ok((run, header)) => {
            state.files.insert(dir.file(files::STDERR), header.into_bytes());
            let _ = BadblocksMode::Destructive;
            state.processes.insert(
                pid,
                Process {
                    pid,
                    dir: dir.as_str().to_owned(),
                    started: now,
                    state: ProcessState::Running,
                    program: run,
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
    Output::ok(format!("{pid}\n"))
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
    let running = state
        .processes
        .values()
        .find(|p| p.dir == dir.as_str() && p.state == ProcessState::Running)
        .map(|p| p.pid);
    let job_state = match (code, running) {
        (Some(code), _) => JobState::Exited { code },
        (None, Some(pid)) => JobState::Running { pid },
        (None, None) => JobState::Gone,
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

fn stop(state: &mut HostState, dir: &JobDir) -> Output {
    if !dir_exists(state, dir) {
        return Output::error(format!("sh: 1: cd: can't cd to {}\n", dir.as_str()), 2);
    }
    let Some(process) = state
        .processes
        .values_mut()
        .find(|p| p.dir == dir.as_str() && p.state == ProcessState::Running)
    else {
        return Output::error("sh: 1: kill: No such process\n\n", 1);
    };
    // SIGTERM to the group kills the job's shell with badblocks: nothing records an exit code.
    process.state = ProcessState::Killed;
    let device = process.program.device_name.clone();
    if let Some(drive) = state.drives.iter_mut().find(|d| d.devname == device) {
        drive.surface_fraction = None;
    }
    Output::ok(Vec::new())
}
