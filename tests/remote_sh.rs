//! The rendered job commands, run by a real `sh` (dash on Debian) the way a NAS runs them:
//! through the wire form (`env LC_ALL=C sh -c '…'`), against a loop device as the disk, with a
//! `/dev/disk/by-id` link carrying its serial as udev would make it (no udev runs here), the
//! real `flock`, `setsid`, `readlink`, `find` and sysfs, and a stand-in `badblocks` on PATH
//! (the real one runs in `server/tests/openssh.rs`). Needs root, for the loop device.

#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command},
    time::{Duration, Instant},
};

use burnin::remote::{
    AbandonReport, Badblocks, BadblocksMode, DevicePath, JobDir, JobState, Os, PollReport, Probe,
    Program, RemoteCommand, RemoveReport, Signal, StartReport, StopReport, Target, exit_codes,
    lock_file,
};

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A loop device of 8 MiB with a by-id link named for `serial`; both go away when dropped.
struct Disk {
    device: String,
    link: PathBuf,
    size_bytes: u64,
    _file: tempfile::NamedTempFile,
}

impl Disk {
    fn new(serial: &str) -> Disk {
        assert_eq!(run("id", &["-u"]).trim(), "0", "these tests attach loop devices: run as root");
        let file = tempfile::NamedTempFile::new().unwrap();
        let size_bytes = 8 << 20;
        file.as_file().set_len(size_bytes).unwrap();
        let device = run("losetup", &["--find", "--show", &file.path().display().to_string()])
            .trim()
            .to_owned();
        let name = device.trim_start_matches("/dev/").to_owned();
        std::fs::create_dir_all("/dev/disk/by-id").unwrap();
        // The form of an ATA disk's link: ata-<model>_<serial>.
        let link = PathBuf::from(format!(
            "/dev/disk/by-id/ata-BURNIN_REMOTE_SH_{}_{}",
            std::process::id(),
            burnin::remote::udev_id(serial)
        ));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(format!("../../{name}"), &link).unwrap();
        Disk { device, link, size_bytes, _file: file }
    }

    fn target(&self, serial: &str) -> Target {
        Target::new(DevicePath::new(self.device.clone()).unwrap(), serial, "", self.size_bytes)
            .unwrap()
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.link);
        let _ = Command::new("losetup").args(["--detach", &self.device]).output();
    }
}

struct Sandbox {
    root: tempfile::TempDir,
}

impl Sandbox {
    /// A `badblocks` stand-in: prints its last argument (the device it was given) and progress
    /// to stderr, two bad blocks to stdout, then sleeps `seconds` and exits with `code`. With
    /// `ignore_term` it survives SIGTERM, as a process stuck in the kernel would.
    fn new(seconds: u32, code: i32, ignore_term: bool) -> Sandbox {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let trap = if ignore_term { "trap '' TERM\n" } else { "" };
        let script = format!(
            "#!/bin/sh\n{trap}for last; do :; done\necho \"device $last LC_ALL=$LC_ALL\" >&2\n\
             printf 'Checking for bad blocks in read-write mode\\nFrom block 0 to 2047\\n' >&2\n\
             printf 'Testing with pattern 0xaa:   0.00%% done, 0:00 elapsed. (0/0/0 errors)' >&2\n\
             echo 1000\necho 1001\ni=0; while [ $i -lt {seconds}0 ]; do sleep 0.1; i=$((i+1)); done\nexit {code}\n"
        );
        let path = bin.join("badblocks");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Sandbox { root }
    }

    fn job_root(&self) -> String {
        self.root.path().join("jobs").display().to_string()
    }

    fn dir(&self, name: &str) -> JobDir {
        JobDir::new(format!("{}/{name}", self.job_root())).unwrap()
    }

