//! Settings in the database and the hardening around them, through the real router: changes
//! are checked, audited with old and new values, in force without a restart and kept across
//! one; hosts are tested, trusted, disabled and enabled over `/api/v1`; the per-host test
//! limit, the client network allowlist, the per-user live channel cap, built-in HTTPS, the
//! master key rotation, stage output retention and the update check.

use crate::common;

use std::time::Duration;

use burnin::access::Role;
use common::TestServer;
use serde_json::{Value, json};

async fn put_settings(server: &TestServer, client: &reqwest::Client, body: Value) -> (u16, Value) {
    let answer = client.put(server.url("/api/v1/settings")).json(&body).send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

#[tokio::test]
async fn settings_are_checked_audited_in_force_at_once_and_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir, |config| config.destructive_limit = 50).await;
    let view = server.get_json("/api/v1/settings").await;
    assert_eq!(view["settings"]["jobs_per_host"], 32, "{view}");
    assert_eq!(view["settings"]["destructive_limit"], 50, "the flag gives the first value");
    assert!(
        view["system"]["version"].is_string()
            && view["system"]["database_bytes"].as_u64() > Some(0),
        "{view}"
    );
    assert!(view["system"]["restart_needed_for"].as_array().is_some_and(|l| !l.is_empty()));

    // A viewer reads them and cannot change them.
    let viewer = server.client_as(Role::Viewer).await;
    let seen: Value =
        viewer.get(server.url("/api/v1/settings")).send().await.unwrap().json().await.unwrap();
    assert_eq!(seen["settings"], view["settings"]);
    let (status, _) = put_settings(&server, &viewer, json!({"jobs_per_host": 4})).await;
    assert_eq!(status, 403);

    // Out of range, unknown or inconsistent: refused, naming the setting, nothing stored.
    for (body, named) in [
        (json!({"jobs_per_host": 0}), "jobs_per_host"),
        (json!({"jobs_per_hots": 4}), "jobs_per_hots"),
        (json!({"stuck_after_secs": 3600, "stuck_abort_after_secs": 60}), "stuck_abort_after_secs"),
        (json!({"verdict": {"temperatures": {"hdd": {"fail_c": 10}}}}), "verdict"),
        (json!({"update_check_url": "file:///etc/passwd"}), "update_check_url"),
    ] {
        let (status, answer) = put_settings(&server, &server.client, body.clone()).await;
        assert_eq!(status, 400, "{body} was accepted: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{body}: {message}");
    }
    assert_eq!(server.get_json("/api/v1/settings").await["settings"], view["settings"]);

    // A good change: only what is named moves, and the audit log has old and new.
    let (status, changed) = put_settings(
        &server,
        &server.client,
        json!({"jobs_per_host": 3, "verdict": {"temperatures": {"hdd": {"fail_c": 58}}}}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["settings"]["jobs_per_host"], 3);
    assert_eq!(changed["settings"]["verdict"]["temperatures"]["hdd"]["fail_c"], 58.0);
    assert_eq!(
        changed["settings"]["verdict"]["temperatures"]["hdd"]["warn_c"],
        view["settings"]["verdict"]["temperatures"]["hdd"]["warn_c"]
    );
    assert_eq!(changed["settings"]["stagger_ms"], view["settings"]["stagger_ms"]);
    // The older door reads the same store.
    assert_eq!(
        server.get_json("/api/v1/settings/verdict").await["temperatures"]["hdd"]["fail_c"],
        58.0
    );
    let events = common::demo::audit_events(&server).await;
    let (_, detail) = events.iter().rev().find(|(action, _)| action == "settings.changed").unwrap();
    let detail: Value = serde_json::from_str(detail).unwrap();
    let changes = detail["changes"].as_array().unwrap();
    assert!(
        changes.contains(&json!({"setting": "jobs_per_host", "old": 32, "new": 3})),
        "{detail}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c["setting"] == "verdict.temperatures.hdd.fail_c" && c["new"] == 58.0),
        "{detail}"
    );
    assert_eq!(changes.len(), 2, "unchanged settings were audited as changes: {detail}");

    // Kept across a restart, over the flag's value.
    let dir = server.stop().await;
    let server = TestServer::start_with(dir, |config| config.jobs_per_host = 32).await;
    let view = server.get_json("/api/v1/settings").await;
    assert_eq!(view["settings"]["jobs_per_host"], 3, "the stored value did not survive: {view}");
    assert_eq!(view["settings"]["verdict"]["temperatures"]["hdd"]["fail_c"], 58.0);
}

