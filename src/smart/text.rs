//! The few facts smartctl prints only as text.
//!
//! - SAS self-test progress: smartctl ≤ 7.5 prints it only as text,
//!   `"%s execution status:\t\t%d%% of test remaining\n"` (`SMT@RELEASE_7_4:smartmontools/
//!   scsiprint.cpp` line 1104); JSON gained it only in 8.0 (reference/truenas-api.md §5.3).
//! - Starting a test with `-t`: in JSON mode the plain `pout()` lines are suppressed unless
//!   `--json=o` is given (§5.1), so the outcome is read from the text.
//!
//! Both assume smartctl's English (C locale) messages, which is all smartctl prints.

use serde::{Deserialize, Serialize};

/// Percent DONE of a running self-test, from text such as
/// `"Self-test execution status:\t\t80% of test remaining"` (SAS, `-a`/`-c`/`-l selftest`), also
/// written `"(   80% of test remaining)"`; also reads ATA's `"90% of test remaining."` line.
/// Returns 100 − remaining, or `None` when no test is reported running.
pub fn parse_scsi_self_test_progress_text(text: &str) -> Option<u8> {
    const MARKER: &str = "% of test remaining";
    text.match_indices(MARKER).find_map(|(index, _)| {
        let remaining: u8 = number_before(&text[..index])?.try_into().ok()?;
        (remaining <= 100).then(|| 100 - remaining)
    })
}

/// What `smartctl -t short|long|conveyance` said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TestStartOutcome {
    /// The drive accepted the test.
    Started {
        /// "Please wait N minutes for test to complete." (ATA; SAS extended), in seconds; the
        /// off-line scan says "N seconds".
        wait_seconds: Option<u64>,
        /// "Test will complete after DATE" (ATA) or "Estimated completion time: DATE" (SAS),
        /// as printed in the NAS's time zone.
        completes_at: Option<String>,
    },
    /// A test is already running and smartctl refused to abort it (no `-t force`).
    AlreadyRunning {
        /// Percent done of the running test: ATA and SAS print "(N0% remaining)"
        /// (`atacmds.cpp` ~1643, `scsiprint.cpp` ~3886), NVMe "(NN% completed)"
        /// (`nvmeprint.cpp` ~812).
        percent_done: Option<u8>,
    },
    /// Neither: an error, an unsupported device, or output we do not know.
    Unrecognized,
}

/// Reads the text output of `smartctl -t ...`.
pub fn parse_self_test_start_text(text: &str) -> TestStartOutcome {
    // ATA: "Can't start self-test without aborting current test (90% remaining)," and for a
    // selective test "Can't start selective self-test without aborting current test: ...".
    if let Some(index) = text.find("without aborting current test") {
        let after = &text[index..];
        return TestStartOutcome::AlreadyRunning { percent_done: refusal_percent_done(after) };
    }
    let wait_seconds = text.find("Please wait ").and_then(|index| {
        let rest = &text[index + "Please wait ".len()..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let amount: u64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].trim_start();
        if unit.starts_with("minute") {
            amount.checked_mul(60)
        } else if unit.starts_with("second") {
            Some(amount)
        } else {
            None
        }
    });
    let completes_at = ["Test will complete after ", "Estimated completion time: "]
        .into_iter()
        .find_map(|marker| {
            let index = text.find(marker)?;
            let line = text[index + marker.len()..].lines().next()?.trim();
            (!line.is_empty()).then(|| line.to_owned())
        });
    let begun = text.contains("has begun");
    if begun || wait_seconds.is_some() || completes_at.is_some() {
        TestStartOutcome::Started { wait_seconds, completes_at }
    } else {
        TestStartOutcome::Unrecognized
    }
}

/// The percentage in "(N% remaining)" or "(NN% completed)", as percent done.
fn refusal_percent_done(text: &str) -> Option<u8> {
    let open = text.find('(')?;
    let inside = &text[open + 1..text[open..].find(')').map_or(text.len(), |close| open + close)];
    let inside = inside.trim_start();
    let digits = inside.len() - inside.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let percent: u8 = inside[..digits].parse().ok().filter(|percent| *percent <= 100)?;
    let words = inside[digits..].strip_prefix('%')?.trim_start();
    if words.starts_with("remaining") {
        Some(100 - percent)
    } else if words.starts_with("completed") {
        Some(percent)
    } else {
        None
    }
}

/// The decimal number that ends `text` (e.g. `"status:\t\t80"` → 80).
fn number_before(text: &str) -> Option<u64> {
    let trimmed = text.trim_end_matches(|c: char| c.is_ascii_digit());
    text[trimmed.len()..].parse().ok()
}
