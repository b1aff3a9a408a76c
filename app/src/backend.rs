//! The backend's face, as the UI sees it.
//!
//! `app` may not depend on `server` (nothing does), so server functions reach the services
//! through this trait. `server` implements it once and provides it as Leptos context; the
//! `/api/v1` routes call the same implementation, so validation and safety checks live in one
//! place and no door can skip them.

use std::{future::Future, pin::Pin, sync::Arc};

use burnin::{
    DriveFilter, DriveRow,
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

pub trait Backend: Send + Sync + 'static {
    /// Drives matching `filter`, ordered by host then device name.
    fn list_drives(&self, filter: DriveFilter) -> Answer<'_, Vec<DriveRow>>;
    fn get_drive(&self, id: i64) -> Answer<'_, DriveRow>;
    /// Sets a drive's location and/or notes; audited as `actor`.
    fn edit_drive(&self, id: i64, edit: DriveEdit, actor: String) -> Answer<'_, DriveRow>;
    /// Everything the dashboard shows, at the live channel's current version.
    fn snapshot(&self) -> Answer<'_, Snapshot>;

    fn list_hosts(&self) -> Answer<'_, Vec<HostView>>;
    fn get_host(&self, id: i64) -> Answer<'_, HostView>;
    fn create_host(&self, input: HostInput, actor: String) -> Answer<'_, HostView>;
    fn update_host(&self, id: i64, input: HostInput, actor: String) -> Answer<'_, HostView>;
    /// Takes a host out of service, keeping its record (refused while it has active jobs).
    fn delete_host(&self, id: i64, actor: String) -> Answer<'_, HostView>;
    /// Hosts taken out of service, whose records are kept.
    fn archived_hosts(&self) -> Answer<'_, Vec<HostView>>;
    /// Deletes an archived host's history for good; `confirm` repeats its name.
    fn delete_host_history(&self, id: i64, confirm: String, actor: String) -> Answer<'_, ()>;
    fn set_host_enabled(&self, id: i64, enabled: bool, actor: String) -> Answer<'_, HostView>;
    /// Tries the host's API with its stored settings and reports each step.
    fn test_host(&self, id: i64) -> Answer<'_, HostTest>;
    /// Pins the certificate fingerprint the operator confirmed.
    fn trust_certificate(
        &self,
        id: i64,
        fingerprint: String,
        actor: String,
    ) -> Answer<'_, HostView>;
    /// Pins the SSH host key (OpenSSH line) the operator confirmed.
    fn trust_ssh_host_key(&self, id: i64, key: String, actor: String) -> Answer<'_, HostView>;

    /// Checks and queues burn-ins; refusals name every reason.
    fn start_burnin(&self, request: StartRequest) -> Answer<'_, Vec<JobView>>;
    fn cancel_job(&self, id: i64, actor: String) -> Answer<'_, JobView>;
    /// Cancels every active job (of one host, when given), going on past errors: one result
    /// per job.
    fn cancel_jobs(&self, host_id: Option<i64>, actor: String) -> Answer<'_, Vec<CancelResult>>;
    fn get_job(&self, id: i64) -> Answer<'_, JobView>;
    fn list_jobs(&self, drive_id: Option<i64>, state: Option<JobState>)
    -> Answer<'_, Vec<JobView>>;
    /// The drive's latest smartctl report, if one was read.
    fn drive_smart(&self, drive_id: i64) -> Answer<'_, Option<SmartSnapshot>>;
    /// A stage's kept output (`stderr`, `stdout` or `smartctl`), as text.
    fn stage_output(&self, job_id: i64, position: i64, stream: String) -> Answer<'_, String>;
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

/// Who is acting, for the audit log. There are no user accounts yet: the UI records `web`.
pub fn actor() -> String {
    "web".to_owned()
}
