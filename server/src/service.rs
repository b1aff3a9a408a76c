//! The service layer: the one implementation behind both doors (Leptos server functions and
//! the `/api/v1` routes). Validation and safety checks belong here, never in a door.

use burnin::access::{
    Action, Denied, NewToken, Principal, Role, Scope, SignedIn, TokenView, UserEdit, UserView, Via,
    Whoami,
};
use burnin::{
    DriveFilter, DriveRow,
    host::{HostInput, HostStatus, HostTest, HostView, TestStep, TlsMode, normalize_fingerprint},
    job::{CancelResult, JobState, JobView, SmartSnapshot, StartRequest},
    live::Snapshot,
};
use burnin_app::{
    AppError,
    backend::{Answer, Backend, Caller, DriveEdit},
};
use serde_json::json;

use crate::{
    db::{Db, DbError},
    engine::{Engine, EngineError},
    hosts::{HostError, HostStore},
    inventory::{self, Inventory},
    live::Hub,
    truenas::{self, Client, TrueNasError},
};

/// At most `limit` destructive starts and cancels per host in 15 minutes: a runaway script or
/// a stolen session cannot wipe and churn a whole shelf in one go.
#[derive(Debug, Default)]
pub struct DestructiveLimit {
    live: crate::settings::Live,
    recent: std::sync::Mutex<
        std::collections::HashMap<String, std::collections::VecDeque<std::time::Instant>>,
    >,
}

const DESTRUCTIVE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl DestructiveLimit {
    pub fn new(live: crate::settings::Live) -> DestructiveLimit {
        DestructiveLimit { live, recent: Default::default() }
    }

    /// Counts `count` more on each host, or refuses them all (counting none) when one host
    /// would go past the limit.
    fn take(&self, hosts: &[(String, usize)]) -> Result<(), String> {
        let now = std::time::Instant::now();
        let limit = self.live.read(|s| s.destructive_limit.max(1) as usize);
        let Ok(mut recent) = self.recent.lock() else { return Ok(()) };
        for (host, count) in hosts {
            let seen = recent.entry(host.clone()).or_default();
            while seen.front().is_some_and(|t| now.duration_since(*t) > DESTRUCTIVE_WINDOW) {
                seen.pop_front();
            }
            if seen.len() + count > limit {
                return Err(format!(
                    "{host} has had {} destructive starts and cancels in the last 15 minutes; {count} more would pass the limit of {limit}. Wait, or raise destructive_limit in Settings",
                    seen.len(),
                ));
            }
        }
        for (host, count) in hosts {
            let seen = recent.entry(host.clone()).or_default();
            seen.extend(std::iter::repeat_n(now, *count));
        }
        Ok(())
    }
}

/// What a connection test saw, kept for ten minutes under a random reference: the only
/// source a pin is taken from.
#[derive(Debug, Default)]
pub struct Observations {
    seen: std::sync::Mutex<std::collections::HashMap<String, (i64, Observed, std::time::Instant)>>,
}

#[derive(Clone, Debug, PartialEq)]
enum Observed {
    Certificate(String),
    SshHostKey(String),
}

impl Observations {
    fn note(&self, host: i64, what: Observed) -> Option<String> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).ok()?;
        let reference: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut seen = self.seen.lock().ok()?;
        seen.retain(|_, (_, _, at)| at.elapsed() < std::time::Duration::from_secs(600));
        seen.insert(reference.clone(), (host, what, std::time::Instant::now()));
        Some(reference)
    }

    /// The observation behind `reference`, once, if it was made for `host`.
    fn take(&self, host: i64, reference: &str) -> Result<Observed, AppError> {
        let mut seen = self.seen.lock().map_err(|_| AppError::internal("observations poisoned"))?;
        match seen.remove(reference.trim()) {
            Some((for_host, what, at))
                if for_host == host && at.elapsed() < std::time::Duration::from_secs(600) =>
            {
                Ok(what)
            }
            _ => Err(AppError::bad_request(
                "nothing to trust under that reference: run Test connection again and trust what it shows (a reference works once, for ten minutes, for its host)",
            )),
        }
    }
}

/// What the system card shows that only a restart changes.
#[derive(Debug, Default)]
pub struct System {
    pub listen: String,
    pub data_dir: String,
    pub database_file: Option<std::path::PathBuf>,
    pub started_at: i64,
    /// The last update check's answer (none while the check is off).
    pub update: std::sync::Mutex<Option<burnin::settings::UpdateStatus>>,
}

/// Flags and environment that are read at start only.
const RESTART_NEEDED_FOR: &[&str] = &[
    "listen address (--listen)",
    "database (--database-url)",
    "master key file (--master-key-file)",
    "public origins (--public-origins)",
    "allowed client networks (--allowed-networks)",
    "trusted proxies and single sign-on (--trusted-proxies, --sso-*)",
    "built-in HTTPS (--tls-cert, --tls-key)",
    "simulated fleet (--simulator, --simulator-speed)",
    "stage poll, stop grace, start confirmation and re-attach times (--stage-poll-ms, --stop-grace-secs, --start-confirm-grace-secs, --reattach-timeout-secs)",
    "badblocks transfer size (--blocks-at-once)",
];

/// At most so many events per key within a window (connection tests per host).
#[derive(Debug, Default)]
pub struct RateWindow {
    recent: std::sync::Mutex<
        std::collections::HashMap<i64, std::collections::VecDeque<std::time::Instant>>,
    >,
}

impl RateWindow {
    /// Counts one event for `key`, or answers how long until one is allowed.
    fn take(&self, key: i64, limit: usize, window: std::time::Duration) -> Result<(), u64> {
        let now = std::time::Instant::now();
        let Ok(mut recent) = self.recent.lock() else { return Ok(()) };
        let seen = recent.entry(key).or_default();
        while seen.front().is_some_and(|t| now.duration_since(*t) > window) {
            seen.pop_front();
        }
        if seen.len() >= limit.max(1) {
            let oldest = seen.front().copied().unwrap_or(now);
            return Err(window.saturating_sub(now.duration_since(oldest)).as_secs().max(1));
        }
        seen.push_back(now);
        Ok(())
    }
}

