//! Burn-in server functions: start, cancel, read jobs and SMART reports.

use burnin::job::{CancelResult, JobView, SmartSnapshot, StartRequest};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::AppError;

/// Checks and queues burn-ins; a refusal lists every reason.
#[server(input = Json)]
pub async fn start_burnin(request: StartRequest) -> Result<Vec<JobView>, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .start_burnin(crate::backend::principal().await?, request)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn cancel_job(id: i64) -> Result<JobView, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?.cancel_job(crate::backend::principal().await?, id).await
        }
        .await,
    )
}

/// Cancels every active job, or those of one host: one result per job.
#[server(input = Json)]
pub async fn cancel_jobs(host_id: Option<i64>) -> Result<Vec<CancelResult>, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .cancel_jobs(crate::backend::principal().await?, host_id)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn get_job(id: i64) -> Result<JobView, AppError> {
    crate::backend::reply(
        async { crate::backend::backend()?.get_job(crate::backend::principal().await?, id).await }
            .await,
    )
}

#[server(input = Json)]
pub async fn drive_jobs(drive_id: i64) -> Result<Vec<JobView>, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .list_jobs(crate::backend::principal().await?, Some(drive_id), None)
                .await
        }
        .await,
    )
}

#[server(input = Json)]
pub async fn drive_smart(drive_id: i64) -> Result<Option<SmartSnapshot>, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .drive_smart(crate::backend::principal().await?, drive_id)
                .await
        }
        .await,
    )
}

/// A stage's kept output, as readable text.
#[server(input = Json)]
pub async fn stage_output(job_id: i64, position: i64, stream: String) -> Result<String, AppError> {
    crate::backend::reply(
        async {
            crate::backend::backend()?
                .stage_output(crate::backend::principal().await?, job_id, position, stream)
                .await
        }
        .await,
    )
}
