//! The burn-in engine: jobs are created queued at once, then run when a slot on their host
//! is free; each stage runs on the NAS (detached where it is long) and is followed by reading
//! its output, so the dashboard can restart, or lose the NAS for a while, without losing a
//! multi-day test. Owns the job tables.

pub mod interlock;
pub mod nas;
mod runner;
mod stages;
pub mod store;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use burnin::{
    DriveKind, DriveState,
    job::{JobState, JobView, StageKind, StartRequest, batch_phrase, plan},
};
use burnin_app::AppError;
use serde_json::json;
use sqlx::SqlitePool;
use tokio::{sync::Mutex, task::JoinHandle};

use crate::{audit, hosts::HostStore, live::Hub};

#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How often a running stage is polled.
    pub poll_interval: Duration,
    /// How often progress is written and published at most.
    pub persist_every: Duration,
    /// Jobs running at once per host. Drives are independent, so the default is generous.
    pub per_host_limit: usize,
    /// Time between two job starts on one host, so a shelf of drives does not spin up at once.
    pub stagger: Duration,
    /// A stage whose progress does not move for this long is flagged stuck.
    pub stuck_after: Duration,
    /// …and a stuck self-test is aborted after this long (None: only flagged).
    pub stuck_abort_after: Option<Duration>,
    /// At or above this temperature for `critical_sustain`, a job is stopped.
    pub critical_temperature_c: f64,
    pub critical_sustain: Duration,
    /// How long an unreachable NAS is waited for before a running job is marked interrupted.
    pub reattach_timeout: Duration,
    /// How often SMART is read during a surface test (temperature, counters).
    pub smart_during_surface: Duration,
    /// Where job folders live on the NAS.
    pub job_root: String,
    /// How often every idle drive's SMART is read (health column, SMART tab).
    pub smart_sweep: Duration,
    /// badblocks `-c`: blocks per read/write; 0 sizes each transfer to
    /// [`AUTO_TRANSFER_BYTES`] (see the benchmark in the README).
    pub blocks_at_once: u32,
    /// A surface test with more bad blocks than this fails.
    pub max_bad_blocks: i64,
}

/// An SSH session no command used for this long is logged out (see [`nas::Nas::close_idle`]).
const SSH_IDLE: Duration = Duration::from_secs(60);

/// The transfer size of badblocks' reads and writes when `-c` is not set: on the surface
/// benchmark (direct I/O, -b 4096) -c 64/256/1024/4096 took 7.39/5.57/4.24/5.67 s, so 4 MiB.
/// badblocks -w holds two such buffers, 8 MiB per drive on the NAS.
pub const AUTO_TRANSFER_BYTES: u32 = 4 << 20;

impl EngineOptions {
    /// badblocks `-c` for a block size.
    pub fn blocks_at_once_for(&self, block_size: u32) -> u32 {
        match self.blocks_at_once {
            0 => (AUTO_TRANSFER_BYTES / block_size.max(1)).max(1),
            chosen => chosen,
        }
    }
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            poll_interval: Duration::from_secs(5),
            persist_every: Duration::from_secs(2),
            per_host_limit: 32,
            stagger: Duration::from_secs(2),
            stuck_after: Duration::from_secs(30 * 60),
            stuck_abort_after: Some(Duration::from_secs(6 * 3600)),
            critical_temperature_c: 60.0,
            critical_sustain: Duration::from_secs(5 * 60),
            reattach_timeout: Duration::from_secs(3600),
            smart_during_surface: Duration::from_secs(60),
            job_root: "/var/tmp/burnin".to_owned(),
            smart_sweep: Duration::from_secs(600),
            blocks_at_once: 0,
            max_bad_blocks: 0,
        }
    }
}

#[derive(Clone)]
pub struct Engine {
    pool: SqlitePool,
    hosts: HostStore,
    hub: Hub,
    nas: nas::Nas,
    pub options: EngineOptions,
    running: Arc<Mutex<HashMap<i64, JoinHandle<()>>>>,
    last_start: Arc<Mutex<HashMap<i64, Instant>>>,
    wake: Arc<tokio::sync::Notify>,
}

impl Engine {
    pub fn new(
        pool: SqlitePool,
        hosts: HostStore,
        hub: Hub,
        nas: nas::Nas,
        options: EngineOptions,
    ) -> Engine {
        Engine {
            pool,
            hosts,
            hub,
            nas,
            options,
            running: Arc::default(),
            last_start: Arc::default(),
            wake: Arc::default(),
        }
    }

