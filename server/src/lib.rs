#![recursion_limit = "512"]
//! `burnin-server`: the burn-in dashboard's binary. Owns all I/O: HTTP, the database, and (as
//! the issues land) the TrueNAS API client, SSH, and the background services.

pub mod alert_feeds;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod certificate;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod drive_record;
pub mod engine;
pub mod hosts;
pub mod http;
pub mod https;
pub mod inventory;
pub mod live;
pub mod notify;
pub mod outbound;
pub mod record;
pub mod secrets;
pub mod service;
pub mod settings;
pub mod signing;
pub mod ssh;
pub mod stats;
pub mod telemetry;
pub mod terminal;
pub mod truenas;
pub mod upkeep;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context as _;
use leptos::config::{Env, LeptosOptions};
use tokio::net::TcpListener;

use crate::{
    config::{Config, Environment, SimulatorMode},
    db::Db,
    hosts::HostStore,
    http::{AppState, Origins},
    inventory::{Inventory, InventoryOptions},
    live::Hub,
    secrets::MasterKey,
    service::Services,
};

/// A prepared application: its state, and the simulated fleet when the demo runs.
pub struct Prepared {
    pub state: AppState,
    pub simulator: Option<burnin_simulator::Simulator>,
}

/// Opens the database and the secret store, starts the demo fleet when no real host is
/// configured, and builds the application state.
pub async fn prepare(config: &Config) -> anyhow::Result<Prepared> {
    let db = Db::open(&config.database_url).await?;
    let master = Arc::new(MasterKey::load_or_create(&config.master_key_path())?);
    let signer = Arc::new(signing::Signer::load_or_create(&config.signing_key_path())?);
    signing::remember(db.pool(), &signer)
        .await
        .context("cannot record the signing key in the database")?;
    let hosts = HostStore::new(db.pool().clone(), master.clone());
    let hub = Hub::new();
    let first = config.first_settings();
    if let Err(message) = first.validate() {
        anyhow::bail!("the flags or environment give {message}");
    }
    let live = settings::Live::new(settings::load(db.pool(), first).await?);
    let options = InventoryOptions { live: live.clone(), ..InventoryOptions::default() };
    let inventory = Inventory::new(db.pool().clone(), hosts.clone(), hub.clone(), options);
    let start_demo = match config.simulator {
        SimulatorMode::Never => false,
        SimulatorMode::Always => true,
        SimulatorMode::Auto => hosts.count_real().await? == 0,
    };
    let simulator = if start_demo {
        let dir =
            config.data_dir().unwrap_or_else(|| std::path::PathBuf::from("data")).join("simulator");
        Some(
            demo::start(&dir, &hosts, config.simulator_speed).await.context(
                "starting the built-in simulated fleet (use --simulator never to skip it)",
            )?,
        )
    } else {
        None
    };
    let nas = engine::nas::Nas::new(
        hosts.clone(),
        ssh::SshOptions::default(),
        truenas::ClientOptions::default(),
    );
    let engine_options = engine::EngineOptions {
        poll_interval: Duration::from_millis(config.stage_poll_ms.max(10)),
        persist_every: Duration::from_millis(config.stage_poll_ms.clamp(10, 2000)),
        live: live.clone(),
        stop_grace: Duration::from_secs(config.stop_grace_secs),
        start_confirm_grace: Duration::from_secs(config.start_confirm_grace_secs),
        reattach_timeout: Duration::from_secs(config.reattach_timeout_secs),
        blocks_at_once: config.blocks_at_once.min(1_048_576),
        ..engine::EngineOptions::default()
    };
    let engine =
        engine::Engine::new(db.pool().clone(), hosts.clone(), hub.clone(), nas, engine_options);
    let auth = auth::Auth::new(
        db.pool().clone(),
        crate::auth::AuthOptions {
            live: live.clone(),
            ..config.auth_options().map_err(|message| anyhow::anyhow!(message))?
        },
    )
    .map_err(|error| anyhow::anyhow!("cannot set up sign-in: {error}"))?;
    if let Some((name, password)) =
        config.initial_admin().map_err(|message| anyhow::anyhow!(message))?
        && auth.user_count().await? == 0
    {
        auth.add_user(&name, burnin::access::Role::Admin, &password, "system", true)
            .await
            .map_err(|error| anyhow::anyhow!("BURNIN_INITIAL_ADMIN_USER {name:?}: {error}"))?;
        tracing::info!(user.name = %name, "made the first admin from BURNIN_INITIAL_ADMIN_USER");
    }
    let notifier = notify::Notifier::new(
        db.pool().clone(),
        master,
        live.clone(),
        config.listen,
        config.tls_cert.is_some(),
    );
    let services = Services {
        notifier,
        signer,
        observed: Default::default(),
        auth,
        destructive: Arc::new(service::DestructiveLimit::new(live.clone())),
        settings: live,
        terminal_tickets: Default::default(),
        host_tests: Default::default(),
        system: Arc::new(service::System {
            listen: config.listen.to_string(),
            data_dir: config.data_dir().map(|d| d.display().to_string()).unwrap_or_default(),
            database_file: config.database_file(),
            started_at: auth::now_unix(),
            update: Default::default(),
        }),
        db,
        hosts,
        hub,
        inventory,
        engine,
        demo_until_real_host: config.simulator == SimulatorMode::Auto && simulator.is_some(),
    };
    services.load_hub().await.map_err(|error| anyhow::anyhow!(error.message))?;
    // The notifier and the services hold each other from here on, for the life of the
    // process: an email about a finished burn-in carries the job's certificate.
    services.notifier.attach_certificates_from(Arc::new(services.clone()));
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
    Ok(Prepared { state: AppState { leptos_options, services }, simulator })
}

