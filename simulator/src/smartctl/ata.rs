//! `smartctl -x` for an ATA drive: identity, health, attributes, self-test status, polling
//! times, error log and self-test log, as `ataprint.cpp` (RELEASE_7_4) prints them.

use serde_json::{Value, json};

use super::{
    Answer, Invocation, ata_attributes, bits, capture,
    text::{self, Lines},
};
use crate::drive::{DriveSim, TestKind, TestResult};

/// The standard self-test log holds 21 entries.
const LOG_ENTRIES: usize = 21;

/// Tenths of a running test still to do, as the status byte's low nibble holds them (a test
/// that has just started reports 9: "90% remaining").
pub(super) fn remaining_tenths(done: f64) -> u8 {
    ((1.0 - done) * 10.0).ceil().clamp(0.0, 9.0) as u8
}

pub(super) fn polling_minutes(drive: &DriveSim, kind: TestKind) -> u64 {
    (drive.test_duration(kind) / 60.0).ceil().max(1.0) as u64
}

pub(super) fn supports_conveyance(drive: &DriveSim) -> bool {
    !drive.is_ssd()
}

/// The status byte a finished test leaves (high nibble result, low nibble tenths remaining).
fn logged_status(drive: &DriveSim, result: TestResult) -> u8 {
    match result {
        TestResult::Passed => 0x00,
        TestResult::AbortedByHost => 0x10,
        TestResult::ReadFailure { lba } => {
            let size = drive.spec.size_bytes.max(1) as f64;
            0x70 | remaining_tenths((lba as f64 * 512.0 / size).clamp(0.0, 1.0))
        }
    }
}

fn type_json(kind: TestKind) -> Value {
    match kind {
        TestKind::Short => json!({"value": 1, "string": "Short offline"}),
        TestKind::Long => json!({"value": 2, "string": "Extended offline"}),
        TestKind::Conveyance => json!({"value": 3, "string": "Conveyance offline"}),
    }
}

/// `ata_smart_data.self_test.status` (`PrintSmartSelfExecStatus`).
fn status_json(status: u8) -> Value {
    let string = match status >> 4 {
        0x0 => "completed without error",
        0x1 => "was aborted by the host",
        0x2 => "was interrupted by the host with a reset",
        0x3 => "could not complete due to a fatal or unknown error",
        0x4 => "completed with error (unknown test element)",
        0x5 => "completed with error (electrical test element)",
        0x6 => "completed with error (servo/seek test element)",
        0x7 => "completed with error (read test element)",
        0x8 => "completed with error (handling damage?)",
        0xf => {
            let tenths = status & 0xf;
            return json!({"value": status, "string": format!("in progress, {tenths}0% remaining"), "remaining_percent": u32::from(tenths) * 10});
        }
        _ => return json!({"value": status}),
    };
    let mut value = json!({"value": status, "string": string});
    if !matches!(status >> 4, 0x1..=0x3) {
        value["passed"] = json!(status >> 4 == 0);
    }
    value
}

fn status_text(status: u8) -> String {
    let body = match status >> 4 {
        0x0 => "The previous self-test routine completed\n\t\t\t\t\twithout error or no self-test has ever \n\t\t\t\t\tbeen run.".to_owned(),
        0x1 => "The self-test routine was aborted by\n\t\t\t\t\tthe host.".to_owned(),
        0x7 => "The previous self-test completed having\n\t\t\t\t\tthe read element of the test failed.".to_owned(),
        0xf => format!("Self-test routine in progress...\n\t\t\t\t\t{}0% of test remaining.", status & 0xf),
        _ => "Reserved.".to_owned(),
    };
    format!("Self-test execution status:      ({status:4})\t{body}")
}

/// One self-test log row (`ataPrintSmartSelfTestEntry`); `failed` is set for results 3–8.
struct LogRow {
    kind: TestKind,
    status: u8,
    hours: u64,
    lba: Option<u64>,
}

impl LogRow {
    fn failed(&self) -> bool {
        matches!(self.status >> 4, 0x3..=0x8)
    }

