//! `smartctl -x` for a SAS drive, as `scsiprint.cpp` (RELEASE_7_4) prints it: INQUIRY identity,
//! the informational-exceptions health check, temperatures, grown defects, error counters and
//! the self-test log. smartctl 7.4 reports a running test's progress only as text (the
//! "Self-test execution status" line); its JSON has no percentage.

use serde_json::{Value, json};

use super::{
    Answer, Invocation,
    ata_attributes::REALLOCATED_FAILURE,
    bits, capture,
    text::{self, Lines},
};
use crate::drive::{DriveSim, TestKind, TestResult};

/// The drive's trip temperature (`temperature.drive_trip`), as in the capture.
const DRIVE_TRIP: i64 = 68;

/// Percent of the running test still to do, as smartctl computes it from REQUEST SENSE's
/// progress indication (`100 - progress * 100 / 65535`).
pub(super) fn remaining_percent(done: f64) -> u64 {
    let progress = (done.clamp(0.0, 1.0) * 65_535.0) as u64;
    100 - progress * 100 / 65_535
}

pub(super) fn failing(drive: &DriveSim) -> bool {
    drive.reallocated() > REALLOCATED_FAILURE
        || drive.counters.sas_grown_defects.max(0.0) as u64 > REALLOCATED_FAILURE
}

fn code(kind: TestKind) -> (u8, &'static str) {
    match kind {
        TestKind::Short => (1, "Background short"),
        TestKind::Long | TestKind::Conveyance => (2, "Background long"),
    }
}

/// Gigabytes moved in one direction: a workload before the scenario began plus the tests'.
fn gigabytes(drive: &DriveSim, per_hour_before: f64, share_of_load: f64) -> f64 {
    let before = drive.spec.power_on_hours as f64 * per_hour_before;
    let load = drive.load_seconds.max(0.0) * drive.spec.throughput_mb_s.max(0.0) / 1000.0;
    (before + load * share_of_load).max(0.0)
}

