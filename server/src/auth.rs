//! Who is calling: local users with argon2id passwords, browser sessions, API tokens, and a
//! trusted reverse proxy's single sign-on header. Owns `users`, `sessions` and `api_tokens`.
//!
//! What may be done is not decided here but in `burnin::access`; this module only says who.
//!
//! - Passwords are hashed with argon2id at the crate's defaults (19 MiB, t=2, p=1: OWASP's
//!   minimum), off the async threads and at most two at a time (19 MiB each).
//! - A session cookie holds 256 random bits; the database keeps only their SHA-256. A session
//!   ends after the idle time without a request, the absolute time after sign-in, at sign-out, and
//!   when its user's password changes or the user is disabled (the user's `epoch` moves on).
//! - A sign-in, a first admin and a password re-entry each make a new session id (fixation).
//! - Failed sign-ins are counted per account and per address, each with a lockout that
//!   doubles, and audited; an unknown user costs the same hash as a known one.
//! - API tokens are 256 random bits behind a `bid_` prefix, stored as SHA-256, shown once.
//! - The proxy's user header counts only from an address in `trusted_proxies` (empty by
//!   default); from anywhere else it is ignored, as if stripped.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use burnin::access::{Principal, Role, Scope, TokenView, UserView, Via};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

use crate::db::DbError;

/// The session cookie's name over HTTPS: `__Host-` binds it to this origin, `Secure`, path `/`.
pub const COOKIE_SECURE: &str = "__Host-burnin_session";
/// Over plain HTTP (a LAN address, localhost), where browsers refuse `Secure` cookies.
pub const COOKIE_PLAIN: &str = "burnin_session";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Deliberately the same for an unknown user, a wrong password and a disabled account.
    #[error("the user name or password is wrong")]
    BadCredentials,
    #[error(
        "too many failed sign-ins {what}: wait {retry_after_secs} s before trying again (an admin can reset the password with `burnin-server user reset-password NAME`)"
    )]
    Locked { what: String, retry_after_secs: u64 },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the password could not be hashed: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for AuthError {
    fn from(error: sqlx::Error) -> AuthError {
        AuthError::Db(DbError::Query(error))
    }
}

/// Which groups of the proxy's header map to which role.
#[derive(Clone, Debug, Default)]
pub struct SsoOptions {
    pub user_header: String,
    pub groups_header: String,
    pub admin_groups: Vec<String>,
    pub operator_groups: Vec<String>,
    /// Empty: anyone the proxy signs in is at least a viewer.
    pub viewer_groups: Vec<String>,
}

