//! One view of self-tests across ATA, SCSI and NVMe: is one running, how far along, and how did
//! the last one end. The per-protocol rules are reference/truenas-api.md §5.6.

use serde::{Deserialize, Serialize};

use super::{
    AtaSelfTestEntry, AtaSelfTestStatus, Code, NvmeSelfTestEntry, ScsiSelfTestEntry, SmartReport,
};

/// Which self-test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfTestKind {
    Short,
    /// ATA "extended", SCSI "long", NVMe "extended".
    Extended,
    /// ATA only.
    Conveyance,
    /// ATA only.
    Selective,
    /// ATA off-line data collection.
    Offline,
    VendorSpecific,
    /// Not reported, or a code we do not know.
    Unknown,
}

impl SelfTestKind {
    /// ATA self-test log `type.value` (`ataprint.cpp` `ataPrintSmartSelfTestEntry`); captive
    /// variants (+0x80) are the same tests run in the foreground.
    fn from_ata(code: u8) -> SelfTestKind {
        match code {
            0x00 => SelfTestKind::Offline,
            0x01 | 0x81 => SelfTestKind::Short,
            0x02 | 0x82 => SelfTestKind::Extended,
            0x03 | 0x83 => SelfTestKind::Conveyance,
            0x04 | 0x84 => SelfTestKind::Selective,
            0x40..=0x7E | 0x90..=0xFF => SelfTestKind::VendorSpecific,
            _ => SelfTestKind::Unknown,
        }
    }

    /// SCSI `code.value`: 1/5 background/foreground short, 2/6 background/foreground long.
    fn from_scsi(code: u8) -> SelfTestKind {
        match code {
            1 | 5 => SelfTestKind::Short,
            2 | 6 => SelfTestKind::Extended,
            _ => SelfTestKind::Unknown,
        }
    }

    /// NVMe `self_test_code.value` / `current_self_test_operation.value`.
    fn from_nvme(code: u8) -> SelfTestKind {
        match code {
            1 => SelfTestKind::Short,
            2 => SelfTestKind::Extended,
            0xE => SelfTestKind::VendorSpecific,
            _ => SelfTestKind::Unknown,
        }
    }
}

/// A self-test that is running now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfTestProgress {
    pub kind: SelfTestKind,
    /// Percent done, 0–100. `None` for SAS on smartctl ≤ 7.5, whose JSON has no percentage:
    /// read it from text with [`super::parse_scsi_self_test_progress_text`].
    pub percent_done: Option<u8>,
}

/// How a self-test ended, the same words for every protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SelfTestOutcome {
    Passed,
    /// The drive found a fault (ATA 3–8, SCSI 3–7, NVMe 5–7).
    Failed {
        reason: String,
    },
    /// Stopped by a command: ATA 1 "Aborted by host", SCSI 1, NVMe 1, 3, 4, 8, 9.
    Aborted {
        reason: String,
    },
    /// Stopped by a reset: ATA 2 "Interrupted (host reset)", SCSI 2, NVMe 2.
    Interrupted {
        reason: String,
    },
    InProgress,
    /// A reserved result code.
    Unknown {
        reason: String,
    },
}

/// One self-test result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfTestResult {
    pub kind: SelfTestKind,
    pub outcome: SelfTestOutcome,
    /// Power-on hours when it ended (or started, for a running one), if logged.
    pub power_on_hours: Option<u64>,
    /// First failing LBA, on failures.
    pub first_failing_lba: Option<u64>,
}

impl SmartReport {
    /// The self-test running now, if any, per reference/truenas-api.md §5.6:
    /// - NVMe: `current_self_test_operation.value != 0`; percent = completion percent.
    /// - ATA: status nibble 15 in `ata_smart_data.self_test.status`; percent = 100 − remaining.
    ///   Some drives keep 0 there and show the running test only as the newest log entry
    ///   (`sat_xall.json`: status 0, log entry 249 "Self-test routine in progress"), so that
    ///   entry counts too. Never decided from `remaining_percent` alone.
    /// - SCSI: smartctl 8.0's live `scsi_self_test_status` when present; otherwise the newest
    ///   log entry running, with no percentage.
    pub fn self_test_progress(&self) -> Option<SelfTestProgress> {
        self.nvme_progress().or_else(|| self.ata_progress()).or_else(|| self.scsi_progress())
    }

