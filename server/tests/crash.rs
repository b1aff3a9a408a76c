//! The dashboard killed with SIGKILL at random moments of surface stages: every job is
//! re-attached after the restart, none is lost, and the simulated NAS never sees a second
//! writer for a disk. The server is the real binary, killed and started again on the same
//! database; the NAS is the simulator in this process, reached over loopback.

use crate::common;

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use burnin_server::{
    db::Db,
    hosts::{HostStore, SimulatedHost},
    secrets::{MasterKey, Secret},
};
use burnin_simulator::{Config, DriveSpec, HostSpec, Personality, Protocol, Scenario, Simulator};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_burnin-server");
const DRIVES: usize = 10;
const API_KEY: &str = "1-CrashTestKey";

fn client_key() -> russh::keys::PrivateKey {
    russh::keys::PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
        &[77; 32],
    ))
}

fn serial(index: usize) -> String {
    format!("CRASH{index:03}")
}

async fn simulator() -> Simulator {
    let drives = (0..DRIVES)
        .map(|index| DriveSpec {
            serial: serial(index),
            model: "ST4000VN008-2DR166".into(),
            size_bytes: 1_000_000_000_000,
            protocol: if index % 3 == 2 { Protocol::Scsi } else { Protocol::Ata },
            rotation_rpm: 5900,
            wwn: None,
            devname: None,
            idle_temperature_c: 30.0,
            power_on_hours: 5,
            throughput_mb_s: 200.0,
            physical_sector_bytes: 4096,
            behaviours: Vec::new(),
            slot: None,
        })
        .collect();
    let host = HostSpec {
        name: "nas-crash".into(),
        personality: Personality::Scale2510,
        api_key: API_KEY.into(),
        api_user: "root".into(),
        tls: false,
        ssh_user: "root".into(),
        authorized_keys: vec![client_key().public_key().to_openssh().unwrap()],
        drives,
        pools: Vec::new(),
        exported_pools: Vec::new(),
        boot_drives: Vec::new(),
    };
    burnin_simulator::start(Config::new(Scenario { seed: 11, speed: 1.0, hosts: vec![host] }))
        .await
        .unwrap()
}

/// Registers the simulated host and answers an admin API token.
async fn register(dir: &Path, sim: &Simulator) -> String {
    let db = Db::open(&format!("sqlite://{}", dir.join("burnin.db").display())).await.unwrap();
    let auth = burnin_server::auth::Auth::new(db.pool().clone(), Default::default()).unwrap();
    auth.add_user("admin", burnin::access::Role::Admin, "correct horse battery staple", "t", true)
        .await
        .unwrap();
    let (_, token) =
        auth.create_token("admin", "crash", burnin::access::Scope::Admin, "t").await.unwrap();
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
            api_key: Secret::new(API_KEY),
            ssh_host: host.ssh_addr.ip().to_string(),
            ssh_port: host.ssh_addr.port(),
            ssh_user: "root".into(),
            ssh_private_key: Secret::new(private),
            ssh_host_key: host.ssh_host_key.clone(),
        })
        .await
        .unwrap();
    db.pool().close().await;
    token
}

struct Dashboard {
    child: Child,
    base: String,
}

