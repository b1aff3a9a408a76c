//! The service layer: the one implementation behind both doors (Leptos server functions and
//! the `/api/v1` routes). Validation and safety checks belong here, never in a door.

use burnin::{
    DriveFilter, DriveRow,
    host::{HostInput, HostStatus, HostTest, HostView, TestStep, TlsMode, normalize_fingerprint},
    job::{JobState, JobView, SmartSnapshot, StartRequest},
    live::Snapshot,
};
use burnin_app::{
    AppError,
    backend::{Answer, Backend, DriveEdit},
};
use serde_json::json;

use crate::{
    db::{Db, DbError},
    engine::Engine,
    hosts::{HostError, HostStore},
    inventory::{self, Inventory},
    live::Hub,
    truenas::{self, Client, TrueNasError},
};

#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub hosts: HostStore,
    pub hub: Hub,
    pub inventory: Inventory,
    pub engine: Engine,
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
        self.hub.load(hosts, drives).await;
        Ok(())
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
                report.presented_ssh_host_key = Some(key);
            }
            Err(error) => step("SSH", false, error.to_string()),
        }
        report.ok = report.steps.iter().all(|s| s.ok);
        Ok(report)
    }
}

impl Backend for Services {
    fn list_drives(&self, filter: DriveFilter) -> Answer<'_, Vec<DriveRow>> {
        Box::pin(async move { Ok(inventory::list_drives(self.db.pool(), &filter).await?) })
    }

    fn get_drive(&self, id: i64) -> Answer<'_, DriveRow> {
        Box::pin(async move {
            inventory::get_drive(self.db.pool(), id)
                .await?
                .ok_or_else(|| AppError::not_found(format!("there is no drive with id {id}")))
        })
    }

    fn edit_drive(&self, id: i64, edit: DriveEdit, actor: String) -> Answer<'_, DriveRow> {
        Box::pin(self.edit(id, edit, actor))
    }

    fn snapshot(&self) -> Answer<'_, Snapshot> {
        Box::pin(async move { Ok(self.hub.snapshot().await) })
    }

    fn list_hosts(&self) -> Answer<'_, Vec<HostView>> {
        Box::pin(async move { Ok(self.hosts.list().await?) })
    }

    fn get_host(&self, id: i64) -> Answer<'_, HostView> {
        Box::pin(async move { Ok(self.hosts.get(id).await?) })
    }

    fn create_host(&self, input: HostInput, actor: String) -> Answer<'_, HostView> {
        Box::pin(async move {
            let view = self.hosts.create(&input, &actor).await?;
            self.hub.host(view.clone()).await;
            self.inventory.restart(view.id).await;
            Ok(view)
        })
    }

    fn update_host(&self, id: i64, input: HostInput, actor: String) -> Answer<'_, HostView> {
        Box::pin(async move {
            let view = self.hosts.update(id, &input, &actor).await?;
            self.hub.host(view.clone()).await;
            self.inventory.restart(id).await;
            Ok(view)
        })
    }

    fn delete_host(&self, id: i64, actor: String) -> Answer<'_, ()> {
        Box::pin(async move {
            self.inventory.stop(id).await;
            self.hosts.delete(id, &actor).await?;
            self.hub.host_removed(id).await;
            Ok(())
        })
    }

    fn set_host_enabled(&self, id: i64, enabled: bool, actor: String) -> Answer<'_, HostView> {
        Box::pin(async move {
            self.hosts.set_enabled(id, enabled, &actor).await?;
            if enabled {
                self.hosts.set_status(id, HostStatus::Unknown, None, None).await?;
            }
            self.inventory.restart(id).await;
            self.publish_host(id).await;
            Ok(self.hosts.get(id).await?)
        })
    }

    fn test_host(&self, id: i64) -> Answer<'_, HostTest> {
        Box::pin(self.test(id))
    }

    fn trust_ssh_host_key(&self, id: i64, key: String, actor: String) -> Answer<'_, HostView> {
        Box::pin(self.trust_ssh(id, key, actor))
    }

    fn start_burnin(&self, request: StartRequest) -> Answer<'_, Vec<JobView>> {
        Box::pin(self.engine.start_jobs(request))
    }

    fn cancel_job(&self, id: i64, actor: String) -> Answer<'_, JobView> {
        Box::pin(async move { self.engine.cancel(id, &actor).await })
    }

    fn cancel_jobs(&self, host_id: Option<i64>, actor: String) -> Answer<'_, usize> {
        Box::pin(async move { self.engine.cancel_many(host_id, &actor).await })
    }

    fn get_job(&self, id: i64) -> Answer<'_, JobView> {
        Box::pin(self.engine.view(id))
    }

    fn list_jobs(
        &self,
        drive_id: Option<i64>,
        state: Option<JobState>,
    ) -> Answer<'_, Vec<JobView>> {
        Box::pin(self.engine.list(drive_id, state))
    }

    fn drive_smart(&self, drive_id: i64) -> Answer<'_, Option<SmartSnapshot>> {
        Box::pin(async move {
            Ok(crate::engine::store::drive_smart(self.db.pool(), drive_id)
                .await?
                .map(|(raw_json, taken_at)| SmartSnapshot { taken_at, raw_json }))
        })
    }

    fn trust_certificate(
        &self,
        id: i64,
        fingerprint: String,
        actor: String,
    ) -> Answer<'_, HostView> {
        Box::pin(async move {
            let view = self.hosts.pin_certificate(id, &fingerprint, &actor).await?;
            self.inventory.restart(id).await;
            self.publish_host(id).await;
            Ok(view)
        })
    }
}

impl Services {
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

impl From<TrueNasError> for AppError {
    fn from(error: TrueNasError) -> AppError {
        AppError::unavailable(error.to_string())
    }
}