    fn shell(&self, shell: &str, command: &RemoteCommand) -> (u32, Vec<u8>) {
        let path = format!(
            "{}:{}",
            self.root.path().join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        // The session's own locale is not C: the wire form must override it.
        let output = Command::new(shell)
            .arg("-c")
            .arg(command.wire())
            .env("PATH", path)
            .env("LC_ALL", "de_DE.UTF-8")
            .output()
            .unwrap();
        (output.status.code().map_or(255, |c| c as u32), output.stdout)
    }

    fn run(&self, command: &RemoteCommand) -> (u32, Vec<u8>) {
        self.shell("sh", command)
    }

    fn start(&self, dir: &JobDir, disk: &Disk, serial: &str) -> (u32, StartReport) {
        let target = disk.target(serial);
        let program = Program::Badblocks(Badblocks {
            device: target.device.clone(),
            mode: BadblocksMode::Destructive,
            block_size: 4096,
            blocks_at_once: 64,
            max_bad_blocks: None,
        });
        let lock = lock_file(&self.job_root(), serial).unwrap();
        let command = RemoteCommand::start(Os::Linux, dir.clone(), lock, target, program).unwrap();
        let (code, out) = self.run(&command);
        let report = StartReport::parse(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)));
        (code, report)
    }

    fn poll(&self, dir: &JobDir, stdout_offset: u64, stderr_offset: u64) -> PollReport {
        let (code, out) = self.run(&RemoteCommand::Poll {
            dir: dir.clone(),
            stdout_offset,
            stderr_offset,
            max_bytes: 1 << 20,
        });
        assert_eq!(code, 0);
        PollReport::parse(&out).unwrap()
    }

    fn poll_until(&self, dir: &JobDir, done: impl Fn(&PollReport) -> bool) -> PollReport {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let report = self.poll(dir, 0, 0);
            if done(&report) {
                return report;
            }
            assert!(Instant::now() < deadline, "condition not reached: {report:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&self, dir: &JobDir, signal: Signal) -> StopReport {
        let (code, out) = self.run(&RemoteCommand::Stop { dir: dir.clone(), signal });
        assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
        StopReport::parse(&out).unwrap()
    }

    fn file(&self, dir: &JobDir, name: &str) -> String {
        std::fs::read_to_string(Path::new(dir.as_str()).join(name)).unwrap_or_default()
    }
}

fn answer(out: &[u8]) -> burnin::interlock::parse::Answer<'_> {
    burnin::interlock::parse::Answer {
        stdout: std::str::from_utf8(out).unwrap(),
        stderr: "",
        exit_code: 0,
    }
}

fn group_alive(group: u32) -> bool {
    // kill(2) with signal 0 on the negated group id: true while any member lives.
    Command::new("sh")
        .arg("-c")
        .arg(format!("kill -s 0 -- -{group} 2>/dev/null"))
        .status()
        .unwrap()
        .success()
}

fn started(report: &StartReport) -> u32 {
    match report {
        StartReport::Started { group } => *group,
        other => panic!("the start did not start: {other:?}"),
    }
}

#[test]
fn a_start_checks_the_disk_then_runs_the_program_detached_on_the_serial_bound_path() {
    let disk = Disk::new("RSH-START-1");
    let sandbox = Sandbox::new(1, 0, false);
    let dir = sandbox.dir("job-1-stage-3");
    let (code, report) = sandbox.start(&dir, &disk, "RSH-START-1");
    assert_eq!(code, 0, "{report:?}");
    let group = started(&report);
    assert_eq!(sandbox.poll(&dir, 0, 0).state, JobState::Running { pid: group });

    let finished = sandbox.poll_until(&dir, |r| matches!(r.state, JobState::Exited { .. }));
    assert_eq!(finished.state, JobState::Exited { code: 0 });
    assert_eq!(finished.stdout, b"1000\n1001\n");
    let stderr = String::from_utf8_lossy(&finished.stderr);
    // badblocks was given the by-id link, and ran with the C locale whatever the session had.
    assert!(stderr.starts_with(&format!("device {} LC_ALL=C\n", disk.link.display())), "{stderr}");
    assert_eq!(
        sandbox.file(&dir, "target"),
        format!("RSH-START-1\n{}\n{}\n", disk.device, disk.link.display())
    );
    assert_eq!(finished.stderr_size, finished.stderr.len() as u64);
}