    /// Re-attaches to jobs that were running when the dashboard stopped, and starts the
    /// scheduler.
    pub async fn start(&self) -> JoinHandle<()> {
        if let Ok(jobs) = store::jobs_in(&self.pool, &[JobState::Running]).await {
            for job in jobs {
                self.spawn(job.id).await;
            }
        }
        let sweeper = self.clone();
        let engine = self.clone();
        tokio::spawn(async move {
            let sweep = tokio::spawn(async move { sweeper.sweep_smart().await });
            let nas = engine.nas.clone();
            let reaper = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(SSH_IDLE / 4).await;
                    let closed = nas.close_idle(SSH_IDLE).await;
                    if closed > 0 {
                        tracing::debug!(ssh.closed = closed, "closed idle SSH sessions");
                    }
                }
            });
            engine.schedule().await;
            sweep.abort();
            reaper.abort();
        })
    }

    /// Reads SMART of every idle drive now and then, so the table's health column and the
    /// SMART tab are filled without a burn-in. Drives under test are read by their job.
    async fn sweep_smart(&self) {
        tokio::time::sleep(Duration::from_secs(3)).await;
        loop {
            if let Ok(drives) =
                crate::inventory::list_drives(&self.pool, &burnin::DriveFilter::default()).await
            {
                for drive in drives {
                    if drive.state == DriveState::Absent
                        || drive.progress.as_ref().is_some_and(|p| p.state.is_active())
                    {
                        continue;
                    }
                    self.read_idle_smart(&drive).await;
                }
            }
            tokio::time::sleep(self.options.smart_sweep).await;
        }
    }

    async fn read_idle_smart(&self, drive: &burnin::DriveRow) {
        let version = self.hosts.get(drive.host_id).await.ok().and_then(|h| h.truenas_version);
        let os = nas::os_of(version.as_deref());
        let name = match (os, drive.devname.strip_prefix("nvd")) {
            (burnin::remote::Os::FreeBsd, Some(number)) => format!("nvme{number}"),
            _ => drive.devname.clone(),
        };
        let Ok(device) = burnin::remote::DevicePath::for_name(&name) else { return };
        let command = burnin::remote::RemoteCommand::Smartctl(burnin::remote::Smartctl {
            device,
            device_type: None,
            action: burnin::remote::SmartctlAction::Report,
            with_text: false,
        });
        let Ok(output) = self.nas.run(drive.host_id, &command).await else { return };
        let Ok(report) = burnin::smart::parse_smartctl_json(&output.stdout) else { return };
        if report.read_failed()
            || !report
                .identity
                .serial
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(&drive.serial))
        {
            return;
        }
        let raw = String::from_utf8_lossy(&output.stdout);
        if store::set_drive_smart(&self.pool, drive.id, &raw, report.health.as_str()).await.is_ok()
        {
            if let Some(celsius) = report.temperature.current {
                let _ =
                    crate::inventory::set_smart_temperature(&self.pool, drive.id, celsius as f64)
                        .await;
            }
            self.publish_drive(drive.id).await;
        }
    }

    pub async fn stop_all(&self) {
        for (_, task) in self.running.lock().await.drain() {
            task.abort();
        }
    }

    async fn spawn(&self, job_id: i64) {
        let engine = self.clone();
        let task = tokio::spawn(async move { engine.run_job(job_id).await });
        self.running.lock().await.insert(job_id, task);
    }

    async fn finished(&self, job_id: i64) {
        self.running.lock().await.remove(&job_id);
        self.wake.notify_one();
    }

    async fn schedule(&self) {
        loop {
            let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
            let Ok(queued) = store::jobs_in(&self.pool, &[JobState::Queued]).await else {
                continue;
            };
            let Ok(running) = store::jobs_in(&self.pool, &[JobState::Running]).await else {
                continue;
            };
            let mut per_host: HashMap<i64, usize> = HashMap::new();
            for job in &running {
                *per_host.entry(job.host_id).or_default() += 1;
            }
            for job in queued {
                if self.running.lock().await.contains_key(&job.id) {
                    continue;
                }
                let busy = per_host.entry(job.host_id).or_default();
                if *busy >= self.options.per_host_limit {
                    continue;
                }
                let mut last = self.last_start.lock().await;
                if last.get(&job.host_id).is_some_and(|at| at.elapsed() < self.options.stagger) {
                    continue;
                }
                last.insert(job.host_id, Instant::now());
                drop(last);
                *busy += 1;
                self.spawn(job.id).await;
            }
        }
    }

    pub(crate) async fn publish(&self, job_id: i64) {
        if let Ok(Some(job)) = store::job(&self.pool, job_id).await {
            self.publish_drive(job.drive_id).await;
        }
    }

    /// Sends a drive's row, as written, to every open tab.
    pub(crate) async fn publish_drive(&self, drive_id: i64) {
        if let Ok(Some(row)) = crate::inventory::get_drive(&self.pool, drive_id).await {
            self.hub.drive(row).await;
        }
    }

    /// The interlock on every drive of a destructive request, host by host: one sentence per
    /// reason, each naming the drive.
    async fn interlock_reasons(&self, drives: &[burnin::DriveRow]) -> Vec<String> {
        let mut by_host: std::collections::BTreeMap<i64, Vec<&burnin::DriveRow>> =
            std::collections::BTreeMap::new();
        for drive in drives {
            by_host.entry(drive.host_id).or_default().push(drive);
        }
        let mut reasons = Vec::new();
        for (host_id, drives) in by_host {
            let version = self.hosts.get(host_id).await.ok().and_then(|h| h.truenas_version);
            let targets: Vec<interlock::Target> = drives
                .iter()
                .map(|d| interlock::Target {
                    serial: d.serial.clone(),
                    devname: d.devname.clone(),
                    size_bytes: d.size_bytes,
                })
                .collect();
            let checked =
                interlock::check_host(&self.nas, host_id, nas::os_of(version.as_deref()), &targets)
                    .await;
            for (drive, checked) in drives.iter().zip(checked) {
                if let Err(refusals) = checked.result {
                    let who =
                        format!("{} ({} on {})", drive.serial, drive.devname, drive.host_name);
                    reasons.extend(refusals.iter().map(|r| format!("{who}: {r}")));
                }
            }
        }
        reasons
    }

    /// The hosts' API clients and SSH sessions.
    pub fn nas(&self) -> &nas::Nas {
        &self.nas
    }

    /// Checks and queues a burn-in for each drive. Nothing is queued unless every drive may
    /// be tested; a refusal names every reason.
    pub async fn start_jobs(&self, request: StartRequest) -> Result<Vec<JobView>, AppError> {
        let operator = request.operator.trim().to_owned();
        if operator.is_empty()
            || operator.chars().count() > 64
            || operator.chars().any(char::is_control)
        {
            return Err(AppError::bad_request(
                "give the operator's name (1 to 64 characters); it goes into the audit log and the certificate",
            ));
        }
        let unique: HashSet<i64> = request.drive_ids.iter().copied().collect();
        if unique.is_empty() {
            return Err(AppError::bad_request("select at least one drive"));
        }
        if unique.len() != request.drive_ids.len() {
            return Err(AppError::bad_request("a drive is listed twice"));
        }
        let stages = plan(&request.stages);
        if stages.len() <= 2 {
            return Err(AppError::bad_request(
                "choose at least one stage: a SMART test or the surface test",
            ));
        }
        let destructive = stages.contains(&StageKind::Surface);
        let mut drives = Vec::new();
        let mut reasons = Vec::new();
        for id in &request.drive_ids {
            match crate::inventory::get_drive(&self.pool, *id).await? {
                Some(drive) => drives.push(drive),
                None => reasons.push(format!("there is no drive with id {id}")),
            }
        }
        for drive in &drives {
            let who = format!("{} ({} on {})", drive.serial, drive.devname, drive.host_name);
            if drive.state == DriveState::Absent {
                reasons.push(format!("{who}: the drive is no longer reported by its host"));
            }
            if drive.progress.as_ref().is_some_and(|p| p.state.is_active()) {
                reasons.push(format!("{who}: a burn-in is already queued or running on it"));
            }
        }
        if destructive && reasons.is_empty() {
            if drives.len() == 1 {
                let serial = &drives[0].serial;
                if request.confirm_serial.as_deref().map(str::trim) != Some(serial.as_str()) {
                    return Err(AppError::refused(
                        format!(
                            "the surface test erases the drive: type its serial {serial} to confirm"
                        ),
                        vec!["the serial typed does not match".into()],
                    ));
                }
            } else {
                let phrase = batch_phrase(drives.len());
                if request.confirm_phrase.as_deref().map(str::trim) != Some(phrase.as_str()) {
                    return Err(AppError::refused(
                        format!(
                            "the surface test erases {} drives: type \"{phrase}\" to confirm",
                            drives.len()
                        ),
                        vec!["the confirmation phrase does not match".into()],
                    ));
                }
            }
        }
        if destructive {
            // The interlock: every disk is checked on the NAS and through its API now, and
            // again right before badblocks is sent.
            reasons.extend(self.interlock_reasons(&drives).await);
        }
        if !reasons.is_empty() {
            audit::record(
                &self.pool,
                &operator,
                "burnin.refused",
                "",
                &json!({"drive_ids": request.drive_ids, "reasons": reasons}),
            )
            .await?;
            return Err(AppError::refused(
                if destructive {
                    "the surface test was refused: nothing was started"
                } else {
                    "the burn-in was refused: nothing was started"
                },
                reasons,
            ));
        }
        let mut tx = crate::db::begin_write(&self.pool).await.map_err(crate::db::DbError::from)?;
        let mut ids = Vec::new();
        for drive in &drives {
            let id = store::create(
                &mut tx,
                drive.id,
                drive.host_id,
                &operator,
                &stages,
                request.surface.max_bad_blocks,
            )
            .await?;
            audit::record(
                &mut *tx,
                &operator,
                if destructive { "burnin.start_destructive" } else { "burnin.start" },
                &drive.serial,
                &json!({"job_id": id, "stages": stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(), "device": drive.devname, "host": drive.host_name}),
            )
            .await?;
            ids.push(id);
        }
        tx.commit().await.map_err(crate::db::DbError::from)?;
        for id in &ids {
            self.publish(*id).await;
        }
        self.wake.notify_one();
        let mut views = Vec::new();
        for id in ids {
            if let Some(view) = store::view(&self.pool, id).await? {
                views.push(view);
            }
        }
        Ok(views)
    }

    /// Cancels a job: a queued one at once, a running one as soon as its runner has stopped
    /// the remote work (badblocks' process group, or `smartctl -X`).
    pub async fn cancel(&self, job_id: i64, actor: &str) -> Result<JobView, AppError> {
        let job = store::job(&self.pool, job_id)
            .await?
            .ok_or_else(|| AppError::not_found(format!("there is no job with id {job_id}")))?;
        match job.state() {
            JobState::Queued => {
                store::set_job_state(
                    &self.pool,
                    job_id,
                    JobState::Cancelled,
                    Some("cancelled before it started"),
                )
                .await?;
                sqlx::query("UPDATE job_stages SET state = 'cancelled' WHERE job_id = $1 AND state = 'pending'")
                    .bind(job_id)
                    .execute(&self.pool)
                    .await
                    .map_err(crate::db::DbError::from)?;
            }
            JobState::Running => store::request_cancel(&self.pool, job_id).await?,
            done => {
                return Err(AppError::conflict(format!(
                    "job {job_id} already ended ({})",
                    done.as_str()
                )));
            }
        }
        audit::record(
            &self.pool,
            actor,
            "burnin.cancel",
            &job.drive_serial,
            &json!({"job_id": job_id}),
        )
        .await?;
        self.publish(job_id).await;
        store::view(&self.pool, job_id)
            .await?
            .ok_or_else(|| AppError::not_found("the job vanished"))
    }

    /// Cancels every active job, or every active job of one host.
    pub async fn cancel_many(&self, host_id: Option<i64>, actor: &str) -> Result<usize, AppError> {
        let jobs = store::jobs_in(&self.pool, &[JobState::Queued, JobState::Running]).await?;
        let mut count = 0;
        for job in jobs.into_iter().filter(|job| host_id.is_none_or(|id| id == job.host_id)) {
            self.cancel(job.id, actor).await?;
            count += 1;
        }
        Ok(count)
    }

    pub async fn view(&self, job_id: i64) -> Result<JobView, AppError> {
        store::view(&self.pool, job_id)
            .await?
            .ok_or_else(|| AppError::not_found(format!("there is no job with id {job_id}")))
    }

    pub async fn list(
        &self,
        drive_id: Option<i64>,
        state: Option<JobState>,
    ) -> Result<Vec<JobView>, AppError> {
        let mut views = Vec::new();
        for job in store::list(&self.pool, drive_id, state, 500).await? {
            if let Some(view) = store::view(&self.pool, job.id).await? {
                views.push(view);
            }
        }
        Ok(views)
    }
}

/// The stages a drive is offered by default (no surface test on flash).
pub fn default_stages(kind: DriveKind) -> Vec<StageKind> {
    burnin::job::default_stages(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badblocks_transfers_are_four_mib_unless_the_operator_chose_c() {
        let auto = EngineOptions::default();
        assert_eq!(auto.blocks_at_once_for(4096), 1024);
        assert_eq!(auto.blocks_at_once_for(8192), 512);
        assert_eq!(auto.blocks_at_once_for(512), 8192);
        let chosen = EngineOptions { blocks_at_once: 64, ..EngineOptions::default() };
        assert_eq!(chosen.blocks_at_once_for(8192), 64);
    }
}
