//! Burn-in jobs: a drive's ordered stages, their states and progress, as the engine stores
//! them and the UI and API show them.

use serde::{Deserialize, Serialize};

/// One step of a burn-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    /// The drive on the NAS is the recorded one, SMART is readable, it is not too hot; the
    /// "before" SMART snapshot.
    Precheck,
    ShortTest,
    LongTest,
    ConveyanceTest,
    /// badblocks `-w`: writes and verifies four patterns over the whole drive. Destroys data.
    Surface,
    /// The "after" SMART snapshot.
    FinalCheck,
}

impl StageKind {
    pub const ALL: [StageKind; 6] = [
        StageKind::Precheck,
        StageKind::ShortTest,
        StageKind::LongTest,
        StageKind::ConveyanceTest,
        StageKind::Surface,
        StageKind::FinalCheck,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Precheck => "precheck",
            StageKind::ShortTest => "short_test",
            StageKind::LongTest => "long_test",
            StageKind::ConveyanceTest => "conveyance_test",
            StageKind::Surface => "surface",
            StageKind::FinalCheck => "final_check",
        }
    }

    pub fn parse(s: &str) -> Option<StageKind> {
        StageKind::ALL.into_iter().find(|kind| kind.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            StageKind::Precheck => "Pre-check",
            StageKind::ShortTest => "SMART short test",
            StageKind::LongTest => "SMART long test",
            StageKind::ConveyanceTest => "SMART conveyance test",
            StageKind::Surface => "Surface test (destroys all data)",
            StageKind::FinalCheck => "Final check",
        }
    }

    pub fn is_destructive(self) -> bool {
        self == StageKind::Surface
    }

    /// The stages the operator picks and orders; pre-check and final check always frame them.
    pub fn is_selectable(self) -> bool {
        !matches!(self, StageKind::Precheck | StageKind::FinalCheck)
    }

    /// Relative expected duration, for the overall progress bar: a surface test (eight passes)
    /// dwarfs a long test (one read pass), which dwarfs the rest.
    pub fn weight(self) -> f64 {
        match self {
            StageKind::Precheck | StageKind::FinalCheck => 0.1,
            StageKind::ShortTest => 0.2,
            StageKind::ConveyanceTest => 0.3,
            StageKind::LongTest => 10.0,
            StageKind::Surface => 80.0,
        }
    }
}

/// The stages offered by default: short → long → surface for spinning drives; no surface
/// test for SSD and NVMe, since writing every cell four times wears flash for no insight.
pub fn default_stages(kind: crate::DriveKind) -> Vec<StageKind> {
    match kind {
        crate::DriveKind::Ssd | crate::DriveKind::Nvme => {
            vec![StageKind::ShortTest, StageKind::LongTest]
        }
        _ => vec![StageKind::ShortTest, StageKind::LongTest, StageKind::Surface],
    }
}

