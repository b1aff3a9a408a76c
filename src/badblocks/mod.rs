//! badblocks' output, read incrementally as it streams from the NAS.
//!
//! Formats from `E2@HEAD:misc/badblocks.c` (e2fsprogs), checked against a real run
//! (reference/truenas-api.md §6):
//! - stdout (or `-o file`): one bad block number per line, in `-b` units.
//! - stderr: everything else. The `-s` progress line `"%6.2f%% done, %s elapsed. (%d/%d/%d
//!   errors)"` is redrawn every second by writing it and then exactly as many backspaces as it
//!   is wide, with no newline (`print_status`). Phase markers such as `"Testing with pattern
//!   0xaa: "` are written without a newline either, right before the first progress line.
//!
//! So stderr is split on both `\x08` and `\n`. Chunks may end anywhere (inside a line, a
//! backspace run or a UTF-8 sequence); the events are the same however the stream is cut.
//! A phase marker is reported as soon as it is complete, without waiting for the end of its
//! segment: without `-s` the next separator only comes when the phase ends, hours later.
//!
//! The messages are badblocks' English ones: run it with `LC_ALL=C`.

mod block_size;
mod progress;

pub use block_size::{MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, choose_block_size};
pub use progress::{KEPT_BAD_BLOCKS, SurfaceProgress};

use serde::{Deserialize, Serialize};

/// A segment longer than this is not badblocks output (its longest line is ~80 bytes); only its
/// first bytes are kept, so garbage cannot grow the buffer without bound.
const MAX_SEGMENT: usize = 4096;

/// The default `-w` patterns are `0xaa, 0x55, 0xff, 0x00` (`test_rw`).
const DEFAULT_PATTERNS: u32 = 4;

/// Something badblocks reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BadblocksEvent {
    /// `-v`: "From block %lu to %lu" (read-write modes) or "Checking blocks %lu to %lu"
    /// (read-only). `last_block` is the last block tested, inclusive.
    Header { first_block: u64, last_block: u64 },
    /// A phase began. Phases count from 1 within a pass; with `-w` and the four default
    /// patterns a pass has 8 (write 0xaa, read, write 0x55, read, ...).
    PhaseStarted {
        phase: u32,
        /// The pattern written (or compared, in read-only `-t` mode); `None` for the read phase,
        /// the random pattern, patterns wider than a byte and the plain read-only test.
        pattern: Option<u8>,
        kind: PhaseKind,
    },
    /// A `-s` progress line for the current phase (0 before any phase marker).
    Progress {
        phase: u32,
        /// Percent of the current phase, 0–100.
        percent: f32,
        elapsed_secs: u64,
        read_errors: u32,
        write_errors: u32,
        corruption_errors: u32,
    },
    /// `-v`: "Pass completed, %u bad blocks found. (%d/%d/%d errors)".
    PassCompleted { bad_blocks: u64, read_errors: u32, write_errors: u32, corruption_errors: u32 },
    /// A bad block number from stdout, in `-b` units.
    BadBlock(u64),
    /// `-e N` reached: "Too many bad blocks, aborting test". With `-w` badblocks then still
    /// walks the remaining phases, each stopping at once.
    TooManyBadBlocks,
    /// Killed by a signal: "Interrupted at block N", or `-n`'s "Interrupt caught, cleaning up".
    Interrupted { at_block: Option<u64> },
    /// badblocks would not start.
    Refused { reason: Refusal },
}

/// Why badblocks refused to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    /// "invalid end block (N): must be 32-bit value": the block count needs 33 bits; choose a
    /// larger `-b` ([`choose_block_size`]).
    EndBlockNot32Bit { end_block: u64 },
    /// "invalid starting block (N): must be less than M" (seen when the device size reads as
    /// 0: ezonakiusagi/bht issue 18).
    InvalidStartingBlock { first_block: u64, limit: Option<u64> },
    /// "DEV is mounted; it's not safe to run badblocks!"
    Mounted { device: String },
    /// "DEV is apparently in use by the system; it's not safe to run badblocks!"
    InUse { device: String },
    /// "... while trying to open DEV": permissions, or the device is held exclusively.
    CannotOpen { message: String },
}

/// What a phase does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// `-w`: write a pattern over the whole range.
    Write,
    /// `-w`: read back and compare.
    ReadCompare,
    /// The read-only test (no `-w`/`-n`).
    ReadOnly,
    /// `-n`: save, write, read back, compare, restore, per block group; one phase per pattern.
    NonDestructive,
}

