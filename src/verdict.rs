//! The verdict: from a burn-in's evidence to pass / warn / fail, with every reason naming the
//! evidence behind it. Pure. A running job's verdict is computed from its evidence whenever it
//! is shown; a finished job keeps the verdict (and the thresholds) it was judged with, so a
//! report handed to a vendor never changes after the fact (reference/anchors.md: Scrutiny's
//! verdicts latch and mis-bucket single pending sectors; here nothing latches while a job runs
//! and nothing is rewritten once it ends).
//!
//! Rules, in the order their reasons are listed:
//! - a self-test, the surface test or a check that failed fails the drive, with its detail;
//! - more bad blocks than `max_bad_blocks` fail it (default 0); fewer than that warn, and the
//!   surface stage itself passes ([`surface_outcome`]);
//! - SMART overall health FAILED (before or after) fails it;
//! - deltas between the before and after snapshots: ATA reallocated (5), reported
//!   uncorrectable (187), command timeouts (188, Seagate's three packed 16-bit counters
//!   unpacked), current pending (197) and offline uncorrectable (198) fail on any increase;
//!   UDMA CRC errors (199) warn ("check the cable"); spin retries (10) warn;
//!   SAS grown defects and uncorrected read/write/verify errors fail on any increase;
//!   NVMe media errors fail on any increase;
//! - damage the drive carried before the run warns, alike for every protocol and naming its
//!   count: ATA reallocated, pending, offline uncorrectable and reported uncorrectable
//!   sectors; SAS grown defects and uncorrected errors; NVMe media errors and error-log
//!   entries. A used drive never passes silently;
//! - end state: pending sectors still there after every sector was rewritten fail; an NVMe
//!   critical warning or available spare below its threshold fails; NVMe wear at 100 % warns;
//! - the hottest temperature seen warns at the kind's `crit_c` and fails at its `fail_c`
//!   ([`crate::TemperatureTable`], the same table the engine stops jobs by).

use serde::{Deserialize, Serialize};

use crate::{
    DriveKind, SmartHealth, TemperatureTable,
    job::{JobState, StageKind, StageState, StageView},
    smart::SmartReport,
};

/// The settings the verdict applies. Stored by the server; these are the defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Thresholds {
    /// Bad blocks tolerated by the surface test before the drive fails.
    pub max_bad_blocks: u64,
    /// Temperature limits per kind of drive.
    pub temperatures: TemperatureTable,
}

/// The stored and accepted form: the current one, or the flat `*_fail_c` fields of the first
/// release (read into `temperatures.*.fail_c`).
#[derive(Deserialize)]
struct ThresholdsForm {
    #[serde(default)]
    max_bad_blocks: u64,
    #[serde(default)]
    temperatures: Option<TemperatureTable>,
    #[serde(default)]
    hdd_fail_c: Option<f64>,
    #[serde(default)]
    ssd_fail_c: Option<f64>,
    #[serde(default)]
    nvme_fail_c: Option<f64>,
}

impl<'de> Deserialize<'de> for Thresholds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Thresholds, D::Error> {
        let form = ThresholdsForm::deserialize(deserializer)?;
        let mut temperatures = form.temperatures.unwrap_or_default();
        for (limit, legacy) in [
            (&mut temperatures.hdd.fail_c, form.hdd_fail_c),
            (&mut temperatures.ssd.fail_c, form.ssd_fail_c),
            (&mut temperatures.nvme.fail_c, form.nvme_fail_c),
        ] {
            if let Some(value) = legacy {
                *limit = value;
            }
        }
        Ok(Thresholds { max_bad_blocks: form.max_bad_blocks, temperatures })
    }
}

impl Thresholds {
    /// A clear message for a value no one should set.
    pub fn validate(&self) -> Result<(), String> {
        self.temperatures.validate()?;
        if self.max_bad_blocks > 1_000_000 {
            return Err("max_bad_blocks above 1,000,000 would pass any drive".into());
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warn,
    Fail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    /// Not finished (queued, running, cancelled, interrupted) and nothing failed yet.
    Incomplete,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
            Outcome::Incomplete => "incomplete",
        }
    }
}

