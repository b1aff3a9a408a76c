//! One job, stage by stage. Every transition is written to the database before it is
//! published; a stage's remote state (the detached process's folder) is written before the
//! command that creates it is sent, so a restart can always re-attach. A cancel is looked at
//! before every stage. A database error never ends a job: the runner starts over from what is
//! stored, the way a restart re-attaches, since the work on the NAS goes on regardless.

use std::time::{Duration, Instant};

use burnin::{
    DriveKind, TemperatureLimits,
    capture::Capture,
    job::{JobState, StageKind, StageState, overall_percent},
    remote::{
        DevicePath, DeviceType, Os, RemoteCommand, SelfTestKind as RemoteTestKind, Smartctl,
        SmartctlAction,
    },
    smart::{SelfTestOutcome, SmartReport, parse_smartctl_json},
};

use super::{
    Engine,
    nas::os_of,
    store::{self, JobRecord, StageRecord},
};
use crate::db::DbError;

/// Why a stage failed, for decisions that must not rest on the wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailKind {
    /// The drive failed a test or a check.
    Drive,
    /// The drive was at or above its kind's `fail_c` for too long.
    Overheated,
    /// The stage made no progress for too long and was stopped.
    Stuck,
    /// A tool could not do its part (smartctl could not start a test, an unreadable answer).
    Tool,
}

/// How a stage ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    Failed { kind: FailKind, why: String },
    Skipped(String),
    Cancelled,
    Interrupted(String),
}

impl Outcome {
    pub fn failed(why: impl Into<String>) -> Outcome {
        Outcome::Failed { kind: FailKind::Drive, why: why.into() }
    }

    pub fn tool(why: impl Into<String>) -> Outcome {
        Outcome::Failed { kind: FailKind::Tool, why: why.into() }
    }

    pub fn is_overheated(&self) -> bool {
        matches!(self, Outcome::Failed { kind: FailKind::Overheated, .. })
    }
}

/// How long a stage waits for a NAS that does not answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patience {
    /// Up to the re-attach limit, then the stage is interrupted (nothing of it runs on the NAS
    /// that needs watching: a self-test ends by itself).
    Limited,
    /// For as long as it takes: a writer may be alive on the NAS, and a job never ends while
    /// one may be.
    Forever,
}

/// What the runner knows about the drive while a job runs.
pub struct Context {
    pub job: JobRecord,
    pub os: Os,
    pub devname: String,
    pub serial: String,
    pub lunid: String,
    pub size_bytes: u64,
    pub kind: DriveKind,
    pub physical_sector: u32,
    /// This drive's temperature limits, from the settings (one table for every rule).
    pub limits: TemperatureLimits,
    /// When the drive was last seen at or above its `fail_c`, continuously.
    pub hot_since: Option<Instant>,
    pub last_sample: Option<Instant>,
    /// The hottest temperature recorded for this job since the runner (re)started.
    pub peak_c: Option<f64>,
    /// Starts the names of this job's folders on the NAS: job ids are only unique within one
    /// dashboard's database, and two dashboards (or a reinstalled one) may drive one NAS.
    pub folder_prefix: String,
    /// Every smartctl call of the current stage with its answer, for the record.
    pub transcript: Capture,
    /// What the stuck alert was last told.
    pub stuck_alert: crate::alert_feeds::Stuck,
}

/// What of a stage's smartctl transcript is kept: its start and its end.
pub const TRANSCRIPT_HEAD: usize = 256 << 10;
pub const TRANSCRIPT_TAIL: usize = 768 << 10;

impl Context {
    /// The device path smartctl wants: on CORE an NVMe namespace `nvdN` is read through its
    /// controller `nvmeN` (reference/truenas-api.md §4.2).
    pub fn smartctl_device(&self) -> Result<DevicePath, String> {
        let name = match (self.os, self.devname.strip_prefix("nvd")) {
            (Os::FreeBsd, Some(number)) => format!("nvme{number}"),
            _ => self.devname.clone(),
        };
        DevicePath::for_name(&name).map_err(|e| e.to_string())
    }

