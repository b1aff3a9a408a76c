//! The stages: pre-check, SMART self-tests, the surface test, the final check.
//!
//! The surface test's writer is started exactly once per folder and followed until it is
//! known to be gone: its start is sent once and never retried; an uncertain start is
//! resolved by polling its folder, and a folder that never started is abandoned (claimed, so a
//! start still on its way can never run there) before a new one may be tried. Cancel,
//! overheating and a stuck test stop the writer (TERM, then KILL after the grace period) and
//! the stage ends only once the NAS says no process of it is left.

use std::time::{Duration, Instant};

use burnin::{
    SmartHealth,
    badblocks::{SurfaceProgress, choose_block_size},
    capture::Capture,
    remote::{
        AbandonReport, Badblocks, BadblocksMode, DevicePath, JobDir, JobState as RemoteJobState,
        PollReport, Probe, Program, RemoteCommand, RemoveReport, SelfTestKind as RemoteTestKind,
        Signal, SmartctlAction, StartReport, StopReport, Target, lock_file,
    },
    smart::{
        Protocol, SelfTestOutcome, SmartReport, TestStartOutcome,
        parse_scsi_self_test_progress_text, parse_self_test_start_text, parse_smartctl_json,
    },
    verdict::SurfaceOutcome,
};
use serde::{Deserialize, Serialize};

use super::{
    Engine,
    runner::{Context, FailKind, Outcome, Patience, self_test_outcome, text_output},
    store::{self, StageRecord},
};
use crate::db::DbError;

/// A short fingerprint of the drive's newest logged self-test, to tell a new result from an
/// old one.
fn newest_logged(report: &SmartReport) -> String {
    let count =
        report.ata.as_ref().and_then(|a| a.self_test_log.as_ref()).map_or(0, |l| l.entries.len())
            + report
                .nvme
                .as_ref()
                .and_then(|n| n.self_test_log.as_ref())
                .map_or(0, |l| l.entries.len())
            + report.scsi.as_ref().map_or(0, |s| s.self_tests.len());
    format!("{count}:{:?}", report.last_completed_self_test())
}

/// Where a self-test stage stands, kept in the stage's `parser_state` for a re-attach.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct SelfTestState {
    /// The drive accepted this stage's test.
    started: bool,
    /// [`newest_logged`] before the test started.
    before: String,
    /// The test was seen running at least once.
    seen_running: bool,
    /// The test was started a second time after the host stopped it.
    retried: bool,
}

/// Where a surface stage stands, kept in the stage's `parser_state`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct SurfaceState {
    /// Folders tried: a folder proven never to have started (abandoned) is given up and the
    /// next one is named with this number.
    attempt: u32,
    /// When the start was sent (UTC seconds), to give an unconfirmed one time to show.
    sent_at: Option<u64>,
    /// The NAS confirmed the start with this process group.
    group: Option<u32>,
}

/// Folders a surface stage tries before it gives up: a start proven never to have run is
/// retried in a fresh folder (after a crash between writing the folder's name and sending
/// the start, say), but not forever.
const SURFACE_ATTEMPTS: u32 = 3;

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn load<T: for<'de> Deserialize<'de> + Default>(stage: &StageRecord) -> T {
    serde_json::from_str(&stage.parser_state).unwrap_or_default()
}

fn keep<T: Serialize>(stage: &mut StageRecord, state: &T) {
    stage.parser_state = serde_json::to_string(state).unwrap_or_default();
}

/// How a surface folder ended up.
enum Followed {
    /// The stage is over; no process of it is alive.
    Ended(Outcome),
    /// Nothing ever ran in this folder: it was abandoned before any start claimed it.
    NeverStarted,
}

/// The most kept of badblocks' streams for the record: the bad block list rarely needs more,
/// and a week of status lines compresses to little.
const OUTPUT_HEAD: usize = 1 << 20;
const OUTPUT_TAIL: usize = 3 << 20;

impl Engine {
    pub(super) async fn precheck(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
    ) -> Result<Outcome, DbError> {
        let (report, raw) = match self.read_smart_noted(context, stage, false).await? {
            Ok(read) => read,
            Err(outcome) => return Ok(outcome),
        };
        let serial = report.identity.serial.clone().unwrap_or_default();
        if !serial.trim().eq_ignore_ascii_case(context.serial.trim()) {
            return Ok(Outcome::failed(format!(
                "/dev/{} on the NAS reports serial {serial:?}, not {:?}: the device names changed since the inventory last looked. Nothing was written; refresh and start again",
                context.devname, context.serial
            )));
        }
        if let Some(sector) =
            report.identity.physical_block_size.filter(|s| s.is_power_of_two() && *s >= 512)
        {
            context.physical_sector = sector;
        }
        let raw = String::from_utf8_lossy(&raw).into_owned();
        // The "before" snapshot is evidence the verdict needs: losing it is an error that
        // stops the job here (and the runner tries again), never a silent gap.
        store::save_snapshot(&self.pool, context.job.id, context.job.drive_id, "before", &raw)
            .await?;
        store::set_drive_smart(&self.pool, context.job.drive_id, &raw, report.health.as_str())
            .await?;
        if report.health == SmartHealth::Failed {
            return Ok(Outcome::failed(
                "the drive already reports its SMART overall health as FAILED",
            ));
        }
        let celsius = report.temperature.current.map(|c| c as f64);
        if let Some(c) = celsius.filter(|c| context.limits.too_hot(*c)) {
            return Ok(Outcome::Failed {
                kind: FailKind::Overheated,
                why: format!(
                    "the drive is at {c:.0} °C, at or above its limit of {:.0} °C: cool it before testing",
                    context.limits.fail_c
                ),
            });
        }
        stage.detail = format!(
            "serial matches; SMART {}; {}; {} h powered on",
            report.health.as_str(),
            celsius.map(|c| format!("{c:.0} °C")).unwrap_or_else(|| "no temperature".into()),
            report.power_on_hours.unwrap_or(0)
        );
        Ok(Outcome::Passed)
    }