/// One reason, with the evidence it rests on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub level: Level,
    /// A stable name for the rule (`ata.197.delta`, `surface.bad_blocks`).
    pub rule: String,
    pub text: String,
    /// Where it comes from: "SMART attribute 197 raw value, before → after snapshots".
    pub evidence: String,
}

/// A counter in both snapshots, for the evidence table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub name: String,
    pub before: Option<u64>,
    pub after: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub outcome: Outcome,
    pub reasons: Vec<Reason>,
    pub deltas: Vec<Delta>,
    pub max_temperature_c: Option<f64>,
}

/// What a burn-in left behind.
#[derive(Clone, Debug)]
pub struct Evidence<'a> {
    pub kind: DriveKind,
    pub job_state: JobState,
    pub stages: &'a [StageView],
    pub before: Option<&'a SmartReport>,
    pub after: Option<&'a SmartReport>,
    pub max_temperature_c: Option<f64>,
}

struct Rules {
    reasons: Vec<Reason>,
    deltas: Vec<Delta>,
}

impl Rules {
    fn push(&mut self, level: Level, rule: &str, text: String, evidence: &str) {
        self.reasons.push(Reason { level, rule: rule.into(), text, evidence: evidence.into() });
    }

    /// A counter that must not rise between the snapshots.
    fn counter(
        &mut self,
        rule: &str,
        name: &str,
        before: Option<u64>,
        after: Option<u64>,
        level: Level,
        advice: &str,
    ) {
        if before.is_none() && after.is_none() {
            return;
        }
        self.deltas.push(Delta { name: name.into(), before, after });
        if let (Some(b), Some(a)) = (before, after)
            && a > b
        {
            self.push(
                level,
                rule,
                format!("{name} rose from {b} to {a} during the burn-in{advice}"),
                "before and after SMART snapshots",
            );
        }
    }
}

fn stage_name(kind: StageKind) -> &'static str {
    match kind {
        StageKind::Precheck => "the precheck",
        StageKind::ShortTest => "the short SMART self-test",
        StageKind::LongTest => "the extended SMART self-test",
        StageKind::ConveyanceTest => "the conveyance SMART self-test",
        StageKind::Surface => "the surface test",
        StageKind::FinalCheck => "the final check",
    }
}

