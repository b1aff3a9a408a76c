//! The stages: pre-check, SMART self-tests, the surface test, the final check.

use std::time::Instant;

use burnin::{
    SmartHealth,
    badblocks::{BadblocksEvent, BadblocksParser, PhaseKind, choose_block_size},
    remote::{
        Badblocks, BadblocksMode, JobDir, JobState as RemoteJobState, PollReport, Program,
        RemoteCommand, SelfTestKind as RemoteTestKind, SmartctlAction,
    },
    smart::{
        Protocol, SelfTestOutcome, SmartReport, TestStartOutcome,
        parse_scsi_self_test_progress_text, parse_self_test_start_text, parse_smartctl_json,
    },
};

use super::{
    Engine,
    runner::{Context, Outcome, self_test_outcome, text_output},
    store::{self, StageRecord},
};

fn health_text(health: SmartHealth) -> &'static str {
    health.as_str()
}

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

impl Engine {
    pub(super) async fn precheck(&self, context: &mut Context, stage: &mut StageRecord) -> Outcome {
        let (report, raw) = match self.read_smart(context, stage, false).await {
            Ok(read) => read,
            Err(outcome) => return outcome,
        };
        let serial = report.identity.serial.clone().unwrap_or_default();
        if !serial.trim().eq_ignore_ascii_case(context.serial.trim()) {
            return Outcome::Failed(format!(
                "/dev/{} on the NAS reports serial {serial:?}, not {:?}: the device names changed since the inventory last looked. Nothing was written; refresh and start again",
                context.devname, context.serial
            ));
        }
        if let Some(sector) =
            report.identity.physical_block_size.filter(|s| s.is_power_of_two() && *s >= 512)
        {
            context.physical_sector = sector;
        }
        let _ = store::save_snapshot(
            &self.pool,
            context.job.id,
            context.job.drive_id,
            "before",
            &String::from_utf8_lossy(&raw),
        )
        .await;
        let _ = store::set_drive_smart(
            &self.pool,
            context.job.drive_id,
            &String::from_utf8_lossy(&raw),
            health_text(report.health),
        )
        .await;
        if report.health == SmartHealth::Failed {
            return Outcome::Failed(
                "the drive already reports its SMART overall health as FAILED".into(),
            );
        }
        let celsius = report.temperature.current.map(|c| c as f64);
        if let Some(c) = celsius.filter(|c| *c >= self.options.critical_temperature_c) {
            return Outcome::Failed(format!(
                "the drive is at {c:.0} °C, at or above the critical {:.0} °C: cool it before testing",
                self.options.critical_temperature_c
            ));
        }
        stage.detail = format!(
            "serial matches; SMART {}; {}; {} h powered on",
            report.health.as_str(),
            celsius.map(|c| format!("{c:.0} °C")).unwrap_or_else(|| "no temperature".into()),
            report.power_on_hours.unwrap_or(0)
        );
        Outcome::Passed
    }

    pub(super) async fn final_check(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
    ) -> Outcome {
        let (report, raw) = match self.read_smart(context, stage, false).await {
            Ok(read) => read,
            Err(outcome) => return outcome,
        };
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let _ =
            store::save_snapshot(&self.pool, context.job.id, context.job.drive_id, "after", &raw)
                .await;
        let _ = store::set_drive_smart(
            &self.pool,
            context.job.drive_id,
            &raw,
            health_text(report.health),
        )
        .await;
        stage.detail = format!("SMART {}; after-snapshot taken", report.health.as_str());
        if report.health == SmartHealth::Failed {
            return Outcome::Failed(
                "the drive reports its SMART overall health as FAILED after the test".into(),
            );
        }
        Outcome::Passed
    }

