//! badblocks, emulated over simulated time: the job's stderr and stdout files fill exactly as
//! e2fsprogs 1.47's `badblocks -s -v` writes them (misc/badblocks.c: `test_rw`, `test_ro`,
//! `print_status`, `check_mount`; reference/truenas-api.md §6).

use burnin::remote::{Badblocks, BadblocksMode, files};

use crate::{
    clock::{SimTime, unit},
    host::{HostState, ProcessState},
    scenario::Behaviour,
};

/// `done_string` in badblocks.c: "done" padded to overwrite the status line.
pub const DONE: &str = "done                                                 \n";
const PATTERNS: [u8; 4] = [0xaa, 0x55, 0xff, 0x00];

/// The running program's state.
#[derive(Clone, Debug)]
pub struct SurfaceRun {
    /// The serial of the disk badblocks opened: it keeps that disk, whatever it is renamed to.
    pub serial: String,
    pub params: Badblocks,
    /// Blocks in the test (the device size over `-b`).
    pub blocks: u64,
    /// Simulated seconds one phase (one pass over the disk) takes.
    pub phase_seconds: f64,
    /// Phases already announced; the current one is `phase_started - 1`.
    pub phase_started: usize,
    /// Phases finished with their "done".
    pub phase_done: usize,
    /// Last status percentage printed in the current phase.
    pub last_percent: f64,
    pub bad_blocks: Vec<u64>,
    pub read_errors: u32,
    pub write_errors: u32,
    pub corruption_errors: u32,
    /// Bad blocks the drive will show in the first read phase after this overall fraction,
    /// and whether SMART counts them as reallocated.
    pub planned_failure: Option<(f64, u32, bool)>,
    /// The overall fraction where the test hangs (behaviour `SurfaceStuck`).
    pub stuck_at: Option<f64>,
    pub aborted: bool,
}

impl SurfaceRun {
    pub fn phases(&self) -> usize {
        match self.params.mode {
            BadblocksMode::Destructive => PATTERNS.len() * 2,
            BadblocksMode::NonDestructive | BadblocksMode::ReadOnly => 1,
        }
    }
}

fn append(host: &mut HostState, dir: &str, file: &str, text: &[u8]) {
    host.files.entry(format!("{dir}/{file}")).or_default().extend_from_slice(text);
}

/// `%d:%02d` or `%d:%02d:%02d`, as `time_diff_format` prints elapsed time.
fn elapsed(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    let (hours, minutes, secs) = (total / 3600, (total / 60) % 60, total % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{secs:02}")
    } else {
        format!("{minutes}:{secs:02}")
    }
}

/// One `print_status` line: the text, then as many backspaces as its length.
fn status(percent: f64, seconds: f64, run: &SurfaceRun) -> Vec<u8> {
    let line = format!(
        "{percent:6.2}% done, {} elapsed. ({}/{}/{} errors)",
        elapsed(seconds),
        run.read_errors,
        run.write_errors,
        run.corruption_errors
    );
    let mut bytes = line.clone().into_bytes();
    bytes.extend(std::iter::repeat_n(b'\x08', line.len()));
    bytes
}

fn phase_header(run: &SurfaceRun, phase: usize) -> String {
    match run.params.mode {
        BadblocksMode::Destructive if phase.is_multiple_of(2) => {
            format!("Testing with pattern 0x{:02x}: ", PATTERNS[phase / 2])
        }
        BadblocksMode::Destructive => "Reading and comparing: ".to_owned(),
        BadblocksMode::NonDestructive => {
            "Checking for bad blocks (non-destructive read-write test)\n".to_owned()
        }
        BadblocksMode::ReadOnly => "Checking for bad blocks (read-only test): ".to_owned(),
    }
}

fn is_read_phase(run: &SurfaceRun, phase: usize) -> bool {
    run.params.mode != BadblocksMode::Destructive || !phase.is_multiple_of(2)
}

/// What `badblocks` prints before (or instead of) testing: the refusals, then the header.
/// Returns `Err((stderr, exit code))` when it refuses.
pub fn start(
    host: &HostState,
    params: &Badblocks,
    now: SimTime,
) -> Result<(SurfaceRun, String), (String, i32)> {
    start_on(host, params, params.device.as_str(), now)
}