    fn status_string(&self) -> &'static str {
        match self.status >> 4 {
            0x0 => "Completed without error",
            0x1 => "Aborted by host",
            0x2 => "Interrupted (host reset)",
            0x7 => "Completed: read failure",
            0xf => "Self-test routine in progress",
            _ => "Fatal or unknown error",
        }
    }

    fn json(&self) -> Value {
        let mut status = json!({"value": self.status, "string": self.status_string()});
        if self.status & 0xf != 0 {
            status["remaining_percent"] = json!(u32::from(self.status & 0xf) * 10);
        }
        if !matches!(self.status >> 4, 0x1..=0x3) {
            status["passed"] = json!(!self.failed());
        }
        let mut row =
            json!({"type": type_json(self.kind), "status": status, "lifetime_hours": self.hours});
        if let Some(lba) = self.lba.filter(|_| self.failed()) {
            row["lba"] = json!(lba);
        }
        row
    }

    fn text(&self, number: usize) -> String {
        let kind = type_json(self.kind);
        let lba = self.lba.filter(|_| self.failed()).map_or("-".to_owned(), |l| l.to_string());
        format!(
            "#{number:2}  {:<19} {:<29} {}0%  {:8}         {lba}",
            kind["string"].as_str().unwrap_or(""),
            self.status_string(),
            self.status & 0xf,
            self.hours
        )
    }
}

fn log_rows(drive: &DriveSim, inv: &Invocation<'_>) -> Vec<LogRow> {
    // The log's timestamps are 16-bit power-on hours.
    let stamp = |hours: u64| hours % 65_536;
    let running = drive.self_test.as_ref().map(|run| LogRow {
        kind: run.kind,
        status: 0xf0 | remaining_tenths(run.fraction(inv.now)),
        hours: stamp(drive.power_on_hours()),
        lba: None,
    });
    let logged = drive.self_test_log.iter().map(|entry| LogRow {
        kind: entry.kind,
        status: logged_status(drive, entry.result),
        hours: stamp(entry.power_on_hours),
        lba: match entry.result {
            TestResult::ReadFailure { lba } => Some(lba),
            _ => None,
        },
    });
    running.into_iter().chain(logged).take(LOG_ENTRIES).collect()
}

