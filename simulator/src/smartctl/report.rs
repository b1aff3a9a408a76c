//! The `-x` report per protocol.

use burnin::remote::DevicePath;
use serde_json::{Value, json};

use super::{bits, newest_failed};
use crate::{
    clock::SimTime,
    drive::{DriveSim, TestKind, TestResult},
    scenario::Protocol,
};

const ATA_SEAGATE: &str = include_str!("captures/ata-seagate.json");
const ATA_TOSHIBA: &str = include_str!("captures/ata-toshiba.json");
const ATA_HGST: &str = include_str!("captures/ata-hgst.json");
const ATA_WD: &str = include_str!("captures/ata-wd.json");
const ATA_SSD: &str = include_str!("captures/ata-ssd.json");
const SCSI: &str = include_str!("captures/scsi.json");
const NVME: &str = include_str!("captures/nvme.json");

fn capture(drive: &DriveSim) -> Value {
    let model = drive.spec.model.to_ascii_uppercase();
    let text = match drive.spec.protocol {
        Protocol::Scsi => SCSI,
        Protocol::Nvme => NVME,
        Protocol::Ata if drive.is_ssd() => ATA_SSD,
        Protocol::Ata if model.starts_with("TOSHIBA") => ATA_TOSHIBA,
        Protocol::Ata if model.starts_with("HGST") => ATA_HGST,
        Protocol::Ata if model.starts_with("WDC") || model.starts_with("WD") => ATA_WD,
        Protocol::Ata => ATA_SEAGATE,
    };
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

pub fn local_time() -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    json!({"time_t": now, "asctime": format!("@{now} UTC")})
}

pub fn local_time_after(seconds: f64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("@{} UTC", now + seconds as u64)
}

pub fn device_block(protocol: Protocol, device: &DevicePath) -> Value {
    let (kind, protocol_name, info) = match protocol {
        Protocol::Ata => ("sat", "ATA", format!("{} [SAT]", device.as_str())),
        Protocol::Scsi => ("scsi", "SCSI", device.as_str().to_owned()),
        Protocol::Nvme => ("nvme", "NVMe", device.as_str().to_owned()),
    };
    json!({"name": device.as_str(), "info_name": info, "type": kind, "protocol": protocol_name})
}

/// Builds the report; returns it (without its `smartctl` block), the exit status and the
/// plain-text lines `--json=co` would carry.
pub fn build(
    drive: &DriveSim,
    now: SimTime,
    core: bool,
    device: &DevicePath,
) -> (Value, u32, Vec<String>) {
    let mut document = capture(drive);
    let protocol = drive.spec.protocol;
    let temperature = drive.temperature();
    let hours = drive.power_on_hours();
    let failing = drive.reallocated() > 500
        || (protocol == Protocol::Nvme && drive.counters.nvme_media_errors >= 1000.0);
    document["device"] = device_block(protocol, device);
    document["local_time"] = local_time();
    document["serial_number"] = json!(drive.spec.serial);
    document["user_capacity"] =
        json!({"blocks": drive.spec.size_bytes / 512, "bytes": drive.spec.size_bytes});
    document["logical_block_size"] = json!(512);
    document["temperature"]["current"] = json!(temperature);
    document["power_on_time"] = json!({"hours": hours});
    document["power_cycle_count"] = json!(drive.power_cycles);
    document["smart_status"]["passed"] = json!(!failing);
    let mut exit = 0;
    let mut text = vec![
        "smartctl 7.4 2023-08-01 r5530 [x86_64-linux] (local build)".to_owned(),
        "=== START OF INFORMATION SECTION ===".to_owned(),
        format!("Serial Number:    {}", drive.spec.serial),
    ];
    let _ = core;
    match protocol {
        Protocol::Ata => ata(&mut document, drive, now, &mut exit),
        Protocol::Scsi => scsi(&mut document, drive, now, &mut exit, &mut text),
        Protocol::Nvme => nvme(&mut document, drive, now, &mut exit),
    }
    if failing {
        exit |= bits::FAILING;
    }
    if newest_failed(&drive.self_test_log) {
        exit |= bits::SELF_TEST_ERRORS;
    }
    (document, exit, text)
}

