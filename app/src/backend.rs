//! The backend's face, as the UI sees it.
//!
//! `app` may not depend on `server` (nothing does), so server functions reach the services
//! through this trait. `server` implements it once and provides it as Leptos context; the
//! `/api/v1` routes call the same implementation, so validation and safety checks live in one
//! place and no door can skip them.

use std::{future::Future, pin::Pin, sync::Arc};

use burnin::{DriveFilter, DriveRow};
use leptos::prelude::use_context;

use crate::AppError;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Backend: Send + Sync + 'static {
    /// Drives matching `filter`, ordered by host then device name.
    fn list_drives(&self, filter: DriveFilter) -> BoxFuture<'_, Result<Vec<DriveRow>, AppError>>;
}

/// The backend provided by the server for this request.
pub fn backend() -> Result<Arc<dyn Backend>, AppError> {
    use_context::<Arc<dyn Backend>>()
        .ok_or_else(|| AppError::internal("the backend is missing from the request context"))
}
