//! The badblocks output parser and block-size rule. The streams are built the way
//! `E2@HEAD:misc/badblocks.c` writes them: `print_status` writes the progress text and then
//! exactly as many backspaces as its width, with no newline.

use burnin::badblocks::{
    BadblocksEvent, BadblocksParser, PhaseKind, Refusal, TestMode, choose_block_size,
};

const DONE: &str = "done                                                 \n";

/// A progress line as `print_status` writes it: text, then one `\x08` per column.
fn status(percent: f32, elapsed: &str, errors: (u32, u32, u32)) -> String {
    let text = format!(
        "{percent:6.2}% done, {elapsed} elapsed. ({}/{}/{} errors)",
        errors.0, errors.1, errors.2
    );
    format!("{text}{}", "\x08".repeat(text.len()))
}

fn progress(
    phase: u32,
    percent: f32,
    elapsed_secs: u64,
    errors: (u32, u32, u32),
) -> BadblocksEvent {
    BadblocksEvent::Progress {
        phase,
        percent,
        elapsed_secs,
        read_errors: errors.0,
        write_errors: errors.1,
        corruption_errors: errors.2,
    }
}

fn started(phase: u32, pattern: Option<u8>, kind: PhaseKind) -> BadblocksEvent {
    BadblocksEvent::PhaseStarted { phase, pattern, kind }
}

/// The verbatim capture of reference/truenas-api.md §6 (`badblocks -b 4096 -wsv` on an 8 MiB
/// file, e2fsprogs 1.47.0): each phase finished within the first second, so each shows only
/// its 0.00% line.
fn verbatim_wsv_capture() -> String {
    let mut stderr =
        String::from("Checking for bad blocks in read-write mode\nFrom block 0 to 2047\n");
    for pattern in ["aa", "55", "ff", "00"] {
        stderr +=
            &format!("Testing with pattern 0x{pattern}: {}{DONE}", status(0.0, "0:00", (0, 0, 0)));
        stderr += &format!("Reading and comparing: {}{DONE}", status(0.0, "0:00", (0, 0, 0)));
    }
    stderr + "Pass completed, 0 bad blocks found. (0/0/0 errors)\n"
}

#[test]
fn verbatim_destructive_capture_gives_header_eight_phases_and_a_clean_pass() {
    let capture = verbatim_wsv_capture();
    assert!(
        capture.contains(&format!("(0/0/0 errors){}done", "\x08".repeat(42))),
        "42 backspaces as captured"
    );
    let mut parser = BadblocksParser::default();
    let events = parser.feed_stderr(capture.as_bytes());
    let mut expected = vec![BadblocksEvent::Header { first_block: 0, last_block: 2047 }];
    for (index, pattern) in [0xaa, 0x55, 0xff, 0x00].into_iter().enumerate() {
        let write = 2 * index as u32 + 1;
        expected.push(started(write, Some(pattern), PhaseKind::Write));
        expected.push(progress(write, 0.0, 0, (0, 0, 0)));
        expected.push(started(write + 1, None, PhaseKind::ReadCompare));
        expected.push(progress(write + 1, 0.0, 0, (0, 0, 0)));
    }
    expected.push(BadblocksEvent::PassCompleted {
        bad_blocks: 0,
        read_errors: 0,
        write_errors: 0,
        corruption_errors: 0,
    });
    assert_eq!(events, expected);
    assert_eq!(parser.mode(), TestMode::Destructive);
    assert_eq!(parser.overall_percent(), 100.0);
}

#[test]
fn a_long_phase_reports_each_redraw_with_hours_and_error_counts() {
    let mut parser = BadblocksParser::default();
    let mut stderr = String::from("Testing with pattern 0xaa: ");
    stderr += &status(12.5, "59:59", (0, 0, 0));
    stderr += &status(48.03, "1:00:00", (1, 0, 0));
    stderr += &status(100.0, "12:34:56", (1, 2, 3));
    let events = parser.feed_stderr(stderr.as_bytes());
    assert_eq!(
        events,
        [
            started(1, Some(0xaa), PhaseKind::Write),
            progress(1, 12.5, 3599, (0, 0, 0)),
            progress(1, 48.03, 3600, (1, 0, 0)),
            progress(1, 100.0, 45_296, (1, 2, 3)),
        ]
    );
    assert_eq!(parser.mode(), TestMode::Unknown, "-ws without -v prints no mode line");
}

