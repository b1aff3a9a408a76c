//! The simulated host's SSH side over real sockets: login, the restricted interpreter, the
//! detached badblocks with its log read by offset, the safety probes, and the SSH faults.

#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod api_common;

use std::{sync::Arc, time::Duration};

use api_common::{drive, host, scenario};
use burnin::remote::{
    AbandonReport, Badblocks, BadblocksMode, DevicePath, JobDir, JobState, Os, PollReport, Probe,
    Program, RemoteCommand, RemoveReport, Signal, StartReport, StopReport, Target, exit_codes,
    lock_file,
};
use burnin_simulator::{
    BeforeStart, Behaviour, CommandKind, Config, Faults, Personality, Protocol, Simulator,
};
use russh::{
    ChannelMsg,
    client::{self, Handle},
    keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate},
};

struct Trusting;

impl client::Handler for Trusting {
    type Error = russh::Error;
    // The test compares the key with SimHost::ssh_host_key after connecting.
    async fn check_server_key(
        &mut self,
        _key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

fn client_key() -> PrivateKey {
    PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[9; 32]))
}

#[derive(Debug, PartialEq)]
struct Run {
    stdout: Vec<u8>,
    stderr: String,
    exit: Option<u32>,
}

async fn connect(
    sim: &Simulator,
    index: usize,
    key: &PrivateKey,
) -> Result<Handle<Trusting>, String> {
    let address = sim.hosts[index].ssh_addr;
    let config = Arc::new(client::Config::default());
    let mut handle = client::connect(config, address, Trusting).await.map_err(|e| e.to_string())?;
    let auth = handle
        .authenticate_publickey("root", PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None))
        .await
        .map_err(|e| e.to_string())?;
    if !auth.success() {
        return Err("refused".into());
    }
    Ok(handle)
}

async fn exec(handle: &Handle<Trusting>, line: &str) -> Run {
    let mut channel = handle.channel_open_session().await.unwrap();
    channel.exec(true, line.as_bytes()).await.unwrap();
    let mut run = Run { stdout: Vec::new(), stderr: String::new(), exit: None };
    let wait = async {
        while let Some(message) = channel.wait().await {
            match message {
                ChannelMsg::Data { data } => run.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, .. } => {
                    run.stderr.push_str(&String::from_utf8_lossy(&data))
                }
                ChannelMsg::ExitStatus { exit_status } => run.exit = Some(exit_status),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
    run
}

async fn start_sim(mut spec: burnin_simulator::HostSpec) -> Simulator {
    spec.authorized_keys = vec![client_key().public_key().to_openssh().unwrap()];
    burnin_simulator::start(Config::new(scenario(vec![spec]))).await.unwrap()
}

fn surface(device: &str, block_size: u32, max_bad_blocks: Option<u32>) -> Program {
    Program::Badblocks(Badblocks {
        device: DevicePath::for_name(device).unwrap(),
        mode: BadblocksMode::Destructive,
        block_size,
        blocks_at_once: 1024,
        max_bad_blocks,
    })
}

/// The serial and size (TB) of each drive in api_common's host and the single-drive hosts here.
fn disk_of(devname: &str) -> (&'static str, u64) {
    match devname {
        "sda" => ("BOOT0001", 1),
        "sdb" => ("POOL0001", 4),
        "sdc" => ("POOL0002", 4),
        "sdd" => ("EXPD0001", 4),
        "sde" => ("FREE0001", 12),
        other => panic!("no test disk {other}"),
    }
}

fn start_for(
    os: Os,
    dir: &JobDir,
    devname: &str,
    serial: &str,
    size_bytes: u64,
    block_size: u32,
    max: Option<u32>,
) -> String {
    let device = DevicePath::for_name(devname).unwrap();
    RemoteCommand::start(
        os,
        dir.clone(),
        lock_file("/var/tmp/burnin", serial).unwrap(),
        Target::new(device, serial, "", size_bytes).unwrap(),
        surface(devname, block_size, max),
    )
    .unwrap()
    .wire()
}

fn start_line(os: Os, dir: &JobDir, devname: &str, block_size: u32, max: Option<u32>) -> String {
    let (serial, tb) = disk_of(devname);
    start_for(os, dir, devname, serial, tb * 1_000_000_000_000, block_size, max)
}

fn dir(name: &str) -> JobDir {
    JobDir::new(format!("/var/tmp/burnin/{name}")).unwrap()
}

async fn poll(
    handle: &Handle<Trusting>,
    dir: &JobDir,
    stdout_offset: u64,
    stderr_offset: u64,
) -> PollReport {
    let run = exec(
        handle,
        &RemoteCommand::Poll { dir: dir.clone(), stdout_offset, stderr_offset, max_bytes: 1 << 20 }
            .wire(),
    )
    .await;
    assert_eq!(run.exit, Some(0));
    PollReport::parse(&run.stdout).unwrap()
}

#[tokio::test]
async fn only_the_authorised_key_logs_in_and_the_host_key_is_the_published_one() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let run = exec(&handle, "true").await;
    assert_eq!(run.exit, Some(127));
    let stranger =
        PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[1; 32]));
    assert!(connect(&sim, 0, &stranger).await.is_err());
    assert!(sim.hosts[0].ssh_host_key.starts_with("ssh-ed25519 "));
}

