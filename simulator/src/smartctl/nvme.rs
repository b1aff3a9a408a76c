//! `smartctl -x` for an NVMe drive, as `nvmeprint.cpp` (RELEASE_7_4) prints it: controller and
//! namespace identity, the critical-warning health check, the SMART/Health log, the error
//! information log summary and the self-test log (new in 7.4). smartctl 7.4 sets no exit bits
//! for NVMe error-log entries or failed self-tests, only for a critical warning.

use serde_json::{Value, json};

use super::{
    Answer, Invocation, bits, capture,
    text::{self, Lines},
};
use crate::drive::{DriveSim, TestKind, TestResult};

/// Media errors at which the simulated controller declares its reliability degraded.
const MEDIA_ERRORS_DEGRADED: u64 = 1000;
/// The composite temperature warning threshold (WCTEMP) of a typical consumer controller.
const WARNING_TEMPERATURE: i64 = 85;

/// Percent of the running test done, as the controller reports it in the self-test log.
pub(super) fn completion_percent(done: f64) -> u64 {
    (done.clamp(0.0, 1.0) * 100.0).floor() as u64
}

/// The critical-warning byte: bit 1 temperature, bit 2 reliability degraded.
pub(super) fn critical_warning(drive: &DriveSim) -> u8 {
    let mut warning = 0;
    if drive.temperature() >= WARNING_TEMPERATURE {
        warning |= 0x02;
    }
    if drive.counters.nvme_media_errors.max(0.0) as u64 >= MEDIA_ERRORS_DEGRADED {
        warning |= 0x04;
    }
    warning
}

fn operation(kind: TestKind) -> (u8, &'static str, &'static str) {
    match kind {
        TestKind::Short => (1, "Short", "Short self-test in progress"),
        TestKind::Long | TestKind::Conveyance => (2, "Extended", "Extended self-test in progress"),
    }
}

pub(super) fn report(drive: &DriveSim, inv: &Invocation<'_>) -> Answer {
    let mut doc = capture::base(drive);
    let mut lines = Lines::default();
    let mut status = 0;
    let spec = &drive.spec;
    let firmware = capture::firmware(drive);
    if let Some((pci, oui)) = capture::nvme_ids(capture::vendor(&spec.model)) {
        doc["nvme_pci_vendor"] = json!({"id": pci, "subsystem_id": pci});
        doc["nvme_ieee_oui_identifier"] = json!(oui);
    }
    let pci = doc["nvme_pci_vendor"]["id"].as_u64().unwrap_or(0);
    let oui = doc["nvme_ieee_oui_identifier"].as_u64().unwrap_or(0);
    let ext_id = u64::from_str_radix(drive.wwn.get(6..16).unwrap_or("0"), 16).unwrap_or(0);
    let blocks = spec.size_bytes / 512;
    let sizes = json!({"blocks": blocks, "bytes": spec.size_bytes});
    doc["model_name"] = json!(spec.model);
    doc["serial_number"] = json!(spec.serial);
    doc["firmware_version"] = json!(firmware);
    doc["nvme_total_capacity"] = json!(spec.size_bytes);
    doc["nvme_unallocated_capacity"] = json!(0);
    doc["nvme_number_of_namespaces"] = json!(1);
    doc["nvme_namespaces"] = json!([{
        "id": 1, "size": sizes, "capacity": sizes, "utilization": sizes,
        "formatted_lba_size": 512, "eui64": {"oui": oui, "ext_id": ext_id},
    }]);
    doc["user_capacity"] = sizes;
    doc["logical_block_size"] = json!(512);
    doc["smart_support"] = json!({"available": true, "enabled": true});

    let capacity =
        format!("{} [{}]", text::thousands(spec.size_bytes), text::capacity(spec.size_bytes));
    lines.line("=== START OF INFORMATION SECTION ===");
    lines.line(format!("Model Number:                       {}", spec.model));
    lines.line(format!("Serial Number:                      {}", spec.serial));
    lines.line(format!("Firmware Version:                   {firmware}"));
    lines.line(format!("PCI Vendor/Subsystem ID:            0x{pci:04x}"));
    lines.line(format!("IEEE OUI Identifier:                0x{oui:06x}"));
    lines.line(format!("Total NVM Capacity:                 {capacity}"));
    lines.line("Unallocated NVM Capacity:           0");
    lines.line(format!(
        "NVMe Version:                       {}",
        doc["nvme_version"]["string"].as_str().unwrap_or("1.3")
    ));
    lines.line("Number of Namespaces:               1");
    lines.line(format!("Namespace 1 Size/Capacity:          {capacity}"));
    lines.line("Namespace 1 Formatted LBA Size:     512");
    lines.line(format!("Namespace 1 IEEE EUI-64:            {oui:06x} {ext_id:010x}"));
    lines.line(format!("Local Time is:                      {}", text::asctime(inv.wall)));
    lines.blank();

    // Health (`print_critical_warning`).
    lines.line("=== START OF SMART DATA SECTION ===");
    let warning = critical_warning(drive);
    let mut nvme_status = json!({"value": warning});
    if warning != 0 {
        for (bit, key) in [
            (0x01, "spare_below_threshold"),
            (0x02, "temperature_above_or_below_threshold"),
            (0x04, "reliability_degraded"),
            (0x08, "media_read_only"),
            (0x10, "volatile_memory_backup_failed"),
            (0x20, "persistent_memory_region_unreliable"),
        ] {
            nvme_status[key] = json!(warning & bit != 0);
        }
        nvme_status["other"] = json!(warning & !0x3f);
        status |= bits::FAILING;
    }
    doc["smart_status"] = json!({"passed": warning == 0, "nvme": nvme_status});
    lines.line(format!(
        "SMART overall-health self-assessment test result: {}",
        if warning == 0 { "PASSED" } else { "FAILED!" }
    ));
    if warning & 0x02 != 0 {
        lines.line("- temperature is above or below threshold");
    }
    if warning & 0x04 != 0 {
        lines.line("- NVM subsystem reliability has been degraded");
    }
    lines.blank();

    health_log(&mut doc, drive, warning, &mut lines);
    self_test_log(&mut doc, drive, inv, &mut lines);
    Answer { doc, lines, errors: Vec::new(), status: status as i32 }
}