/// Applies every rule to the evidence.
pub fn verdict(evidence: &Evidence<'_>, thresholds: &Thresholds) -> Verdict {
    let mut rules = Rules { reasons: Vec::new(), deltas: Vec::new() };
    for stage in evidence.stages {
        let name = stage_name(stage.kind);
        match stage.state {
            StageState::Failed => rules.push(
                Level::Fail,
                &format!("{}.failed", stage.kind.as_str()),
                if stage.detail.is_empty() {
                    format!("{name} failed")
                } else {
                    format!("{name} failed: {}", stage.detail)
                },
                "the stage's result",
            ),
            StageState::Interrupted => rules.push(
                Level::Info,
                &format!("{}.interrupted", stage.kind.as_str()),
                format!("{name} was interrupted: {}", stage.detail),
                "the stage's result",
            ),
            StageState::Skipped => rules.push(
                Level::Info,
                &format!("{}.skipped", stage.kind.as_str()),
                format!("{name} was skipped: {}", stage.detail),
                "the stage's result",
            ),
            _ => {}
        }
        if stage.stuck && stage.state == StageState::Running {
            rules.push(
                Level::Warn,
                &format!("{}.stuck", stage.kind.as_str()),
                format!("{name} is making no progress: {}", stage.detail),
                "the stage's progress over time",
            );
        }
        if stage.kind == StageKind::Surface {
            let errors = u64::from(stage.read_errors)
                + u64::from(stage.write_errors)
                + u64::from(stage.corruption_errors);
            let found = stage.bad_blocks.max(errors);
            if found > thresholds.max_bad_blocks {
                rules.push(
                    Level::Fail,
                    "surface.bad_blocks",
                    format!(
                        "badblocks found {found} bad block{} (tolerated: {}; read/write/compare errors {}/{}/{})",
                        if found == 1 { "" } else { "s" },
                        thresholds.max_bad_blocks,
                        stage.read_errors,
                        stage.write_errors,
                        stage.corruption_errors
                    ),
                    "badblocks' bad block list and error counts",
                );
            } else if found > 0 {
                rules.push(
                    Level::Warn,
                    "surface.bad_blocks",
                    format!(
                        "badblocks found {found} bad block{}, within the {} tolerated",
                        if found == 1 { "" } else { "s" },
                        thresholds.max_bad_blocks
                    ),
                    "badblocks' bad block list",
                );
            }
        }
    }
    smart_rules(&mut rules, evidence);
    if let Some(max) = evidence.max_temperature_c {
        let limits = thresholds.temperatures.for_kind(evidence.kind);
        let (warn, fail) = (limits.crit_c, limits.fail_c);
        if max >= fail {
            rules.push(
                Level::Fail,
                "temperature.max",
                format!("it reached {max:.0} °C (limit {fail:.0} °C): it cannot be trusted at that heat; check the cooling, then test again"),
                "temperature samples taken during the burn-in",
            );
        } else if max >= warn {
            rules.push(
                Level::Warn,
                "temperature.max",
                format!("it reached {max:.0} °C (warning from {warn:.0} °C): check the cooling of its bay"),
                "temperature samples taken during the burn-in",
            );
        }
    }
    let worst = rules.reasons.iter().map(|r| r.level).max();
    let finished = matches!(evidence.job_state, JobState::Passed | JobState::Failed);
    if !finished {
        let state = match evidence.job_state {
            JobState::Queued => "is queued",
            JobState::Running => "is still running",
            JobState::Cancelled => "was cancelled",
            _ => "was interrupted",
        };
        rules.push(
            Level::Info,
            "job.incomplete",
            format!("the burn-in {state}: not every test ran"),
            "the job's state",
        );
    }
    let outcome = match worst {
        Some(Level::Fail) => Outcome::Fail,
        _ if !finished => Outcome::Incomplete,
        // A job the engine failed always fails, even if no rule above explains it.
        _ if evidence.job_state == JobState::Failed => Outcome::Fail,
        Some(Level::Warn) => Outcome::Warn,
        _ => Outcome::Pass,
    };
    if outcome == Outcome::Fail && worst != Some(Level::Fail) {
        rules.push(
            Level::Fail,
            "job.failed",
            "the burn-in ended as failed".into(),
            "the job's state",
        );
    }
    // Fail first, then warnings, then notes; the order of discovery within a level.
    rules.reasons.sort_by_key(|r| std::cmp::Reverse(r.level));
    Verdict {
        outcome,
        reasons: rules.reasons,
        deltas: rules.deltas,
        max_temperature_c: evidence.max_temperature_c,
    }
}