#[tokio::test]
async fn the_host_key_survives_a_restart_with_a_state_folder() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(scenario(vec![host("nas", Personality::Scale2510)]));
    config.state_dir = Some(dir.path().to_path_buf());
    let first =
        burnin_simulator::start(config.clone()).await.unwrap().hosts[0].ssh_host_key.clone();
    let second = burnin_simulator::start(config).await.unwrap().hosts[0].ssh_host_key.clone();
    assert_eq!(first, second);
}

#[tokio::test]
async fn unknown_commands_are_not_found_not_run() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    for line in
        ["rm -rf /", "smartctl -x /dev/sda", "reboot", "smartctl --json=c -x /dev/sda; reboot"]
    {
        let run = exec(&handle, line).await;
        assert_eq!(run.exit, Some(127), "{line}");
        assert!(run.stderr.contains("not found"), "{line}: {}", run.stderr);
    }
}

#[tokio::test]
async fn a_surface_test_runs_detached_through_eight_phases_and_exits_zero() {
    let mut spec = host("nas", Personality::Scale2510);
    spec.drives = vec![drive("SURF0001", "ST4000VN008-2DR166", 1, Protocol::Ata)];
    spec.pools.clear();
    spec.exported_pools.clear();
    spec.boot_drives.clear();
    let sim = start_sim(spec).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let job = dir("job-1");
    let started = exec(
        &handle,
        &start_for(Os::Linux, &job, "sda", "SURF0001", 1_000_000_000_000, 4096, None),
    )
    .await;
    assert_eq!(started.exit, Some(0));
    let StartReport::Started { group: pid } = StartReport::parse(&started.stdout).unwrap() else {
        panic!("not started: {}", String::from_utf8_lossy(&started.stdout))
    };
    let first = poll(&handle, &job, 0, 0).await;
    assert_eq!(first.state, JobState::Running { pid });
    assert!(
        String::from_utf8_lossy(&first.stderr)
            .starts_with("Checking for bad blocks in read-write mode\nFrom block 0 to 244140624\n")
    );

    // 1 TB at 200 MB/s is 5000 s a pass: jump into the third phase.
    sim.clock.advance(5000.0 * 2.5);
    let middle = poll(&handle, &job, 0, first.stderr_size).await;
    let text = String::from_utf8_lossy(&middle.stderr);
    assert!(text.contains("Reading and comparing: "), "{text}");
    assert!(text.contains("Testing with pattern 0x55: "), "{text}");
    assert!(text.contains("\x08\x08"), "status lines are erased with backspaces");

    sim.clock.advance(5000.0 * 6.0);
    let done = poll(&handle, &job, 0, 0).await;
    assert_eq!(done.state, JobState::Exited { code: 0 });
    let text = String::from_utf8_lossy(&done.stderr);
    assert_eq!(text.matches("Reading and comparing: ").count(), 4);
    assert!(text.ends_with("Pass completed, 0 bad blocks found. (0/0/0 errors)\n"), "{text}");
    assert!(done.stdout.is_empty());
}