/// Which test badblocks announced, from its mode lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestMode {
    /// `-w`. Without `-v` badblocks prints no mode line, so `Unknown` is treated as this.
    Destructive,
    /// `-n`.
    NonDestructive,
    ReadOnly,
    #[default]
    Unknown,
}

/// Incremental reader of one badblocks run's stdout and stderr.
#[derive(Clone, Debug, PartialEq)]
pub struct BadblocksParser {
    patterns: u32,
    stderr: Segment,
    stdout: Segment,
    mode: TestMode,
    phase: u32,
    phase_percent: f32,
    phase_done: bool,
    pass_completed: bool,
}

impl Default for BadblocksParser {
    fn default() -> BadblocksParser {
        BadblocksParser::with_patterns(DEFAULT_PATTERNS)
    }
}

impl BadblocksParser {
    /// A parser for a run with `patterns` test patterns (`-t` given that many times); the
    /// default is badblocks' four. Only [`BadblocksParser::overall_percent`] depends on it.
    pub fn with_patterns(patterns: u32) -> BadblocksParser {
        BadblocksParser {
            patterns: patterns.max(1),
            stderr: Segment::default(),
            stdout: Segment::default(),
            mode: TestMode::Unknown,
            phase: 0,
            phase_percent: 0.0,
            phase_done: false,
            pass_completed: false,
        }
    }

    /// Reads the next bytes of stderr.
    pub fn feed_stderr(&mut self, bytes: &[u8]) -> Vec<BadblocksEvent> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&byte| byte == b'\n' || byte == 0x08) {
            self.stderr.push(&rest[..end]);
            self.take_markers(&mut events);
            if !self.stderr.overflowed {
                let line = String::from_utf8_lossy(&self.stderr.bytes[self.stderr.consumed..])
                    .into_owned();
                self.read_line(&line, &mut events);
            }
            self.stderr.clear();
            rest = &rest[end + 1..];
        }
        self.stderr.push(rest);
        self.take_markers(&mut events);
        events
    }

    /// Reads the next bytes of stdout: bad block numbers, one per line.
    pub fn feed_stdout(&mut self, bytes: &[u8]) -> Vec<BadblocksEvent> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&byte| byte == b'\n') {
            self.stdout.push(&rest[..end]);
            let line = String::from_utf8_lossy(&self.stdout.bytes);
            if let (false, Ok(block)) = (self.stdout.overflowed, line.trim().parse::<u64>()) {
                events.push(BadblocksEvent::BadBlock(block));
            }
            self.stdout.clear();
            rest = &rest[end + 1..];
        }
        self.stdout.push(rest);
        events
    }

    /// The test badblocks announced.
    pub fn mode(&self) -> TestMode {
        self.mode
    }

    /// The current phase within the pass (0 before the first).
    pub fn phase(&self) -> u32 {
        self.phase
    }

    /// Percent of the current pass done: `(phase_index + phase_percent / 100) / phases × 100`,
    /// with 8 phases for `-w` (two per pattern), one per pattern for `-n` and one for
    /// read-only (reference/truenas-api.md §6). 100 once "Pass completed" is seen.
    pub fn overall_percent(&self) -> f32 {
        if self.phase == 0 {
            return if self.pass_completed { 100.0 } else { 0.0 };
        }
        let phases = match self.mode {
            TestMode::ReadOnly => 1,
            TestMode::NonDestructive => self.patterns,
            TestMode::Destructive | TestMode::Unknown => self.patterns.saturating_mul(2),
        };
        let index = (self.phase - 1) % phases;
        let fraction =
            if self.phase_done { 1.0 } else { (self.phase_percent / 100.0).clamp(0.0, 1.0) };
        ((index as f32 + fraction) / phases as f32 * 100.0).min(100.0)
    }

    /// Reports the phase markers at the start of the unread part of the current segment. A
    /// marker is reported once its last byte has arrived, which is the same moment however the
    /// stream is chunked; a partial one stays unread, and if its segment ends first the line
    /// reader finds nothing in it.
    fn take_markers(&mut self, events: &mut Vec<BadblocksEvent>) {
        loop {
            let rest = &self.stderr.bytes[self.stderr.consumed..];
            let (length, marker) = match match_marker(rest) {
                MarkerMatch::Complete(length, marker) => (length, marker),
                MarkerMatch::Partial | MarkerMatch::NoMatch => return,
            };
            self.stderr.consumed += length;
            let (kind, pattern) = match marker {
                Marker::Pattern(pattern) => (
                    match self.mode {
                        TestMode::ReadOnly => PhaseKind::ReadOnly,
                        TestMode::NonDestructive => PhaseKind::NonDestructive,
                        TestMode::Destructive | TestMode::Unknown => PhaseKind::Write,
                    },
                    pattern,
                ),
                Marker::ReadingAndComparing => (PhaseKind::ReadCompare, None),
                Marker::ReadOnlyTest => {
                    self.mode = TestMode::ReadOnly;
                    (PhaseKind::ReadOnly, None)
                }
            };
            self.phase = self.phase.saturating_add(1);
            self.phase_percent = 0.0;
            self.phase_done = false;
            self.pass_completed = false;
            events.push(BadblocksEvent::PhaseStarted { phase: self.phase, pattern, kind });
        }
    }

    /// Reads one complete stderr segment (after any markers).
    fn read_line(&mut self, line: &str, events: &mut Vec<BadblocksEvent>) {
        if let Some(event) = self.progress(line) {
            events.push(event);
        } else if let Some((first_block, last_block)) = header(line) {
            events.push(BadblocksEvent::Header { first_block, last_block });
        } else if line.contains("non-destructive read-write") {
            self.mode = TestMode::NonDestructive;
        } else if line.contains("Checking for bad blocks in read-write mode") {
            self.mode = TestMode::Destructive;
        } else if line.contains("Checking for bad blocks in read-only mode") {
            self.mode = TestMode::ReadOnly;
        } else if let Some(event) = pass_completed(line) {
            self.phase = 0;
            self.pass_completed = true;
            events.push(event);
        } else if line.contains("Too many bad blocks, aborting test") {
            events.push(BadblocksEvent::TooManyBadBlocks);
        } else if let Some(event) = interrupted(line) {
            events.push(event);
        } else if let Some(reason) = refusal(line) {
            events.push(BadblocksEvent::Refused { reason });
        } else if line.trim_start().starts_with("done") {
            self.phase_done = true;
        }
    }

    fn progress(&mut self, line: &str) -> Option<BadblocksEvent> {
        let at = line.find("% done, ")?;
        let before = &line[..at];
        let number =
            &before[before.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.').len()..];
        let percent: f32 = number.parse().ok().filter(|percent: &f32| percent.is_finite())?;
        let after = &line[at + "% done, ".len()..];
        let (elapsed, after) = after.split_once(" elapsed. (")?;
        let (read_errors, write_errors, corruption_errors) =
            error_counts(after.strip_suffix(" errors)").unwrap_or(after))?;
        self.phase_percent = percent;
        Some(BadblocksEvent::Progress {
            phase: self.phase,
            percent,
            elapsed_secs: elapsed_seconds(elapsed)?,
            read_errors,
            write_errors,
            corruption_errors,
        })
    }
}