/// Frames the chosen stages with pre-check and final check, dropping duplicates and any
/// pre/final check the caller put in the middle.
pub fn plan(chosen: &[StageKind]) -> Vec<StageKind> {
    let mut stages = vec![StageKind::Precheck];
    for kind in chosen {
        if kind.is_selectable() && !stages.contains(kind) {
            stages.push(*kind);
        }
    }
    stages.push(StageKind::FinalCheck);
    stages
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Passed,
    Failed,
    Cancelled,
    /// Ended by something outside the test: the NAS rebooted, the process vanished.
    Interrupted,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Passed,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Passed => "passed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|state| state.as_str() == s)
    }

    pub fn is_active(self) -> bool {
        matches!(self, JobState::Queued | JobState::Running)
    }

    /// The states a job ends in. Every list of them (SQL included) is built from this.
    pub fn terminal() -> impl Iterator<Item = JobState> {
        JobState::ALL.into_iter().filter(|state| !state.is_active())
    }

    /// The active states.
    pub fn active() -> impl Iterator<Item = JobState> {
        JobState::ALL.into_iter().filter(|state| state.is_active())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageState {
    Pending,
    Running,
    Passed,
    Failed,
    Skipped,
    Cancelled,
    Interrupted,
}

impl StageState {
    pub const ALL: [StageState; 7] = [
        StageState::Pending,
        StageState::Running,
        StageState::Passed,
        StageState::Failed,
        StageState::Skipped,
        StageState::Cancelled,
        StageState::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StageState::Pending => "pending",
            StageState::Running => "running",
            StageState::Passed => "passed",
            StageState::Failed => "failed",
            StageState::Skipped => "skipped",
            StageState::Cancelled => "cancelled",
            StageState::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<StageState> {
        StageState::ALL.into_iter().find(|state| state.as_str() == s)
    }

    pub fn is_done(self) -> bool {
        !matches!(self, StageState::Pending | StageState::Running)
    }

    /// The states a stage ends in.
    pub fn done() -> impl Iterator<Item = StageState> {
        StageState::ALL.into_iter().filter(|state| state.is_done())
    }
}

/// Options of the surface stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurfaceOptions {
    /// Stop at this many bad blocks (`-e`); `None` collects the full list for an RMA.
    pub max_bad_blocks: Option<u32>,
}

/// A request to burn in drives, from the UI or the API.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StartRequest {
    pub drive_ids: Vec<i64>,
    /// The chosen stages in order (pre-check and final check are added around them).
    pub stages: Vec<StageKind>,
    /// Who starts it, for the audit log and the certificate. Set by the server to the
    /// signed-in caller; whatever a request sends here is replaced.
    #[serde(default)]
    pub operator: String,
    /// For a destructive start of one drive: its serial, typed by the operator.
    #[serde(default)]
    pub confirm_serial: Option<String>,
    /// For a destructive batch: the phrase from [`batch_phrase`], typed by the operator.
    #[serde(default)]
    pub confirm_phrase: Option<String>,
    #[serde(default)]
    pub surface: SurfaceOptions,
    /// A repeat of a request with the same key returns the first answer and starts nothing
    /// (the API's `Idempotency-Key` header; the start dialog sends one per dialog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// The phrase an operator types to start a destructive batch.
pub fn batch_phrase(count: usize) -> String {
    format!("ERASE {count} DRIVES")
}

/// One stage as shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageView {
    pub position: u32,
    pub kind: StageKind,
    pub state: StageState,
    pub percent: Option<f64>,
    /// A line about where the stage is: "pattern 0x55, reading", "stuck at 10 % for 35 min".
    pub detail: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub bad_blocks: u64,
    pub read_errors: u32,
    pub write_errors: u32,
    pub corruption_errors: u32,
    pub throughput_mb_s: Option<f64>,
    pub eta_seconds: Option<f64>,
    pub stuck: bool,
    /// The end of the tool's output (badblocks' status, smartctl's messages).
    pub log_tail: String,
    /// The bad block numbers badblocks reported (in its block size), at most the first 1,000.
    #[serde(default)]
    pub bad_block_list: Vec<u64>,
    /// badblocks' block size, to turn block numbers into byte offsets.
    #[serde(default)]
    pub block_size: Option<u32>,
    /// The stage's full output, as kept by the dashboard (`GET
    /// /api/v1/burnin/{id}/stages/{position}/output/{stream}`).
    #[serde(default)]
    pub outputs: Vec<StageOutput>,
}

/// One stream of a stage's output, kept after the NAS's folder was removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageOutput {
    /// `stderr` (badblocks' messages and progress), `stdout` (its bad block list) or
    /// `smartctl` (every smartctl call of the stage, with its answer).
    pub stream: String,
    /// Bytes the stream had.
    pub bytes: u64,
    /// Bytes left out between its kept head and tail.
    pub omitted: u64,
}

/// The host settings a job started with, kept with the job (no secrets).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConfig {
    pub host_name: String,
    pub api_url: String,
    pub ssh_host: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub truenas_version: Option<String>,
    pub ssh_host_key_fingerprint: Option<String>,
}

/// A job as shown by the drawer's Burn-In tab and `GET /api/v1/burnin/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub id: i64,
    pub drive_id: i64,
    pub drive_serial: String,
    pub host_name: String,
    pub state: JobState,
    pub operator: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Overall progress, weighted by expected stage durations.
    pub percent: f64,
    pub eta_seconds: Option<f64>,
    /// Why the job ended the way it did.
    pub reason: Option<String>,
    pub stages: Vec<StageView>,
    /// Pass / warn / fail with its reasons, recomputed from the stored evidence on every
    /// read (`burnin::verdict`).
    #[serde(default)]
    pub verdict: Option<crate::verdict::Verdict>,
    /// Temperatures sampled during the job, oldest first, thinned to at most 120 points.
    #[serde(default)]
    pub temperatures: Vec<f64>,
    /// A cancel was asked for and the job is stopping its remote work; it reads as cancelled
    /// only once that work is confirmed gone.
    #[serde(default)]
    pub cancel_requested: bool,
    /// Whether the verdict is the one the job was judged with when it ended (kept, never
    /// recomputed) or computed now for a job still open.
    #[serde(default)]
    pub verdict_final: bool,
    /// The host settings the job started with.
    #[serde(default)]
    pub host_config: Option<HostConfig>,
}

