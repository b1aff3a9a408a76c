//! The smartctl JSON parser against every real capture in ../shared/corpus (see its README for
//! where they come from), with exact checks on the ones that taught us something.

use std::path::{Path, PathBuf};

use burnin::SmartHealth;
use burnin::smart::{
    AtaSelfTestLogKind, CommandTimeouts, Protocol, SelfTestKind, SelfTestOutcome, SelfTestProgress,
    SmartReport, WhenFailed, parse_smartctl_json,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

fn corpus_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).expect("corpus folder is readable");
        for entry in entries {
            let path = entry.expect("corpus entry is readable").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|extension| extension == "json") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new(CORPUS), &mut found);
    found.sort();
    found
}

/// Parses the capture called `file` (searched in every corpus folder) and runs `assert` on it.
fn check(file: &str, assert: impl FnOnce(&SmartReport)) {
    let path = corpus_files()
        .into_iter()
        .find(|path| path.file_name().is_some_and(|name| name == file))
        .unwrap_or_else(|| panic!("{file} is in the corpus"));
    let bytes = std::fs::read(&path).expect("capture is readable");
    let report = parse_smartctl_json(&bytes).unwrap_or_else(|error| panic!("{file}: {error}"));
    assert(&report);
}

#[test]
fn every_capture_in_the_corpus_parses_and_round_trips_through_serde() {
    let files = corpus_files();
    assert!(files.len() >= 170, "expected the whole corpus, found {} files", files.len());
    for path in files {
        let bytes = std::fs::read(&path).expect("capture is readable");
        let report = parse_smartctl_json(&bytes)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        // Every derived view must be computable too.
        let _ = (report.self_test_progress(), report.last_self_test(), report.read_failed());
        if let Some(ata) = &report.ata {
            let _ = (ata.command_timeouts(), ata.temperature(), ata.power_on_hours());
        }
        let json = serde_json::to_string(&report).expect("a report serialises");
        let back: SmartReport = serde_json::from_str(&json).expect("a report deserialises");
        assert_eq!(back, report, "{}", path.display());
    }
}

#[test]
fn every_capture_of_a_device_names_its_protocol() {
    for path in corpus_files() {
        let text = std::fs::read_to_string(&path).expect("capture is readable");
        let report = parse_smartctl_json(text.as_bytes()).expect("capture parses");
        if text.contains("\"protocol\"") && !text.contains("\"devices\"") {
            assert_ne!(report.identity.protocol, Protocol::Unknown, "{}", path.display());
        }
    }
}

#[test]
fn sas_drive_with_260_grown_defects_still_says_passed() {
    check("SEAGATE_ST373453LC_26.json", |report| {
        assert_eq!(report.identity.protocol, Protocol::Scsi);
        assert_eq!(report.identity.model.as_deref(), Some("SEAGATE ST373453LC"));
        assert_eq!(report.identity.firmware.as_deref(), Some("DX10"));
        assert_eq!(report.identity.capacity_bytes, Some(73_407_820_800));
        assert_eq!(report.identity.rotation_rate, Some(15015));
        assert_eq!(report.smartctl.version, Some([7, 4]));
        assert_eq!(report.health, SmartHealth::Passed);
        assert_eq!(
            (report.temperature.current, report.temperature.drive_trip),
            (Some(33), Some(68))
        );
        assert_eq!(report.power_on_hours, Some(102_880));
        let scsi = report.scsi.as_ref().expect("SCSI sections");
        assert_eq!(scsi.grown_defect_list, Some(260));
        let read = scsi.error_counters.read.as_ref().expect("read counters");
        let write = scsi.error_counters.write.as_ref().expect("write counters");
        assert_eq!(read.total_uncorrected_errors, Some(1));
        assert_eq!(write.total_uncorrected_errors, Some(535));
        assert_eq!(read.total_errors_corrected, Some(5_330_297));
        assert_eq!(read.gigabytes_processed, Some(11523.849));
        assert_eq!(scsi.error_counters.verify, None);
        assert_eq!(scsi.total_uncorrected_errors(), Some(536));
        assert!(scsi.self_tests.is_empty());
        assert_eq!(report.self_test_progress(), None);
        assert!(report.ata.is_none() && report.nvme.is_none());
    });
}