fn smart_rules(rules: &mut Rules, evidence: &Evidence<'_>) {
    let (before, after) = (evidence.before, evidence.after);
    for (report, when) in [(before, "before"), (after, "after")] {
        if report.is_some_and(|r| r.health == SmartHealth::Failed) {
            rules.push(
                Level::Fail,
                "smart.health",
                format!("the drive's own SMART health assessment says FAILED ({when} the burn-in)"),
                "smartctl's smart_status",
            );
            break;
        }
    }
    if let Some(before) = before {
        prior_damage(rules, before);
    }
    let Some(after) = after else {
        if evidence.job_state == JobState::Passed {
            rules.push(
                Level::Warn,
                "smart.missing",
                "no SMART snapshot after the burn-in: deltas could not be compared".into(),
                "snapshots",
            );
        }
        return;
    };
    let surface_passed = evidence
        .stages
        .iter()
        .any(|s| s.kind == StageKind::Surface && s.state == StageState::Passed);
    if let Some(ata_after) = &after.ata {
        let ata_before = before.and_then(|b| b.ata.as_ref());
        let count = |ata: Option<&crate::smart::AtaSmart>, id: u8| {
            ata.and_then(|a| a.attribute(id)).and_then(|attribute| attribute.count())
        };
        watched_pairs(rules, &ata_watched(ata_before), &ata_watched(Some(ata_after)));
        let pending_before = count(ata_before, 197);
        if let Some(pending) = count(Some(ata_after), 197).filter(|p| *p > 0)
            && pending_before.is_none_or(|b| pending <= b)
        {
            // Rising pending counts were named above; this is about what is left.
            if surface_passed {
                rules.push(
                    Level::Fail,
                    "ata.197.left",
                    format!(
                        "{pending} pending sector{} remain after every sector was rewritten",
                        if pending == 1 { "" } else { "s" }
                    ),
                    "SMART attribute 197 in the after snapshot",
                );
            } else {
                rules.push(
                    Level::Warn,
                    "ata.197.left",
                    format!(
                        "{pending} pending sector{}: a surface test would show whether they remap",
                        if pending == 1 { "" } else { "s" }
                    ),
                    "SMART attribute 197 in the after snapshot",
                );
            }
        }
    }
    if let Some(scsi_after) = &after.scsi {
        let scsi_before = before.and_then(|b| b.scsi.as_ref());
        watched_pairs(rules, &scsi_watched(scsi_before), &scsi_watched(Some(scsi_after)));
    }
    if let Some(nvme_after) = &after.nvme {
        let log_after = nvme_after.health_log.as_ref();
        let nvme_before = before.and_then(|b| b.nvme.as_ref());
        watched_pairs(rules, &nvme_watched(nvme_before), &nvme_watched(Some(nvme_after)));
        let warning = nvme_after
            .critical_warning
            .as_ref()
            .map(|w| w.bits)
            .or_else(|| log_after.and_then(|l| l.critical_warning))
            .unwrap_or(0);
        if warning != 0 {
            let mut named = Vec::new();
            for (bit, meaning) in [
                (0, "available spare below threshold"),
                (1, "temperature outside its limits"),
                (2, "reliability degraded by media or internal errors"),
                (3, "media placed in read-only mode"),
                (4, "volatile memory backup failed"),
                (5, "persistent memory region unreliable"),
            ] {
                if warning & (1 << bit) != 0 {
                    named.push(meaning);
                }
            }
            rules.push(
                Level::Fail,
                "nvme.critical_warning",
                format!(
                    "the controller raises a critical warning (0x{warning:02x}): {}",
                    named.join(", ")
                ),
                "NVMe SMART/health log, critical warning",
            );
        }
        if let Some(log) = log_after {
            if let (Some(spare), Some(threshold)) =
                (log.available_spare, log.available_spare_threshold)
                && spare < threshold
            {
                rules.push(
                    Level::Fail,
                    "nvme.spare",
                    format!("available spare is {spare} %, below its threshold of {threshold} %"),
                    "NVMe SMART/health log",
                );
            }
            if let Some(used) = log.percentage_used.filter(|u| *u >= 100) {
                rules.push(
                    Level::Warn,
                    "nvme.wear",
                    format!("the drive reports {used} % of its rated endurance used"),
                    "NVMe SMART/health log, percentage used",
                );
            }
        }
    }
}

/// A SMART counter that must not rise: the verdict fails (or warns) a burn-in it rose
/// during, and an alert names one that rises between two readings of an idle drive. The one
/// list of what is watched.
#[derive(Clone, Debug, PartialEq)]
pub struct Watched {
    /// The rule's stem (`ata.5`); the verdict's reason is `<rule>.delta`.
    pub rule: &'static str,
    pub name: &'static str,
    pub value: Option<u64>,
    /// What a rise means: a failure, or a warning (link errors, spin retries).
    pub level: Level,
    /// Said after the rise, if anything.
    pub advice: &'static str,
}