fn set_attribute(table: &mut Vec<Value>, id: u64, name: &str, raw: u64, value: u64, thresh: u64) {
    let entry = match table.iter_mut().find(|a| a["id"] == id) {
        Some(entry) => entry,
        None => {
            table.push(json!({
                "id": id, "name": name, "value": value, "worst": value, "thresh": thresh, "when_failed": "",
                "flags": {"value": 50, "string": "-O--CK ", "prefailure": false, "updated_online": true, "performance": false, "error_rate": false, "event_count": true, "auto_keep": true},
                "raw": {"value": 0, "string": "0"}
            }));
            table.sort_by_key(|a| a["id"].as_u64().unwrap_or(0));
            let Some(entry) = table.iter_mut().find(|a| a["id"] == id) else { return };
            entry
        }
    };
    entry["raw"] = json!({"value": raw, "string": raw.to_string()});
    if raw > 0 && matches!(id, 5 | 197 | 198) {
        // The normalised value falls as the count grows (vendor-specific, roughly).
        let normalised = value.saturating_sub(raw.min(value.saturating_sub(thresh + 1)));
        entry["value"] = json!(normalised);
        entry["worst"] = json!(normalised);
    }
}

fn ata(document: &mut Value, drive: &DriveSim, now: SimTime, exit: &mut u32) {
    document["model_name"] = json!(drive.spec.model);
    document["rotation_rate"] = json!(drive.spec.rotation_rpm);
    document["physical_block_size"] = json!(drive.spec.physical_sector_bytes);
    let oui = u64::from_str_radix(drive.wwn.get(1..7).unwrap_or("0"), 16).unwrap_or(0);
    let id = u64::from_str_radix(drive.wwn.get(7..).unwrap_or("0"), 16).unwrap_or(0);
    document["wwn"] = json!({"naa": 5, "oui": oui, "id": id});
    let mut table: Vec<Value> =
        document["ata_smart_attributes"]["table"].as_array().cloned().unwrap_or_default();
    let temperature = drive.temperature().max(0) as u64;
    set_attribute(&mut table, 5, "Reallocated_Sector_Ct", drive.reallocated(), 100, 10);
    set_attribute(&mut table, 9, "Power_On_Hours", drive.power_on_hours(), 100, 0);
    set_attribute(&mut table, 12, "Power_Cycle_Count", drive.power_cycles, 100, 20);
    set_attribute(
        &mut table,
        187,
        "Reported_Uncorrect",
        drive.counters.reported_uncorrectable as u64,
        100,
        0,
    );
    set_attribute(
        &mut table,
        194,
        "Temperature_Celsius",
        temperature,
        100u64.saturating_sub(temperature),
        0,
    );
    set_attribute(&mut table, 197, "Current_Pending_Sector", drive.pending(), 100, 0);
    set_attribute(
        &mut table,
        198,
        "Offline_Uncorrectable",
        drive.counters.offline_uncorrectable as u64,
        100,
        0,
    );
    set_attribute(&mut table, 199, "UDMA_CRC_Error_Count", drive.counters.udma_crc as u64, 200, 0);
    document["ata_smart_attributes"] = json!({"revision": 10, "table": table});
    if document["ata_smart_error_log"]["summary"]["count"].as_u64().unwrap_or(0) > 0 {
        *exit |= bits::ERROR_LOG;
    }
    let status = match &drive.self_test {
        Some(run) => {
            let remaining = ((1.0 - run.fraction(now)) * 10.0).ceil().clamp(0.0, 9.0) as u64;
            json!({"value": 0xF0 + remaining, "string": format!("in progress, {}% remaining", remaining * 10), "remaining_percent": remaining * 10})
        }
        None => match drive.self_test_log.first().map(|e| e.result) {
            Some(TestResult::AbortedByHost) => {
                json!({"value": 0x10, "string": "was aborted by the host"})
            }
            Some(TestResult::ReadFailure { .. }) => {
                json!({"value": 0x79, "string": "completed: read failure", "remaining_percent": 90, "passed": false})
            }
            _ => json!({"value": 0, "string": "completed without error", "passed": true}),
        },
    };
    let mut polling = json!({"short": (drive.test_duration(TestKind::Short) / 60.0).ceil(), "extended": (drive.test_duration(TestKind::Long) / 60.0).ceil()});
    if !drive.is_ssd() {
        polling["conveyance"] = json!((drive.test_duration(TestKind::Conveyance) / 60.0).ceil());
    }
    document["ata_smart_data"] = json!({
        "offline_data_collection": {"status": {"value": 0, "string": "was never started"}, "completion_seconds": 567},
        "self_test": {"status": status, "polling_minutes": polling},
        "capabilities": {"values": [123, 3], "exec_offline_immediate_supported": true, "offline_is_aborted_upon_new_cmd": false, "offline_surface_scan_supported": true, "self_tests_supported": true, "conveyance_self_test_supported": !drive.is_ssd(), "selective_self_test_supported": true, "attribute_autosave_enabled": true, "error_logging_supported": true, "gp_logging_supported": true}
    });
    let mut entries = Vec::new();
    if let Some(run) = &drive.self_test {
        let remaining = ((1.0 - run.fraction(now)) * 10.0).ceil().clamp(0.0, 9.0) as u64;
        entries.push(json!({"type": ata_type(run.kind), "status": {"value": 0xF0 + remaining, "string": "Self-test routine in progress", "remaining_percent": remaining * 10, "passed": true}, "lifetime_hours": drive.power_on_hours()}));
    }
    for entry in &drive.self_test_log {
        let status = match entry.result {
            TestResult::Passed => {
                json!({"value": 0, "string": "Completed without error", "passed": true})
            }
            TestResult::AbortedByHost => json!({"value": 0x10, "string": "Aborted by host"}),
            TestResult::ReadFailure { .. } => {
                json!({"value": 0x79, "string": "Completed: read failure", "remaining_percent": 90, "passed": false})
            }
        };
        let mut item = json!({"type": ata_type(entry.kind), "status": status, "lifetime_hours": entry.power_on_hours});
        if let TestResult::ReadFailure { lba } = entry.result {
            item["lba"] = json!(lba);
        }
        entries.push(item);
    }
    let failed = drive
        .self_test_log
        .iter()
        .filter(|e| matches!(e.result, TestResult::ReadFailure { .. }))
        .count();
    document["ata_smart_self_test_log"] = if entries.is_empty() {
        json!({"standard": {"revision": 1, "count": 0}})
    } else {
        json!({"standard": {"revision": 1, "table": entries, "count": entries.len(), "error_count_total": failed, "error_count_outdated": 0}})
    };
}

