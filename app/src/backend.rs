//! The backend's face, as the UI sees it.
//!
//! `app` may not depend on `server` (nothing does), so server functions reach the services
//! through this trait. `server` implements it once and provides it as Leptos context; the
//! `/api/v1` routes call the same implementation, so validation and safety checks live in one
//! place and no door can skip them.

use std::{future::Future, pin::Pin, sync::Arc};

use burnin::{
    DriveFilter, DriveRow,
    access::{NewToken, Principal, Role, Scope, TokenView, UserEdit, UserView, Whoami},
    host::{HostInput, HostTest, HostView},
    job::{CancelResult, JobState, JobView, SmartSnapshot, StartRequest},
    live::Snapshot,
};
use leptos::prelude::use_context;

use crate::AppError;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type Answer<'a, T> = BoxFuture<'a, Result<T, AppError>>;

/// Location and notes of a drive; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DriveEdit {
    pub location: Option<String>,
    pub notes: Option<String>,
}

/// Who is calling, as the server's sign-in middleware resolved it for this request. Lives in
/// the request's extensions; never sent to a browser (the session field identifies a session).
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Option<Principal>,
    /// The SHA-256 of the session cookie, when a live session was presented.
    pub session: Option<String>,
    pub address: std::net::IpAddr,
    pub user_agent: String,
    /// Whether the browser reached the dashboard over HTTPS (decides the cookie's form).
    pub https: bool,
}

impl Caller {
    /// The signed-in principal, or the error that says to sign in.
    pub fn principal(&self) -> Result<Principal, AppError> {
        self.principal.clone().ok_or_else(AppError::unauthenticated)
    }
}

