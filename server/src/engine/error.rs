//! The engine's errors. Mapped once, at the service boundary, to the app error the doors
//! return (`service.rs`); nothing in the engine knows about HTTP.

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// The request itself is wrong; the message says how to fix it.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the state of things (a job already ended, a repeated key
    /// still being answered, a host with active jobs).
    #[error("{0}")]
    Conflict(String),
    /// Refused on purpose (the interlock, a missing confirmation), with every reason.
    #[error("{message}")]
    Refused { message: String, reasons: Vec<String> },
    /// An Idempotency-Key reused for another request.
    #[error("{0}")]
    KeyReused(String),
}

impl From<sqlx::Error> for EngineError {
    fn from(error: sqlx::Error) -> EngineError {
        EngineError::Db(DbError::from(error))
    }
}

impl From<crate::hosts::HostError> for EngineError {
    fn from(error: crate::hosts::HostError) -> EngineError {
        match error {
            crate::hosts::HostError::NotFound(id) => {
                EngineError::NotFound(format!("there is no host with id {id}"))
            }
            crate::hosts::HostError::Db(db) => EngineError::Db(db),
            other => EngineError::BadRequest(other.to_string()),
        }
    }
}
