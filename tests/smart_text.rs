//! smartctl's text-only facts: SAS self-test progress before 8.0, and what `-t` said. The lines
//! are smartctl's own format strings (`SMT@RELEASE_7_4:smartmontools/scsiprint.cpp`,
//! `atacmds.cpp`, `ataprint.cpp`, `nvmeprint.cpp`) filled in.

use burnin::smart::{
    TestStartOutcome, parse_scsi_self_test_progress_text, parse_self_test_start_text,
};

#[test]
fn sas_progress_text_gives_percent_done_in_every_spacing() {
    let cases = [
        ("Self-test execution status:\t\t80% of test remaining\n", Some(20)),
        ("Self-test execution status: 80% of test remaining", Some(20)),
        ("Self-test execution status:      (   80% of test remaining)", Some(20)),
        ("Self-test execution status:\t\t100% of test remaining", Some(0)),
        ("Self-test execution status:\t\t0% of test remaining", Some(100)),
        // ATA `-c` prints the percentage on its own line.
        (
            "Self-test execution status:      ( 249)\tSelf-test routine in progress...\n\t\t\t\t\t90% of test remaining.",
            Some(10),
        ),
        ("SMART Self-test log\nNum  Test  Status\n# 1  Background long  Completed  -  4000", None),
        ("Self-test execution status:\t\t180% of test remaining", None),
        ("% of test remaining", None),
        ("", None),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_scsi_self_test_progress_text(text), expected, "{text:?}");
    }
}

#[test]
fn ata_start_text_gives_the_wait_and_the_completion_time() {
    let text = "=== START OF OFFLINE IMMEDIATE AND SELF-TEST SECTION ===\n\
        Sending command: \"Execute SMART Extended self-test routine immediately in off-line mode\".\n\
        Drive command \"Execute SMART Extended self-test routine immediately in off-line mode\" successful.\n\
        Testing has begun.\n\
        Please wait 1479 minutes for test to complete.\n\
        Test will complete after Tue Aug 25 09:12:44 2026 CEST\n\
        Use smartctl -X to abort test.\n";
    assert_eq!(
        parse_self_test_start_text(text),
        TestStartOutcome::Started {
            wait_seconds: Some(1479 * 60),
            completes_at: Some("Tue Aug 25 09:12:44 2026 CEST".into()),
        }
    );
}

#[test]
fn sas_and_nvme_start_text_are_started_without_a_wait() {
    let sas = "Short Background Self Test has begun\nUse smartctl -X to abort test\n";
    let nvme = "Self-test has begun\nUse smartctl -X to abort test\n";
    for text in [sas, nvme] {
        assert_eq!(
            parse_self_test_start_text(text),
            TestStartOutcome::Started { wait_seconds: None, completes_at: None }
        );
    }
    let sas_long = "Extended Background Self Test has begun\nPlease wait 1340 minutes for test to complete.\n\
        Estimated completion time: Wed Aug 26 07:00:00 2026 UTC\nUse smartctl -X to abort test\n";
    assert_eq!(
        parse_self_test_start_text(sas_long),
        TestStartOutcome::Started {
            wait_seconds: Some(1340 * 60),
            completes_at: Some("Wed Aug 26 07:00:00 2026 UTC".into()),
        }
    );
}

#[test]
fn refusal_because_a_test_is_running_reads_percent_done_per_protocol() {
    let ata = "Can't start self-test without aborting current test (90% remaining),\n\
        add '-t force' option to override, or run 'smartctl -X' to abort test.\n";
    let sas = "Can't start self-test without aborting current test (35% remaining),\n\
        add '-t force' option to override, or run 'smartctl -X' to abort test.\n";
    let nvme = "Can't start self-test without aborting current test ( 5% completed)\n\
        Use smartctl -X to abort test\n";
    let selective = "Can't start selective self-test without aborting current test: use '-X' option to smartctl.\n";
    let cases = [(ata, Some(10)), (sas, Some(65)), (nvme, Some(5)), (selective, None)];
    for (text, percent_done) in cases {
        assert_eq!(
            parse_self_test_start_text(text),
            TestStartOutcome::AlreadyRunning { percent_done },
            "{text:?}"
        );
    }
}

#[test]
fn start_text_that_says_nothing_we_know_is_unrecognized() {
    for text in
        ["", "Smartctl open device: /dev/sdz failed: No such device\n", "Please wait forever"]
    {
        assert_eq!(parse_self_test_start_text(text), TestStartOutcome::Unrecognized, "{text:?}");
    }
}
