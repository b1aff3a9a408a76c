use super::*;

fn device(name: &str) -> DevicePath {
    DevicePath::for_name(name).expect("valid device")
}

fn dir() -> JobDir {
    JobDir::new("/var/tmp/burnin/job-12-stage-3").expect("valid dir")
}

fn surface(max_bad_blocks: Option<u32>) -> Badblocks {
    Badblocks {
        device: device("sdc"),
        mode: BadblocksMode::Destructive,
        block_size: 4096,
        blocks_at_once: 1024,
        max_bad_blocks,
    }
}

fn every_command() -> Vec<RemoteCommand> {
    let mut commands = Vec::new();
    for device_type in [None, Some(DeviceType::Sat), Some(DeviceType::Nvme), Some(DeviceType::Scsi)]
    {
        for action in [
            SmartctlAction::Report,
            SmartctlAction::AbortSelfTest,
            SmartctlAction::StartSelfTest(SelfTestKind::Short),
            SmartctlAction::StartSelfTest(SelfTestKind::Long),
            SmartctlAction::StartSelfTest(SelfTestKind::Conveyance),
        ] {
            for with_text in [false, true] {
                commands.push(RemoteCommand::Smartctl(Smartctl {
                    device: device("nvme0n1"),
                    device_type,
                    action,
                    with_text,
                }));
            }
        }
    }
    for os in [Os::Linux, Os::FreeBsd] {
        let mut read_only = surface(None);
        read_only.mode = BadblocksMode::ReadOnly;
        for program in [surface(None), surface(Some(1)), read_only] {
            for serial in ["ZJV0A1B2", "WD-WX12 D401'AB", "S/N#1=2"] {
                commands.push(
                    RemoteCommand::start(
                        os,
                        dir(),
                        lock_file("/var/tmp/burnin", serial).expect("lock"),
                        target(serial),
                        Program::Badblocks(program.clone()),
                    )
                    .expect("a valid start"),
                );
            }
        }
        for probe in [
            Probe::OpenBy(device("sdc")),
            Probe::OpenBy(device("nvme0n1")),
            Probe::BurninJobs(JobDir::new("/var/tmp/burnin").expect("root")),
            Probe::HostIdentity,
            Probe::GeomDisk(device("ada3")),
            Probe::Resolve(vec![
                DevicePath::new("/dev/disk/by-path/pci-0000:00:17.0-ata-3").expect("path"),
                device("sdb"),
            ]),
        ] {
            if os == Os::Linux && matches!(probe, Probe::GeomDisk(_)) {
                continue;
            }
            commands.push(RemoteCommand::Probe { os, probe });
        }
    }
    for probe in [
        Probe::BlockTree(device("sdc")),
        Probe::Signatures(device("sdc")),
        Probe::Mounts,
        Probe::Swaps,
        Probe::ZpoolStatus,
    ] {
        commands.push(RemoteCommand::Probe { os: Os::Linux, probe: probe.clone() });
        commands.push(RemoteCommand::Probe { os: Os::FreeBsd, probe });
    }
    for probe in [
        Probe::MdStat,
        Probe::LvmPhysicalVolumes,
        Probe::Holders(device("sdc")),
        Probe::ZpoolImportScan,
    ] {
        commands.push(RemoteCommand::Probe { os: Os::Linux, probe });
    }
    commands.push(RemoteCommand::Poll {
        dir: dir(),
        stdout_offset: 0,
        stderr_offset: 1234,
        max_bytes: 65536,
    });
    commands.push(RemoteCommand::Stop { dir: dir(), signal: Signal::Term });
    commands.push(RemoteCommand::Stop { dir: dir(), signal: Signal::Kill });
    commands.push(RemoteCommand::Abandon { dir: dir() });
    commands.push(RemoteCommand::Remove { dir: dir() });
    commands
}

fn target(serial: &str) -> Target {
    Target::new(
        device("sdc"),
        serial,
        if serial.len() > 10 { "" } else { "5000c500a1b2c3d4" },
        4_000_787_030_016,
    )
    .expect("a valid target")
}

