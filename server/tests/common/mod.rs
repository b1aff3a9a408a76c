#![allow(dead_code, reason = "each test crate uses a different part of the harness")]

//! The test harness: a real server on a free loopback port against a temporary SQLite file.

pub mod demo;
pub mod openssh;
pub mod receiver;

use std::{path::PathBuf, time::Duration};

use burnin_server::config::Config;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub struct TestServer {
    pub base: String,
    /// The simulated hosts, when the server runs the demo fleet.
    pub sim_hosts: Vec<burnin_simulator::SimHost>,
    pub sim_clock: Option<burnin_simulator::SimClock>,
    pub dir: tempfile::TempDir,
    /// Signed in with an admin API token.
    pub client: reqwest::Client,
    /// Not signed in.
    pub anon: reqwest::Client,
    pub auth: burnin_server::auth::Auth,
    /// The admin API token `client` sends.
    pub token: String,
    /// The notification sender, for driving the outbox and the digest with simulated time.
    pub notifier: burnin_server::notify::Notifier,
    /// The running server's services, for calls a test makes in-process (as at a chosen time).
    pub services: burnin_server::service::Services,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The test admin's password (the harness makes `admin` on a fresh database).
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A client that sends `Authorization: Bearer <token>` on every request.
pub fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .default_headers(headers)
        .build()
        .expect("http client")
}

impl TestServer {
    /// A client for a new user of `role`, signed in with a token of the same scope.
    pub async fn client_as(&self, role: burnin::access::Role) -> reqwest::Client {
        use burnin::access::{Role, Scope};
        let name = format!("{}-{}", role.as_str(), self.auth.user_count().await.expect("users"));
        self.auth.add_user(&name, role, ADMIN_PASSWORD, "tests", false).await.expect("a user");
        let scope = match role {
            Role::Viewer => Scope::Read,
            Role::Operator => Scope::Operate,
            Role::Admin => Scope::Admin,
        };
        let (_, token) =
            self.auth.create_token(&name, "tests", scope, "tests").await.expect("a token");
        bearer_client(&token)
    }

    /// The `/live` WebSocket request, signed in with the admin token.
    pub fn live_request(&self) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request =
            self.url("/live").replace("http://", "ws://").into_client_request().expect("a request");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", self.token).parse().expect("a header value"),
        );
        request
    }

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
        let auth = prepared.state.services.auth.clone();
        let notifier = prepared.state.services.notifier.clone();
        let services = prepared.state.services.clone();
        if auth.user_count().await.expect("users") == 0 {
            auth.add_user("admin", burnin::access::Role::Admin, ADMIN_PASSWORD, "tests", true)
                .await
                .expect("the first admin");
        }
        let (_, token) = auth
            .create_token("admin", "tests", burnin::access::Scope::Admin, "tests")
            .await
            .expect("an admin token");
        let task = tokio::spawn(async move {
            burnin_server::run(prepared, &config, listener, async {
                let _ = stopped.await;
            })
            .await
        });
        let client = bearer_client(&token);
        let anon = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client");
        let server = TestServer {
            base,
            sim_hosts,
            sim_clock,
            dir,
            client,
            anon,
            auth,
            token: token.clone(),
            notifier,
            services,
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
        // A stopped process writes nothing more. In a test its background work (inventory
        // sweeps, the engine, the outbox) lives on in this runtime, and would race a server
        // restarted on the same database for its write lock: closing the pool ends it.
        self.services.db.pool().close().await;
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

impl TestServer {
    /// Signs in through the form as a browser would; answers the `Cookie` header value of
    /// the new session.
    pub async fn session_cookie(&self, name: &str, password: &str) -> String {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        let answer = client
            .post(self.url("/auth/login"))
            .header("sec-fetch-site", "same-origin")
            .form(&[("name", name), ("password", password), ("next", "/")])
            .send()
            .await
            .expect("the sign-in answered");
        assert_eq!(answer.status(), 303, "sign-in as {name} failed");
        answer
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("burnin_session=") && !v.starts_with("burnin_session=;"))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned()
    }
}

impl TestServer {
    /// `method path` with an optional JSON body, as the admin token: the status and the JSON
    /// answer (`null` when the answer has no JSON body).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.expect("the request answered");
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// The address a server started with `--listen 127.0.0.1:0` serves on, from its log's line
/// `serving the burn-in dashboard on http://ADDRESS` written after byte `from` (a log that
/// several runs append to). The server binds the port itself: no port is freed by a test
/// for another process to take first.
pub async fn served_address(log: &std::path::Path, from: usize) -> String {
    const LINE: &str = "serving the burn-in dashboard on http://";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read(log).unwrap_or_default();
        let text = String::from_utf8_lossy(text.get(from..).unwrap_or_default());
        if let Some(at) = text.find(LINE) {
            let address: String = text[at + LINE.len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                .collect();
            return address;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server did not start serving; its log: {text}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
