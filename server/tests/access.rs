//! Who may do what, through the real router: every door refuses anonymous and under-privileged
//! callers, sessions behave (rotation, sign-out, timeouts, password change), the first admin,
//! forward-auth only from a trusted proxy, the Host allowlist, the login lockout, and secrets
//! that never come back out.

use crate::common;

use std::time::Duration;

use leptos::server_fn::ServerFn as _;

use burnin::access::{Door, Role};
use common::{ADMIN_PASSWORD, TestServer};
use reqwest::{StatusCode, redirect::Policy};
use serde_json::{Value, json};

/// A concrete path for a route pattern (`{id}` → 1, …).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{when}" => "before",
            "{stream}" => "stdout",
            s if s.starts_with('{') => "1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn request(
    client: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
) -> reqwest::RequestBuilder {
    let url = format!("{base}{}", concrete(path));
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    // A body no handler would accept: the door must answer before the body is read.
    client.request(method, url).header("content-type", "application/json").body("{")
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// POSTs a form as the page does (same-origin); answers the redirect.
async fn post_form(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(server.url(path))
        .header("sec-fetch-site", "same-origin")
        .form(form)
        .send()
        .await
        .expect("answer")
}

/// Signs in through the form; answers the session cookie's value.
async fn sign_in(
    server: &TestServer,
    client: &reqwest::Client,
    name: &str,
    password: &str,
) -> reqwest::Response {
    post_form(
        server,
        client,
        "/auth/login",
        &[("name", name), ("password", password), ("next", "/hosts")],
    )
    .await
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("burnin_session=") && !v.starts_with("burnin_session=;"))
        .map(str::to_owned)
}

#[tokio::test]
async fn every_door_refuses_anonymous_and_under_privileged_callers() {
    let server = TestServer::start().await;
    let inventory = burnin_server::http::inventory();
    let undeclared: Vec<&String> =
        inventory.iter().filter(|(_, _, door)| door.is_none()).map(|(_, path, _)| path).collect();
    assert!(undeclared.is_empty(), "server functions without a declared door: {undeclared:?}");
    let server_fns = inventory
        .iter()
        .filter(|(_, p, _)| !p.starts_with("/api/v1") && p.starts_with("/api/"))
        .count();
    assert!(
        server_fns >= 25,
        "only {server_fns} server functions found: the inventory is not reading the registry"
    );
    // The only doors open to anyone: signing in, the first admin, signing out, who am I, the
    // API's description, and the public key that signs evidence and the check of a bundle
    // against it (a buyer checks a bundle without an account).
    let open: Vec<&str> = inventory
        .iter()
        .filter(|(_, _, door)| *door == Some(Door::Open))
        .map(|(_, path, _)| path.as_str())
        .collect();
    for path in &open {
        assert!(
            [
                "/auth/login",
                "/auth/setup",
                "/auth/logout",
                "/api/v1/openapi.json",
                "/api/v1/signing-key",
                "/api/v1/evidence/verify",
                burnin_app::pages::record::VerifyEvidence::PATH,
                burnin_app::pages::record::SigningKey::PATH,
            ]
            .contains(path)
                || path.starts_with("/api/who_am_i"),
            "{path} is open to anyone"
        );
    }
    let viewer = server.client_as(Role::Viewer).await;
    let operator = server.client_as(Role::Operator).await;
    let mut checked = 0;
    for (method, path, door) in &inventory {
        let Some(Door::Needs(action)) = door else { continue };
        if path == "/live" {
            continue; // checked below, as a WebSocket
        }
        let anonymous = request(&server.anon, &server.base, method, path).send().await.unwrap();
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} let an anonymous caller in"
        );
        for (role, client) in [(Role::Viewer, &viewer), (Role::Operator, &operator)] {
            if role >= action.role() {
                continue;
            }
            let answer = request(client, &server.base, method, path).send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{method} {path} let a {role} in");
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} under-privileged checks ran");
    // The live channel refuses an anonymous upgrade.
    let url = server.url("/live").replace("http://", "ws://");
    assert!(
        tokio_tungstenite::connect_async(url).await.is_err(),
        "anonymous /live upgrade accepted"
    );
    // Health stays open and says nothing about the fleet.
    let health = server.anon.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.text().await.unwrap().len() < 40);
}