#[test]
fn every_command_goes_over_the_wire_under_sh_with_the_c_locale_and_parses_back() {
    for command in every_command() {
        let wire = command.wire();
        assert!(wire.starts_with("env LC_ALL=C sh -c "), "{wire}");
        assert!(wire.len() <= MAX_WIRE_BYTES, "{} bytes: {wire}", wire.len());
        assert!(!wire.contains('\n'), "a newline would end the line in csh: {wire}");
        assert_eq!(RemoteCommand::parse_wire(&wire), Some(command.clone()), "{wire}");
        // The bare line is not what the simulator accepts over SSH.
        assert_eq!(RemoteCommand::parse_wire(&command.render()), None);
    }
}

#[test]
fn a_start_must_aim_its_program_at_the_target() {
    let mut program = surface(None);
    program.device = device("sdd");
    let refused = RemoteCommand::start(
        Os::Linux,
        dir(),
        lock_file("/var/tmp/burnin", "X").expect("lock"),
        target("X"),
        Program::Badblocks(program),
    );
    assert!(matches!(refused, Err(CommandError::TargetMismatch { .. })), "{refused:?}");
    for bad in ["", "   ", "tab\there", "line\nbreak", &"x".repeat(65), "é"] {
        assert!(Target::new(device("sdc"), bad, "", 1).is_err(), "{bad:?}");
    }
    assert!(Target::new(device("sdc"), "X", "nvme.144d-x", 1).is_err());
    assert_eq!(
        Target::new(device("sdc"), "X", "0x5000C500", 1).map(|t| t.lunid),
        Ok("5000c500".into())
    );
}

#[test]
fn serials_are_written_the_way_udev_names_by_id_links() {
    assert_eq!(udev_id("ZJV0A1B2"), "ZJV0A1B2");
    assert_eq!(udev_id("  WD-WX12  D401AB "), "WD-WX12_D401AB");
    assert_eq!(udev_id("S/N#1=2"), "S_N#1=2");
    assert_eq!(udev_id("a$b'c"), "a_b_c");
}

#[test]
fn each_disk_has_its_own_lock_file_under_the_root() {
    let a = lock_file("/var/tmp/burnin/", "ZJV0A1B2").expect("lock");
    assert!(a.as_str().starts_with("/var/tmp/burnin/locks/ZJV0A1B2-"), "{}", a.as_str());
    assert!(a.as_str().ends_with(".lock"));
    // Serials that sanitize alike still get distinct locks.
    let b = lock_file("/var/tmp/burnin", "S N").expect("lock");
    let c = lock_file("/var/tmp/burnin", "S/N").expect("lock");
    assert_ne!(b, c);
    assert_eq!(lock_file("/var/tmp/burnin", " S N "), Ok(b));
}

#[test]
fn every_rendered_command_parses_back_to_itself() {
    assert!(every_command().len() > 60);
    for command in every_command() {
        let line = command.render();
        assert_eq!(RemoteCommand::parse(&line), Some(command), "{line}");
    }
}

#[test]
fn lines_the_product_never_sends_do_not_parse() {
    for line in [
        "",
        "rm -rf /",
        "smartctl -x /dev/sda",
        "smartctl --json=c -x /dev/sda; rm -rf /",
        "smartctl --json=c -x /dev/../etc/passwd",
        "smartctl --json=c -x /dev/sda /dev/sdb",
        "badblocks -b 4096 -c 1024 -w -s -v /dev/sda",
        "badblocks -wsv /dev/sda",
        "cat /etc/shadow",
        "zpool destroy tank",
        "smartctl --json=c -d megaraid,0 -x /dev/sda",
    ] {
        assert_eq!(RemoteCommand::parse(line), None, "{line:?}");
    }
}

#[test]
fn smartctl_lines_read_like_a_person_would_type_them() {
    let command = RemoteCommand::Smartctl(Smartctl {
        device: device("sda"),
        device_type: Some(DeviceType::Sat),
        action: SmartctlAction::StartSelfTest(SelfTestKind::Long),
        with_text: true,
    });
    assert_eq!(command.render(), "smartctl --json=co -d sat -t long /dev/sda");
}