    pub(super) async fn self_test(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
        kind: RemoteTestKind,
    ) -> Outcome {
        let mut state: serde_json::Value =
            serde_json::from_str(&stage.parser_state).unwrap_or_default();
        let mut waited_for_other = false;
        let mut last_save = None;
        // Start the test unless this stage already did (re-attach after a restart).
        if state["started"].as_bool() != Some(true) {
            loop {
                if self.cancel_requested(context.job.id).await {
                    return Outcome::Cancelled;
                }
                let (report, _) = match self.read_smart(context, stage, true).await {
                    Ok(read) => read,
                    Err(outcome) => return outcome,
                };
                if kind == RemoteTestKind::Conveyance {
                    let offered = report.identity.protocol == Protocol::Ata
                        && report
                            .ata
                            .as_ref()
                            .is_some_and(|ata| ata.polling_minutes.conveyance.is_some());
                    if !offered {
                        return Outcome::Skipped(
                            "skipped: the drive does not offer a conveyance test".into(),
                        );
                    }
                }
                if report.self_test_progress().is_some() {
                    // Someone else's test (TrueNAS's schedule, an earlier run) is running:
                    // wait for it rather than abort it.
                    if !waited_for_other {
                        stage.detail =
                            "waiting for a self-test that was already running on the drive".into();
                        let _ = store::save_stage(&self.pool, stage).await;
                        self.publish(context.job.id).await;
                        waited_for_other = true;
                    }
                    tokio::time::sleep(self.options.poll_interval).await;
                    continue;
                }
                let before = newest_logged(&report);
                let command = match context.smartctl(SmartctlAction::StartSelfTest(kind), true) {
                    Ok(command) => command,
                    Err(error) => return Outcome::Failed(error),
                };
                let output = match self.run_remote(context, stage, &command).await {
                    Ok(output) => output,
                    Err(outcome) => return outcome,
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
                        return Outcome::Failed(format!(
                            "smartctl could not start the test (exit status {}): {} {}",
                            output.exit_code,
                            messages,
                            text.lines().last().unwrap_or("")
                        ));
                    }
                }
                let retried = state["retried"].as_bool() == Some(true);
                state = serde_json::json!({"started": true, "before": before, "seen_running": false, "retried": retried});
                stage.parser_state = state.to_string();
                stage.detail = "started".into();
                let _ = store::save_stage(&self.pool, stage).await;
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
            if self.cancel_requested(context.job.id).await {
                if let Ok(abort) = context.smartctl(SmartctlAction::AbortSelfTest, false) {
                    let _ = self.nas.run(context.job.host_id, &abort).await;
                }
                return Outcome::Cancelled;
            }
            let (report, raw) = match self.read_smart(context, stage, true).await {
                Ok(read) => read,
                Err(Outcome::Failed(why)) if why.contains("°C") => {
                    if let Ok(abort) = context.smartctl(SmartctlAction::AbortSelfTest, false) {
                        let _ = self.nas.run(context.job.host_id, &abort).await;
                    }
                    return Outcome::Failed(why);
                }
                Err(outcome) => return outcome,
            };
            let _ = store::save_snapshot(
                &self.pool,
                context.job.id,
                context.job.drive_id,
                "latest",
                &String::from_utf8_lossy(&raw),
            )
            .await;
            if let Some(progress) = report.self_test_progress() {
                state["seen_running"] = true.into();
                stage.parser_state = state.to_string();
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
                if stalled >= self.options.stuck_after {
                    stage.stuck = true;
                    stage.detail = format!(
                        "no progress at {} % for {}",
                        percent.map_or("?".into(), |p| format!("{p:.0}")),
                        burnin::job::duration_text(stalled.as_secs_f64())
                    );
                    if self.options.stuck_abort_after.is_some_and(|limit| stalled >= limit) {
                        if let Ok(abort) = context.smartctl(SmartctlAction::AbortSelfTest, false) {
                            let _ = self.nas.run(context.job.host_id, &abort).await;
                        }
                        return Outcome::Failed(format!(
                            "the self-test was stuck at {} % and was aborted",
                            percent.map_or("?".into(), |p| format!("{p:.0}"))
                        ));
                    }
                } else {
                    stage.detail =
                        format!("{} % done", percent.map_or("?".into(), |p| format!("{p:.0}")));
                }
                if let Some(p) = percent.filter(|p| *p > 0.0) {
                    let elapsed = started.elapsed().as_secs_f64();
                    stage.eta_seconds = Some(elapsed / p * (100.0 - p)).filter(|e| e.is_finite());
                }
                self.progress(context, stage, &mut last_save).await;
                continue;
            }
            let finished = state["seen_running"].as_bool() == Some(true)
                || state["before"].as_str() != Some(newest_logged(&report).as_str());
            if !finished {
                polls_without_news += 1;
                if polls_without_news >= 5 {
                    return Outcome::Failed(
                        "the drive accepted the self-test but never ran it".into(),
                    );
                }
                continue;
            }
            return match report.last_completed_self_test() {
                Some(result)
                    if matches!(
                        result.outcome,
                        SelfTestOutcome::Aborted { .. } | SelfTestOutcome::Interrupted { .. }
                    ) && state["retried"].as_bool() != Some(true) =>
                {
                    // Stopped by the host (a reset, another program's abort), not failed by
                    // the drive: run it once more before giving up.
                    stage.detail =
                        "the self-test was stopped by the host; starting it again".into();
                    stage.parser_state = serde_json::json!({"retried": true}).to_string();
                    stage.percent = None;
                    let _ = store::save_stage(&self.pool, stage).await;
                    self.publish(context.job.id).await;
                    Box::pin(self.self_test(context, stage, kind)).await
                }
                Some(result) => {
                    let outcome = self_test_outcome(&result.outcome);
                    if outcome == Outcome::Passed {
                        stage.detail = "completed without error".into();
                    }
                    outcome
                }
                None => {
                    Outcome::Failed("the self-test ended but the drive logged no result".into())
                }
            };
        }
    }