fn ata_watched(ata: Option<&crate::smart::AtaSmart>) -> [Watched; 7] {
    let count = |id: u8| ata.and_then(|a| a.attribute(id)).and_then(|attribute| attribute.count());
    let timeouts = ata.and_then(|a| a.command_timeouts()).map(|t| t.timeouts);
    let watched = |rule, name, value, level, advice| Watched { rule, name, value, level, advice };
    [
        watched("ata.5", "Reallocated sectors (5)", count(5), Level::Fail, ""),
        watched("ata.187", "Reported uncorrectable errors (187)", count(187), Level::Fail, ""),
        watched("ata.188", "Command timeouts (188)", timeouts, Level::Fail, ""),
        watched("ata.197", "Current pending sectors (197)", count(197), Level::Fail, ""),
        watched("ata.198", "Offline uncorrectable sectors (198)", count(198), Level::Fail, ""),
        watched(
            "ata.199",
            "UDMA CRC errors (199)",
            count(199),
            Level::Warn,
            ": check the cable and backplane; these are link errors, not media errors",
        ),
        watched(
            "ata.10",
            "Spin retries (10)",
            count(10),
            Level::Warn,
            ": the motor struggles to spin up",
        ),
    ]
}

fn scsi_watched(scsi: Option<&crate::smart::ScsiSmart>) -> [Watched; 2] {
    [
        Watched {
            rule: "scsi.grown_defects",
            name: "Grown defect list",
            value: scsi.and_then(|s| s.grown_defect_list),
            level: Level::Fail,
            advice: "",
        },
        Watched {
            rule: "scsi.uncorrected",
            name: "Uncorrected read/write/verify errors",
            value: scsi.and_then(|s| s.total_uncorrected_errors()),
            level: Level::Fail,
            advice: "",
        },
    ]
}

fn nvme_watched(nvme: Option<&crate::smart::NvmeSmart>) -> [Watched; 1] {
    [Watched {
        rule: "nvme.media_errors",
        name: "Media and data integrity errors",
        value: nvme.and_then(|n| n.health_log.as_ref()).and_then(|l| l.media_errors),
        level: Level::Fail,
        advice: "",
    }]
}

/// The verdict's reasons and deltas for one protocol's watched counters.
fn watched_pairs(rules: &mut Rules, before: &[Watched], after: &[Watched]) {
    for (b, a) in before.iter().zip(after) {
        rules.counter(&format!("{}.delta", a.rule), a.name, b.value, a.value, a.level, a.advice);
    }
}

/// Every watched counter of a report, for the protocols it carries.
pub fn watched_counters(report: &SmartReport) -> Vec<Watched> {
    let mut all = Vec::new();
    if let Some(ata) = &report.ata {
        all.extend(ata_watched(Some(ata)));
    }
    if let Some(scsi) = &report.scsi {
        all.extend(scsi_watched(Some(scsi)));
    }
    if let Some(nvme) = &report.nvme {
        all.extend(nvme_watched(Some(nvme)));
    }
    all
}

/// A watched counter that is higher in a later reading than in an earlier one.
#[derive(Clone, Debug, PartialEq)]
pub struct Rise {
    pub rule: &'static str,
    pub name: &'static str,
    pub before: u64,
    pub after: u64,
    pub level: Level,
}

/// The watched counters that rose from `before` to `after` (two readings of one drive). A
/// counter missing from either reading is no evidence either way.
pub fn counters_rising(before: &SmartReport, after: &SmartReport) -> Vec<Rise> {
    let earlier = watched_counters(before);
    watched_counters(after)
        .into_iter()
        .filter_map(|now| {
            let then = earlier.iter().find(|w| w.rule == now.rule)?.value?;
            let value = now.value?;
            (value > then).then_some(Rise {
                rule: now.rule,
                name: now.name,
                before: then,
                after: value,
                level: now.level,
            })
        })
        .collect()
}