/// Bytes of one stream since its last separator.
#[derive(Clone, Debug, Default, PartialEq)]
struct Segment {
    bytes: Vec<u8>,
    /// Bytes at the front already reported as phase markers.
    consumed: usize,
    /// More than [`MAX_SEGMENT`] bytes arrived; the rest were dropped.
    overflowed: bool,
}

impl Segment {
    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_SEGMENT - self.bytes.len();
        self.overflowed |= bytes.len() > room;
        self.bytes.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.consumed = 0;
        self.overflowed = false;
    }
}

enum Marker {
    Pattern(Option<u8>),
    ReadingAndComparing,
    ReadOnlyTest,
}

enum MarkerMatch {
    Complete(usize, Marker),
    /// The bytes so far could still become a marker.
    Partial,
    NoMatch,
}

/// Matches a phase marker at the start of `bytes` (`pattern_fill`, `test_rw`, `test_ro`).
fn match_marker(bytes: &[u8]) -> MarkerMatch {
    const FIXED: [(&[u8], Marker); 3] = [
        (b"Reading and comparing: ", Marker::ReadingAndComparing),
        (b"Checking for bad blocks (read-only test): ", Marker::ReadOnlyTest),
        (b"Testing with random pattern: ", Marker::Pattern(None)),
    ];
    let mut partial = false;
    for (text, marker) in FIXED {
        if bytes.starts_with(text) {
            return MarkerMatch::Complete(text.len(), marker);
        }
        partial |= text.starts_with(bytes);
    }
    const PATTERN: &[u8] = b"Testing with pattern 0x";
    if let Some(rest) = bytes.strip_prefix(PATTERN) {
        // `fprintf(stderr, "%02x", ...)` per byte of the pattern, then ": ".
        let digits = rest.iter().take_while(|byte| byte.is_ascii_hexdigit()).count();
        return match &rest[digits..] {
            [b':', b' ', ..] if digits > 0 => {
                let hex = String::from_utf8_lossy(&rest[..digits]);
                let pattern = if digits <= 2 { u8::from_str_radix(&hex, 16).ok() } else { None };
                MarkerMatch::Complete(PATTERN.len() + digits + 2, Marker::Pattern(pattern))
            }
            [] | [b':'] => MarkerMatch::Partial,
            _ => MarkerMatch::NoMatch,
        };
    }
    partial |= PATTERN.starts_with(bytes);
    if partial { MarkerMatch::Partial } else { MarkerMatch::NoMatch }
}