#[test]
fn nvme_with_critical_warning_16_is_failed_with_exit_status_8() {
    check("nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json", |report| {
        assert_eq!(report.identity.protocol, Protocol::Nvme);
        assert_eq!(report.health, SmartHealth::Failed);
        let exit = report.smartctl.exit_status.expect("exit status");
        assert_eq!(exit.bits, 8);
        assert!(exit.disk_failing && !exit.is_fatal());
        assert!(!report.read_failed(), "the drive was read; it is failing, not unreadable");
        let nvme = report.nvme.as_ref().expect("NVMe sections");
        let log = nvme.health_log.as_ref().expect("health log");
        assert_eq!(log.critical_warning, Some(16));
        assert_eq!(log.data_units_read, Some(146_935_678));
        assert_eq!(log.media_errors, Some(0));
        let warning = nvme.critical_warning.expect("smart_status.nvme");
        assert!(warning.volatile_memory_backup_failed);
        assert!(!warning.spare_below_threshold && !warning.media_read_only);
        // No user_capacity in this capture: the capacity comes from nvme_total_capacity.
        assert_eq!(report.identity.capacity_bytes, Some(3_200_631_791_616));
        assert_eq!(report.power_on_hours, Some(18_376));
    });
}

#[test]
fn seagate_command_timeout_is_unpacked_not_read_as_51_billion() {
    check("sat-Seagate_Exos_X16-ST16000NM001G-2KK103-sda.json", |report| {
        let ata = report.ata.as_ref().expect("ATA sections");
        assert_eq!(
            ata.attribute(188).and_then(|attribute| attribute.raw_value),
            Some(51_540_393_996)
        );
        assert_eq!(
            ata.command_timeouts(),
            Some(CommandTimeouts { timeouts: 12, over_5s: Some(12), over_7_5s: Some(12) })
        );
        // 194's raw value packs min/max above the low byte.
        assert_eq!(ata.temperature(), Some(26));
        assert_eq!(ata.airflow_temperature(), Some(26));
        assert_eq!(ata.power_on_hours(), Some(13_114));
        assert_eq!(report.identity.wwn.as_deref(), Some("5000c500499602d2"));
        assert_eq!(report.identity.physical_block_size, Some(4096));
        assert_eq!(report.identity.capacity_bytes, Some(16_000_900_661_248));
        assert_eq!(report.identity.form_factor.as_deref(), Some("3.5 inches"));
        assert_eq!(report.smartctl.version, Some([7, 1]));
    });
}

#[test]
fn seagate_command_timeout_rendered_as_three_words_is_the_last_word() {
    check("sat-Seagate_Enterprise_Capacity_3.5_HDD-ST2000NM0008-2F3100-sdl.json", |report| {
        let ata = report.ata.as_ref().expect("ATA sections");
        let raw = ata.attribute(188).expect("attribute 188");
        assert_eq!(raw.raw_string.as_deref(), Some("2 2 2"));
        assert_eq!(ata.command_timeouts().map(|decoded| decoded.timeouts), Some(2));
    });
}

#[test]
fn udma_crc_errors_in_the_millions_are_read_exactly() {
    check("sat-Western_Digital_RE4-WDC_WD2003FYYS-02W0B1-sdi.json", |report| {
        let ata = report.ata.as_ref().expect("ATA sections");
        assert_eq!(ata.udma_crc_errors(), Some(3_118_119));
        assert_eq!(ata.reallocated_sectors(), Some(0));
        assert_eq!(ata.current_pending_sectors(), Some(0));
        assert_eq!(report.health, SmartHealth::Passed);
    });
}