#[test]
fn overall_percent_spreads_the_eight_destructive_phases_evenly() {
    let mut parser = BadblocksParser::default();
    assert_eq!(parser.overall_percent(), 0.0);
    parser.feed_stderr(
        format!("Testing with pattern 0xaa: {}", status(50.0, "1:00", (0, 0, 0))).as_bytes(),
    );
    assert_eq!(parser.overall_percent(), 6.25);
    parser.feed_stderr(format!("{DONE}Reading and comparing: ").as_bytes());
    assert_eq!(parser.overall_percent(), 12.5);
    parser.feed_stderr(
        format!("{}{DONE}Testing with pattern 0x00: ", status(100.0, "2:00", (0, 0, 0))).as_bytes(),
    );
    assert_eq!(parser.phase(), 3);
    parser.feed_stderr(status(0.0, "2:00", (0, 0, 0)).as_bytes());
    assert_eq!(parser.overall_percent(), 25.0);
}

#[test]
fn a_phase_marker_is_reported_before_its_line_ends() {
    // Without -s nothing follows the marker until the phase is done, hours later.
    let mut parser = BadblocksParser::default();
    assert_eq!(parser.feed_stderr(b"Testing with pattern 0x5"), []);
    assert_eq!(parser.feed_stderr(b"5: "), [started(1, Some(0x55), PhaseKind::Write)]);
    assert_eq!(parser.feed_stderr(DONE.as_bytes()), []);
    assert_eq!(parser.overall_percent(), 12.5);
}

#[test]
fn bad_blocks_come_from_stdout_one_number_per_line() {
    let mut parser = BadblocksParser::default();
    assert_eq!(parser.feed_stdout(b"1024\n10"), [BadblocksEvent::BadBlock(1024)]);
    assert_eq!(
        parser.feed_stdout(b"25\r\nnot a number\n\n4294967294\n"),
        [BadblocksEvent::BadBlock(1025), BadblocksEvent::BadBlock(4_294_967_294)]
    );
}

#[test]
fn too_many_bad_blocks_and_a_failing_pass_are_reported() {
    let mut parser = BadblocksParser::default();
    let stderr = format!(
        "Testing with pattern 0xaa: {}Too many bad blocks, aborting test\n{DONE}\
         Pass completed, 1 bad blocks found. (1/0/0 errors)\n",
        status(3.0, "0:07", (1, 0, 0))
    );
    assert_eq!(
        parser.feed_stderr(stderr.as_bytes()),
        [
            started(1, Some(0xaa), PhaseKind::Write),
            progress(1, 3.0, 7, (1, 0, 0)),
            BadblocksEvent::TooManyBadBlocks,
            BadblocksEvent::PassCompleted {
                bad_blocks: 1,
                read_errors: 1,
                write_errors: 0,
                corruption_errors: 0
            },
        ]
    );
}

#[test]
fn refusals_name_their_reason() {
    let cases = [
        (
            "badblocks: Value too large for defined data type invalid end block (5368709120): must be 32-bit value\n",
            Refusal::EndBlockNot32Bit { end_block: 5_368_709_120 },
        ),
        (
            "/dev/sdb is mounted; it's not safe to run badblocks!\n",
            Refusal::Mounted { device: "/dev/sdb".into() },
        ),
        (
            "/dev/sdb is apparently in use by the system; it's not safe to run badblocks!\n",
            Refusal::InUse { device: "/dev/sdb".into() },
        ),
        (
            "badblocks: invalid starting block (0): must be less than 0\n",
            Refusal::InvalidStartingBlock { first_block: 0, limit: Some(0) },
        ),
        (
            "badblocks: Device or resource busy while trying to open /dev/sdc\n",
            Refusal::CannotOpen {
                message: "badblocks: Device or resource busy while trying to open /dev/sdc".into(),
            },
        ),
    ];
    for (line, reason) in cases {
        let events = BadblocksParser::default().feed_stderr(line.as_bytes());
        assert_eq!(events, [BadblocksEvent::Refused { reason }], "{line:?}");
    }
}

#[test]
fn forcing_past_a_mount_is_not_a_refusal() {
    let line = "/dev/sdb is mounted; badblocks forced anyway.  Hope /etc/mtab is incorrect.\n";
    assert_eq!(BadblocksParser::default().feed_stderr(line.as_bytes()), []);
}