    pub(super) async fn final_check(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
    ) -> Result<Outcome, DbError> {
        let (report, raw) = match self.read_smart_noted(context, stage, false).await? {
            Ok(read) => read,
            Err(outcome) => return Ok(outcome),
        };
        let raw = String::from_utf8_lossy(&raw).into_owned();
        store::save_snapshot(&self.pool, context.job.id, context.job.drive_id, "after", &raw)
            .await?;
        store::set_drive_smart(&self.pool, context.job.drive_id, &raw, report.health.as_str())
            .await?;
        stage.detail = format!("SMART {}; after-snapshot taken", report.health.as_str());
        if report.health == SmartHealth::Failed {
            return Ok(Outcome::failed(
                "the drive reports its SMART overall health as FAILED after the test",
            ));
        }
        Ok(Outcome::Passed)
    }

    /// [`Engine::read_smart`], kept in the stage's transcript.
    async fn read_smart_noted(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
        with_text: bool,
    ) -> Result<Result<(SmartReport, Vec<u8>), Outcome>, DbError> {
        let read = self.read_smart(context, stage, with_text).await?;
        if let Ok((_, raw)) = &read
            && let Ok(command) = context.smartctl(SmartctlAction::Report, with_text)
        {
            context.transcript.push(format!("$ {}\n", command.render()).as_bytes());
            context.transcript.push(raw);
            context.transcript.push(b"\n\n");
        }
        Ok(read)
    }

    /// Aborts the running self-test; the drive keeps testing otherwise.
    async fn abort_self_test(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
    ) -> Result<(), DbError> {
        if let Ok(abort) = context.smartctl(SmartctlAction::AbortSelfTest, false) {
            // Best effort by nature: the stage ends either way, and a test left running ends
            // by itself without writing anything.
            let _ = self.smartctl(context, stage, &abort).await?;
        }
        Ok(())
    }

