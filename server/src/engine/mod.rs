//! The burn-in engine: jobs are created queued at once, then run when a slot on their host
//! is free; each stage runs on the NAS (detached where it is long) and is followed by reading
//! its output, so the dashboard can restart, or lose the NAS for a while, without losing a
//! multi-day test. Owns the job tables.

mod error;
pub mod interlock;
pub mod nas;
mod runner;
mod stages;
pub mod store;

pub use error::EngineError;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use burnin::{
    DriveState,
    job::{
        CancelResult, HostConfig, JobState, JobView, StageKind, StartRequest, batch_phrase, plan,
    },
    remote::JobDir,
};
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
    /// The run-time settings: jobs per host, stagger, stuck and abort times, the critical
    /// temperature's sustain time and the SMART sweep's interval are read from it when used.
    pub live: crate::settings::Live,
    /// How long an unreachable NAS is waited for before a stage that runs no writer is
    /// interrupted. A stage whose writer may be alive waits for as long as it takes.
    pub reattach_timeout: Duration,
    /// How often SMART is read during a surface test (temperature, counters).
    pub smart_during_surface: Duration,
    /// Where job folders live on the NAS.
    pub job_root: String,
    /// badblocks `-c`: blocks per read/write; 0 sizes each transfer to
    /// [`AUTO_TRANSFER_BYTES`] (see the benchmark in the README).
    pub blocks_at_once: u32,
    /// Time a stopped writer gets to end after TERM before it is sent KILL.
    pub stop_grace: Duration,
    /// Time an unconfirmed start gets to show in its folder before the folder is abandoned.
    pub start_confirm_grace: Duration,
}

/// What one idle drive's SMART read told of its host's SSH.
enum Reach {
    /// A command ran: SSH works.
    Answered,
    /// SSH could not be used at all, and why.
    CannotConnect(String),
    /// Something else went wrong (or nothing was sent): no evidence.
    Other,
}

/// How many drives of a host the idle SMART sweep tries before it takes the host's SSH for
/// unreachable this sweep.
const SWEEP_TRIES: u32 = 2;

/// An SSH session no command used for this long is logged out (see [`nas::Nas::close_idle`]).
const SSH_IDLE: Duration = Duration::from_secs(60);

/// The transfer size of badblocks' reads and writes when `-c` is not set: on the surface
/// benchmark (direct I/O, -b 4096) -c 64/256/1024/4096 took 7.39/5.57/4.24/5.67 s, so 4 MiB.
/// badblocks -w holds two such buffers, 8 MiB per drive on the NAS.
pub const AUTO_TRANSFER_BYTES: u32 = 4 << 20;

impl EngineOptions {
    /// Jobs running at once per host. Drives are independent, so the default is generous.
    pub fn per_host_limit(&self) -> usize {
        self.live.read(|s| s.jobs_per_host.max(1) as usize)
    }

    /// Time between two job starts on one host, so a shelf of drives does not spin up at once.
    pub fn stagger(&self) -> Duration {
        self.live.read(|s| Duration::from_millis(s.stagger_ms))
    }

    /// A stage whose progress does not move for this long is flagged stuck.
    pub fn stuck_after(&self) -> Duration {
        self.live.read(|s| Duration::from_secs(s.stuck_after_secs.max(1)))
    }

    /// …and a stuck self-test or surface test is stopped after this long (None: only flagged).
    pub fn stuck_abort_after(&self) -> Option<Duration> {
        self.live.read(|s| {
            (s.stuck_abort_after_secs > 0).then(|| Duration::from_secs(s.stuck_abort_after_secs))
        })
    }

    /// A drive at or above its kind's `fail_c` for this long has its job stopped.
    pub fn critical_sustain(&self) -> Duration {
        self.live.read(|s| Duration::from_secs(s.critical_sustain_secs))
    }