#[test]
fn device_paths_and_job_dirs_reject_injection() {
    for bad in
        ["sda", "/dev/", "/dev/sd a", "/dev/sda;reboot", "/dev/../sda", "/dev/$(id)", "/dev//sda"]
    {
        assert!(DevicePath::new(bad).is_err(), "{bad}");
    }
    assert!(DevicePath::new("/dev/disk/by-id/wwn-0x5000c500a1b2c3d4").is_ok());
    for bad in ["relative", "/", "/tmp/../etc", "/tmp/a b", "/tmp/'x'", "/tmp//x"] {
        assert!(JobDir::new(bad).is_err(), "{bad}");
    }
}

#[test]
fn badblocks_options_are_validated() {
    let mut badblocks = surface(None);
    assert!(badblocks.validate().is_ok());
    badblocks.block_size = 3000;
    assert_eq!(badblocks.validate(), Err(CommandError::BadBlockSize(3000)));
    badblocks.block_size = 4096;
    badblocks.blocks_at_once = 0;
    assert_eq!(badblocks.validate(), Err(CommandError::BadBlocksAtOnce(0)));
}

#[test]
fn quoting_survives_every_awkward_character() {
    for word in
        ["plain", "with space", "it's", "'", "", "$(reboot)", "a\"b", "back\\slash", "tab\there"]
    {
        let quoted = quote(word);
        if word.contains(['"', '\\', '\t']) {
            // Outside the splitter's subset; the shell still reads them right.
            continue;
        }
        assert_eq!(split_words(&quoted), Some(vec![word.to_owned()]), "{quoted}");
    }
}

#[test]
fn poll_reports_round_trip_through_their_wire_form() {
    let reports = [
        PollReport {
            state: JobState::Running { pid: 4242 },
            stdout_size: 10,
            stderr_size: 3000,
            stdout: b"1234\n5678\n".to_vec(),
            stderr:
                b"Testing with pattern 0xaa:  12.50% done, 0:01 elapsed. (0/0/0 errors)\x08\x08"
                    .to_vec(),
        },
        PollReport {
            state: JobState::Exited { code: 1 },
            stdout_size: 0,
            stderr_size: 0,
            stdout: vec![],
            stderr: vec![],
        },
        PollReport {
            state: JobState::Gone,
            stdout_size: 5,
            stderr_size: 5,
            stdout: b"no nl".to_vec(),
            stderr: b"x".to_vec(),
        },
    ];
    for report in reports {
        assert_eq!(PollReport::parse(&poll::render_report(&report)), Ok(report.clone()));
    }
    let no_job = PollReport {
        state: JobState::NoJob,
        stdout_size: 0,
        stderr_size: 0,
        stdout: vec![],
        stderr: vec![],
    };
    assert_eq!(PollReport::parse(&poll::render_report(&no_job)), Ok(no_job));
}

#[test]
fn poll_answers_skip_a_login_banner_and_refuse_garbage() {
    let mut answer = b"Welcome to TrueNAS\n".to_vec();
    answer.extend(poll::render_report(&PollReport {
        state: JobState::Exited { code: 0 },
        stdout_size: 0,
        stderr_size: 0,
        stdout: vec![],
        stderr: vec![],
    }));
    assert_eq!(PollReport::parse(&answer).map(|r| r.state), Ok(JobState::Exited { code: 0 }));
    assert_eq!(PollReport::parse(b"bash: zpool: not found\n"), Err(PollParseError::NoHeader));
    assert_eq!(
        PollReport::parse(b"burnin-poll 1\nstate running 12\nstdout 4\nstderr 0\n--stdout 4\nab"),
        Err(PollParseError::Truncated)
    );
    assert!(matches!(
        PollReport::parse(b"burnin-poll 1\nstate flying\n"),
        Err(PollParseError::BadLine(_))
    ));
}