    pub(super) async fn self_test(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
        kind: RemoteTestKind,
    ) -> Result<Outcome, DbError> {
        let mut state: SelfTestState = load(stage);
        let mut waited_for_other = false;
        let mut last_save = None;
        // Start the test unless this stage already did (re-attach after a restart).
        if !state.started {
            loop {
                if self.cancel_requested(context.job.id).await? {
                    return Ok(Outcome::Cancelled);
                }
                let (report, _) = match self.read_smart_noted(context, stage, true).await? {
                    Ok(read) => read,
                    Err(outcome) => return Ok(outcome),
                };
                if kind == RemoteTestKind::Conveyance {
                    let offered = report.identity.protocol == Protocol::Ata
                        && report
                            .ata
                            .as_ref()
                            .is_some_and(|ata| ata.polling_minutes.conveyance.is_some());
                    if !offered {
                        return Ok(Outcome::Skipped(
                            "skipped: the drive does not offer a conveyance test".into(),
                        ));
                    }
                }
                if report.self_test_progress().is_some() {
                    // Someone else's test (TrueNAS's schedule, an earlier run) is running:
                    // wait for it rather than abort it.
                    if !waited_for_other {
                        stage.detail =
                            "waiting for a self-test that was already running on the drive".into();
                        store::save_stage(&self.pool, stage).await?;
                        self.publish(context.job.id).await;
                        waited_for_other = true;
                    }
                    tokio::time::sleep(self.options.poll_interval).await;
                    continue;
                }
                let before = newest_logged(&report);
                let command = match context.smartctl(SmartctlAction::StartSelfTest(kind), true) {
                    Ok(command) => command,
                    Err(error) => return Ok(Outcome::tool(error)),
                };
                let output = match self.smartctl(context, stage, &command).await? {
                    Ok(output) => output,
                    Err(outcome) => return Ok(outcome),
                };
                let text = text_output(&output.stdout);
                match parse_self_test_start_text(&text) {
                    TestStartOutcome::AlreadyRunning { .. } => {
                        tokio::time::sleep(self.options.poll_interval).await;
                        continue;
                    }
                    TestStartOutcome::Started { .. } => {}
                    TestStartOutcome::Unrecognized
                        if output.exit_code & 0b11 == 0 && output.exit_code & 0b100 == 0 => {}
                    TestStartOutcome::Unrecognized => {
                        let messages = parse_smartctl_json(&output.stdout)
                            .map(|r| {
                                r.smartctl
                                    .messages
                                    .iter()
                                    .map(|m| m.text.clone())
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            })
                            .unwrap_or_default();
                        return Ok(Outcome::tool(format!(
                            "smartctl could not start the test (exit status {}): {} {}",
                            output.exit_code,
                            messages,
                            text.lines().last().unwrap_or("")
                        )));
                    }
                }
                state = SelfTestState {
                    started: true,
                    before,
                    seen_running: false,
                    retried: state.retried,
                };
                keep(stage, &state);
                stage.detail = "started".into();
                store::save_stage(&self.pool, stage).await?;
                self.publish(context.job.id).await;
                break;
            }
        }
        let started = Instant::now();
        let mut last_change = Instant::now();
        let mut last_percent: Option<f64> = stage.percent;
        let mut polls_without_news = 0u32;
        loop {
            tokio::time::sleep(self.options.poll_interval).await;
            if self.cancel_requested(context.job.id).await? {
                self.abort_self_test(context, stage).await?;
                return Ok(Outcome::Cancelled);
            }
            let (report, raw) = match self.read_smart_noted(context, stage, true).await? {
                Ok(read) => read,
                Err(outcome) if outcome.is_overheated() => {
                    self.abort_self_test(context, stage).await?;
                    return Ok(outcome);
                }
                Err(outcome) => return Ok(outcome),
            };
            store::save_snapshot(
                &self.pool,
                context.job.id,
                context.job.drive_id,
                "latest",
                &String::from_utf8_lossy(&raw),
            )
            .await?;
            if let Some(progress) = report.self_test_progress() {
                state.seen_running = true;
                keep(stage, &state);
                // SAS progress is only in smartctl's text before 8.0 (reference §5.3, §5.6).
                let percent = progress
                    .percent_done
                    .or_else(|| parse_scsi_self_test_progress_text(&text_output(&raw)))
                    .map(f64::from);
                if percent != last_percent {
                    last_percent = percent;
                    last_change = Instant::now();
                    stage.stuck = false;
                }
                stage.percent = percent;
                let stalled = last_change.elapsed();
                let shown = percent.map_or("?".into(), |p| format!("{p:.0}"));
                if stalled >= self.options.stuck_after() {
                    stage.stuck = true;
                    stage.detail = format!(
                        "no progress at {shown} % for {}",
                        burnin::job::duration_text(stalled.as_secs_f64())
                    );
                    if self.options.stuck_abort_after().is_some_and(|limit| stalled >= limit) {
                        self.abort_self_test(context, stage).await?;
                        self.audit_stuck(context, stage, stalled).await?;
                        return Ok(Outcome::Failed {
                            kind: FailKind::Stuck,
                            why: format!("the self-test was stuck at {shown} % and was aborted"),
                        });
                    }
                } else {
                    stage.detail = format!("{shown} % done");
                }
                if let Some(p) = percent.filter(|p| *p > 0.0) {
                    let elapsed = started.elapsed().as_secs_f64();
                    stage.eta_seconds = Some(elapsed / p * (100.0 - p)).filter(|e| e.is_finite());
                }
                self.progress(context, stage, &mut last_save).await?;
                continue;
            }
            let finished = state.seen_running || state.before != newest_logged(&report);
            if !finished {
                polls_without_news += 1;
                if polls_without_news >= 5 {
                    return Ok(Outcome::tool("the drive accepted the self-test but never ran it"));
                }
                continue;
            }
            return match report.last_completed_self_test() {
                Some(result)
                    if matches!(
                        result.outcome,
                        SelfTestOutcome::Aborted { .. } | SelfTestOutcome::Interrupted { .. }
                    ) && !state.retried =>
                {
                    // Stopped by the host (a reset, another program's abort), not failed by
                    // the drive: run it once more before giving up.
                    stage.detail =
                        "the self-test was stopped by the host; starting it again".into();
                    keep(stage, &SelfTestState { retried: true, ..SelfTestState::default() });
                    stage.percent = None;
                    store::save_stage(&self.pool, stage).await?;
                    self.publish(context.job.id).await;
                    Box::pin(self.self_test(context, stage, kind)).await
                }
                Some(result) => {
                    let outcome = self_test_outcome(&result.outcome);
                    if outcome == Outcome::Passed {
                        stage.detail = "completed without error".into();
                    }
                    Ok(outcome)
                }
                None => Ok(Outcome::tool("the self-test ended but the drive logged no result")),
            };
        }
    }

    async fn audit_stuck(
        &self,
        context: &Context,
        stage: &StageRecord,
        stalled: Duration,
    ) -> Result<(), DbError> {
        crate::audit::record(
            &self.pool,
            "system",
            "burnin.stuck_stopped",
            &context.serial,
            &serde_json::json!({"job_id": context.job.id, "stage": stage.kind, "stalled_secs": stalled.as_secs(), "percent": stage.percent}),
        )
        .await
    }

