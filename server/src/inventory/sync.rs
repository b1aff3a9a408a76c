//! One task per enabled host: connect to its API, keep its drives current in the database,
//! then publish them. Subscribes to `disk.query` events where the release offers them (26+)
//! and polls at the configured interval otherwise; reconnects with backoff and jitter.

use std::{collections::HashMap, sync::Arc, time::Duration};

use burnin::host::{HostStatus, TlsMode};
use serde_json::{Value, json};
use sqlx::SqlitePool;
use tokio::{sync::Mutex, task::JoinHandle};

use super::{report, store};
use crate::{
    hosts::{HostConnection, HostStore},
    live::Hub,
    truenas::{
        Backoff, Client, ClientOptions, Endpoint, TlsTrust, TrueNasError, staggered_interval,
    },
};

#[derive(Clone, Debug, Default)]
pub struct InventoryOptions {
    /// The run-time settings: how often the drive list is read again when the host offers
    /// no events, and how often temperatures are read.
    pub live: crate::settings::Live,
    pub client: ClientOptions,
}

impl InventoryOptions {
    fn intervals(&self) -> (Duration, Duration) {
        self.live.read(|s| {
            (
                Duration::from_secs(s.poll_interval_secs.max(1)),
                Duration::from_secs(s.temperature_interval_secs.max(1)),
            )
        })
    }
}

/// Runs the per-host sync tasks.
#[derive(Clone)]
pub struct Inventory {
    pool: SqlitePool,
    hosts: HostStore,
    hub: Hub,
    options: InventoryOptions,
    tasks: Arc<Mutex<HashMap<i64, JoinHandle<()>>>>,
}

impl Inventory {
    pub fn new(
        pool: SqlitePool,
        hosts: HostStore,
        hub: Hub,
        options: InventoryOptions,
    ) -> Inventory {
        Inventory { pool, hosts, hub, options, tasks: Arc::default() }
    }

    /// Starts a task for every enabled host.
    pub async fn start_all(&self) {
        match self.hosts.enabled_ids().await {
            Ok(ids) => {
                for id in ids {
                    self.restart(id).await;
                }
            }
            Err(error) => tracing::error!(error = %error, "cannot list hosts to watch"),
        }
    }

    /// (Re)starts the task of one host after its settings changed; stops it if disabled or
    /// removed.
    pub async fn restart(&self, host_id: i64) {
        let mut tasks = self.tasks.lock().await;
        if let Some(task) = tasks.remove(&host_id) {
            task.abort();
        }
        let connection = match self.hosts.connection(host_id).await {
            Ok(connection) => connection,
            Err(_) => return,
        };
        if connection.archived {
            return;
        }
        if !connection.enabled {
            let _ = self.hosts.set_status(host_id, HostStatus::Disabled, None, None).await;
            self.publish_host(host_id).await;
            return;
        }
        let worker = Worker { inventory: self.clone(), host_id };
        tasks.insert(host_id, tokio::spawn(worker.run()));
    }

    pub async fn stop(&self, host_id: i64) {
        if let Some(task) = self.tasks.lock().await.remove(&host_id) {
            task.abort();
        }
    }

    pub async fn stop_all(&self) {
        for (_, task) in self.tasks.lock().await.drain() {
            task.abort();
        }
    }

    async fn publish_host(&self, host_id: i64) {
        if let Ok(view) = self.hosts.get(host_id).await {
            self.hub.host(view).await;
        }
    }

    async fn publish_drives(&self, ids: &[i64]) {
        for id in ids {
            if let Ok(Some(row)) = store::get_drive(&self.pool, *id).await {
                self.hub.drive(row).await;
            }
        }
    }
}

/// The endpoint a connection describes; `None` (with the reason) when it cannot be used yet.
pub fn endpoint(connection: &HostConnection) -> Result<Endpoint, String> {
    let Some(api_key) = &connection.api_key else {
        return Err("no API key is stored: add one in the host's settings".to_owned());
    };
    let trust = match connection.tls_mode {
        TlsMode::PlainLoopback => TlsTrust::PlainLoopback,
        TlsMode::Fingerprint => match &connection.tls_fingerprint {
            Some(pin) => TlsTrust::Fingerprint(pin.clone()),
            None => {
                return Err("the host's certificate is not trusted yet: test the connection and confirm its fingerprint".to_owned());
            }
        },
        TlsMode::Ca => match &connection.tls_ca_pem {
            Some(pem) => TlsTrust::CaPem(pem.clone()),
            None => {
                return Err(
                    "no CA certificate is stored: paste the CA's PEM in the host's settings"
                        .to_owned(),
                );
            }
        },
    };
    Ok(Endpoint {
        url: connection.api_url.clone(),
        api_user: connection.api_user.clone(),
        api_key: api_key.expose().to_owned(),
        trust,
    })
}

/// The API refused the key: an alert once it has lasted, and looked at again now and then,
/// since the key may be mended on the NAS (a user re-enabled) as well as here.
fn auth_refused(error: &TrueNasError) -> bool {
    matches!(error, TrueNasError::WrongKey | TrueNasError::KeyRevoked)
}