/// Damage counted in the snapshot taken before the run: each non-zero count warns, whatever
/// the protocol, so a used drive is named as one even when nothing grew.
fn prior_damage(rules: &mut Rules, before: &SmartReport) {
    let mut found: Vec<(&str, String)> = Vec::new();
    if let Some(ata) = &before.ata {
        let count = |id: u8| ata.attribute(id).and_then(|attribute| attribute.count());
        for (id, rule, what) in [
            (5, "ata.5.before", "sectors were already reallocated"),
            (
                197,
                "ata.197.before",
                "sectors were already pending (unreadable, awaiting a rewrite)",
            ),
            (198, "ata.198.before", "sectors were already offline-uncorrectable"),
            (187, "ata.187.before", "uncorrectable errors were already reported"),
        ] {
            if let Some(n) = count(id).filter(|n| *n > 0) {
                found.push((rule, format!("{n} {what} before the burn-in (attribute {id})")));
            }
        }
    }
    if let Some(scsi) = &before.scsi {
        if let Some(n) = scsi.grown_defect_list.filter(|n| *n > 0) {
            found.push((
                "scsi.grown_defects.before",
                format!("{n} grown defects were already listed before the burn-in"),
            ));
        }
        if let Some(n) = scsi.total_uncorrected_errors().filter(|n| *n > 0) {
            found.push((
                "scsi.uncorrected.before",
                format!("{n} uncorrected read/write/verify errors were already logged before the burn-in"),
            ));
        }
    }
    if let Some(log) = before.nvme.as_ref().and_then(|n| n.health_log.as_ref()) {
        if let Some(n) = log.media_errors.filter(|n| *n > 0) {
            found.push((
                "nvme.media_errors.before",
                format!(
                    "{n} media and data integrity errors were already logged before the burn-in"
                ),
            ));
        }
        if let Some(n) = log.num_err_log_entries.filter(|n| *n > 0) {
            found.push((
                "nvme.error_log.before",
                format!(
                    "{n} entries were already in the error log before the burn-in (often harmless rejected commands: read them with smartctl -l error)"
                ),
            ));
        }
    }
    for (rule, text) in found {
        rules.push(
            Level::Warn,
            rule,
            format!("a used drive: {text}"),
            "the SMART snapshot taken before the burn-in",
        );
    }
}

/// The surface stage's own result, from what badblocks did and the verdict's threshold: a
/// run that did not finish, or found more bad blocks than tolerated, fails; one within the
/// tolerance passes (the verdict then warns, naming the count).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SurfaceOutcome {
    Passed { detail: String },
    Failed { reason: String },
}

/// What a finished badblocks run left, for [`surface_outcome`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SurfaceRun {
    pub exit_code: i32,
    /// badblocks refused to test (mounted, in use, a bad block range).
    pub refusal: Option<String>,
    /// The `Pass completed` line was seen.
    pub completed: bool,
    /// `-e` was reached and badblocks stopped early.
    pub stopped_at_limit: bool,
    pub bad_blocks: u64,
    pub read_errors: u32,
    pub write_errors: u32,
    pub corruption_errors: u32,
    /// The first bad block numbers, for the reason.
    pub first_bad_blocks: Vec<u64>,
    /// badblocks' last line, for the reason.
    pub last_line: String,
}

pub fn surface_outcome(run: &SurfaceRun, thresholds: &Thresholds) -> SurfaceOutcome {
    if run.exit_code != 0 || run.refusal.is_some() {
        // Never a pass when badblocks did not run to the end (the Spearfoot script reported
        // success after badblocks refused a mounted disk).
        return SurfaceOutcome::Failed {
            reason: format!("badblocks exited with status {}: {}", run.exit_code, run.last_line),
        };
    }
    let errors =
        u64::from(run.read_errors) + u64::from(run.write_errors) + u64::from(run.corruption_errors);
    let found = run.bad_blocks.max(errors);
    let first =
        || run.first_bad_blocks.iter().take(5).map(u64::to_string).collect::<Vec<_>>().join(", ");
    if found > thresholds.max_bad_blocks {
        return SurfaceOutcome::Failed {
            reason: format!(
                "{found} bad blocks found (first: {}; tolerated: {}){}",
                first(),
                thresholds.max_bad_blocks,
                if run.stopped_at_limit { "; the test stopped at the limit" } else { "" }
            ),
        };
    }
    if run.stopped_at_limit || !run.completed {
        return SurfaceOutcome::Failed {
            reason: format!("badblocks ended without completing its pass: {}", run.last_line),
        };
    }
    SurfaceOutcome::Passed {
        detail: if found == 0 {
            "8 passes completed, 0 bad blocks".to_owned()
        } else {
            format!(
                "8 passes completed, {found} bad blocks (first: {}), within the {} tolerated",
                first(),
                thresholds.max_bad_blocks
            )
        },
    }
}