impl SsoOptions {
    /// The role a user with these groups gets, or `None` when none of them counts.
    pub fn role(&self, groups: &[String]) -> Option<Role> {
        let member = |list: &[String]| {
            groups.iter().any(|group| list.iter().any(|g| g.eq_ignore_ascii_case(group)))
        };
        if member(&self.admin_groups) {
            Some(Role::Admin)
        } else if member(&self.operator_groups) {
            Some(Role::Operator)
        } else if self.viewer_groups.is_empty() || member(&self.viewer_groups) {
            Some(Role::Viewer)
        } else {
            None
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct AuthOptions {
    /// Session timeouts and lockout limits are run-time settings, read when used.
    pub live: crate::settings::Live,
    /// Client networks allowed to reach the dashboard at all (empty: any); loopback always is.
    pub allowed_networks: Vec<ipnet::IpNet>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `None`: single sign-on is off.
    pub sso: Option<SsoOptions>,
}

/// Who a request comes from, as resolved by [`Auth::resolve`].
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub principal: Option<Principal>,
    /// The session's id hash, when a session cookie named a live session.
    pub session: Option<String>,
    /// A credential was presented but is not (or no longer) valid; why.
    pub rejected: Option<String>,
}

/// A session just made: the cookie's value goes to the browser once and nowhere else.
pub struct NewSession {
    pub cookie_value: String,
    pub principal: Principal,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession").field("principal", &self.principal).finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    options: AuthOptions,
    failures: Mutex<Failures>,
    hashing: tokio::sync::Semaphore,
    /// A real hash to verify against when the user does not exist, so both cost the same.
    dummy: String,
    /// Moves on whenever sessions end (sign-out, password change, disabled user); live
    /// sockets re-check their session when it does.
    ended: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct Failures {
    accounts: HashMap<String, Strikes>,
    addresses: HashMap<IpAddr, Strikes>,
}

#[derive(Clone, Copy)]
struct Strikes {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
    /// The lockout whose refusals are already in the audit log: one record per lockout, so a
    /// locked client cannot make the server write at will.
    recorded_until: Option<Instant>,
}

impl Strikes {
    /// Strikes fade after an hour without a new one.
    fn current(self, now: Instant) -> Option<Strikes> {
        (now.duration_since(self.last) < Duration::from_secs(3600)).then_some(self)
    }
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn random_token() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Hash(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The value of the named cookie in a `Cookie` header.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The `Set-Cookie` value for a session (or, with `None`, one that clears it).
pub fn set_cookie(value: Option<&str>, https: bool, max_age_secs: i64) -> String {
    let name = if https { COOKIE_SECURE } else { COOKIE_PLAIN };
    let secure = if https { "; Secure" } else { "" };
    match value {
        Some(value) => format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
        ),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

type UserRow = (i64, String, String, Option<String>, String, bool, i64, String, Option<String>);

/// user id, session epoch, created, last seen, authenticated, name, role, disabled, user epoch.
type SessionRow = (i64, i64, i64, i64, i64, String, String, bool, i64);
/// token id, user id, scope, revoked at, user name, role, disabled, whether last use is stale.
type TokenRow = (i64, i64, String, Option<String>, String, String, bool, Option<String>);
/// id, user, name, scope, prefix, created, last used, revoked.
type TokenListRow = (i64, String, String, String, String, String, Option<String>, Option<String>);

const USER_COLUMNS: &str =
    "id, name, role, password_hash, source, disabled, epoch, created_at, last_login_at";

fn user_view(row: &UserRow) -> UserView {
    UserView {
        id: row.0,
        name: row.1.clone(),
        role: Role::parse(&row.2).unwrap_or(Role::Viewer),
        disabled: row.5,
        created_at: row.7.clone(),
        last_login_at: row.8.clone(),
        source: row.4.clone(),
    }
}

impl Auth {
    pub fn new(pool: SqlitePool, options: AuthOptions) -> Result<Auth, AuthError> {
        let dummy = Argon2::default()
            .hash_password(b"a password nobody has, for unknown users")
            .map_err(|e| AuthError::Hash(e.to_string()))?
            .to_string();
        Ok(Auth {
            inner: Arc::new(Inner {
                pool,
                options,
                failures: Mutex::default(),
                hashing: tokio::sync::Semaphore::new(2),
                dummy,
                ended: tokio::sync::watch::channel(0).0,
            }),
        })
    }

    pub fn options(&self) -> &AuthOptions {
        &self.inner.options
    }

    /// Seconds without a request after which a session ends.
    pub fn idle_secs(&self) -> i64 {
        self.inner.options.live.read(|s| i64::from(s.session_idle_hours.max(1)) * 3600)
    }

    /// Seconds after sign-in after which a session ends.
    pub fn absolute_secs(&self) -> i64 {
        self.inner.options.live.read(|s| i64::from(s.session_max_days.max(1)) * 86_400)
    }

    fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    /// Changes whenever sessions may have ended.
    pub fn ended(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.ended.subscribe()
    }

    fn sessions_ended(&self) {
        self.inner.ended.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub async fn hash(&self, password: &str) -> Result<String, AuthError> {
        let _permit =
            self.inner.hashing.acquire().await.map_err(|e| AuthError::Hash(e.to_string()))?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| AuthError::Hash(e.to_string()))
        })
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?
    }

    async fn verify(&self, hash: &str, password: &str) -> bool {
        let Ok(_permit) = self.inner.hashing.acquire().await else { return false };
        let (hash, password) = (hash.to_owned(), password.to_owned());
        tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|hash| {
                Argon2::default().verify_password(password.as_bytes(), &hash).is_ok()
            })
        })
        .await
        .unwrap_or(false)
    }

    pub async fn user_count(&self) -> Result<i64, AuthError> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(self.pool()).await?;
        Ok(count)
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<UserRow>, AuthError> {
        Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1"))
            .bind(name)
            .fetch_optional(self.pool())
            .await?)
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>, AuthError> {
        Ok(sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Adds a local user. With `only_if_none`, only while no user exists (the first admin),
    /// checked in the same transaction as the insert.
    pub async fn add_user(
        &self,
        name: &str,
        role: Role,
        password: &str,
        actor: &str,
        only_if_none: bool,
    ) -> Result<UserView, AuthError> {
        let name = name.trim();
        if let Some(problem) = burnin::access::user_name_problem(name) {
            return Err(AuthError::Invalid(problem));
        }
        if let Some(problem) = burnin::access::password_problem(password, name) {
            return Err(AuthError::Invalid(problem));
        }
        let hash = self.hash(password).await?;
        let mut tx = crate::db::begin_write(self.pool()).await?;
        if only_if_none {
            let (count,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await?;
            if count > 0 {
                return Err(AuthError::Conflict(
                    "the first admin exists already: sign in instead".into(),
                ));
            }
        }
        let taken: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(AuthError::Conflict(format!("a user named {name:?} exists already")));
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(&hash)
        .fetch_one(&mut *tx)
        .await?;
        crate::audit::record(&mut *tx, actor, "user.create", name, &json!({"role": role})).await?;
        tx.commit().await?;
        let row = self.user_by_id(id).await?.ok_or_else(|| AuthError::NotFound(name.into()))?;
        Ok(user_view(&row))
    }

    /// Sets a new password; every session and the user's lockout end.
    pub async fn set_password(
        &self,
        name: &str,
        password: &str,
        actor: &str,
    ) -> Result<(), AuthError> {
        let row = self
            .user_by_name(name)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("there is no user {name:?}")))?;
        if row.4 == "sso" {
            return Err(AuthError::Invalid(format!(
                "{name:?} signs in through the proxy's single sign-on and has no password here"
            )));
        }
        if let Some(problem) = burnin::access::password_problem(password, &row.1) {
            return Err(AuthError::Invalid(problem));
        }
        let hash = self.hash(password).await?;
        let mut tx = crate::db::begin_write(self.pool()).await?;
        sqlx::query("UPDATE users SET password_hash = $2, epoch = epoch + 1 WHERE id = $1")
            .bind(row.0)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(row.0)
            .execute(&mut *tx)
            .await?;
        crate::audit::record(
            &mut *tx,
            actor,
            "user.password",
            &row.1,
            &json!({"sessions_ended": true}),
        )
        .await?;
        tx.commit().await?;
        if let Ok(mut failures) = self.inner.failures.lock() {
            failures.accounts.remove(&row.1.to_lowercase());
        }
        self.sessions_ended();
        Ok(())
    }

    pub async fn list_users(&self) -> Result<Vec<UserView>, AuthError> {
        let rows: Vec<UserRow> =
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))
                .fetch_all(self.pool())
                .await?;
        Ok(rows.iter().map(user_view).collect())
    }