/// Errors that retrying cannot fix: the operator must act.
fn needs_operator(error: &TrueNasError) -> bool {
    matches!(
        error,
        TrueNasError::WrongKey
            | TrueNasError::KeyRevoked
            | TrueNasError::UntrustedCertificate { .. }
            | TrueNasError::CertificateRejected { .. }
            | TrueNasError::InsecureUrl { .. }
            | TrueNasError::UnsupportedVersion { .. }
    )
}

struct Worker {
    inventory: Inventory,
    host_id: i64,
}

impl Worker {
    async fn status(&self, status: HostStatus, detail: Option<&str>, version: Option<&str>) {
        let _ = self.inventory.hosts.set_status(self.host_id, status, detail, version).await;
        self.inventory.publish_host(self.host_id).await;
    }

    fn rules(&self) -> burnin::alert::AlertRules {
        self.inventory.options.live.read(|s| s.alerts.clone())
    }

    /// One sign-in to the API, as the `api_auth_failing` alert counts it.
    async fn auth_checked(&self, name: &str, refused: Option<&str>) {
        let now = crate::auth::now_unix();
        let rules = self.rules();
        if let Err(error) = crate::alert_feeds::api_auth(
            &self.inventory.pool,
            &rules,
            (self.host_id, name),
            refused,
            now,
        )
        .await
        {
            tracing::warn!(host.id = self.host_id, error = %error, "cannot check the host's API sign-in alert");
        }
    }