    /// The interlock again, immediately before the destructive command, through the session the
    /// start will use: a disk whose situation changed while the job waited (a pool imported or
    /// exported, a partition made, a device renamed, a process holding it, a VM given it) is
    /// refused, and so is a host whose settings changed since the job was queued. The reasons,
    /// for the caller to act on (and audit).
    async fn interlock_before_writing(
        &self,
        context: &Context,
        shell: &super::nas::Shell<'_>,
    ) -> Result<Result<(), Vec<String>>, DbError> {
        if let (Some(recorded), Ok(now)) =
            (context.job.host_config(), self.hosts.connection(context.job.host_id).await)
        {
            let changed = recorded.api_url != now.api_url
                || recorded.ssh_host != now.ssh_host
                || recorded.ssh_port != now.ssh_port
                || recorded.ssh_user != now.ssh_user;
            if changed {
                return Ok(Err(vec![format!(
                    "the host's API or SSH address changed since the job was queued (it started with {} and {}@{}:{})",
                    recorded.api_url, recorded.ssh_user, recorded.ssh_host, recorded.ssh_port
                )]));
            }
        }
        let target = super::interlock::Target {
            serial: context.serial.clone(),
            lunid: context.lunid.clone(),
            devname: context.devname.clone(),
            size_bytes: context.size_bytes,
        };
        let root = match JobDir::new(self.options.job_root.clone()) {
            Ok(root) => root,
            Err(error) => return Ok(Err(vec![error.to_string()])),
        };
        let checked = super::interlock::check_host(shell, context.os, &root, &[target]).await;
        let Some(checked) = checked.into_iter().next() else {
            return Ok(Err(vec!["the safety check returned nothing".into()]));
        };
        match checked.result {
            Ok(()) => Ok(Ok(())),
            Err(refusals) => Ok(Err(refusals.iter().map(ToString::to_string).collect())),
        }
    }

    async fn audit_refused(
        &self,
        context: &Context,
        reasons: &[String],
        at: &str,
    ) -> Result<(), DbError> {
        crate::audit::record(
            &self.pool,
            &context.job.operator,
            "burnin.refused",
            &context.serial,
            &serde_json::json!({"job_id": context.job.id, "device": context.devname, "reasons": reasons, "at": at}),
        )
        .await
    }

    pub(super) async fn surface(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
    ) -> Result<Outcome, DbError> {
        let mut state: SurfaceState = load(stage);
        loop {
            if let Some(dir) = stage.remote_dir.clone() {
                let dir = match JobDir::new(dir) {
                    Ok(dir) => dir,
                    Err(error) => return Ok(Outcome::Interrupted(error.to_string())),
                };
                match self.follow_surface(context, stage, &dir, &mut state).await? {
                    Followed::Ended(outcome) => return Ok(outcome),
                    Followed::NeverStarted => {
                        // The folder is claimed by our abandon: nothing can ever start there.
                        // A fresh folder may be tried, with every check made again.
                        state.attempt += 1;
                        state.sent_at = None;
                        state.group = None;
                        if state.attempt >= SURFACE_ATTEMPTS {
                            return Ok(Outcome::Interrupted(format!(
                                "badblocks could not be started: {SURFACE_ATTEMPTS} starts were never confirmed by the NAS, and nothing was written"
                            )));
                        }
                        stage.remote_dir = None;
                        keep(stage, &state);
                        stage.detail =
                            "the last start never reached the NAS; starting again".into();
                        store::save_stage(&self.pool, stage).await?;
                        continue;
                    }
                }
            }
            if let Some(outcome) = self.start_surface(context, stage, &mut state).await? {
                return Ok(outcome);
            }
        }
    }