    /// Changes a user's role and/or disables them. The last enabled admin stays one.
    pub async fn update_user(
        &self,
        id: i64,
        role: Option<Role>,
        disabled: Option<bool>,
        actor: &str,
    ) -> Result<UserView, AuthError> {
        let row = self
            .user_by_id(id)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("there is no user with id {id}")))?;
        let current = Role::parse(&row.2).unwrap_or(Role::Viewer);
        let new_role = role.unwrap_or(current);
        let new_disabled = disabled.unwrap_or(row.5);
        let mut tx = crate::db::begin_write(self.pool()).await?;
        if current == Role::Admin && !row.5 && (new_role != Role::Admin || new_disabled) {
            let (admins,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
                    .fetch_one(&mut *tx)
                    .await?;
            if admins <= 1 {
                return Err(AuthError::Conflict(
                    "this is the last admin: make another user admin first".into(),
                ));
            }
        }
        let ends = new_disabled != row.5 || new_role < current;
        sqlx::query(
            "UPDATE users SET role = $2, disabled = $3, epoch = epoch + CASE WHEN $4 THEN 1 ELSE 0 END WHERE id = $1",
        )
        .bind(id)
        .bind(new_role.as_str())
        .bind(new_disabled)
        .bind(ends)
        .execute(&mut *tx)
        .await?;
        if ends {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        crate::audit::record(
            &mut *tx,
            actor,
            "user.update",
            &row.1,
            &json!({"old": {"role": current, "disabled": row.5}, "new": {"role": new_role, "disabled": new_disabled}}),
        )
        .await?;
        tx.commit().await?;
        if ends {
            self.sessions_ended();
        }
        let row = self.user_by_id(id).await?.ok_or_else(|| AuthError::NotFound(id.to_string()))?;
        Ok(user_view(&row))
    }

    fn locked(&self, name: &str, address: IpAddr) -> Option<AuthError> {
        self.lockout(name, address, false).map(|(locked, _)| locked)
    }

    /// Whether the account or the address is locked out, and whether this is the first
    /// refusal of that lockout. Only a refusal that is audited (`recording`) marks the lockout
    /// as recorded, so a step-up or setup refused first does not silence the sign-in's record.
    fn lockout(&self, name: &str, address: IpAddr, recording: bool) -> Option<(AuthError, bool)> {
        let now = Instant::now();
        let mut failures = self.inner.failures.lock().ok()?;
        let check = |strikes: Option<&mut Strikes>, what: String| {
            let strikes = strikes.filter(|s| s.current(now).is_some())?;
            let until = strikes.locked_until.filter(|until| *until > now)?;
            let first = strikes.recorded_until != Some(until);
            if recording {
                strikes.recorded_until = Some(until);
            }
            Some((
                AuthError::Locked {
                    what,
                    retry_after_secs: until.duration_since(now).as_secs().max(1),
                },
                first,
            ))
        };
        let Failures { accounts, addresses } = &mut *failures;
        check(accounts.get_mut(&name.to_lowercase()), "for this account".into())
            .or_else(|| check(addresses.get_mut(&address), format!("from {address}")))
    }

    /// Counts a failure; past the limit each further one locks for twice as long (from 30 s
    /// up to 15 minutes), which keeps an account under 100 guesses an hour (ASVS 2.2.1).
    fn strike(&self, name: &str, address: IpAddr) {
        let now = Instant::now();
        let (account_limit, address_limit) = self
            .inner
            .options
            .live
            .read(|s| (s.login_account_failures.max(1), s.login_address_failures.max(1)));
        let Ok(mut failures) = self.inner.failures.lock() else { return };
        let bump = |entry: &mut Strikes, limit: u32| {
            entry.count = if entry.current(now).is_some() { entry.count + 1 } else { 1 };
            entry.last = now;
            if entry.count >= limit {
                let over = (entry.count - limit).min(5);
                let secs = (30u64 << over).min(900);
                entry.locked_until = Some(now + Duration::from_secs(secs));
            }
        };
        let fresh = Strikes { count: 0, last: now, locked_until: None, recorded_until: None };
        // A name no account can have strikes only its address: it is not kept as a key.
        if burnin::access::user_name_problem(name).is_none() {
            bump(failures.accounts.entry(name.to_lowercase()).or_insert(fresh), account_limit);
        }
        bump(failures.addresses.entry(address).or_insert(fresh), address_limit);
        // Bounded memory under a spray of names.
        if failures.accounts.len() > 10_000 {
            failures.accounts.retain(|_, s| s.current(now).is_some());
        }
        if failures.addresses.len() > 10_000 {
            failures.addresses.retain(|_, s| s.current(now).is_some());
        }
    }

    /// Signs in with a password, making a new session.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        address: IpAddr,
        user_agent: &str,
    ) -> Result<NewSession, AuthError> {
        let name = name.trim();
        // The name may be anything a client sends: only its bounded form is ever recorded, and
        // a name no user can have is never looked up or kept.
        let recorded = burnin::access::name_for_record(name);
        let possible = burnin::access::user_name_problem(name).is_none();
        if let Some((locked, first)) = self.lockout(name, address, true) {
            if first {
                self.record_sign_in(&recorded, "auth.login_locked", address).await?;
            }
            return Err(locked);
        }
        let row = if possible { self.user_by_name(name).await? } else { None };
        let hash =
            row.as_ref().and_then(|r| r.3.clone()).unwrap_or_else(|| self.inner.dummy.clone());
        let matches = self.verify(&hash, password).await;
        let row = match row {
            Some(row) if matches && !row.5 && row.3.is_some() => row,
            _ => {
                self.strike(name, address);
                self.record_sign_in(&recorded, "auth.login_failed", address).await?;
                return Err(AuthError::BadCredentials);
            }
        };
        if let Ok(mut failures) = self.inner.failures.lock() {
            failures.accounts.remove(&name.to_lowercase());
        }
        let session = self.new_session(&row, None, address, user_agent).await?;
        sqlx::query(
            "UPDATE users SET last_login_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = $1",
        )
        .bind(row.0)
        .execute(self.pool())
        .await?;
        crate::audit::record(
            self.pool(),
            &row.1,
            "auth.login",
            &row.1,
            &json!({"address": address.to_string()}),
        )
        .await?;
        Ok(session)
    }

    /// A refused sign-in in the audit log, under the bounded form of the name typed.
    async fn record_sign_in(
        &self,
        recorded: &str,
        action: &str,
        address: IpAddr,
    ) -> Result<(), AuthError> {
        crate::audit::record(
            self.pool(),
            recorded,
            action,
            recorded,
            &json!({"address": address.to_string()}),
        )
        .await?;
        Ok(())
    }

    /// Makes a session for a user; with `replacing`, that session ends (its age carries over,
    /// so re-entering the password never extends the absolute lifetime).
    async fn new_session(
        &self,
        user: &UserRow,
        replacing: Option<&str>,
        address: IpAddr,
        user_agent: &str,
    ) -> Result<NewSession, AuthError> {
        let value = random_token()?;
        let now = now_unix();
        let mut tx = crate::db::begin_write(self.pool()).await?;
        let mut created = now;
        if let Some(old) = replacing {
            let row: Option<(i64,)> =
                sqlx::query_as("SELECT created_at FROM sessions WHERE id_hash = $1")
                    .bind(old)
                    .fetch_optional(&mut *tx)
                    .await?;
            created = row.map_or(now, |(c,)| c);
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        // Old sessions of the whole database are swept here, not by a timer.
        sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(now - self.idle_secs())
            .bind(now - self.absolute_secs())
            .execute(&mut *tx)
            .await?;
        let agent: String = user_agent.chars().filter(|c| !c.is_control()).take(200).collect();
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, epoch, created_at, last_seen_at, authenticated_at, address, user_agent)
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
        )
        .bind(sha256_hex(&value))
        .bind(user.0)
        .bind(user.6)
        .bind(created)
        .bind(now)
        .bind(address.to_string())
        .bind(agent)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(NewSession {
            cookie_value: value,
            principal: Principal {
                user_id: user.0,
                name: user.1.clone(),
                role: Role::parse(&user.2).unwrap_or(Role::Viewer),
                via: Via::Session { authenticated_at: now },
            },
        })
    }

    /// The first admin, from the setup page or the environment; signed in at once.
    pub async fn setup(
        &self,
        name: &str,
        password: &str,
        address: IpAddr,
        user_agent: &str,
    ) -> Result<NewSession, AuthError> {
        // Checked before any hashing: once an admin exists every request here is refused at
        // the cost of a count, and counts as a failure of its address, so a flood locks itself
        // out instead of keeping real sign-ins waiting behind argon2.
        if let Some(locked) = self.locked("", address) {
            return Err(locked);
        }
        if self.user_count().await? > 0 {
            self.strike("", address);
            return Err(AuthError::Conflict(
                "the first admin exists already: sign in instead".into(),
            ));
        }
        let user = self.add_user(name, Role::Admin, password, name.trim(), true).await?;
        let row = self.user_by_id(user.id).await?.ok_or_else(|| AuthError::NotFound(user.name))?;
        self.new_session(&row, None, address, user_agent).await
    }

    /// Re-enters the password for actions that ask for it: a new session id, the sign-in time
    /// now.
    pub async fn step_up(
        &self,
        session: &str,
        principal: &Principal,
        password: &str,
        address: IpAddr,
        user_agent: &str,
    ) -> Result<NewSession, AuthError> {
        if let Some(locked) = self.locked(&principal.name, address) {
            return Err(locked);
        }
        let row = self.user_by_id(principal.user_id).await?.ok_or(AuthError::BadCredentials)?;
        let hash = row.3.clone().unwrap_or_else(|| self.inner.dummy.clone());
        if row.5 || !self.verify(&hash, password).await {
            self.strike(&row.1, address);
            crate::audit::record(
                self.pool(),
                &row.1,
                "auth.step_up_failed",
                &row.1,
                &json!({"address": address.to_string()}),
            )
            .await?;
            return Err(AuthError::BadCredentials);
        }
        let session = self.new_session(&row, Some(session), address, user_agent).await?;
        crate::audit::record(
            self.pool(),
            &row.1,
            "auth.step_up",
            &row.1,
            &json!({"address": address.to_string()}),
        )
        .await?;
        Ok(session)
    }

    pub async fn logout(&self, session: &str, actor: &str) -> Result<(), AuthError> {
        let mut tx = crate::db::begin_write(self.pool()).await?;
        let gone = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(session)
            .execute(&mut *tx)
            .await?;
        if gone.rows_affected() > 0 {
            crate::audit::record(&mut *tx, actor, "auth.logout", actor, &json!({})).await?;
        }
        tx.commit().await?;
        self.sessions_ended();
        Ok(())
    }

    /// Whether an API token still works (not revoked, its user enabled), for sockets that
    /// outlive their request.
    pub async fn token_alive(&self, token_id: i64) -> bool {
        let row: Result<Option<(i64,)>, sqlx::Error> = sqlx::query_as(
            "SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id
              WHERE t.id = $1 AND t.revoked_at IS NULL AND u.disabled = 0",
        )
        .bind(token_id)
        .fetch_optional(self.pool())
        .await;
        matches!(row, Ok(Some(_)))
    }

    /// Whether a session (by id hash) is still live, for sockets that outlive their request.
    pub async fn session_alive(&self, session: &str) -> bool {
        self.session_principal(session, false).await.ok().flatten().is_some()
    }

    async fn session_principal(
        &self,
        hash: &str,
        touch: bool,
    ) -> Result<Option<Principal>, AuthError> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.user_id, s.epoch, s.created_at, s.last_seen_at, s.authenticated_at, u.name, u.role, u.disabled, u.epoch
               FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
        )
        .bind(hash)
        .fetch_optional(self.pool())
        .await?;
        let Some((user_id, epoch, created, seen, authenticated, name, role, disabled, user_epoch)) =
            row
        else {
            return Ok(None);
        };
        let now = now_unix();
        if disabled
            || epoch != user_epoch
            || now - seen > self.idle_secs()
            || now - created > self.absolute_secs()
        {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(hash)
                .execute(self.pool())
                .await?;
            return Ok(None);
        }
        // A write a minute at most per session: reads dominate.
        if touch && now - seen >= 60 {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
                .bind(hash)
                .bind(now)
                .execute(self.pool())
                .await?;
        }
        Ok(Some(Principal {
            user_id,
            name,
            role: Role::parse(&role).unwrap_or(Role::Viewer),
            via: Via::Session { authenticated_at: authenticated },
        }))
    }

    async fn token_principal(&self, token: &str) -> Result<Option<Principal>, AuthError> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT t.id, t.user_id, t.scope, t.revoked_at, u.name, u.role, u.disabled,
                    CASE WHEN t.last_used_at IS NULL OR t.last_used_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-60 seconds') THEN 'stale' END
               FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.secret_hash = $1",
        )
        .bind(sha256_hex(token))
        .fetch_optional(self.pool())
        .await?;
        let Some((id, user_id, scope, revoked, name, role, disabled, stale)) = row else {
            return Ok(None);
        };
        if revoked.is_some() || disabled {
            return Ok(None);
        }
        if stale.is_some() {
            sqlx::query("UPDATE api_tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = $1")
                .bind(id)
                .execute(self.pool())
                .await?;
        }
        let user_role = Role::parse(&role).unwrap_or(Role::Viewer);
        let scope = Scope::parse(&scope).unwrap_or(Scope::Read);
        Ok(Some(Principal {
            user_id,
            name,
            role: scope.effective(user_role),
            via: Via::Token { token_id: id },
        }))
    }

    /// The user the proxy names, made or updated to the role its groups give.
    async fn proxy_principal(
        &self,
        sso: &SsoOptions,
        name: &str,
        groups: &[String],
    ) -> Result<Option<Principal>, AuthError> {
        if burnin::access::user_name_problem(name).is_some() {
            return Ok(None);
        }
        let Some(role) = sso.role(groups) else { return Ok(None) };
        let row = self.user_by_name(name).await?;
        let id = match row {
            Some(row) if row.5 => return Ok(None),
            Some(row) if row.4 == "local" => {
                // A local account is not taken over by a header.
                tracing::warn!(user.name = %name, "the proxy names a local user; single sign-on ignored for it");
                return Ok(None);
            }
            Some(row) => {
                if row.2 != role.as_str() {
                    sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
                        .bind(row.0)
                        .bind(role.as_str())
                        .execute(self.pool())
                        .await?;
                    crate::audit::record(
                        self.pool(),
                        "sso",
                        "user.update",
                        name,
                        &json!({"old": {"role": row.2}, "new": {"role": role}}),
                    )
                    .await?;
                }
                row.0
            }
            None => {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO users (name, role, source) VALUES ($1, $2, 'sso') RETURNING id",
                )
                .bind(name)
                .bind(role.as_str())
                .fetch_one(self.pool())
                .await?;
                crate::audit::record(
                    self.pool(),
                    "sso",
                    "user.create",
                    name,
                    &json!({"role": role, "source": "sso"}),
                )
                .await?;
                id
            }
        };
        Ok(Some(Principal { user_id: id, name: name.to_owned(), role, via: Via::Proxy }))
    }

    /// Whether the peer is a configured reverse proxy.
    pub fn trusted(&self, peer: IpAddr) -> bool {
        self.inner.options.trusted_proxies.iter().any(|net| net.contains(&peer))
    }

    /// Who the request comes from: a trusted proxy's user header, a bearer token, or a session
    /// cookie, in that order.
    pub async fn resolve(&self, headers: &HeaderMap, peer: IpAddr) -> Result<Resolved, AuthError> {
        if let Some(sso) = &self.inner.options.sso
            && self.trusted(peer)
            && let Some(name) = headers.get(sso.user_header.as_str()).and_then(|v| v.to_str().ok())
        {
            let groups: Vec<String> = headers
                .get_all(sso.groups_header.as_str())
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split([',', '|']))
                .map(|g| g.trim().to_owned())
                .filter(|g| !g.is_empty())
                .collect();
            let principal = self.proxy_principal(sso, name.trim(), &groups).await?;
            let rejected = principal.is_none().then(|| {
                format!("the proxy signed in {:?}, whose groups give no role here", name.trim())
            });
            return Ok(Resolved { principal, session: None, rejected });
        }
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                .map(str::trim)
                .unwrap_or("");
            let principal = if token.starts_with("bid_") && token.len() < 200 {
                self.token_principal(token).await?
            } else {
                None
            };
            let rejected = principal.is_none().then(|| {
                "the API token is unknown, revoked, or its user is disabled: create one under Settings → API tokens or with `burnin-server token create`".to_owned()
            });
            return Ok(Resolved { principal, session: None, rejected });
        }
        for name in [COOKIE_SECURE, COOKIE_PLAIN] {
            if let Some(value) = cookie(headers, name).filter(|v| !v.is_empty() && v.len() < 100) {
                let hash = sha256_hex(value);
                return Ok(match self.session_principal(&hash, true).await? {
                    Some(principal) => {
                        Resolved { principal: Some(principal), session: Some(hash), rejected: None }
                    }
                    None => Resolved {
                        principal: None,
                        session: None,
                        rejected: Some("your session has ended: sign in again".into()),
                    },
                });
            }
        }
        Ok(Resolved::default())
    }

    /// Makes an API token for a user; the secret is in the answer and nowhere else, ever.
    pub async fn create_token(
        &self,
        user_name: &str,
        name: &str,
        scope: Scope,
        actor: &str,
    ) -> Result<(TokenView, String), AuthError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(AuthError::Invalid(
                "a token's name has 1 to 100 printable characters, e.g. `n8n`".into(),
            ));
        }
        let user = self
            .user_by_name(user_name.trim())
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("there is no user {user_name:?}")))?;
        if user.5 {
            return Err(AuthError::Invalid(format!("{:?} is disabled", user.1)));
        }
        let secret = format!("bid_{}", random_token()?);
        let prefix: String = secret.chars().take(10).collect();
        let mut tx = crate::db::begin_write(self.pool()).await?;
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO api_tokens (user_id, name, scope, secret_hash, prefix) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user.0)
        .bind(name)
        .bind(scope.as_str())
        .bind(sha256_hex(&secret))
        .bind(&prefix)
        .fetch_one(&mut *tx)
        .await?;
        crate::audit::record(
            &mut *tx,
            actor,
            "token.create",
            &user.1,
            &json!({"token_id": id, "name": name, "scope": scope}),
        )
        .await?;
        tx.commit().await?;
        let view = self
            .list_tokens()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| AuthError::NotFound(format!("token {id}")))?;
        Ok((view, secret))
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenView>, AuthError> {
        let rows: Vec<TokenListRow> = sqlx::query_as(
            "SELECT t.id, u.name, t.name, t.scope, t.prefix, t.created_at, t.last_used_at, t.revoked_at
               FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, user_name, name, scope, prefix, created_at, last_used_at, revoked_at)| {
                TokenView {
                    id,
                    user_name,
                    name,
                    scope: Scope::parse(&scope).unwrap_or(Scope::Read),
                    prefix,
                    created_at,
                    last_used_at,
                    revoked_at,
                }
            })
            .collect())
    }

    pub async fn revoke_token(&self, id: i64, actor: &str) -> Result<TokenView, AuthError> {
        let mut tx = crate::db::begin_write(self.pool()).await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(AuthError::NotFound(format!("there is no unrevoked token with id {id}")));
        }
        crate::audit::record(
            &mut *tx,
            actor,
            "token.revoke",
            &id.to_string(),
            &json!({"token_id": id}),
        )
        .await?;
        tx.commit().await?;
        self.sessions_ended();
        self.list_tokens()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| AuthError::NotFound(format!("token {id}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_map_to_the_highest_role_they_give() {
        let sso = SsoOptions {
            admin_groups: vec!["admins".into()],
            operator_groups: vec!["ops".into()],
            viewer_groups: vec!["staff".into()],
            ..SsoOptions::default()
        };
        assert_eq!(sso.role(&["ops".into(), "Admins".into()]), Some(Role::Admin));
        assert_eq!(sso.role(&["ops".into()]), Some(Role::Operator));
        assert_eq!(sso.role(&["staff".into()]), Some(Role::Viewer));
        assert_eq!(sso.role(&["guests".into()]), None);
        let open = SsoOptions { viewer_groups: vec![], ..sso };
        assert_eq!(open.role(&[]), Some(Role::Viewer));
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_host_bound_over_https() {
        let secure = set_cookie(Some("abc"), true, 60);
        assert!(secure.starts_with("__Host-burnin_session=abc; Path=/; HttpOnly; SameSite=Strict"));
        assert!(secure.ends_with("; Secure"));
        assert!(!secure.contains("Domain"));
        let plain = set_cookie(None, false, 60);
        assert!(plain.starts_with("burnin_session=;") && plain.contains("Max-Age=0"));
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; burnin_session=xyz; b=2".parse().expect("header"));
        assert_eq!(cookie(&headers, COOKIE_PLAIN), Some("xyz"));
        assert_eq!(cookie(&headers, COOKIE_SECURE), None);
    }
}
