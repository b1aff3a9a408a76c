//! SCSI/SAS: grown defects, error counters and the self-test log. Shapes from
//! `SMT@RELEASE_7_4:smartmontools/scsiprint.cpp` (and `SMT@HEAD:src/scsiprint.cpp` for the
//! pre-8.0 `scsi_self_test_status`), summarised in reference/truenas-api.md §5.3.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Code;
use super::lenient::{as_f64, at, bool_at, int_at, u64_at};

/// The SCSI sections of a report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScsiSmart {
    /// `scsi_grown_defect_list`: sectors the drive has remapped since it left the factory.
    pub grown_defect_list: Option<u64>,
    /// `scsi_error_counter_log`.
    pub error_counters: ScsiErrorCounterLog,
    /// `scsi_self_test_0` … `scsi_self_test_19`, newest first. smartctl stops at the first
    /// empty slot, so the list has no gaps.
    pub self_tests: Vec<ScsiSelfTestEntry>,
    /// `scsi_extended_self_test_seconds`: the long test's rated duration. smartctl emits it
    /// only when the self-test log is non-empty (`scsiprint.cpp` line 1265).
    pub extended_self_test_seconds: Option<u64>,
    /// `scsi_self_test_status` (smartctl 8.0, commit `10531b5bd`); absent in 7.x.
    pub self_test_status: Option<ScsiSelfTestStatus>,
}

impl ScsiSmart {
    pub(super) fn from_json(root: &Value) -> Option<ScsiSmart> {
        let self_tests: Vec<ScsiSelfTestEntry> = (0..20u8)
            .map_while(|index| {
                let entry = at(root, &[format!("scsi_self_test_{index}").as_str()])?;
                ScsiSelfTestEntry::from_json(index, entry)
            })
            .collect();
        let scsi = ScsiSmart {
            grown_defect_list: u64_at(root, &["scsi_grown_defect_list"]),
            error_counters: ScsiErrorCounterLog {
                read: ScsiErrorCounters::from_json(root, "read"),
                write: ScsiErrorCounters::from_json(root, "write"),
                verify: ScsiErrorCounters::from_json(root, "verify"),
            },
            self_tests,
            extended_self_test_seconds: u64_at(root, &["scsi_extended_self_test_seconds"]),
            self_test_status: at(root, &["scsi_self_test_status"])
                .filter(|status| status.is_object())
                .map(|status| ScsiSelfTestStatus {
                    in_progress: bool_at(status, &["in_progress"]),
                    completion_percent: int_at(status, &["completion_percent"]),
                }),
        };
        (scsi != ScsiSmart::default()).then_some(scsi)
    }

    /// Uncorrected errors summed over read, write and verify.
    pub fn total_uncorrected_errors(&self) -> Option<u64> {
        let counters = &self.error_counters;
        [&counters.read, &counters.write, &counters.verify]
            .into_iter()
            .filter_map(|direction| direction.as_ref()?.total_uncorrected_errors)
            .reduce(u64::saturating_add)
    }
}

/// `scsi_error_counter_log`: one set of counters per direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScsiErrorCounterLog {
    pub read: Option<ScsiErrorCounters>,
    pub write: Option<ScsiErrorCounters>,
    pub verify: Option<ScsiErrorCounters>,
}

/// The error counters for one direction (`scsiprint.cpp` lines 969–992).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScsiErrorCounters {
    pub errors_corrected_by_eccfast: Option<u64>,
    pub errors_corrected_by_eccdelayed: Option<u64>,
    pub errors_corrected_by_rereads_rewrites: Option<u64>,
    pub total_errors_corrected: Option<u64>,
    pub correction_algorithm_invocations: Option<u64>,
    /// `gigabytes_processed`, which smartctl writes as a string such as `"1661147.727"`.
    pub gigabytes_processed: Option<f64>,
    pub total_uncorrected_errors: Option<u64>,
}

impl ScsiErrorCounters {
    fn from_json(root: &Value, direction: &str) -> Option<ScsiErrorCounters> {
        let log = at(root, &["scsi_error_counter_log", direction]).filter(|log| log.is_object())?;
        let field = |key: &str| u64_at(log, &[key]);
        Some(ScsiErrorCounters {
            errors_corrected_by_eccfast: field("errors_corrected_by_eccfast"),
            errors_corrected_by_eccdelayed: field("errors_corrected_by_eccdelayed"),
            errors_corrected_by_rereads_rewrites: field("errors_corrected_by_rereads_rewrites"),
            total_errors_corrected: field("total_errors_corrected"),
            correction_algorithm_invocations: field("correction_algorithm_invocations"),
            gigabytes_processed: at(log, &["gigabytes_processed"]).and_then(as_f64),
            total_uncorrected_errors: field("total_uncorrected_errors"),
        })
    }
}

/// One `scsi_self_test_N` entry (`scsiprint.cpp` lines 1137–1248).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScsiSelfTestEntry {
    /// N in `scsi_self_test_N`; 0 is the newest.
    pub index: u8,
    /// `code`: 1 background short, 2 background long, 5 foreground short, 6 foreground long.
    pub code: Option<Code>,
    /// `result`: 0 completed, 1 aborted by user, 2 aborted by reset, 3 unknown error, 4–7
    /// segment failures, 15 in progress.
    pub result: Option<Code>,
    /// `failed_segment.value`.
    pub failed_segment: Option<u64>,
    /// `power_on_time.hours` when the test finished; absent while it runs.
    pub power_on_hours: Option<u64>,
    /// `self_test_in_progress`: written instead of the hours while the test runs.
    pub self_test_in_progress: bool,
    /// `lba_first_failure.value`.
    pub lba_first_failure: Option<u64>,
    /// `sense_key`, with `asc`/`ascq` below; only when the drive set a sense key.
    pub sense_key: Option<Code>,
    pub asc: Option<u8>,
    pub ascq: Option<u8>,
}

impl ScsiSelfTestEntry {
    fn from_json(index: u8, entry: &Value) -> Option<ScsiSelfTestEntry> {
        entry.as_object()?;
        Some(ScsiSelfTestEntry {
            index,
            code: at(entry, &["code"]).and_then(Code::from_json),
            result: at(entry, &["result"]).and_then(Code::from_json),
            failed_segment: u64_at(entry, &["failed_segment", "value"]),
            power_on_hours: u64_at(entry, &["power_on_time", "hours"]),
            self_test_in_progress: bool_at(entry, &["self_test_in_progress"]).unwrap_or(false),
            lba_first_failure: u64_at(entry, &["lba_first_failure", "value"]),
            sense_key: at(entry, &["sense_key"]).and_then(Code::from_json),
            asc: int_at(entry, &["asc"]),
            ascq: int_at(entry, &["ascq"]),
        })
    }

    /// Running now: flagged `self_test_in_progress`, or result 15 ("Self test in progress").
    pub fn in_progress(&self) -> bool {
        self.self_test_in_progress
            || self.result.as_ref().and_then(|result| result.value) == Some(0xF)
    }
}

/// `scsi_self_test_status` (smartctl 8.0): read from REQUEST SENSE, so it is live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScsiSelfTestStatus {
    pub in_progress: Option<bool>,
    /// Percent COMPLETED (`(progress * 100) / 65535`); present only while in progress.
    pub completion_percent: Option<u8>,
}
