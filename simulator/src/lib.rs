//! `burnin-simulator`: fake TrueNAS hosts that speak the real protocols.
//!
//! Each host serves the TrueNAS WebSocket API (JSON-RPC 2.0 or the legacy protocol, per its
//! [`Personality`]) and an SSH server whose restricted interpreter answers the commands the
//! product runs (`smartctl`, `badblocks` detached, safety probes) for simulated drives. The
//! product's demo mode and every test point the real client code at these hosts, so there is
//! no second code path: what the tests exercise is what runs against a real NAS.
//!
//! Time runs at a scenario's speed factor and randomness is seeded, so runs repeat.

pub mod api;
pub mod badblocks;
pub mod clock;
pub mod drive;
pub mod fleet;
pub mod host;
pub mod probes;
pub mod scenario;
pub mod smartctl;
pub mod ssh;
mod tls;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio::{
    net::TcpListener,
    sync::{broadcast, watch},
    task::JoinHandle,
};

pub use clock::SimClock;
pub use host::{BeforeStart, CommandKind, Faults, HostState};
pub use scenario::{Behaviour, DriveSpec, HostSpec, Personality, PoolSpec, Protocol, Scenario};

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("no free port pair in {first}..={last} for host {host}")]
    NoPorts { host: String, first: u16, last: u16 },
    #[error("host key {path}: {reason}")]
    HostKey { path: String, reason: String },
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    #[error("the scenario is invalid: {0}")]
    Scenario(String),
    #[error("cannot read the scenario {path}: {reason}")]
    ScenarioFile { path: String, reason: String },
}

/// A change an API subscriber may see (`collection_update`).
#[derive(Clone, Debug, PartialEq)]
pub struct HostEvent {
    pub collection: String,
    /// `added`, `changed` or `removed`.
    pub msg: &'static str,
    pub id: Value,
    pub fields: Value,
}

/// One running simulated host, shared by its API server, SSH server and the test handle.
pub struct HostCore {
    pub name: String,
    pub spec: HostSpec,
    pub clock: SimClock,
    pub tls: bool,
    state: Mutex<HostState>,
    pub events: broadcast::Sender<HostEvent>,
    /// Bumped to drop every open API connection.
    pub api_kill: watch::Sender<u64>,
    /// Bumped to drop every open SSH connection.
    pub ssh_kill: watch::Sender<u64>,
    /// Commands of this kind wait (unanswered) until the hold is lifted.
    hold: watch::Sender<Option<host::CommandKind>>,
    /// How many commands are waiting on the hold now.
    held: std::sync::atomic::AtomicUsize,
    /// When each SSH connection the faults refused came in, for tests of how often a client
    /// retries a host that does not answer.
    refused_ssh: std::sync::Mutex<Vec<Instant>>,
    started: Instant,
}

impl HostCore {
    pub(crate) fn note_refused_ssh(&self) {
        if let Ok(mut at) = self.refused_ssh.lock() {
            at.push(Instant::now());
        }
    }

    fn lock(&self) -> MutexGuard<'_, HostState> {
        // A panic while holding the lock leaves consistent-enough state for a simulator;
        // keep serving rather than poisoning every later call.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the host's state, brought up to the current simulated time first.
    pub fn with<R>(&self, f: impl FnOnce(&mut HostState) -> R) -> R {
        let mut state = self.lock();
        state.advance(self.clock.now());
        f(&mut state)
    }

    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Waits while commands of `kind` are held (see [`SimHost::hold`]).
    pub async fn wait_while_held(&self, kind: host::CommandKind) {
        let mut hold = self.hold.subscribe();
        if *hold.borrow_and_update() != Some(kind) {
            return;
        }
        self.held.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _ = hold.wait_for(|held| *held != Some(kind)).await;
        self.held.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn personality(&self) -> Personality {
        self.spec.personality
    }

    pub fn uptime_seconds(&self) -> f64 {
        86_400.0 * 3.0 + self.started.elapsed().as_secs_f64()
    }

    fn session_seed(&self) -> u64 {
        clock::hash_str(&self.name) ^ self.started.elapsed().as_nanos() as u64
    }
}

/// Where a simulated host listens, and what a client needs to trust it.
#[derive(Clone)]
pub struct SimHost {
    pub core: Arc<HostCore>,
    pub api_addr: SocketAddr,
    pub ssh_addr: SocketAddr,
    /// The self-signed certificate (DER) when the API uses TLS.
    pub tls_certificate_der: Option<Vec<u8>>,
    /// The SSH host key as an OpenSSH public key line.
    pub ssh_host_key: String,
}

impl SimHost {
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// `ws://…` or `wss://…` base URL of the API (no path).
    pub fn api_url(&self) -> String {
        let scheme = if self.core.tls { "wss" } else { "ws" };
        format!("{scheme}://{}", self.api_addr)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut HostState) -> R) -> R {
        self.core.with(f)
    }

    pub fn set_faults(&self, faults: Faults) {
        self.core.with(|state| state.faults = faults);
    }