    pub fn smartctl(
        &self,
        action: SmartctlAction,
        with_text: bool,
    ) -> Result<RemoteCommand, String> {
        let device_type = self
            .devname
            .starts_with("nvme")
            .then_some(DeviceType::Nvme)
            .filter(|_| self.os == Os::Linux);
        Ok(RemoteCommand::Smartctl(Smartctl {
            device: self.smartctl_device()?,
            device_type,
            action,
            with_text,
        }))
    }

    fn note(&mut self, command: &RemoteCommand, output: &crate::ssh::CommandOutput) {
        self.transcript.push(format!("$ {}\n", command.render()).as_bytes());
        self.transcript.push(&output.stdout);
        if !output.stderr.is_empty() {
            self.transcript.push(b"\n[stderr]\n");
            self.transcript.push(&output.stderr);
        }
        self.transcript.push(format!("\n[exit status {}]\n\n", output.exit_code).as_bytes());
    }
}

/// smartctl's plain text lines (`--json=co`), which JSON mode otherwise suppresses.
pub fn text_output(raw: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(raw).unwrap_or_default();
    value["smartctl"]["output"]
        .as_array()
        .map(|lines| lines.iter().filter_map(|l| l.as_str()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

impl Engine {
    /// Runs a job to its end (or until the task is aborted).
    pub(super) async fn run_job(&self, job_id: i64) {
        let mut backoff =
            crate::truenas::Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
        loop {
            match self.drive_job(job_id).await {
                Ok(()) => break,
                Err(error) => {
                    tracing::error!(job.id = job_id, error = %error, "burn-in job hit a database error; it goes on from its stored state");
                    tokio::time::sleep(backoff.next_delay()).await;
                    match store::job(&self.pool, job_id).await {
                        Ok(Some(job)) if !job.state().is_active() => break,
                        Ok(None) => break,
                        _ => {}
                    }
                }
            }
        }
        self.finished(job_id).await;
    }

    async fn drive_job(&self, job_id: i64) -> Result<(), DbError> {
        match store::claim_for_run(&self.pool, job_id).await? {
            store::Claimed::Run => {}
            store::Claimed::CancelledInQueue => {
                self.publish(job_id).await;
                return Ok(());
            }
            store::Claimed::Ended => return Ok(()),
        }
        let Some(job) = store::job(&self.pool, job_id).await? else { return Ok(()) };
        tracing::info!(job.id = job_id, drive.serial = %job.drive_serial, host.name = %job.host_name, "burn-in running");
        self.publish(job_id).await;
        let Some(drive) = crate::inventory::get_drive(&self.pool, job.drive_id).await? else {
            let verdict = burnin::verdict::Verdict {
                outcome: burnin::verdict::Outcome::Incomplete,
                reasons: Vec::new(),
                deltas: Vec::new(),
                max_temperature_c: None,
            };
            let thresholds = crate::settings::verdict_thresholds(&self.pool).await?;
            store::finish(
                &self.pool,
                job_id,
                JobState::Interrupted,
                "the drive was removed from the dashboard",
                &verdict,
                &thresholds,
            )
            .await?;
            return Ok(());
        };
        let version = job.host_config().and_then(|config| config.truenas_version).or(self
            .hosts
            .get(job.host_id)
            .await
            .ok()
            .and_then(|h| h.truenas_version));
        let uid = self.hosts.uid(job.host_id).await.unwrap_or_default();
        let thresholds = crate::settings::verdict_thresholds(&self.pool).await?;
        let mut context = Context {
            folder_prefix: uid.chars().take(12).collect(),
            os: os_of(version.as_deref()),
            devname: drive.devname.clone(),
            serial: drive.serial.clone(),
            lunid: job.drive_lunid.clone(),
            size_bytes: drive.size_bytes,
            kind: drive.kind,
            physical_sector: 4096,
            limits: thresholds.temperatures.for_kind(drive.kind),
            hot_since: None,
            last_sample: None,
            peak_c: None,
            transcript: Capture::new(TRANSCRIPT_HEAD, TRANSCRIPT_TAIL),
            stuck_alert: crate::alert_feeds::Stuck::default(),
            job: job.clone(),
        };
        let stages = store::stages(&self.pool, job_id).await?;
        let mut decided: Option<(JobState, String)> = None;
        for mut stage in stages {
            if stage.state().is_done() {
                if let Some(decision) = decision_of(&stage) {
                    decided.get_or_insert(decision);
                }
                continue;
            }
            let kind = stage.kind().unwrap_or(StageKind::Precheck);
            // After a failure the final check still runs: its snapshot is the evidence of what
            // the drive looks like now. After a cancel or an interruption nothing more runs.
            let final_after_failure =
                kind == StageKind::FinalCheck && matches!(decided, Some((JobState::Failed, _)));
            if decided.is_some() && !final_after_failure {
                stage.state = StageState::Skipped.as_str().to_owned();
                stage.detail = "skipped: an earlier stage did not pass".into();
                store::save_stage(&self.pool, &stage).await?;
                continue;
            }
            // A cancel is honoured before every stage (a running one stops its own work). A
            // stage already under way when the dashboard restarted goes on to its own cancel
            // path, which stops what it started.
            if stage.state() == StageState::Pending && self.cancel_requested(job_id).await? {
                stage.state = StageState::Cancelled.as_str().to_owned();
                stage.detail = "cancelled by the operator before it started".into();
                store::save_stage(&self.pool, &stage).await?;
                decided = Some((JobState::Cancelled, "cancelled by the operator".into()));
                continue;
            }
            if let Some(current) = crate::inventory::get_drive(&self.pool, job.drive_id).await? {
                // The drive may have come back under another name; its identity is the serial.
                context.devname = current.devname;
            }
            context.limits = crate::settings::verdict_thresholds(&self.pool)
                .await?
                .temperatures
                .for_kind(context.kind);
            context.transcript = Capture::new(TRANSCRIPT_HEAD, TRANSCRIPT_TAIL);
            stage.state = StageState::Running.as_str().to_owned();
            store::save_stage(&self.pool, &stage).await?;
            self.update_summary(job_id).await?;
            self.publish(job_id).await;
            let outcome = match kind {
                StageKind::Precheck => self.precheck(&mut context, &mut stage).await?,
                StageKind::FinalCheck => self.final_check(&mut context, &mut stage).await?,
                StageKind::ShortTest => {
                    self.self_test(&mut context, &mut stage, RemoteTestKind::Short).await?
                }
                StageKind::LongTest => {
                    self.self_test(&mut context, &mut stage, RemoteTestKind::Long).await?
                }
                StageKind::ConveyanceTest => {
                    self.self_test(&mut context, &mut stage, RemoteTestKind::Conveyance).await?
                }
                StageKind::Surface => self.surface(&mut context, &mut stage).await?,
            };
            if !context.transcript.is_empty() {
                store::save_output(&self.pool, stage.id, "smartctl", &context.transcript).await?;
            }
            let (state, detail) = match &outcome {
                Outcome::Passed => (StageState::Passed, stage.detail.clone()),
                Outcome::Skipped(why) => (StageState::Skipped, why.clone()),
                Outcome::Failed { why, .. } => (StageState::Failed, why.clone()),
                Outcome::Cancelled => {
                    (StageState::Cancelled, "cancelled by the operator".to_owned())
                }
                Outcome::Interrupted(why) => (StageState::Interrupted, why.clone()),
            };
            stage.state = state.as_str().to_owned();
            stage.detail = detail.clone();
            stage.stuck = false;
            if state == StageState::Passed {
                stage.percent = Some(100.0);
                stage.eta_seconds = None;
            }
            store::save_stage(&self.pool, &stage).await?;
            tracing::info!(job.id = job_id, stage.kind = kind.as_str(), stage.state = state.as_str(), detail = %detail, "stage ended");
            if decided.is_none() {
                decided = decision_of(&stage);
            }
            self.update_summary(job_id).await?;
            self.publish(job_id).await;
        }
        self.end_job(&job, decided).await
    }

    /// Judges the job and ends it with the verdict it was judged with.
    async fn end_job(
        &self,
        job: &JobRecord,
        decided: Option<(JobState, String)>,
    ) -> Result<(), DbError> {
        let thresholds = crate::settings::verdict_thresholds(&self.pool).await?;
        let candidate = decided.as_ref().map_or(JobState::Passed, |(state, _)| *state);
        let judge = |state| store::verdict_if(&self.pool, job.id, state, &thresholds);
        let Some(mut verdict) = judge(candidate).await? else { return Ok(()) };
        let (state, reason) = burnin::verdict::final_state(decided, &verdict);
        if state != candidate
            && let Some(again) = judge(state).await?
        {
            verdict = again;
        }
        store::finish(&self.pool, job.id, state, &reason, &verdict, &thresholds).await?;
        crate::audit::record(
            &self.pool,
            "system",
            &format!("burnin.{}", state.as_str()),
            &job.drive_serial,
            &serde_json::json!({"job_id": job.id, "reason": reason, "verdict": verdict.outcome.as_str()}),
        )
        .await?;
        tracing::info!(job.id = job.id, job.state = state.as_str(), reason = %reason, "burn-in ended");
        let rules = self.options.live.read(|s| s.alerts.clone());
        let ended = crate::alerts::Ended {
            job_id: job.id,
            host_id: job.host_id,
            serial: &job.drive_serial,
            state,
            outcome: Some(verdict.outcome),
            reason: &reason,
        };
        // An alert that cannot be stored must not undo the verdict already stored.
        if let Err(error) =
            crate::alerts::job_ended(&self.pool, &rules, ended, crate::auth::now_unix()).await
        {
            tracing::error!(job.id = job.id, error = %error, "cannot raise the burn-in's alert");
        }
        if let Err(error) = crate::alert_feeds::job_over(
            &self.pool,
            (job.host_id, &job.drive_serial),
            job.id,
            crate::auth::now_unix(),
        )
        .await
        {
            tracing::error!(job.id = job.id, error = %error, "cannot resolve the burn-in's stuck alert");
        }
        self.publish(job.id).await;
        Ok(())
    }

    /// Recomputes the job's headline (overall percent, ETA, current stage) from its stages.
    pub(super) async fn update_summary(&self, job_id: i64) -> Result<(), DbError> {
        let stages = store::stages(&self.pool, job_id).await?;
        let parts: Vec<(StageKind, StageState, Option<f64>)> =
            stages.iter().filter_map(|s| Some((s.kind()?, s.state(), s.percent))).collect();
        let percent = overall_percent(&parts);
        let current = stages.iter().find(|s| s.state() == StageState::Running);
        let eta = current.and_then(|s| s.eta_seconds).map(|eta| {
            // Later stages, estimated from the current stage's pace and the weights.
            let weight_left: f64 = stages
                .iter()
                .filter(|s| s.state() == StageState::Pending)
                .filter_map(|s| s.kind())
                .map(StageKind::weight)
                .sum();
            let current_weight =
                current.and_then(|s| s.kind()).map_or(1.0, StageKind::weight).max(0.01);
            let remaining_fraction = 1.0 - current.and_then(|s| s.percent).unwrap_or(0.0) / 100.0;
            let per_weight = if remaining_fraction > 0.0 {
                eta / (current_weight * remaining_fraction)
            } else {
                0.0
            };
            eta + weight_left * per_weight
        });
        let bad_blocks = stages.iter().map(|s| u64::try_from(s.bad_blocks).unwrap_or(0)).sum();
        let summary = store::Summary {
            percent,
            eta,
            stage: current.and_then(StageRecord::kind),
            stage_percent: current.and_then(|s| s.percent),
            stuck: current.is_some_and(|s| s.stuck),
            bad_blocks,
        };
        store::set_summary(&self.pool, job_id, &summary).await
    }

    /// Reads SMART over SSH, waiting out a link that is down (up to the re-attach limit).
    pub(super) async fn read_smart(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
        with_text: bool,
    ) -> Result<Result<(SmartReport, Vec<u8>), Outcome>, DbError> {
        let command = match context.smartctl(SmartctlAction::Report, with_text) {
            Ok(command) => command,
            Err(error) => return Ok(Err(Outcome::tool(error))),
        };
        let output = match self.run_remote(context, stage, &command, Patience::Limited).await? {
            Ok(output) => output,
            Err(outcome) => return Ok(Err(outcome)),
        };
        let report = match parse_smartctl_json(&output.stdout) {
            Ok(report) => report,
            Err(e) => {
                return Ok(Err(Outcome::tool(format!(
                    "smartctl's answer cannot be read ({e}): {}",
                    output.stderr_text()
                ))));
            }
        };
        if report.read_failed() {
            let message = report
                .smartctl
                .messages
                .iter()
                .map(|m| m.text.clone())
                .collect::<Vec<_>>()
                .join("; ");
            return Ok(Err(Outcome::failed(format!(
                "smartctl could not read the drive: {message}"
            ))));
        }
        if let Some(celsius) = report.temperature.current {
            // The table shows it too where the API has no sensor for the drive.
            if crate::inventory::set_smart_temperature(
                &self.pool,
                context.job.drive_id,
                celsius as f64,
            )
            .await?
            {
                self.publish_drive(context.job.drive_id).await;
            }
            if let Err(outcome) = self.temperature(context, celsius as f64).await? {
                return Ok(Err(outcome));
            }
        }
        Ok(Ok((report, output.stdout)))
    }

    /// Records a temperature and enforces the drive kind's `fail_c`: a drive that stays at or
    /// above it for the sustain time has its stage stopped.
    pub(super) async fn temperature(
        &self,
        context: &mut Context,
        celsius: f64,
    ) -> Result<Result<(), Outcome>, DbError> {
        // One sample every 30 s draws the curve; a new peak is always kept, since the verdict
        // judges the hottest moment.
        let sample_due =
            context.last_sample.is_none_or(|at| at.elapsed() >= Duration::from_secs(30));
        let new_peak = context.peak_c.is_none_or(|peak| celsius > peak);
        if sample_due || new_peak {
            context.last_sample = Some(Instant::now());
            context.peak_c = Some(context.peak_c.map_or(celsius, |peak| peak.max(celsius)));
            store::add_temperature(&self.pool, context.job.id, celsius).await?;
        }
        let limit = context.limits.fail_c;
        if context.limits.too_hot(celsius) {
            let since = *context.hot_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= self.options.critical_sustain() {
                return Ok(Err(Outcome::Failed {
                    kind: FailKind::Overheated,
                    why: format!(
                        "the drive ran at {celsius:.0} °C, at or above its limit of {limit:.0} °C, for {} s; the test was stopped to protect it. Improve cooling and run it again",
                        since.elapsed().as_secs()
                    ),
                }));
            }
        } else {
            context.hot_since = None;
        }
        Ok(Ok(()))
    }

    /// Runs a remote command; a NAS that is unreachable is waited for (see [`Patience`]),
    /// since a multi-day job must survive a reboot of the dashboard's network. Never used
    /// for the start of a writer, which is sent exactly once.
    pub(super) async fn run_remote(
        &self,
        context: &Context,
        stage: &mut StageRecord,
        command: &RemoteCommand,
        patience: Patience,
    ) -> Result<Result<crate::ssh::CommandOutput, Outcome>, DbError> {
        let started = Instant::now();
        let mut backoff = crate::truenas::Backoff::new(
            Duration::from_millis(200),
            self.options.poll_interval.max(Duration::from_secs(1)) * 10,
        );
        loop {
            let error = match self.nas.run(context.job.host_id, command).await {
                Ok(output) => {
                    if stage.detail.starts_with(WAITING) {
                        stage.detail.clear();
                    }
                    return Ok(Ok(output));
                }
                Err(error) => error,
            };
            let waited = started.elapsed();
            let give_up = patience == Patience::Limited
                && (!error.is_transient() || waited >= self.options.reattach_timeout);
            if give_up {
                return Ok(Err(Outcome::Interrupted(if error.is_transient() {
                    format!("the NAS did not answer for {} s: {error}", waited.as_secs())
                } else {
                    error.to_string()
                })));
            }
            let detail = match patience {
                Patience::Forever => format!(
                    "{WAITING} for {}: {error}. badblocks may still be running there, so the job stays open until the NAS answers",
                    burnin::job::duration_text(waited.as_secs_f64())
                ),
                Patience::Limited => format!("{WAITING}: {error}"),
            };
            if stage.detail != detail {
                stage.detail = detail;
                store::save_stage(&self.pool, stage).await?;
                self.publish(context.job.id).await;
            }
            if patience == Patience::Limited && self.cancel_requested(context.job.id).await? {
                return Ok(Err(Outcome::Cancelled));
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }

    /// Runs a smartctl command and keeps it in the stage's transcript.
    pub(super) async fn smartctl(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
        command: &RemoteCommand,
    ) -> Result<Result<crate::ssh::CommandOutput, Outcome>, DbError> {
        let output = self.run_remote(context, stage, command, Patience::Limited).await?;
        if let Ok(output) = &output {
            context.note(command, output);
        }
        Ok(output)
    }

    pub(super) async fn cancel_requested(&self, job_id: i64) -> Result<bool, DbError> {
        Ok(store::job(&self.pool, job_id).await?.is_some_and(|job| job.cancel_requested))
    }

    /// Reports progress at most every couple of seconds: the database and the live channel
    /// need not see every poll of a fast-moving stage.
    pub(super) async fn progress(
        &self,
        context: &mut Context,
        stage: &StageRecord,
        last: &mut Option<Instant>,
    ) -> Result<(), DbError> {
        if last.is_some_and(|at| at.elapsed() < self.options.persist_every) {
            return Ok(());
        }
        *last = Some(Instant::now());
        store::save_stage(&self.pool, stage).await?;
        self.update_summary(context.job.id).await?;
        self.publish(context.job.id).await;
        // The stuck alert follows the flag as written; an alert that cannot be stored never
        // stops the stage.
        let rules = self.options.live.read(|s| s.alerts.clone());
        let stuck = stage.stuck.then_some(stage.detail.as_str());
        let key = (context.job.host_id, context.serial.as_str());
        if let Err(error) =
            context.stuck_alert.check(&self.pool, &rules, key, stuck, crate::auth::now_unix()).await
        {
            tracing::warn!(job.id = context.job.id, error = %error, "cannot check the stage's stuck alert");
        }
        Ok(())
    }
}

/// The detail of a stage waiting for its NAS starts with this.
pub const WAITING: &str = "waiting for the NAS";

/// What a finished stage decides for the job: a failure, a cancel or an interruption.
fn decision_of(stage: &StageRecord) -> Option<(JobState, String)> {
    let label = stage.kind().map_or("A stage", StageKind::label);
    match stage.state() {
        StageState::Failed => Some((JobState::Failed, format!("{label}: {}", stage.detail))),
        StageState::Cancelled => Some((JobState::Cancelled, "cancelled by the operator".into())),
        StageState::Interrupted => {
            Some((JobState::Interrupted, format!("{label}: {}", stage.detail)))
        }
        _ => None,
    }
}

/// The newest finished self-test's outcome as a stage outcome.
pub fn self_test_outcome(outcome: &SelfTestOutcome) -> Outcome {
    match outcome {
        SelfTestOutcome::Passed => Outcome::Passed,
        SelfTestOutcome::Failed { reason } => {
            Outcome::failed(format!("the drive failed its self-test: {reason}"))
        }
        // Stopped by the host, not failed by the drive: the result says nothing about the
        // drive, so the job is interrupted rather than failed.
        SelfTestOutcome::Aborted { reason } => Outcome::Interrupted(format!(
            "the self-test was stopped by the host twice ({reason}), not failed by the drive: \
             check that nothing else on the NAS (a scheduled SMART test, smartd, a script) aborts \
             self-tests, then run the burn-in again"
        )),
        SelfTestOutcome::Interrupted { reason } => Outcome::Interrupted(format!(
            "the self-test was interrupted twice by a reset of the drive or the NAS ({reason}); \
             run the burn-in again"
        )),
        SelfTestOutcome::InProgress => {
            Outcome::Interrupted("the self-test is still running".into())
        }
        SelfTestOutcome::Unknown { reason } => {
            Outcome::tool(format!("the self-test ended in an unknown state ({reason})"))
        }
    }
}
