//! Self-test states that no public capture shows. The fixtures are SYNTHESIZED from the
//! smartmontools 7.4 source shapes (`SMT@RELEASE_7_4:smartmontools/nvmeprint.cpp`
//! `print_self_test_log`, `scsiprint.cpp` `scsiPrintSelfTest`, `ataprint.cpp`
//! `ataPrintSmartSelfTestEntry`; the pre-8.0 `scsi_self_test_status` from `SMT@HEAD:src/
//! scsiprint.cpp`), because no real capture of them exists (../shared/corpus/README.md).

use burnin::smart::{
    SelfTestKind, SelfTestOutcome, SelfTestProgress, SelfTestResult, SmartReport,
    parse_scsi_self_test_progress_text, parse_smartctl_json,
};
use serde_json::{Value, json};

fn report(value: Value) -> SmartReport {
    parse_smartctl_json(value.to_string().as_bytes()).expect("fixture parses")
}

fn smartctl_7_4(device_type: &str, protocol: &str) -> Value {
    json!({
        "json_format_version": [1, 0],
        "smartctl": {"version": [7, 4], "svn_revision": "5530", "exit_status": 0},
        "device": {"name": "/dev/x", "info_name": "/dev/x", "type": device_type, "protocol": protocol},
        "smart_status": {"passed": true}
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

fn progress(kind: SelfTestKind, percent_done: Option<u8>) -> Option<SelfTestProgress> {
    Some(SelfTestProgress { kind, percent_done })
}

/// NVMe `-j -a` while an extended test runs. smartctl writes `table[i]` by result slot, so the
/// empty slot 0 comes out as `null`.
fn nvme_extended_test_running() -> Value {
    with(
        smartctl_7_4("nvme", "NVMe"),
        json!({"nvme_self_test_log": {
            "current_self_test_operation": {"value": 2, "string": "Extended self-test in progress"},
            "current_self_test_completion_percent": 37,
            "table": [
                null,
                {"self_test_code": {"value": 1, "string": "Short"},
                 "self_test_result": {"value": 0, "string": "Completed without error"},
                 "power_on_hours": 1200},
                null,
                {"self_test_code": {"value": 2, "string": "Extended"},
                 "self_test_result": {"value": 7, "string": "Completed: failed segments"},
                 "power_on_hours": 1100, "segment": 2, "nsid": 1, "lba": 123_456}
            ]
        }}),
    )
}

#[test]
fn nvme_test_in_progress_reports_percent_completed_as_is() {
    let report = report(nvme_extended_test_running());
    assert_eq!(report.self_test_progress(), progress(SelfTestKind::Extended, Some(37)));
    let last = report.last_self_test().expect("a test");
    assert_eq!((last.kind, last.outcome), (SelfTestKind::Extended, SelfTestOutcome::InProgress));
}

#[test]
fn nvme_self_test_table_skips_null_slots_and_keeps_slot_numbers() {
    let report = report(nvme_extended_test_running());
    let log = report.nvme.as_ref().and_then(|nvme| nvme.self_test_log.as_ref()).expect("log");
    let slots: Vec<usize> = log.entries.iter().map(|entry| entry.slot).collect();
    assert_eq!(slots, [1, 3]);
    assert_eq!(
        (log.entries[1].segment, log.entries[1].lba, log.entries[1].nsid),
        (Some(2), Some(123_456), Some(1))
    );
    assert_eq!(
        report.last_completed_self_test(),
        Some(SelfTestResult {
            kind: SelfTestKind::Short,
            outcome: SelfTestOutcome::Passed,
            power_on_hours: Some(1200),
            first_failing_lba: None,
        })
    );
}

#[test]
fn nvme_test_aborted_by_controller_reset_is_interrupted() {
    let report = report(with(
        smartctl_7_4("nvme", "NVMe"),
        json!({"nvme_self_test_log": {
            "nsid": -1,
            "current_self_test_operation": {"value": 0, "string": "No self-test in progress"},
            "table": [{"self_test_code": {"value": 1, "string": "Short"},
                       "self_test_result": {"value": 2, "string": "Aborted: Controller Reset"},
                       "power_on_hours": 9}]
        }}),
    ));
    assert_eq!(report.self_test_progress(), None);
    assert_eq!(
        report.last_self_test().map(|last| last.outcome),
        Some(SelfTestOutcome::Interrupted { reason: "Aborted: Controller Reset".into() })
    );
}

/// SAS `-j -a` on smartctl 7.4 while a background long test runs: the log's newest entry says
/// so, without hours and without a percentage.
fn sas_long_test_running() -> Value {
    with(
        smartctl_7_4("scsi", "SCSI"),
        json!({
            "scsi_self_test_0": {
                "code": {"value": 2, "string": "Background long"},
                "result": {"value": 15, "string": "Self test in progress ..."},
                "self_test_in_progress": true
            },
            "scsi_self_test_1": {
                "code": {"value": 1, "string": "Background short"},
                "result": {"value": 0, "string": "Completed"},
                "power_on_time": {"hours": 4000, "aka": "accumulated_power_on_hours"}
            },
            "scsi_extended_self_test_seconds": 80400
        }),
    )
}

#[test]
fn sas_test_in_progress_on_7_4_has_no_percent_in_json_and_takes_it_from_text() {
    let report = report(sas_long_test_running());
    assert_eq!(report.self_test_progress(), progress(SelfTestKind::Extended, None));
    let scsi = report.scsi.as_ref().expect("SCSI sections");
    assert_eq!(scsi.extended_self_test_seconds, Some(80_400));
    assert_eq!(scsi.self_tests.len(), 2);
    // The same run's text output (`scsiprint.cpp` line 1104).
    let text = "Self-test execution status:\t\t80% of test remaining\n";
    assert_eq!(parse_scsi_self_test_progress_text(text), Some(20));
    assert_eq!(
        report.last_completed_self_test().map(|last| last.outcome),
        Some(SelfTestOutcome::Passed)
    );
}

#[test]
fn sas_progress_from_smartctl_8_status_is_percent_completed() {
    let report = report(with(
        sas_long_test_running(),
        json!({"scsi_self_test_status": {"in_progress": true, "completion_percent": 20}}),
    ));
    assert_eq!(report.self_test_progress(), progress(SelfTestKind::Extended, Some(20)));
}

#[test]
fn sas_live_status_saying_idle_overrides_a_stale_log_entry() {
    let report = report(with(
        sas_long_test_running(),
        json!({"scsi_self_test_status": {"in_progress": false}}),
    ));
    assert_eq!(report.self_test_progress(), None);
}

#[test]
fn sas_segment_failure_reports_reason_and_first_failing_lba() {
    let report = report(with(
        smartctl_7_4("scsi", "SCSI"),
        json!({"scsi_self_test_0": {
            "code": {"value": 6, "string": "Foreground long"},
            "result": {"value": 7, "string": "Failed in segment"},
            "failed_segment": {"value": 3, "aka": "self_test_number"},
            "power_on_time": {"hours": 812, "aka": "accumulated_power_on_hours"},
            "lba_first_failure": {"value": 1_000_000, "aka": "address_of_first_failure"},
            "sense_key": {"value": 3, "string": "Medium Error"}, "asc": 17, "ascq": 0, "vendor_specific": 0
        }}),
    ));
    let entry = &report.scsi.as_ref().expect("SCSI sections").self_tests[0];
    assert_eq!((entry.failed_segment, entry.asc, entry.ascq), (Some(3), Some(17), Some(0)));
    assert_eq!(
        report.last_self_test(),
        Some(SelfTestResult {
            kind: SelfTestKind::Extended,
            outcome: SelfTestOutcome::Failed { reason: "Failed in segment".into() },
            power_on_hours: Some(812),
            first_failing_lba: Some(1_000_000),
        })
    );
}

/// ATA `-j -a` after the host aborted a short test 90% from the end: status `0x19`. smartctl
/// omits `passed` for result 1, and writes `remaining_percent` because the low nibble is set.
fn ata_short_test_aborted_by_host() -> Value {
    with(
        smartctl_7_4("sat", "ATA"),
        json!({
            "ata_smart_data": {"self_test": {
                "status": {"value": 25, "string": "was aborted by the host"},
                "polling_minutes": {"short": 2, "extended": 1479}
            }},
            "ata_smart_self_test_log": {"standard": {
                "revision": 1,
                "table": [
                    {"type": {"value": 1, "string": "Short offline"},
                     "status": {"value": 25, "string": "Aborted by host", "remaining_percent": 90},
                     "lifetime_hours": 501},
                    {"type": {"value": 2, "string": "Extended offline"},
                     "status": {"value": 0, "string": "Completed without error", "passed": true},
                     "lifetime_hours": 480}
                ],
                "count": 2, "error_count_total": 0, "error_count_outdated": 0
            }}
        }),
    )
}

#[test]
fn ata_aborted_by_host_is_aborted_not_failed_nor_running() {
    let report = report(ata_short_test_aborted_by_host());
    assert_eq!(report.self_test_progress(), None);
    let last = report.last_self_test().expect("a test");
    assert_eq!(last.kind, SelfTestKind::Short);
    assert_eq!(last.outcome, SelfTestOutcome::Aborted { reason: "Aborted by host".into() });
    assert_eq!(last.power_on_hours, Some(501));
    let ata = report.ata.as_ref().expect("ATA sections");
    assert_eq!(ata.self_test_status.as_ref().and_then(|status| status.passed), None);
}

#[test]
fn ata_interrupted_by_reset_and_fatal_error_have_their_own_outcomes() {
    let outcome_of = |value: u8, string: &str| {
        let mut fixture = ata_short_test_aborted_by_host();
        fixture["ata_smart_self_test_log"]["standard"]["table"][0]["status"] =
            json!({"value": value, "string": string});
        report(fixture).last_self_test().map(|last| last.outcome)
    };
    assert_eq!(
        outcome_of(0x20, "Interrupted (host reset)"),
        Some(SelfTestOutcome::Interrupted { reason: "Interrupted (host reset)".into() })
    );
    assert_eq!(
        outcome_of(0x30, "Fatal or unknown error"),
        Some(SelfTestOutcome::Failed { reason: "Fatal or unknown error".into() })
    );
    assert_eq!(
        outcome_of(0x85, "Completed: handling damage??"),
        Some(SelfTestOutcome::Failed { reason: "Completed: handling damage??".into() })
    );
    assert_eq!(outcome_of(0x00, "Completed without error"), Some(SelfTestOutcome::Passed));
    assert_eq!(
        outcome_of(0x90, "Unknown status (0x9)"),
        Some(SelfTestOutcome::Unknown { reason: "Unknown status (0x9)".into() })
    );
}

#[test]
fn ata_status_byte_in_progress_wins_even_when_the_log_shows_no_running_entry() {
    let mut fixture = ata_short_test_aborted_by_host();
    fixture["ata_smart_data"]["self_test"]["status"] =
        json!({"value": 241, "string": "in progress, 10% remaining", "remaining_percent": 10});
    let report = report(fixture);
    assert_eq!(report.self_test_progress(), progress(SelfTestKind::Unknown, Some(90)));
    assert_eq!(report.last_self_test().map(|last| last.outcome), Some(SelfTestOutcome::InProgress));
    assert_eq!(
        report.last_completed_self_test().map(|last| last.outcome),
        Some(SelfTestOutcome::Aborted { reason: "Aborted by host".into() })
    );
}

#[test]
fn ata_empty_self_test_log_has_no_table_and_no_last_test() {
    let report = report(with(
        smartctl_7_4("sat", "ATA"),
        json!({"ata_smart_self_test_log": {"standard": {"revision": 1, "count": 0}}}),
    ));
    let log = report.ata.as_ref().and_then(|ata| ata.self_test_log.as_ref()).expect("log");
    assert_eq!((log.count, log.entries.len()), (Some(0), 0));
    assert_eq!(report.last_self_test(), None);
}
