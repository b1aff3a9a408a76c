//! The application's one error type for HTTP and server functions.
//!
//! Policy (written once, here):
//! - Domain code returns its own `thiserror` enums (`server::db::DbError`, later the SSH and
//!   TrueNAS errors). They say what went wrong in that domain and nothing about HTTP.
//! - At the service boundary every domain error becomes an [`AppError`]: a kind (which decides
//!   the HTTP status) and a message a user can act on: the cause and, where there is one, the
//!   fix. Refusals carry every reason, not just the first.
//! - Internal failures are logged in full on the server and reach the client only as a short
//!   message; no SQL, paths or secrets cross the wire.
//! - The same type is returned by Leptos server functions (via [`FromServerFnError`]) and by the
//!   `/api/v1` routes (via `IntoResponse` under `ssr`), so both doors report a failure the same
//!   way.
//! - `anyhow` is used only outside request paths (start-up in `server::main`).

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// What class of failure this is; decides the HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request itself is wrong (400).
    BadRequest,
    /// The thing named does not exist (404).
    NotFound,
    /// The request conflicts with the current state (409).
    Conflict,
    /// Well-formed but not acceptable as it stands, e.g. an Idempotency-Key reused for another
    /// request (422).
    Unprocessable,
    /// Refused on purpose, e.g. by the safety interlock, a cross-site check or a role that may
    /// not do it (403).
    Refused,
    /// Nobody is signed in, or the session or token is no longer valid (401).
    Unauthenticated,
    /// The action asks for the password again: the last sign-in is too old (401).
    StepUp,
    /// Too many attempts or actions in a short time (429).
    TooMany,
    /// A dependency (database, NAS) cannot answer right now (503).
    Unavailable,
    /// A bug or an unexpected failure on the server (500).
    Internal,
    /// The browser could not reach the server or read its answer (client side only).
    Transport,
}

impl ErrorKind {
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Unprocessable => 422,
            ErrorKind::Refused => 403,
            ErrorKind::Unauthenticated | ErrorKind::StepUp => 401,
            ErrorKind::TooMany => 429,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal | ErrorKind::Transport => 500,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub kind: ErrorKind,
    /// A sentence for the user: the cause and the fix.
    pub message: String,
    /// Every individual reason, for refusals that have several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

impl AppError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AppError { kind, message: message.into(), reasons: Vec::new() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn refused(message: impl Into<String>, reasons: Vec<String>) -> Self {
        AppError { kind: ErrorKind::Refused, message: message.into(), reasons }
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorKind::Unauthenticated,
            "You are not signed in (or your session ended). Sign in at /login; API clients send `Authorization: Bearer <token>`.",
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(cause) => AppError::new(
                ErrorKind::Transport,
                format!(
                    "Could not reach the dashboard server ({cause}). Check that it is running and reload the page."
                ),
            ),
            ServerFnErrorErr::Deserialization(cause) | ServerFnErrorErr::Response(cause) => {
                AppError::new(
                    ErrorKind::Transport,
                    format!(
                        "The server's answer could not be read ({cause}). Reload the page; if it persists, the page and server versions may differ."
                    ),
                )
            }
            ServerFnErrorErr::Args(cause) | ServerFnErrorErr::MissingArg(cause) => {
                AppError::bad_request(format!("Invalid request arguments: {cause}"))
            }
            ServerFnErrorErr::MiddlewareError(cause) => {
                AppError::new(ErrorKind::Refused, format!("Request refused: {cause}"))
            }
            other => AppError::internal(other.to_string()),
        }
    }
}

/// The JSON body of every error answer from the server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: AppError,
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.kind.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(ErrorBody { error: self })).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_maps_to_the_status_a_client_expects() {
        let cases = [
            (ErrorKind::BadRequest, 400),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::Refused, 403),
            (ErrorKind::Unauthenticated, 401),
            (ErrorKind::StepUp, 401),
            (ErrorKind::TooMany, 429),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::Internal, 500),
        ];
        for (kind, status) in cases {
            assert_eq!(kind.status(), status, "{kind:?}");
        }
    }

    #[test]
    fn refusal_serializes_every_reason() {
        let error = AppError::refused(
            "Surface test refused for ZL2ABC01",
            vec!["in pool tank".into(), "has partitions".into()],
        );
        let json = serde_json::to_value(&error).expect("serializable");
        assert_eq!(json["kind"], "refused");
        assert_eq!(json["reasons"][1], "has partitions");
    }
}
