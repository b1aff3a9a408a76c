//! A burn-in survives the dashboard: a restart mid-surface-test re-attaches to the detached
//! badblocks on the NAS, and a dropped SSH link is waited out.

use crate::common;

use std::{path::Path, sync::Arc, time::Duration};

use burnin_server::{
    db::Db,
    hosts::{HostStore, SimulatedHost},
    secrets::{MasterKey, Secret},
};
use burnin_simulator::{
    Config, DriveSpec, Faults, HostSpec, Personality, Protocol, Scenario, Simulator,
};
use common::TestServer;
use serde_json::{Value, json};

fn client_key() -> russh::keys::PrivateKey {
    russh::keys::PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
        &[42; 32],
    ))
}

async fn simulator() -> Simulator {
    let drive = DriveSpec {
        serial: "REATT001".into(),
        model: "ST4000VN008-2DR166".into(),
        size_bytes: 1_000_000_000_000,
        protocol: Protocol::Ata,
        rotation_rpm: 5900,
        wwn: None,
        devname: None,
        idle_temperature_c: 30.0,
        power_on_hours: 5,
        throughput_mb_s: 200.0,
        physical_sector_bytes: 4096,
        behaviours: Vec::new(),
        slot: None,
    };
    let host = HostSpec {
        name: "nas-reattach".into(),
        personality: Personality::Scale2510,
        api_key: "1-ReattachKey".into(),
        api_user: "root".into(),
        tls: false,
        ssh_user: "root".into(),
        authorized_keys: vec![client_key().public_key().to_openssh().unwrap()],
        drives: vec![drive],
        pools: Vec::new(),
        exported_pools: Vec::new(),
        boot_drives: Vec::new(),
    };
    burnin_simulator::start(Config::new(Scenario { seed: 5, speed: 1.0, hosts: vec![host] }))
        .await
        .unwrap()
}

/// Registers the simulated host in the dashboard's database, as an operator would.
async fn register(dir: &Path, sim: &Simulator) {
    let db = Db::open(&format!("sqlite://{}", dir.join("burnin.db").display())).await.unwrap();
    let master = Arc::new(MasterKey::load_or_create(&dir.join("master.key")).unwrap());
    let store = HostStore::new(db.pool().clone(), master);
    let host = &sim.hosts[0];
    let private =
        client_key().to_openssh(russh::keys::ssh_key::LineEnding::LF).unwrap().to_string();
    store
        .upsert_simulated(&SimulatedHost {
            name: host.name().to_owned(),
            api_url: host.api_url(),
            api_user: "root".into(),
            api_key: Secret::new("1-ReattachKey"),
            ssh_host: host.ssh_addr.ip().to_string(),
            ssh_port: host.ssh_addr.port(),
            ssh_user: "root".into(),
            ssh_private_key: Secret::new(private),
            ssh_host_key: host.ssh_host_key.clone(),
        })
        .await
        .unwrap();
}

async fn server(dir: tempfile::TempDir) -> TestServer {
    TestServer::start_with(dir, |config| {
        config.poll_interval_secs = 1;
        config.temperature_interval_secs = 1;
        config.stage_poll_ms = 30;
        config.stagger_ms = 0;
    })
    .await
}

async fn start_surface(server: &TestServer) -> i64 {
    let drives =
        server.wait_json("/api/v1/drives", |d| d.as_array().is_some_and(|d| d.len() == 1)).await;
    let id = drives[0]["id"].as_i64().unwrap();
    let response = server
        .client
        .post(server.url("/api/v1/burnin/start"))
        .json(&json!({"drive_ids": [id], "stages": ["surface"], "operator": "t", "confirm_serial": "REATT001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()[0]["id"].as_i64().unwrap()
}

fn surface_percent(job: &Value) -> f64 {
    job["stages"][1]["percent"].as_f64().unwrap_or(0.0)
}

/// One pass over 1 TB at 200 MB/s is 5000 simulated seconds; the test has eight.
const PASS: f64 = 5000.0;

#[tokio::test]
async fn a_restart_mid_surface_test_reattaches_and_finishes_right() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    register(dir.path(), &sim).await;
    let first = server(dir).await;
    let job = start_surface(&first).await;
    first
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            sim.clock.advance(200.0);
            surface_percent(j) > 20.0
        })
        .await;
    let dir = first.stop().await;
    let running = sim.hosts[0].with(|s| {
        s.processes.values().any(|p| p.state == burnin_simulator::host::ProcessState::Running)
    });
    assert!(running, "badblocks kept running on the NAS while the dashboard was down");

    // Half-way while the dashboard is down, then it comes back.
    sim.clock.advance(PASS * 2.0);
    let second = server(dir).await;
    let view =
        second.wait_json(&format!("/api/v1/burnin/{job}"), |j| surface_percent(j) > 45.0).await;
    assert_eq!(view["state"], "running");
    let done = second
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            sim.clock.advance(PASS / 4.0);
            !matches!(j["state"].as_str(), Some("running" | "queued"))
        })
        .await;
    assert_eq!(done["state"], "passed", "{done:#}");
    assert!(done["stages"][1]["detail"].as_str().unwrap().contains("8 passes completed"));
}