    async fn run(self) {
        let mut backoff = Backoff::default();
        loop {
            let connection = match self.inventory.hosts.connection(self.host_id).await {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::warn!(host.id = self.host_id, error = %error, "host settings unreadable; stopping its sync");
                    self.status(HostStatus::Error, Some(&error.to_string()), None).await;
                    return;
                }
            };
            let endpoint = match endpoint(&connection) {
                Ok(endpoint) => endpoint,
                Err(reason) => {
                    self.status(HostStatus::Error, Some(&reason), None).await;
                    return;
                }
            };
            self.status(HostStatus::Connecting, None, None).await;
            match Client::connect(&endpoint, &self.inventory.options.client).await {
                Ok(client) => {
                    backoff.reset();
                    self.auth_checked(&connection.name, None).await;
                    let version = client.version().map(str::to_owned);
                    tracing::info!(host.name = %connection.name, truenas.version = ?version, "connected to host");
                    // What the key may do decides whether the terminal is on by default.
                    if let Ok(me) = client.call("auth.me", json!([])).await
                        && let Some(roles) = burnin::host::roles_of(&me)
                        && let Err(error) =
                            self.inventory.hosts.set_api_roles(self.host_id, &roles).await
                    {
                        tracing::warn!(host.name = %connection.name, error = %error, "cannot store the API key's roles");
                    }
                    self.status(HostStatus::Online, None, version.as_deref()).await;
                    let outcome = self.watch(&client, &connection).await;
                    let detail = match &outcome {
                        Ok(()) => "the connection to the host closed".to_owned(),
                        Err(error) => error.to_string(),
                    };
                    tracing::warn!(host.name = %connection.name, reason = %detail, "lost the host");
                    self.status(HostStatus::Offline, Some(&detail), None).await;
                }
                Err(error) if auth_refused(&error) => {
                    tracing::warn!(host.name = %connection.name, error = %error, "host refuses the API key; will look again");
                    self.status(HostStatus::Error, Some(&error.to_string()), None).await;
                    self.auth_checked(&connection.name, Some(&error.to_string())).await;
                }
                Err(error) if needs_operator(&error) => {
                    tracing::warn!(host.name = %connection.name, error = %error, "host refuses us; waiting for its settings to change");
                    self.status(HostStatus::Error, Some(&error.to_string()), None).await;
                    // Retrying a wrong key or an untrusted certificate changes nothing; the task
                    // is restarted when the operator edits the host.
                    return;
                }
                Err(error) => {
                    tracing::info!(host.name = %connection.name, error = %error, "host unreachable; will retry");
                    self.status(HostStatus::Offline, Some(&error.to_string()), None).await;
                }
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }

    /// Syncs until the connection ends.
    async fn watch(
        &self,
        client: &Client,
        connection: &HostConnection,
    ) -> Result<(), TrueNasError> {
        let mut events = client.events();
        let has_events = client.subscribe("disk.query").await.is_ok();
        self.sync(client, connection).await?;
        let options = &self.inventory.options;
        let mut settings = options.live.subscribe();
        let mut current = options.intervals();
        let mut poll = staggered_interval(current.0);
        let mut temperatures = staggered_interval(current.1);
        loop {
            tokio::select! {
                () = client.closed() => return Ok(()),
                // A changed interval takes effect at once, not after the old one runs out.
                Ok(()) = settings.changed() => {
                    let wanted = options.intervals();
                    if wanted != current {
                        current = wanted;
                        poll = staggered_interval(current.0);
                        temperatures = staggered_interval(current.1);
                    }
                }
                _ = poll.tick() => self.sync(client, connection).await?,
                _ = temperatures.tick() => self.read_temperatures(client).await?,
                event = events.recv(), if has_events => {
                    if matches!(event, Ok(ref e) if e.collection == "disk.query") || event.is_err() {
                        self.sync(client, connection).await?;
                    }
                }
            }
        }
    }

    async fn sync(&self, client: &Client, connection: &HostConnection) -> Result<(), TrueNasError> {
        let disks = client.call("disk.query", json!([[], {"extra": {"pools": true}}])).await?;
        let boot = client.call("boot.get_disks", json!([])).await?;
        let details = match client
            .call("disk.details", json!([{"join_partitions": false, "type": "BOTH"}]))
            .await
        {
            Ok(details) => Some(details),
            // CORE has no disk.details; its absence is expected, not a failure.
            Err(TrueNasError::MethodMissing { .. }) => None,
            Err(error) => return Err(error),
        };
        let reported = report::from_api(&disks, &boot, details.as_ref())
            .map_err(|error| TrueNasError::Protocol { detail: error.to_string() })?;
        match store::apply_report(&self.inventory.pool, self.host_id, &reported).await {
            Ok(touched) => self.inventory.publish_drives(&touched).await,
            Err(error) => {
                tracing::error!(host.name = %connection.name, error = %error, "cannot store the host's drives")
            }
        }
        // Signed in and answering: a clear check of the sign-in alert.
        self.auth_checked(&connection.name, None).await;
        self.read_pools(client).await?;
        self.read_temperatures(client).await
    }

    /// `pool.query`: each imported pool's health and usage, for the pool alerts.
    async fn read_pools(&self, client: &Client) -> Result<(), TrueNasError> {
        let answer = match client.call("pool.query", json!([])).await {
            Ok(answer) => answer,
            // A key without the pool role, or a release without the method: no pool alerts.
            Err(TrueNasError::Call { .. } | TrueNasError::MethodMissing { .. }) => return Ok(()),
            Err(error) => return Err(error),
        };
        let pools = report::pools(&answer);
        let rules = self.rules();
        let now = crate::auth::now_unix();
        if let Err(error) =
            crate::alert_feeds::pools(&self.inventory.pool, &rules, self.host_id, &pools, now).await
        {
            tracing::warn!(host.id = self.host_id, error = %error, "cannot check the host's pool alerts");
        }
        Ok(())
    }

    async fn read_temperatures(&self, client: &Client) -> Result<(), TrueNasError> {
        let answer: Value = match client.call("disk.temperatures", json!([[]])).await {
            Ok(answer) => answer,
            Err(TrueNasError::Call { .. }) => return Ok(()),
            Err(error) => return Err(error),
        };
        let readings = report::temperatures(&answer);
        match store::set_temperatures(&self.inventory.pool, self.host_id, &readings).await {
            Ok(changed) => self.inventory.publish_drives(&changed).await,
            Err(error) => {
                tracing::error!(host.id = self.host_id, error = %error, "cannot store temperatures")
            }
        }
        self.temperature_alerts().await;
        Ok(())
    }

    /// The host's drives at the temperatures just stored (the API's, or smartctl's where the
    /// API has no sensor), against the temperature table in force.
    async fn temperature_alerts(&self) {
        let pool = &self.inventory.pool;
        let (rules, table) =
            self.inventory.options.live.read(|s| (s.alerts.clone(), s.verdict.temperatures));
        let checked = async {
            let drives = store::drives_of_host(pool, self.host_id).await?;
            let now = crate::auth::now_unix();
            crate::alert_feeds::temperatures(pool, &rules, self.host_id, &drives, &table, now).await
        };
        if let Err(error) = checked.await {
            tracing::warn!(host.id = self.host_id, error = %error, "cannot check the host's temperature alerts");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secret;

    fn connection() -> HostConnection {
        HostConnection {
            id: 1,
            uid: "u".into(),
            name: "nas".into(),
            api_url: "wss://nas.lan".into(),
            api_user: "root".into(),
            api_key: Some(Secret::new("1-abc")),
            tls_mode: TlsMode::Fingerprint,
            tls_fingerprint: None,
            tls_ca_pem: None,
            ssh_host: "nas.lan".into(),
            ssh_port: 22,
            ssh_user: "root".into(),
            ssh_private_key: None,
            ssh_password: None,
            ssh_host_key: None,
            enabled: true,
            simulated: false,
            archived: false,
        }
    }

    #[test]
    fn an_untrusted_certificate_or_missing_key_is_reported_not_retried() {
        let unpinned = endpoint(&connection()).expect_err("no pin");
        assert!(unpinned.contains("confirm its fingerprint"));
        let mut no_key = connection();
        no_key.api_key = None;
        assert!(endpoint(&no_key).expect_err("no key").contains("API key"));
        let mut pinned = connection();
        pinned.tls_fingerprint = Some("SHA256:AA".into());
        assert!(matches!(endpoint(&pinned).map(|e| e.trust), Ok(TlsTrust::Fingerprint(_))));
    }
}