    /// Checks once more and sends the start, once. `Some` when the stage ends here (a
    /// refusal, a cancel); `None` when there is a folder to follow.
    async fn start_surface(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
        state: &mut SurfaceState,
    ) -> Result<Option<Outcome>, DbError> {
        if self.cancel_requested(context.job.id).await? {
            return Ok(Some(Outcome::Cancelled));
        }
        // The check and the start go through one SSH session: if it drops in between, the
        // start is not sent on another one.
        let shell = loop {
            match self.nas.pinned_shell(context.job.host_id).await {
                Ok(shell) => break shell,
                Err(error) if error.is_transient() => {
                    // Nothing runs yet: waiting costs nothing but time.
                    let detail = format!("{}: {error}", super::runner::WAITING);
                    if stage.detail != detail {
                        stage.detail = detail;
                        store::save_stage(&self.pool, stage).await?;
                        self.publish(context.job.id).await;
                    }
                    if self.cancel_requested(context.job.id).await? {
                        return Ok(Some(Outcome::Cancelled));
                    }
                    tokio::time::sleep(self.options.poll_interval.max(Duration::from_secs(1)))
                        .await;
                }
                Err(error) => {
                    return Ok(Some(Outcome::Interrupted(format!("nothing was written: {error}"))));
                }
            }
        };
        let checked = self.interlock_before_writing(context, &shell).await?;
        if !shell.still_connected() {
            // The session dropped during the check: what it could not read says nothing about
            // the disk, and the start must not go out on another session. Check again.
            stage.detail =
                "the SSH link dropped during the check before writing; checking again".into();
            store::save_stage(&self.pool, stage).await?;
            tokio::time::sleep(self.options.poll_interval).await;
            return Ok(None);
        }
        if let Err(reasons) = checked {
            tracing::warn!(job.id = context.job.id, drive.serial = %context.serial, reasons = ?reasons, "surface test refused by the interlock");
            self.audit_refused(context, &reasons, "before writing").await?;
            return Ok(Some(Outcome::Interrupted(format!(
                "refused before writing, nothing was written: {}",
                reasons.join("; ")
            ))));
        }
        // Immediately before the start: a cancel sent during the checks stops here.
        if self.cancel_requested(context.job.id).await? {
            return Ok(Some(Outcome::Cancelled));
        }
        let block_size = choose_block_size(context.size_bytes, context.physical_sector);
        let suffix =
            if state.attempt == 0 { String::new() } else { format!("-try-{}", state.attempt + 1) };
        let root = self.options.job_root.trim_end_matches('/');
        let built = (|| {
            let dir = JobDir::new(format!(
                "{root}/{}-job-{}-stage-{}{suffix}",
                context.folder_prefix, context.job.id, stage.position
            ))?;
            let device = DevicePath::for_name(&context.devname)?;
            // A WWN that is not plain hex (some NVMe wwids) cannot name a by-id link; the
            // serial still does.
            let lunid = if context.lunid.chars().all(|c| c.is_ascii_hexdigit()) {
                context.lunid.as_str()
            } else {
                ""
            };
            let target = Target::new(device.clone(), &context.serial, lunid, context.size_bytes)?;
            let blocks_at_once = self.options.blocks_at_once_for(block_size);
            let program = Badblocks {
                device,
                mode: BadblocksMode::Destructive,
                block_size,
                blocks_at_once,
                max_bad_blocks: context.job.max_bad_blocks.and_then(|m| u32::try_from(m).ok()),
            };
            let start = RemoteCommand::start(
                context.os,
                dir.clone(),
                lock_file(root, &context.serial)?,
                target,
                Program::Badblocks(program),
            )?;
            Ok::<_, burnin::remote::CommandError>((dir, blocks_at_once, start))
        })();
        let (dir, blocks_at_once, start) = match built {
            Ok(built) => built,
            Err(error) => return Ok(Some(Outcome::tool(error.to_string()))),
        };
        // Written before the command is sent (and the start is not sent if it cannot be), so
        // a restart finds the folder to follow whatever happened to the start.
        stage.remote_dir = Some(dir.as_str().to_owned());
        stage.block_size = Some(i64::from(block_size));
        stage.blocks_at_once = Some(i64::from(blocks_at_once));
        stage.detail = format!("starting badblocks -b {block_size} -c {blocks_at_once}");
        state.sent_at = Some(now_secs());
        state.group = None;
        keep(stage, state);
        store::save_stage(&self.pool, stage).await?;
        crate::audit::record(
            &self.pool,
            &context.job.operator,
            "burnin.surface.start",
            &context.serial,
            &serde_json::json!({"job_id": context.job.id, "device": context.devname, "block_size": block_size, "folder": dir.as_str()}),
        )
        .await?;
        self.publish(context.job.id).await;
        // Sent once. Whatever comes back, or if nothing does, the folder tells what happened.
        match shell.run(&start).await.map(|output| StartReport::parse(&output.stdout)) {
            Ok(Ok(StartReport::Started { group })) => {
                state.group = Some(group);
                keep(stage, state);
                store::save_stage(&self.pool, stage).await?;
            }
            Ok(Ok(StartReport::Refused { reason, .. })) => {
                self.audit_refused(context, std::slice::from_ref(&reason), "at the start").await?;
                self.remove_folder(context, stage, &dir).await?;
                return Ok(Some(Outcome::Interrupted(format!(
                    "refused at the start, nothing was written: {reason}"
                ))));
            }
            Ok(Ok(StartReport::Error { reason })) => {
                self.remove_folder(context, stage, &dir).await?;
                return Ok(Some(Outcome::Interrupted(format!(
                    "badblocks could not be started, nothing was written: {reason}"
                ))));
            }
            // Claimed, unconfirmed, unreadable or lost: uncertain. Followed, never resent.
            Ok(Ok(StartReport::Claimed | StartReport::Unconfirmed)) | Ok(Err(_)) | Err(_) => {
                tracing::warn!(
                    job.id = context.job.id,
                    folder = dir.as_str(),
                    "the start of badblocks was not confirmed; following its folder"
                );
            }
        }
        Ok(None)
    }