#[derive(Clone)]
pub struct Services {
    pub terminal_tickets: std::sync::Arc<crate::terminal::Tickets>,
    pub settings: crate::settings::Live,
    pub system: std::sync::Arc<System>,
    pub host_tests: std::sync::Arc<RateWindow>,
    pub observed: std::sync::Arc<Observations>,
    pub auth: crate::auth::Auth,
    pub destructive: std::sync::Arc<DestructiveLimit>,
    pub notifier: crate::notify::Notifier,
    /// Seals evidence bundles (`crate::signing`).
    pub signer: std::sync::Arc<crate::signing::Signer>,
    pub db: Db,
    pub hosts: HostStore,
    pub hub: Hub,
    pub inventory: Inventory,
    pub engine: Engine,
    /// `--simulator auto`: the demo fleet stands in until a real host is added, and then goes.
    pub demo_until_real_host: bool,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Services")
    }
}

const MAX_TEXT: usize = 500;

impl Services {
    /// Loads the hub from the database (at start-up).
    pub async fn load_hub(&self) -> Result<(), AppError> {
        let hosts = self.hosts.list().await?;
        let drives = inventory::list_drives(self.db.pool(), &DriveFilter::default()).await?;
        let limits = crate::settings::verdict_thresholds(self.db.pool()).await?.temperatures;
        self.hub.load(hosts, drives, limits).await;
        Ok(())
    }

    /// The verdict's thresholds and the temperature table in force.
    pub async fn thresholds(
        &self,
        caller: &Principal,
    ) -> Result<burnin::verdict::Thresholds, AppError> {
        allow(caller, Action::View)?;
        Ok(self.settings.read(|s| s.verdict))
    }