    /// The newest self-test: the running one if any ([`SelfTestOutcome::InProgress`]), else
    /// the newest log entry (ATA `table[0]`, SCSI `scsi_self_test_0`, NVMe the first non-null
    /// `table` entry). A change of this value from `InProgress` is how a poller sees a test end.
    pub fn last_self_test(&self) -> Option<SelfTestResult> {
        if let Some(progress) = self.self_test_progress() {
            return Some(SelfTestResult {
                kind: progress.kind,
                outcome: SelfTestOutcome::InProgress,
                power_on_hours: None,
                first_failing_lba: None,
            });
        }
        self.logged_self_tests().into_iter().next()
    }

    /// The newest self-test that has finished, skipping any that is still running.
    pub fn last_completed_self_test(&self) -> Option<SelfTestResult> {
        self.logged_self_tests()
            .into_iter()
            .find(|result| result.outcome != SelfTestOutcome::InProgress)
    }

    /// Every logged self-test of every protocol present, newest first within a protocol.
    fn logged_self_tests(&self) -> Vec<SelfTestResult> {
        let ata = self.ata.iter().flat_map(|ata| &ata.self_test_log).flat_map(|log| &log.entries);
        let nvme =
            self.nvme.iter().flat_map(|nvme| &nvme.self_test_log).flat_map(|log| &log.entries);
        let scsi = self.scsi.iter().flat_map(|scsi| &scsi.self_tests);
        ata.filter_map(ata_result)
            .chain(nvme.map(nvme_result))
            .chain(scsi.map(scsi_result))
            .collect()
    }

    fn nvme_progress(&self) -> Option<SelfTestProgress> {
        let log = self.nvme.as_ref()?.self_test_log.as_ref()?;
        let operation = log.current_operation.as_ref()?.value?;
        (operation != 0).then(|| SelfTestProgress {
            kind: SelfTestKind::from_nvme(operation),
            percent_done: log.current_completion_percent.map(|percent| percent.min(100)),
        })
    }

    fn ata_progress(&self) -> Option<SelfTestProgress> {
        let ata = self.ata.as_ref()?;
        let newest = ata.self_test_log.as_ref().and_then(|log| log.entries.first());
        let newest_running = newest
            .filter(|entry| entry.status.as_ref().is_some_and(AtaSelfTestStatus::in_progress));
        let status = ata
            .self_test_status
            .as_ref()
            .filter(|status| status.in_progress())
            .or_else(|| newest_running?.status.as_ref())?;
        let kind = newest_running
            .and_then(|entry| entry.test_type.as_ref()?.value)
            .map_or(SelfTestKind::Unknown, SelfTestKind::from_ata);
        Some(SelfTestProgress { kind, percent_done: status.percent_done() })
    }

    fn scsi_progress(&self) -> Option<SelfTestProgress> {
        let scsi = self.scsi.as_ref()?;
        let newest_running = scsi.self_tests.first().filter(|entry| entry.in_progress());
        let kind = newest_running
            .and_then(|entry| entry.code.as_ref()?.value)
            .map_or(SelfTestKind::Unknown, SelfTestKind::from_scsi);
        match scsi.self_test_status {
            // REQUEST SENSE is live; the log entry could be stale, so the status decides.
            Some(status) if status.in_progress.is_some() => (status.in_progress == Some(true))
                .then(|| SelfTestProgress {
                    kind,
                    percent_done: status.completion_percent.map(|percent| percent.min(100)),
                }),
            _ => newest_running.map(|_| SelfTestProgress { kind, percent_done: None }),
        }
    }
}

