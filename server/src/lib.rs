//! `burnin-server`: the burn-in dashboard's binary. Owns all I/O: HTTP, the database, and (as
//! the issues land) the TrueNAS API client, SSH, and the background services.

pub mod config;
pub mod db;
pub mod http;
pub mod inventory;
pub mod service;
pub mod telemetry;

use std::{future::Future, time::Duration};

use anyhow::Context as _;
use leptos::config::{Env, LeptosOptions};
use tokio::net::TcpListener;

use crate::{
    config::{Config, Environment},
    db::Db,
    http::{AppState, Origins},
    service::Services,
};

/// Opens the database and builds the application state.
pub async fn prepare(config: &Config) -> anyhow::Result<AppState> {
    let db = Db::open(&config.database_url).await?;
    let leptos_options = LeptosOptions::builder()
        // Must match `output-name` in the workspace's [[workspace.metadata.leptos]].
        .output_name("burnin")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .env(match config.environment {
            Environment::Production => Env::PROD,
            Environment::Development => Env::DEV,
        })
        .build();
    Ok(AppState { leptos_options, services: Services { db } })
}

/// Serves until `shutdown` resolves, then gives running requests `grace` to finish.
pub async fn serve(
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = prepare(config).await?;
    let app = http::router(state, Origins::new(&config.public_origins));
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let address = listener.local_addr().context("listener has no local address")?;
    tracing::info!(http.address = %address, "serving the burn-in dashboard on http://{address}");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let graceful = {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
        }
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let signal = async move {
        shutdown.await;
        tracing::info!(grace_secs = grace.as_secs(), "shutting down: finishing running requests");
        let _ = stop_tx.send(true);
        // Long-lived connections (live updates) would hold a graceful shutdown open forever.
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result.context("the HTTP server stopped with an error")?,
        () = signal => tracing::warn!("grace period over: closing remaining connections"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM (docker stop) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!(signal = "SIGINT", "received a stop signal"),
        () = terminate => tracing::info!(signal = "SIGTERM", "received a stop signal"),
    }
}