impl Dashboard {
    async fn start(dir: &Path) -> Dashboard {
        let url = format!("sqlite://{}", dir.join("burnin.db").display());
        let log_path = dir.join("server.log");
        let from = std::fs::metadata(&log_path).map(|m| m.len() as usize).unwrap_or(0);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--database-url", &url])
            .args(["--simulator", "never", "--stage-poll-ms", "30", "--stagger-ms", "0"])
            .args(["--poll-interval-secs", "1", "--temperature-interval-secs", "1"])
            .args(["--start-confirm-grace-secs", "1", "--site-root", &dir.display().to_string()])
            .env("BURNIN_LOG", "info,burnin_server=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let address = common::served_address(&log_path, from).await;
        let dashboard = Dashboard { child, base: format!("http://{address}") };
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", dashboard.base)).send().await
                && response.status().is_success()
            {
                return dashboard;
            }
            assert!(tokio::time::Instant::now() < deadline, "the dashboard did not start");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGKILL: no shutdown, no cleanup, as a crash or an OOM kill.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

async fn get(client: &reqwest::Client, base: &str, path: &str) -> Value {
    client.get(format!("{base}{path}")).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn ten_kill_9s_at_random_moments_lose_no_job_and_never_make_a_second_writer() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let token = register(dir.path(), &sim).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .default_headers(headers)
        .build()
        .unwrap();
    let mut dashboard = Dashboard::start(dir.path()).await;
    let drives = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let drives = get(&client, &dashboard.base, "/api/v1/drives").await;
            if drives.as_array().is_some_and(|d| d.len() == DRIVES) {
                break drives;
            }
            assert!(tokio::time::Instant::now() < deadline, "{drives}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    // A fixed seed, so a failure repeats.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut jobs = Vec::new();
    let mut reattached = 0;
    for index in 0..DRIVES {
        let serial = serial(index);
        let id = drives.as_array().unwrap().iter().find(|d| d["serial"] == serial).unwrap()["id"]
            .as_i64()
            .unwrap();
        let answer = client
            .post(format!("{}/api/v1/burnin/start", dashboard.base))
            .json(&json!({"drive_ids": [id], "stages": ["surface"], "operator": "crash", "confirm_serial": serial}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
        let job = answer.json::<Value>().await.unwrap()[0]["id"].as_i64().unwrap();
        jobs.push(job);
        // Somewhere from the checks before the start to well into the test: every other
        // round lets the test run for up to half its length first.
        // Even rounds die within the first 250 ms: during the checks, the pre-check, between
        // writing the folder's name and sending the start, or just after.
        let delay =
            Duration::from_millis(if index % 2 == 0 { next() % 250 } else { next() % 1200 });
        tokio::time::sleep(delay).await;
        if index % 2 == 1 {
            sim.clock.advance((next() % 20_000) as f64);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let before = get(&client, &dashboard.base, &format!("/api/v1/burnin/{job}")).await;
        let percent = before["stages"][1]["percent"].as_f64().unwrap_or(0.0);
        dashboard.kill();
        eprintln!(
            "{serial}: killed {} ms after its start; surface {} at {percent:.1} % ({})",
            delay.as_millis(),
            before["stages"][1]["state"],
            before["stages"][1]["detail"]
        );
        dashboard = Dashboard::start(dir.path()).await;
        // Re-attached: the job is still open and goes on (or ended right, had it finished).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            sim.clock.advance(100.0);
            let view = get(&client, &dashboard.base, &format!("/api/v1/burnin/{job}")).await;
            let now = view["stages"][1]["percent"].as_f64().unwrap_or(0.0);
            if view["state"] == "passed" || (view["state"] == "running" && now > percent) {
                reattached += 1;
                break;
            }
            assert_ne!(view["state"], "interrupted", "{view:#}");
            assert_ne!(view["state"], "failed", "{view:#}");
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {job} was not re-attached: {view:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Run everything to its end.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let views = loop {
        sim.clock.advance(2000.0);
        let mut views = Vec::new();
        for job in &jobs {
            views.push(get(&client, &dashboard.base, &format!("/api/v1/burnin/{job}")).await);
        }
        if views.iter().all(|v| !matches!(v["state"].as_str(), Some("queued" | "running"))) {
            break views;
        }
        assert!(tokio::time::Instant::now() < deadline, "jobs did not finish: {views:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    dashboard.kill();
    let passed = views.iter().filter(|v| v["state"] == "passed").count();
    let (writers, concurrent, attempts): (Vec<usize>, usize, u32) = sim.hosts[0].with(|s| {
        (
            (0..DRIVES).map(|i| s.writers_for(&serial(i))).collect(),
            s.most_concurrent_writers(),
            s.start_attempts.values().sum(),
        )
    });
    eprintln!(
        "kill -9: re-attached {reattached}/{DRIVES}, passed {passed}/{DRIVES}, writers per job {writers:?}, most at once on one disk {concurrent}, starts sent {attempts}"
    );
    for (view, count) in views.iter().zip(&writers) {
        assert_eq!(view["state"], "passed", "{view:#}");
        assert_eq!(*count, 1, "{view:#}");
    }
    assert_eq!(reattached, DRIVES);
    assert_eq!(concurrent, 1);
}