    /// The system card: what only a restart changes, and the last update check.
    pub async fn system_info(&self) -> burnin::settings::SystemInfo {
        let database_bytes = match &self.system.database_file {
            Some(path) => tokio::fs::metadata(path).await.ok().map(|m| m.len()),
            None => None,
        };
        burnin::settings::SystemInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            listen: self.system.listen.clone(),
            data_dir: self.system.data_dir.clone(),
            database_bytes,
            started_at: self.system.started_at,
            restart_needed_for: RESTART_NEEDED_FOR.iter().map(|s| (*s).to_owned()).collect(),
            update: self.system.update.lock().ok().and_then(|u| u.clone()),
        }
    }

    /// Changes the settings named in `patch` (a JSON object; others keep their value),
    /// checked against their ranges, audited with old and new values, in force at once.
    pub async fn change_settings(
        &self,
        caller: &Principal,
        patch: &serde_json::Value,
    ) -> Result<burnin::settings::Settings, AppError> {
        allow(caller, Action::ChangeSettings)?;
        let new =
            burnin::settings::merge(&self.settings.get(), patch).map_err(AppError::bad_request)?;
        let changes =
            crate::settings::save(self.db.pool(), &self.settings, new.clone(), &caller.actor())
                .await?;
        if changes.iter().any(|(path, _, _)| path.starts_with("verdict.temperatures")) {
            self.hub.limits(new.verdict.temperatures).await;
        }
        for (setting, old, new) in &changes {
            tracing::info!(audit.actor = %caller.actor(), settings.name = %setting, settings.old = %old, settings.new = %new, "setting changed");
        }
        Ok(new)
    }

    /// Replaces the thresholds. Jobs still open are judged by them; a finished job keeps the
    /// verdict it was judged with.
    pub async fn set_thresholds(
        &self,
        caller: &Principal,
        thresholds: burnin::verdict::Thresholds,
    ) -> Result<burnin::verdict::Thresholds, AppError> {
        let patch = json!({"verdict": thresholds});
        Ok(self.change_settings(caller, &patch).await?.verdict)
    }

    /// A job's SMART snapshot (`before` or `after`), as smartctl printed it.
    pub async fn job_snapshot(
        &self,
        caller: &Principal,
        id: i64,
        when: &str,
    ) -> Result<String, AppError> {
        allow(caller, Action::View)?;
        if !matches!(when, "before" | "after") {
            return Err(AppError::not_found("a job has a `before` and an `after` SMART snapshot"));
        }
        self.engine.view(id).await?;
        crate::engine::store::snapshot(self.db.pool(), id, when)
            .await?
            .ok_or_else(|| AppError::not_found(format!("job {id} has no `{when}` SMART snapshot")))
    }

    /// A stage's kept output, raw.
    pub async fn stage_output_bytes(
        &self,
        caller: &Principal,
        job_id: i64,
        position: i64,
        stream: &str,
    ) -> Result<Vec<u8>, AppError> {
        allow(caller, Action::View)?;
        if !matches!(stream, "stdout" | "stderr" | "smartctl") {
            return Err(AppError::not_found(
                "a stage's output streams are `stderr`, `stdout` (badblocks) and `smartctl`",
            ));
        }
        self.engine.view(job_id).await?;
        crate::engine::store::output(self.db.pool(), job_id, position, stream).await?.ok_or_else(
            || {
                AppError::not_found(format!(
                    "stage {position} of job {job_id} has no `{stream}` output kept (yet)"
                ))
            },
        )
    }

    /// Everything recorded for a host, archived or not: its settings (no secrets), its
    /// drives and every job with its verdict.
    pub async fn host_record(
        &self,
        caller: &Principal,
        id: i64,
    ) -> Result<serde_json::Value, AppError> {
        allow(caller, Action::View)?;
        let host = self.hosts.get(id).await?;
        let drives = inventory::drives_of_host(self.db.pool(), id).await?;
        let mut jobs = Vec::new();
        for job in crate::engine::store::jobs_of_host(self.db.pool(), id).await? {
            jobs.push(self.engine.view(job.id).await?);
        }
        Ok(json!({"host": host, "drives": drives, "jobs": jobs}))
    }

    async fn archive(&self, id: i64, actor: String) -> Result<HostView, AppError> {
        let busy = self.engine.host_busy(id).await?;
        if !busy.is_empty() {
            let jobs: Vec<String> =
                busy.iter().map(|job| format!("job {} on {}", job.id, job.drive_serial)).collect();
            return Err(AppError::conflict(format!(
                "the host has {} active burn-in(s) ({}): cancel them and wait for them to stop before removing the host",
                busy.len(),
                jobs.join(", ")
            )));
        }
        self.inventory.stop(id).await;
        self.engine.nas().forget(id).await;
        let view = self.hosts.archive(id, &actor).await?;
        self.hub.host_removed(id).await;
        Ok(view)
    }

    /// A host's API and SSH endpoints cannot change while it has jobs: the jobs would follow
    /// their writers on another machine.
    async fn update_checked(
        &self,
        id: i64,
        input: HostInput,
        actor: String,
    ) -> Result<HostView, AppError> {
        let current = self.hosts.connection(id).await?;
        if current.archived {
            return Err(AppError::conflict("an archived host cannot be changed"));
        }
        let ssh_host = if input.ssh_host.trim().is_empty() {
            url::Url::parse(input.api_url.trim())
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default()
        } else {
            input.ssh_host.trim().to_owned()
        };
        let moved = input.api_url.trim().trim_end_matches('/')
            != current.api_url.trim_end_matches('/')
            || ssh_host != current.ssh_host
            || input.ssh_port.unwrap_or(22) != current.ssh_port
            || (!input.ssh_user.trim().is_empty() && input.ssh_user.trim() != current.ssh_user);
        if moved {
            let busy = self.engine.host_busy(id).await?;
            if !busy.is_empty() {
                return Err(AppError::conflict(format!(
                    "the host's API or SSH address cannot change while {} burn-in(s) run on it: the jobs follow their work on this machine. Let them finish (or cancel them) first",
                    busy.len()
                )));
            }
        }
        let view = self.hosts.update(id, &input, &actor).await?;
        self.hub.host(view.clone()).await;
        self.inventory.restart(id).await;
        Ok(view)
    }

    async fn create(&self, input: HostInput, actor: String) -> Result<HostView, AppError> {
        let view = self.hosts.create(&input, &actor).await?;
        self.hub.host(view.clone()).await;
        self.inventory.restart(view.id).await;
        if self.demo_until_real_host {
            let services = self.clone();
            tokio::spawn(async move { services.retire_demo().await });
        }
        Ok(view)
    }

    /// Removes the demo hosts once a real one exists: their jobs are stopped first (the
    /// simulator answers at once), then the hosts go with their data, which is not a record.
    async fn retire_demo(&self) {
        let Ok(ids) = self.hosts.simulated_ids().await else { return };
        for id in ids {
            self.inventory.stop(id).await;
            if let Err(error) = self.engine.cancel_many(Some(id), "system").await {
                tracing::warn!(host.id = id, error = %error, "cannot cancel the demo host's jobs");
            }
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
            while self.engine.host_busy(id).await.is_ok_and(|busy| !busy.is_empty())
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            if self.engine.host_busy(id).await.is_ok_and(|busy| !busy.is_empty()) {
                tracing::warn!(
                    host.id = id,
                    "a demo host's jobs did not stop; it stays registered"
                );
                continue;
            }
            let drives = inventory::drives_of_host(self.db.pool(), id).await.unwrap_or_default();
            self.engine.nas().forget(id).await;
            match self.hosts.delete_simulated(id, "system").await {
                Ok(()) => {
                    for drive in drives {
                        self.hub.drive_removed(drive.id).await;
                    }
                    self.hub.host_removed(id).await;
                    tracing::info!(host.id = id, "a real host was added: the demo host is removed");
                }
                Err(error) => {
                    tracing::warn!(host.id = id, error = %error, "cannot remove a demo host")
                }
            }
        }
    }

    async fn publish_host(&self, id: i64) {
        if let Ok(view) = self.hosts.get(id).await {
            self.hub.host(view).await;
        }
    }

    async fn edit(&self, id: i64, edit: DriveEdit, actor: String) -> Result<DriveRow, AppError> {
        for (name, value) in [("location", &edit.location), ("notes", &edit.notes)] {
            if value.as_ref().is_some_and(|v| v.chars().count() > MAX_TEXT) {
                return Err(AppError::bad_request(format!(
                    "{name} is longer than {MAX_TEXT} characters; shorten it"
                )));
            }
            if value.as_ref().is_some_and(|v| v.chars().any(char::is_control)) {
                return Err(AppError::bad_request(format!(
                    "{name} contains control characters; use plain text"
                )));
            }
        }
        if edit.location.is_none() && edit.notes.is_none() {
            return Err(AppError::bad_request("nothing to change: give a location and/or notes"));
        }
        let location = edit.location.as_deref().map(str::trim);
        let notes = edit.notes.as_deref().map(str::trim);
        let row = inventory::update_drive_text(self.db.pool(), id, location, notes, &actor)
            .await?
            .ok_or_else(|| AppError::not_found(format!("there is no drive with id {id}")))?;
        self.hub.drive(row.clone()).await;
        Ok(row)
    }

    async fn test(&self, id: i64) -> Result<HostTest, AppError> {
        let connection = self.hosts.connection(id).await?;
        let mut report = HostTest::default();
        let mut step = |name: &str, ok: bool, detail: String| {
            report.steps.push(TestStep { name: name.to_owned(), ok, detail })
        };
        if connection.tls_mode == TlsMode::Fingerprint {
            match truenas::probe_certificate(&connection.api_url).await {
                Ok(presented) => {
                    let matches =
                        connection.tls_fingerprint.as_deref().and_then(normalize_fingerprint)
                            == normalize_fingerprint(&presented.sha256_fingerprint);
                    let detail = match (&connection.tls_fingerprint, matches) {
                        (None, _) => {
                            format!("presents {}; not trusted yet", presented.sha256_fingerprint)
                        }
                        (Some(_), true) => "matches the pinned fingerprint".to_owned(),
                        (Some(pin), false) => format!(
                            "presents {}, not the pinned {pin}",
                            presented.sha256_fingerprint
                        ),
                    };
                    report.certificate_observation = self
                        .observed
                        .note(id, Observed::Certificate(presented.sha256_fingerprint.clone()));
                    report.presented_fingerprint = Some(presented.sha256_fingerprint);
                    report.fingerprint_matches_pin =
                        connection.tls_fingerprint.as_ref().map(|_| matches);
                    step("Certificate", matches, detail);
                }
                Err(error) => {
                    step("Certificate", false, error.to_string());
                    return Ok(report);
                }
            }
        }
        let endpoint = match inventory::sync::endpoint(&connection) {
            Ok(endpoint) => endpoint,
            Err(reason) => {
                step("Settings", false, reason);
                return Ok(report);
            }
        };
        let client = match Client::connect(&endpoint, &truenas::ClientOptions::default()).await {
            Ok(client) => client,
            Err(error) => {
                step("API login", false, error.to_string());
                return Ok(report);
            }
        };
        let version = client.version().map(str::to_owned);
        step(
            "API login",
            true,
            format!(
                "logged in as {} to {}",
                connection.api_user,
                version.clone().unwrap_or_default()
            ),
        );
        report.truenas_version = version;
        match client.call("disk.query", json!([])).await {
            Ok(disks) => {
                let count = disks.as_array().map_or(0, Vec::len);
                report.drive_count = Some(count);
                step("Drives", true, format!("{count} drives listed"));
            }
            Err(error) => step("Drives", false, error.to_string()),
        }
        // A fresh SSH login, so the test proves today's key and credentials.
        let nas = self.engine.nas();
        nas.forget(id).await;
        match nas.session(id).await {
            Ok(session) => {
                let connection = self.hosts.connection(id).await?;
                step(
                    "SSH",
                    true,
                    format!(
                        "logged in as {}@{}:{}; host key {} is pinned",
                        connection.ssh_user,
                        connection.ssh_host,
                        connection.ssh_port,
                        crate::ssh::fingerprint(session.host_key())
                    ),
                );
            }
            Err(crate::engine::nas::NasError::Ssh(crate::ssh::SshError::HostKeyUnknown {
                presented,
                key,
            })) => {
                step(
                    "SSH",
                    false,
                    format!(
                        "the NAS presents host key {presented}, which its API does not publish: compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the NAS, then trust it"
                    ),
                );
                report.presented_ssh_fingerprint = Some(presented);
                report.ssh_host_key_observation =
                    self.observed.note(id, Observed::SshHostKey(key.clone()));
                report.presented_ssh_host_key = Some(key);
            }
            Err(error) => step("SSH", false, error.to_string()),
        }
        report.ok = report.steps.iter().all(|s| s.ok);
        Ok(report)
    }
}

