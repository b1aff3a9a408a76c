//! The built-in simulated fleet: when no real host is configured, the dashboard starts the
//! simulator's demo fleet in-process and registers its hosts like any other. The product
//! reaches them only through the TrueNAS WebSocket API and SSH on loopback, never through a
//! function call, so the demo runs the same code a real NAS gets.

use std::path::Path;

use burnin_simulator::{Config, Simulator, fleet};

use crate::{
    hosts::{HostStore, SimulatedHost},
    secrets::{Secret, random_bytes},
};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot prepare the simulator's folder {path}: {cause}")]
    Folder { path: String, cause: String },
    #[error("cannot create the demo SSH key: {0}")]
    Key(String),
    #[error("the simulated fleet did not start: {0}")]
    Start(#[from] burnin_simulator::SimError),
    #[error("cannot register the simulated hosts: {0}")]
    Register(#[from] crate::hosts::HostError),
}

/// The demo's SSH client key, kept across restarts (so the simulator's authorised key and
/// the stored host credentials stay in step).
fn client_key(dir: &Path) -> Result<(Secret, String), DemoError> {
    let path = dir.join("client_ed25519");
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => russh::keys::PrivateKey::from_openssh(text.trim())
            .map_err(|e| DemoError::Key(e.to_string()))?,
        Err(_) => {
            let seed = random_bytes::<32>().map_err(|e| DemoError::Key(e.to_string()))?;
            let pair = russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed);
            let key = russh::keys::PrivateKey::from(pair);
            let text = key
                .to_openssh(russh::keys::ssh_key::LineEnding::LF)
                .map_err(|e| DemoError::Key(e.to_string()))?;
            crate::secrets::write_private(&path, text.as_bytes())
                .map_err(|e| DemoError::Key(e.to_string()))?;
            key
        }
    };
    let private = key
        .to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .map_err(|e| DemoError::Key(e.to_string()))?;
    let public = key.public_key().to_openssh().map_err(|e| DemoError::Key(e.to_string()))?;
    Ok((Secret::new(private.to_string()), public))
}

fn api_key() -> Result<Secret, DemoError> {
    let bytes = random_bytes::<24>().map_err(|e| DemoError::Key(e.to_string()))?;
    let material: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Secret::new(format!("1-{material}")))
}

/// Starts the demo fleet on loopback and registers (or refreshes) its hosts.
pub async fn start(
    state_dir: &Path,
    hosts: &HostStore,
    speed: f64,
) -> Result<Simulator, DemoError> {
    std::fs::create_dir_all(state_dir).map_err(|e| DemoError::Folder {
        path: state_dir.display().to_string(),
        cause: e.to_string(),
    })?;
    let (private_key, public_key) = client_key(state_dir)?;
    let (scale_key, core_key) = (api_key()?, api_key()?);
    let mut scenario = fleet::demo(scale_key.expose(), core_key.expose(), &public_key);
    if speed.is_finite() && speed > 0.0 {
        scenario.speed = speed;
    }
    let mut config = Config::new(scenario);
    config.state_dir = Some(state_dir.to_path_buf());
    let sim = burnin_simulator::start(config).await?;
    for host in &sim.hosts {
        let spec = &host.core.spec;
        let registered = SimulatedHost {
            name: spec.name.clone(),
            api_url: host.api_url(),
            api_user: spec.api_user.clone(),
            api_key: Secret::new(spec.api_key.clone()),
            ssh_host: host.ssh_addr.ip().to_string(),
            ssh_port: host.ssh_addr.port(),
            ssh_user: spec.ssh_user.clone(),
            ssh_private_key: private_key.clone(),
            ssh_host_key: host.ssh_host_key.clone(),
        };
        hosts.upsert_simulated(&registered).await?;
        tracing::info!(host.name = %spec.name, api.url = %registered.api_url, "simulated host registered");
    }
    Ok(sim)
}