fn ata_type(kind: TestKind) -> Value {
    match kind {
        TestKind::Short => json!({"value": 1, "string": "Short offline"}),
        TestKind::Long => json!({"value": 2, "string": "Extended offline"}),
        TestKind::Conveyance => json!({"value": 3, "string": "Conveyance offline"}),
    }
}

fn scsi(
    document: &mut Value,
    drive: &DriveSim,
    now: SimTime,
    exit: &mut u32,
    text: &mut Vec<String>,
) {
    let mut words = drive.spec.model.splitn(2, ' ');
    let (vendor, product) = match (words.next(), words.next()) {
        (Some(vendor), Some(product)) => (vendor.to_owned(), product.to_owned()),
        (Some(product), None) => ("SEAGATE".to_owned(), product.to_owned()),
        _ => ("SEAGATE".to_owned(), "UNKNOWN".to_owned()),
    };
    document["scsi_vendor"] = json!(vendor);
    document["scsi_product"] = json!(product);
    document["scsi_model_name"] = json!(drive.spec.model);
    document["model_name"] = json!(drive.spec.model);
    document["logical_unit_id"] = json!(format!("0x{}", drive.wwn));
    document["rotation_rate"] = json!(drive.spec.rotation_rpm);
    document["physical_block_size"] = json!(drive.spec.physical_sector_bytes);
    document["temperature"]["drive_trip"] = json!(65);
    document["scsi_grown_defect_list"] = json!(drive.counters.sas_grown_defects as u64);
    let uncorrected = drive.counters.sas_uncorrected_reads as u64;
    document["scsi_error_counter_log"]["read"]["total_uncorrected_errors"] = json!(uncorrected);
    if uncorrected > 0 {
        *exit |= bits::ERROR_LOG;
    }
    let mut index = 0;
    if let Some(run) = &drive.self_test {
        let remaining = ((1.0 - run.fraction(now)) * 100.0).round().clamp(0.0, 100.0) as u64;
        document[format!("scsi_self_test_{index}")] = json!({
            "code": scsi_code(run.kind), "result": {"value": 15, "string": "Self test in progress ..."},
            "failed_segment": {"value": 0, "aka": "self_test_number"}, "self_test_in_progress": true
        });
        index += 1;
        // smartctl 7.4 has the percentage only as text (scsiprint.cpp line 1104).
        text.push(format!("Self-test execution status:\t\t{remaining}% of test remaining"));
    }
    for entry in &drive.self_test_log {
        let result = match entry.result {
            TestResult::Passed => json!({"value": 0, "string": "Completed"}),
            TestResult::AbortedByHost => json!({"value": 1, "string": "Aborted (by user command)"}),
            TestResult::ReadFailure { .. } => {
                json!({"value": 7, "string": "Failed in segment --> 7"})
            }
        };
        let mut item = json!({
            "code": scsi_code(entry.kind), "result": result,
            "failed_segment": {"value": 0, "aka": "self_test_number"},
            "power_on_time": {"hours": entry.power_on_hours, "aka": "accumulated_power_on_hours"}
        });
        if let TestResult::ReadFailure { lba } = entry.result {
            item["lba_first_failure"] = json!({"value": lba, "aka": "lba_of_first_failure"});
        }
        document[format!("scsi_self_test_{index}")] = item;
        index += 1;
        if index >= 20 {
            break;
        }
    }
    if index > 0 {
        document["scsi_extended_self_test_seconds"] =
            json!(drive.test_duration(TestKind::Long) as u64);
    }
}