/// What a cancel did to one job; cancel-all answers one per job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResult {
    pub job_id: i64,
    pub drive_serial: String,
    pub host_name: String,
    /// `cancelled` (it was queued), `stopping` (its work on the NAS is being stopped; it reads
    /// as cancelled once that is confirmed), `already_ended`, or `error`.
    pub outcome: String,
    pub message: String,
}

/// The running job's headline, carried in the drive row for the table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobProgress {
    pub job_id: i64,
    pub state: JobState,
    pub stage: Option<StageKind>,
    pub percent: f64,
    pub stage_percent: Option<f64>,
    pub eta_seconds: Option<f64>,
    pub stuck: bool,
    pub bad_blocks: u64,
    /// A cancel is under way (the remote work is being stopped).
    #[serde(default)]
    pub stopping: bool,
}

/// Overall percent from stage states and percents, weighted by expected duration.
pub fn overall_percent(stages: &[(StageKind, StageState, Option<f64>)]) -> f64 {
    let total: f64 = stages.iter().map(|(kind, _, _)| kind.weight()).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let done: f64 = stages
        .iter()
        .map(|(kind, state, percent)| match state {
            StageState::Pending => 0.0,
            StageState::Running => kind.weight() * percent.unwrap_or(0.0).clamp(0.0, 100.0) / 100.0,
            _ => kind.weight(),
        })
        .sum();
    (done / total * 100.0).clamp(0.0, 100.0)
}

/// "2 h 05 min", "45 min", "3 d 4 h": how long is left.
pub fn duration_text(seconds: f64) -> String {
    let seconds = seconds.max(0.0) as u64;
    let (days, hours, minutes) = (seconds / 86_400, (seconds / 3600) % 24, (seconds / 60) % 60);
    match (days, hours) {
        (0, 0) if minutes == 0 => format!("{seconds} s"),
        (0, 0) => format!("{minutes} min"),
        (0, h) => format!("{h} h {minutes:02} min"),
        (d, h) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_framed_by_the_checks_without_duplicates() {
        assert_eq!(
            plan(&[
                StageKind::Surface,
                StageKind::ShortTest,
                StageKind::Surface,
                StageKind::Precheck
            ]),
            [StageKind::Precheck, StageKind::Surface, StageKind::ShortTest, StageKind::FinalCheck]
        );
        assert_eq!(plan(&[]), [StageKind::Precheck, StageKind::FinalCheck]);
    }

    #[test]
    fn flash_gets_no_surface_test_by_default() {
        assert!(!default_stages(crate::DriveKind::Nvme).contains(&StageKind::Surface));
        assert!(!default_stages(crate::DriveKind::Ssd).contains(&StageKind::Surface));
        assert_eq!(
            default_stages(crate::DriveKind::Hdd),
            [StageKind::ShortTest, StageKind::LongTest, StageKind::Surface]
        );
    }

    #[test]
    fn overall_progress_is_weighted_by_expected_duration() {
        let stages = [
            (StageKind::Precheck, StageState::Passed, None),
            (StageKind::ShortTest, StageState::Passed, None),
            (StageKind::LongTest, StageState::Passed, None),
            (StageKind::Surface, StageState::Running, Some(50.0)),
            (StageKind::FinalCheck, StageState::Pending, None),
        ];
        let percent = overall_percent(&stages);
        assert!((percent - (10.3 + 40.0) / 90.4 * 100.0).abs() < 0.01, "{percent}");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(30.0), "30 s");
        assert_eq!(duration_text(600.0), "10 min");
        assert_eq!(duration_text(7500.0), "2 h 05 min");
        assert_eq!(duration_text(3.0 * 86_400.0 + 4.0 * 3600.0), "3 d 4 h");
    }
}

/// The latest smartctl report of a drive, for the SMART tab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmartSnapshot {
    pub taken_at: String,
    /// smartctl's JSON as the drive answered it.
    pub raw_json: String,
}