/// `print_smart_log` and the error information log summary.
fn health_log(doc: &mut Value, drive: &DriveSim, warning: u8, lines: &mut Lines) {
    let temperature = drive.temperature();
    let hours = drive.power_on_hours();
    let media_errors = drive.counters.nvme_media_errors.max(0.0) as u64;
    // Data units are thousands of 512-byte blocks: a light workload before the scenario began
    // plus what the tests read.
    let before = drive.spec.power_on_hours as f64;
    let tested = drive.load_seconds.max(0.0) * drive.spec.throughput_mb_s.max(0.0) * 1e6;
    let units_read = ((before * 4e9 + tested) / 512_000.0) as u64;
    let units_written = ((before * 3e9 + tested / 2.0) / 512_000.0) as u64;
    let log = json!({
        "critical_warning": warning,
        "temperature": temperature,
        "available_spare": 100,
        "available_spare_threshold": 10,
        "percentage_used": (units_written / 5_000_000).min(255),
        "data_units_read": units_read,
        "data_units_written": units_written,
        "host_reads": units_read.saturating_mul(8),
        "host_writes": units_written.saturating_mul(6),
        "controller_busy_time": (drive.load_seconds.max(0.0) / 60.0) as u64 + hours / 20,
        "power_cycles": drive.power_cycles,
        "power_on_hours": hours,
        "unsafe_shutdowns": drive.power_cycles / 20,
        "media_errors": media_errors,
        "num_err_log_entries": media_errors,
        "warning_temp_time": 0,
        "critical_comp_time": 0,
        "temperature_sensors": [temperature, temperature.saturating_add(4)],
    });
    let field = |key: &str| log[key].as_u64().unwrap_or(0);
    let units = |key: &str| {
        let value = field(key);
        if value == 0 {
            "0".to_owned()
        } else {
            format!(
                "{} [{}]",
                text::thousands(value),
                text::capacity(value.saturating_mul(512_000))
            )
        }
    };
    lines.line("SMART/Health Information (NVMe Log 0x02)");
    lines.line(format!("Critical Warning:                   0x{warning:02x}"));
    lines.line(format!("Temperature:                        {temperature} Celsius"));
    lines.line("Available Spare:                    100%");
    lines.line("Available Spare Threshold:          10%");
    lines.line(format!("Percentage Used:                    {}%", field("percentage_used")));
    lines.line(format!("Data Units Read:                    {}", units("data_units_read")));
    lines.line(format!("Data Units Written:                 {}", units("data_units_written")));
    for (label, key) in [
        ("Host Read Commands:                 ", "host_reads"),
        ("Host Write Commands:                ", "host_writes"),
        ("Controller Busy Time:               ", "controller_busy_time"),
        ("Power Cycles:                       ", "power_cycles"),
        ("Power On Hours:                     ", "power_on_hours"),
        ("Unsafe Shutdowns:                   ", "unsafe_shutdowns"),
        ("Media and Data Integrity Errors:    ", "media_errors"),
        ("Error Information Log Entries:      ", "num_err_log_entries"),
    ] {
        lines.line(format!("{label}{}", text::thousands(field(key))));
    }
    lines.line("Warning  Comp. Temperature Time:    0");
    lines.line("Critical Comp. Temperature Time:    0");
    lines.line(format!("Temperature Sensor 1:               {temperature} Celsius"));
    lines.line(format!(
        "Temperature Sensor 2:               {} Celsius",
        temperature.saturating_add(4)
    ));
    lines.blank();
    doc["nvme_smart_health_information_log"] = log;
    doc["temperature"] = json!({"current": temperature});
    doc["power_cycle_count"] = json!(drive.power_cycles);
    doc["power_on_time"] = json!({"hours": hours});

    doc["nvme_error_information_log"] = json!({"size": 64, "read": 16, "unread": 0});
    lines.line("Error Information (NVMe Log 0x01, 16 of 64 entries)");
    lines.line("No Errors Logged");
    lines.blank();
}

