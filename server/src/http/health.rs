//! Liveness and readiness, for Docker's HEALTHCHECK and orchestrators.

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};

use crate::service::Services;

/// The process is up and serving HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": burnin_app::VERSION }))
}

/// The process can do its work: the database answers.
pub async fn readyz(State(services): State<Services>) -> (StatusCode, Json<Value>) {
    match services.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready", "database": "ok" }))),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check: database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "not answering" })),
            )
        }
    }
}