    /// The interlock again, immediately before the destructive command: a disk whose
    /// situation changed while the job waited (a pool imported or exported, a partition
    /// made, a device renamed) is refused. Every refusal is audited.
    pub(super) async fn interlock_before_writing(&self, context: &Context) -> Result<(), String> {
        let target = super::interlock::Target {
            serial: context.serial.clone(),
            devname: context.devname.clone(),
            size_bytes: context.size_bytes,
        };
        let checked =
            super::interlock::check_host(&self.nas, context.job.host_id, context.os, &[target])
                .await;
        let Some(checked) = checked.into_iter().next() else {
            return Err("the safety check returned nothing; nothing was written".into());
        };
        let Err(refusals) = checked.result else { return Ok(()) };
        let reasons: Vec<String> = refusals.iter().map(ToString::to_string).collect();
        tracing::warn!(job.id = context.job.id, drive.serial = %context.serial, reasons = ?reasons, "surface test refused by the interlock");
        crate::audit::record(
            &self.pool,
            &context.job.operator,
            "burnin.refused",
            &context.serial,
            &serde_json::json!({"job_id": context.job.id, "device": context.devname, "reasons": reasons, "at": "before writing"}),
        )
        .await
        .ok();
        Err(format!("refused before writing, nothing was written: {}", reasons.join("; ")))
    }

    pub(super) async fn surface(&self, context: &mut Context, stage: &mut StageRecord) -> Outcome {
        let dir = match &stage.remote_dir {
            Some(dir) => match JobDir::new(dir.clone()) {
                Ok(dir) => dir,
                Err(error) => return Outcome::Interrupted(error.to_string()),
            },
            None => {
                // Checked again right before the destructive command is sent.
                if let Err(reason) = self.interlock_before_writing(context).await {
                    return Outcome::Interrupted(reason);
                }
                let block_size = choose_block_size(context.size_bytes, context.physical_sector);
                let dir = match JobDir::new(format!(
                    "{}/{}-job-{}-stage-{}",
                    self.options.job_root, context.folder_prefix, context.job.id, stage.position
                )) {
                    Ok(dir) => dir,
                    Err(error) => return Outcome::Failed(error.to_string()),
                };
                let device = match context.device() {
                    Ok(device) => device,
                    Err(error) => return Outcome::Failed(error),
                };
                let blocks_at_once = self.options.blocks_at_once_for(block_size);
                let program = Badblocks {
                    device,
                    mode: BadblocksMode::Destructive,
                    block_size,
                    blocks_at_once,
                    max_bad_blocks: context.job.max_bad_blocks.and_then(|m| u32::try_from(m).ok()),
                };
                if let Err(error) = program.validate() {
                    return Outcome::Failed(error.to_string());
                }
                // Written before the command is sent, so a restart finds the job either way.
                stage.remote_dir = Some(dir.as_str().to_owned());
                stage.block_size = Some(i64::from(block_size));
                stage.blocks_at_once = Some(i64::from(blocks_at_once));
                stage.detail = format!("starting badblocks -b {block_size} -c {blocks_at_once}");
                let _ = store::save_stage(&self.pool, stage).await;
                let start = RemoteCommand::Start {
                    os: context.os,
                    dir: dir.clone(),
                    program: Program::Badblocks(program),
                };
                crate::audit::record(&self.pool, &context.job.operator, "burnin.surface.start", &context.serial, &serde_json::json!({"job_id": context.job.id, "device": context.devname, "block_size": block_size})).await.ok();
                match self.run_remote(context, stage, &start).await {
                    Ok(output) if output.exit_code == 0 => {}
                    Ok(output) => {
                        return Outcome::Failed(format!(
                            "badblocks could not be started: {}",
                            output.stderr_text()
                        ));
                    }
                    Err(outcome) => return outcome,
                }
                dir
            }
        };
        self.follow_surface(context, stage, dir).await
    }

