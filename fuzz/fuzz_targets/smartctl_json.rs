//! `parse_smartctl_json` and every view derived from a report must not panic on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(report) = burnin::smart::parse_smartctl_json(data) {
        let _ = (
            report.self_test_progress(),
            report.last_self_test(),
            report.last_completed_self_test(),
        );
        let _ = report.read_failed();
        if let Some(ata) = &report.ata {
            let _ = (ata.command_timeouts(), ata.temperature(), ata.power_on_hours());
        }
        if let Some(scsi) = &report.scsi {
            let _ = scsi.total_uncorrected_errors();
        }
    }
});