/// "From block A to B" or "Checking blocks A to B".
fn header(line: &str) -> Option<(u64, u64)> {
    let rest = ["From block ", "Checking blocks "]
        .into_iter()
        .find_map(|prefix| line.find(prefix).map(|at| &line[at + prefix.len()..]))?;
    let (first, last) = rest.split_once(" to ")?;
    Some((first.trim().parse().ok()?, last.trim().parse().ok()?))
}

/// "Pass completed, N bad blocks found. (r/w/c errors)".
fn pass_completed(line: &str) -> Option<BadblocksEvent> {
    let rest = &line[line.find("Pass completed, ")? + "Pass completed, ".len()..];
    let (count, rest) = rest.split_once(" bad blocks found. (")?;
    let (read_errors, write_errors, corruption_errors) =
        error_counts(rest.strip_suffix(" errors)").unwrap_or(rest))?;
    Some(BadblocksEvent::PassCompleted {
        bad_blocks: count.trim().parse().ok()?,
        read_errors,
        write_errors,
        corruption_errors,
    })
}

fn interrupted(line: &str) -> Option<BadblocksEvent> {
    if let Some(at) = line.find("Interrupted at block ") {
        let block = line[at + "Interrupted at block ".len()..].trim().parse().ok();
        return Some(BadblocksEvent::Interrupted { at_block: block });
    }
    line.contains("Interrupt caught, cleaning up")
        .then_some(BadblocksEvent::Interrupted { at_block: None })
}

fn refusal(line: &str) -> Option<Refusal> {
    if let Some(number) = between(line, "invalid end block (", "): must be 32-bit value") {
        return Some(Refusal::EndBlockNot32Bit { end_block: number.trim().parse().ok()? });
    }
    if let Some(number) = between(line, "invalid starting block (", ")") {
        let limit =
            line.split_once("must be less than ").and_then(|(_, limit)| limit.trim().parse().ok());
        return Some(Refusal::InvalidStartingBlock {
            first_block: number.trim().parse().ok()?,
            limit,
        });
    }
    if line.contains("it's not safe to run badblocks!") {
        if let Some((device, _)) = line.split_once(" is mounted; ") {
            return Some(Refusal::Mounted { device: device.trim().to_owned() });
        }
        if let Some((device, _)) = line.split_once(" is apparently in use by the system; ") {
            return Some(Refusal::InUse { device: device.trim().to_owned() });
        }
    }
    line.contains("while trying to open ")
        .then(|| Refusal::CannotOpen { message: line.trim().to_owned() })
}

/// The text between `start` and the next `end`.
fn between<'a>(line: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &line[line.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// "r/w/c" (read / write / corruption).
fn error_counts(text: &str) -> Option<(u32, u32, u32)> {
    let mut counts = text.trim().splitn(3, '/').map(|count| count.trim().parse::<u32>().ok());
    Some((counts.next()??, counts.next()??, counts.next()??))
}

/// "M:SS" or "H:MM:SS" (`time_diff_format`).
fn elapsed_seconds(text: &str) -> Option<u64> {
    let parts: Vec<u64> = text.trim().split(':').map(str::parse).collect::<Result<_, _>>().ok()?;
    match parts.as_slice() {
        [minutes, seconds] => minutes.checked_mul(60)?.checked_add(*seconds),
        [hours, minutes, seconds] => {
            hours.checked_mul(3600)?.checked_add(minutes.checked_mul(60)?)?.checked_add(*seconds)
        }
        _ => None,
    }
}