/// The caller may do `action` (role and, for a browser session, a recent password).
pub(crate) fn allow(caller: &Principal, action: Action) -> Result<(), AppError> {
    caller.check(action, crate::auth::now_unix()).map_err(denied)
}

/// The caller's role allows `action`; reading what an action manages needs no step-up.
fn see(caller: &Principal, action: Action) -> Result<(), AppError> {
    if caller.may(action) { Ok(()) } else { allow(caller, action) }
}

fn notify_error(error: crate::notify::NotifyError) -> AppError {
    use crate::notify::NotifyError;
    match error {
        NotifyError::Invalid(problems) => {
            AppError::bad_request(format!("channel not saved: {}", problems.join("; ")))
        }
        NotifyError::NotFound(_) => AppError::not_found(error.to_string()),
        NotifyError::NameTaken(_) => AppError::conflict(error.to_string()),
        NotifyError::Db(db) => db.into(),
        NotifyError::Secret(secret) => {
            tracing::error!(error = %secret, "a channel secret cannot be sealed or opened");
            AppError::internal("the channel's secret cannot be sealed; see the server log")
        }
    }
}

pub fn denied(denied: Denied) -> AppError {
    match denied {
        Denied::Role { .. } => AppError::refused(format!("Refused: {denied}."), Vec::new()),
        Denied::StepUp { .. } => {
            AppError::new(burnin_app::ErrorKind::StepUp, format!("Confirm it is you: {denied}."))
        }
    }
}

