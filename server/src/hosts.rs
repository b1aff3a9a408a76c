//! Hosts: their connection settings (secrets encrypted at rest) and live status. Owns the
//! connection columns of `hosts`; `inventory` reads connections through [`HostStore`].

use std::{net::IpAddr, sync::Arc};

use burnin::host::{HostInput, HostStatus, HostView, TlsMode, normalize_fingerprint};
use serde_json::json;
use sqlx::{FromRow, SqlitePool};

use crate::{
    audit,
    db::DbError,
    secrets::{MasterKey, Secret, SecretError, host_aad, random_bytes},
};

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("there is no host with id {0}")]
    NotFound(i64),
    #[error("a host named {0:?} already exists; choose another name")]
    NameTaken(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl From<sqlx::Error> for HostError {
    fn from(error: sqlx::Error) -> HostError {
        HostError::Db(DbError::Query(error))
    }
}

/// Why a certificate fingerprint typed into a form is not pinned.
const PIN_FROM_TEST: &str = "a certificate is pinned only from what the dashboard itself saw: save the host without a fingerprint, run Test connection, then trust the certificate it shows";

fn invalid(field: &'static str, message: impl Into<String>) -> HostError {
    HostError::Invalid { field, message: message.into() }
}

/// Everything needed to talk to a host, secrets decrypted. Lives only in memory; `Debug`
/// redacts the secrets through [`Secret`].
#[derive(Clone, Debug)]
pub struct HostConnection {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub api_url: String,
    pub api_user: String,
    pub api_key: Option<Secret>,
    pub tls_mode: TlsMode,
    pub tls_fingerprint: Option<String>,
    pub tls_ca_pem: Option<String>,
    pub ssh_host: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub ssh_private_key: Option<Secret>,
    pub ssh_password: Option<Secret>,
    pub ssh_host_key: Option<String>,
    pub enabled: bool,
    pub simulated: bool,
    pub archived: bool,
}

#[derive(FromRow)]
struct HostRecord {
    id: i64,
    uid: String,
    name: String,
    api_url: String,
    api_user: String,
    api_key_enc: Option<String>,
    api_key_hint: Option<String>,
    tls_mode: String,
    tls_fingerprint: Option<String>,
    tls_ca_pem: Option<String>,
    ssh_host: String,
    ssh_port: i64,
    ssh_user: String,
    ssh_key_enc: Option<String>,
    ssh_password_enc: Option<String>,
    ssh_host_key: Option<String>,
    enabled: bool,
    terminal: Option<bool>,
    api_roles: Option<String>,
    simulated: bool,
    status: String,
    status_detail: Option<String>,
    last_seen_at: Option<String>,
    truenas_version: Option<String>,
    drive_count: i64,
    archived_at: Option<String>,
}

const SELECT: &str = "SELECT h.id, h.uid, h.name, h.api_url, h.api_user, h.api_key_enc, h.api_key_hint,
        h.tls_mode, h.tls_fingerprint, h.tls_ca_pem, h.ssh_host, h.ssh_port, h.ssh_user,
        h.ssh_key_enc, h.ssh_password_enc, h.ssh_host_key, h.enabled, h.terminal, h.api_roles, h.simulated, h.status,
        h.status_detail, h.last_seen_at, h.truenas_version, h.archived_at,
        (SELECT COUNT(*) FROM drives d WHERE d.host_id = h.id AND d.state != 'absent') AS drive_count
   FROM hosts h";

impl HostRecord {
    fn api_read_only(&self) -> bool {
        self.api_roles
            .as_deref()
            .and_then(|json| serde_json::from_str::<Vec<String>>(json).ok())
            .is_some_and(|roles| burnin::host::read_only_roles(&roles))
    }

    fn view(&self) -> HostView {
        HostView {
            id: self.id,
            name: self.name.clone(),
            api_url: self.api_url.clone(),
            api_user: self.api_user.clone(),
            api_key_hint: self.api_key_enc.as_ref().and(self.api_key_hint.clone()),
            tls_mode: TlsMode::parse(&self.tls_mode).unwrap_or(TlsMode::Fingerprint),
            tls_fingerprint: self.tls_fingerprint.clone(),
            has_tls_ca: self.tls_ca_pem.is_some(),
            ssh_host: self.ssh_host.clone(),
            ssh_port: u16::try_from(self.ssh_port).unwrap_or(22),
            ssh_user: self.ssh_user.clone(),
            has_ssh_key: self.ssh_key_enc.is_some(),
            has_ssh_password: self.ssh_password_enc.is_some(),
            ssh_host_key_fingerprint: self.ssh_host_key.as_deref().and_then(ssh_key_fingerprint),
            enabled: self.enabled,
            terminal: self.terminal.unwrap_or(!self.api_read_only()),
            api_read_only: self.api_read_only(),
            simulated: self.simulated,
            status: if self.enabled {
                HostStatus::parse(&self.status)
            } else {
                HostStatus::Disabled
            },
            status_detail: self.status_detail.clone(),
            last_seen_at: self.last_seen_at.clone(),
            truenas_version: self.truenas_version.clone(),
            drive_count: self.drive_count,
            archived_at: self.archived_at.clone(),
        }
    }
}

/// SHA-256 fingerprint of an OpenSSH public key line, as `ssh-keygen -l` prints it.
pub fn ssh_key_fingerprint(line: &str) -> Option<String> {
    let key = russh::keys::PublicKey::from_openssh(line.trim()).ok()?;
    Some(key.fingerprint(russh::keys::HashAlg::Sha256).to_string())
}

/// A validated form of [`HostInput`].
struct Validated {
    name: String,
    api_url: String,
    api_user: String,
    tls_mode: TlsMode,
    tls_fingerprint: Option<String>,
    ssh_host: String,
    ssh_port: u16,
    ssh_user: String,
}

/// Where a host's settings point: its API URL and SSH endpoint, as they would be stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub api_url: String,
    pub ssh_host: String,
    pub ssh_port: u16,
    pub ssh_user: String,
}