/// How a job ends once its stages are done: a stage's failure, cancel or interruption
/// decides; when every stage passed, the verdict does (it may still fail the drive on its
/// evidence, or pass it with warnings).
pub fn final_state(
    stage_outcome: Option<(JobState, String)>,
    verdict: &Verdict,
) -> (JobState, String) {
    if let Some(decided) = stage_outcome {
        return decided;
    }
    let named = |level: Level| {
        verdict
            .reasons
            .iter()
            .filter(|r| r.level == level)
            .map(|r| r.text.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    match verdict.outcome {
        Outcome::Fail => (JobState::Failed, named(Level::Fail)),
        Outcome::Warn => {
            (JobState::Passed, format!("every stage passed, with warnings: {}", named(Level::Warn)))
        }
        _ => (JobState::Passed, "every stage passed".to_owned()),
    }
}

/// A plain-text report of a job's verdict, for an RMA form or a ticket.
pub fn report_text(job: &crate::job::JobView, verdict: &Verdict) -> String {
    let mut text = String::new();
    let line = |text: &mut String, s: String| {
        text.push_str(&s);
        text.push('\n');
    };
    line(&mut text, format!("Burn-in report: drive {} on {}", job.drive_serial, job.host_name));
    line(&mut text, format!("Job {} by {}, created {}", job.id, job.operator, job.created_at));
    if let (Some(start), Some(end)) = (&job.started_at, &job.finished_at) {
        line(&mut text, format!("Ran from {start} to {end}"));
    }
    line(&mut text, format!("Verdict: {}", verdict.outcome.as_str().to_uppercase()));
    for reason in &verdict.reasons {
        let level = match reason.level {
            Level::Fail => "FAIL",
            Level::Warn => "WARN",
            Level::Info => "note",
        };
        line(&mut text, format!("  [{level}] {} (evidence: {})", reason.text, reason.evidence));
    }
    line(&mut text, "Stages:".into());
    for stage in &job.stages {
        let mut row = format!("  {:<14} {}", stage.kind.as_str(), stage.state.as_str());
        if let (Some(start), Some(end)) = (&stage.started_at, &stage.finished_at)
            && let (Some(s), Some(e)) =
                (crate::format::parse_utc(start), crate::format::parse_utc(end))
        {
            row.push_str(&format!(", {}", crate::job::duration_text(e - s)));
        }
        if let Some(mb_s) = stage.throughput_mb_s {
            row.push_str(&format!(", {mb_s:.0} MB/s"));
        }
        if stage.kind == StageKind::Surface {
            row.push_str(&format!(", {} bad blocks", stage.bad_blocks));
        }
        if !stage.detail.is_empty() {
            row.push_str(&format!(" ({})", stage.detail));
        }
        line(&mut text, row);
    }
    if !verdict.deltas.is_empty() {
        line(&mut text, "SMART counters (before -> after):".into());
        for delta in &verdict.deltas {
            let show = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
            line(
                &mut text,
                format!("  {:<40} {} -> {}", delta.name, show(delta.before), show(delta.after)),
            );
        }
    }
    if let Some(max) = verdict.max_temperature_c {
        line(&mut text, format!("Hottest temperature seen: {max:.0} °C"));
    }
    text
}

#[cfg(test)]
mod tests;