    /// How often every idle drive's SMART is read (health column, SMART tab).
    pub fn smart_sweep(&self) -> Duration {
        self.live.read(|s| Duration::from_secs(s.smart_interval_secs.max(5)))
    }

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
            live: crate::settings::Live::default(),
            reattach_timeout: Duration::from_secs(3600),
            smart_during_surface: Duration::from_secs(60),
            job_root: "/var/tmp/burnin".to_owned(),
            blocks_at_once: 0,
            stop_grace: Duration::from_secs(30),
            start_confirm_grace: Duration::from_secs(60),
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
    /// Told each time a job's runner ends (its job has ended, or given up for now): the
    /// sealer (`Services::start_sealer`) seals what ended.
    pub(crate) ended: Arc<tokio::sync::Notify>,
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
            ended: Arc::default(),
        }
    }

    /// Re-attaches to jobs that were running when the dashboard stopped, and starts the
    /// scheduler.
    pub async fn start(&self) -> JoinHandle<()> {
        match store::jobs_in(&self.pool, &[JobState::Running]).await {
            Ok(jobs) => {
                for job in jobs {
                    self.spawn(job.id).await;
                }
            }
            // The scheduler below picks running jobs up as well, once the database answers.
            Err(error) => {
                tracing::error!(error = %error, "cannot list the running jobs to re-attach")
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
                // Per host: its name, whether SSH answered once, and why it could not be used
                // (with how many tries failed so).
                let mut reach: std::collections::BTreeMap<i64, (String, bool, Option<String>)> =
                    std::collections::BTreeMap::new();
                let mut refused: std::collections::BTreeMap<i64, u32> =
                    std::collections::BTreeMap::new();
                // Per host, read once a sweep: its TrueNAS version (which decides the device
                // names smartctl takes).
                let mut versions: std::collections::BTreeMap<i64, Option<String>> =
                    std::collections::BTreeMap::new();
                for drive in drives {
                    if drive.state == DriveState::Absent
                        || drive.progress.as_ref().is_some_and(|p| p.state.is_active())
                    {
                        continue;
                    }
                    // A host whose SSH could not be reached twice is not tried again for each
                    // of its other drives this sweep: sixty drives behind a dead link would be
                    // sixty connection timeouts. (Twice, so one dropped attempt is not taken
                    // for a dead link when the next drive would have answered.)
                    let answered =
                        reach.get(&drive.host_id).is_some_and(|(_, answered, _)| *answered);
                    if !answered && refused.get(&drive.host_id).is_some_and(|n| *n >= SWEEP_TRIES) {
                        continue;
                    }
                    let version = match versions.get(&drive.host_id) {
                        Some(version) => version.clone(),
                        None => {
                            let version = self
                                .hosts
                                .get(drive.host_id)
                                .await
                                .ok()
                                .and_then(|h| h.truenas_version);
                            versions.insert(drive.host_id, version.clone());
                            version
                        }
                    };
                    let seen = self.read_idle_smart(&drive, version.as_deref()).await;
                    let host = reach
                        .entry(drive.host_id)
                        .or_insert_with(|| (drive.host_name.clone(), false, None));
                    match seen {
                        Reach::Answered => host.1 = true,
                        Reach::CannotConnect(why) => {
                            host.2 = Some(why);
                            *refused.entry(drive.host_id).or_default() += 1;
                        }
                        Reach::Other => {}
                    }
                }
                let rules = self.options.live.read(|s| s.alerts.clone());
                for (host_id, (name, answered, why)) in reach {
                    // One answer proves SSH works; without one, a connection that failed says
                    // it does not; anything else says nothing.
                    if !answered && why.is_none() {
                        continue;
                    }
                    let failing = if answered { None } else { why.as_deref() };
                    if let Err(error) = crate::alert_feeds::ssh(
                        &self.pool,
                        &rules,
                        (host_id, &name),
                        failing,
                        crate::auth::now_unix(),
                    )
                    .await
                    {
                        tracing::warn!(host.id = host_id, error = %error, "cannot check the host's SSH alert");
                    }
                }
            }
            tokio::time::sleep(self.options.smart_sweep()).await;
        }
    }

    async fn read_idle_smart(&self, drive: &burnin::DriveRow, version: Option<&str>) -> Reach {
        let os = nas::os_of(version);
        let name = match (os, drive.devname.strip_prefix("nvd")) {
            (burnin::remote::Os::FreeBsd, Some(number)) => format!("nvme{number}"),
            _ => drive.devname.clone(),
        };
        let Ok(device) = burnin::remote::DevicePath::for_name(&name) else { return Reach::Other };
        let command = burnin::remote::RemoteCommand::Smartctl(burnin::remote::Smartctl {
            device,
            device_type: None,
            action: burnin::remote::SmartctlAction::Report,
            with_text: false,
        });
        // The sweep is informational: a drive that cannot be read now is read next time.
        let output = match self.nas.run(drive.host_id, &command).await {
            Ok(output) => output,
            Err(error) if crate::alert_feeds::ssh_cannot_connect(&error) => {
                return Reach::CannotConnect(error.to_string());
            }
            Err(_) => return Reach::Other,
        };
        let Ok(report) = burnin::smart::parse_smartctl_json(&output.stdout) else {
            return Reach::Answered;
        };
        if report.read_failed()
            || !report
                .identity
                .serial
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(&drive.serial))
        {
            return Reach::Answered;
        }
        self.idle_smart_alerts(drive, &report).await;
        let raw = String::from_utf8_lossy(&output.stdout);
        match store::set_drive_smart(&self.pool, drive.id, &raw, report.health.as_str()).await {
            Ok(()) => {
                if let Some(celsius) = report.temperature.current
                    && let Err(error) = crate::inventory::set_smart_temperature(
                        &self.pool,
                        drive.id,
                        celsius as f64,
                    )
                    .await
                {
                    tracing::warn!(drive.serial = %drive.serial, error = %error, "cannot store a SMART temperature");
                }
                self.publish_drive(drive.id).await;
            }
            Err(error) => {
                tracing::warn!(drive.serial = %drive.serial, error = %error, "cannot store a SMART sweep reading")
            }
        }
        Reach::Answered
    }

    /// SMART health and the watched counters of an idle drive's new reading, against the
    /// reading stored before it (the sweep's last, or a burn-in's final snapshot).
    async fn idle_smart_alerts(
        &self,
        drive: &burnin::DriveRow,
        report: &burnin::smart::SmartReport,
    ) {
        // A burn-in may have started on it since the sweep listed it: its counters are the
        // verdict's business then.
        match crate::inventory::get_drive(&self.pool, drive.id).await {
            Ok(Some(now)) if !now.progress.as_ref().is_some_and(|p| p.state.is_active()) => {}
            _ => return,
        }
        let previous = match store::drive_smart(&self.pool, drive.id).await {
            Ok(stored) => stored
                .and_then(|(raw, _)| burnin::smart::parse_smartctl_json(raw.as_bytes()).ok())
                .filter(|previous| !previous.read_failed()),
            Err(error) => {
                tracing::warn!(drive.serial = %drive.serial, error = %error, "cannot read the drive's last SMART reading");
                return;
            }
        };
        let rules = self.options.live.read(|s| s.alerts.clone());
        if let Err(error) = crate::alert_feeds::smart_reading(
            &self.pool,
            &rules,
            (drive.host_id, &drive.serial),
            previous.as_ref(),
            report,
            crate::auth::now_unix(),
        )
        .await
        {
            tracing::warn!(drive.serial = %drive.serial, error = %error, "cannot check the drive's SMART alerts");
        }
    }

    pub async fn stop_all(&self) {
        for (_, task) in self.running.lock().await.drain() {
            task.abort();
        }
    }

    async fn spawn(&self, job_id: i64) {
        let mut running = self.running.lock().await;
        if running.get(&job_id).is_some_and(|task| !task.is_finished()) {
            // One runner per job, ever: a second would follow (and might stop) the same work.
            return;
        }
        let engine = self.clone();
        let task = tokio::spawn(async move { engine.run_job(job_id).await });
        running.insert(job_id, task);
    }

    async fn finished(&self, job_id: i64) {
        self.running.lock().await.remove(&job_id);
        self.wake.notify_one();
        self.ended.notify_one();
    }

    async fn schedule(&self) {
        loop {
            let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
            let Ok(jobs) = store::jobs_in(&self.pool, &[JobState::Queued, JobState::Running]).await
            else {
                continue;
            };
            let mut per_host: HashMap<i64, usize> = HashMap::new();
            for job in jobs.iter().filter(|job| job.state() == JobState::Running) {
                *per_host.entry(job.host_id).or_default() += 1;
            }
            for job in jobs {
                if self.running.lock().await.contains_key(&job.id) {
                    continue;
                }
                if job.state() == JobState::Running {
                    // A running job without a runner (its first one gave up on the database):
                    // re-attach.
                    self.spawn(job.id).await;
                    continue;
                }
                let busy = per_host.entry(job.host_id).or_default();
                if *busy >= self.options.per_host_limit() {
                    continue;
                }
                let mut last = self.last_start.lock().await;
                if last.get(&job.host_id).is_some_and(|at| at.elapsed() < self.options.stagger()) {
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
        let root = match JobDir::new(self.options.job_root.clone()) {
            Ok(root) => root,
            Err(error) => return vec![error.to_string()],
        };
        let mut reasons = Vec::new();
        for (host_id, drives) in by_host {
            let version = self.hosts.get(host_id).await.ok().and_then(|h| h.truenas_version);
            let mut targets = Vec::new();
            for drive in &drives {
                let lunid =
                    crate::inventory::lunid_of(&self.pool, drive.id).await.unwrap_or_default();
                targets.push(interlock::Target {
                    serial: drive.serial.clone(),
                    lunid,
                    devname: drive.devname.clone(),
                    size_bytes: drive.size_bytes,
                });
            }
            let shell = self.nas.shell(host_id);
            let checked =
                interlock::check_host(&shell, nas::os_of(version.as_deref()), &root, &targets)
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
    /// be tested; a refusal names every reason. With an idempotency key, a repeat of the same
    /// request returns the first answer and queues nothing.
    pub async fn start_jobs(&self, request: StartRequest) -> Result<Vec<JobView>, EngineError> {
        let Some(key) = request.idempotency_key.clone() else {
            return self.start_checked(request, None).await;
        };
        let key = key.trim().to_owned();
        if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(EngineError::BadRequest(
                "the Idempotency-Key must be 1 to 255 printable ASCII characters (a UUID, say)"
                    .into(),
            ));
        }
        let mut unkeyed = request.clone();
        unkeyed.idempotency_key = None;
        let hash = request_hash(&unkeyed);
        match store::key_begin(&self.pool, &key, &hash).await? {
            store::KeySeen::New => {}
            // The first answer as it was given; if it cannot be read back, the same jobs as
            // they stand now. Never a second start.
            store::KeySeen::Done { job_ids, body } => {
                if let Some(views) =
                    body.and_then(|body| serde_json::from_str::<Vec<JobView>>(&body).ok())
                {
                    return Ok(views);
                }
                return self.views(&job_ids).await;
            }
            store::KeySeen::InFlight => {
                return Err(EngineError::Conflict(
                    "a request with this Idempotency-Key is still being answered; retry in a moment".into(),
                ));
            }
            store::KeySeen::Mismatch => {
                return Err(EngineError::KeyReused(
                    "this Idempotency-Key was used for a different request; use a new key for a new request".into(),
                ));
            }
        }
        match self.start_checked(unkeyed, Some(&key)).await {
            Ok(views) => {
                if let Ok(body) = serde_json::to_string(&views)
                    && let Err(error) = store::key_body(&self.pool, &key, &body).await
                {
                    // The jobs are recorded under the key already; a repeat rebuilds the answer.
                    tracing::warn!(error = %error, "cannot keep the first answer of a keyed start");
                }
                Ok(views)
            }
            Err(error) => {
                // Nothing was created: the key is free for a retry.
                store::key_release(&self.pool, &key).await?;
                Err(error)
            }
        }
    }

    async fn views(&self, ids: &[i64]) -> Result<Vec<JobView>, EngineError> {
        let mut views = Vec::new();
        for id in ids {
            if let Some(view) = store::view(&self.pool, *id).await? {
                views.push(view);
            }
        }
        Ok(views)
    }

    async fn start_checked(
        &self,
        request: StartRequest,
        key: Option<&str>,
    ) -> Result<Vec<JobView>, EngineError> {
        let operator = request.operator.trim().to_owned();
        if operator.is_empty()
            || operator.chars().count() > 64
            || operator.chars().any(char::is_control)
        {
            return Err(EngineError::BadRequest(
                "give the operator's name (1 to 64 characters); it goes into the audit log and the certificate".into(),
            ));
        }
        let unique: HashSet<i64> = request.drive_ids.iter().copied().collect();
        if unique.is_empty() {
            return Err(EngineError::BadRequest("select at least one drive".into()));
        }
        if unique.len() != request.drive_ids.len() {
            return Err(EngineError::BadRequest("a drive is listed twice".into()));
        }
        let stages = plan(&request.stages);
        if stages.len() <= 2 {
            return Err(EngineError::BadRequest(
                "choose at least one stage: a SMART test or the surface test".into(),
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
                    return Err(EngineError::Refused {
                        message: format!(
                            "the surface test erases the drive: type its serial {serial} to confirm"
                        ),
                        reasons: vec!["the serial typed does not match".into()],
                    });
                }
            } else {
                let phrase = batch_phrase(drives.len());
                if request.confirm_phrase.as_deref().map(str::trim) != Some(phrase.as_str()) {
                    return Err(EngineError::Refused {
                        message: format!(
                            "the surface test erases {} drives: type \"{phrase}\" to confirm",
                            drives.len()
                        ),
                        reasons: vec!["the confirmation phrase does not match".into()],
                    });
                }
            }
        }
        if destructive && reasons.is_empty() {
            // The interlock: every disk is checked on the NAS and through its API now, and
            // again right before badblocks is sent.
            reasons.extend(self.interlock_reasons(&drives).await);
        }
        if !reasons.is_empty() {
            return Err(self.refuse(&operator, &request.drive_ids, destructive, reasons).await?);
        }
        let mut configs = HashMap::new();
        for drive in &drives {
            if let std::collections::hash_map::Entry::Vacant(slot) = configs.entry(drive.host_id) {
                slot.insert(self.host_config(drive.host_id).await?);
            }
        }
        let mut tx = crate::db::begin_write(&self.pool).await.map_err(crate::db::DbError::from)?;
        // Checked again inside the write transaction: two requests for one drive that both
        // passed the checks above are serialised here, and the second finds the first's job.
        let mut busy = Vec::new();
        for drive in &drives {
            if let Some(job) = store::active_for_drive(&mut tx, drive.id).await? {
                busy.push(format!(
                    "{} ({} on {}): a burn-in is already queued or running on it (job {job})",
                    drive.serial, drive.devname, drive.host_name
                ));
            }
        }
        if !busy.is_empty() {
            drop(tx);
            return Err(self.refuse(&operator, &request.drive_ids, destructive, busy).await?);
        }
        let mut ids = Vec::new();
        for drive in &drives {
            let config = configs.get(&drive.host_id).cloned().unwrap_or_default();
            let id = match store::create(
                &mut tx,
                drive.id,
                drive.host_id,
                &operator,
                &stages,
                request.surface.max_bad_blocks,
                &config,
            )
            .await
            {
                Ok(id) => id,
                // The partial unique index: another active job appeared for this drive.
                Err(crate::db::DbError::Query(sqlx::Error::Database(error)))
                    if error.is_unique_violation() =>
                {
                    return Err(EngineError::Conflict(format!(
                        "{} already has a burn-in queued or running: nothing was started",
                        drive.serial
                    )));
                }
                Err(error) => return Err(error.into()),
            };
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
        if let Some(key) = key {
            store::key_done(&mut tx, key, &ids).await?;
        }
        tx.commit().await.map_err(crate::db::DbError::from)?;
        for id in &ids {
            self.publish(*id).await;
        }
        self.wake.notify_one();
        self.views(&ids).await
    }

    async fn refuse(
        &self,
        operator: &str,
        drive_ids: &[i64],
        destructive: bool,
        reasons: Vec<String>,
    ) -> Result<EngineError, EngineError> {
        audit::record(
            &self.pool,
            operator,
            "burnin.refused",
            "",
            &json!({"drive_ids": drive_ids, "reasons": reasons}),
        )
        .await?;
        Ok(EngineError::Refused {
            message: if destructive {
                "the surface test was refused: nothing was started".into()
            } else {
                "the burn-in was refused: nothing was started".into()
            },
            reasons,
        })
    }

    /// The host's settings as a job records them (no secrets).
    async fn host_config(&self, host_id: i64) -> Result<HostConfig, EngineError> {
        let connection = self.hosts.connection(host_id).await?;
        let view = self.hosts.get(host_id).await?;
        Ok(HostConfig {
            host_name: connection.name,
            api_url: connection.api_url,
            ssh_host: connection.ssh_host,
            ssh_port: connection.ssh_port,
            ssh_user: connection.ssh_user,
            truenas_version: view.truenas_version,
            ssh_host_key_fingerprint: view.ssh_host_key_fingerprint,
        })
    }

    /// Cancels a job: a queued one at once; a running one is stopping until its runner has
    /// stopped the remote work (badblocks' process group, confirmed gone, or `smartctl -X`),
    /// and reads as cancelled only then.
    pub async fn cancel(&self, job_id: i64, actor: &str) -> Result<JobView, EngineError> {
        let job = store::job(&self.pool, job_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("there is no job with id {job_id}")))?;
        match store::cancel(&self.pool, job_id).await? {
            None => return Err(EngineError::NotFound(format!("there is no job with id {job_id}"))),
            Some(store::CancelOutcome::AlreadyEnded(done)) => {
                return Err(EngineError::Conflict(format!(
                    "job {job_id} already ended ({})",
                    done.as_str()
                )));
            }
            Some(outcome) => {
                audit::record(
                    &self.pool,
                    actor,
                    "burnin.cancel",
                    &job.drive_serial,
                    &json!({"job_id": job_id, "outcome": if outcome == store::CancelOutcome::Cancelled { "cancelled" } else { "stopping" }}),
                )
                .await?;
                let rules = self.options.live.read(|s| s.alerts.clone());
                let cancel = crate::alert_feeds::Cancel {
                    job_id,
                    host_id: job.host_id,
                    serial: &job.drive_serial,
                    started_by: &job.operator,
                    cancelled_by: actor,
                };
                // The cancel stands whether or not its alert can be stored.
                if let Err(error) = crate::alert_feeds::cancelled(
                    &self.pool,
                    &rules,
                    cancel,
                    crate::auth::now_unix(),
                )
                .await
                {
                    tracing::error!(job.id = job_id, error = %error, "cannot raise the cancel's alert");
                }
            }
        }
        self.publish(job_id).await;
        self.wake.notify_one();
        store::view(&self.pool, job_id)
            .await?
            .ok_or_else(|| EngineError::NotFound("the job vanished".into()))
    }

    /// Cancels every active job, or every active job of one host, going on past any error:
    /// one result per job.
    pub async fn cancel_many(
        &self,
        host_id: Option<i64>,
        actor: &str,
    ) -> Result<Vec<CancelResult>, EngineError> {
        let jobs = store::jobs_in(&self.pool, &[JobState::Queued, JobState::Running]).await?;
        let mut results = Vec::new();
        for job in jobs.into_iter().filter(|job| host_id.is_none_or(|id| id == job.host_id)) {
            let (outcome, message) = match self.cancel(job.id, actor).await {
                Ok(view) if view.state == JobState::Cancelled => {
                    ("cancelled", "cancelled before it started".to_owned())
                }
                Ok(_) => (
                    "stopping",
                    "its work on the NAS is being stopped; it reads as cancelled once that is confirmed".to_owned(),
                ),
                Err(EngineError::Conflict(message)) => ("already_ended", message),
                Err(error) => ("error", error.to_string()),
            };
            results.push(CancelResult {
                job_id: job.id,
                drive_serial: job.drive_serial,
                host_name: job.host_name,
                outcome: outcome.to_owned(),
                message,
            });
        }
        Ok(results)
    }

    pub async fn view(&self, job_id: i64) -> Result<JobView, EngineError> {
        store::view(&self.pool, job_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("there is no job with id {job_id}")))
    }

    pub async fn list(
        &self,
        drive_id: Option<i64>,
        state: Option<JobState>,
    ) -> Result<Vec<JobView>, EngineError> {
        let ids: Vec<i64> =
            store::list(&self.pool, drive_id, state, 500).await?.iter().map(|j| j.id).collect();
        self.views(&ids).await
    }

    /// A page of the job history, with the next page's cursor when there is one.
    pub async fn history(
        &self,
        query: &burnin::history::JobQuery,
    ) -> Result<(Vec<JobView>, Option<burnin::history::Cursor>), EngineError> {
        let (ids, next) = store::history_page(&self.pool, query).await?;
        Ok((self.views(&ids).await?, next))
    }

    /// Whether a host has queued or running jobs.
    pub async fn host_busy(&self, host_id: i64) -> Result<Vec<store::JobRecord>, EngineError> {
        Ok(store::active_on_host(&self.pool, host_id).await?)
    }
}

/// A digest of a start request, to tell a repeat from a different request under one key.
fn request_hash(request: &StartRequest) -> String {
    use sha2::Digest as _;
    let json = serde_json::to_vec(request).unwrap_or_default();
    sha2::Sha256::digest(&json).iter().map(|b| format!("{b:02x}")).collect()
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
