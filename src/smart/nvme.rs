//! NVMe: the SMART/health log, the critical-warning bits and the self-test log (7.4+). Shapes
//! from `SMT@RELEASE_7_4:smartmontools/nvmeprint.cpp`, summarised in reference/truenas-api.md
//! §5.4.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Code;
use super::lenient::{at, i64_at, int_at, u64_at};

/// The NVMe sections of a report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmeSmart {
    /// `nvme_smart_health_information_log`.
    pub health_log: Option<NvmeHealthLog>,
    /// `smart_status.nvme`, decoded from its `value` byte.
    pub critical_warning: Option<NvmeCriticalWarning>,
    /// `nvme_self_test_log` (smartctl 7.4+).
    pub self_test_log: Option<NvmeSelfTestLog>,
}

impl NvmeSmart {
    pub(super) fn from_json(root: &Value) -> Option<NvmeSmart> {
        let nvme = NvmeSmart {
            health_log: NvmeHealthLog::from_json(root),
            critical_warning: int_at(root, &["smart_status", "nvme", "value"])
                .map(NvmeCriticalWarning::from_bits),
            self_test_log: NvmeSelfTestLog::from_json(root),
        };
        (nvme != NvmeSmart::default()).then_some(nvme)
    }
}

/// `nvme_smart_health_information_log` (`nvmeprint.cpp` lines 375–434). Counters are 128-bit
/// in the drive; smartctl writes them as JSON numbers, which we read when they fit 64 bits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmeHealthLog {
    /// Critical-warning byte; non-zero means smartctl reports SMART failed.
    pub critical_warning: Option<u8>,
    /// Composite temperature in °C.
    pub temperature: Option<i64>,
    /// Remaining spare capacity, percent.
    pub available_spare: Option<u8>,
    pub available_spare_threshold: Option<u8>,
    /// Vendor estimate of life used, percent; may exceed 100.
    pub percentage_used: Option<u8>,
    /// In units of 1000 × 512 bytes.
    pub data_units_read: Option<u64>,
    /// In units of 1000 × 512 bytes.
    pub data_units_written: Option<u64>,
    pub host_reads: Option<u64>,
    pub host_writes: Option<u64>,
    pub controller_busy_time: Option<u64>,
    pub power_cycles: Option<u64>,
    pub power_on_hours: Option<u64>,
    pub unsafe_shutdowns: Option<u64>,
    /// Media and data integrity errors: unrecovered data.
    pub media_errors: Option<u64>,
    /// Error-log entries; thousands of harmless "Invalid Field in Command" are common
    /// (reference/anchors.md gotcha 21).
    pub num_err_log_entries: Option<u64>,
    /// Minutes above the warning composite temperature.
    pub warning_temp_time: Option<u64>,
    /// Minutes above the critical composite temperature.
    pub critical_comp_time: Option<u64>,
}

impl NvmeHealthLog {
    fn from_json(root: &Value) -> Option<NvmeHealthLog> {
        let log = at(root, &["nvme_smart_health_information_log"]).filter(|log| log.is_object())?;
        let count = |key: &str| u64_at(log, &[key]);
        Some(NvmeHealthLog {
            critical_warning: int_at(log, &["critical_warning"]),
            temperature: i64_at(log, &["temperature"]),
            available_spare: int_at(log, &["available_spare"]),
            available_spare_threshold: int_at(log, &["available_spare_threshold"]),
            percentage_used: int_at(log, &["percentage_used"]),
            data_units_read: count("data_units_read"),
            data_units_written: count("data_units_written"),
            host_reads: count("host_reads"),
            host_writes: count("host_writes"),
            controller_busy_time: count("controller_busy_time"),
            power_cycles: count("power_cycles"),
            power_on_hours: count("power_on_hours"),
            unsafe_shutdowns: count("unsafe_shutdowns"),
            media_errors: count("media_errors"),
            num_err_log_entries: count("num_err_log_entries"),
            warning_temp_time: count("warning_temp_time"),
            critical_comp_time: count("critical_comp_time"),
        })
    }
}