    async fn follow_surface(
        &self,
        context: &mut Context,
        stage: &mut StageRecord,
        dir: JobDir,
    ) -> Outcome {
        // Re-read the logs from the start: the parser's state is rebuilt from them, which is
        // simpler and surer than persisting it.
        let mut parser = BadblocksParser::default();
        stage.stdout_offset = 0;
        stage.stderr_offset = 0;
        stage.bad_blocks = 0;
        stage.bad_block_list.clear();
        stage.read_errors = 0;
        stage.write_errors = 0;
        stage.corruption_errors = 0;
        let mut tail = String::new();
        let mut refusal: Option<String> = None;
        let mut completed = false;
        let mut too_many = false;
        let started = Instant::now();
        let start_percent = stage.percent.unwrap_or(0.0);
        let mut last_change = Instant::now();
        let mut last_percent = -1.0;
        // (phase, percent of phase, badblocks' elapsed seconds) where the rate was last taken.
        let mut rate_anchor: Option<(u32, f32, u64)> = None;
        let mut nas_rate_mb_s: Option<f64> = None;
        let mut last_save = None;
        let mut last_smart = Instant::now();
        let block_size = stage.block_size.unwrap_or(4096) as f64;
        loop {
            if self.cancel_requested(context.job.id).await {
                let _ = self
                    .nas
                    .run(context.job.host_id, &RemoteCommand::Stop { dir: dir.clone() })
                    .await;
                return Outcome::Cancelled;
            }
            let poll = RemoteCommand::Poll {
                dir: dir.clone(),
                stdout_offset: u64::try_from(stage.stdout_offset).unwrap_or(0),
                stderr_offset: u64::try_from(stage.stderr_offset).unwrap_or(0),
                max_bytes: 256 * 1024,
            };
            let output = match self.run_remote(context, stage, &poll).await {
                Ok(output) => output,
                Err(outcome) => return outcome,
            };
            let report = match PollReport::parse(&output.stdout) {
                Ok(report) => report,
                Err(error) => {
                    return Outcome::Interrupted(format!(
                        "the job's status on the NAS cannot be read: {error}"
                    ));
                }
            };
            stage.stdout_offset += report.stdout.len() as i64;
            stage.stderr_offset += report.stderr.len() as i64;
            // The drive's temperature as the inventory last read it from the API: the curve
            // and the peak for the verdict, and the critical limit enforced while it writes.
            if let Ok(Some(drive)) =
                crate::inventory::get_drive(&self.pool, context.job.drive_id).await
                && let Some(celsius) = drive.temperature_c
                && let Err(outcome) = self.temperature(context, celsius).await
            {
                let _ = self
                    .nas
                    .run(context.job.host_id, &RemoteCommand::Stop { dir: dir.clone() })
                    .await;
                return outcome;
            }
            let mut events = parser.feed_stderr(&report.stderr);
            events.extend(parser.feed_stdout(&report.stdout));
            for segment in String::from_utf8_lossy(&report.stderr).split(['\n', '\x08']) {
                let segment = segment.trim_end();
                if !segment.trim().is_empty() {
                    tail = segment.trim().to_owned();
                    stage.log_tail = tail.clone();
                }
            }
            for event in events {
                match event {
                    BadblocksEvent::BadBlock(block) => {
                        stage.bad_blocks += 1;
                        if stage.bad_blocks <= 10_000 {
                            if !stage.bad_block_list.is_empty() {
                                stage.bad_block_list.push(',');
                            }
                            stage.bad_block_list.push_str(&block.to_string());
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
                        // Throughput by the NAS's own clock (badblocks' elapsed time), measured
                        // within one phase so it holds whether badblocks counts time per
                        // phase or per run, and so a dashboard restart does not skew it.
                        match rate_anchor {
                            Some((p, start_pct, start_s))
                                if p == phase && elapsed_secs >= start_s + 10 =>
                            {
                                let bytes = f64::from(percent - start_pct).max(0.0) / 100.0
                                    * context.size_bytes as f64;
                                nas_rate_mb_s = Some(bytes / (elapsed_secs - start_s) as f64 / 1e6);
                                rate_anchor = Some((phase, percent, elapsed_secs));
                            }
                            Some((p, _, _)) if p == phase => {}
                            _ => rate_anchor = Some((phase, percent, elapsed_secs)),
                        }
                        stage.read_errors = i64::from(read_errors);
                        stage.write_errors = i64::from(write_errors);
                        stage.corruption_errors = i64::from(corruption_errors);
                    }
                    BadblocksEvent::PassCompleted {
                        read_errors,
                        write_errors,
                        corruption_errors,
                        ..
                    } => {
                        stage.read_errors = i64::from(read_errors);
                        stage.write_errors = i64::from(write_errors);
                        stage.corruption_errors = i64::from(corruption_errors);
                        completed = true;
                    }
                    BadblocksEvent::TooManyBadBlocks => too_many = true,
                    BadblocksEvent::Refused { reason } => refusal = Some(format!("{reason:?}")),
                    BadblocksEvent::PhaseStarted { phase, pattern, kind } => {
                        stage.detail = match (kind, pattern) {
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
            let percent = f64::from(parser.overall_percent());
            stage.percent = Some(percent);
            if (percent - last_percent).abs() > f64::EPSILON {
                last_percent = percent;
                last_change = Instant::now();
                stage.stuck = false;
            } else if last_change.elapsed() >= self.options.stuck_after {
                stage.stuck = true;
            }
            let elapsed = started.elapsed().as_secs_f64();
            let done_since_attach = (percent - start_percent).max(0.0);
            if elapsed > 1.0 && done_since_attach > 0.0 {
                // Eight passes over the disk make a whole test.
                let bytes = done_since_attach / 100.0 * 8.0 * context.size_bytes as f64;
                stage.throughput_mb_s = nas_rate_mb_s.or(Some(bytes / elapsed / 1e6));
                stage.eta_seconds = Some(elapsed / done_since_attach * (100.0 - percent));
            }
            let _ = block_size;
            match report.state {
                RemoteJobState::Running { .. } => {}
                RemoteJobState::Exited { code } => {
                    let caught_up = report.stdout.len() as u64 + poll_offset(&poll, true)
                        >= report.stdout_size
                        && report.stderr.len() as u64 + poll_offset(&poll, false)
                            >= report.stderr_size;
                    if !caught_up {
                        continue;
                    }
                    let _ = store::save_stage(&self.pool, stage).await;
                    let _ = self
                        .nas
                        .run(context.job.host_id, &RemoteCommand::Remove { dir: dir.clone() })
                        .await;
                    if code != 0 || refusal.is_some() {
                        // Never a pass when badblocks did not run to the end (the Spearfoot
                        // script reported success after badblocks refused a mounted disk).
                        return Outcome::Failed(format!(
                            "badblocks exited with status {code}: {tail}"
                        ));
                    }
                    if stage.bad_blocks > self.options.max_bad_blocks {
                        let first: Vec<&str> = stage.bad_block_list.split(',').take(5).collect();
                        return Outcome::Failed(format!(
                            "{} bad blocks found (first: {}){}",
                            stage.bad_blocks,
                            first.join(", "),
                            if too_many { "; the test stopped at the limit" } else { "" }
                        ));
                    }
                    if !completed {
                        return Outcome::Failed(format!(
                            "badblocks ended without completing its pass: {tail}"
                        ));
                    }
                    stage.detail = format!("8 passes completed, {} bad blocks", stage.bad_blocks);
                    return Outcome::Passed;
                }
                RemoteJobState::Gone => {
                    return Outcome::Interrupted(
                        "the badblocks process on the NAS disappeared without an exit status: the NAS may have rebooted or the process was killed".into(),
                    );
                }
                RemoteJobState::NoJob => {
                    return Outcome::Interrupted("the job's folder on the NAS is gone (the NAS may have been reinstalled or /var/tmp cleared)".into());
                }
            }
            if last_smart.elapsed() >= self.options.smart_during_surface {
                last_smart = Instant::now();
                match self.read_smart(context, stage, false).await {
                    Ok((_, raw)) => {
                        let _ = store::save_snapshot(
                            &self.pool,
                            context.job.id,
                            context.job.drive_id,
                            "latest",
                            &String::from_utf8_lossy(&raw),
                        )
                        .await;
                    }
                    Err(Outcome::Failed(why)) if why.contains("°C") => {
                        let _ = self
                            .nas
                            .run(context.job.host_id, &RemoteCommand::Stop { dir: dir.clone() })
                            .await;
                        return Outcome::Failed(why);
                    }
                    Err(_) => {}
                }
            }
            self.progress(context, stage, &mut last_save).await;
            tokio::time::sleep(self.options.poll_interval).await;
        }
    }
}

fn poll_offset(command: &RemoteCommand, stdout: bool) -> u64 {
    match command {
        RemoteCommand::Poll { stdout_offset, stderr_offset, .. } => {
            if stdout {
                *stdout_offset
            } else {
                *stderr_offset
            }
        }
        _ => 0,
    }
}