#[tokio::test]
async fn a_viewer_sees_the_fleet_but_cannot_start_or_cancel() {
    let server = common::demo::demo(|_| {}).await;
    let viewer = server.client_as(Role::Viewer).await;
    let drives: Value =
        server.wait_json("/api/v1/drives", |d| d.as_array().is_some_and(|d| d.len() > 10)).await;
    let seen: Value =
        viewer.get(server.url("/api/v1/drives")).send().await.unwrap().json().await.unwrap();
    assert_eq!(seen.as_array().map(Vec::len), drives.as_array().map(Vec::len));
    let id = drives[0]["id"].as_i64().unwrap();
    let start = viewer
        .post(server.url("/api/v1/burnin/start"))
        .json(&json!({"drive_ids": [id], "stages": ["short_test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 403);
    let body: Value = start.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("operator role"), "{body}");
    let jobs: Value =
        server.client.get(server.url("/api/v1/burnin")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jobs.as_array().map(Vec::len), Some(0), "a refused start queued a job");
    let cancel =
        viewer.post(server.url("/api/v1/burnin/cancel")).json(&json!({})).send().await.unwrap();
    assert_eq!(cancel.status(), 403);
}

#[tokio::test]
async fn the_first_run_asks_for_an_admin_and_nothing_else_works() {
    let newcomer = TestServer::start().await;
    // The harness made `admin`; without it, this is the database a newcomer starts with.
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().connect(&newcomer.database_url()).await.unwrap();
    sqlx::query("DELETE FROM api_tokens").execute(&pool).await.unwrap();
    sqlx::query("DELETE FROM users").execute(&pool).await.unwrap();
    let client = browser();
    let page = client.get(newcomer.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()["location"], "/setup");
    let api = newcomer.anon.get(newcomer.url("/api/v1/drives")).send().await.unwrap();
    assert_eq!(api.status(), 401);
    let weak =
        post_form(&newcomer, &client, "/auth/setup", &[("name", "ann"), ("password", "short")])
            .await;
    assert!(weak.headers()["location"].to_str().unwrap().starts_with("/setup?error="));
    assert!(session_cookie(&weak).is_none());
    let made = client
        .post(newcomer.url("/auth/setup"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("name", "ann"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(made.headers()["location"], "/");
    let cookie = session_cookie(&made).expect("signed in at once");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let hosts = client.get(newcomer.url("/api/v1/hosts")).send().await.unwrap();
    assert_eq!(hosts.status(), 200, "the new admin's session works");
    // A second first admin is refused.
    let again = browser()
        .post(newcomer.url("/auth/setup"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("name", "eve"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(session_cookie(&again).is_none());
    let (users,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&pool).await.unwrap();
    assert_eq!(users, 1);
}

#[tokio::test]
async fn sessions_rotate_end_at_sign_out_and_on_a_password_change_and_time_out() {
    let server = TestServer::start().await;
    let client = browser();
    let first = sign_in(&server, &client, "admin", ADMIN_PASSWORD).await;
    assert_eq!(first.headers()["location"], "/hosts");
    let first_cookie = session_cookie(&first).expect("a session");
    // Signing in again (a fixation attempt keeps the old cookie) makes a new id.
    let second = sign_in(&server, &client, "admin", ADMIN_PASSWORD).await;
    let second_cookie = session_cookie(&second).expect("a session");
    assert_ne!(first_cookie.split(';').next(), second_cookie.split(';').next());
    assert_eq!(client.get(server.url("/api/v1/hosts")).send().await.unwrap().status(), 200);
    // Sign-out ends it on the server: the old cookie no longer works.
    let stolen = second_cookie.split(';').next().unwrap().to_owned();
    let out = client
        .post(server.url("/auth/logout"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(out.headers()["location"], "/login");
    let replay = server
        .anon
        .get(server.url("/api/v1/hosts"))
        .header("cookie", &stolen)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401);
    // A password change ends every session of the user.
    let third = sign_in(&server, &client, "admin", ADMIN_PASSWORD).await;
    let third = session_cookie(&third).unwrap().split(';').next().unwrap().to_owned();
    server.auth.set_password("admin", "another long passphrase", "tests").await.unwrap();
    let after =
        server.anon.get(server.url("/api/v1/hosts")).header("cookie", &third).send().await.unwrap();
    assert_eq!(after.status(), 401);
    // An idle session times out: its last request was 13 hours ago (the default is 12).
    let fourth = sign_in(&server, &client, "admin", "another long passphrase").await;
    let fourth = session_cookie(&fourth).unwrap().split(';').next().unwrap().to_owned();
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().connect(&server.database_url()).await.unwrap();
    assert_eq!(
        server
            .anon
            .get(server.url("/api/v1/hosts"))
            .header("cookie", &fourth)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 13 * 3600")
        .execute(&pool)
        .await
        .unwrap();
    let idle = server
        .anon
        .get(server.url("/api/v1/hosts"))
        .header("cookie", &fourth)
        .send()
        .await
        .unwrap();
    assert_eq!(idle.status(), 401);
}

#[tokio::test]
async fn a_destructive_start_asks_for_the_password_after_ten_minutes() {
    let server = common::demo::demo(|_| {}).await;
    let drives: Value =
        server.wait_json("/api/v1/drives", |d| d.as_array().is_some_and(|d| d.len() > 10)).await;
    let drive = drives.as_array().unwrap().iter().find(|d| d["serial"] == "ZJV0A1B2").unwrap();
    let (id, serial) = (drive["id"].as_i64().unwrap(), drive["serial"].as_str().unwrap());
    let client = browser();
    let response = sign_in(&server, &client, "admin", ADMIN_PASSWORD).await;
    assert!(session_cookie(&response).is_some());
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().connect(&server.database_url()).await.unwrap();
    sqlx::query("UPDATE sessions SET authenticated_at = authenticated_at - 601")
        .execute(&pool)
        .await
        .unwrap();
    let body = json!({"drive_ids": [id], "stages": ["surface"], "confirm_serial": serial});
    let stale = client
        .post(server.url("/api/v1/burnin/start"))
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    let error: Value = stale.json().await.unwrap();
    assert_eq!(error["error"]["kind"], "step_up");
    let jobs: Value =
        server.client.get(server.url("/api/v1/burnin")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        jobs.as_array().map(Vec::len),
        Some(0),
        "a start asked for the password but queued anyway"
    );
    // A short self-test does not ask.
    let short = client
        .post(server.url("/api/v1/burnin/start"))
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"drive_ids": [id], "stages": ["short_test"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 201);
}

#[tokio::test]
async fn failed_sign_ins_lock_the_account_and_are_audited() {
    let server = TestServer::start().await;
    let client = browser();
    for _ in 0..5 {
        let wrong = sign_in(&server, &client, "admin", "not the password at all").await;
        assert!(session_cookie(&wrong).is_none());
    }
    let locked = sign_in(&server, &client, "admin", ADMIN_PASSWORD).await;
    assert!(session_cookie(&locked).is_none(), "a locked account signed in");
    let location = locked.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("too%20many"), "{location}");
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().connect(&server.database_url()).await.unwrap();
    let (failed,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit_events WHERE action = 'auth.login_failed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(failed, 5);
    // An unknown user is told exactly what a wrong password is told.
    let unknown = sign_in(&server, &browser(), "nobody", "whatever it is").await;
    assert!(
        unknown.headers()["location"]
            .to_str()
            .unwrap()
            .contains("user%20name%20or%20password%20is%20wrong")
    );
}

#[tokio::test]
async fn forward_auth_counts_only_from_a_trusted_proxy() {
    let untrusted = TestServer::start_with(tempfile::tempdir().unwrap(), |config| {
        config.sso_user_header = Some("Remote-User".into());
        config.sso_admin_groups = vec!["admins".into()];
        config.trusted_proxies = vec!["10.9.9.9".into()];
    })
    .await;
    let forged = untrusted
        .anon
        .get(untrusted.url("/api/v1/hosts"))
        .header("remote-user", "mallory")
        .header("remote-groups", "admins")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401, "a forged Remote-User from an untrusted address signed in");
    let trusted = TestServer::start_with(tempfile::tempdir().unwrap(), |config| {
        config.sso_user_header = Some("Remote-User".into());
        config.sso_admin_groups = vec!["admins".into()];
        config.sso_viewer_groups = vec!["staff".into()];
        config.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let viewer = trusted
        .anon
        .get(trusted.url("/api/v1/hosts"))
        .header("remote-user", "sam")
        .header("remote-groups", "staff,other")
        .send()
        .await
        .unwrap();
    assert_eq!(viewer.status(), 200);
    let settings = trusted
        .anon
        .put(trusted.url("/api/v1/settings/verdict"))
        .header("remote-user", "sam")
        .header("remote-groups", "staff")
        .json(&json!({"max_bad_blocks": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 403, "a viewer from the proxy changed settings");
    let nobody = trusted
        .anon
        .get(trusted.url("/api/v1/hosts"))
        .header("remote-user", "guest")
        .header("remote-groups", "visitors")
        .send()
        .await
        .unwrap();
    assert_eq!(nobody.status(), 401, "a user in no mapped group got in");
}

#[tokio::test]
async fn a_foreign_host_name_is_refused() {
    let server = TestServer::start().await;
    let rebound = server
        .client
        .get(server.url("/api/v1/hosts"))
        .header("host", "evil.example:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let body: Value = rebound.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("--public-origins"));
    let local = server
        .client
        .get(server.url("/api/v1/hosts"))
        .header("host", "localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200);
}

#[tokio::test]
async fn secrets_never_come_back_out() {
    let server = TestServer::start().await;
    let api_key = "1-CANARYapikey0123456789abcdefCANARY";
    let key = russh::keys::PrivateKey::from(
        russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[91; 32]),
    );
    let ssh_key = key.to_openssh(russh::keys::ssh_key::LineEnding::LF).unwrap().to_string();
    // The key's body: any copy of the key, whole or in part, carries it.
    let ssh_canary: String = ssh_key.lines().nth(2).unwrap().chars().take(40).collect();
    assert!(ssh_canary.len() >= 40);
    let created = server
        .client
        .post(server.url("/api/v1/hosts"))
        .json(&json!({"name": "canary", "api_url": "wss://192.0.2.1", "api_user": "root", "api_key": api_key,
                      "ssh_host": "", "ssh_user": "root", "ssh_private_key": ssh_key}))
        .send()
        .await
        .unwrap();
    let status = created.status();
    let text = created.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    let mut seen = text;
    for path in ["/api/v1/hosts", "/api/v1/hosts/1", "/hosts", "/"] {
        seen.push_str(
            &server.client.get(server.url(path)).send().await.unwrap().text().await.unwrap(),
        );
    }
    assert!(seen.contains("canary"), "the host is not in the answers at all");
    assert!(!seen.contains("CANARY"), "the API key came back out");
    assert!(!seen.contains(&ssh_canary), "the SSH key came back out");
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().connect(&server.database_url()).await.unwrap();
    let audit: Vec<(String,)> =
        sqlx::query_as("SELECT detail FROM audit_events").fetch_all(&pool).await.unwrap();
    assert!(!audit.is_empty());
    assert!(
        audit.iter().all(|(detail,)| !detail.contains("CANARY")),
        "a secret is in the audit log"
    );
    let raw = std::fs::read(server.database_path()).unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains("CANARY"), "a secret is stored in clear");
}

#[tokio::test]
async fn too_many_destructive_starts_on_one_host_answer_429_and_are_audited() {
    let server = common::demo::demo(|config| config.destructive_limit = 2).await;
    let drives = common::demo::drives(&server).await;
    let mut statuses = Vec::new();
    for serial in ["ZJV0A1B2", "ZJV0A1B3", "ZJV0A1B4"] {
        let id = common::demo::id_of(&drives, serial);
        let (status, body) = common::demo::start(
            &server,
            json!({"drive_ids": [id], "stages": ["surface"], "confirm_serial": serial}),
        )
        .await;
        statuses.push(status);
        if status == 429 {
            assert!(
                body["error"]["message"].as_str().unwrap().contains("destructive_limit"),
                "{body}"
            );
        }
    }
    assert_eq!(statuses, [201, 201, 429]);
    let jobs: Value =
        server.client.get(server.url("/api/v1/burnin")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jobs.as_array().map(Vec::len), Some(2), "the refused start queued a job");
    let events = common::demo::audit_events(&server).await;
    assert!(events.iter().any(|(action, _)| action == "burnin.rate_limited"), "{events:?}");
}

#[tokio::test]
async fn moving_a_host_to_another_address_drops_the_credentials_given_for_the_old_one() {
    let server = TestServer::start().await;
    let key = russh::keys::PrivateKey::from(
        russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[92; 32]),
    );
    let ssh_key = key.to_openssh(russh::keys::ssh_key::LineEnding::LF).unwrap().to_string();
    let host = |api_url: &str, ssh_host: &str| json!({"name": "moving", "api_url": api_url, "api_user": "root", "ssh_host": ssh_host, "ssh_user": "root"});
    let mut first = host("wss://192.0.2.1", "192.0.2.1");
    first["api_key"] = json!("1-movingkey0123456789");
    first["ssh_private_key"] = json!(ssh_key);
    let created: Value = server
        .client
        .post(server.url("/api/v1/hosts"))
        .json(&first)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    assert!(created["api_key_hint"].is_string() && created["has_ssh_key"] == true, "{created}");
    let put = |body: Value| {
        let client = server.client.clone();
        let url = server.url(&format!("/api/v1/hosts/{id}"));
        async move { client.put(url).json(&body).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    // Same addresses, no secrets sent: both kept.
    let same = put(host("wss://192.0.2.1", "192.0.2.1")).await;
    assert!(same["api_key_hint"].is_string() && same["has_ssh_key"] == true, "{same}");
    // The API moves: its key is dropped; SSH stays where it was and keeps its key.
    let api_moved = put(host("wss://192.0.2.2", "192.0.2.1")).await;
    assert!(
        api_moved["api_key_hint"].is_null(),
        "the API key followed the host to a new address: {api_moved}"
    );
    assert_eq!(api_moved["has_ssh_key"], true);
    // SSH moves: its key is dropped too.
    let ssh_moved = put(host("wss://192.0.2.2", "192.0.2.3")).await;
    assert_eq!(ssh_moved["has_ssh_key"], false, "{ssh_moved}");
}

#[tokio::test]
async fn a_body_over_a_mebibyte_is_refused_before_any_handler() {
    let server = TestServer::start().await;
    let big = "x".repeat(2 * 1024 * 1024);
    let answer = server
        .client
        .patch(server.url("/api/v1/drives/1"))
        .header("content-type", "application/json")
        .body(format!("{{\"notes\": \"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 413);
    let small = server
        .client
        .patch(server.url("/api/v1/drives/1"))
        .json(&json!({"notes": "fits"}))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 404, "a small body reaches the handler (no drive 1 here)");
}

/// A one-host simulated NAS with TLS on its API.
async fn tls_nas() -> burnin_simulator::Simulator {
    use burnin_simulator::{Config, HostSpec, Personality, Scenario};
    let host = HostSpec {
        name: "nas-tls".into(),
        personality: Personality::Scale2510,
        api_key: "1-TlsTestKey".into(),
        api_user: "root".into(),
        tls: true,
        ssh_user: "root".into(),
        authorized_keys: Vec::new(),
        drives: Vec::new(),
        pools: Vec::new(),
        exported_pools: Vec::new(),
        boot_drives: Vec::new(),
    };
    burnin_simulator::start(Config::new(Scenario { seed: 5, speed: 1.0, hosts: vec![host] }))
        .await
        .unwrap()
}

fn server_fn(prefix: &str) -> String {
    burnin_server::http::inventory()
        .into_iter()
        .map(|(_, path, _)| path)
        .find(|path| path.starts_with(prefix))
        .unwrap_or_else(|| panic!("no server function {prefix}"))
}

#[tokio::test]
async fn a_pin_is_only_ever_what_the_servers_own_test_saw() {
    let server = TestServer::start().await;
    let nas = tls_nas().await;
    let typed = server
        .client
        .post(server.url("/api/v1/hosts"))
        .json(&json!({"name": "nas-tls", "api_url": nas.hosts[0].api_url(), "api_user": "root",
                      "api_key": "1-TlsTestKey", "ssh_host": "127.0.0.1", "ssh_user": "root",
                      "tls_fingerprint": format!("SHA256:{}", "AB".repeat(32))}))
        .send()
        .await
        .unwrap();
    assert_eq!(typed.status(), 400, "a fingerprint typed by the caller was accepted as a pin");
    let created: Value = server
        .client
        .post(server.url("/api/v1/hosts"))
        .json(&json!({"name": "nas-tls", "api_url": nas.hosts[0].api_url(), "api_user": "root",
                      "api_key": "1-TlsTestKey", "ssh_host": "127.0.0.1", "ssh_user": "root"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_i64().unwrap();
    assert!(created["tls_fingerprint"].is_null(), "{created}");
    let trust = server_fn("/api/trust_certificate");
    let forged = server
        .client
        .post(server.url(&trust))
        .json(&json!({"id": id, "observation": "deadbeef"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400, "a made-up reference pinned something");
    let report: Value = server
        .client
        .post(server.url(&server_fn("/api/test_host")))
        .json(&json!({"id": id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reference =
        report["certificate_observation"].as_str().expect("the test saw a certificate").to_owned();
    let seen = report["presented_fingerprint"].as_str().unwrap().to_owned();
    let pinned = server
        .client
        .post(server.url(&trust))
        .json(&json!({"id": id, "observation": reference}))
        .send()
        .await
        .unwrap();
    assert_eq!(pinned.status(), 200);
    let host: Value = pinned.json().await.unwrap();
    assert_eq!(
        burnin::host::normalize_fingerprint(host["tls_fingerprint"].as_str().unwrap()),
        burnin::host::normalize_fingerprint(&seen),
        "the pin is not what the test saw"
    );
    let again = server
        .client
        .post(server.url(&trust))
        .json(&json!({"id": id, "observation": reference}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "a reference worked twice");
}

#[tokio::test]
async fn revoking_a_token_closes_the_live_channel_it_opened() {
    use futures_util::StreamExt;
    let server = TestServer::start().await;
    let (token, secret) = server
        .auth
        .create_token("admin", "live", burnin::access::Scope::Read, "tests")
        .await
        .unwrap();
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            server.url("/live").replace("http://", "ws://"),
        )
        .unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {secret}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let first = socket.next().await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("snapshot"), "{first:?}");
    server.auth.revoke_token(token.id, "tests").await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(tokio_tungstenite::tungstenite::Message::Close(_)) | Err(_) => return true,
                Ok(_) => {}
            }
        }
        true
    })
    .await;
    assert_eq!(closed, Ok(true), "the channel stayed open after its token was revoked");
}

/// The audit rows sign-ins wrote: how many, and their actor, subject and detail bytes.
async fn sign_in_audit(server: &TestServer) -> (i64, i64, i64) {
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().connect(&server.database_url()).await.unwrap();
    sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(length(actor) + length(subject) + length(detail)), 0),
                COALESCE(MAX(length(actor)), 0)
           FROM audit_events WHERE action LIKE 'auth.login%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn two_hundred_sign_ins_with_huge_names_write_a_bounded_audit_log() {
    let server = TestServer::start().await;
    let client = browser();
    let started = std::time::Instant::now();
    for i in 0..200 {
        let name = if i % 10 == 0 {
            format!("ev\u{1b}[31mil\t{i}\r")
        } else {
            format!("{}{i}\n\u{1b}[31m", "x".repeat(100_000))
        };
        let answer = sign_in(&server, &client, &name, "not the password at all").await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert!(session_cookie(&answer).is_none());
        let location = answer.headers()["location"].to_str().unwrap();
        assert!(location.len() < 1024, "the answer echoes the name: {} bytes", location.len());
    }
    let (rows, bytes, longest) = sign_in_audit(&server).await;
    println!(
        "200 sign-ins with 100 KB names: {rows} audit rows, {bytes} bytes of actor, subject and detail, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The address locks after its failures; a locked address is recorded once per lockout.
    assert!(rows <= 25, "{rows} audit rows for one address's 200 failures");
    assert!(bytes < 16 * 1024, "{bytes} bytes audited");
    assert!(longest <= 65, "an actor of {longest} characters was recorded");
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().connect(&server.database_url()).await.unwrap();
    let (control,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_events WHERE actor GLOB '*[' || char(1,9,10,13,27) || ']*'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(control, 0, "a control character reached the audit log");
}

#[tokio::test]
async fn setup_after_the_first_admin_is_refused_before_hashing_and_locks_the_flooding_address() {
    let server = TestServer::start().await;
    let started = std::time::Instant::now();
    let attempt = || async {
        let form = [("name", "mallory"), ("password", "a long enough password here")];
        let answer = post_form(&server, &browser(), "/auth/setup", &form).await;
        answer.headers()["location"].to_str().unwrap().to_owned()
    };
    let answers = futures_util::future::join_all((0..64).map(|_| attempt())).await;
    println!("64 setup requests after setup answered in {:.2} s", started.elapsed().as_secs_f64());
    assert!(answers.iter().all(|l| l.starts_with("/setup?error=")), "{answers:?}");
    assert!(answers.iter().any(|l| l.contains("exists%20already")), "{answers:?}");
    // Each counted against the address: past its limit the next is refused as a lockout.
    let location = attempt().await;
    assert!(location.contains("too%20many"), "{location}");
    assert_eq!(server.auth.user_count().await.unwrap(), 1, "a second admin was made");
}

#[tokio::test]
async fn after_sign_in_only_a_page_of_this_site_is_followed() {
    let server = TestServer::start().await;
    for (next, expected) in [
        ("/hosts", "/hosts"),
        ("/alerts?state=open", "/alerts?state=open"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/ /evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/no-such-page", "/"),
        ("/api/v1/drives", "/"),
    ] {
        let form = [("name", "admin"), ("password", ADMIN_PASSWORD), ("next", next)];
        let answer = post_form(&server, &browser(), "/auth/login", &form).await;
        assert!(session_cookie(&answer).is_some(), "not signed in for next={next:?}");
        assert_eq!(answer.headers()["location"], expected, "next={next:?}");
    }
    // Every page the app renders is behind sign-in, the alerts page included: the gate knows
    // the router's pages, not a copy of them.
    for page in ["/", "/hosts", "/alerts", "/users", "/settings"] {
        let answer = browser().get(server.url(page)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{page}");
        let location = answer.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/login?next="), "{page}: {location}");
    }
}
