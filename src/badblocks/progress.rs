//! The surface stage's state, folded from badblocks' output as it is read off the NAS: where the
//! test stands (phase, percent), what it found (bad blocks, error counts), how fast it goes by
//! the NAS's own clock (badblocks' elapsed time, so a dashboard restart or a slow link does not
//! skew it) and how long is left. Pure: the engine feeds it bytes and shows what it says.

use super::{BadblocksEvent, BadblocksParser, PhaseKind};
use crate::verdict::SurfaceRun;

/// The most bad block numbers kept for the record; the count goes on past it.
pub const KEPT_BAD_BLOCKS: usize = 10_000;

/// A rate is taken over at least this much of badblocks' time, so one status line's rounding
/// does not make it jump.
const RATE_WINDOW_SECS: u64 = 10;

#[derive(Clone, Debug, PartialEq)]
pub struct SurfaceProgress {
    parser: BadblocksParser,
    size_bytes: u64,
    pub bad_blocks: u64,
    /// The first [`KEPT_BAD_BLOCKS`] bad block numbers, in `-b` units.
    pub bad_block_list: Vec<u64>,
    pub read_errors: u32,
    pub write_errors: u32,
    pub corruption_errors: u32,
    /// `Pass completed` was seen.
    pub completed: bool,
    /// `-e` was reached.
    pub too_many: bool,
    pub refusal: Option<String>,
    /// Where the test is, in words: "phase 3 of 8: writing pattern 0x55".
    pub detail: String,
    /// badblocks' last status or message line.
    pub last_line: String,
    /// (phase, percent of phase, badblocks' elapsed seconds) where the rate was last taken.
    anchor: Option<(u32, f32, u64)>,
    /// MB/s by the NAS's clock, within one phase.
    pub throughput_mb_s: Option<f64>,
}

impl SurfaceProgress {
    /// For a disk of `size_bytes`, tested with badblocks' four default patterns.
    pub fn new(size_bytes: u64) -> SurfaceProgress {
        SurfaceProgress {
            parser: BadblocksParser::default(),
            size_bytes,
            bad_blocks: 0,
            bad_block_list: Vec::new(),
            read_errors: 0,
            write_errors: 0,
            corruption_errors: 0,
            completed: false,
            too_many: false,
            refusal: None,
            detail: String::new(),
            last_line: String::new(),
            anchor: None,
            throughput_mb_s: None,
        }
    }

    /// Takes the next bytes of badblocks' stdout and stderr, cut anywhere.
    pub fn feed(&mut self, stdout: &[u8], stderr: &[u8]) {
        let mut events = self.parser.feed_stderr(stderr);
        events.extend(self.parser.feed_stdout(stdout));
        for segment in String::from_utf8_lossy(stderr).split(['\n', '\x08']) {
            let segment = segment.trim();
            if !segment.is_empty() {
                self.last_line = segment.to_owned();
            }
        }
        for event in events {
            self.apply(event);
        }
    }

    fn apply(&mut self, event: BadblocksEvent) {
        match event {
            BadblocksEvent::BadBlock(block) => {
                self.bad_blocks += 1;
                if self.bad_block_list.len() < KEPT_BAD_BLOCKS {
                    self.bad_block_list.push(block);
                }
            }
            BadblocksEvent::Progress {
                phase,
                percent,
                elapsed_secs,
                read_errors,
                write_errors,
                corruption_errors,
            } => {
                // Measured within one phase, so it holds whether badblocks counts time per
                // phase or per run.
                match self.anchor {
                    Some((p, start_pct, start_s))
                        if p == phase && elapsed_secs >= start_s + RATE_WINDOW_SECS =>
                    {
                        let bytes = f64::from(percent - start_pct).max(0.0) / 100.0
                            * self.size_bytes as f64;
                        self.throughput_mb_s = Some(bytes / (elapsed_secs - start_s) as f64 / 1e6);
                        self.anchor = Some((phase, percent, elapsed_secs));
                    }
                    Some((p, _, _)) if p == phase => {}
                    _ => self.anchor = Some((phase, percent, elapsed_secs)),
                }
                self.read_errors = read_errors;
                self.write_errors = write_errors;
                self.corruption_errors = corruption_errors;
            }
            BadblocksEvent::PassCompleted {
                read_errors, write_errors, corruption_errors, ..
            } => {
                self.read_errors = read_errors;
                self.write_errors = write_errors;
                self.corruption_errors = corruption_errors;
                self.completed = true;
            }
            BadblocksEvent::TooManyBadBlocks => self.too_many = true,
            BadblocksEvent::Refused { reason } => self.refusal = Some(format!("{reason:?}")),
            BadblocksEvent::PhaseStarted { phase, pattern, kind } => {
                self.detail = match (kind, pattern) {
                    (PhaseKind::Write, Some(p)) => {
                        format!("phase {phase} of 8: writing pattern 0x{p:02x}")
                    }
                    (PhaseKind::ReadCompare, _) => {
                        format!("phase {phase} of 8: reading and comparing")
                    }
                    _ => format!("phase {phase}"),
                };
            }
            _ => {}
        }
    }

    /// Percent of the whole test (all phases).
    pub fn percent(&self) -> f64 {
        f64::from(self.parser.overall_percent())
    }

    /// Seconds left at the measured rate: the rest of eight passes over the disk.
    pub fn eta_seconds(&self) -> Option<f64> {
        let rate = self.throughput_mb_s.filter(|r| *r > 0.0)?;
        let left = (100.0 - self.percent()).max(0.0) / 100.0 * 8.0 * self.size_bytes as f64;
        Some(left / (rate * 1e6)).filter(|eta| eta.is_finite())
    }