#[tokio::test]
async fn a_failing_drive_reports_its_bad_blocks_on_stdout() {
    let mut spec = host("nas", Personality::Scale2510);
    let mut failing = drive("FAIL0001", "ST8000DM004-2CX188", 1, Protocol::Ata);
    failing.behaviours.push(Behaviour::FailsSurface {
        at_percent: 30.0,
        bad_blocks: 5,
        remaps: true,
    });
    spec.drives = vec![failing];
    spec.pools.clear();
    spec.exported_pools.clear();
    spec.boot_drives.clear();
    let sim = start_sim(spec).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let job = dir("job-fail");
    exec(&handle, &start_for(Os::Linux, &job, "sda", "FAIL0001", 1_000_000_000_000, 4096, None))
        .await;
    sim.clock.advance(5000.0 * 8.5);
    let done = poll(&handle, &job, 0, 0).await;
    assert_eq!(
        done.state,
        JobState::Exited { code: 0 },
        "badblocks exits 0 even when it finds bad blocks"
    );
    let blocks: Vec<u64> =
        String::from_utf8(done.stdout).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(blocks.len(), 5);
    assert!(
        String::from_utf8_lossy(&done.stderr)
            .contains("Pass completed, 5 bad blocks found. (0/0/5 errors)")
    );
    let reallocated = sim.hosts[0].with(|s| s.drives[0].reallocated());
    assert!(reallocated >= 5, "the drive remapped what it lost");

    // With -e 1 the test stops at the first one.
    let job = dir("job-fail-e1");
    exec(&handle, &start_for(Os::Linux, &job, "sda", "FAIL0001", 1_000_000_000_000, 4096, Some(1)))
        .await;
    sim.clock.advance(5000.0 * 8.5);
    let aborted = poll(&handle, &job, 0, 0).await;
    let text = String::from_utf8_lossy(&aborted.stderr);
    assert_eq!(aborted.state, JobState::Exited { code: 0 });
    assert!(text.contains("Too many bad blocks, aborting test\n"), "{text}");
    assert_eq!(String::from_utf8_lossy(&aborted.stdout).lines().count(), 1);
}

#[tokio::test]
async fn a_20_tb_drive_needs_8k_blocks() {
    let mut spec = host("nas", Personality::Core13);
    spec.drives = vec![drive("BIG00001", "ST20000NM007D-3DJ103", 20, Protocol::Ata)];
    spec.pools.clear();
    spec.exported_pools.clear();
    spec.boot_drives.clear();
    let sim = start_sim(spec).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let job = dir("job-big");
    exec(
        &handle,
        &start_for(Os::FreeBsd, &job, "ada0", "BIG00001", 20_000_000_000_000, 4096, None),
    )
    .await;
    let refused = poll(&handle, &job, 0, 0).await;
    assert_eq!(refused.state, JobState::Exited { code: 1 });
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "badblocks: Value too large for defined data type invalid end block (4882812500): must be 32-bit value\n"
    );
    let job = dir("job-big-8k");
    exec(
        &handle,
        &start_for(Os::FreeBsd, &job, "ada0", "BIG00001", 20_000_000_000_000, 8192, None),
    )
    .await;
    assert!(matches!(poll(&handle, &job, 0, 0).await.state, JobState::Running { .. }));
    // Linux's setsid does not exist on CORE.
    let wrong_os = exec(
        &handle,
        &start_for(Os::Linux, &dir("x"), "ada0", "BIG00001", 20_000_000_000_000, 8192, None),
    )
    .await;
    assert_eq!(wrong_os.exit, Some(127));
}

