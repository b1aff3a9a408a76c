//! The smartctl text readers must not panic and must return a percentage in 0..=100.
#![no_main]

use burnin::smart::{
    TestStartOutcome, parse_scsi_self_test_progress_text, parse_self_test_start_text,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(done) = parse_scsi_self_test_progress_text(&text) {
        assert!(done <= 100);
    }
    if let TestStartOutcome::AlreadyRunning { percent_done: Some(done) } =
        parse_self_test_start_text(&text)
    {
        assert!(done <= 100);
    }
});