/// `print_self_test_log`: the running operation with its percent COMPLETED, and the results,
/// newest in slot 0.
fn self_test_log(doc: &mut Value, drive: &DriveSim, inv: &Invocation<'_>, lines: &mut Lines) {
    lines.line("Self-test Log (NVMe Log 0x06)");
    let mut log = match &drive.self_test {
        Some(run) => {
            let (value, _, string) = operation(run.kind);
            let percent = completion_percent(run.fraction(inv.now));
            lines.line(format!("Self-test status: {string} ({percent}% completed)"));
            json!({
                "current_self_test_operation": {"value": value, "string": string},
                "current_self_test_completion_percent": percent,
            })
        }
        None => {
            lines.line("Self-test status: No self-test in progress");
            json!({"current_self_test_operation": {"value": 0, "string": "No self-test in progress"}})
        }
    };
    let mut table = Vec::new();
    for (slot, entry) in drive.self_test_log.iter().take(20).enumerate() {
        let (code, code_string, _) = operation(entry.kind);
        let (result, result_string) = match entry.result {
            TestResult::Passed => (0, "Completed without error"),
            TestResult::AbortedByHost => (1, "Aborted: Self-test command"),
            TestResult::ReadFailure { .. } => (7, "Completed: failed segments"),
        };
        let mut row = json!({
            "self_test_code": {"value": code, "string": code_string},
            "self_test_result": {"value": result, "string": result_string},
            "power_on_hours": entry.power_on_hours,
        });
        let (mut lba_text, mut nsid_text, mut segment_text) = ("-".to_owned(), "-", "-");
        if let TestResult::ReadFailure { lba } = entry.result {
            // Segment 7 of the extended test is the media check.
            row["segment"] = json!(7);
            row["nsid"] = json!(1);
            row["lba"] = json!(lba);
            lba_text = lba.to_string();
            nsid_text = "1";
            segment_text = "7";
        }
        if table.is_empty() {
            lines.line("Num  Test_Description  Status                       Power_on_Hours  Failing_LBA  NSID Seg SCT Code");
        }
        lines.line(format!(
            "{slot:2}   {code_string:<17} {result_string:<33} {:9} {lba_text:>12} {nsid_text:>5} {segment_text:>3} {:>3} {:>4}",
            entry.power_on_hours, "-", "-"
        ));
        table.push(row);
    }
    if table.is_empty() {
        lines.line("No Self-tests Logged");
    } else {
        log["table"] = Value::Array(table);
    }
    lines.blank();
    doc["nvme_self_test_log"] = log;
}