fn scsi_code(kind: TestKind) -> Value {
    match kind {
        TestKind::Short => json!({"value": 1, "string": "Background short"}),
        _ => json!({"value": 2, "string": "Background long"}),
    }
}

fn nvme(document: &mut Value, drive: &DriveSim, now: SimTime, exit: &mut u32) {
    document["model_name"] = json!(drive.spec.model);
    document["nvme_total_capacity"] = json!(drive.spec.size_bytes);
    let media_errors = drive.counters.nvme_media_errors as u64;
    let critical = u64::from(media_errors >= 1000) * 4;
    let log = &mut document["nvme_smart_health_information_log"];
    log["temperature"] = json!(drive.temperature());
    log["power_on_hours"] = json!(drive.power_on_hours());
    log["power_cycles"] = json!(drive.power_cycles);
    log["media_errors"] = json!(media_errors);
    log["critical_warning"] = json!(critical);
    log["available_spare"] = json!(100);
    log["available_spare_threshold"] = json!(10);
    if media_errors > 0 {
        log["num_err_log_entries"] = json!(media_errors);
        *exit |= bits::ERROR_LOG;
    }
    document["smart_status"]["nvme"] = json!({"value": critical});
    let mut table = Vec::new();
    for entry in &drive.self_test_log {
        let result = match entry.result {
            TestResult::Passed => json!({"value": 0, "string": "Completed without error"}),
            TestResult::AbortedByHost => {
                json!({"value": 1, "string": "Aborted: Self-test command"})
            }
            TestResult::ReadFailure { .. } => {
                json!({"value": 7, "string": "Completed: failed segments"})
            }
        };
        let code = match entry.kind {
            TestKind::Short => json!({"value": 1, "string": "Short"}),
            _ => json!({"value": 2, "string": "Extended"}),
        };
        table.push(json!({"self_test_code": code, "self_test_result": result, "power_on_hours": entry.power_on_hours}));
    }
    let mut self_test_log =
        json!({"current_self_test_operation": {"value": 0, "string": "No self-test in progress"}});
    if let Some(run) = &drive.self_test {
        let (value, name) = match run.kind {
            TestKind::Short => (1, "Short self-test in progress"),
            _ => (2, "Extended self-test in progress"),
        };
        self_test_log["current_self_test_operation"] = json!({"value": value, "string": name});
        // Percent COMPLETED, unlike ATA's remaining (nvmeprint.cpp; reference §5.4).
        self_test_log["current_self_test_completion_percent"] =
            json!((run.fraction(now) * 100.0).floor() as u64);
    }
    if !table.is_empty() {
        self_test_log["table"] = Value::Array(table);
    }
    document["nvme_self_test_log"] = self_test_log;
}