impl Backend for Services {
    fn list_drives(&self, caller: Principal, filter: DriveFilter) -> Answer<'_, Vec<DriveRow>> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(inventory::list_drives(self.db.pool(), &filter).await?)
        })
    }

    fn get_drive(&self, caller: Principal, id: i64) -> Answer<'_, DriveRow> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            inventory::get_drive(self.db.pool(), id)
                .await?
                .ok_or_else(|| AppError::not_found(format!("there is no drive with id {id}")))
        })
    }

    fn edit_drive(&self, caller: Principal, id: i64, edit: DriveEdit) -> Answer<'_, DriveRow> {
        Box::pin(async move {
            allow(&caller, Action::EditDrive)?;
            self.edit(id, edit, caller.actor()).await
        })
    }

    fn snapshot(&self, caller: Principal) -> Answer<'_, Snapshot> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(self.hub.snapshot().await)
        })
    }

    fn list_hosts(&self, caller: Principal) -> Answer<'_, Vec<HostView>> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(self.hosts.list().await?)
        })
    }

    fn get_host(&self, caller: Principal, id: i64) -> Answer<'_, HostView> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(self.hosts.get(id).await?)
        })
    }

    fn create_host(&self, caller: Principal, input: HostInput) -> Answer<'_, HostView> {
        Box::pin(async move {
            allow(&caller, Action::ManageHosts)?;
            if input.carries_secrets() {
                allow(&caller, Action::ChangeCredentials)?;
            }
            self.create(input, caller.actor()).await
        })
    }

    fn update_host(&self, caller: Principal, id: i64, input: HostInput) -> Answer<'_, HostView> {
        Box::pin(async move {
            allow(&caller, Action::ManageHosts)?;
            if input.carries_secrets() {
                allow(&caller, Action::ChangeCredentials)?;
            }
            self.update_checked(id, input, caller.actor()).await
        })
    }

    fn delete_host(&self, caller: Principal, id: i64) -> Answer<'_, HostView> {
        Box::pin(async move {
            allow(&caller, Action::ManageHosts)?;
            self.archive(id, caller.actor()).await
        })
    }

    fn archived_hosts(&self, caller: Principal) -> Answer<'_, Vec<HostView>> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(self.hosts.list_archived().await?)
        })
    }

    fn delete_host_history(&self, caller: Principal, id: i64, confirm: String) -> Answer<'_, ()> {
        Box::pin(async move {
            allow(&caller, Action::DeleteHistory)?;
            Ok(self.hosts.delete_history(id, &confirm, &caller.actor()).await?)
        })
    }

    fn set_host_enabled(&self, caller: Principal, id: i64, enabled: bool) -> Answer<'_, HostView> {
        Box::pin(async move {
            allow(&caller, Action::ManageHosts)?;
            self.hosts.set_enabled(id, enabled, &caller.actor()).await?;
            if enabled {
                self.hosts.set_status(id, HostStatus::Unknown, None, None).await?;
            }
            self.inventory.restart(id).await;
            self.publish_host(id).await;
            Ok(self.hosts.get(id).await?)
        })
    }

    fn test_host(&self, caller: Principal, id: i64) -> Answer<'_, HostTest> {
        Box::pin(async move {
            allow(&caller, Action::ManageHosts)?;
            self.hosts.get(id).await?;
            let limit = self.settings.read(|s| s.host_tests_per_minute) as usize;
            if let Err(wait) = self.host_tests.take(id, limit, std::time::Duration::from_secs(60)) {
                return Err(AppError::new(
                    burnin_app::ErrorKind::TooMany,
                    format!(
                        "this host was tested {limit} times in the last minute; try again in {wait} s (host_tests_per_minute in Settings)"
                    ),
                ));
            }
            self.test(id).await
        })
    }

    fn trust_ssh_host_key(&self, caller: Principal, id: i64, key: String) -> Answer<'_, HostView> {
        Box::pin(async move {
            allow(&caller, Action::ManageHosts)?;
            let Observed::SshHostKey(key) = self.observed.take(id, &key)? else {
                return Err(AppError::bad_request(
                    "that reference is for a certificate, not an SSH host key",
                ));
            };
            self.trust_ssh(id, key, caller.actor()).await
        })
    }

    fn start_burnin(&self, caller: Principal, request: StartRequest) -> Answer<'_, Vec<JobView>> {
        Box::pin(async move {
            let destructive = request.stages.iter().any(|stage| stage.is_destructive());
            allow(&caller, if destructive { Action::StartSurface } else { Action::StartBurnin })?;
            // A disabled host is not being read: what is known of its drives may be stale.
            let mut reasons = Vec::new();
            for id in &request.drive_ids {
                if let Some(drive) = inventory::get_drive(self.db.pool(), *id).await?
                    && let Ok(host) = self.hosts.get(drive.host_id).await
                    && !host.enabled
                {
                    reasons.push(format!(
                        "{} on {}: the host is disabled, so its drives are not being read; enable it on the Hosts page first",
                        drive.serial, host.name
                    ));
                }
            }
            if !reasons.is_empty() {
                return Err(AppError::refused(
                    "Refused: drives on a disabled host cannot be burned in.",
                    reasons,
                ));
            }
            if destructive {
                let mut hosts: std::collections::BTreeMap<String, usize> = Default::default();
                for id in &request.drive_ids {
                    if let Some(drive) = inventory::get_drive(self.db.pool(), *id).await? {
                        *hosts.entry(drive.host_name).or_default() += 1;
                    }
                }
                self.limit_destructive(&caller, hosts.into_iter().collect()).await?;
            }
            // The operator on record is who signed in, never a name typed in a form.
            let request = StartRequest { operator: caller.actor(), ..request };
            Ok(self.engine.start_jobs(request).await?)
        })
    }

    fn cancel_job(&self, caller: Principal, id: i64) -> Answer<'_, JobView> {
        Box::pin(async move {
            allow(&caller, Action::CancelBurnin)?;
            let job = self.engine.view(id).await?;
            if job.state.is_active() {
                self.limit_destructive(&caller, vec![(job.host_name, 1)]).await?;
            }
            Ok(self.engine.cancel(id, &caller.actor()).await?)
        })
    }

    fn cancel_jobs(
        &self,
        caller: Principal,
        host_id: Option<i64>,
    ) -> Answer<'_, Vec<CancelResult>> {
        Box::pin(async move {
            allow(&caller, Action::CancelBurnin)?;
            let mut hosts: std::collections::BTreeMap<String, usize> = Default::default();
            for job in self.engine.list(None, None).await? {
                if job.state.is_active() {
                    *hosts.entry(job.host_name).or_default() += 1;
                }
            }
            if let Some(host_id) = host_id {
                let name = self.hosts.get(host_id).await?.name;
                hosts.retain(|host, _| *host == name);
            }
            self.limit_destructive(&caller, hosts.into_iter().collect()).await?;
            Ok(self.engine.cancel_many(host_id, &caller.actor()).await?)
        })
    }

    fn get_job(&self, caller: Principal, id: i64) -> Answer<'_, JobView> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(self.engine.view(id).await?)
        })
    }

    fn list_jobs(
        &self,
        caller: Principal,
        drive_id: Option<i64>,
        state: Option<JobState>,
    ) -> Answer<'_, Vec<JobView>> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(self.engine.list(drive_id, state).await?)
        })
    }

    fn job_history(
        &self,
        caller: Principal,
        query: burnin::history::JobQuery,
    ) -> Answer<'_, burnin::history::JobPage> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            let (jobs, next) = self.engine.history(&query).await?;
            Ok(burnin::history::JobPage { jobs, next_cursor: next.map(|c| c.encode()) })
        })
    }

    fn audit_log(
        &self,
        caller: Principal,
        query: burnin::history::AuditQuery,
    ) -> Answer<'_, burnin::history::AuditPage> {
        Box::pin(async move {
            allow(&caller, Action::ReadAudit)?;
            let (events, next) = crate::audit::list(self.db.pool(), &query).await?;
            Ok(burnin::history::AuditPage { events, next_cursor: next.map(|c| c.encode()) })
        })
    }

    fn history_page(
        &self,
        caller: Principal,
        params: burnin::history::JobParams,
    ) -> Answer<'_, burnin::history::HistoryPage> {
        Box::pin(async move {
            let query = params.parse().map_err(|e| AppError::bad_request(e.to_string()))?;
            let (rows, next) = self
                .history_rows(&caller, &query, query.cursor.as_ref(), i64::from(query.limit))
                .await?;
            Ok(burnin::history::HistoryPage { rows, next_cursor: next.map(|c| c.encode()) })
        })
    }

    fn job_record(&self, caller: Principal, id: i64) -> Answer<'_, burnin::record::JobRecord> {
        Box::pin(async move { self.job_record_of(&caller, id).await })
    }

    fn certificate_view(
        &self,
        caller: Principal,
        id: i64,
    ) -> Answer<'_, burnin::record::CertificateView> {
        Box::pin(async move { self.certificate_page(&caller, id).await })
    }

    fn drive_record(
        &self,
        caller: Principal,
        serial: String,
    ) -> Answer<'_, burnin::drive_record::DriveRecord> {
        Box::pin(async move { Services::drive_record(self, &caller, &serial).await })
    }

    fn statistics(
        &self,
        caller: Principal,
        params: burnin::history::StatsParams,
    ) -> Answer<'_, burnin::stats::Statistics> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            let scope = params.parse().map_err(|e| AppError::bad_request(e.to_string()))?;
            Services::statistics(self, &caller, &scope).await
        })
    }

    fn verify_evidence(&self, bundle: String) -> Answer<'_, burnin::evidence::Verification> {
        Box::pin(async move { self.verify_bundle(bundle.as_bytes()).await })
    }

    fn signing_key(&self) -> Answer<'_, burnin::evidence::KeyView> {
        Box::pin(async move { self.key_view().await })
    }

    fn delete_job(
        &self,
        caller: Principal,
        id: i64,
        confirm: String,
    ) -> Answer<'_, burnin::record::Removed> {
        Box::pin(async move { self.remove_job(&caller, id, &confirm).await })
    }

    fn stage_output(
        &self,
        caller: Principal,
        job_id: i64,
        position: i64,
        stream: String,
    ) -> Answer<'_, String> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            let bytes = self.stage_output_bytes(&caller, job_id, position, &stream).await?;
            // badblocks redraws its status line with backspaces: one line per redraw reads.
            let text = String::from_utf8_lossy(&bytes).replace(['\x08'], "\n");
            let mut lines: Vec<&str> = Vec::new();
            for line in text.lines() {
                let line = line.trim_end();
                if !line.is_empty() && lines.last() != Some(&line) {
                    lines.push(line);
                }
            }
            Ok(lines.join("\n"))
        })
    }

    fn drive_smart(&self, caller: Principal, drive_id: i64) -> Answer<'_, Option<SmartSnapshot>> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(crate::engine::store::drive_smart(self.db.pool(), drive_id)
                .await?
                .map(|(raw_json, taken_at)| SmartSnapshot { taken_at, raw_json }))
        })
    }

    fn trust_certificate(
        &self,
        caller: Principal,
        id: i64,
        fingerprint: String,
    ) -> Answer<'_, HostView> {
        Box::pin(async move {
            allow(&caller, Action::ManageHosts)?;
            let Observed::Certificate(fingerprint) = self.observed.take(id, &fingerprint)? else {
                return Err(AppError::bad_request(
                    "that reference is for an SSH host key, not a certificate",
                ));
            };
            let view = self.hosts.pin_certificate(id, &fingerprint, &caller.actor()).await?;
            self.inventory.restart(id).await;
            self.publish_host(id).await;
            Ok(view)
        })
    }

    fn whoami(&self, caller: Caller) -> Answer<'_, Whoami> {
        Box::pin(async move {
            let needs_setup = self.auth.user_count().await? == 0;
            let user = caller.principal.map(|p| SignedIn {
                step_up_left_secs: match p.via {
                    Via::Session { authenticated_at } => (burnin::access::STEP_UP_SECS
                        - (crate::auth::now_unix() - authenticated_at))
                        .max(0),
                    _ => burnin::access::STEP_UP_SECS,
                },
                sso: p.via == Via::Proxy,
                name: p.name,
                role: p.role,
            });
            Ok(Whoami { user, needs_setup })
        })
    }

    fn step_up(&self, caller: Caller, password: String) -> Answer<'_, String> {
        Box::pin(async move {
            let principal = caller.principal()?;
            let Some(session) = caller.session.as_deref() else {
                return Err(AppError::bad_request(
                    "only a browser session enters its password again; API tokens and single sign-on do not need to",
                ));
            };
            let renewed = self
                .auth
                .step_up(session, &principal, &password, caller.address, &caller.user_agent)
                .await?;
            let max_age = self.auth.absolute_secs();
            Ok(crate::auth::set_cookie(Some(&renewed.cookie_value), caller.https, max_age))
        })
    }

    fn list_users(&self, caller: Principal) -> Answer<'_, Vec<UserView>> {
        Box::pin(async move {
            see(&caller, Action::ManageUsers)?;
            Ok(self.auth.list_users().await?)
        })
    }

    fn add_user(
        &self,
        caller: Principal,
        name: String,
        role: Role,
        password: String,
    ) -> Answer<'_, UserView> {
        Box::pin(async move {
            allow(&caller, Action::ManageUsers)?;
            Ok(self.auth.add_user(&name, role, &password, &caller.actor(), false).await?)
        })
    }

    fn update_user(&self, caller: Principal, id: i64, edit: UserEdit) -> Answer<'_, UserView> {
        Box::pin(async move {
            allow(&caller, Action::ManageUsers)?;
            let mut view = None;
            if edit.role.is_some() || edit.disabled.is_some() {
                view = Some(
                    self.auth.update_user(id, edit.role, edit.disabled, &caller.actor()).await?,
                );
            }
            if let Some(password) = edit.password.as_deref() {
                let name = self
                    .auth
                    .list_users()
                    .await?
                    .into_iter()
                    .find(|u| u.id == id)
                    .map(|u| u.name)
                    .ok_or_else(|| AppError::not_found(format!("there is no user with id {id}")))?;
                self.auth.set_password(&name, password, &caller.actor()).await?;
            }
            match view {
                Some(view) => Ok(view),
                None => {
                    self.auth.list_users().await?.into_iter().find(|u| u.id == id).ok_or_else(
                        || AppError::not_found(format!("there is no user with id {id}")),
                    )
                }
            }
        })
    }

    fn list_tokens(&self, caller: Principal) -> Answer<'_, Vec<TokenView>> {
        Box::pin(async move {
            see(&caller, Action::ManageTokens)?;
            Ok(self.auth.list_tokens().await?)
        })
    }

    fn create_token(
        &self,
        caller: Principal,
        user: String,
        name: String,
        scope: Scope,
    ) -> Answer<'_, NewToken> {
        Box::pin(async move {
            allow(&caller, Action::ManageTokens)?;
            let user = if user.trim().is_empty() { caller.name.clone() } else { user };
            let (token, secret) =
                self.auth.create_token(&user, &name, scope, &caller.actor()).await?;
            Ok(NewToken { token, secret })
        })
    }

    fn revoke_token(&self, caller: Principal, id: i64) -> Answer<'_, TokenView> {
        Box::pin(async move {
            allow(&caller, Action::ManageTokens)?;
            Ok(self.auth.revoke_token(id, &caller.actor()).await?)
        })
    }

    fn terminal_ticket(
        &self,
        caller: Caller,
        host_id: i64,
    ) -> Answer<'_, burnin::access::TerminalTicket> {
        Box::pin(async move { Services::terminal_ticket(self, caller, host_id).await })
    }

    fn alerts(
        &self,
        caller: Principal,
        filter: burnin::alert::AlertFilter,
    ) -> Answer<'_, Vec<burnin::alert::AlertView>> {
        Box::pin(async move { self.list_alerts(&caller, &filter).await })
    }

    fn alert(&self, caller: Principal, id: i64) -> Answer<'_, burnin::alert::AlertView> {
        Box::pin(async move { self.get_alert(&caller, id).await })
    }

    fn alert_summary(&self, caller: Principal) -> Answer<'_, burnin::alert::AlertSummary> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(crate::alerts::summary(self.db.pool()).await?)
        })
    }

    fn alert_action(
        &self,
        caller: Principal,
        id: i64,
        handling: burnin::alert::Handling,
        note: Option<String>,
    ) -> Answer<'_, burnin::alert::AlertView> {
        Box::pin(async move { self.handle_alert(&caller, id, handling, note).await })
    }

    fn channels(&self, caller: Principal) -> Answer<'_, Vec<burnin::notify::ChannelView>> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(crate::notify::list(self.db.pool()).await?)
        })
    }

    fn save_channel(
        &self,
        caller: Principal,
        id: Option<i64>,
        input: burnin::notify::ChannelInput,
    ) -> Answer<'_, burnin::notify::ChannelView> {
        Box::pin(async move {
            allow(&caller, Action::ChangeSettings)?;
            let now = crate::auth::now_unix();
            let saved = match id {
                None => crate::notify::create(&self.notifier, &input, &caller.actor(), now).await,
                Some(id) => {
                    crate::notify::update(&self.notifier, id, &input, &caller.actor(), now).await
                }
            };
            saved.map_err(notify_error)
        })
    }

    fn delete_channel(&self, caller: Principal, id: i64) -> Answer<'_, ()> {
        Box::pin(async move {
            allow(&caller, Action::ChangeSettings)?;
            crate::notify::delete(self.db.pool(), id, &caller.actor()).await.map_err(notify_error)
        })
    }

    fn test_channel(&self, caller: Principal, id: i64) -> Answer<'_, burnin::notify::DeliveryView> {
        Box::pin(async move {
            allow(&caller, Action::ChangeSettings)?;
            crate::notify::send_test(&self.notifier, id, &caller.actor(), crate::auth::now_unix())
                .await
                .map_err(notify_error)
        })
    }

    fn deliveries(
        &self,
        caller: Principal,
        channel_id: Option<i64>,
    ) -> Answer<'_, Vec<burnin::notify::DeliveryView>> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(crate::notify::deliveries(self.db.pool(), channel_id, 200).await?)
        })
    }

    fn settings(&self, caller: Principal) -> Answer<'_, burnin::settings::SettingsView> {
        Box::pin(async move {
            allow(&caller, Action::View)?;
            Ok(burnin::settings::SettingsView {
                settings: self.settings.get(),
                system: self.system_info().await,
            })
        })
    }

    fn change_settings(
        &self,
        caller: Principal,
        patch: serde_json::Value,
    ) -> Answer<'_, burnin::settings::SettingsView> {
        Box::pin(async move {
            let settings = Services::change_settings(self, &caller, &patch).await?;
            Ok(burnin::settings::SettingsView { settings, system: self.system_info().await })
        })
    }
}