#[tokio::test]
async fn badblocks_refuses_a_pool_member_but_not_an_exported_one() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    // sdb: imported pool tank; sdd: exported pool oldbackup (api_common::host).
    let pooled = dir("job-pool");
    exec(&handle, &start_line(Os::Linux, &pooled, "sdb", 4096, None)).await;
    let refused = poll(&handle, &pooled, 0, 0).await;
    assert_eq!(refused.state, JobState::Exited { code: 1 });
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "/dev/disk/by-id/ata-WDC_WD40EFZX-68AWUN0_POOL0001 is apparently in use by the system; it's not safe to run badblocks!\n"
    );
    let exported = dir("job-exported");
    exec(&handle, &start_line(Os::Linux, &exported, "sdd", 4096, None)).await;
    // badblocks' own guard misses it (reference/anchors.md gotcha 9): the product must not.
    assert!(matches!(poll(&handle, &exported, 0, 0).await.state, JobState::Running { .. }));
}

#[tokio::test]
async fn stop_kills_the_job_and_remove_cleans_up() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let job = dir("job-stop");
    exec(&handle, &start_line(Os::Linux, &job, "sde", 4096, None)).await;
    assert_eq!(
        exec(&handle, &RemoteCommand::Stop { dir: job.clone(), signal: Signal::Term }.wire())
            .await
            .exit,
        Some(0)
    );
    assert_eq!(poll(&handle, &job, 0, 0).await.state, JobState::Gone);
    assert_eq!(
        exec(&handle, &RemoteCommand::Remove { dir: job.clone() }.wire()).await.exit,
        Some(0)
    );
    assert_eq!(poll(&handle, &job, 0, 0).await.state, JobState::NoJob);
}

#[tokio::test]
async fn a_job_outlives_the_connection_that_started_it() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let job = dir("job-detached");
    {
        let handle = connect(&sim, 0, &client_key()).await.unwrap();
        exec(&handle, &start_line(Os::Linux, &job, "sde", 4096, None)).await;
    }
    sim.hosts[0].drop_ssh_connections();
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    assert!(matches!(poll(&handle, &job, 0, 0).await.state, JobState::Running { .. }));
}

#[tokio::test]
async fn probes_describe_pools_partitions_and_exported_pools() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let probe = |probe: Probe| RemoteCommand::Probe { os: Os::Linux, probe }.wire();
    let member =
        exec(&handle, &probe(Probe::BlockTree(DevicePath::for_name("sdb").unwrap()))).await;
    let tree: serde_json::Value = serde_json::from_slice(&member.stdout).unwrap();
    assert_eq!(tree["blockdevices"][0]["children"][0]["fstype"], "zfs_member");
    let free = exec(&handle, &probe(Probe::BlockTree(DevicePath::for_name("sde").unwrap()))).await;
    let tree: serde_json::Value = serde_json::from_slice(&free.stdout).unwrap();
    assert!(tree["blockdevices"][0].get("children").is_none());
    let signatures =
        exec(&handle, &probe(Probe::Signatures(DevicePath::for_name("sdd").unwrap()))).await;
    assert!(String::from_utf8_lossy(&signatures.stdout).contains("\"gpt\""));
    assert!(
        exec(&handle, &probe(Probe::Signatures(DevicePath::for_name("sde").unwrap())))
            .await
            .stdout
            .is_empty()
    );
    let import = exec(&handle, &probe(Probe::ZpoolImportScan)).await;
    let text = String::from_utf8_lossy(&import.stdout);
    assert!(text.contains("pool: oldbackup") && text.contains("sdd1"), "{text}");
    let status = exec(&handle, &probe(Probe::ZpoolStatus)).await;
    assert!(String::from_utf8_lossy(&status.stdout).contains("/dev/sdb1"));
    let mounts = exec(&handle, &probe(Probe::Mounts)).await;
    assert!(String::from_utf8_lossy(&mounts.stdout).contains("tank /mnt/tank zfs"));
    for probe in [
        Probe::Swaps,
        Probe::MdStat,
        Probe::LvmPhysicalVolumes,
        Probe::Holders(DevicePath::for_name("sde").unwrap()),
    ] {
        assert_eq!(
            exec(&handle, &RemoteCommand::Probe { os: Os::Linux, probe }.wire()).await.exit,
            Some(0)
        );
    }
}