/// The NVMe critical-warning byte, bit by bit (`print_critical_warning`, `nvmeprint.cpp` lines
/// 340–366). Decoded from `value`, because smartctl writes the named booleans only when the
/// byte is non-zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NvmeCriticalWarning {
    pub bits: u8,
    /// Bit 0.
    pub spare_below_threshold: bool,
    /// Bit 1.
    pub temperature_above_or_below_threshold: bool,
    /// Bit 2.
    pub reliability_degraded: bool,
    /// Bit 3.
    pub media_read_only: bool,
    /// Bit 4.
    pub volatile_memory_backup_failed: bool,
    /// Bit 5.
    pub persistent_memory_region_unreliable: bool,
    /// Bits 6–7, undefined by the spec smartctl implements.
    pub other: u8,
}

impl NvmeCriticalWarning {
    /// Decodes a critical-warning byte.
    pub fn from_bits(bits: u8) -> NvmeCriticalWarning {
        let bit = |n: u8| bits & (1 << n) != 0;
        NvmeCriticalWarning {
            bits,
            spare_below_threshold: bit(0),
            temperature_above_or_below_threshold: bit(1),
            reliability_degraded: bit(2),
            media_read_only: bit(3),
            volatile_memory_backup_failed: bit(4),
            persistent_memory_region_unreliable: bit(5),
            other: bits & !0x3F,
        }
    }
}

/// `nvme_self_test_log` (`nvmeprint.cpp` lines 545–648), smartctl 7.4+.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmeSelfTestLog {
    /// `current_self_test_operation`: 0 none, 1 short, 2 extended, 0xE vendor specific.
    pub current_operation: Option<Code>,
    /// `current_self_test_completion_percent`: percent COMPLETED, present only while a test
    /// runs.
    pub current_completion_percent: Option<u8>,
    /// `table`, newest first, with smartctl's `null` gaps (unused slots) skipped.
    pub entries: Vec<NvmeSelfTestEntry>,
}

impl NvmeSelfTestLog {
    fn from_json(root: &Value) -> Option<NvmeSelfTestLog> {
        let log = at(root, &["nvme_self_test_log"]).filter(|log| log.is_object())?;
        // smartctl writes `jref["table"][i]` by hardware slot, so unused slots before a used one
        // come out as `null`; TrueNAS skips them too (NAS-140652).
        let entries = at(log, &["table"])
            .and_then(Value::as_array)
            .map(|rows| {
                rows.iter()
                    .enumerate()
                    .filter_map(|(slot, row)| NvmeSelfTestEntry::from_json(slot, row))
                    .collect()
            })
            .unwrap_or_default();
        Some(NvmeSelfTestLog {
            current_operation: at(log, &["current_self_test_operation"]).and_then(Code::from_json),
            current_completion_percent: int_at(log, &["current_self_test_completion_percent"]),
            entries,
        })
    }

    /// A test is running: the current operation is not 0.
    pub fn in_progress(&self) -> bool {
        self.current_operation
            .as_ref()
            .and_then(|operation| operation.value)
            .is_some_and(|v| v != 0)
    }
}

/// One NVMe self-test result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmeSelfTestEntry {
    /// Position in smartctl's `table` (the drive's result slot; 0 is the newest).
    pub slot: usize,
    /// `self_test_code`: 1 short, 2 extended, 0xE vendor specific.
    pub code: Option<Code>,
    /// `self_test_result`: 0 ok, 1–4/8/9 aborted, 5 fatal, 6–7 failed segments.
    pub result: Option<Code>,
    pub power_on_hours: Option<u64>,
    /// Failed segment number (result 7 only).
    pub segment: Option<u64>,
    /// Namespace; -1 means all namespaces.
    pub nsid: Option<i64>,
    /// Failing LBA (a plain number in 7.4/7.5, unlike the error log's `lba.value`).
    pub lba: Option<u64>,
    pub status_code_type: Option<u8>,
    pub status_code: Option<u8>,
}

impl NvmeSelfTestEntry {
    fn from_json(slot: usize, row: &Value) -> Option<NvmeSelfTestEntry> {
        row.as_object()?;
        Some(NvmeSelfTestEntry {
            slot,
            code: at(row, &["self_test_code"]).and_then(Code::from_json),
            result: at(row, &["self_test_result"]).and_then(Code::from_json),
            power_on_hours: u64_at(row, &["power_on_hours"]),
            segment: u64_at(row, &["segment"]),
            nsid: i64_at(row, &["nsid"]),
            lba: u64_at(row, &["lba"]),
            status_code_type: int_at(row, &["status_code_type"]),
            status_code: int_at(row, &["status_code"]),
        })
    }
}
