//! The benchmark fleet (`fleet::bench`) with a small HTTP control for the live benchmark
//! (`scripts/bench-live.sh`): it changes drive temperatures at a known instant, either at once
//! or at the host's next temperature read, and keeps a background of other changes going.
//!
//! Prints one JSON line on stdout: the control URL, the SSH private key every host accepts,
//! and each host's API URL, key and SSH address. Control routes (JSON):
//! - `GET /clock` → `{"ms": <Unix time in ms>}`, to align clocks with the driver;
//! - `POST /temperature {"host", "serial", "celsius", "at": "now"|"read"}` → `{"applied_ms"}`,
//!   answering once the change took effect (`read`: at the host's next `disk.temperatures`);
//! - `POST /churn {"per_second", "skip_first"}`: changes that many random drives a second,
//!   leaving the first `skip_first` drives of every host alone (0 stops);
//! - `GET /stats` → `{"churn_changes"}`.

use std::{
    net::SocketAddr,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use burnin_simulator::{Config, SimHost, fleet, host::StagedTemperature};
use clap::Parser;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{sync::Mutex, task::JoinHandle};

#[derive(Parser)]
#[command(
    name = "burnin-bench-fleet",
    version,
    about = "The benchmark fleet of simulated TrueNAS hosts, with an HTTP control."
)]
struct Cli {
    /// Number of hosts.
    #[arg(long, default_value_t = 20)]
    hosts: usize,
    /// Drives per host.
    #[arg(long, default_value_t = 50)]
    drives: usize,
    /// Address of the control HTTP server (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    control: SocketAddr,
}

#[derive(Clone)]
struct Control {
    hosts: Arc<Vec<SimHost>>,
    churn: Arc<Mutex<Option<JoinHandle<()>>>>,
    churn_changes: Arc<AtomicU64>,
}

fn millis(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

type Answer = Result<Json<Value>, (StatusCode, String)>;

async fn clock() -> Json<Value> {
    Json(json!({"ms": millis(SystemTime::now())}))
}

#[derive(Deserialize)]
struct Change {
    host: String,
    serial: String,
    celsius: f64,
    at: String,
}

async fn temperature(State(control): State<Control>, Json(change): Json<Change>) -> Answer {
    let host = control
        .hosts
        .iter()
        .find(|h| h.name() == change.host)
        .ok_or((StatusCode::NOT_FOUND, format!("no host {}", change.host)))?;
    let unknown = || (StatusCode::NOT_FOUND, format!("no drive {}", change.serial));
    match change.at.as_str() {
        "now" => {
            let applied = host.with(|state| {
                state.set_temperature(&change.serial, change.celsius).then(SystemTime::now)
            });
            let applied = applied.ok_or_else(unknown)?;
            Ok(Json(json!({"applied_ms": millis(applied)})))
        }
        "read" => {
            let (sender, receiver) = tokio::sync::oneshot::channel();
            let known = host.with(|state| {
                let known = state.drive_by_serial(&change.serial).is_some();
                if known {
                    state.staged_temperatures.push(StagedTemperature {
                        serial: change.serial.clone(),
                        celsius: change.celsius,
                        applied: sender,
                    });
                }
                known
            });
            if !known {
                return Err(unknown());
            }
            match tokio::time::timeout(Duration::from_secs(15), receiver).await {
                Ok(Ok(applied)) => Ok(Json(json!({"applied_ms": millis(applied)}))),
                _ => Err((
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("{} did not read its temperatures within 15 s", change.host),
                )),
            }
        }
        other => Err((StatusCode::BAD_REQUEST, format!("at must be now or read, not {other:?}"))),
    }
}

#[derive(Deserialize)]
struct Churn {
    per_second: f64,
    #[serde(default)]
    skip_first: usize,
}

async fn churn(State(control): State<Control>, Json(churn): Json<Churn>) -> Json<Value> {
    let mut task = control.churn.lock().await;
    if let Some(task) = task.take() {
        task.abort();
    }
    if churn.per_second > 0.0 && churn.per_second.is_finite() {
        let hosts = control.hosts.clone();
        let counter = control.churn_changes.clone();
        let period = Duration::from_secs_f64(1.0 / churn.per_second);
        *task = Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut random = 0x9e37_79b9_7f4a_7c15_u64;
            loop {
                tick.tick().await;
                random = burnin_simulator::clock::mix(random);
                let Some(host) = hosts.get((random % hosts.len().max(1) as u64) as usize) else {
                    continue;
                };
                let drives = host.core.spec.drives.len();
                if drives <= churn.skip_first {
                    continue;
                }
                let index =
                    churn.skip_first + ((random >> 20) as usize % (drives - churn.skip_first));
                host.with(|state| {
                    if let Some(drive) = state.drives.get(index) {
                        let serial = drive.spec.serial.clone();
                        // Between two neighbouring degrees, so readings stay plausible.
                        let now = drive.temperature_c;
                        let next = if now.rem_euclid(2.0) == 0.0 { now + 1.0 } else { now - 1.0 };
                        state.set_temperature(&serial, next);
                    }
                });
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    Json(json!({"per_second": churn.per_second}))
}

async fn stats(State(control): State<Control>) -> Json<Value> {
    Json(json!({"churn_changes": control.churn_changes.load(Ordering::Relaxed)}))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("burnin-bench-fleet: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let client_key =
        burnin_simulator::ssh::load_or_create_host_key(None).map_err(|e| e.to_string())?;
    let private_key = client_key
        .to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .map_err(|e| e.to_string())?
        .to_string();
    let public_key = burnin_simulator::ssh::public_key_openssh(&client_key);
    let api_key = "1-BenchFleetKey";
    let scenario = fleet::bench(cli.hosts, cli.drives, api_key, &public_key);
    let sim = burnin_simulator::start(Config::new(scenario)).await.map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(cli.control)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.control))?;
    let control_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let hosts: Vec<Value> = sim
        .hosts
        .iter()
        .map(|host| {
            let spec = &host.core.spec;
            json!({
                "name": spec.name,
                "personality": spec.personality,
                "api_url": host.api_url(),
                "api_key": spec.api_key,
                "ssh_host": host.ssh_addr.ip().to_string(),
                "ssh_port": host.ssh_addr.port(),
                "serials": spec.drives.iter().map(|d| d.serial.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    println!(
        "{}",
        json!({
            "control": format!("http://{control_addr}"),
            "ssh_private_key": private_key,
            "hosts": hosts,
        })
    );
    let control = Control {
        hosts: Arc::new(sim.hosts.clone()),
        churn: Arc::default(),
        churn_changes: Arc::default(),
    };
    let app = Router::new()
        .route("/clock", get(clock))
        .route("/temperature", post(temperature))
        .route("/churn", post(churn))
        .route("/stats", get(stats))
        .with_state(control);
    let server = axum::serve(listener, app);
    tokio::select! {
        result = server => result.map_err(|e| e.to_string())?,
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(sim);
    Ok(())
}
