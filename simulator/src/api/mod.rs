//! The TrueNAS WebSocket API: JSON-RPC 2.0 at `/api/current` (SCALE 25.04+) and the legacy
//! DDP-style protocol at `/websocket` (CORE 13, and still routed on SCALE), with
//! `GET /api/versions` for discovery (reference/truenas-api.md §1.2, §1.3).

pub mod error;
pub mod jobs;
mod methods;
mod query;
mod session;
pub mod shapes;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{ConnectInfo, State, WebSocketUpgrade, ws::rejection::WebSocketUpgradeRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};

pub use session::{Dialect, Session};

use crate::HostCore;

/// Pre-authentication message size limit; larger frames close the socket
/// (`utils/limits.py` `MsgSizeLimit`, reference §1.2).
pub const MAX_MESSAGE_UNAUTHENTICATED: usize = 8 * 1024;
/// The limit after logging in.
pub const MAX_MESSAGE_AUTHENTICATED: usize = 64 * 1024;

pub fn router(host: Arc<HostCore>) -> Router {
    Router::new()
        .route("/api/versions", get(versions))
        .route("/api/current", get(jsonrpc))
        .route("/api/{version}", get(jsonrpc_versioned))
        .route("/websocket", get(legacy))
        .with_state(host)
}

async fn delay(host: &HostCore) -> Option<Response> {
    let faults = host.faults();
    if faults.api_delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.api_delay_ms)).await;
    }
    faults
        .api_http_500
        .then(|| (StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error").into_response())
}

async fn versions(State(host): State<Arc<HostCore>>) -> Response {
    if let Some(failure) = delay(&host).await {
        return failure;
    }
    match host.personality().api_versions() {
        Some(versions) => Json(versions).into_response(),
        None => (StatusCode::NOT_FOUND, "404: Not Found").into_response(),
    }
}

async fn jsonrpc(
    State(host): State<Arc<HostCore>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    start(host, peer, upgrade, Dialect::JsonRpc, None).await
}

async fn jsonrpc_versioned(
    State(host): State<Arc<HostCore>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    axum::extract::Path(version): axum::extract::Path<String>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    start(host, peer, upgrade, Dialect::JsonRpc, Some(version)).await
}

async fn legacy(
    State(host): State<Arc<HostCore>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    start(host, peer, upgrade, Dialect::Legacy, None).await
}

async fn start(
    host: Arc<HostCore>,
    peer: SocketAddr,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    dialect: Dialect,
    version: Option<String>,
) -> Response {
    if let Some(failure) = delay(&host).await {
        return failure;
    }
    let personality = host.personality();
    if dialect == Dialect::JsonRpc {
        let known = personality
            .api_versions()
            .is_some_and(|versions| version.as_deref().is_none_or(|v| versions.contains(&v)));
        if !known {
            return (StatusCode::NOT_FOUND, "404: Not Found").into_response();
        }
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // Loopback and TLS count as secure transport (`utils/origin.py`, reference §1.2).
    let secure = host.tls || peer.ip().is_loopback();
    upgrade
        .max_message_size(MAX_MESSAGE_AUTHENTICATED)
        .on_upgrade(move |socket| session::run(host, socket, dialect, secure))
}