    /// Drops every open API WebSocket (the "WebSocket dropped" fault).
    pub fn drop_api_connections(&self) {
        self.core.api_kill.send_modify(|n| *n += 1);
    }

    /// When each SSH connection refused by [`Faults`] (offline, `ssh_refuse`) came in.
    pub fn refused_ssh_connections(&self) -> Vec<Instant> {
        self.core.refused_ssh.lock().map(|at| at.clone()).unwrap_or_default()
    }

    /// Drops every open SSH connection.
    pub fn drop_ssh_connections(&self) {
        self.core.ssh_kill.send_modify(|n| *n += 1);
    }

    /// Holds every SSH command of `kind` unanswered until [`SimHost::release`], so a test can
    /// act while the product waits on one (a cancel during the pre-check, say).
    pub fn hold(&self, kind: host::CommandKind) {
        self.core.hold.send_replace(Some(kind));
    }

    pub fn release(&self) {
        self.core.hold.send_replace(None);
    }

    /// Commands waiting on the hold now.
    pub fn held(&self) -> usize {
        self.core.held.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// How to run a fleet.
#[derive(Clone, Debug)]
pub struct Config {
    pub scenario: Scenario,
    pub bind: IpAddr,
    /// Ports to use, two per host (API, then SSH); `None` takes free ports from the OS.
    pub ports: Option<(u16, u16)>,
    /// Where host keys and certificates persist across restarts; `None` keeps them in memory.
    pub state_dir: Option<PathBuf>,
}

impl Config {
    pub fn new(scenario: Scenario) -> Config {
        Config { scenario, bind: IpAddr::V4(Ipv4Addr::LOCALHOST), ports: None, state_dir: None }
    }
}

/// A running fleet. Dropping it stops every host.
pub struct Simulator {
    pub hosts: Vec<SimHost>,
    pub clock: SimClock,
    tasks: Vec<JoinHandle<()>>,
}

impl Simulator {
    pub fn host(&self, name: &str) -> Option<&SimHost> {
        self.hosts.iter().find(|host| host.name() == name)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts every host of the scenario.
pub async fn start(config: Config) -> Result<Simulator, SimError> {
    validate(&config.scenario)?;
    let clock = SimClock::new(config.scenario.speed);
    let mut hosts = Vec::new();
    let mut tasks = Vec::new();
    let mut next_port = config.ports.map(|(first, _)| first);
    for spec in &config.scenario.hosts {
        let (api_listener, ssh_listener) = match config.ports {
            None => (bind(config.bind, 0).await?, bind(config.bind, 0).await?),
            Some((first, last)) => {
                let mut found = None;
                while let Some(port) = next_port.filter(|p| *p < last) {
                    next_port = Some(port + 2);
                    if let (Ok(api), Ok(ssh)) =
                        (bind(config.bind, port).await, bind(config.bind, port + 1).await)
                    {
                        found = Some((api, ssh));
                        break;
                    }
                }
                found.ok_or_else(|| SimError::NoPorts { host: spec.name.clone(), first, last })?
            }
        };
        let api_addr = local(&api_listener)?;
        let ssh_addr = local(&ssh_listener)?;
        let host_dir = config.state_dir.as_ref().map(|dir| dir.join(&spec.name));
        if let Some(dir) = &host_dir {
            std::fs::create_dir_all(dir).map_err(|error| SimError::HostKey {
                path: dir.display().to_string(),
                reason: error.to_string(),
            })?;
        }
        let key = ssh::load_or_create_host_key(
            host_dir.as_ref().map(|d| d.join("ssh_host_ed25519_key")).as_deref(),
        )?;
        let ssh_host_key = ssh::public_key_openssh(&key);
        let tls = if spec.tls { Some(tls::acceptor(host_dir.as_deref())?) } else { None };

        let mut state = HostState::new(spec, config.scenario.seed);
        state.ssh_host_key_pub = Some(ssh_host_key.clone()).filter(|k| !k.is_empty());
        state.ssh_port = ssh_addr.port();
        state.speed = clock.speed();
        let core = Arc::new(HostCore {
            name: spec.name.clone(),
            spec: spec.clone(),
            clock: clock.clone(),
            tls: spec.tls,
            state: Mutex::new(state),
            events: broadcast::channel(1024).0,
            api_kill: watch::channel(0).0,
            ssh_kill: watch::channel(0).0,
            hold: watch::channel(None).0,
            held: std::sync::atomic::AtomicUsize::new(0),
            refused_ssh: std::sync::Mutex::new(Vec::new()),
            started: Instant::now(),
        });
        tracing::info!(host.name = %spec.name, api.address = %api_addr, ssh.address = %ssh_addr, "simulated host listening");
        tasks.push(tokio::spawn(serve_api(
            core.clone(),
            api_listener,
            tls.as_ref().map(|(acceptor, _)| acceptor.clone()),
        )));
        tasks.push(tokio::spawn(ssh::serve(core.clone(), ssh_listener, key)));
        tasks.push(tokio::spawn(pump_events(core.clone(), Snapshot::of(&core))));
        hosts.push(SimHost {
            core,
            api_addr,
            ssh_addr,
            tls_certificate_der: tls.map(|(_, der)| der),
            ssh_host_key,
        });
    }
    Ok(Simulator { hosts, clock, tasks })
}

fn validate(scenario: &Scenario) -> Result<(), SimError> {
    let mut names = std::collections::BTreeSet::new();
    for host in &scenario.hosts {
        if !names.insert(&host.name) {
            return Err(SimError::Scenario(format!("two hosts are named {:?}", host.name)));
        }
        let serials: std::collections::BTreeSet<&str> =
            host.drives.iter().map(|d| d.serial.as_str()).collect();
        for pool in host.pools.iter().chain(&host.exported_pools) {
            for member in &pool.members {
                if !serials.contains(member.as_str()) {
                    return Err(SimError::Scenario(format!(
                        "pool {:?} on {:?} names drive {member:?}, which the host does not have",
                        pool.name, host.name
                    )));
                }
            }
        }
        for boot in &host.boot_drives {
            if !serials.contains(boot.as_str()) {
                return Err(SimError::Scenario(format!(
                    "boot drive {boot:?} is not a drive of {:?}",
                    host.name
                )));
            }
        }
    }
    Ok(())
}

async fn bind(ip: IpAddr, port: u16) -> Result<TcpListener, SimError> {
    let address = SocketAddr::new(ip, port);
    TcpListener::bind(address)
        .await
        .map_err(|source| SimError::Bind { address: address.to_string(), source })
}

fn local(listener: &TcpListener) -> Result<SocketAddr, SimError> {
    listener.local_addr().map_err(|source| SimError::Bind { address: "?".to_owned(), source })
}

async fn serve_api(
    core: Arc<HostCore>,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let router = api::router(core.clone());
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let faults = core.faults();
        if faults.offline || faults.api_refuse {
            drop(stream);
            continue;
        }
        let router = router.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper_util::service::TowerToHyperService::new(router);
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = builder.serve_connection(io, service).with_upgrades().await;
                    }
                }
                None => {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = builder.serve_connection(io, service).with_upgrades().await;
                }
            }
        });
    }
}

