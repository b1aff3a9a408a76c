#![allow(dead_code, reason = "each test crate uses a different part of the harness")]

//! The test harness: a real server on a free loopback port against a temporary SQLite file.

pub mod demo;
pub mod openssh;

use std::{path::PathBuf, time::Duration};

use burnin_server::config::Config;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub struct TestServer {
    pub base: String,
    /// The simulated hosts, when the server runs the demo fleet.
    pub sim_hosts: Vec<burnin_simulator::SimHost>,
    pub sim_clock: Option<burnin_simulator::SimClock>,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub fn database_path(&self) -> PathBuf {
        self.dir.path().join("burnin.db")
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.database_path().display())
    }

    /// Starts a server on a fresh database, without the simulated fleet.
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir).await
    }

    pub async fn start_in(dir: tempfile::TempDir) -> TestServer {
        Self::start_with(dir, |_| {}).await
    }

    /// Starts a server with `adjust` applied to its configuration.
    pub async fn start_with(
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config::defaults();
        config.simulator = burnin_server::config::SimulatorMode::Never;
        config.database_url = format!("sqlite://{}", dir.path().join("burnin.db").display());
        config.site_root = dir.path().join("site");
        config.shutdown_grace_secs = 1;
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let prepared = burnin_server::prepare(&config).await.expect("the server prepares");
        let sim_hosts =
            prepared.simulator.as_ref().map(|sim| sim.hosts.clone()).unwrap_or_default();
        let sim_clock = prepared.simulator.as_ref().map(|sim| sim.clock.clone());
        let task = tokio::spawn(async move {
            burnin_server::run(prepared, &config, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client");
        let server = TestServer {
            base,
            sim_hosts,
            sim_clock,
            dir,
            client,
            stop: Some(stop),
            task: Some(task),
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(response) = self.client.get(format!("{}/readyz", self.base)).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "server did not become ready");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls `GET path` until `done` accepts the JSON answer, or fails after 20 s.
    pub async fn wait_json(
        &self,
        path: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut last = serde_json::Value::Null;
        loop {
            if let Ok(response) = self.client.get(self.url(path)).send().await
                && let Ok(value) = response.json::<serde_json::Value>().await
            {
                if done(&value) {
                    return value;
                }
                last = value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition on {path} not reached; last answer: {last}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET path` as JSON; any failure fails the test.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.client.get(self.url(path)).send().await.expect("GET answered");
        response.json().await.expect("a JSON answer")
    }

    pub fn sim_host(&self, name: &str) -> &burnin_simulator::SimHost {
        self.sim_hosts
            .iter()
            .find(|host| host.name() == name)
            .expect("a simulated host of that name")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server stopped cleanly");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Inserts a host and drives straight into the database, the way the inventory will.
pub async fn seed_drives(database_url: &str, rows: &[(&str, &str, &str)]) {
    use sqlx::sqlite::SqlitePoolOptions;
    let pool = SqlitePoolOptions::new().connect(database_url).await.expect("open database");
    sqlx::query("INSERT OR IGNORE INTO hosts (id, name) VALUES (1, 'nas-test')")
        .execute(&pool)
        .await
        .expect("insert host");
    for (serial, devname, model) in rows {
        sqlx::query(
            "INSERT INTO drives (host_id, serial, devname, model, size_bytes, kind, pool_kind)
             VALUES (1, $1, $2, $3, 8001563222016, 'HDD', 'free')",
        )
        .bind(serial)
        .bind(devname)
        .bind(model)
        .execute(&pool)
        .await
        .expect("insert drive");
    }
    pool.close().await;
}