#[test]
fn logs_are_read_from_an_offset() {
    let disk = Disk::new("RSH-OFFSET-1");
    let sandbox = Sandbox::new(0, 3, false);
    let dir = sandbox.dir("job-2-stage-1");
    started(&sandbox.start(&dir, &disk, "RSH-OFFSET-1").1);
    let full = sandbox.poll_until(&dir, |r| matches!(r.state, JobState::Exited { .. }));
    assert_eq!(full.state, JobState::Exited { code: 3 });
    let tail = sandbox.poll(&dir, 5, full.stderr_size - 10);
    assert_eq!(tail.stdout, b"1001\n");
    assert_eq!(tail.stderr, &full.stderr[full.stderr.len() - 10..]);
    let past_end = sandbox.poll(&dir, full.stdout_size + 100, 0);
    assert!(past_end.stdout.is_empty());
}

#[test]
fn a_folder_is_started_at_most_once_and_a_second_writer_for_the_disk_is_refused() {
    let disk = Disk::new("RSH-ONCE-1");
    let sandbox = Sandbox::new(3, 0, false);
    let first = sandbox.dir("job-3-stage-1");
    let group = started(&sandbox.start(&first, &disk, "RSH-ONCE-1").1);

    // The same folder again (a retried start): claimed, nothing new runs.
    let (code, again) = sandbox.start(&first, &disk, "RSH-ONCE-1");
    assert_eq!((code, again), (exit_codes::CLAIMED, StartReport::Claimed));

    // Another folder for the same disk while the first writer lives: the lock refuses it.
    let second = sandbox.dir("job-4-stage-1");
    let (code, busy) = sandbox.start(&second, &disk, "RSH-ONCE-1");
    assert_eq!(code, exit_codes::BUSY, "{busy:?}");
    assert!(
        matches!(&busy, StartReport::Refused { identity: false, reason } if reason.contains("held")),
        "{busy:?}"
    );
    assert!(matches!(sandbox.poll(&second, 0, 0).state, JobState::Refused { .. }));
    assert!(sandbox.file(&second, "started").is_empty(), "the second program never ran");
    assert!(group_alive(group));

    // Once the first writer is gone the lock is free again: it cannot go stale.
    assert_eq!(sandbox.stop(&first, Signal::Term), StopReport::Signalled);
    sandbox.poll_until(&first, |r| !matches!(r.state, JobState::Running { .. }));
    let third = sandbox.dir("job-5-stage-1");
    let group = started(&sandbox.start(&third, &disk, "RSH-ONCE-1").1);
    assert!(group_alive(group));
    sandbox.stop(&third, Signal::Kill);
}

#[test]
fn the_identity_check_refuses_a_disk_that_is_not_the_recorded_one() {
    let disk = Disk::new("RSH-ID-1");
    let other = Disk::new("RSH-ID-2");
    let sandbox = Sandbox::new(0, 0, false);
    // No by-id link carries this serial.
    let dir = sandbox.dir("job-6-stage-1");
    let (code, report) = sandbox.start(&dir, &disk, "RSH-ID-NOBODY");
    assert_eq!(code, exit_codes::IDENTITY);
    assert!(
        matches!(&report, StartReport::Refused { identity: true, reason } if reason.contains("no link in /dev/disk/by-id")),
        "{report:?}"
    );
    assert!(matches!(sandbox.poll(&dir, 0, 0).state, JobState::Refused { .. }));
    // The serial is another disk's: it resolves elsewhere.
    let dir = sandbox.dir("job-7-stage-1");
    let (code, report) = sandbox.start(&dir, &disk, "RSH-ID-2");
    assert_eq!(code, exit_codes::IDENTITY);
    assert!(
        matches!(&report, StartReport::Refused { identity: true, reason } if reason.contains(&other.device)),
        "{report:?}"
    );
    // The size differs from the recorded one.
    let mut target = disk.target("RSH-ID-1");
    target.size_bytes += 4096;
    let program = Program::Badblocks(Badblocks {
        device: target.device.clone(),
        mode: BadblocksMode::Destructive,
        block_size: 4096,
        blocks_at_once: 64,
        max_bad_blocks: None,
    });
    let dir = sandbox.dir("job-8-stage-1");
    let lock = lock_file(&sandbox.job_root(), "RSH-ID-1").unwrap();
    let command = RemoteCommand::start(Os::Linux, dir.clone(), lock, target, program).unwrap();
    let (code, out) = sandbox.run(&command);
    assert_eq!(code, exit_codes::IDENTITY, "{}", String::from_utf8_lossy(&out));
    assert!(String::from_utf8_lossy(&out).contains("sectors of 512 bytes"));
    for dir in ["job-6-stage-1", "job-7-stage-1", "job-8-stage-1"] {
        assert!(sandbox.file(&sandbox.dir(dir), "started").is_empty());
        assert!(sandbox.file(&sandbox.dir(dir), "group").is_empty());
    }
}