/// As [`start`], with the device given as `path` (a `/dev/disk/by-id` link or `/dev/sdX`).
pub fn start_on(
    host: &HostState,
    params: &Badblocks,
    path: &str,
    now: SimTime,
) -> Result<(SurfaceRun, String), (String, i32)> {
    let Some(drive) = host.resolve_device(path) else {
        return Err((
            "badblocks: No such file or directory while trying to determine device size\n"
                .to_owned(),
            1,
        ));
    };
    let blocks = drive.spec.size_bytes / u64::from(params.block_size.max(1));
    if blocks >> 32 != 0 {
        // `last_block >> 32` in main(): the ext2 bad block list cannot hold larger numbers.
        return Err((
            format!(
                "badblocks: Value too large for defined data type invalid end block ({blocks}): must be 32-bit value\n"
            ),
            1,
        ));
    }
    if params.mode != BadblocksMode::ReadOnly {
        // check_mount(): ext2fs_check_if_mounted sees a mounted partition or a device held
        // open exclusively (an imported pool member, the boot pool). A member of an EXPORTED
        // pool is neither, so badblocks happily destroys it (reference/anchors.md gotcha 9).
        let serial = &drive.spec.serial;
        if host.imported_pool_of(serial).is_some() || host.is_boot(serial) {
            return Err((
                format!(
                    "{path} is apparently in use by the system; it's not safe to run badblocks!\n"
                ),
                1,
            ));
        }
    }
    let header = match params.mode {
        BadblocksMode::Destructive => {
            format!("Checking for bad blocks in read-write mode\nFrom block 0 to {}\n", blocks - 1)
        }
        BadblocksMode::NonDestructive => {
            format!(
                "Checking for bad blocks in non-destructive read-write mode\nFrom block 0 to {}\n",
                blocks - 1
            )
        }
        BadblocksMode::ReadOnly => format!("Checking blocks 0 to {}\n", blocks - 1),
    };
    let planned_failure = drive.spec.behaviours.iter().find_map(|behaviour| match behaviour {
        Behaviour::FailsSurface { at_percent, bad_blocks, remaps } => {
            Some((at_percent / 100.0, *bad_blocks, *remaps))
        }
        _ => None,
    });
    let stuck_at = drive.spec.behaviours.iter().find_map(|behaviour| match behaviour {
        Behaviour::SurfaceStuck { at_percent } => Some(at_percent / 100.0),
        _ => None,
    });
    let phase_seconds = drive.spec.size_bytes as f64 / (drive.spec.throughput_mb_s.max(1.0) * 1e6);
    let _ = now;
    Ok((
        SurfaceRun {
            serial: drive.spec.serial.clone(),
            params: params.clone(),
            blocks,
            phase_seconds,
            phase_started: 0,
            phase_done: 0,
            last_percent: -1.0,
            bad_blocks: Vec::new(),
            read_errors: 0,
            write_errors: 0,
            corruption_errors: 0,
            planned_failure,
            stuck_at,
            aborted: false,
        },
        header,
    ))
}