pub(super) fn report(drive: &DriveSim, inv: &Invocation<'_>) -> Answer {
    let mut doc = capture::base(drive);
    let mut lines = Lines::default();
    let mut status = 0;
    let spec = &drive.spec;
    let (vendor, product) = capture::scsi_vendor_product(&spec.model);
    let revision = capture::firmware(drive);
    let physical = u64::from(spec.physical_sector_bytes.max(512));
    let temperature = drive.temperature();
    let hours = drive.power_on_hours();
    let minutes = ((drive.power_on_seconds.max(0.0) % 3600.0) / 60.0) as u64;

    doc["scsi_vendor"] = json!(vendor);
    doc["scsi_product"] = json!(product);
    doc["scsi_model_name"] = json!(format!(
        "{vendor}{}{product}",
        if vendor.is_empty() || product.is_empty() { "" } else { " " }
    ));
    doc["scsi_revision"] = json!(revision);
    doc["scsi_version"] = json!("SPC-4");
    doc["user_capacity"] = json!({"blocks": spec.size_bytes / 512, "bytes": spec.size_bytes});
    doc["logical_block_size"] = json!(512);
    if physical > 512 {
        doc["physical_block_size"] = json!(physical);
    }
    doc["rotation_rate"] = json!(spec.rotation_rpm);
    doc["form_factor"] = json!({"scsi_value": 2, "name": "3.5 inches"});
    doc["logical_unit_id"] = json!(format!("0x{}", drive.wwn));
    doc["serial_number"] = json!(spec.serial);
    doc["device_type"] = json!({"scsi_terminology": "Peripheral Device Type [PDT]", "scsi_value": 0, "name": "disk"});
    doc["scsi_transport_protocol"] = json!({"name": "SAS (SPL-4)", "value": 6});
    doc["smart_support"] = json!({"available": true, "enabled": true});
    doc["temperature_warning"] = json!({"enabled": true});

    lines.line("=== START OF INFORMATION SECTION ===");
    lines.line(format!("Vendor:               {vendor}"));
    lines.line(format!("Product:              {product}"));
    lines.line(format!("Revision:             {revision}"));
    lines.line("Compliance:           SPC-4");
    lines.line(format!("User Capacity:        {}", text::bytes_with_capacity(spec.size_bytes)));
    lines.line("Logical block size:   512 bytes");
    if physical > 512 {
        lines.line(format!("Physical block size:  {physical} bytes"));
    }
    lines.line(if spec.rotation_rpm == 0 {
        "Rotation Rate:        Solid State Device".to_owned()
    } else {
        format!("Rotation Rate:        {} rpm", spec.rotation_rpm)
    });
    lines.line("Form Factor:          3.5 inches");
    lines.line(format!("Logical Unit id:      0x{}", drive.wwn));
    lines.line(format!("Serial number:        {}", spec.serial));
    lines.line("Device type:          disk");
    lines.line("Transport protocol:   SAS (SPL-4)");
    lines.line(format!("Local Time is:        {}", text::asctime(inv.wall)));
    lines.line("SMART support is:     Available - device has SMART capability.");
    lines.line("SMART support is:     Enabled");
    lines.line("Temperature Warning:  Enabled");
    lines.blank();

    // Health from the informational exceptions page (`scsiGetSmartData`).
    lines.line("=== START OF READ SMART DATA SECTION ===");
    if failing(drive) {
        let ie = "Media failure prediction threshold exceeded";
        doc["smart_status"] =
            json!({"passed": false, "scsi": {"asc": 0x5d, "ascq": 1, "ie_string": ie}});
        lines.line(format!("SMART Health Status: {ie} [asc=5d, ascq=1]"));
        status |= bits::FAILING;
    } else {
        doc["smart_status"] = json!({"passed": true});
        lines.line("SMART Health Status: OK");
    }
    lines.blank();
    doc["temperature"] = json!({"current": temperature, "drive_trip": DRIVE_TRIP});
    lines.line(format!("Current Drive Temperature:     {temperature} C"));
    lines.line(format!("Drive Trip Temperature:        {DRIVE_TRIP} C"));
    lines.blank();

    doc["power_on_time"] = json!({"hours": hours, "minutes": minutes});
    lines.line(format!("Accumulated power on time, hours:minutes {hours}:{minutes:02}"));
    let cycles = drive.power_cycles;
    let load_cycles = cycles.saturating_mul(9);
    doc["scsi_start_stop_cycle_counter"] = json!({
        "year_of_manufacture": "2019", "week_of_manufacture": "12",
        "specified_cycle_count_over_device_lifetime": 50_000,
        "accumulated_start_stop_cycles": cycles,
        "specified_load_unload_count_over_device_lifetime": 600_000,
        "accumulated_load_unload_cycles": load_cycles,
    });
    lines.line("Manufactured in week 12 of year 2019");
    lines.line("Specified cycle count over device lifetime:  50000");
    lines.line(format!("Accumulated start-stop cycles:  {cycles}"));
    lines.line("Specified load-unload count over device lifetime:  600000");
    lines.line(format!("Accumulated load-unload cycles:  {load_cycles}"));

    let defects = drive.counters.sas_grown_defects.max(0.0) as u64;
    doc["scsi_grown_defect_list"] = json!(defects);
    lines.line(format!("Elements in grown defect list: {defects}"));
    lines.blank();

    error_counters(&mut doc, drive, &mut lines);
    status |= self_tests(&mut doc, drive, inv, &mut lines);
    Answer { doc, lines, errors: Vec::new(), status: status as i32 }
}

/// `scsiPrintErrorCounterLog`: read, write and verify counters; `gigabytes_processed` is a
/// string in the JSON.
fn error_counters(doc: &mut Value, drive: &DriveSim, lines: &mut Lines) {
    let uncorrected = drive.counters.sas_uncorrected_reads.max(0.0) as u64;
    let directions = [
        ("read", "read:   ", gigabytes(drive, 18.0, 1.0), uncorrected),
        ("write", "write:  ", gigabytes(drive, 9.0, 0.5), 0),
        ("verify", "verify: ", gigabytes(drive, 0.05, 0.0), 0),
    ];
    lines.line("Error counter log:");
    lines
        .line("           Errors Corrected by           Total   Correction     Gigabytes    Total");
    lines.line(
        "               ECC          rereads/    errors   algorithm      processed    uncorrected",
    );
    lines.line(
        "           fast | delayed   rewrites  corrected  invocations   [10^9 bytes]  errors",
    );
    let mut log = serde_json::Map::new();
    for (key, label, gigabytes, uncorrected) in directions {
        // Corrected errors grow with the data moved, as ECC on real media does.
        let fast = (gigabytes * 3.0) as u64;
        let delayed = (gigabytes / 500.0) as u64;
        let total = fast + delayed;
        let invocations = total;
        log.insert(
            key.to_owned(),
            json!({
                "errors_corrected_by_eccfast": fast,
                "errors_corrected_by_eccdelayed": delayed,
                "errors_corrected_by_rereads_rewrites": 0,
                "total_errors_corrected": total,
                "correction_algorithm_invocations": invocations,
                "gigabytes_processed": format!("{gigabytes:.3}"),
                "total_uncorrected_errors": uncorrected,
            }),
        );
        lines.line(format!(
            "{label}{fast:8} {delayed:8}  {:8}  {total:8}   {invocations:8}   {gigabytes:12.3}    {uncorrected:8}",
            0
        ));
    }
    doc["scsi_error_counter_log"] = Value::Object(log);
    lines.blank();
    lines.line("Non-medium error count:        0");
    lines.blank();
}