impl Services {
    /// Up to `limit` rows of the job history for the CSV export, from `cursor`, with the cursor
    /// of the rows that follow (the export reads in batches, so no answer holds them all).
    pub async fn history_rows(
        &self,
        caller: &Principal,
        query: &burnin::history::JobQuery,
        cursor: Option<&burnin::history::Cursor>,
        limit: i64,
    ) -> Result<(Vec<burnin::history::HistoryRow>, Option<burnin::history::Cursor>), AppError> {
        allow(caller, Action::View)?;
        Ok(crate::engine::store::history_rows(
            self.db.pool(),
            &query.filter,
            query.sort,
            cursor,
            limit,
        )
        .await?)
    }

    /// Applies [`DestructiveLimit`]; a refusal is audited and answered with 429.
    async fn limit_destructive(
        &self,
        caller: &Principal,
        hosts: Vec<(String, usize)>,
    ) -> Result<(), AppError> {
        if let Err(reason) = self.destructive.take(&hosts) {
            crate::audit::record(
                self.db.pool(),
                &caller.actor(),
                "burnin.rate_limited",
                "",
                &json!({"reason": reason}),
            )
            .await?;
            tracing::warn!(audit.actor = %caller.actor(), reason = %reason, "destructive work rate-limited");
            return Err(AppError::new(burnin_app::ErrorKind::TooMany, reason));
        }
        Ok(())
    }