#[tokio::test]
async fn core_answers_freebsd_probes() {
    let sim = start_sim(host("core", Personality::Core13)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let gpart = exec(
        &handle,
        &RemoteCommand::Probe {
            os: Os::FreeBsd,
            probe: Probe::BlockTree(DevicePath::for_name("ada1").unwrap()),
        }
        .wire(),
    )
    .await;
    let text = String::from_utf8_lossy(&gpart.stdout);
    assert!(text.contains("freebsd-zfs") && text.contains("ada1p2"), "{text}");
    let blank = exec(
        &handle,
        &RemoteCommand::Probe {
            os: Os::FreeBsd,
            probe: Probe::BlockTree(DevicePath::for_name("ada4").unwrap()),
        }
        .wire(),
    )
    .await;
    assert_eq!(blank.exit, Some(1));
    let lsblk = exec(
        &handle,
        &RemoteCommand::Probe {
            os: Os::Linux,
            probe: Probe::BlockTree(DevicePath::for_name("ada1").unwrap()),
        }
        .wire(),
    )
    .await;
    assert_eq!(lsblk.exit, Some(127), "no lsblk on FreeBSD");
}

#[tokio::test]
async fn ssh_faults_refuse_and_cut_connections() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let target = &sim.hosts[0];
    target.set_faults(Faults { ssh_refuse: true, ..Faults::default() });
    assert!(connect(&sim, 0, &client_key()).await.is_err());
    target.set_faults(Faults { offline: true, ..Faults::default() });
    assert!(connect(&sim, 0, &client_key()).await.is_err());
    target.set_faults(Faults { ssh_drop_after_ms: Some(50), ..Faults::default() });
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let cut =
        exec(&handle, &RemoteCommand::Probe { os: Os::Linux, probe: Probe::Mounts }.wire()).await;
    assert_eq!(cut.exit, None, "a dropped command has no exit status");
    target.set_faults(Faults::default());
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    target.drop_ssh_connections();
    tokio::time::timeout(Duration::from_secs(5), async {
        while !handle.is_closed() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the connection is cut");
}

#[tokio::test]
async fn a_drive_that_comes_back_answers_under_its_new_name_only() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    sim.hosts[0].with(|s| {
        assert!(s.remove_drive("FREE0001"));
        assert!(s.return_drive("FREE0001", "sdk"));
    });
    let tree = |name: &str| {
        RemoteCommand::Probe {
            os: Os::Linux,
            probe: Probe::BlockTree(DevicePath::for_name(name).unwrap()),
        }
        .wire()
    };
    assert_eq!(exec(&handle, &tree("sde")).await.exit, Some(32));
    assert_eq!(exec(&handle, &tree("sdk")).await.exit, Some(0));
}

fn started_group(run: &Run) -> u32 {
    match StartReport::parse(&run.stdout) {
        Ok(StartReport::Started { group }) => group,
        other => panic!("not started: {other:?}"),
    }
}

#[tokio::test]
async fn a_folder_starts_once_a_disk_has_one_writer_and_writers_are_counted() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let first = dir("job-once");
    started_group(&exec(&handle, &start_line(Os::Linux, &first, "sde", 4096, None)).await);
    let again = exec(&handle, &start_line(Os::Linux, &first, "sde", 4096, None)).await;
    assert_eq!(again.exit, Some(exit_codes::CLAIMED));
    assert_eq!(StartReport::parse(&again.stdout).unwrap(), StartReport::Claimed);
    let second = dir("job-twice");
    let busy = exec(&handle, &start_line(Os::Linux, &second, "sde", 4096, None)).await;
    assert_eq!(busy.exit, Some(exit_codes::BUSY));
    assert!(matches!(poll(&handle, &second, 0, 0).await.state, JobState::Refused { .. }));
    let (writers, attempts) = sim.hosts[0]
        .with(|s| (s.writers_for("FREE0001"), s.start_attempts.get("FREE0001").copied()));
    assert_eq!((writers, attempts), (1, Some(3)));
    // Removing a live job's folder is refused; its logs stay.
    let removed = exec(&handle, &RemoteCommand::Remove { dir: first.clone() }.wire()).await;
    assert_eq!(removed.exit, Some(exit_codes::BUSY));
    assert_eq!(RemoveReport::parse(&removed.stdout).unwrap(), RemoveReport::Running);
}