pub(super) fn report(drive: &DriveSim, inv: &Invocation<'_>) -> Answer {
    let mut doc = capture::base(drive);
    let family = capture::family(&drive.spec.model);
    let capture_temperature = doc["temperature"]["current"].as_u64();
    let mut lines = Lines::default();
    let mut status = 0;

    // Identity (`print_drive_info`).
    let spec = &drive.spec;
    let firmware = capture::firmware(drive);
    let oui = u64::from_str_radix(drive.wwn.get(1..7).unwrap_or("0"), 16).unwrap_or(0);
    let id = u64::from_str_radix(drive.wwn.get(7..16).unwrap_or("0"), 16).unwrap_or(0);
    let naa = u64::from_str_radix(drive.wwn.get(0..1).unwrap_or("5"), 16).unwrap_or(5);
    let physical = u64::from(spec.physical_sector_bytes.max(512));
    lines.line("=== START OF INFORMATION SECTION ===");
    match family {
        Some(family) => {
            doc["model_family"] = json!(family.name);
            lines.line(format!("Model Family:     {}", family.name));
        }
        None => {
            if let Some(object) = doc.as_object_mut() {
                object.remove("model_family");
            }
        }
    }
    doc["in_smartctl_database"] = json!(family.is_some());
    doc["model_name"] = json!(spec.model);
    doc["serial_number"] = json!(spec.serial);
    doc["wwn"] = json!({"naa": naa, "oui": oui, "id": id});
    doc["firmware_version"] = json!(firmware);
    doc["user_capacity"] = json!({"blocks": spec.size_bytes / 512, "bytes": spec.size_bytes});
    doc["logical_block_size"] = json!(512);
    doc["physical_block_size"] = json!(physical);
    doc["rotation_rate"] = json!(spec.rotation_rpm);
    doc["form_factor"] = if drive.is_ssd() {
        json!({"ata_value": 3, "name": "2.5 inches"})
    } else {
        json!({"ata_value": 2, "name": "3.5 inches"})
    };
    doc["smart_support"] = json!({"available": true, "enabled": true});
    lines.line(format!("Device Model:     {}", spec.model));
    lines.line(format!("Serial Number:    {}", spec.serial));
    lines.line(format!("LU WWN Device Id: {naa:x} {oui:06x} {id:09x}"));
    lines.line(format!("Firmware Version: {firmware}"));
    lines.line(format!("User Capacity:    {}", text::bytes_with_capacity(spec.size_bytes)));
    lines.line(if physical == 512 {
        "Sector Size:      512 bytes logical/physical".to_owned()
    } else {
        format!("Sector Sizes:     512 bytes logical, {physical} bytes physical")
    });
    lines.line(if drive.is_ssd() {
        "Rotation Rate:    Solid State Device".to_owned()
    } else {
        format!("Rotation Rate:    {} rpm", spec.rotation_rpm)
    });
    lines.line(format!("Form Factor:      {}", doc["form_factor"]["name"].as_str().unwrap_or("")));
    lines.line(format!(
        "Device is:        {} smartctl database {}",
        if family.is_some() { "In" } else { "Not in" },
        text::DRIVEDB_VERSION
    ));
    if let Some(version) = doc["ata_version"]["string"].as_str() {
        lines.line(format!("ATA Version is:   {version}"));
    }
    if let Some(version) = doc["sata_version"]["string"].as_str() {
        lines.line(format!("SATA Version is:  {version}, 6.0 Gb/s (current: 6.0 Gb/s)"));
    }
    lines.line(format!("Local Time is:    {}", text::asctime(inv.wall)));
    lines.line("SMART support is: Available - device has SMART capability.");
    lines.line("SMART support is: Enabled");
    lines.blank();

    // Attributes, and the health verdict the drive derives from them.
    let capture_table =
        doc["ata_smart_attributes"]["table"].as_array().cloned().unwrap_or_default();
    let revision = doc["ata_smart_attributes"]["revision"].as_u64().unwrap_or(10);
    let attributes = ata_attributes::update(capture_table, drive, family, capture_temperature);
    let failing = drive.reallocated() > ata_attributes::REALLOCATED_FAILURE;
    doc["smart_status"] = json!({"passed": !failing});
    lines.line("=== START OF READ SMART DATA SECTION ===");
    if failing {
        lines.line("SMART overall-health self-assessment test result: FAILED!");
        lines.line("Drive failure expected in less than 24 hours. SAVE ALL DATA.");
        if attributes.prefail_failing_now {
            lines.line("See vendor-specific Attribute list for failed Attributes.");
            status |= bits::PREFAIL_AT_THRESHOLD;
        } else {
            lines.line("No failed Attributes found.");
        }
        lines.blank();
        status |= bits::FAILING;
    } else {
        lines.line("SMART overall-health self-assessment test result: PASSED");
        if attributes.marginal {
            lines.line("See vendor-specific Attribute list for marginal Attributes.");
            status |= bits::WAS_AT_THRESHOLD;
        }
        lines.blank();
    }

    // General SMART values: self-test status and polling times.
    let rows = log_rows(drive, inv);
    let exec_status = match &drive.self_test {
        Some(run) => 0xf0 | remaining_tenths(run.fraction(inv.now)),
        None => drive.self_test_log.first().map_or(0, |entry| logged_status(drive, entry.result)),
    };
    let conveyance = supports_conveyance(drive);
    let mut polling = json!({
        "short": polling_minutes(drive, TestKind::Short),
        "extended": polling_minutes(drive, TestKind::Long),
    });
    if conveyance {
        polling["conveyance"] = json!(polling_minutes(drive, TestKind::Conveyance));
    }
    let offline_seconds = if drive.is_ssd() { 0 } else { 567 };
    doc["ata_smart_data"] = json!({
        "offline_data_collection": {
            "status": {"value": 0x82, "string": "was completed without error", "passed": true},
            "completion_seconds": offline_seconds,
        },
        "self_test": {"status": status_json(exec_status), "polling_minutes": polling},
        "capabilities": {
            "values": [if conveyance { 0x7b } else { 0x5b }, 3],
            "exec_offline_immediate_supported": true,
            "offline_is_aborted_upon_new_cmd": false,
            "offline_surface_scan_supported": true,
            "self_tests_supported": true,
            "conveyance_self_test_supported": conveyance,
            "selective_self_test_supported": true,
            "attribute_autosave_enabled": true,
            "error_logging_supported": true,
            "gp_logging_supported": true,
        },
    });
    lines.line("General SMART Values:");
    lines.block("Offline data collection status:  (0x82)\tOffline data collection activity\n\t\t\t\t\twas completed without error.\n\t\t\t\t\tAuto Offline Data Collection: Enabled.");
    lines.block(&status_text(exec_status));
    lines.block(&format!(
        "Total time to complete Offline \ndata collection: \t\t({offline_seconds:5}) seconds."
    ));
    let mut polling_text = |name: &str, minutes: Option<u64>| {
        // Only the short test's heading has a trailing space in ataprint.cpp.
        let space = if name == "Short" { " " } else { "" };
        lines.line(format!("{name} self-test routine{space}"));
        lines.line(match minutes {
            Some(m) => format!("recommended polling time: \t ({m:4}) minutes."),
            None => "recommended polling time: \t        Not Supported.".to_owned(),
        });
    };
    polling_text("Short", Some(polling_minutes(drive, TestKind::Short)));
    polling_text("Extended", Some(polling_minutes(drive, TestKind::Long)));
    polling_text("Conveyance", conveyance.then(|| polling_minutes(drive, TestKind::Conveyance)));
    lines.blank();

    lines.extend(ata_attributes::text(revision, &attributes.table));
    set_globals(&mut doc, drive, &attributes.table);
    doc["ata_smart_attributes"] = json!({"revision": revision, "table": attributes.table});

    // Error log: the capture's, unless its errors happened after the simulated drive's age.
    let errors = error_log(&mut doc, drive, &mut lines);
    if errors > 0 {
        status |= bits::ERROR_LOG;
    }

    // Self-test log (`ataPrintSmartSelfTestlog`): failures count unless a newer extended test
    // passed.
    let mut errors_current = 0;
    let mut errors_outdated = 0;
    let mut newer_extended_ok = false;
    for row in &rows {
        if row.failed() {
            if newer_extended_ok { errors_outdated += 1 } else { errors_current += 1 }
        } else if row.status >> 4 == 0 && row.kind == TestKind::Long {
            newer_extended_ok = true;
        }
    }
    lines.line("SMART Self-test log structure revision number 1");
    doc["ata_smart_self_test_log"] = if rows.is_empty() {
        lines.line("No self-tests have been logged.  [To run self-tests, use: smartctl -t]");
        json!({"standard": {"revision": 1, "count": 0}})
    } else {
        lines.line("Num  Test_Description    Status                  Remaining  LifeTime(hours)  LBA_of_first_error");
        for (index, row) in rows.iter().enumerate() {
            lines.line(row.text(index + 1));
        }
        if errors_outdated > 0 {
            lines.line(format!(
                "{errors_outdated} of {} failed self-tests are outdated by newer successful extended offline self-test",
                errors_outdated + errors_current
            ));
        }
        json!({"standard": {
            "revision": 1,
            "table": rows.iter().map(LogRow::json).collect::<Vec<_>>(),
            "count": rows.len(),
            "error_count_total": errors_current + errors_outdated,
            "error_count_outdated": errors_outdated,
        }})
    };
    lines.blank();
    if errors_current > 0 {
        status |= bits::SELF_TEST_ERRORS;
    }

    Answer { doc, lines, errors: Vec::new(), status: status as i32 }
}