/// Every method takes the caller and checks, with `burnin::access`, that it may do what it
/// asks before anything else: a door's own check is a second wall, never the only one.
pub trait Backend: Send + Sync + 'static {
    /// Drives matching `filter`, ordered by host then device name.
    fn list_drives(&self, caller: Principal, filter: DriveFilter) -> Answer<'_, Vec<DriveRow>>;
    fn get_drive(&self, caller: Principal, id: i64) -> Answer<'_, DriveRow>;
    /// Sets a drive's location and/or notes; audited as the caller.
    fn edit_drive(&self, caller: Principal, id: i64, edit: DriveEdit) -> Answer<'_, DriveRow>;
    /// Everything the dashboard shows, at the live channel's current version.
    fn snapshot(&self, caller: Principal) -> Answer<'_, Snapshot>;

    fn list_hosts(&self, caller: Principal) -> Answer<'_, Vec<HostView>>;
    fn get_host(&self, caller: Principal, id: i64) -> Answer<'_, HostView>;
    fn create_host(&self, caller: Principal, input: HostInput) -> Answer<'_, HostView>;
    fn update_host(&self, caller: Principal, id: i64, input: HostInput) -> Answer<'_, HostView>;
    /// Takes a host out of service, keeping its record (refused while it has active jobs).
    fn delete_host(&self, caller: Principal, id: i64) -> Answer<'_, HostView>;
    /// Hosts taken out of service, whose records are kept.
    fn archived_hosts(&self, caller: Principal) -> Answer<'_, Vec<HostView>>;
    /// Deletes an archived host's history for good; `confirm` repeats its name.
    fn delete_host_history(&self, caller: Principal, id: i64, confirm: String) -> Answer<'_, ()>;
    fn set_host_enabled(&self, caller: Principal, id: i64, enabled: bool) -> Answer<'_, HostView>;
    /// Tries the host's API with its stored settings and reports each step.
    fn test_host(&self, caller: Principal, id: i64) -> Answer<'_, HostTest>;
    /// Pins the certificate fingerprint the operator confirmed.
    fn trust_certificate(
        &self,
        caller: Principal,
        id: i64,
        fingerprint: String,
    ) -> Answer<'_, HostView>;
    /// Pins the SSH host key (OpenSSH line) the operator confirmed.
    fn trust_ssh_host_key(&self, caller: Principal, id: i64, key: String) -> Answer<'_, HostView>;

    /// Checks and queues burn-ins; refusals name every reason.
    fn start_burnin(&self, caller: Principal, request: StartRequest) -> Answer<'_, Vec<JobView>>;
    fn cancel_job(&self, caller: Principal, id: i64) -> Answer<'_, JobView>;
    /// Cancels every active job (of one host, when given), going on past errors: one result
    /// per job.
    fn cancel_jobs(&self, caller: Principal, host_id: Option<i64>)
    -> Answer<'_, Vec<CancelResult>>;
    fn get_job(&self, caller: Principal, id: i64) -> Answer<'_, JobView>;
    fn list_jobs(
        &self,
        caller: Principal,
        drive_id: Option<i64>,
        state: Option<JobState>,
    ) -> Answer<'_, Vec<JobView>>;
    /// A page of the job history: filtered, sorted, from a cursor (`burnin::history`).
    fn job_history(
        &self,
        caller: Principal,
        query: burnin::history::JobQuery,
    ) -> Answer<'_, burnin::history::JobPage>;
    /// A page of the audit log, newest first (admins: `Action::ReadAudit`).
    fn audit_log(
        &self,
        caller: Principal,
        query: burnin::history::AuditQuery,
    ) -> Answer<'_, burnin::history::AuditPage>;
    /// The drive's latest smartctl report, if one was read.
    fn drive_smart(&self, caller: Principal, drive_id: i64) -> Answer<'_, Option<SmartSnapshot>>;
    /// A stage's kept output (`stderr`, `stdout` or `smartctl`), as text.
    fn stage_output(
        &self,
        caller: Principal,
        job_id: i64,
        position: i64,
        stream: String,
    ) -> Answer<'_, String>;

    /// A page of the history as rows with model, capacity and location (as the CSV has them),
    /// from the same query parameters as `GET /api/v1/burnin`.
    fn history_page(
        &self,
        caller: Principal,
        params: burnin::history::JobParams,
    ) -> Answer<'_, burnin::history::HistoryPage>;
    /// A job's record: the job, its certificate's facts once it has ended, its audit trail.
    fn job_record(&self, caller: Principal, id: i64) -> Answer<'_, burnin::record::JobRecord>;
    /// A finished job's certificate for its print view (sealing its evidence if not yet).
    fn certificate_view(
        &self,
        caller: Principal,
        id: i64,
    ) -> Answer<'_, burnin::record::CertificateView>;
    /// A drive's record by serial: identity, locations, every job on it, counter trends.
    fn drive_record(
        &self,
        caller: Principal,
        serial: String,
    ) -> Answer<'_, burnin::drive_record::DriveRecord>;
    /// The fleet's figures for the statistics page.
    /// The figures over the finished jobs `params` choose (a host, a date range).
    fn statistics(
        &self,
        caller: Principal,
        params: burnin::history::StatsParams,
    ) -> Answer<'_, burnin::stats::Statistics>;
    /// Checks an evidence bundle (its JSON text) against this dashboard's key. Open to anyone:
    /// a buyer checks a bundle without an account, and nothing stored is read.
    fn verify_evidence(&self, bundle: String) -> Answer<'_, burnin::evidence::Verification>;
    /// The public half of the key that signs evidence bundles. Open to anyone.
    fn signing_key(&self) -> Answer<'_, burnin::evidence::KeyView>;
    /// Deletes a finished job and its record for good; `confirm` repeats the drive's serial.
    /// Answers what was removed. Admins only; audited.
    fn delete_job(
        &self,
        caller: Principal,
        id: i64,
        confirm: String,
    ) -> Answer<'_, burnin::record::Removed>;

    /// Who the page talks to, and whether the first admin must still be made.
    fn whoami(&self, caller: Caller) -> Answer<'_, Whoami>;
    /// Re-enters the password: answers the new session cookie's `Set-Cookie` value, which the
    /// door puts in a header (never in a body).
    fn step_up(&self, caller: Caller, password: String) -> Answer<'_, String>;
    fn list_users(&self, caller: Principal) -> Answer<'_, Vec<UserView>>;
    fn add_user(
        &self,
        caller: Principal,
        name: String,
        role: Role,
        password: String,
    ) -> Answer<'_, UserView>;
    fn update_user(&self, caller: Principal, id: i64, edit: UserEdit) -> Answer<'_, UserView>;
    fn list_tokens(&self, caller: Principal) -> Answer<'_, Vec<TokenView>>;
    /// Makes a token for `user` (the caller when empty); an admin may make one for anyone.
    fn create_token(
        &self,
        caller: Principal,
        user: String,
        name: String,
        scope: Scope,
    ) -> Answer<'_, NewToken>;
    fn revoke_token(&self, caller: Principal, id: i64) -> Answer<'_, TokenView>;

    /// A one-time ticket to open a terminal on a host (admins, password just entered).
    fn terminal_ticket(
        &self,
        caller: Caller,
        host_id: i64,
    ) -> Answer<'_, burnin::access::TerminalTicket>;

    /// Alerts matching `filter`, newest first.
    fn alerts(
        &self,
        caller: Principal,
        filter: burnin::alert::AlertFilter,
    ) -> Answer<'_, Vec<burnin::alert::AlertView>>;
    /// One alert by id, whatever its state (a link in a notification names it).
    fn alert(&self, caller: Principal, id: i64) -> Answer<'_, burnin::alert::AlertView>;
    /// Counts of the open alerts, for the header and the Hosts page.
    fn alert_summary(&self, caller: Principal) -> Answer<'_, burnin::alert::AlertSummary>;
    /// Acknowledges or resolves an alert as the caller, with an optional note.
    fn alert_action(
        &self,
        caller: Principal,
        id: i64,
        handling: burnin::alert::Handling,
        note: Option<String>,
    ) -> Answer<'_, burnin::alert::AlertView>;
    /// The notification channels (addresses redacted, secrets never).
    fn channels(&self, caller: Principal) -> Answer<'_, Vec<burnin::notify::ChannelView>>;
    /// Creates a channel (`id` none) or changes one; audited.
    fn save_channel(
        &self,
        caller: Principal,
        id: Option<i64>,
        input: burnin::notify::ChannelInput,
    ) -> Answer<'_, burnin::notify::ChannelView>;
    fn delete_channel(&self, caller: Principal, id: i64) -> Answer<'_, ()>;
    /// Sends a test through the channel now and answers how it went.
    fn test_channel(&self, caller: Principal, id: i64) -> Answer<'_, burnin::notify::DeliveryView>;
    /// The latest delivery attempts, of one channel or of all.
    fn deliveries(
        &self,
        caller: Principal,
        channel_id: Option<i64>,
    ) -> Answer<'_, Vec<burnin::notify::DeliveryView>>;

    /// Every run-time setting and the system card.
    fn settings(&self, caller: Principal) -> Answer<'_, burnin::settings::SettingsView>;
    /// Changes the settings `patch` names (a JSON object), checked and audited.
    fn change_settings(
        &self,
        caller: Principal,
        patch: serde_json::Value,
    ) -> Answer<'_, burnin::settings::SettingsView>;
}

/// The backend provided by the server for this request.
pub fn backend() -> Result<Arc<dyn Backend>, AppError> {
    use_context::<Arc<dyn Backend>>()
        .ok_or_else(|| AppError::internal("the backend is missing from the request context"))
}

/// Gives a server function's error its HTTP status (403 for a refusal, 404, 400…) instead of
/// the blanket 500, so logs and proxies tell a refusal from a fault.
pub fn reply<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result
        && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = axum::http::StatusCode::from_u16(error.kind.status())
    {
        response.set_status(status);
    }
    result
}

/// The caller of this request, as the server's sign-in middleware put it in the request.
pub async fn caller() -> Result<Caller, AppError> {
    let axum::Extension(caller) = leptos_axum::extract::<axum::Extension<Caller>>()
        .await
        .map_err(|_| AppError::unauthenticated())?;
    Ok(caller)
}

/// The signed-in principal of this request, or the error that says to sign in.
pub async fn principal() -> Result<Principal, AppError> {
    caller().await?.principal()
}