/// What the API subscribers were last told about: jobs by id, disks by identifier.
struct Snapshot {
    jobs: std::collections::BTreeMap<u64, Value>,
    disks: std::collections::BTreeMap<String, Value>,
}

impl Snapshot {
    fn of(core: &HostCore) -> Self {
        let personality = core.personality();
        core.with(|state| Snapshot {
            jobs: state
                .jobs
                .values()
                .map(|job| (job.id, api::jobs::encode(job, personality)))
                .collect(),
            disks: if personality.has_disk_events() {
                state
                    .present_drives()
                    .map(|drive| {
                        (
                            api::shapes::identifier(drive),
                            api::shapes::disk_entry(state, drive, true),
                        )
                    })
                    .collect()
            } else {
                Default::default()
            },
        })
    }
}

/// Turns state changes into `collection_update` events for subscribers: job progress, and
/// (on releases that publish it) `disk.query` changes.
///
/// The first snapshot is `initial`, taken when the host was created: the task's first tick
/// may come after a client has already connected and changed something, and a change made
/// before the first snapshot would otherwise never be published.
async fn pump_events(core: Arc<HostCore>, initial: Snapshot) {
    let Snapshot { mut jobs, mut disks } = initial;
    let mut interval = tokio::time::interval(Duration::from_millis(200));
    loop {
        interval.tick().await;
        // Snapshots are taken even with nobody listening, so a subscriber that arrives later
        // is told about changes relative to what existed before it came, not from scratch.
        let listening = core.events.receiver_count() > 0;
        let Snapshot { jobs: job_now, disks: disk_now } = Snapshot::of(&core);
        if !listening {
            jobs = job_now;
            disks = disk_now;
            continue;
        }
        for (id, job) in &job_now {
            let msg = match jobs.get(id) {
                None => "added",
                Some(previous) if previous != job => "changed",
                Some(_) => continue,
            };
            let _ = core.events.send(HostEvent {
                collection: "core.get_jobs".into(),
                msg,
                id: Value::from(*id),
                fields: job.clone(),
            });
        }
        jobs = job_now;
        for (id, disk) in &disk_now {
            let msg = match disks.get(id) {
                None => "added",
                Some(previous) if previous != disk => "changed",
                Some(_) => continue,
            };
            let _ = core.events.send(HostEvent {
                collection: "disk.query".into(),
                msg,
                id: Value::from(id.clone()),
                fields: disk.clone(),
            });
        }
        for id in disks.keys().filter(|id| !disk_now.contains_key(*id)) {
            let _ = core.events.send(HostEvent {
                collection: "disk.query".into(),
                msg: "removed",
                id: Value::from(id.clone()),
                fields: Value::Null,
            });
        }
        disks = disk_now;
    }
}