/// smartctl's words if it gave any, else ours.
fn reason(code: Option<&Code>, fallback: &str) -> String {
    code.and_then(|code| code.string.as_deref())
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .unwrap_or(fallback)
        .to_owned()
}

fn ata_result(entry: &AtaSelfTestEntry) -> Option<SelfTestResult> {
    let status = entry.status.as_ref()?;
    let words = status.string.as_deref().map(str::trim).filter(|text| !text.is_empty());
    let say = |fallback: &str| words.unwrap_or(fallback).to_owned();
    // Result nibble per `ataprint.cpp` `ataPrintSmartSelfTestEntry`.
    let outcome = match status.result() {
        0x0 => SelfTestOutcome::Passed,
        0x1 => SelfTestOutcome::Aborted { reason: say("Aborted by host") },
        0x2 => SelfTestOutcome::Interrupted { reason: say("Interrupted (host reset)") },
        0x3 => SelfTestOutcome::Failed { reason: say("Fatal or unknown error") },
        0x4..=0x8 => SelfTestOutcome::Failed { reason: say("Completed with a failure") },
        0xF => SelfTestOutcome::InProgress,
        _ => SelfTestOutcome::Unknown { reason: say("Unknown status") },
    };
    Some(SelfTestResult {
        kind: entry
            .test_type
            .as_ref()
            .and_then(|code| code.value)
            .map_or(SelfTestKind::Unknown, SelfTestKind::from_ata),
        outcome,
        power_on_hours: entry.lifetime_hours,
        first_failing_lba: entry.lba,
    })
}

fn scsi_result(entry: &ScsiSelfTestEntry) -> SelfTestResult {
    let code = entry.result.as_ref();
    // Result nibble per `scsiprint.cpp` `self_test_result[]`.
    let outcome = if entry.in_progress() {
        SelfTestOutcome::InProgress
    } else {
        match code.and_then(|code| code.value) {
            Some(0x0) => SelfTestOutcome::Passed,
            Some(0x1) => {
                SelfTestOutcome::Aborted { reason: reason(code, "Aborted (by user command)") }
            }
            Some(0x2) => {
                SelfTestOutcome::Interrupted { reason: reason(code, "Aborted (device reset ?)") }
            }
            Some(0x3..=0x7) => SelfTestOutcome::Failed { reason: reason(code, "Failed") },
            _ => SelfTestOutcome::Unknown { reason: reason(code, "Unknown result") },
        }
    };
    SelfTestResult {
        kind: entry
            .code
            .as_ref()
            .and_then(|code| code.value)
            .map_or(SelfTestKind::Unknown, SelfTestKind::from_scsi),
        outcome,
        power_on_hours: entry.power_on_hours,
        first_failing_lba: entry.lba_first_failure,
    }
}

fn nvme_result(entry: &NvmeSelfTestEntry) -> SelfTestResult {
    let code = entry.result.as_ref();
    // Result nibble per `nvmeprint.cpp` `print_self_test_log`.
    let outcome = match code.and_then(|code| code.value) {
        Some(0x0) => SelfTestOutcome::Passed,
        Some(0x2) => {
            SelfTestOutcome::Interrupted { reason: reason(code, "Aborted: Controller Reset") }
        }
        Some(0x1 | 0x3 | 0x4 | 0x8 | 0x9) => {
            SelfTestOutcome::Aborted { reason: reason(code, "Aborted") }
        }
        Some(0x5..=0x7) => SelfTestOutcome::Failed { reason: reason(code, "Failed") },
        _ => SelfTestOutcome::Unknown { reason: reason(code, "Unknown result") },
    };
    SelfTestResult {
        kind: entry
            .code
            .as_ref()
            .and_then(|code| code.value)
            .map_or(SelfTestKind::Unknown, SelfTestKind::from_nvme),
        outcome,
        power_on_hours: entry.power_on_hours,
        first_failing_lba: entry.lba,
    }
}