    /// Polls a job's folder; the NAS is waited for as long as a writer may be alive there.
    async fn poll_folder(
        &self,
        context: &Context,
        stage: &mut StageRecord,
        dir: &JobDir,
    ) -> Result<PollReport, DbError> {
        loop {
            let poll = RemoteCommand::Poll {
                dir: dir.clone(),
                stdout_offset: u64::try_from(stage.stdout_offset).unwrap_or(0),
                stderr_offset: u64::try_from(stage.stderr_offset).unwrap_or(0),
                max_bytes: 256 * 1024,
            };
            let Ok(output) = self.run_remote(context, stage, &poll, Patience::Forever).await?
            else {
                continue;
            };
            match PollReport::parse(&output.stdout) {
                Ok(report) => return Ok(report),
                Err(error) => {
                    // An answer that cannot be read says nothing about the writer: ask again.
                    stage.detail = format!(
                        "the job's state on the NAS cannot be read ({error}); asking again"
                    );
                    store::save_stage(&self.pool, stage).await?;
                    tokio::time::sleep(self.options.poll_interval).await;
                }
            }
        }
    }

    async fn follow_surface(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
        dir: &JobDir,
        state: &mut SurfaceState,
    ) -> Result<Followed, DbError> {
        // The logs are read again from the start on every attach: the fold is rebuilt from
        // them, which is simpler and surer than persisting it.
        let mut progress = SurfaceProgress::new(context.size_bytes);
        let mut stdout = Capture::new(OUTPUT_HEAD, OUTPUT_TAIL);
        let mut stderr = Capture::new(OUTPUT_HEAD, OUTPUT_TAIL);
        stage.stdout_offset = 0;
        stage.stderr_offset = 0;
        let mut last_change = Instant::now();
        let mut last_percent = -1.0;
        let mut last_save = None;
        let mut last_smart = Instant::now();
        let grace = self.options.start_confirm_grace;
        loop {
            if self.cancel_requested(context.job.id).await? {
                self.stop_writer(context, stage, dir, "cancelled by the operator").await?;
                self.finish_folder(context, stage, dir, &stdout, &stderr).await?;
                return Ok(Followed::Ended(Outcome::Cancelled));
            }
            let report = self.poll_folder(context, stage, dir).await?;
            stage.stdout_offset += report.stdout.len() as i64;
            stage.stderr_offset += report.stderr.len() as i64;
            stdout.push(&report.stdout);
            stderr.push(&report.stderr);
            progress.feed(&report.stdout, &report.stderr);
            stage.log_tail = progress.last_line.clone();
            stage.bad_blocks = i64::try_from(progress.bad_blocks).unwrap_or(i64::MAX);
            stage.bad_block_list =
                progress.bad_block_list.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
            stage.read_errors = i64::from(progress.read_errors);
            stage.write_errors = i64::from(progress.write_errors);
            stage.corruption_errors = i64::from(progress.corruption_errors);
            if !progress.detail.is_empty() {
                stage.detail = progress.detail.clone();
            }
            let caught_up = stage.stdout_offset as u64 >= report.stdout_size
                && stage.stderr_offset as u64 >= report.stderr_size;
            match &report.state {
                RemoteJobState::Running { pid } => {
                    if state.group.is_none() {
                        state.group = Some(*pid);
                        keep(stage, state);
                    }
                }
                RemoteJobState::Exited { code } if caught_up => {
                    let code = *code;
                    self.finish_folder(context, stage, dir, &stdout, &stderr).await?;
                    let thresholds = crate::settings::verdict_thresholds(&self.pool).await?;
                    return Ok(Followed::Ended(
                        match burnin::verdict::surface_outcome(
                            &progress.finished(code),
                            &thresholds,
                        ) {
                            SurfaceOutcome::Passed { detail } => {
                                stage.detail = detail;
                                Outcome::Passed
                            }
                            SurfaceOutcome::Failed { reason } => Outcome::failed(reason),
                        },
                    ));
                }
                RemoteJobState::Exited { .. } => continue,
                RemoteJobState::Refused { reason } => {
                    self.audit_refused(context, std::slice::from_ref(reason), "at the start")
                        .await?;
                    self.finish_folder(context, stage, dir, &stdout, &stderr).await?;
                    return Ok(Followed::Ended(Outcome::Interrupted(format!(
                        "refused at the start, nothing was written: {reason}"
                    ))));
                }
                RemoteJobState::Gone => {
                    self.finish_folder(context, stage, dir, &stdout, &stderr).await?;
                    return Ok(Followed::Ended(Outcome::Interrupted(
                        "the badblocks process on the NAS disappeared without an exit status: the NAS may have rebooted or the process was killed".into(),
                    )));
                }
                RemoteJobState::Abandoned => return Ok(Followed::NeverStarted),
                RemoteJobState::Unstarted | RemoteJobState::NoJob => {
                    if let Some(group) = state.group {
                        // It started (the NAS said so), and now its folder is gone.
                        if let Some(outcome) = self.folder_vanished(context, stage, group).await? {
                            return Ok(Followed::Ended(outcome));
                        }
                    } else {
                        let sent = state.sent_at.unwrap_or(0);
                        if now_secs() >= sent + grace.as_secs() {
                            // An unconfirmed start: claim the folder so it can never start,
                            // unless it already has.
                            let abandon = RemoteCommand::Abandon { dir: dir.clone() };
                            if let Ok(output) =
                                self.run_remote(context, stage, &abandon, Patience::Forever).await?
                            {
                                match AbandonReport::parse(&output.stdout) {
                                    Ok(AbandonReport::Abandoned) => {
                                        return Ok(Followed::NeverStarted);
                                    }
                                    // A start got there first: it runs, or ran; follow it.
                                    Ok(AbandonReport::Claimed) => {}
                                    Ok(AbandonReport::Error { reason }) => {
                                        stage.detail = format!(
                                            "the job's folder cannot be claimed ({reason}); asking again"
                                        );
                                    }
                                    Err(error) => stage.detail = error.to_string(),
                                }
                            }
                        } else {
                            stage.detail = "waiting for the NAS to confirm the start".into();
                        }
                    }
                }
            }
            // The drive's temperature as the inventory last read it from the API: the curve
            // and the peak for the verdict, and the limit enforced while it writes.
            if let Some(drive) =
                crate::inventory::get_drive(&self.pool, context.job.drive_id).await?
                && let Some(celsius) = drive.temperature_c
                && let Err(outcome) = self.temperature(context, celsius).await?
            {
                self.stop_writer(context, stage, dir, "the drive ran too hot").await?;
                self.finish_folder(context, stage, dir, &stdout, &stderr).await?;
                return Ok(Followed::Ended(outcome));
            }
            let percent = progress.percent();
            stage.percent = Some(percent);
            let running = matches!(report.state, RemoteJobState::Running { .. });
            if (percent - last_percent).abs() > f64::EPSILON || !running {
                last_percent = percent;
                last_change = Instant::now();
                stage.stuck = false;
            } else if last_change.elapsed() >= self.options.stuck_after() {
                stage.stuck = true;
                let stalled = last_change.elapsed();
                stage.detail = format!(
                    "no progress at {percent:.1} % for {}",
                    burnin::job::duration_text(stalled.as_secs_f64())
                );
                if self.options.stuck_abort_after().is_some_and(|limit| stalled >= limit) {
                    self.stop_writer(context, stage, dir, "it made no progress").await?;
                    self.audit_stuck(context, stage, stalled).await?;
                    self.finish_folder(context, stage, dir, &stdout, &stderr).await?;
                    return Ok(Followed::Ended(Outcome::Failed {
                        kind: FailKind::Stuck,
                        why: format!(
                            "the surface test was stuck at {percent:.1} % for {} and was stopped",
                            burnin::job::duration_text(stalled.as_secs_f64())
                        ),
                    }));
                }
            }
            stage.throughput_mb_s = progress.throughput_mb_s;
            stage.eta_seconds = progress.eta_seconds();
            if running && last_smart.elapsed() >= self.options.smart_during_surface {
                last_smart = Instant::now();
                match self.read_smart(context, stage, false).await? {
                    Ok((_, raw)) => {
                        store::save_snapshot(
                            &self.pool,
                            context.job.id,
                            context.job.drive_id,
                            "latest",
                            &String::from_utf8_lossy(&raw),
                        )
                        .await?;
                    }
                    Err(outcome) if outcome.is_overheated() => {
                        self.stop_writer(context, stage, dir, "the drive ran too hot").await?;
                        self.finish_folder(context, stage, dir, &stdout, &stderr).await?;
                        return Ok(Followed::Ended(outcome));
                    }
                    // A SMART read that fails mid-test does not stop the writer.
                    Err(_) => {}
                }
            }
            self.progress(context, stage, &mut last_save).await?;
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// The folder of a started job is gone. Its writer may still be alive (someone deleted
    /// `/var/tmp`): the stage ends only when nothing holds the disk.
    async fn folder_vanished(
        &self,
        context: &Context,
        stage: &mut StageRecord,
        group: u32,
    ) -> Result<Option<Outcome>, DbError> {
        let Ok(device) = DevicePath::for_name(&context.devname) else {
            return Ok(Some(Outcome::Interrupted("the job's folder on the NAS is gone".into())));
        };
        let probe = RemoteCommand::Probe { os: context.os, probe: Probe::OpenBy(device) };
        let Ok(output) = self.run_remote(context, stage, &probe, Patience::Forever).await? else {
            return Ok(None);
        };
        let stdout = output.stdout_text();
        let stderr = output.stderr_text();
        let answer = burnin::interlock::parse::Answer {
            stdout: &stdout,
            stderr: &stderr,
            exit_code: output.exit_code,
        };
        match burnin::interlock::parse::open_by(answer) {
            Ok(holders) if holders.is_empty() => Ok(Some(Outcome::Interrupted(
                "the job's folder on the NAS is gone (the NAS may have been reinstalled or /var/tmp cleared) and nothing holds the disk any more".into(),
            ))),
            Ok(holders) => {
                let who: Vec<String> =
                    holders.iter().map(|h| format!("{} (pid {})", h.command, h.pid)).collect();
                stage.detail = format!(
                    "the job's folder on the NAS is gone but {} still has the disk open (the job's process group was {group}): stop it on the NAS; the job stays open until nothing holds the disk",
                    who.join(", ")
                );
                store::save_stage(&self.pool, stage).await?;
                tokio::time::sleep(self.options.poll_interval).await;
                Ok(None)
            }
            Err(error) => {
                stage.detail = format!("the job's folder is gone and who holds the disk cannot be read: {error}");
                Ok(None)
            }
        }
    }

    /// Stops a job's processes: TERM, then KILL after the grace period (again every grace
    /// period), and returns only once the NAS says none is left, or that none ever ran (a
    /// folder never started is abandoned first, so a start on its way cannot run later).
    async fn stop_writer(
        &self,
        context: &Context,
        stage: &mut StageRecord,
        dir: &JobDir,
        why: &str,
    ) -> Result<(), DbError> {
        let grace = self.options.stop_grace;
        let mut term_sent: Option<Instant> = None;
        let mut kill_sent: Option<Instant> = None;
        loop {
            let report = self.poll_folder(context, stage, dir).await?;
            match report.state {
                RemoteJobState::Running { .. } => {}
                RemoteJobState::Unstarted | RemoteJobState::NoJob => {
                    let abandon = RemoteCommand::Abandon { dir: dir.clone() };
                    if let Ok(output) =
                        self.run_remote(context, stage, &abandon, Patience::Forever).await?
                        && matches!(
                            AbandonReport::parse(&output.stdout),
                            Ok(AbandonReport::Abandoned)
                        )
                    {
                        return Ok(());
                    }
                    // A start claimed it: poll again and stop what runs.
                    tokio::time::sleep(self.options.poll_interval).await;
                    continue;
                }
                _ => return Ok(()),
            }
            let signal = match (term_sent, kill_sent) {
                (None, _) => Some(Signal::Term),
                (Some(term), None) if term.elapsed() >= grace => Some(Signal::Kill),
                (_, Some(kill)) if kill.elapsed() >= grace => Some(Signal::Kill),
                _ => None,
            };
            if let Some(signal) = signal {
                let stop = RemoteCommand::Stop { dir: dir.clone(), signal };
                if let Ok(output) =
                    self.run_remote(context, stage, &stop, Patience::Forever).await?
                {
                    match StopReport::parse(&output.stdout) {
                        Ok(StopReport::Signalled) => {}
                        Ok(_) => continue,
                        Err(error) => {
                            tracing::warn!(job.id = context.job.id, error = %error, "unreadable answer to a stop");
                        }
                    }
                }
                match signal {
                    Signal::Term => term_sent = Some(Instant::now()),
                    Signal::Kill => kill_sent = Some(Instant::now()),
                }
                tracing::info!(
                    job.id = context.job.id,
                    signal = signal.as_str(),
                    why,
                    "stopping badblocks"
                );
            }
            stage.detail = match (term_sent, kill_sent) {
                (_, Some(kill)) => format!(
                    "stopping badblocks ({why}): it ignored TERM; KILL sent {} s ago, waiting for it to end",
                    kill.elapsed().as_secs()
                ),
                (Some(term), None) => format!(
                    "stopping badblocks ({why}): TERM sent {} s ago",
                    term.elapsed().as_secs()
                ),
                (None, None) => format!("stopping badblocks ({why})"),
            };
            store::save_stage(&self.pool, stage).await?;
            self.publish(context.job.id).await;
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }

    /// Keeps the folder's output in the database, then removes the folder. The folder stays
    /// when the output could not be kept (nothing half-kept is removed), or when a process of
    /// the job is still alive.
    async fn finish_folder(
        &self,
        context: &Context,
        stage: &mut StageRecord,
        dir: &JobDir,
        stdout: &Capture,
        stderr: &Capture,
    ) -> Result<(), DbError> {
        store::save_output(&self.pool, stage.id, "stderr", stderr).await?;
        store::save_output(&self.pool, stage.id, "stdout", stdout).await?;
        store::save_stage(&self.pool, stage).await?;
        self.remove_folder(context, stage, dir).await
    }

    async fn remove_folder(
        &self,
        context: &Context,
        stage: &mut StageRecord,
        dir: &JobDir,
    ) -> Result<(), DbError> {
        let remove = RemoteCommand::Remove { dir: dir.clone() };
        // Right after the program's exit code is written its shells are still ending, and a
        // folder with a live process is kept: ask again for a few seconds.
        for _ in 0..20 {
            // Cleaning up: a NAS that does not answer keeps the folder, which is harmless.
            let Ok(output) = self.run_remote(context, stage, &remove, Patience::Limited).await?
            else {
                break;
            };
            match RemoveReport::parse(&output.stdout) {
                Ok(RemoveReport::Removed) => return Ok(()),
                Ok(RemoveReport::Running) => {
                    tokio::time::sleep(
                        self.options
                            .poll_interval
                            .clamp(Duration::from_millis(50), Duration::from_millis(500)),
                    )
                    .await;
                }
                Err(error) => {
                    tracing::warn!(job.id = context.job.id, folder = dir.as_str(), error = %error, "unreadable answer to removing the job's folder");
                    break;
                }
            }
        }
        tracing::warn!(
            job.id = context.job.id,
            folder = dir.as_str(),
            "the job's folder was not removed"
        );
        Ok(())
    }
}