#[tokio::test]
async fn a_job_that_ended_while_the_dashboard_was_down_gets_its_result() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    register(dir.path(), &sim).await;
    let first = server(dir).await;
    let job = start_surface(&first).await;
    first
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            sim.clock.advance(200.0);
            surface_percent(j) > 5.0
        })
        .await;
    let dir = first.stop().await;
    sim.clock.advance(PASS * 9.0);
    let second = server(dir).await;
    let done = second
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            !matches!(j["state"].as_str(), Some("running" | "queued"))
        })
        .await;
    assert_eq!(done["state"], "passed", "{done:#}");
}

#[tokio::test]
async fn a_process_gone_while_the_dashboard_was_down_is_interrupted() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    register(dir.path(), &sim).await;
    let first = server(dir).await;
    let job = start_surface(&first).await;
    first
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            sim.clock.advance(200.0);
            surface_percent(j) > 5.0
        })
        .await;
    let dir = first.stop().await;
    // The NAS rebooted: the process is gone without an exit code.
    sim.hosts[0].with(|s| {
        for process in s.processes.values_mut() {
            process.state = burnin_simulator::host::ProcessState::Killed;
        }
    });
    let second = server(dir).await;
    let done = second
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            !matches!(j["state"].as_str(), Some("running" | "queued"))
        })
        .await;
    assert_eq!(done["state"], "interrupted", "{done:#}");
    assert!(done["reason"].as_str().unwrap().contains("disappeared"), "{done:#}");
}

#[tokio::test]
async fn a_dropped_ssh_link_is_waited_out() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    register(dir.path(), &sim).await;
    let server = server(dir).await;
    let job = start_surface(&server).await;
    server
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            sim.clock.advance(200.0);
            surface_percent(j) > 5.0
        })
        .await;
    let host = &sim.hosts[0];
    host.set_faults(Faults { ssh_refuse: true, ..Faults::default() });
    host.drop_ssh_connections();
    let waiting = server
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            j["stages"][1]["detail"].as_str().unwrap_or("").starts_with("waiting for the NAS")
        })
        .await;
    assert_eq!(waiting["state"], "running");
    sim.clock.advance(PASS * 2.0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    host.set_faults(Faults::default());
    let done = server
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            sim.clock.advance(PASS / 4.0);
            !matches!(j["state"].as_str(), Some("running" | "queued"))
        })
        .await;
    assert_eq!(done["state"], "passed", "{done:#}");
}

#[tokio::test]
async fn a_start_still_on_its_way_when_the_dashboard_died_can_never_make_a_second_writer() {
    let sim = simulator().await;
    let host = sim.hosts[0].clone();
    let dir = tempfile::tempdir().unwrap();
    register(dir.path(), &sim).await;
    // The start reaches the NAS only after the dashboard is gone: held unanswered, then let go.
    host.hold(burnin_simulator::CommandKind::Start);
    let first = TestServer::start_with(dir, |config| {
        config.poll_interval_secs = 1;
        config.temperature_interval_secs = 1;
        config.stage_poll_ms = 30;
        config.stagger_ms = 0;
        config.start_confirm_grace_secs = 1;
    })
    .await;
    let job = start_surface(&first).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while host.held() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the start never reached the NAS");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dir = first.stop().await;
    // The dashboard comes back: the folder never started, so it is abandoned and a fresh one
    // is tried (its start is held too, for now).
    let second = TestServer::start_with(dir, |config| {
        config.poll_interval_secs = 1;
        config.temperature_interval_secs = 1;
        config.stage_poll_ms = 30;
        config.stagger_ms = 0;
        config.start_confirm_grace_secs = 1;
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while host.held() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no second start was tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let abandoned =
        host.with(|s| s.files.keys().filter(|k| k.ends_with("/claim/abandoned")).count());
    assert_eq!(abandoned, 1, "the first folder was claimed before a new start was sent");
    // Both starts now arrive: the late one finds its folder claimed, the fresh one runs.
    host.release();
    let done = second
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            sim.clock.advance(PASS / 2.0);
            !matches!(j["state"].as_str(), Some("running" | "queued"))
        })
        .await;
    assert_eq!(done["state"], "passed", "{done:#}");
    let (writers, attempts) =
        host.with(|s| (s.writers_for("REATT001"), s.start_attempts.get("REATT001").copied()));
    assert_eq!((writers, attempts), (1, Some(2)), "two starts sent, one writer");
}