#[test]
fn drive_with_304_reallocated_sectors_still_says_passed() {
    check("ST3500418AS_12.json", |report| {
        assert_eq!(report.health, SmartHealth::Passed);
        let ata = report.ata.as_ref().expect("ATA sections");
        assert_eq!(ata.reallocated_sectors(), Some(304));
        let attribute = ata.attribute(5).expect("attribute 5");
        assert_eq!(
            (attribute.value, attribute.worst, attribute.thresh),
            (Some(93), Some(93), Some(36))
        );
        assert_eq!(attribute.prefailure, Some(true));
        assert_eq!(attribute.when_failed, Some(WhenFailed::Never));
        assert_eq!(attribute.name.as_deref(), Some("Reallocated_Sector_Ct"));
        assert_eq!(ata.reported_uncorrectable(), Some(0));
        assert_eq!(ata.command_timeouts().map(|decoded| decoded.timeouts), Some(0));
        assert_eq!(ata.temperature(), Some(33));
        assert_eq!(ata.attributes.len(), 22);
        assert_eq!(report.identity.model_family.as_deref(), Some("Seagate Barracuda 7200.12"));
    });
}

#[test]
fn failed_self_test_carrying_remaining_percent_is_not_in_progress() {
    check("usbjmicron_a_when_failed_now.json", |report| {
        assert_eq!(report.identity.device_type.as_deref(), Some("usbjmicron"));
        assert_eq!(report.health, SmartHealth::Failed);
        let exit = report.smartctl.exit_status.expect("exit status");
        assert_eq!(exit.bits, 216);
        assert!(exit.disk_failing && exit.prefail_attributes_at_threshold);
        assert!(exit.error_log_has_records && exit.self_test_log_has_errors);
        assert!(!exit.attributes_were_at_threshold && !exit.is_fatal());
        let ata = report.ata.as_ref().expect("ATA sections");
        let log = ata.self_test_log.as_ref().expect("self-test log");
        assert_eq!(log.kind, AtaSelfTestLogKind::Standard);
        assert_eq!((log.entries.len(), log.error_count_total), (3, Some(3)));
        for entry in &log.entries {
            let status = entry.status.as_ref().expect("status");
            assert_eq!(
                (status.value, status.remaining_percent, status.passed),
                (121, Some(90), Some(false))
            );
            assert!(!status.in_progress());
            assert_eq!(status.percent_done(), None);
        }
        assert_eq!((ata.polling_minutes.short, ata.polling_minutes.extended), (Some(2), Some(127)));
        assert_eq!(report.self_test_progress(), None);
        let last = report.last_self_test().expect("a logged test");
        assert_eq!(last.kind, SelfTestKind::Short);
        assert_eq!(
            last.outcome,
            SelfTestOutcome::Failed { reason: "Completed: read failure".into() }
        );
        assert_eq!(
            (last.power_on_hours, last.first_failing_lba),
            (Some(16_402), Some(494_591_083))
        );
        assert_eq!(report.identity.wwn.as_deref(), Some("50014ee201cfb464"));
    });
}

#[test]
fn ata_test_running_only_in_the_log_reads_as_ten_percent_done() {
    // The drive's own status byte says 0 ("completed without error"); the running test shows
    // only as the newest extended-log entry, 249 = in progress, 90% remaining.
    check("sat_xall.json", |report| {
        let ata = report.ata.as_ref().expect("ATA sections");
        assert_eq!(ata.self_test_status.as_ref().map(|status| status.value), Some(0));
        assert_eq!(
            ata.self_test_log.as_ref().map(|log| log.kind),
            Some(AtaSelfTestLogKind::Extended)
        );
        assert_eq!(
            report.self_test_progress(),
            Some(SelfTestProgress { kind: SelfTestKind::Short, percent_done: Some(10) })
        );
        assert_eq!(
            report.last_self_test().map(|last| last.outcome),
            Some(SelfTestOutcome::InProgress)
        );
        assert_eq!(report.last_completed_self_test(), None);
        let minutes = ata.polling_minutes;
        assert_eq!(
            (minutes.short, minutes.extended, minutes.conveyance),
            (Some(1), Some(5), Some(2))
        );
        // Attribute 9 is "1335h+35m+19.580s": hours in the low 32 bits, milliseconds above.
        assert_eq!(
            ata.attribute(9).and_then(|attribute| attribute.raw_value),
            Some(9_103_526_781_257_015)
        );
        assert_eq!(ata.power_on_hours(), Some(1335));
        assert_eq!(report.identity.rotation_rate, Some(0));
        assert_eq!(report.identity.wwn.as_deref(), Some("5e83a97fcd61f249"));
    });
}