    /// What the finished run left, for [`crate::verdict::surface_outcome`].
    pub fn finished(&self, exit_code: i32) -> SurfaceRun {
        SurfaceRun {
            exit_code,
            refusal: self.refusal.clone(),
            completed: self.completed,
            stopped_at_limit: self.too_many,
            bad_blocks: self.bad_blocks,
            read_errors: self.read_errors,
            write_errors: self.write_errors,
            corruption_errors: self.corruption_errors,
            first_bad_blocks: self.bad_block_list.iter().take(5).copied().collect(),
            last_line: self.last_line.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn status(percent: f32, elapsed: &str, errors: (u32, u32, u32)) -> Vec<u8> {
        let line = format!(
            "{percent:6.2}% done, {elapsed} elapsed. ({}/{}/{} errors)",
            errors.0, errors.1, errors.2
        );
        let mut bytes = line.clone().into_bytes();
        bytes.extend(std::iter::repeat_n(b'\x08', line.len()));
        bytes
    }

    #[test]
    fn a_run_is_folded_to_phase_percent_rate_and_eta_by_the_nas_clock() {
        let mut progress = SurfaceProgress::new(100 * GIB);
        progress
            .feed(b"", b"Checking for bad blocks in read-write mode\nFrom block 0 to 26214399\n");
        progress.feed(b"", b"Testing with pattern 0xaa: ");
        progress.feed(b"", &status(0.0, "0:00", (0, 0, 0)));
        assert_eq!(progress.detail, "phase 1 of 8: writing pattern 0xaa");
        assert_eq!(progress.throughput_mb_s, None, "no rate from a single line");
        assert_eq!(progress.eta_seconds(), None);
        // 10 % of 100 GiB in 50 s of the NAS's time: 214.7 MB/s, however long the dashboard
        // took to read it.
        progress.feed(b"", &status(10.0, "0:50", (0, 0, 0)));
        let rate = progress.throughput_mb_s.expect("a rate");
        assert!((rate - 214.748).abs() < 0.01, "{rate}");
        assert!((progress.percent() - 1.25).abs() < 1e-9, "{}", progress.percent());
        let eta = progress.eta_seconds().expect("an ETA");
        // 98.75 % of 8 × 100 GiB at that rate.
        assert!((eta - 0.9875 * 8.0 * 100.0 * GIB as f64 / (rate * 1e6)).abs() < 1.0, "{eta}");
    }

    #[test]
    fn bad_blocks_and_error_counts_are_kept_and_the_list_is_capped() {
        let mut progress = SurfaceProgress::new(GIB);
        let many: String = (0..(KEPT_BAD_BLOCKS as u64 + 5)).map(|b| format!("{b}\n")).collect();
        progress.feed(many.as_bytes(), b"Reading and comparing: ");
        progress.feed(b"", &status(50.0, "1:00", (0, 0, 3)));
        assert_eq!(progress.bad_blocks, KEPT_BAD_BLOCKS as u64 + 5);
        assert_eq!(progress.bad_block_list.len(), KEPT_BAD_BLOCKS);
        assert_eq!(progress.corruption_errors, 3);
        progress.feed(b"", b"done                                                 \nPass completed, 10005 bad blocks found. (0/0/3 errors)\n");
        let run = progress.finished(0);
        assert!(run.completed);
        assert_eq!(run.first_bad_blocks, [0, 1, 2, 3, 4]);
        assert_eq!(run.last_line, "Pass completed, 10005 bad blocks found. (0/0/3 errors)");
    }

    #[test]
    fn the_fold_is_the_same_however_the_stream_is_cut() {
        let mut stream = b"Checking for bad blocks in read-write mode\nFrom block 0 to 262143\nTesting with pattern 0xaa: ".to_vec();
        stream.extend(status(0.0, "0:00", (0, 0, 0)));
        stream.extend(status(40.0, "0:20", (0, 0, 0)));
        stream.extend(
            b"done                                                 \nReading and comparing: ",
        );
        stream.extend(status(70.0, "0:55", (1, 0, 2)));
        let whole = {
            let mut p = SurfaceProgress::new(GIB);
            p.feed(b"7\n9\n", &stream);
            p
        };
        for cut in [1, 7, 33, 64, 100] {
            let mut p = SurfaceProgress::new(GIB);
            for (i, chunk) in stream.chunks(cut).enumerate() {
                p.feed(if i == 0 { b"7\n9\n" } else { b"" }, chunk);
            }
            assert_eq!(p.percent(), whole.percent(), "cut {cut}");
            assert_eq!(p.bad_block_list, whole.bad_block_list, "cut {cut}");
            assert_eq!(p.detail, whole.detail, "cut {cut}");
            assert_eq!(p.throughput_mb_s, whole.throughput_mb_s, "cut {cut}");
            assert_eq!(
                (p.read_errors, p.corruption_errors),
                (whole.read_errors, whole.corruption_errors),
                "cut {cut}"
            );
        }
        assert_eq!(whole.detail, "phase 2 of 8: reading and comparing");
    }

    #[test]
    fn a_refusal_and_the_limit_are_noted_for_the_outcome() {
        let mut refused = SurfaceProgress::new(GIB);
        refused.feed(
            b"",
            b"/dev/sdb is apparently in use by the system; it's not safe to run badblocks!\n",
        );
        assert!(refused.finished(1).refusal.is_some());
        let mut limited = SurfaceProgress::new(GIB);
        limited.feed(b"1\n2\n", b"Reading and comparing: Too many bad blocks, aborting test\n");
        let run = limited.finished(0);
        assert!(run.stopped_at_limit && !run.completed);
        assert_eq!(run.bad_blocks, 2);
    }
}