#[test]
fn read_only_test_is_one_phase_with_its_own_header() {
    let mut parser = BadblocksParser::default();
    let stderr = format!(
        "Checking blocks 0 to 976754645\nChecking for bad blocks (read-only test): {}{DONE}\
         Pass completed, 0 bad blocks found. (0/0/0 errors)\n",
        status(40.0, "10:00", (0, 0, 0))
    );
    let events = parser.feed_stderr(stderr.as_bytes());
    assert_eq!(events[0], BadblocksEvent::Header { first_block: 0, last_block: 976_754_645 });
    assert_eq!(events[1], started(1, None, PhaseKind::ReadOnly));
    assert_eq!(events[2], progress(1, 40.0, 600, (0, 0, 0)));
    assert_eq!(parser.mode(), TestMode::ReadOnly);
}

#[test]
fn non_destructive_test_has_one_phase_per_pattern() {
    let mut parser = BadblocksParser::default();
    let stderr = format!(
        "Checking for bad blocks in non-destructive read-write mode\nFrom block 0 to 99\n\
         Checking for bad blocks (non-destructive read-write test)\n\
         Testing with pattern 0xaa: {}{DONE}Testing with pattern 0x55: {}",
        status(100.0, "0:01", (0, 0, 0)),
        status(50.0, "0:02", (0, 0, 0)),
    );
    let events = parser.feed_stderr(stderr.as_bytes());
    assert_eq!(events[1], started(1, Some(0xaa), PhaseKind::NonDestructive));
    assert_eq!(events[3], started(2, Some(0x55), PhaseKind::NonDestructive));
    assert_eq!(parser.mode(), TestMode::NonDestructive);
    assert_eq!(parser.overall_percent(), 37.5);
}

#[test]
fn random_and_wide_patterns_start_phases_without_a_byte() {
    let mut parser = BadblocksParser::default();
    let events =
        parser.feed_stderr(b"Testing with random pattern: done\nTesting with pattern 0x1234abcd: ");
    assert_eq!(events, [started(1, None, PhaseKind::Write), started(2, None, PhaseKind::Write)]);
}

#[test]
fn an_interrupt_reports_the_block_reached() {
    let events = BadblocksParser::default().feed_stderr(b"\n\nInterrupted at block 123456\n");
    assert_eq!(events, [BadblocksEvent::Interrupted { at_block: Some(123_456) }]);
}

#[test]
fn block_size_keeps_the_block_count_within_32_bits() {
    let cases = [
        (12_000_000_000_000, 4096, 4096),
        (16_000_900_661_248, 4096, 4096), // the Exos X16 in the corpus
        (18_000_000_000_000, 4096, 8192),
        (20_000_000_000_000, 4096, 8192),
        (4_000_000_000_000, 512, 1024),
        (500_107_862_016, 512, 1024),
        (36_000_000_000_000, 4096, 16_384),
        (8 * 1024 * 1024, 4096, 4096),
        (0, 0, 1024),
        (1_000_000, 520, 1024),
        (1_000_000, 4097, 8192),
    ];
    for (bytes, sector, expected) in cases {
        assert_eq!(
            choose_block_size(bytes, sector),
            expected,
            "{bytes} bytes, {sector}-byte sectors"
        );
    }
}

#[test]
fn block_size_boundary_is_a_block_count_of_exactly_2_to_the_32() {
    // badblocks refuses when `last_block >> 32 != 0`, where last_block = bytes / b (a count).
    let four_k_limit = 4096 * u64::from(u32::MAX);
    assert_eq!(choose_block_size(four_k_limit, 4096), 4096, "2^32 - 1 blocks fit");
    assert_eq!(
        choose_block_size(four_k_limit + 4095, 4096),
        4096,
        "the partial block is not counted"
    );
    assert_eq!(choose_block_size(4096 << 32, 4096), 8192, "2^32 blocks do not");
    assert_eq!(choose_block_size(1024 * u64::from(u32::MAX), 512), 1024);
    assert_eq!(choose_block_size(1024 << 32, 512), 2048);
}

#[test]
fn block_size_is_capped_at_badblocks_maximum() {
    assert_eq!(choose_block_size(u64::MAX, 512), 1 << 24);
    assert_eq!(choose_block_size(1, u32::MAX), 1 << 24);
}
