//! The service layer: the one implementation behind both doors (Leptos server functions and
//! the `/api/v1` routes). Validation and safety checks belong here, never in a door.

use burnin::{DriveFilter, DriveRow};
use burnin_app::{
    AppError,
    backend::{Backend, BoxFuture},
};

use crate::{db::Db, db::DbError, inventory};

#[derive(Clone, Debug)]
pub struct Services {
    pub db: Db,
}

impl Backend for Services {
    fn list_drives(&self, filter: DriveFilter) -> BoxFuture<'_, Result<Vec<DriveRow>, AppError>> {
        Box::pin(async move { Ok(inventory::list_drives(self.db.pool(), &filter).await?) })
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