/// The endpoints a host input would store (validated and normalised the way `update` does).
pub fn endpoints(input: &HostInput) -> Result<Endpoints, HostError> {
    let valid = validate(input)?;
    Ok(Endpoints {
        api_url: valid.api_url,
        ssh_host: valid.ssh_host,
        ssh_port: valid.ssh_port,
        ssh_user: valid.ssh_user,
    })
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn validate(input: &HostInput) -> Result<Validated, HostError> {
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(invalid("name", "give the host a name of 1 to 64 characters"));
    }
    let url = url::Url::parse(input.api_url.trim()).map_err(|error| {
        invalid("api_url", format!("not a URL ({error}); use e.g. wss://truenas.lan"))
    })?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("api_url", "the URL has no host"))?
        .to_owned();
    let plain = match url.scheme() {
        "wss" | "https" => false,
        "ws" | "http" => true,
        other => {
            return Err(invalid(
                "api_url",
                format!("the scheme {other:?} is not supported; use wss://"),
            ));
        }
    };
    if url.path() != "/" && !url.path().is_empty() {
        return Err(invalid(
            "api_url",
            "give only the address (e.g. wss://truenas.lan), without a path",
        ));
    }
    if plain && !is_loopback(&host) {
        return Err(invalid(
            "api_url",
            "plain ws:// sends the API key unencrypted and TrueNAS revokes a key it receives that way; use wss://",
        ));
    }
    let tls_mode = match (input.tls_mode, plain) {
        (_, true) => TlsMode::PlainLoopback,
        (Some(TlsMode::PlainLoopback), false) => TlsMode::Fingerprint,
        (Some(mode), false) => mode,
        (None, false) => TlsMode::Fingerprint,
    };
    let tls_fingerprint =
        match input.tls_fingerprint.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            Some(text) => Some(normalize_fingerprint(text).ok_or_else(|| {
                invalid(
                    "tls_fingerprint",
                    "expected a SHA-256 fingerprint: 64 hex digits, e.g. SHA256:AB:CD:…",
                )
            })?),
            None => None,
        };
    if let Some(pem) = input.tls_ca_pem.as_deref().filter(|p| !p.trim().is_empty())
        && !pem.contains("-----BEGIN CERTIFICATE-----")
    {
        return Err(invalid(
            "tls_ca_pem",
            "expected a PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    let port = url.port();
    let api_url = match port {
        Some(port) => format!("{}://{}:{port}", url.scheme(), url.host_str().unwrap_or(&host)),
        None => format!("{}://{}", url.scheme(), url.host_str().unwrap_or(&host)),
    };
    let ssh_host = match input.ssh_host.trim() {
        "" => host.trim_start_matches('[').trim_end_matches(']').to_owned(),
        other => other.to_owned(),
    };
    if ssh_host.contains(char::is_whitespace) {
        return Err(invalid("ssh_host", "a host name or address, without spaces"));
    }
    let ssh_port = input.ssh_port.unwrap_or(22);
    if ssh_port == 0 {
        return Err(invalid("ssh_port", "a port from 1 to 65535"));
    }
    let api_user = match input.api_user.trim() {
        "" => "root".to_owned(),
        other => other.to_owned(),
    };
    let ssh_user = match input.ssh_user.trim() {
        "" => "root".to_owned(),
        other => other.to_owned(),
    };
    Ok(Validated {
        name,
        api_url,
        api_user,
        tls_mode,
        tls_fingerprint,
        ssh_host,
        ssh_port,
        ssh_user,
    })
}

fn check_private_key(pem: &str) -> Result<(), HostError> {
    russh::keys::decode_secret_key(pem.trim(), None).map(|_| ()).map_err(|error| {
        invalid(
            "ssh_private_key",
            format!("not a usable private key ({error}); paste an unencrypted OpenSSH or PEM key"),
        )
    })
}

#[derive(Clone, Debug)]
pub struct HostStore {
    pool: SqlitePool,
    master: Arc<MasterKey>,
}

impl HostStore {
    pub fn new(pool: SqlitePool, master: Arc<MasterKey>) -> HostStore {
        HostStore { pool, master }
    }

    /// Hosts in service.
    pub async fn list(&self) -> Result<Vec<HostView>, HostError> {
        let records: Vec<HostRecord> =
            sqlx::query_as(&format!("{SELECT} WHERE h.archived_at IS NULL ORDER BY h.name"))
                .fetch_all(&self.pool)
                .await?;
        Ok(records.iter().map(HostRecord::view).collect())
    }

    /// Hosts removed from service, whose records are kept.
    pub async fn list_archived(&self) -> Result<Vec<HostView>, HostError> {
        let records: Vec<HostRecord> = sqlx::query_as(&format!(
            "{SELECT} WHERE h.archived_at IS NOT NULL ORDER BY h.archived_at DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(records.iter().map(HostRecord::view).collect())
    }

    async fn record(&self, id: i64) -> Result<HostRecord, HostError> {
        sqlx::query_as(&format!("{SELECT} WHERE h.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(HostError::NotFound(id))
    }

    pub async fn get(&self, id: i64) -> Result<HostView, HostError> {
        Ok(self.record(id).await?.view())
    }

    /// The host record's random id: unique to this dashboard's database and this host.
    pub async fn uid(&self, id: i64) -> Result<String, HostError> {
        Ok(self.record(id).await?.uid)
    }

    /// Decrypted connection settings, for the services that talk to the host.
    pub async fn connection(&self, id: i64) -> Result<HostConnection, HostError> {
        let record = self.record(id).await?;
        let decrypt = |stored: &Option<String>, field: &str| -> Result<Option<Secret>, HostError> {
            stored
                .as_deref()
                .map(|value| self.master.decrypt(value, &host_aad(&record.uid, field)))
                .transpose()
                .map_err(HostError::from)
        };
        Ok(HostConnection {
            id: record.id,
            uid: record.uid.clone(),
            name: record.name.clone(),
            api_url: record.api_url.clone(),
            api_user: record.api_user.clone(),
            api_key: decrypt(&record.api_key_enc, "api_key")?,
            tls_mode: TlsMode::parse(&record.tls_mode).unwrap_or(TlsMode::Fingerprint),
            tls_fingerprint: record.tls_fingerprint.clone(),
            tls_ca_pem: record.tls_ca_pem.clone(),
            ssh_host: record.ssh_host.clone(),
            ssh_port: u16::try_from(record.ssh_port).unwrap_or(22),
            ssh_user: record.ssh_user.clone(),
            ssh_private_key: decrypt(&record.ssh_key_enc, "ssh_key")?,
            ssh_password: decrypt(&record.ssh_password_enc, "ssh_password")?,
            ssh_host_key: record.ssh_host_key.clone(),
            enabled: record.enabled,
            simulated: record.simulated,
            archived: record.archived_at.is_some(),
        })
    }

    /// Records the API key's roles as `auth.me` answered them.
    pub async fn set_api_roles(&self, id: i64, roles: &[String]) -> Result<(), HostError> {
        sqlx::query("UPDATE hosts SET api_roles = $2 WHERE id = $1")
            .bind(id)
            .bind(serde_json::to_string(roles).unwrap_or_default())
            .execute(&self.pool)
            .await
            .map_err(crate::db::DbError::from)?;
        Ok(())
    }

    pub async fn enabled_ids(&self) -> Result<Vec<i64>, HostError> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT id FROM hosts WHERE enabled = 1 AND archived_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Hosts the operator configured (not the simulated fleet).
    pub async fn count_real(&self) -> Result<i64, HostError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM hosts WHERE simulated = 0 AND archived_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    fn encrypt_opt(
        &self,
        uid: &str,
        field: &str,
        value: Option<&str>,
    ) -> Result<Option<String>, HostError> {
        value
            .filter(|v| !v.trim().is_empty())
            .map(|v| self.master.encrypt(&Secret::new(v.trim()), &host_aad(uid, field)))
            .transpose()
            .map_err(HostError::from)
    }

    pub async fn create(&self, input: &HostInput, actor: &str) -> Result<HostView, HostError> {
        let valid = validate(input)?;
        if valid.tls_fingerprint.is_some() {
            return Err(invalid("tls_fingerprint", PIN_FROM_TEST));
        }
        if let Some(key) = input.ssh_private_key.as_deref().filter(|k| !k.trim().is_empty()) {
            check_private_key(key)?;
        }
        let uid = hex(&random_bytes::<16>()?);
        let api_key = input.api_key.as_deref().filter(|k| !k.trim().is_empty());
        let mut tx = crate::db::begin_write(&self.pool).await?;
        let inserted = sqlx::query(
            "INSERT INTO hosts (uid, name, api_url, api_user, api_key_enc, api_key_hint, tls_mode,
                                tls_fingerprint, tls_ca_pem, ssh_host, ssh_port, ssh_user, ssh_key_enc,
                                ssh_password_enc, enabled, terminal, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        )
        .bind(&uid)
        .bind(&valid.name)
        .bind(&valid.api_url)
        .bind(&valid.api_user)
        .bind(self.encrypt_opt(&uid, "api_key", api_key)?)
        .bind(api_key.map(|k| Secret::new(k.trim()).hint()))
        .bind(valid.tls_mode.as_str())
        .bind(&valid.tls_fingerprint)
        .bind(input.tls_ca_pem.as_deref().filter(|p| !p.trim().is_empty()))
        .bind(&valid.ssh_host)
        .bind(i64::from(valid.ssh_port))
        .bind(&valid.ssh_user)
        .bind(self.encrypt_opt(&uid, "ssh_key", input.ssh_private_key.as_deref())?)
        .bind(self.encrypt_opt(&uid, "ssh_password", input.ssh_password.as_deref())?)
        .bind(input.enabled.unwrap_or(true))
        .bind(input.terminal)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(done) => done.last_insert_rowid(),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                return Err(HostError::NameTaken(valid.name));
            }
            Err(error) => return Err(error.into()),
        };
        audit::record(
            &mut *tx,
            actor,
            "host.create",
            &valid.name,
            &json!({"host_id": id, "api_url": valid.api_url}),
        )
        .await?;
        tx.commit().await?;
        self.get(id).await
    }

    pub async fn update(
        &self,
        id: i64,
        input: &HostInput,
        actor: &str,
    ) -> Result<HostView, HostError> {
        let current = self.record(id).await?;
        let valid = validate(input)?;
        if let Some(key) = input.ssh_private_key.as_deref().filter(|k| !k.trim().is_empty()) {
            check_private_key(key)?;
        }
        // Moving a host to another address or changing how it is trusted voids the pins.
        let address_changed = valid.api_url != current.api_url;
        let ssh_moved =
            valid.ssh_host != current.ssh_host || i64::from(valid.ssh_port) != current.ssh_port;
        // A secret left empty keeps its stored value (the UI never has it to send back), but
        // only while the endpoint it was given for stays: a stored key is never sent to a new
        // address, which must be given its credentials again.
        let keep_or = |new: Option<&str>,
                       field: &str,
                       stored: &Option<String>,
                       moved: bool|
         -> Result<Option<String>, HostError> {
            match new {
                Some(value) if !value.trim().is_empty() => {
                    self.encrypt_opt(&current.uid, field, Some(value))
                }
                _ if moved => Ok(None),
                _ => Ok(stored.clone()),
            }
        };
        let api_key_enc =
            keep_or(input.api_key.as_deref(), "api_key", &current.api_key_enc, address_changed)?;
        let api_key_hint = match input.api_key.as_deref().filter(|k| !k.trim().is_empty()) {
            Some(key) => Some(Secret::new(key.trim()).hint()),
            None if address_changed => None,
            None => current.api_key_hint.clone(),
        };
        // Only the pin the dashboard itself observed stays; a form may send it back unchanged.
        if valid.tls_fingerprint.is_some()
            && (address_changed || valid.tls_fingerprint != current.tls_fingerprint)
        {
            return Err(invalid("tls_fingerprint", PIN_FROM_TEST));
        }
        let tls_fingerprint = match &valid.tls_fingerprint {
            Some(pin) => Some(pin.clone()),
            None if address_changed => None,
            None => current.tls_fingerprint.clone(),
        };
        let mut tx = crate::db::begin_write(&self.pool).await?;
        let result = sqlx::query(
            "UPDATE hosts SET name = $2, api_url = $3, api_user = $4, api_key_enc = $5, api_key_hint = $6,
                    tls_mode = $7, tls_fingerprint = $8, tls_ca_pem = COALESCE($9, tls_ca_pem),
                    ssh_host = $10, ssh_port = $11, ssh_user = $12, ssh_key_enc = $13,
                    ssh_password_enc = $14, enabled = COALESCE($15, enabled),
                    ssh_host_key = CASE WHEN $16 THEN NULL ELSE ssh_host_key END,
                    ssh_host_key_source = CASE WHEN $16 THEN NULL ELSE ssh_host_key_source END,
                    status = CASE WHEN $17 THEN 'unknown' ELSE status END,
                    api_roles = CASE WHEN $17 THEN NULL ELSE api_roles END,
                    terminal = COALESCE($18, terminal),
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
              WHERE id = $1",
        )
        .bind(id)
        .bind(&valid.name)
        .bind(&valid.api_url)
        .bind(&valid.api_user)
        .bind(api_key_enc)
        .bind(api_key_hint)
        .bind(valid.tls_mode.as_str())
        .bind(tls_fingerprint)
        .bind(input.tls_ca_pem.as_deref().filter(|p| !p.trim().is_empty()))
        .bind(&valid.ssh_host)
        .bind(i64::from(valid.ssh_port))
        .bind(&valid.ssh_user)
        .bind(keep_or(input.ssh_private_key.as_deref(), "ssh_key", &current.ssh_key_enc, ssh_moved)?)
        .bind(keep_or(
            input.ssh_password.as_deref(),
            "ssh_password",
            &current.ssh_password_enc,
            ssh_moved,
        )?)
        .bind(input.enabled)
        .bind(ssh_moved)
        .bind(address_changed)
        .bind(input.terminal)
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                return Err(HostError::NameTaken(valid.name));
            }
            Err(error) => return Err(error.into()),
        }
        let changed: Vec<&str> = [
            ("name", valid.name != current.name),
            ("api_url", address_changed),
            ("api_key", input.api_key.as_deref().is_some_and(|k| !k.trim().is_empty())),
            ("ssh", ssh_moved),
            (
                "ssh_private_key",
                input.ssh_private_key.as_deref().is_some_and(|k| !k.trim().is_empty()),
            ),
            ("tls", valid.tls_fingerprint.is_some() || input.tls_ca_pem.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, changed)| changed.then_some(field))
        .collect();
        audit::record(
            &mut *tx,
            actor,
            "host.update",
            &valid.name,
            &json!({"host_id": id, "changed": changed}),
        )
        .await?;
        tx.commit().await?;
        self.get(id).await
    }

    pub async fn set_enabled(
        &self,
        id: i64,
        enabled: bool,
        actor: &str,
    ) -> Result<HostView, HostError> {
        let current = self.record(id).await?;
        let mut tx = crate::db::begin_write(&self.pool).await?;
        sqlx::query("UPDATE hosts SET enabled = $2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = $1")
            .bind(id)
            .bind(enabled)
            .execute(&mut *tx)
            .await?;
        let action = if enabled { "host.enable" } else { "host.disable" };
        audit::record(&mut *tx, actor, action, &current.name, &json!({"host_id": id})).await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// Takes a host out of service and keeps its record: its drives and burn-ins stay, its
    /// secrets are dropped (it will never be contacted again), and its name is freed for a
    /// host added in its place. The caller makes sure no job of it is active.
    pub async fn archive(&self, id: i64, actor: &str) -> Result<HostView, HostError> {
        let current = self.record(id).await?;
        if current.archived_at.is_some() {
            return Ok(current.view());
        }
        let mut tx = crate::db::begin_write(&self.pool).await?;
        sqlx::query(
            "UPDATE hosts SET archived_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), enabled = 0,
                    name = name || ' (archived #' || id || ')',
                    api_key_enc = NULL, ssh_key_enc = NULL, ssh_password_enc = NULL,
                    status = 'disabled', status_detail = 'archived: its record is kept',
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
              WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        audit::record(&mut *tx, actor, "host.archive", &current.name, &json!({"host_id": id}))
            .await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// Deletes an archived host with its history (drives, burn-ins, snapshots, outputs), by
    /// cascade. A host in service is archived first; `confirm` must repeat its name as shown.
    pub async fn delete_history(
        &self,
        id: i64,
        confirm: &str,
        actor: &str,
    ) -> Result<(), HostError> {
        let current = self.record(id).await?;
        if current.archived_at.is_none() {
            return Err(invalid(
                "host",
                "only an archived host's history can be deleted: remove the host first",
            ));
        }
        if confirm.trim() != current.name {
            return Err(invalid(
                "confirm",
                format!("type the host's name {:?} to delete its history", current.name),
            ));
        }
        let mut tx = crate::db::begin_write(&self.pool).await?;
        let (drives, jobs): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM drives WHERE host_id = $1), (SELECT COUNT(*) FROM jobs WHERE host_id = $1)",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM hosts WHERE id = $1").bind(id).execute(&mut *tx).await?;
        audit::record(
            &mut *tx,
            actor,
            "host.delete_history",
            &current.name,
            &json!({"host_id": id, "drives": drives, "jobs": jobs}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a simulated host with everything it had (the demo's data is not a record).
    pub async fn delete_simulated(&self, id: i64, actor: &str) -> Result<(), HostError> {
        let current = self.record(id).await?;
        if !current.simulated {
            return Err(invalid("host", "only a simulated host is deleted outright"));
        }
        let mut tx = crate::db::begin_write(&self.pool).await?;
        sqlx::query("DELETE FROM hosts WHERE id = $1").bind(id).execute(&mut *tx).await?;
        audit::record(
            &mut *tx,
            actor,
            "host.delete_simulated",
            &current.name,
            &json!({"host_id": id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Simulated hosts in service.
    pub async fn simulated_ids(&self) -> Result<Vec<i64>, HostError> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT id FROM hosts WHERE simulated = 1 AND archived_at IS NULL")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    pub async fn set_status(
        &self,
        id: i64,
        status: HostStatus,
        detail: Option<&str>,
        version: Option<&str>,
    ) -> Result<(), HostError> {
        let seen = status == HostStatus::Online;
        sqlx::query(
            "UPDATE hosts SET status = $2, status_detail = $3,
                    truenas_version = COALESCE($4, truenas_version),
                    last_seen_at = CASE WHEN $5 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ELSE last_seen_at END
              WHERE id = $1",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(detail)
        .bind(version)
        .bind(seen)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Pins the host's TLS certificate after the operator confirmed its fingerprint.
    pub async fn pin_certificate(
        &self,
        id: i64,
        fingerprint: &str,
        actor: &str,
    ) -> Result<HostView, HostError> {
        let pin = normalize_fingerprint(fingerprint)
            .ok_or_else(|| invalid("tls_fingerprint", "expected a SHA-256 fingerprint"))?;
        let current = self.record(id).await?;
        let mut tx = crate::db::begin_write(&self.pool).await?;
        sqlx::query(
            "UPDATE hosts SET tls_mode = 'fingerprint', tls_fingerprint = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(&pin)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut *tx,
            actor,
            "host.pin_certificate",
            &current.name,
            &json!({"host_id": id, "fingerprint": pin}),
        )
        .await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// Pins the SSH host key (`api`: read from the NAS's `ssh.config` over the verified API;
    /// `tofu`: confirmed by the operator).
    pub async fn pin_ssh_host_key(
        &self,
        id: i64,
        key_line: &str,
        source: &str,
        actor: &str,
    ) -> Result<(), HostError> {
        let fingerprint = ssh_key_fingerprint(key_line)
            .ok_or_else(|| invalid("ssh_host_key", "not an OpenSSH public key"))?;
        let current = self.record(id).await?;
        let mut tx = crate::db::begin_write(&self.pool).await?;
        sqlx::query("UPDATE hosts SET ssh_host_key = $2, ssh_host_key_source = $3 WHERE id = $1")
            .bind(id)
            .bind(key_line.trim())
            .bind(source)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut *tx,
            actor,
            "host.pin_ssh_host_key",
            &current.name,
            &json!({"host_id": id, "fingerprint": fingerprint, "source": source}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates or refreshes a host of the built-in simulated fleet (its ports change on every
    /// start). Matched by name among simulated hosts; an operator's host is never touched.
    pub async fn upsert_simulated(&self, sim: &SimulatedHost) -> Result<i64, HostError> {
        let existing: Option<(i64, String)> =
            sqlx::query_as("SELECT id, uid FROM hosts WHERE name = $1 AND simulated = 1")
                .bind(&sim.name)
                .fetch_optional(&self.pool)
                .await?;
        let (id, uid) = match existing {
            Some(found) => found,
            None => {
                let uid = hex(&random_bytes::<16>()?);
                let id = sqlx::query("INSERT INTO hosts (uid, name, simulated) VALUES ($1, $2, 1)")
                    .bind(&uid)
                    .bind(&sim.name)
                    .execute(&self.pool)
                    .await
                    .map_err(|error| match error {
                        sqlx::Error::Database(e) if e.is_unique_violation() => {
                            HostError::NameTaken(sim.name.clone())
                        }
                        other => other.into(),
                    })?
                    .last_insert_rowid();
                (id, uid)
            }
        };
        sqlx::query(
            "UPDATE hosts SET api_url = $2, api_user = $3, api_key_enc = $4, api_key_hint = $5,
                    tls_mode = 'plain_loopback', tls_fingerprint = NULL, ssh_host = $6, ssh_port = $7,
                    ssh_user = $8, ssh_key_enc = $9, ssh_host_key = $10, ssh_host_key_source = 'api',
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
              WHERE id = $1",
        )
        .bind(id)
        .bind(&sim.api_url)
        .bind(&sim.api_user)
        .bind(self.encrypt_opt(&uid, "api_key", Some(sim.api_key.expose()))?)
        .bind(sim.api_key.hint())
        .bind(&sim.ssh_host)
        .bind(i64::from(sim.ssh_port))
        .bind(&sim.ssh_user)
        .bind(self.encrypt_opt(&uid, "ssh_key", Some(sim.ssh_private_key.expose()))?)
        .bind(&sim.ssh_host_key)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }
}

/// Connection details of a simulated host, as the demo registers it.
#[derive(Clone, Debug)]
pub struct SimulatedHost {
    pub name: String,
    pub api_url: String,
    pub api_user: String,
    pub api_key: Secret,
    pub ssh_host: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub ssh_private_key: Secret,
    pub ssh_host_key: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str) -> HostInput {
        HostInput { name: "nas1".into(), api_url: url.into(), ..Default::default() }
    }

    #[test]
    fn plain_ws_is_allowed_only_to_loopback() {
        assert_eq!(
            validate(&input("ws://127.0.0.1:8080")).expect("loopback").tls_mode,
            TlsMode::PlainLoopback
        );
        assert_eq!(
            validate(&input("ws://localhost")).expect("loopback").tls_mode,
            TlsMode::PlainLoopback
        );
        let error = validate(&input("ws://192.168.1.10")).err().expect("refused");
        assert!(error.to_string().contains("revokes"), "{error}");
        assert!(validate(&input("http://nas.lan")).is_err());
        assert_eq!(validate(&input("wss://nas.lan")).expect("tls").tls_mode, TlsMode::Fingerprint);
        assert_eq!(validate(&input("https://nas.lan")).expect("tls").api_url, "https://nas.lan");
    }

    #[test]
    fn urls_are_checked_and_ssh_defaults_to_the_api_host() {
        assert!(validate(&input("nas.lan")).is_err());
        assert!(validate(&input("ftp://nas.lan")).is_err());
        assert!(validate(&input("wss://nas.lan/api/current")).is_err());
        let valid = validate(&input("wss://10.0.0.5:8443")).expect("valid");
        assert_eq!(
            (valid.api_url.as_str(), valid.ssh_host.as_str(), valid.ssh_port),
            ("wss://10.0.0.5:8443", "10.0.0.5", 22)
        );
        assert_eq!((valid.api_user.as_str(), valid.ssh_user.as_str()), ("root", "root"));
        let mut named = input("wss://nas.lan");
        named.name = "  ".into();
        assert!(validate(&named).is_err());
    }

    #[test]
    fn a_bad_fingerprint_or_key_is_refused_with_the_field_named() {
        let mut bad = input("wss://nas.lan");
        bad.tls_fingerprint = Some("12:34".into());
        assert!(matches!(validate(&bad), Err(HostError::Invalid { field: "tls_fingerprint", .. })));
        assert!(matches!(
            check_private_key("not a key"),
            Err(HostError::Invalid { field: "ssh_private_key", .. })
        ));
    }
}