/// Brings every running badblocks up to `now`, appending to its log files.
pub fn advance_processes(host: &mut HostState, now: SimTime) {
    let pids: Vec<u32> = host
        .processes
        .iter()
        .filter(|(_, p)| p.state == ProcessState::Running)
        .map(|(pid, _)| *pid)
        .collect();
    for pid in pids {
        let Some(mut process) = host.processes.remove(&pid) else { continue };
        let dir = process.dir.clone();
        let seed = host.seed ^ u64::from(pid);
        let mut run = process.program.clone();
        let phases = run.phases();
        let mut elapsed_total = (now - process.started).max(0.0);
        if let Some(stuck) = run.stuck_at {
            // A hung drive: time passes, the test does not.
            elapsed_total = elapsed_total.min(stuck * phases as f64 * run.phase_seconds);
        }
        let mut stderr: Vec<u8> = Vec::new();
        let mut stdout: Vec<u8> = Vec::new();
        let mut finished = false;
        while !finished {
            let phase = run.phase_done;
            if phase >= phases || run.aborted {
                finished = true;
                break;
            }
            if run.phase_started == phase {
                stderr.extend_from_slice(phase_header(&run, phase).as_bytes());
                run.phase_started = phase + 1;
                run.last_percent = -1.0;
            }
            let phase_start = phase as f64 * run.phase_seconds;
            let into_phase = elapsed_total - phase_start;
            let fraction = (into_phase / run.phase_seconds).clamp(0.0, 1.0);
            // The drive's weak spot shows when a read pass crosses it.
            if let Some((at, count, remaps)) = run.planned_failure
                && is_read_phase(&run, phase)
                && (phase as f64 + fraction) / phases as f64 >= at
            {
                run.planned_failure = None;
                let limit = run.params.max_bad_blocks.map_or(u32::MAX, |max| max);
                let first = (run.blocks as f64
                    * (at * phases as f64 - phase as f64).clamp(0.0, 1.0))
                    as u64;
                for index in 0..count.min(limit) {
                    let block = (first
                        + (unit(seed, 0xbb, u64::from(index)) * 4096.0) as u64
                        + u64::from(index) * 8)
                        .min(run.blocks - 1);
                    run.bad_blocks.push(block);
                    stdout.extend_from_slice(format!("{block}\n").as_bytes());
                    if run.params.mode == BadblocksMode::Destructive {
                        run.corruption_errors += 1;
                    } else {
                        run.read_errors += 1;
                    }
                }
                if let Some(drive) = host.drives.iter_mut().find(|d| d.spec.serial == run.serial)
                    && remaps
                {
                    drive.counters.reallocated += f64::from(count);
                    drive.counters.reported_uncorrectable += f64::from(count.div_ceil(4));
                }
                if run.params.max_bad_blocks.is_some_and(|max| run.bad_blocks.len() as u32 >= max) {
                    stderr.extend_from_slice(b"Too many bad blocks, aborting test\n");
                    stderr.extend_from_slice(DONE.as_bytes());
                    run.aborted = true;
                    finished = true;
                    break;
                }
            }
            let percent = (fraction * 100.0 * 100.0).floor() / 100.0;
            if fraction >= 1.0 {
                if run.last_percent < 100.0 {
                    stderr.extend(status(100.0, phase_start + run.phase_seconds, &run));
                }
                stderr.extend_from_slice(DONE.as_bytes());
                run.phase_done += 1;
                continue;
            }
            // One status line per new whole percent keeps the log realistic without the
            // real tool's one line per second (thousands per simulated hour).
            if percent.floor() > run.last_percent.floor() {
                stderr.extend(status(percent, elapsed_total, &run));
                run.last_percent = percent;
            }
            break;
        }
        let overall = ((run.phase_done as f64)
            + ((elapsed_total - run.phase_done as f64 * run.phase_seconds) / run.phase_seconds)
                .clamp(0.0, 1.0))
            / phases as f64;
        if finished {
            stderr.extend_from_slice(
                format!(
                    "Pass completed, {} bad blocks found. ({}/{}/{} errors)\n",
                    run.bad_blocks.len(),
                    run.read_errors,
                    run.write_errors,
                    run.corruption_errors
                )
                .as_bytes(),
            );
            // badblocks returns 0 whatever it found: the caller must read the list.
            process.state = ProcessState::Exited(0);
            append(host, &dir, files::EXIT_CODE, b"0\n");
        }
        if let Some(drive) = host.drives.iter_mut().find(|d| d.spec.serial == run.serial) {
            drive.surface_fraction = if finished { None } else { Some(overall.min(1.0)) };
        }
        append(host, &dir, files::STDERR, &stderr);
        append(host, &dir, files::STDOUT, &stdout);
        process.program = run;
        host.processes.insert(pid, process);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_time_is_printed_like_badblocks() {
        assert_eq!(elapsed(5.0), "0:05");
        assert_eq!(elapsed(125.0), "2:05");
        assert_eq!(elapsed(3.0 * 3600.0 + 65.0), "3:01:05");
    }
}
