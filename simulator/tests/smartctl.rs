//! The simulator's smartctl, read back with the product's own parser.

#![expect(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use burnin::{
    remote::{DevicePath, SelfTestKind, Smartctl, SmartctlAction},
    smart::{
        Protocol, SelfTestOutcome, TestStartOutcome, parse_scsi_self_test_progress_text,
        parse_self_test_start_text, parse_smartctl_json,
    },
};
use burnin_simulator::{HostState, fleet};

fn command(device: &str, action: SmartctlAction, with_text: bool) -> Smartctl {
    Smartctl { device: DevicePath::new(device).unwrap(), device_type: None, action, with_text }
}

fn text(raw: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(raw).unwrap();
    value["smartctl"]["output"]
        .as_array()
        .map(|l| l.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

fn demo_hosts() -> Vec<HostState> {
    fleet::demo("1-a", "1-b", "").hosts.iter().map(|spec| HostState::new(spec, 1)).collect()
}

#[test]
fn every_demo_drive_answers_a_report_the_product_can_read() {
    for mut host in demo_hosts() {
        host.advance(60.0);
        let drives: Vec<(String, String, u64)> = host
            .drives
            .iter()
            .map(|d| (d.devname.clone(), d.spec.serial.clone(), d.spec.size_bytes))
            .collect();
        for (name, serial, size) in drives {
            let device = if host.personality.is_core() && name.starts_with("nvd") {
                name.replacen("nvd", "nvme", 1)
            } else {
                name.clone()
            };
            let out = burnin_simulator::smartctl::run(
                &mut host,
                &command(&format!("/dev/{device}"), SmartctlAction::Report, true),
            );
            let report = parse_smartctl_json(&out.stdout).unwrap();
            assert_eq!(report.identity.serial.as_deref(), Some(serial.as_str()), "{name}");
            assert_eq!(report.identity.capacity_bytes, Some(size), "{name}");
            assert!(report.temperature.current.is_some_and(|t| (20..=70).contains(&t)), "{name}");
            assert!(!report.read_failed(), "{name}");
        }
    }
}

#[test]
fn an_ata_self_test_progresses_and_is_logged() {
    let mut host = demo_hosts().remove(0);
    let start = burnin_simulator::smartctl::run(
        &mut host,
        &command("/dev/sda", SmartctlAction::StartSelfTest(SelfTestKind::Long), true),
    );
    assert_eq!(start.exit_code, 0);
    assert!(matches!(
        parse_self_test_start_text(&text(&start.stdout)),
        TestStartOutcome::Started { wait_seconds: Some(_), .. }
    ));
    let duration = host.drives[0].test_duration(burnin_simulator::drive::TestKind::Long);
    host.advance(duration * 0.35);
    let report = parse_smartctl_json(
        &burnin_simulator::smartctl::run(
            &mut host,
            &command("/dev/sda", SmartctlAction::Report, false),
        )
        .stdout,
    )
    .unwrap();
    let progress = report.self_test_progress().unwrap();
    assert_eq!(progress.percent_done, Some(30), "ATA reports remaining tenths");
    let again = burnin_simulator::smartctl::run(
        &mut host,
        &command("/dev/sda", SmartctlAction::StartSelfTest(SelfTestKind::Short), true),
    );
    assert_eq!(again.exit_code, 4);
    assert_eq!(
        parse_self_test_start_text(&text(&again.stdout)),
        TestStartOutcome::AlreadyRunning { percent_done: Some(30) }
    );
    host.advance(duration * 1.1);
    let report = parse_smartctl_json(
        &burnin_simulator::smartctl::run(
            &mut host,
            &command("/dev/sda", SmartctlAction::Report, false),
        )
        .stdout,
    )
    .unwrap();
    assert!(report.self_test_progress().is_none());
    assert_eq!(report.last_completed_self_test().unwrap().outcome, SelfTestOutcome::Passed);
}

#[test]
fn sas_progress_is_only_in_the_text() {
    let mut host = demo_hosts().remove(0);
    let sas = host
        .drives
        .iter()
        .find(|d| d.spec.model.contains("HUS728T8TAL5200"))
        .unwrap()
        .devname
        .clone();
    let device = format!("/dev/{sas}");
    burnin_simulator::smartctl::run(
        &mut host,
        &command(&device, SmartctlAction::StartSelfTest(SelfTestKind::Long), true),
    );
    let duration = host
        .drives
        .iter()
        .find(|d| d.devname == sas)
        .unwrap()
        .test_duration(burnin_simulator::drive::TestKind::Long);
    host.advance(duration / 2.0);
    let out =
        burnin_simulator::smartctl::run(&mut host, &command(&device, SmartctlAction::Report, true));
    let report = parse_smartctl_json(&out.stdout).unwrap();
    assert_eq!(report.identity.protocol, Protocol::Scsi);
    assert_eq!(report.self_test_progress().unwrap().percent_done, None);
    assert_eq!(parse_scsi_self_test_progress_text(&text(&out.stdout)), Some(50));
}

#[test]
fn nvme_reports_percent_completed_and_media_errors() {
    let mut core = demo_hosts().remove(1);
    let out = burnin_simulator::smartctl::run(
        &mut core,
        &command("/dev/nvme0", SmartctlAction::StartSelfTest(SelfTestKind::Short), true),
    );
    assert_eq!(out.exit_code, 0);
    core.advance(60.0);
    let report = parse_smartctl_json(
        &burnin_simulator::smartctl::run(
            &mut core,
            &command("/dev/nvme0", SmartctlAction::Report, false),
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(report.identity.protocol, Protocol::Nvme);
    assert_eq!(report.self_test_progress().unwrap().percent_done, Some(50));
}

#[test]
fn seagate_command_timeouts_stay_packed_and_decode_sanely() {
    let mut host = demo_hosts().remove(0);
    let report = parse_smartctl_json(
        &burnin_simulator::smartctl::run(
            &mut host,
            &command("/dev/sda", SmartctlAction::Report, false),
        )
        .stdout,
    )
    .unwrap();
    let timeouts = report.ata.unwrap().command_timeouts().unwrap();
    assert!(timeouts.timeouts < 100, "{timeouts:?}");
}

#[test]
fn an_unknown_device_is_an_open_failure() {
    let mut host = demo_hosts().remove(0);
    let out = burnin_simulator::smartctl::run(
        &mut host,
        &command("/dev/sdzz", SmartctlAction::Report, false),
    );
    assert_eq!(out.exit_code, 2);
    let report = parse_smartctl_json(&out.stdout).unwrap();
    assert!(report.read_failed());
}