#[test]
fn an_abandoned_folder_can_never_be_started() {
    let disk = Disk::new("RSH-ABANDON-1");
    let sandbox = Sandbox::new(0, 0, false);
    let dir = sandbox.dir("job-9-stage-1");
    assert_eq!(sandbox.poll(&dir, 0, 0).state, JobState::NoJob);
    let (code, out) = sandbox.run(&RemoteCommand::Abandon { dir: dir.clone() });
    assert_eq!(code, 0);
    assert_eq!(AbandonReport::parse(&out).unwrap(), AbandonReport::Abandoned);
    assert_eq!(sandbox.poll(&dir, 0, 0).state, JobState::Abandoned);
    let (code, report) = sandbox.start(&dir, &disk, "RSH-ABANDON-1");
    assert_eq!((code, report), (exit_codes::CLAIMED, StartReport::Claimed));
    assert_eq!(sandbox.poll(&dir, 0, 0).state, JobState::Abandoned);
    // And a folder a start claimed first cannot be abandoned.
    let started_dir = sandbox.dir("job-10-stage-1");
    started(&sandbox.start(&started_dir, &disk, "RSH-ABANDON-1").1);
    let (_, out) = sandbox.run(&RemoteCommand::Abandon { dir: started_dir });
    assert_eq!(AbandonReport::parse(&out).unwrap(), AbandonReport::Claimed);
}

#[test]
fn stop_signals_the_whole_group_and_kill_ends_a_program_that_ignores_term() {
    let disk = Disk::new("RSH-STOP-1");
    let sandbox = Sandbox::new(60, 0, true);
    let dir = sandbox.dir("job-11-stage-1");
    let group = started(&sandbox.start(&dir, &disk, "RSH-STOP-1").1);
    assert_eq!(sandbox.stop(&dir, Signal::Term), StopReport::Signalled);
    // The stand-in ignores TERM: its group stays alive and the job still reads as running.
    std::thread::sleep(Duration::from_millis(300));
    assert!(group_alive(group), "TERM was ignored, so something of the group lives");
    assert_eq!(sandbox.poll(&dir, 0, 0).state, JobState::Running { pid: group });
    // Removing the folder of a live job is refused: its logs stay.
    let (code, out) = sandbox.run(&RemoteCommand::Remove { dir: dir.clone() });
    assert_eq!(
        (code, RemoveReport::parse(&out).unwrap()),
        (exit_codes::BUSY, RemoveReport::Running)
    );
    assert_eq!(sandbox.stop(&dir, Signal::Kill), StopReport::Signalled);
    let report = sandbox.poll_until(&dir, |r| !matches!(r.state, JobState::Running { .. }));
    assert_eq!(report.state, JobState::Gone);
    assert!(!group_alive(group));
    assert_eq!(sandbox.stop(&dir, Signal::Term), StopReport::Gone);
    let (code, out) = sandbox.run(&RemoteCommand::Remove { dir: dir.clone() });
    assert_eq!((code, RemoveReport::parse(&out).unwrap()), (0, RemoveReport::Removed));
    assert_eq!(sandbox.poll(&dir, 0, 0).state, JobState::NoJob);
    assert_eq!(sandbox.stop(&dir, Signal::Term), StopReport::NoJob);
}

