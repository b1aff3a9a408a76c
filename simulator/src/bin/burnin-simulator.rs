//! Runs simulated TrueNAS hosts from a scenario file (or the built-in demo fleet) and prints
//! where each listens.

use std::{net::IpAddr, path::PathBuf, process::ExitCode};

use burnin_simulator::{Config, Scenario, fleet};
use clap::Parser;

#[derive(Parser)]
#[command(
    name = "burnin-simulator",
    version,
    about = "Simulated TrueNAS hosts: the WebSocket API and SSH, for demos and tests."
)]
struct Cli {
    /// Scenario file (JSON). Without one, the built-in demo fleet runs.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port range FIRST-LAST to take ports from, two per host (API, SSH). Free ports otherwise.
    #[arg(long, value_parser = parse_range)]
    ports: Option<(u16, u16)>,
    /// Folder for host keys and certificates, so they survive restarts.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Override the scenario's speed factor (simulated seconds per real second).
    #[arg(long)]
    speed: Option<f64>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// With the demo fleet: the OpenSSH public key allowed to log in.
    #[arg(long, default_value = "")]
    authorized_key: String,
}

fn parse_range(text: &str) -> Result<(u16, u16), String> {
    let (first, last) = text.split_once('-').ok_or("expected FIRST-LAST, e.g. 42000-42100")?;
    let first: u16 = first.trim().parse().map_err(|_| format!("{first:?} is not a port"))?;
    let last: u16 = last.trim().parse().map_err(|_| format!("{last:?} is not a port"))?;
    if first >= last {
        return Err("the first port must be below the last".to_owned());
    }
    Ok((first, last))
}

fn load(cli: &Cli) -> Result<Scenario, String> {
    let mut scenario = match &cli.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a valid scenario: {e}", path.display()))?
        }
        None => fleet::demo("1-DemoScaleKey", "1-DemoCoreKey", &cli.authorized_key),
    };
    if let Some(speed) = cli.speed {
        scenario.speed = speed;
    }
    if let Some(seed) = cli.seed {
        scenario.seed = seed;
    }
    Ok(scenario)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let scenario = match load(&cli) {
        Ok(scenario) => scenario,
        Err(message) => {
            eprintln!("burnin-simulator: {message}");
            return ExitCode::FAILURE;
        }
    };
    let config =
        Config { scenario, bind: cli.bind, ports: cli.ports, state_dir: cli.state_dir.clone() };
    let sim = match burnin_simulator::start(config).await {
        Ok(sim) => sim,
        Err(error) => {
            eprintln!("burnin-simulator: {error}");
            return ExitCode::FAILURE;
        }
    };
    for host in &sim.hosts {
        let spec = &host.core.spec;
        println!(
            "{}\t{:?}\tapi {}\tssh {}\tkey {}\tdrives {}",
            host.name(),
            spec.personality,
            host.api_url(),
            host.ssh_addr,
            spec.api_key,
            spec.drives.len()
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