    /// Alerts matching `filter`.
    pub async fn list_alerts(
        &self,
        caller: &Principal,
        filter: &burnin::alert::AlertFilter,
    ) -> Result<Vec<burnin::alert::AlertView>, AppError> {
        allow(caller, Action::View)?;
        if let Some(state) = filter.state.as_deref()
            && !matches!(state, "open" | "raised" | "acknowledged" | "resolved" | "all")
        {
            return Err(AppError::bad_request(format!(
                "unknown alert state {state:?}; use open, raised, acknowledged, resolved or all"
            )));
        }
        Ok(crate::alerts::list(self.db.pool(), filter).await?)
    }

    pub async fn get_alert(
        &self,
        caller: &Principal,
        id: i64,
    ) -> Result<burnin::alert::AlertView, AppError> {
        allow(caller, Action::View)?;
        crate::alerts::get(self.db.pool(), id)
            .await?
            .ok_or_else(|| AppError::not_found(format!("there is no alert with id {id}")))
    }

    /// Acknowledges or resolves an alert as the caller, with an optional note.
    pub async fn handle_alert(
        &self,
        caller: &Principal,
        id: i64,
        handling: crate::alerts::Handling,
        note: Option<String>,
    ) -> Result<burnin::alert::AlertView, AppError> {
        allow(caller, Action::HandleAlerts)?;
        if note.as_ref().is_some_and(|n| {
            n.chars().count() > MAX_TEXT || n.chars().any(|c| c.is_control() && c != '\n')
        }) {
            return Err(AppError::bad_request(format!(
                "the note must be plain text of at most {MAX_TEXT} characters"
            )));
        }
        let now = crate::auth::now_unix();
        match crate::alerts::handle(
            self.db.pool(),
            id,
            handling,
            &caller.actor(),
            note.as_deref(),
            now,
        )
        .await?
        {
            Ok(view) => Ok(view),
            Err(why) if why.starts_with("there is no alert") => Err(AppError::not_found(why)),
            Err(why) => Err(AppError::conflict(why)),
        }
    }