/// Serves until `shutdown` resolves, then gives running requests `grace` to finish.
pub async fn serve(
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run(prepare(config).await?, config, listener, shutdown).await
}

/// Serves a prepared application (see [`serve`]).
pub async fn run(
    prepared: Prepared,
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Prepared { state, simulator } = prepared;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(https::acceptor(cert, key)?),
        (None, None) => None,
        _ => anyhow::bail!("--tls-cert and --tls-key go together: give both, or neither"),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let inventory = state.services.inventory.clone();
    inventory.start_all().await;
    let engine = state.services.engine.clone();
    let scheduler = engine.start().await;
    let upkeep = upkeep::start(state.services.clone());
    let sealer = state.services.start_sealer();
    let host_alerts = alerts::start(state.services.clone());
    let outbox = notify::Worker::start(state.services.notifier.clone());
    let state_needs_setup = state.services.auth.user_count().await.unwrap_or(0) == 0;
    let app = http::router(state, Origins::new(&config.public_origins), config.listen);
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let address = listener.local_addr().context("listener has no local address")?;
    tracing::info!(http.address = %address, "serving the burn-in dashboard on {scheme}://{address}");
    if state_needs_setup {
        tracing::warn!(
            "no user exists yet: open {scheme}://{address}/setup to create the first admin (or set BURNIN_INITIAL_ADMIN_USER and BURNIN_INITIAL_ADMIN_PASSWORD)"
        );
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let graceful = {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
        }
    };
    let server: std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> = match tls {
        Some(acceptor) => Box::pin(https::serve(listener, acceptor, app, graceful)),
        None => Box::pin(
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(graceful)
            .into_future(),
        ),
    };
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
    inventory.stop_all().await;
    scheduler.abort();
    upkeep.abort();
    sealer.abort();
    host_alerts.abort();
    outbox.abort();
    engine.stop_all().await;
    drop(simulator);
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM (docker stop) or SIGINT (Ctrl-C).
///
/// The handlers are installed when this is called, not when the future is first polled: a
/// signal that arrives between "serving" being logged and the first poll would otherwise kill
/// the process with the default action instead of shutting it down.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let interrupt = async {
                match interrupt {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "cannot listen for SIGINT");
                        std::future::pending::<()>().await;
                    }
                }
            };
            let terminate = async {
                match terminate {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(error) => {
                        tracing::error!(error = %error, "cannot listen for SIGTERM");
                        std::future::pending::<()>().await;
                    }
                }
            };
            tokio::select! {
                () = interrupt => tracing::info!(signal = "SIGINT", "received a stop signal"),
                () = terminate => tracing::info!(signal = "SIGTERM", "received a stop signal"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
        tracing::info!(signal = "SIGINT", "received a stop signal");
    }
}
