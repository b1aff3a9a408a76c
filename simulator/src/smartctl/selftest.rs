//! `smartctl -t short|long|conveyance` and `smartctl -X`, with smartctl 7.4's own words:
//! `ataSmartTest` (`atacmds.cpp`) and `ataPrintMain` (`ataprint.cpp`) for ATA, `scsiPrintMain`
//! (`scsiprint.cpp`) for SAS, `nvmePrintMain` (`nvmeprint.cpp`) for NVMe. In JSON mode these
//! lines only appear with `--json=o`; the JSON itself says little more than the exit status.

use burnin::remote::SelfTestKind;

use super::{
    Answer, Invocation, ata, bits, nvme, scsi,
    text::{self, Lines},
};
use crate::{
    drive::{DriveSim, TestKind},
    scenario::Protocol,
};

const ATA_SECTION: &str = "=== START OF OFFLINE IMMEDIATE AND SELF-TEST SECTION ===";

fn answer(lines: Lines, status: i32) -> Answer {
    Answer { doc: serde_json::json!({}), lines, errors: Vec::new(), status }
}

/// What smartctl prints when the options ask it to do nothing it can do for this device.
fn nothing_to_do(protocol: &str) -> Answer {
    let mut lines = Lines::default();
    lines.line(format!("{protocol} device successfully opened"));
    lines.blank();
    lines.line("Use 'smartctl -a' (or '-x') to print SMART (and more) information");
    lines.blank();
    answer(lines, 0)
}

pub(super) fn start(drive: &mut DriveSim, inv: &Invocation<'_>, kind: SelfTestKind) -> Answer {
    let kind = match kind {
        SelfTestKind::Short => TestKind::Short,
        SelfTestKind::Long => TestKind::Long,
        SelfTestKind::Conveyance => TestKind::Conveyance,
    };
    match drive.spec.protocol {
        Protocol::Ata => start_ata(drive, inv, kind),
        // `-t conveyance` sets no SCSI or NVMe option, so smartctl only opens the device.
        Protocol::Scsi if kind == TestKind::Conveyance => nothing_to_do("SCSI"),
        Protocol::Nvme if kind == TestKind::Conveyance => nothing_to_do("NVMe"),
        Protocol::Scsi => start_scsi(drive, inv, kind),
        Protocol::Nvme => start_nvme(drive, inv, kind),
    }
}

fn start_ata(drive: &mut DriveSim, inv: &Invocation<'_>, kind: TestKind) -> Answer {
    let mut lines = Lines::default();
    let mut status = 0;
    lines.line(ATA_SECTION);
    let supported = kind != TestKind::Conveyance || ata::supports_conveyance(drive);
    if !supported {
        lines.line("Conveyance Self-test functions not supported");
        lines.blank();
        status |= bits::COMMAND_FAILED;
    }
    if let Some(run) = &drive.self_test {
        lines.line(format!(
            "Can't start self-test without aborting current test ({}0% remaining),",
            ata::remaining_tenths(run.fraction(inv.now))
        ));
        lines.line("add '-t force' option to override, or run 'smartctl -X' to abort test.");
        return answer(lines, (status | bits::COMMAND_FAILED) as i32);
    }
    let name = match kind {
        TestKind::Short => "Short self-test",
        TestKind::Long => "Extended self-test",
        TestKind::Conveyance => "Conveyance self-test",
    };
    let command = format!("Execute SMART {name} routine immediately in off-line mode");
    lines.line(format!("Sending command: \"{command}\"."));
    if !supported {
        lines.line(format!("Command \"{command}\" failed: scsi error aborted command"));
        return answer(lines, status as i32);
    }
    if let Err(done) = drive.start_self_test(kind, inv.now) {
        // Not reached (a running test was refused above); answer as the drive would.
        lines.line(format!(
            "Can't start self-test without aborting current test ({}0% remaining),",
            ata::remaining_tenths(done)
        ));
        return answer(lines, bits::COMMAND_FAILED as i32);
    }
    lines.line(format!("Drive command \"{command}\" successful."));
    lines.line("Testing has begun.");
    let minutes = ata::polling_minutes(drive, kind);
    lines.line(format!("Please wait {minutes} minutes for test to complete."));
    lines.line(format!(
        "Test will complete after {}",
        text::asctime(inv.wall_after(minutes as f64 * 60.0))
    ));
    lines.line("Use smartctl -X to abort test.");
    answer(lines, status as i32)
}

fn start_scsi(drive: &mut DriveSim, inv: &Invocation<'_>, kind: TestKind) -> Answer {
    let mut lines = Lines::default();
    if let Some(run) = &drive.self_test {
        lines.line(format!(
            "Can't start self-test without aborting current test ({}% remaining),",
            scsi::remaining_percent(run.fraction(inv.now))
        ));
        lines.line("add '-t force' option to override, or run 'smartctl -X' to abort test.");
        // scsiPrintMain returns -1 here: JSON exit_status -1, process exit status 255.
        return answer(lines, -1);
    }
    if drive.start_self_test(kind, inv.now).is_err() {
        lines.line("Can't start self-test without aborting current test,");
        lines.line("add '-t force' option to override, or run 'smartctl -X' to abort test.");
        return answer(lines, -1);
    }
    if kind == TestKind::Short {
        lines.line("Short Background Self Test has begun");
    } else {
        lines.line("Extended Background Self Test has begun");
        let seconds = drive.test_duration(TestKind::Long).max(0.0) as u64;
        if seconds > 0 {
            lines.line(format!("Please wait {} minutes for test to complete.", seconds / 60));
            lines.line(format!(
                "Estimated completion time: {}",
                text::asctime(inv.wall_after(seconds as f64))
            ));
        }
    }
    lines.line("Use smartctl -X to abort test");
    answer(lines, 0)
}

fn start_nvme(drive: &mut DriveSim, inv: &Invocation<'_>, kind: TestKind) -> Answer {
    let mut lines = Lines::default();
    let refusal = |lines: &mut Lines, done: f64| {
        lines.line(format!(
            "Can't start self-test without aborting current test ({:2}% completed)",
            nvme::completion_percent(done)
        ));
        lines.line("Use smartctl -X to abort test");
    };
    if let Some(run) = &drive.self_test {
        refusal(&mut lines, run.fraction(inv.now));
        return answer(lines, bits::COMMAND_FAILED as i32);
    }
    if let Err(done) = drive.start_self_test(kind, inv.now) {
        refusal(&mut lines, done);
        return answer(lines, bits::COMMAND_FAILED as i32);
    }
    lines.line("Self-test has begun");
    lines.line("Use smartctl -X to abort test");
    answer(lines, 0)
}

/// `-X`: the drives accept an abort whether or not a test runs.
pub(super) fn abort(drive: &mut DriveSim) -> Answer {
    drive.abort_self_test();
    let mut lines = Lines::default();
    match drive.spec.protocol {
        Protocol::Ata => {
            lines.line(ATA_SECTION);
            lines.line("Sending command: \"Abort SMART off-line mode self-test routine\".");
            lines.line("Self-testing aborted!");
        }
        Protocol::Scsi => lines.line("Self Test returned without error"),
        Protocol::Nvme => lines.line("Self-test aborted!"),
    }
    answer(lines, 0)
}