/// Keeps `device` open, as another program on the NAS would.
struct Holder(Child);

impl Holder {
    fn new(device: &str) -> Holder {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec 3<{device}; exec sleep 30"))
            .spawn()
            .unwrap();
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_probes_see_who_holds_a_disk_and_which_burn_ins_run() {
    let disk = Disk::new("RSH-PROBE-1");
    let sandbox = Sandbox::new(5, 0, false);
    let device = DevicePath::new(disk.device.clone()).unwrap();
    let open_by = RemoteCommand::Probe { os: Os::Linux, probe: Probe::OpenBy(device) };
    let (code, out) = sandbox.run(&open_by);
    assert_eq!(code, 0);
    let idle = burnin::interlock::parse::open_by(answer(&out)).unwrap();
    assert!(idle.is_empty(), "nothing holds a fresh loop device: {idle:?}");
    let holder = Holder::new(&disk.device);
    let deadline = Instant::now() + Duration::from_secs(5);
    let held = loop {
        let (_, out) = sandbox.run(&open_by);
        let held = burnin::interlock::parse::open_by(answer(&out)).unwrap();
        if !held.is_empty() || Instant::now() > deadline {
            break held;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].pid, holder.0.id());
    assert_eq!(held[0].command, "sleep");
    drop(holder);

    let dir = sandbox.dir("job-12-stage-1");
    let group = started(&sandbox.start(&dir, &disk, "RSH-PROBE-1").1);
    let jobs = RemoteCommand::Probe {
        os: Os::Linux,
        probe: Probe::BurninJobs(JobDir::new(sandbox.job_root()).unwrap()),
    };
    let (code, out) = sandbox.run(&jobs);
    assert_eq!(code, 0);
    let running = burnin::interlock::parse::burnin_jobs(answer(&out)).unwrap();
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0].group, group);
    assert_eq!(running[0].serial.as_deref(), Some("RSH-PROBE-1"));
    assert_eq!(running[0].device.as_deref(), Some(disk.device.as_str()));
    sandbox.stop(&dir, Signal::Kill);
    sandbox.poll_until(&dir, |r| !matches!(r.state, JobState::Running { .. }));
    let (_, out) = sandbox.run(&jobs);
    assert!(burnin::interlock::parse::burnin_jobs(answer(&out)).unwrap().is_empty());
}

#[test]
fn the_host_identity_probe_reads_the_hostname_and_the_host_id_digest() {
    let sandbox = Sandbox::new(0, 0, false);
    let (code, out) =
        sandbox.run(&RemoteCommand::Probe { os: Os::Linux, probe: Probe::HostIdentity });
    assert_eq!(code, 0);
    let identity = burnin::interlock::parse::host_identity(answer(&out)).unwrap();
    assert_eq!(identity.hostname, run("hostname", &[]).trim());
    match std::fs::read("/etc/hostid") {
        // What TrueNAS's system.host_id computes: sha256 of the file with surrounding
        // whitespace stripped.
        Ok(_) => {
            let digest = run(
                "python3",
                &[
                    "-c",
                    "import hashlib;print(hashlib.sha256(open('/etc/hostid','rb').read().strip()).hexdigest())",
                ],
            );
            assert_eq!(identity.host_id.as_deref(), Some(digest.trim()));
        }
        Err(_) => assert_eq!(identity.host_id, None),
    }
}