#[tokio::test]
async fn a_disk_renamed_or_another_at_its_name_is_refused_by_the_start_itself() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    sim.hosts[0].set_faults(Faults {
        before_start: Some(BeforeStart::SwapNames { a: "FREE0001".into(), b: "EXPD0001".into() }),
        ..Faults::default()
    });
    let job = dir("job-swapped");
    let run = exec(&handle, &start_line(Os::Linux, &job, "sde", 4096, None)).await;
    assert_eq!(run.exit, Some(exit_codes::IDENTITY));
    let report = StartReport::parse(&run.stdout).unwrap();
    assert!(
        matches!(&report, StartReport::Refused { identity: true, reason } if reason.contains("is /dev/sdd, not /dev/sde")),
        "{report:?}"
    );
    assert!(matches!(poll(&handle, &job, 0, 0).await.state, JobState::Refused { .. }));
    assert_eq!(sim.hosts[0].with(|s| s.writers.len()), 0, "nothing was written");
}

#[tokio::test]
async fn an_abandoned_folder_never_starts() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let job = dir("job-abandoned");
    let run = exec(&handle, &RemoteCommand::Abandon { dir: job.clone() }.wire()).await;
    assert_eq!(AbandonReport::parse(&run.stdout).unwrap(), AbandonReport::Abandoned);
    assert_eq!(poll(&handle, &job, 0, 0).await.state, JobState::Abandoned);
    let late = exec(&handle, &start_line(Os::Linux, &job, "sde", 4096, None)).await;
    assert_eq!(late.exit, Some(exit_codes::CLAIMED));
    assert_eq!(sim.hosts[0].with(|s| s.writers.len()), 0);
}

#[tokio::test]
async fn a_process_that_ignores_term_needs_kill() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    sim.hosts[0].set_faults(Faults { ignore_term: true, ..Faults::default() });
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let job = dir("job-stubborn");
    let group =
        started_group(&exec(&handle, &start_line(Os::Linux, &job, "sde", 4096, None)).await);
    let stop = |signal| RemoteCommand::Stop { dir: job.clone(), signal }.wire();
    assert_eq!(
        StopReport::parse(&exec(&handle, &stop(Signal::Term)).await.stdout).unwrap(),
        StopReport::Signalled
    );
    assert_eq!(poll(&handle, &job, 0, 0).await.state, JobState::Running { pid: group });
    assert_eq!(
        StopReport::parse(&exec(&handle, &stop(Signal::Kill)).await.stdout).unwrap(),
        StopReport::Signalled
    );
    assert_eq!(poll(&handle, &job, 0, 0).await.state, JobState::Gone);
    assert_eq!(sim.hosts[0].with(|s| s.kills.get(job.as_str()).copied()), Some(1));
}

