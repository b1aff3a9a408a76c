//! The secret canary, end to end through the real binary: a unique API key, SSH key, SSH
//! password and a mistyped sign-in password go in through the API and the forms, and none of
//! them ever comes back out: not in the server's log (at debug), not in a page, not in any
//! server function's result, not in an API answer, not in the audit log.

use crate::common;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_burnin-server");
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn no_secret_reaches_a_log_page_result_answer_or_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("burnin.db").display());
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--database-url", &database])
        .args(["--simulator", "never", "--site-root", &dir.path().display().to_string()])
        .env("BURNIN_LOG", "debug")
        .env("BURNIN_INITIAL_ADMIN_USER", "admin")
        .env("BURNIN_INITIAL_ADMIN_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://{}", common::served_address(&log_path, 0).await);
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !browser.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success())
    {
        assert!(tokio::time::Instant::now() < deadline, "the dashboard did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let same_site = |request: reqwest::RequestBuilder| {
        request.header("origin", &base).header("sec-fetch-site", "same-origin")
    };
    // A mistyped password is a secret too.
    let wrong = "CANARY-wrong-password-typed";
    same_site(browser.post(format!("{base}/auth/login")))
        .form(&[("name", "admin"), ("password", wrong), ("next", "/")])
        .send()
        .await
        .unwrap();
    let signed_in = same_site(browser.post(format!("{base}/auth/login")))
        .form(&[("name", "admin"), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);

    let api_key = "1-CANARYapikey0123456789abcdefCANARY";
    let ssh_password = "CANARY-ssh-password";
    let key = russh::keys::PrivateKey::from(
        russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[93; 32]),
    );
    let ssh_key = key.to_openssh(russh::keys::ssh_key::LineEnding::LF).unwrap().to_string();
    let ssh_canary: String = ssh_key.lines().nth(2).unwrap().chars().take(40).collect();
    let mut seen = String::new();
    // Loopback with nothing listening: the connection test fails fast, and logs why.
    let created = same_site(browser.post(format!("{base}/api/v1/hosts")))
        .json(&json!({"name": "canary", "api_url": "ws://127.0.0.1:9", "api_user": "root", "api_key": api_key,
                      "ssh_host": "127.0.0.1", "ssh_port": 9, "ssh_user": "root", "ssh_private_key": ssh_key,
                      "ssh_password": ssh_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    seen.push_str(&created.to_string());
    let id = created["id"].as_i64().unwrap();
    for (method, path, body) in [
        ("POST", format!("/api/v1/hosts/{id}/test"), json!({})),
        (
            "PUT",
            format!("/api/v1/hosts/{id}"),
            json!({"name": "canary", "api_url": "ws://127.0.0.1:9", "api_user": "root", "ssh_host": "127.0.0.1", "ssh_port": 9, "ssh_user": "root", "api_key": api_key}),
        ),
        ("GET", "/api/v1/hosts".to_owned(), json!({})),
        ("GET", format!("/api/v1/hosts/{id}"), json!({})),
        ("GET", format!("/api/v1/hosts/{id}/record"), json!({})),
        ("GET", "/api/v1/settings".to_owned(), json!({})),
        ("GET", "/".to_owned(), json!({})),
        ("GET", "/hosts".to_owned(), json!({})),
        ("GET", "/settings".to_owned(), json!({})),
        ("GET", "/users".to_owned(), json!({})),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let answer = same_site(browser.request(method, format!("{base}{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        seen.push_str(&answer.text().await.unwrap());
    }
    // Every server function, called as the page would (those that need arguments answer an
    // error, which must not carry a secret either).
    for (path, _) in burnin_app::server_fn_doors() {
        let answer = same_site(browser.post(format!("{base}{path}")))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        seen.push_str(&answer.text().await.unwrap());
    }
    assert!(seen.contains("canary"), "the host is not in the answers at all");

    // Stop the server so its log is complete.
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the dashboard did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("host.create") || log.contains("audit event"),
        "the log holds nothing: {log}"
    );
    assert!(log.contains("auth.login_failed"), "the failed sign-in is not in the log");
    let pool = sqlx::SqlitePool::connect(&database).await.unwrap();
    // Each event a request caused names the address it came from.
    let addressed: Vec<(String, String)> =
        sqlx::query_as("SELECT action, address FROM audit_events").fetch_all(&pool).await.unwrap();
    for action in ["auth.login_failed", "auth.login"] {
        assert!(
            addressed.iter().any(|(a, address)| a == action && address == "127.0.0.1"),
            "{action} without its client address: {addressed:?}"
        );
    }
    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT action, detail FROM audit_events").fetch_all(&pool).await.unwrap();
    assert!(audit.iter().any(|(action, _)| action == "auth.login_failed"), "{audit:?}");
    let audit: String = audit.iter().map(|(a, d)| format!("{a} {d}\n")).collect();
    for (place, text) in [("an answer", &seen), ("the server log", &log), ("the audit log", &audit)]
    {
        for (what, canary) in [
            ("the API key", "CANARYapikey"),
            ("the SSH password", ssh_password),
            ("the mistyped password", wrong),
            ("the SSH key", ssh_canary.as_str()),
        ] {
            assert!(!text.contains(canary), "{what} is in {place}");
        }
    }
}