#[test]
fn a_sas_disk_is_found_by_its_wwn_and_paths_resolve_to_their_disk() {
    // A SAS disk's by-id links carry its WWN (scsi-3…, wwn-0x…), none its serial.
    let disk = Disk::new("RSH-SAS-1");
    std::fs::remove_file(&disk.link).unwrap();
    let lunid = format!("5000c500{:08x}", std::process::id());
    let wwn_link = PathBuf::from(format!("/dev/disk/by-id/wwn-0x{lunid}"));
    let _ = std::fs::remove_file(&wwn_link);
    std::os::unix::fs::symlink(
        format!("../../{}", disk.device.trim_start_matches("/dev/")),
        &wwn_link,
    )
    .unwrap();
    struct Unlink(PathBuf);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _unlink = Unlink(wwn_link.clone());
    let sandbox = Sandbox::new(0, 0, false);
    let device = DevicePath::new(disk.device.clone()).unwrap();
    let program = |device: &DevicePath| {
        Program::Badblocks(Badblocks {
            device: device.clone(),
            mode: BadblocksMode::Destructive,
            block_size: 4096,
            blocks_at_once: 64,
            max_bad_blocks: None,
        })
    };
    let start = |dir: &JobDir, lunid: &str| {
        let target = Target::new(device.clone(), "RSH-SAS-1", lunid, disk.size_bytes).unwrap();
        let lock = lock_file(&sandbox.job_root(), "RSH-SAS-1").unwrap();
        let command =
            RemoteCommand::start(Os::Linux, dir.clone(), lock, target, program(&device)).unwrap();
        let (code, out) = sandbox.run(&command);
        (code, StartReport::parse(&out).unwrap())
    };
    // Without its WWN the disk cannot be found: refused.
    let (code, report) = start(&sandbox.dir("job-14-stage-1"), "");
    assert_eq!(code, exit_codes::IDENTITY, "{report:?}");
    // With it, the start runs badblocks on the wwn link.
    let dir = sandbox.dir("job-15-stage-1");
    let (code, report) = start(&dir, &lunid);
    assert_eq!(code, 0, "{report:?}");
    let done = sandbox.poll_until(&dir, |r| matches!(r.state, JobState::Exited { .. }));
    assert!(
        String::from_utf8_lossy(&done.stderr)
            .starts_with(&format!("device {}", wwn_link.display())),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let resolve = RemoteCommand::Probe {
        os: Os::Linux,
        probe: Probe::Resolve(vec![
            DevicePath::new(wwn_link.display().to_string()).unwrap(),
            DevicePath::new("/dev/disk/by-id/nothing-here").unwrap(),
        ]),
    };
    let (code, out) = sandbox.run(&resolve);
    assert_eq!(code, 0);
    let resolved = burnin::interlock::parse::resolved(answer(&out)).unwrap();
    assert_eq!(
        resolved,
        [
            (wwn_link.display().to_string(), Some(disk.device.clone())),
            ("/dev/disk/by-id/nothing-here".to_owned(), None)
        ]
    );
}

#[test]
fn csh_and_tcsh_login_shells_run_the_wire_form_like_sh() {
    let disk = Disk::new("RSH-CSH-1");
    let sandbox = Sandbox::new(0, 0, false);
    let dir = sandbox.dir("job-13-stage-1");
    let target = disk.target("RSH-CSH-1");
    let program = Program::Badblocks(Badblocks {
        device: target.device.clone(),
        mode: BadblocksMode::Destructive,
        block_size: 4096,
        blocks_at_once: 64,
        max_bad_blocks: None,
    });
    let lock = lock_file(&sandbox.job_root(), "RSH-CSH-1").unwrap();
    let start = RemoteCommand::start(Os::Linux, dir.clone(), lock, target, program).unwrap();
    for shell in ["csh", "tcsh"] {
        assert!(
            Path::new(&format!("/usr/bin/{shell}")).exists()
                || Path::new(&format!("/bin/{shell}")).exists(),
            "{shell} is missing: scripts/setup.sh --with-test-tools installs it"
        );
    }
    let (code, out) = sandbox.shell("csh", &start);
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    started(&StartReport::parse(&out).unwrap());
    let poll = RemoteCommand::Poll {
        dir: dir.clone(),
        stdout_offset: 0,
        stderr_offset: 0,
        max_bytes: 4096,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, out) = sandbox.shell("tcsh", &poll);
        assert_eq!(code, 0);
        let report = PollReport::parse(&out).unwrap();
        if matches!(report.state, JobState::Exited { code: 0 }) {
            assert!(String::from_utf8_lossy(&report.stderr).contains("LC_ALL=C"));
            break;
        }
        assert!(Instant::now() < deadline, "{report:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