/// `set_json_globals_from_smart_attrib`: temperature, power-on time and power cycles as the
/// attributes say.
fn set_globals(doc: &mut Value, drive: &DriveSim, table: &[Value]) {
    let raw = |id: u64| {
        table
            .iter()
            .find(|row| row["id"].as_u64() == Some(id))
            .and_then(|row| row["raw"]["value"].as_u64())
    };
    let hours = raw(9).map_or(drive.power_on_hours(), |raw| raw & 0xffff_ffff);
    doc["power_on_time"] = json!({"hours": hours});
    if let Some(milliseconds) = raw(9).map(|raw| raw >> 32).filter(|ms| *ms > 0) {
        doc["power_on_time"]["minutes"] = json!(milliseconds / 60_000);
    }
    doc["power_cycle_count"] = json!(raw(12).unwrap_or(drive.power_cycles));
    doc["temperature"] =
        json!({"current": raw(194).map_or(drive.temperature(), |t| (t & 0xff) as i64)});
}

/// Keeps the capture's SMART error log when the simulated drive is old enough to have logged
/// those errors; returns the number of errors reported.
fn error_log(doc: &mut Value, drive: &DriveSim, lines: &mut Lines) -> u64 {
    let summary = doc["ata_smart_error_log"]["summary"].clone();
    let newest = summary["table"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["lifetime_hours"].as_u64())
        .max()
        .unwrap_or(0);
    let count = summary["count"].as_u64().unwrap_or(0);
    lines.line("SMART Error Log Version: 1");
    if count == 0 || newest > drive.power_on_hours() {
        doc["ata_smart_error_log"] = json!({"summary": {"revision": 1, "count": 0}});
        lines.line("No Errors Logged");
        lines.blank();
        return 0;
    }
    lines.line(format!("ATA Error Count: {count}"));
    for entry in summary["table"].as_array().into_iter().flatten() {
        lines.blank();
        lines.line(format!(
            "Error {} occurred at disk power-on lifetime: {} hours",
            entry["error_number"].as_u64().unwrap_or(0),
            entry["lifetime_hours"].as_u64().unwrap_or(0)
        ));
        if let Some(description) = entry["error_description"].as_str() {
            lines.line(format!("  {description}"));
        }
    }
    lines.blank();
    count
}
