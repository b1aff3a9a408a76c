//! One job, stage by stage. Every transition is written to the database before it is
//! published; a stage's remote state (the detached process's directory and the log offsets)
//! is written before the command that creates it is sent, so a restart can always re-attach.

use std::time::{Duration, Instant};

use burnin::{
    job::{JobState, StageKind, StageState, overall_percent},
    remote::{
        DevicePath, DeviceType, Os, RemoteCommand, SelfTestKind as RemoteTestKind, Smartctl,
        SmartctlAction,
    },
    smart::{SelfTestOutcome, SmartReport, parse_smartctl_json},
};

use super::{
    Engine,
    nas::{NasError, os_of},
    store::{self, JobRecord, StageRecord},
};

/// How a stage ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
    Cancelled,
    Interrupted(String),
}

/// What the runner knows about the drive while a job runs.
pub struct Context {
    pub job: JobRecord,
    pub os: Os,
    pub devname: String,
    pub serial: String,
    pub size_bytes: u64,
    pub physical_sector: u32,
    /// When the drive was last seen at or above its critical temperature, continuously.
    pub hot_since: Option<Instant>,
    pub last_sample: Option<Instant>,
    /// The hottest temperature recorded for this job since the runner (re)started.
    pub peak_c: Option<f64>,
    /// Starts the names of this job's folders on the NAS: job ids are only unique within one
    /// dashboard's database, and two dashboards (or a reinstalled one) may drive one NAS.
    pub folder_prefix: String,
}

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

    pub fn device(&self) -> Result<DevicePath, String> {
        DevicePath::for_name(&self.devname).map_err(|e| e.to_string())
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
        if let Err(error) = self.drive_job(job_id).await {
            tracing::error!(job.id = job_id, error = %error, "burn-in job stopped on an internal error");
            let _ = store::set_job_state(
                &self.pool,
                job_id,
                JobState::Interrupted,
                Some(&format!("internal error: {error}")),
            )
            .await;
            self.publish(job_id).await;
        }
        self.finished(job_id).await;
    }

    async fn drive_job(&self, job_id: i64) -> Result<(), crate::db::DbError> {
        let Some(job) = store::job(&self.pool, job_id).await? else { return Ok(()) };
        if !job.state().is_active() {
            return Ok(());
        }
        if job.state() == JobState::Queued {
            store::set_job_state(&self.pool, job_id, JobState::Running, None).await?;
            tracing::info!(job.id = job_id, drive.serial = %job.drive_serial, host.name = %job.host_name, "burn-in started");
        } else {
            tracing::info!(job.id = job_id, drive.serial = %job.drive_serial, "re-attaching to a running burn-in");
        }
        self.publish(job_id).await;
        let Some(drive) = crate::inventory::get_drive(&self.pool, job.drive_id).await? else {
            store::set_job_state(
                &self.pool,
                job_id,
                JobState::Interrupted,
                Some("the drive was removed from the dashboard"),
            )
            .await?;
            return Ok(());
        };
        let version = self.hosts.get(job.host_id).await.ok().and_then(|h| h.truenas_version);
        let uid = self.hosts.uid(job.host_id).await.unwrap_or_default();
        let mut context = Context {
            folder_prefix: uid.chars().take(12).collect(),
            job: job.clone(),
            os: os_of(version.as_deref()),
            devname: drive.devname.clone(),
            serial: drive.serial.clone(),
            size_bytes: drive.size_bytes,
            physical_sector: 4096,
            hot_since: None,
            last_sample: None,
            peak_c: None,
        };
        let stages = store::stages(&self.pool, job_id).await?;
        let mut outcome_reason: Option<(JobState, String)> = None;
        for mut stage in stages {
            if stage.state().is_done() {
                continue;
            }
            // After a failure the final check still runs: its snapshot is the evidence of what
            // the drive looks like now. After a cancel or an interruption nothing more runs.
            let final_after_failure = stage.kind() == Some(StageKind::FinalCheck)
                && matches!(outcome_reason, Some((JobState::Failed, _)));
            if outcome_reason.is_some() && !final_after_failure {
                stage.state = StageState::Skipped.as_str().to_owned();
                stage.detail = "skipped: an earlier stage did not pass".into();
                store::save_stage(&self.pool, &stage).await?;
                continue;
            }
            if let Some(current) = crate::inventory::get_drive(&self.pool, job.drive_id).await? {
                // The drive may have come back under another name; its identity is the serial.
                context.devname = current.devname;
            }
            let kind = stage.kind().unwrap_or(StageKind::Precheck);
            stage.state = StageState::Running.as_str().to_owned();
            store::save_stage(&self.pool, &stage).await?;
            self.update_summary(job_id).await?;
            self.publish(job_id).await;
            let outcome = match kind {
                StageKind::Precheck => self.precheck(&mut context, &mut stage).await,
                StageKind::FinalCheck => self.final_check(&mut context, &mut stage).await,
                StageKind::ShortTest => {
                    self.self_test(&mut context, &mut stage, RemoteTestKind::Short).await
                }
                StageKind::LongTest => {
                    self.self_test(&mut context, &mut stage, RemoteTestKind::Long).await
                }
                StageKind::ConveyanceTest => {
                    self.self_test(&mut context, &mut stage, RemoteTestKind::Conveyance).await
                }
                StageKind::Surface => self.surface(&mut context, &mut stage).await,
            };
            let (state, detail) = match &outcome {
                Outcome::Passed => (StageState::Passed, stage.detail.clone()),
                Outcome::Skipped(why) => (StageState::Skipped, why.clone()),
                Outcome::Failed(why) => (StageState::Failed, why.clone()),
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
            match outcome {
                Outcome::Passed | Outcome::Skipped(_) => {}
                Outcome::Failed(why) if outcome_reason.is_none() => {
                    outcome_reason = Some((JobState::Failed, format!("{}: {why}", kind.label())))
                }
                Outcome::Failed(_) => {}
                Outcome::Cancelled => {
                    outcome_reason = Some((JobState::Cancelled, "cancelled by the operator".into()))
                }
                Outcome::Interrupted(why) => {
                    outcome_reason =
                        Some((JobState::Interrupted, format!("{}: {why}", kind.label())))
                }
            }
            self.update_summary(job_id).await?;
            self.publish(job_id).await;
        }
        let (mut state, mut reason) =
            outcome_reason.unwrap_or((JobState::Passed, "every stage passed".to_owned()));
        if state == JobState::Passed {
            // Every stage passing is not enough: the verdict weighs the evidence (SMART deltas,
            // temperatures, bad blocks) and may fail or warn.
            if let Some(verdict) = store::verdict_if(&self.pool, job_id, JobState::Passed).await? {
                let named = |level: burnin::verdict::Level| {
                    verdict
                        .reasons
                        .iter()
                        .filter(|r| r.level == level)
                        .map(|r| r.text.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                match verdict.outcome {
                    burnin::verdict::Outcome::Fail => {
                        state = JobState::Failed;
                        reason = named(burnin::verdict::Level::Fail);
                    }
                    burnin::verdict::Outcome::Warn => {
                        reason = format!(
                            "every stage passed, with warnings: {}",
                            named(burnin::verdict::Level::Warn)
                        );
                    }
                    _ => {}
                }
            }
        }
        store::set_job_state(&self.pool, job_id, state, Some(&reason)).await?;
        crate::audit::record(
            &self.pool,
            "system",
            &format!("burnin.{}", state.as_str()),
            &job.drive_serial,
            &serde_json::json!({"job_id": job_id, "reason": reason}),
        )
        .await?;
        tracing::info!(job.id = job_id, job.state = state.as_str(), reason = %reason, "burn-in ended");
        self.publish(job_id).await;
        Ok(())
    }

    /// Recomputes the job's headline (overall percent, ETA, current stage) from its stages.
    pub(super) async fn update_summary(&self, job_id: i64) -> Result<(), crate::db::DbError> {
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
    ) -> Result<(SmartReport, Vec<u8>), Outcome> {
        let command =
            context.smartctl(SmartctlAction::Report, with_text).map_err(Outcome::Failed)?;
        let output = self.run_remote(context, stage, &command).await?;
        let report = parse_smartctl_json(&output.stdout).map_err(|e| {
            Outcome::Failed(format!(
                "smartctl's answer cannot be read ({e}): {}",
                output.stderr_text()
            ))
        })?;
        if report.read_failed() {
            let message = report
                .smartctl
                .messages
                .iter()
                .map(|m| m.text.clone())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Outcome::Failed(format!("smartctl could not read the drive: {message}")));
        }
        if let Some(celsius) = report.temperature.current {
            // The table shows it too where the API has no sensor for the drive.
            if let Ok(true) = crate::inventory::set_smart_temperature(
                &self.pool,
                context.job.drive_id,
                celsius as f64,
            )
            .await
            {
                self.publish_drive(context.job.drive_id).await;
            }
            self.temperature(context, celsius as f64).await?;
        }
        Ok((report, output.stdout))
    }

    /// Records a temperature and enforces the critical limit.
    pub(super) async fn temperature(
        &self,
        context: &mut Context,
        celsius: f64,
    ) -> Result<(), Outcome> {
        // One sample every 30 s draws the curve; a new peak is always kept, since the verdict
        // judges the hottest moment.
        let sample_due =
            context.last_sample.is_none_or(|at| at.elapsed() >= Duration::from_secs(30));
        let new_peak = context.peak_c.is_none_or(|peak| celsius > peak);
        if sample_due || new_peak {
            context.last_sample = Some(Instant::now());
            context.peak_c = Some(context.peak_c.map_or(celsius, |peak| peak.max(celsius)));
            let _ = store::add_temperature(&self.pool, context.job.id, celsius).await;
        }
        let limit = self.options.critical_temperature_c;
        if celsius >= limit {
            let since = *context.hot_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= self.options.critical_sustain {
                return Err(Outcome::Failed(format!(
                    "the drive ran at {celsius:.0} °C, at or above the critical {limit:.0} °C, for {} s; the test was stopped to protect it. Improve cooling and run it again",
                    since.elapsed().as_secs()
                )));
            }
        } else {
            context.hot_since = None;
        }
        Ok(())
    }

    /// Runs a remote command; a NAS that is unreachable is waited for, up to the re-attach
    /// limit, since a multi-day job must survive a reboot of the dashboard's network.
    pub(super) async fn run_remote(
        &self,
        context: &Context,
        stage: &mut StageRecord,
        command: &RemoteCommand,
    ) -> Result<crate::ssh::CommandOutput, Outcome> {
        let started = Instant::now();
        let mut backoff = crate::truenas::Backoff::new(
            Duration::from_millis(200),
            self.options.poll_interval.max(Duration::from_secs(1)) * 10,
        );
        loop {
            match self.nas.run(context.job.host_id, command).await {
                Ok(output) => {
                    if stage.detail.starts_with("waiting for the NAS") {
                        stage.detail.clear();
                    }
                    return Ok(output);
                }
                Err(error)
                    if error.is_transient()
                        && started.elapsed() < self.options.reattach_timeout =>
                {
                    let detail = format!("waiting for the NAS: {error}");
                    if stage.detail != detail {
                        stage.detail = detail;
                        let _ = store::save_stage(&self.pool, stage).await;
                        self.publish(context.job.id).await;
                    }
                    if self.cancel_requested(context.job.id).await {
                        return Err(Outcome::Cancelled);
                    }
                    tokio::time::sleep(backoff.next_delay()).await;
                }
                Err(NasError::Ssh(error)) if error.to_string().contains("host key") => {
                    return Err(Outcome::Interrupted(error.to_string()));
                }
                Err(error) if error.is_transient() => {
                    return Err(Outcome::Interrupted(format!(
                        "the NAS did not answer for {} s: {error}",
                        started.elapsed().as_secs()
                    )));
                }
                Err(error) => return Err(Outcome::Interrupted(error.to_string())),
            }
        }
    }

    pub(super) async fn cancel_requested(&self, job_id: i64) -> bool {
        store::job(&self.pool, job_id).await.ok().flatten().is_some_and(|job| job.cancel_requested)
    }

    /// Reports progress at most every couple of seconds: the database and the live channel
    /// need not see every poll of a fast-moving stage.
    pub(super) async fn progress(
        &self,
        context: &Context,
        stage: &StageRecord,
        last: &mut Option<Instant>,
    ) {
        if last.is_some_and(|at| at.elapsed() < self.options.persist_every) {
            return;
        }
        *last = Some(Instant::now());
        let _ = store::save_stage(&self.pool, stage).await;
        let _ = self.update_summary(context.job.id).await;
        self.publish(context.job.id).await;
    }
}

/// The newest finished self-test's outcome as a stage outcome.
pub fn self_test_outcome(outcome: &SelfTestOutcome) -> Outcome {
    match outcome {
        SelfTestOutcome::Passed => Outcome::Passed,
        SelfTestOutcome::Failed { reason } => {
            Outcome::Failed(format!("the drive failed its self-test: {reason}"))
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
            Outcome::Failed(format!("the self-test ended in an unknown state ({reason})"))
        }
    }
}