#[tokio::test]
async fn a_lost_reply_still_ran_the_command_and_a_held_command_waits() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    sim.hosts[0]
        .set_faults(Faults { drop_reply: Some((CommandKind::Start, 1)), ..Faults::default() });
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    let job = dir("job-lost-reply");
    let lost = exec(&handle, &start_line(Os::Linux, &job, "sde", 4096, None)).await;
    assert_eq!(lost.exit, None, "no answer came back");
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    assert!(matches!(poll(&handle, &job, 0, 0).await.state, JobState::Running { .. }));
    assert_eq!(sim.hosts[0].with(|s| s.writers_for("FREE0001")), 1);

    sim.hosts[0].hold(CommandKind::Smartctl);
    let host = sim.hosts[0].clone();
    let line = RemoteCommand::Smartctl(burnin::remote::Smartctl {
        device: DevicePath::for_name("sde").unwrap(),
        device_type: None,
        action: burnin::remote::SmartctlAction::Report,
        with_text: false,
    })
    .wire();
    let waiting = tokio::spawn(async move {
        let handle = connect_host(&host).await;
        exec(&handle, &line).await.exit
    });
    tokio::time::timeout(Duration::from_secs(5), async {
        while sim.hosts[0].held() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the command is held");
    assert!(!waiting.is_finished());
    sim.hosts[0].release();
    assert_eq!(waiting.await.unwrap(), Some(0));
}

async fn connect_host(host: &burnin_simulator::SimHost) -> Handle<Trusting> {
    let config = Arc::new(client::Config::default());
    let mut handle = client::connect(config, host.ssh_addr, Trusting).await.unwrap();
    let key = client_key();
    assert!(
        handle
            .authenticate_publickey("root", PrivateKeyWithHashAlg::new(Arc::new(key), None))
            .await
            .unwrap()
            .success()
    );
    handle
}

#[tokio::test]
async fn the_new_probes_see_holders_jobs_the_host_and_geom() {
    let sim = start_sim(host("nas", Personality::Scale2510)).await;
    let handle = connect(&sim, 0, &client_key()).await.unwrap();
    sim.hosts[0].with(|s| {
        s.holders.push(burnin_simulator::host::Holder {
            serial: "FREE0001".into(),
            pid: 812,
            command: "dd".into(),
        })
    });
    let answer = |run: &Run| String::from_utf8_lossy(&run.stdout).into_owned();
    let open = exec(
        &handle,
        &RemoteCommand::Probe {
            os: Os::Linux,
            probe: Probe::OpenBy(DevicePath::for_name("sde").unwrap()),
        }
        .wire(),
    )
    .await;
    let text = answer(&open);
    let held = burnin::interlock::parse::open_by(burnin::interlock::parse::Answer {
        stdout: &text,
        stderr: "",
        exit_code: 0,
    })
    .unwrap();
    assert_eq!(held, [burnin::interlock::parse::OpenBy { pid: 812, command: "dd".into() }]);
    let job = dir("job-probed");
    started_group(&exec(&handle, &start_line(Os::Linux, &job, "sdd", 4096, None)).await);
    let jobs = exec(
        &handle,
        &RemoteCommand::Probe {
            os: Os::Linux,
            probe: Probe::BurninJobs(
                dir("x")
                    .as_str()
                    .rsplit_once('/')
                    .map(|(root, _)| JobDir::new(root).unwrap())
                    .unwrap(),
            ),
        }
        .wire(),
    )
    .await;
    let text = answer(&jobs);
    let running = burnin::interlock::parse::burnin_jobs(burnin::interlock::parse::Answer {
        stdout: &text,
        stderr: "",
        exit_code: 0,
    })
    .unwrap();
    assert_eq!(running.len(), 1, "{text}");
    assert_eq!(running[0].serial.as_deref(), Some("EXPD0001"));
    let identity =
        exec(&handle, &RemoteCommand::Probe { os: Os::Linux, probe: Probe::HostIdentity }.wire())
            .await;
    let text = answer(&identity);
    let identity = burnin::interlock::parse::host_identity(burnin::interlock::parse::Answer {
        stdout: &text,
        stderr: "",
        exit_code: 0,
    })
    .unwrap();
    assert_eq!(identity.hostname, "nas");
    assert_eq!(identity.host_id, sim.hosts[0].with(|s| s.host_id.clone()));

    let core = start_sim(host("core", Personality::Core13)).await;
    let handle = connect(&core, 0, &client_key()).await.unwrap();
    let geom = exec(
        &handle,
        &RemoteCommand::Probe {
            os: Os::FreeBsd,
            probe: Probe::GeomDisk(DevicePath::for_name("ada1").unwrap()),
        }
        .wire(),
    )
    .await;
    let text = answer(&geom);
    let disk = burnin::interlock::parse::geom_disk(burnin::interlock::parse::Answer {
        stdout: &text,
        stderr: "",
        exit_code: 0,
    })
    .unwrap();
    assert!(disk.is_open(), "a pool member is held by ZFS: {text}");
    assert_eq!(disk.ident.as_deref(), Some("POOL0001"));
}
