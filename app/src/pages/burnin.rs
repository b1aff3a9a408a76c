//! Burn-in server functions: start, cancel, read jobs and SMART reports.

use burnin::job::{CancelResult, JobView, SmartSnapshot, StartRequest};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::AppError;

/// Checks and queues burn-ins; a refusal lists every reason.
#[server(input = Json)]
pub async fn start_burnin(request: StartRequest) -> Result<Vec<JobView>, AppError> {
    crate::backend::reply(crate::backend::backend()?.start_burnin(request).await)
}

#[server(input = Json)]
pub async fn cancel_job(id: i64) -> Result<JobView, AppError> {
    crate::backend::reply(crate::backend::backend()?.cancel_job(id, crate::backend::actor()).await)
}

/// Cancels every active job, or those of one host: one result per job.
#[server(input = Json)]
pub async fn cancel_jobs(host_id: Option<i64>) -> Result<Vec<CancelResult>, AppError> {
    crate::backend::reply(
        crate::backend::backend()?.cancel_jobs(host_id, crate::backend::actor()).await,
    )
}

#[server(input = Json)]
pub async fn get_job(id: i64) -> Result<JobView, AppError> {
    crate::backend::reply(crate::backend::backend()?.get_job(id).await)
}

#[server(input = Json)]
pub async fn drive_jobs(drive_id: i64) -> Result<Vec<JobView>, AppError> {
    crate::backend::reply(crate::backend::backend()?.list_jobs(Some(drive_id), None).await)
}

#[server(input = Json)]
pub async fn drive_smart(drive_id: i64) -> Result<Option<SmartSnapshot>, AppError> {
    crate::backend::reply(crate::backend::backend()?.drive_smart(drive_id).await)
}

/// A stage's kept output, as readable text.
#[server(input = Json)]
pub async fn stage_output(job_id: i64, position: i64, stream: String) -> Result<String, AppError> {
    crate::backend::reply(crate::backend::backend()?.stage_output(job_id, position, stream).await)
}