#[test]
fn sas_capture_from_smartctl_7_2_reads_the_old_vendor_and_product_keys() {
    check("scsi.json", |report| {
        assert_eq!(report.identity.protocol, Protocol::Scsi);
        assert_eq!(report.identity.vendor.as_deref(), Some("TOSHIBA"));
        assert_eq!(report.identity.model.as_deref(), Some("TOSHIBA <product SN>"));
        assert_eq!(report.identity.firmware.as_deref(), Some("6202"));
        assert_eq!(report.identity.physical_block_size, Some(4096));
        assert_eq!(report.identity.form_factor.as_deref(), Some("3.5 inches"));
        assert_eq!(report.identity.capacity_bytes, Some(6_001_175_126_016));
        assert_eq!(
            (report.temperature.current, report.temperature.drive_trip),
            (Some(27), Some(65))
        );
        assert_eq!(report.power_on_hours, Some(30_307));
        let scsi = report.scsi.as_ref().expect("SCSI sections");
        assert_eq!(scsi.grown_defect_list, Some(0));
        let read = scsi.error_counters.read.as_ref().expect("read counters");
        assert_eq!(read.gigabytes_processed, Some(1_661_147.727));
        assert_eq!(read.errors_corrected_by_eccdelayed, Some(173));
        assert_eq!(scsi.total_uncorrected_errors(), Some(0));
        assert_eq!(report.last_self_test(), None);
    });
}

#[test]
fn healthy_nvme_from_smartctl_7_3_has_its_health_log_and_no_self_test_log() {
    check("nvme_xall.json", |report| {
        assert_eq!(report.health, SmartHealth::Passed);
        assert_eq!(report.identity.model.as_deref(), Some("KXG6AZNV512G TOSHIBA"));
        assert_eq!(report.identity.capacity_bytes, Some(512_110_190_592));
        let nvme = report.nvme.as_ref().expect("NVMe sections");
        assert_eq!(nvme.critical_warning.map(|warning| warning.bits), Some(0));
        let log = nvme.health_log.as_ref().expect("health log");
        assert_eq!(
            (log.temperature, log.available_spare, log.percentage_used),
            (Some(35), Some(100), Some(3))
        );
        assert_eq!((log.power_on_hours, log.unsafe_shutdowns), (Some(1767), Some(132)));
        assert_eq!((log.data_units_written, log.num_err_log_entries), (Some(13_927_418), Some(0)));
        assert_eq!(nvme.self_test_log, None);
        assert_eq!(report.self_test_progress(), None);
    });
}

#[test]
fn permission_denied_is_a_read_failure_not_a_health_verdict() {
    check("nvme_xall_error.json", |report| {
        assert!(report.read_failed());
        assert!(report.smartctl.exit_status.is_some_and(|exit| exit.device_open_failed));
        assert_eq!(report.health, SmartHealth::Unknown);
        assert_eq!(report.identity.protocol, Protocol::Unknown);
    });
}

#[test]
fn scan_output_parses_to_an_empty_report() {
    check("scsi_scan.json", |report| {
        assert_eq!(report.identity.protocol, Protocol::Unknown);
        assert!(report.ata.is_none() && report.scsi.is_none() && report.nvme.is_none());
        assert!(!report.read_failed());
    });
}

#[test]
fn sas_without_a_sensor_reports_zero_degrees_and_smart_command_failure() {
    check("scsi_xall_limited_output.json", |report| {
        assert_eq!(report.temperature.current, Some(0));
        assert!(report.smartctl.exit_status.is_some_and(|exit| exit.smart_command_failed));
        assert_eq!(report.health, SmartHealth::Unknown);
        assert_eq!(report.identity.model.as_deref(), Some("QEMU QEMU HARDDISK"));
    });
}
