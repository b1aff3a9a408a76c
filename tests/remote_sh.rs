//! The rendered job commands, run by a real `sh` (dash on Debian) against a stand-in
//! `badblocks` on PATH: start detached, poll by offset, stop the process group, remove.
//! This is what a NAS's shell does with them; the simulator's interpreter answers the same.

#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::{
    os::unix::fs::PermissionsExt,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use burnin::remote::{
    Badblocks, BadblocksMode, DevicePath, JobDir, JobState, Os, PollReport, Program, RemoteCommand,
};

struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    /// A `badblocks` stand-in: prints progress to stderr and two bad blocks to stdout, then
    /// sleeps `seconds` and exits with `code`.
    fn new(seconds: u32, code: i32) -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let script = format!(
            "#!/bin/sh\nprintf 'Checking for bad blocks in read-write mode\\nFrom block 0 to 2047\\n' >&2\n\
             printf 'Testing with pattern 0xaa:   0.00%% done, 0:00 elapsed. (0/0/0 errors)' >&2\n\
             echo 1000\necho 1001\nsleep {seconds}\nexit {code}\n"
        );
        let path = bin.join("badblocks");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Sandbox { root }
    }

    fn dir(&self) -> JobDir {
        JobDir::new(self.root.path().join("jobs/job-1").display().to_string()).unwrap()
    }

    fn run(&self, command: &RemoteCommand) -> (i32, Vec<u8>) {
        let path = format!(
            "{}:{}",
            self.root.path().join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        let output =
            Command::new("sh").arg("-c").arg(command.render()).env("PATH", path).output().unwrap();
        (output.status.code().unwrap_or(-1), output.stdout)
    }

    fn poll(&self, stdout_offset: u64, stderr_offset: u64) -> PollReport {
        let (code, out) = self.run(&RemoteCommand::Poll {
            dir: self.dir(),
            stdout_offset,
            stderr_offset,
            max_bytes: 1 << 20,
        });
        assert_eq!(code, 0);
        PollReport::parse(&out).unwrap()
    }

    fn poll_until(&self, done: impl Fn(&PollReport) -> bool) -> PollReport {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let report = self.poll(0, 0);
            if done(&report) {
                return report;
            }
            assert!(Instant::now() < deadline, "condition not reached: {report:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn start(sandbox: &Sandbox) -> u32 {
    let program = Program::Badblocks(Badblocks {
        device: DevicePath::new("/dev/sdz").unwrap(),
        mode: BadblocksMode::Destructive,
        block_size: 4096,
        blocks_at_once: 64,
        max_bad_blocks: None,
    });
    let (code, out) =
        sandbox.run(&RemoteCommand::Start { os: Os::Linux, dir: sandbox.dir(), program });
    assert_eq!(code, 0, "start failed: {}", String::from_utf8_lossy(&out));
    String::from_utf8(out).unwrap().trim().parse().unwrap()
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn a_started_job_runs_detached_and_its_exit_code_is_recorded() {
    let sandbox = Sandbox::new(1, 0);
    let pid = start(&sandbox);
    let running = sandbox.poll(0, 0);
    assert_eq!(running.state, JobState::Running { pid });

    let finished = sandbox.poll_until(|report| matches!(report.state, JobState::Exited { .. }));
    assert_eq!(finished.state, JobState::Exited { code: 0 });
    assert_eq!(finished.stdout, b"1000\n1001\n");
    assert!(finished.stderr.starts_with(b"Checking for bad blocks in read-write mode\n"));
    assert_eq!(finished.stderr_size, finished.stderr.len() as u64);
}

#[test]
fn logs_are_read_from_an_offset() {
    let sandbox = Sandbox::new(0, 3);
    start(&sandbox);
    let full = sandbox.poll_until(|report| matches!(report.state, JobState::Exited { .. }));
    assert_eq!(full.state, JobState::Exited { code: 3 });
    let tail = sandbox.poll(5, full.stderr_size - 10);
    assert_eq!(tail.stdout, b"1001\n");
    assert_eq!(tail.stderr, &full.stderr[full.stderr.len() - 10..]);
    let past_end = sandbox.poll(full.stdout_size + 100, 0);
    assert!(past_end.stdout.is_empty());
}

#[test]
fn stop_kills_the_whole_process_group_and_the_job_reads_as_gone() {
    let sandbox = Sandbox::new(60, 0);
    let pid = start(&sandbox);
    assert!(process_alive(pid));
    let (code, _) = sandbox.run(&RemoteCommand::Stop { dir: sandbox.dir() });
    assert_eq!(code, 0);
    // The shell running the job is killed with its child, so no exit code is ever written:
    // the job reads as gone (or, if the shell got to record the signal, as exited 143).
    let report = sandbox.poll_until(|report| !matches!(report.state, JobState::Running { .. }));
    assert!(
        matches!(report.state, JobState::Gone | JobState::Exited { code: 143 }),
        "{:?}",
        report.state
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(pid) {
        assert!(Instant::now() < deadline, "job process {pid} survived the stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_missing_job_directory_reads_as_no_job_and_remove_cleans_up() {
    let sandbox = Sandbox::new(0, 0);
    assert_eq!(sandbox.poll(0, 0).state, JobState::NoJob);
    start(&sandbox);
    sandbox.poll_until(|report| matches!(report.state, JobState::Exited { .. }));
    let (code, _) = sandbox.run(&RemoteCommand::Remove { dir: sandbox.dir() });
    assert_eq!(code, 0);
    assert_eq!(sandbox.poll(0, 0).state, JobState::NoJob);
}