#[tokio::test]
async fn a_changed_limit_applies_to_the_next_start_without_a_restart() {
    let server = common::demo::demo(|_| {}).await;
    let drives = common::demo::drives(&server).await;
    let (status, _) = put_settings(&server, &server.client, json!({"destructive_limit": 1})).await;
    assert_eq!(status, 200);
    let mut statuses = Vec::new();
    for serial in ["ZJV0A1B2", "ZJV0A1B3"] {
        let id = common::demo::id_of(&drives, serial);
        let (status, body) = common::demo::start(
            &server,
            json!({"drive_ids": [id], "stages": ["surface"], "confirm_serial": serial}),
        )
        .await;
        if status == 429 {
            assert!(body["error"]["message"].as_str().unwrap().contains("limit of 1"), "{body}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [201, 429], "the new limit was not in force");
}

#[tokio::test]
async fn a_lower_jobs_per_host_queues_the_second_job_without_a_restart() {
    let server = common::demo::demo(|_| {}).await;
    let drives = common::demo::drives(&server).await;
    let (status, _) = put_settings(&server, &server.client, json!({"jobs_per_host": 1})).await;
    assert_eq!(status, 200);
    // ZDH1X2Y4's self-test stalls at 10 %: when it holds the slot, it holds it until the cancel.
    let first = common::demo::id_of(&drives, "ZDH1X2Y4");
    let second = common::demo::id_of(&drives, "ZL2AB1C2");
    let (status, body) = common::demo::start(
        &server,
        json!({"drive_ids": [first, second], "stages": ["long_test"]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let ids: Vec<i64> =
        body.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect();
    let states = |jobs: &Value| -> Vec<String> {
        ids.iter()
            .map(|id| {
                jobs.as_array()
                    .and_then(|all| all.iter().find(|j| j["id"] == *id))
                    .and_then(|j| j["state"].as_str())
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    };
    // Every look on the way sees at most one of the two running.
    let running = server
        .wait_json("/api/v1/burnin", |jobs| {
            let now = states(jobs);
            assert!(
                now.iter().filter(|s| *s == "running").count() <= 1,
                "two jobs run on a host limited to one: {now:?}"
            );
            now.iter().any(|s| s == "running")
        })
        .await;
    let now = states(&running);
    let (busy, waiting) = if now[0] == "running" { (ids[0], ids[1]) } else { (ids[1], ids[0]) };
    assert_eq!(states(&running).iter().filter(|s| *s == "queued").count(), 1, "{now:?}");
    // When the slot frees, the other one goes.
    let answer = server
        .client
        .post(server.url(&format!("/api/v1/burnin/{busy}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    server.wait_json(&format!("/api/v1/burnin/{waiting}"), |j| j["state"] == "running").await;
}

#[tokio::test]
async fn hosts_are_tested_disabled_and_enabled_through_the_api_and_tests_are_rate_limited() {
    let server = common::demo::demo(|_| {}).await;
    let drives = common::demo::drives(&server).await;
    let hosts = server.get_json("/api/v1/hosts").await;
    let lab = hosts.as_array().unwrap().iter().find(|h| h["name"] == "truenas-lab").unwrap();
    let id = lab["id"].as_i64().unwrap();
    let (status, _) =
        put_settings(&server, &server.client, json!({"host_tests_per_minute": 2})).await;
    assert_eq!(status, 200);

    let test = || {
        let client = server.client.clone();
        let url = server.url(&format!("/api/v1/hosts/{id}/test"));
        async move {
            let answer = client.post(url).send().await.unwrap();
            (answer.status().as_u16(), answer.json::<Value>().await.unwrap())
        }
    };
    let (status, report) = test().await;
    assert_eq!(status, 200, "{report}");
    let api =
        report["steps"].as_array().unwrap().iter().find(|s| s["name"] == "API login").unwrap();
    assert_eq!(api["ok"], true, "{report}");
    assert!(report["drive_count"].as_u64() > Some(0), "{report}");
    let (status, _) = test().await;
    assert_eq!(status, 200);
    let (status, refused) = test().await;
    assert_eq!(status, 429, "a third test within a minute ran: {refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("host_tests_per_minute"));

    // An operator may not test a host.
    let operator = server.client_as(Role::Operator).await;
    let answer =
        operator.post(server.url(&format!("/api/v1/hosts/{id}/test"))).send().await.unwrap();
    assert_eq!(answer.status(), 403);

    // A reference that no test made is not a pin.
    let answer = server
        .client
        .post(server.url(&format!("/api/v1/hosts/{id}/trust")))
        .json(&json!({"reference": "00112233445566778899aabbccddeeff"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);

    // Disabled: not read, and its drives cannot be burned in.
    let disabled: Value = server
        .client
        .post(server.url(&format!("/api/v1/hosts/{id}/disable")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(disabled["enabled"], false, "{disabled}");
    let serial = "ZL2AB1C1";
    let drive = common::demo::id_of(&drives, serial);
    let (status, body) = common::demo::start(
        &server,
        json!({"drive_ids": [drive], "stages": ["surface"], "confirm_serial": serial}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["reasons"][0].as_str().unwrap().contains("disabled"), "{body}");
    let jobs = server.get_json("/api/v1/burnin").await;
    assert_eq!(jobs.as_array().map(Vec::len), Some(0), "a job was queued on a disabled host");

    let enabled: Value = server
        .client
        .post(server.url(&format!("/api/v1/hosts/{id}/enable")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(enabled["enabled"], true);
    server.wait_json(&format!("/api/v1/hosts/{id}"), |h| h["status"] == "online").await;
    let (status, body) = common::demo::start(
        &server,
        json!({"drive_ids": [drive], "stages": ["surface"], "confirm_serial": serial}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn clients_outside_the_allowed_networks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir, |config| {
        config.trusted_proxies = vec!["127.0.0.1".into()];
        config.allowed_networks = vec!["10.9.9.0/24".into()];
    })
    .await;
    let from = |address: &str| {
        server.client.get(server.url("/api/v1/hosts")).header("x-forwarded-for", address).send()
    };
    assert_eq!(from("10.9.9.7").await.unwrap().status(), 200);
    let refused = from("203.0.113.5").await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("203.0.113.5"), "{body}");
    // A proxy that writes ports: its entry names the client, not an earlier one the client
    // sent itself; in either form of address.
    assert_eq!(from("203.0.113.5, 10.9.9.7:51234").await.unwrap().status(), 200);
    assert_eq!(from("10.9.9.7, [2001:db8::5]:443").await.unwrap().status(), 403);
    assert_eq!(from("10.9.9.7, 203.0.113.5:443").await.unwrap().status(), 403);
    // Loopback itself (health checks, the machine's own browser) always is.
    assert_eq!(server.client.get(server.url("/api/v1/hosts")).send().await.unwrap().status(), 200);
    // A bad network in the flag stops the start with the flag's name.
    let mut config = burnin_server::config::Config::defaults();
    config.allowed_networks = vec!["10.9.9/24".into()];
    let error = config.auth_options().unwrap_err();
    assert!(error.contains("--allowed-networks"), "{error}");
}

#[tokio::test]
async fn a_user_holds_at_most_the_set_number_of_live_channels() {
    use futures_util::StreamExt;
    let server = TestServer::start().await;
    let (status, _) =
        put_settings(&server, &server.client, json!({"live_connections_per_user": 2})).await;
    assert_eq!(status, 200);
    let mut open = Vec::new();
    for _ in 0..2 {
        let (mut socket, _) =
            tokio_tungstenite::connect_async(server.live_request()).await.unwrap();
        let first = socket.next().await.unwrap().unwrap();
        assert!(first.to_text().unwrap().contains("snapshot"));
        open.push(socket);
    }
    match tokio_tungstenite::connect_async(server.live_request()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429)
        }
        other => panic!("a third channel opened: {:?}", other.map(|(_, r)| r.status())),
    }
    // Closing one makes room again.
    let mut closing = open.pop().unwrap();
    closing.close(None).await.unwrap();
    while closing.next().await.is_some() {}
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio_tungstenite::connect_async(server.live_request()).await {
            Ok(_) => break,
            Err(error) => {
                assert!(tokio::time::Instant::now() < deadline, "no room after a close: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A TLS client trusting only `cert`, sending one raw HTTP/1.1 request; answers the response.
async fn https_request(
    address: std::net::SocketAddr,
    cert: &rcgen::Certificate,
    request: &str,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut answer)).await.unwrap().ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn built_in_https_serves_with_the_secure_cookie_and_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, made.cert.pem()).unwrap();
    std::fs::write(&key_path, made.signing_key.serialize_pem()).unwrap();
    let mut config = burnin_server::config::Config::defaults();
    config.simulator = burnin_server::config::SimulatorMode::Never;
    config.database_url = format!("sqlite://{}", dir.path().join("burnin.db").display());
    config.site_root = dir.path().join("site");
    config.tls_cert = Some(cert_path.clone());
    config.tls_key = Some(key_path.clone());
    config.shutdown_grace_secs = 1;
    config.initial_admin_user = Some("admin".into());
    config.initial_admin_password = Some(common::ADMIN_PASSWORD.into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = {
        let config = config.clone();
        tokio::spawn(async move {
            burnin_server::serve(&config, listener, async {
                let _ = stopped.await;
            })
            .await
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let answer = https_request(
            address,
            &made.cert,
            "GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await;
        if answer.starts_with("HTTP/1.1 200") {
            break answer;
        }
        assert!(tokio::time::Instant::now() < deadline, "HTTPS never became ready: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(ready.starts_with("HTTP/1.1 200"));
    let form = format!("name=admin&password={}&next=%2F", common::ADMIN_PASSWORD.replace(' ', "+"));
    let login = https_request(
        address,
        &made.cert,
        &format!(
            "POST /auth/login HTTP/1.1\r\nHost: localhost\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    )
    .await;
    let lower = login.to_ascii_lowercase();
    assert!(lower.contains("set-cookie: __host-burnin_session="), "{login}");
    assert!(lower.contains("secure"), "{login}");
    assert!(lower.contains("strict-transport-security: max-age="), "{login}");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(15), served).await.unwrap().unwrap().unwrap();

    // Half a pair, or a key that is not a key, stops the start with the file named.
    config.tls_key = None;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = burnin_server::serve(&config, listener, async {}).await.unwrap_err();
    assert!(format!("{error:#}").contains("--tls-key"), "{error:#}");
    std::fs::write(&key_path, "not a key").unwrap();
    config.tls_key = Some(key_path.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = burnin_server::serve(&config, listener, async {}).await.unwrap_err();
    assert!(format!("{error:#}").contains("key.pem"), "{error:#}");
}

#[tokio::test]
async fn rotating_the_master_key_re_encrypts_every_secret() {
    let server = TestServer::start().await;
    let body = json!({"name": "keyed", "api_url": "wss://192.0.2.9", "api_user": "root", "api_key": "1-rotationcanary0123456789", "ssh_host": "192.0.2.9", "ssh_user": "root", "ssh_password": "ssh-canary-password"});
    let created: Value = server
        .client
        .post(server.url("/api/v1/hosts"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    let channel = json!({"name": "hook", "config": {"kind": "webhook", "url": "https://hooks.example/x"}, "secret": "channel-canary-secret-0123"});
    assert_eq!(server.call(reqwest::Method::POST, "/api/v1/channels", Some(channel)).await.0, 201);
    let database_url = server.database_url();
    let dir = server.stop().await;
    let key_path = dir.path().join("master.key");
    let old_key = std::fs::read(&key_path).unwrap();
    let stored_before: (String,) = {
        let pool = sqlx::SqlitePool::connect(&database_url).await.unwrap();
        sqlx::query_as("SELECT api_key_enc FROM hosts WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
    };

    let mut config = burnin_server::config::Config::defaults();
    config.database_url = database_url.clone();
    burnin_server::cli::rotate_master_key(&config).await.unwrap();

    let new_key = std::fs::read(&key_path).unwrap();
    assert_eq!(new_key.len(), 32);
    assert_ne!(new_key, old_key, "the key file did not change");
    assert!(!dir.path().join("master.key.new").exists(), "the pending key was left behind");
    let db = burnin_server::db::Db::open(&database_url).await.unwrap();
    let (stored_after,): (String,) = sqlx::query_as("SELECT api_key_enc FROM hosts WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_ne!(stored_after, stored_before.0);
    let master =
        std::sync::Arc::new(burnin_server::secrets::MasterKey::load_or_create(&key_path).unwrap());
    let store = burnin_server::hosts::HostStore::new(db.pool().clone(), master.clone());
    let connection = store.connection(id).await.unwrap();
    assert_eq!(connection.api_key.unwrap().expose(), "1-rotationcanary0123456789");
    assert_eq!(connection.ssh_password.unwrap().expose(), "ssh-canary-password");
    let old =
        burnin_server::secrets::MasterKey::from_bytes(&old_key.as_slice().try_into().unwrap());
    assert!(
        old.decrypt(&stored_after, &burnin_server::secrets::host_aad(&connection.uid, "api_key"))
            .is_err(),
        "the old key still reads the secret"
    );
    let (uid, sealed): (String, String) =
        sqlx::query_as("SELECT uid, secret FROM channels").fetch_one(db.pool()).await.unwrap();
    let aad = burnin_server::notify::secret_aad(&uid);
    assert_eq!(master.decrypt(&sealed, &aad).unwrap().expose(), "channel-canary-secret-0123");
    assert!(old.decrypt(&sealed, &aad).is_err(), "the channel's secret was not re-encrypted");
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE action = 'secrets.rotated'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(count, 1);

    // A secret the key cannot read stops the rotation before anything changes.
    sqlx::query("UPDATE hosts SET ssh_password_enc = 'v1:AAAA' WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await
        .unwrap();
    let error = burnin_server::cli::rotate_master_key(&config).await.unwrap_err();
    assert!(format!("{error:#}").contains("keyed"), "{error:#}");
    assert_eq!(std::fs::read(&key_path).unwrap(), new_key, "a failed rotation replaced the key");
    let (still,): (String,) = sqlx::query_as("SELECT api_key_enc FROM hosts WHERE id = $1")
        .bind(id)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(still, stored_after, "a failed rotation changed a secret");
}

#[tokio::test]
async fn old_stage_output_is_pruned_and_the_verdict_and_bad_block_list_stay() {
    let server = common::demo::demo(|_| {}).await;
    let drives = common::demo::drives(&server).await;
    let finished = common::demo::surface_test_to_end(&server, &drives, "ZJV0A1B2").await;
    let job = finished["id"].as_i64().unwrap();
    let verdict = finished["verdict"].clone();
    assert!(verdict.is_object(), "{finished}");
    let position = common::demo::surface(&finished)["position"].as_u64().unwrap();
    let output = |stream: &'static str| {
        let client = server.client.clone();
        let url = server.url(&format!("/api/v1/burnin/{job}/stages/{position}/output/{stream}"));
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while output("stderr").await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "the stage output was never kept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(output("stdout").await, 200);

    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    // Recent output stays.
    assert_eq!(server.services.prune_outputs(30, "tests").await.unwrap(), 0);
    sqlx::query("UPDATE jobs SET finished_at = '2020-01-01T00:00:00.000Z' WHERE id = $1")
        .bind(job)
        .execute(&pool)
        .await
        .unwrap();
    assert!(server.services.prune_outputs(30, "tests").await.unwrap() >= 1);
    assert_eq!(output("stderr").await, 404, "old badblocks messages were kept");
    assert_eq!(output("stdout").await, 200, "the bad block list went with them");
    let after = common::demo::job(&server, job).await;
    assert_eq!(after["verdict"], verdict, "pruning changed the verdict");
    let events = common::demo::audit_events(&server).await;
    assert!(events.iter().any(|(action, _)| action == "retention.pruned"), "{events:?}");
}

#[tokio::test]
async fn the_update_check_is_off_by_default_and_reads_a_release_when_set() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await;
    let view = server.get_json("/api/v1/settings").await;
    assert_eq!(view["settings"]["update_check_url"], "");
    assert!(view["system"]["update"].is_null(), "{view}");
    // A release feed on loopback, answering like GitHub's releases/latest.
    let feed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let feed_address = feed.local_addr().unwrap();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    {
        let asked = asked.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = feed.accept().await {
                asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buffer = [0u8; 2048];
                let _ = socket.read(&mut buffer).await;
                let body = r#"{"tag_name": "v99.0.0", "html_url": "https://example.net/releases/v99.0.0"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
    }
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 0);
    let url = format!("http://{feed_address}/repos/o/r/releases/latest");
    let (status, _) = put_settings(&server, &server.client, json!({"update_check_url": url})).await;
    assert_eq!(status, 200);
    let view = server.wait_json("/api/v1/settings", |v| v["system"]["update"].is_object()).await;
    let update = &view["system"]["update"];
    assert_eq!(update["latest"], "v99.0.0", "{view}");
    assert_eq!(update["newer"], true);
    assert_eq!(update["link"], "https://example.net/releases/v99.0.0");
    assert!(update["error"].is_null());
    // Turned off again: no answer is shown.
    let (status, _) = put_settings(&server, &server.client, json!({"update_check_url": ""})).await;
    assert_eq!(status, 200);
    server.wait_json("/api/v1/settings", |v| v["system"]["update"].is_null()).await;
}

#[tokio::test]
async fn a_host_whose_api_key_is_read_only_gets_no_terminal_until_an_admin_allows_it() {
    let server = common::demo::demo(|_| {}).await;
    common::demo::drives(&server).await;
    let hosts = server.get_json("/api/v1/hosts").await;
    let find = |hosts: &Value, name: &str| {
        hosts.as_array().unwrap().iter().find(|h| h["name"] == name).unwrap().clone()
    };
    let lab = find(&hosts, "truenas-lab");
    assert_eq!(lab["terminal"], true, "a full-admin key: the terminal is on by default: {lab}");
    assert_eq!(lab["api_read_only"], false);
    let id = lab["id"].as_i64().unwrap();
    // The key is made read-only on the NAS; the dashboard reads it at its next login.
    server.sim_host("truenas-lab").with(|state| state.api_roles = vec!["READONLY_ADMIN".into()]);
    for verb in ["disable", "enable"] {
        let path = format!("/api/v1/hosts/{id}/{verb}");
        assert_eq!(server.call(reqwest::Method::POST, &path, None).await.0, 200);
    }
    let lab =
        server.wait_json(&format!("/api/v1/hosts/{id}"), |h| h["api_read_only"] == true).await;
    assert_eq!(lab["terminal"], false, "{lab}");
    assert_eq!(find(&server.get_json("/api/v1/hosts").await, "core-vault")["terminal"], true);

    // An admin in a fresh browser session is refused, with the reason and the way out.
    let client = reqwest::Client::new();
    let cookie = server.session_cookie("admin", common::ADMIN_PASSWORD).await;
    let ticket = || {
        client
            .post(server.url(&format!("/api/v1/hosts/{id}/terminal")))
            .header("cookie", &cookie)
            .header("origin", &server.base)
            .send()
    };
    let refused = ticket().await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("read-only"), "{body}");

    // Allowed by hand, it opens.
    let edit = json!({"name": lab["name"], "api_url": lab["api_url"], "api_user": lab["api_user"],
                      "ssh_host": lab["ssh_host"], "ssh_port": lab["ssh_port"], "ssh_user": lab["ssh_user"],
                      "terminal": true});
    let (status, allowed) =
        server.call(reqwest::Method::PUT, &format!("/api/v1/hosts/{id}"), Some(edit)).await;
    assert_eq!(status, 200, "{allowed}");
    assert_eq!(allowed["terminal"], true, "{allowed}");
    assert_eq!(allowed["api_read_only"], true);
    assert_eq!(ticket().await.unwrap().status(), 200);
}