    /// Pins what a connection test saw under `reference`: its certificate or SSH host key.
    pub async fn trust_observed(
        &self,
        caller: Principal,
        id: i64,
        reference: &str,
    ) -> Result<HostView, AppError> {
        allow(&caller, Action::ManageHosts)?;
        match self.observed.take(id, reference)? {
            Observed::Certificate(fingerprint) => {
                let view = self.hosts.pin_certificate(id, &fingerprint, &caller.actor()).await?;
                self.inventory.restart(id).await;
                self.publish_host(id).await;
                Ok(view)
            }
            Observed::SshHostKey(key) => self.trust_ssh(id, key, caller.actor()).await,
        }
    }

    async fn trust_ssh(&self, id: i64, key: String, actor: String) -> Result<HostView, AppError> {
        self.hosts.pin_ssh_host_key(id, &key, "tofu", &actor).await?;
        self.publish_host(id).await;
        Ok(self.hosts.get(id).await?)
    }
}

impl From<DbError> for AppError {
    fn from(error: DbError) -> AppError {
        // The full error (which may name tables or paths) stays in the server log.
        tracing::error!(error = %error, "database error while serving a request");
        match error {
            DbError::Query(sqlx::Error::PoolTimedOut) => AppError::unavailable(
                "The database is busy and did not answer in time. Try again in a moment.",
            ),
            _ => AppError::internal(
                "The database could not complete the request. The server log has the details.",
            ),
        }
    }
}

/// The one mapping from the engine's errors to what the doors answer.
impl From<EngineError> for AppError {
    fn from(error: EngineError) -> AppError {
        match error {
            EngineError::Db(db) => db.into(),
            EngineError::BadRequest(message) => AppError::bad_request(message),
            EngineError::NotFound(message) => AppError::not_found(message),
            EngineError::Conflict(message) => AppError::conflict(message),
            EngineError::Refused { message, reasons } => AppError::refused(message, reasons),
            EngineError::KeyReused(message) => {
                AppError::new(burnin_app::ErrorKind::Unprocessable, message)
            }
        }
    }
}

impl From<HostError> for AppError {
    fn from(error: HostError) -> AppError {
        match error {
            HostError::Invalid { .. } => AppError::bad_request(error.to_string()),
            HostError::NotFound(_) => AppError::not_found(error.to_string()),
            HostError::NameTaken(_) => AppError::conflict(error.to_string()),
            HostError::Db(db) => db.into(),
            HostError::Secret(secret) => {
                tracing::error!(error = %secret, "secret store error");
                AppError::internal(secret.to_string())
            }
        }
    }
}

impl From<crate::auth::AuthError> for AppError {
    fn from(error: crate::auth::AuthError) -> AppError {
        use crate::auth::AuthError;
        match error {
            AuthError::BadCredentials => {
                AppError::new(burnin_app::ErrorKind::Unauthenticated, error.to_string())
            }
            AuthError::Locked { .. } => {
                AppError::new(burnin_app::ErrorKind::TooMany, error.to_string())
            }
            AuthError::Invalid(_) => AppError::bad_request(error.to_string()),
            AuthError::NotFound(_) => AppError::not_found(error.to_string()),
            AuthError::Conflict(_) => AppError::conflict(error.to_string()),
            AuthError::Db(db) => db.into(),
            AuthError::Hash(_) => {
                tracing::error!(error = %error, "password hashing failed");
                AppError::internal(
                    "the password could not be checked; the server log has the details",
                )
            }
        }
    }
}

impl From<TrueNasError> for AppError {
    fn from(error: TrueNasError) -> AppError {
        AppError::unavailable(error.to_string())
    }
}