/// `scsiPrintSelfTest`: the live progress line (text only in 7.4), then up to 20 log entries
/// as `scsi_self_test_N`. Returns exit bits for failed tests.
fn self_tests(doc: &mut Value, drive: &DriveSim, inv: &Invocation<'_>, lines: &mut Lines) -> u32 {
    let mut status = 0;
    if let Some(run) = &drive.self_test {
        lines.line(format!(
            "Self-test execution status:\t\t{}% of test remaining",
            remaining_percent(run.fraction(inv.now))
        ));
    }
    let running = drive.self_test.as_ref().map(|run| (run.kind, None, 0));
    let logged = drive
        .self_test_log
        .iter()
        .map(|entry| (entry.kind, Some(entry.result), entry.power_on_hours % 65_536));
    let entries: Vec<_> = running.into_iter().chain(logged).take(20).collect();
    if entries.is_empty() {
        lines.line("No Self-tests have been logged");
        lines.blank();
        return 0;
    }
    lines.line("SMART Self-test log");
    lines.line("Num  Test              Status                 segment  LifeTime  LBA_first_err [SK ASC ASQ]");
    lines.line("     Description                              number   (hours)");
    for (index, (kind, result, hours)) in entries.into_iter().enumerate() {
        let (code_value, code_string) = code(kind);
        let (result_value, result_string, result_text): (u8, &str, &str) = match result {
            None => (15, "Self test in progress ...", "Self test in progress ..."),
            Some(TestResult::Passed) => (0, "Completed", "Completed                "),
            Some(TestResult::AbortedByHost) => {
                (1, "Aborted (by user command)", "Aborted (by user command)")
            }
            Some(TestResult::ReadFailure { .. }) => {
                (7, "Failed in segment", "Failed in segment -->    ")
            }
        };
        let mut entry = json!({
            "code": {"value": code_value, "string": code_string},
            "result": {"value": result_value, "string": result_string},
        });
        let segment = if result_value == 7 {
            entry["failed_segment"] = json!({"value": 3, "aka": "self_test_number"});
            status |= bits::SELF_TEST_ERRORS;
            "   3".to_owned()
        } else {
            "   -".to_owned()
        };
        let when = if result.is_none() {
            entry["self_test_in_progress"] = json!(true);
            "     NOW".to_owned()
        } else {
            entry["power_on_time"] = json!({"hours": hours, "aka": "accumulated_power_on_hours"});
            format!("   {hours:5}")
        };
        let (lba, sense) = match result {
            Some(TestResult::ReadFailure { lba }) => {
                entry["lba_first_failure"] =
                    json!({"value": lba, "aka": "address_of_first_failure"});
                entry["sense_key"] = json!({"value": 3, "string": "Medium Error"});
                entry["asc"] = json!(0x11);
                entry["ascq"] = json!(0);
                entry["vendor_specific"] = json!(0);
                (format!("{lba:>18}"), " [0x3 0x11 0x0]")
            }
            _ => (format!("{:>18}", "-"), " [-   -    -]"),
        };
        doc[format!("scsi_self_test_{index}")] = entry;
        lines.line(format!(
            "#{:2}  {code_string:<16}  {result_text}{segment}{when}{lba}{sense}",
            index + 1
        ));
    }
    let seconds = drive.test_duration(TestKind::Long).max(0.0) as u64;
    doc["scsi_extended_self_test_seconds"] = json!(seconds);
    lines.blank();
    lines.line(if seconds > 14_400 {
        format!(
            "Long (extended) Self-test duration: {seconds} seconds [{:.1} hours]",
            seconds as f64 / 3600.0
        )
    } else {
        format!(
            "Long (extended) Self-test duration: {seconds} seconds [{:.1} minutes]",
            seconds as f64 / 60.0
        )
    });
    lines.blank();
    status
}
