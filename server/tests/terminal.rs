//! The terminal against a NAS of real parts (OpenSSH's sshd on loopback, a csh login shell):
//! typed input comes back, `stty size` follows a resize, `exit` ends it and the audit log has
//! its open and close. Refused: a reused ticket, a cross-origin upgrade, an operator, an admin
//! whose password is older than the step-up window, an API token, the terminal turned off.
//! A flood of output leaves the server's memory flat. Needs root and `/usr/sbin/sshd`.

use crate::common;

use std::time::Duration;

use common::{
    ADMIN_PASSWORD, TestServer,
    openssh::{NasOptions, OpenSshNas},
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn sign_in(server: &TestServer, name: &str, password: &str) -> String {
    server.session_cookie(name, password).await
}

async fn ticket(server: &TestServer, cookie: &str, host: i64) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(server.url(&format!("/api/v1/hosts/{host}/terminal")))
        .header("cookie", cookie)
        .header("origin", &server.base)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn connect(
    server: &TestServer,
    cookie: &str,
    ticket: &str,
    origin: &str,
) -> Result<Socket, u16> {
    let url = format!(
        "{}/terminal?ticket={ticket}&cols=80&rows=24",
        server.base.replace("http://", "ws://")
    );
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("cookie", cookie.parse().unwrap());
    request.headers_mut().insert("origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("the upgrade failed oddly: {other}"),
    }
}

/// Reads the terminal until its output (since the call) contains `wanted`.
async fn read_until(socket: &mut Socket, wanted: &str) -> String {
    let mut seen = String::new();
    let read = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(message) = socket.next().await {
            if let Ok(Message::Binary(bytes)) = message {
                seen.push_str(&String::from_utf8_lossy(&bytes));
                if seen.contains(wanted) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(read, Ok(true), "never saw {wanted:?}; the terminal printed {seen:?}");
    seen
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn an_admin_gets_a_shell_on_the_nas_and_nobody_else_does() {
    let nas = OpenSshNas::start(NasOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    nas.register(dir.path()).await;
    let server = TestServer::start_with(dir, |config| {
        config.poll_interval_secs = 1;
        config.stagger_ms = 0;
    })
    .await;
    let hosts = server.wait_json("/api/v1/hosts", |h| h[0]["status"] == "online").await;
    let host = hosts[0]["id"].as_i64().unwrap();
    let admin = sign_in(&server, "admin", ADMIN_PASSWORD).await;

    let (status, issued) = ticket(&server, &admin, host).await;
    assert_eq!(status, 200, "{issued}");
    let first = issued["ticket"].as_str().unwrap().to_owned();
    assert_eq!(issued["expires_in_secs"], 30);
    let mut socket = connect(&server, &admin, &first, &server.base).await.unwrap();
    socket.send(Message::Binary(b"echo hel''lo\r".to_vec().into())).await.unwrap();
    // The shell's answer, not the echo of the line typed (which has the quotes).
    read_until(&mut socket, "hello").await;
    socket.send(Message::Binary(b"stty size\r".to_vec().into())).await.unwrap();
    read_until(&mut socket, "24 80").await;
    socket
        .send(Message::Text(json!({"type": "resize", "cols": 132, "rows": 40}).to_string().into()))
        .await
        .unwrap();
    socket.send(Message::Binary(b"stty size\r".to_vec().into())).await.unwrap();
    read_until(&mut socket, "40 132").await;

    // The ticket was used: it opens nothing again.
    assert_eq!(connect(&server, &admin, &first, &server.base).await.err(), Some(403));

    // A flood of output: the server reads SSH only as fast as this socket takes it.
    let before = rss_kib();
    socket
        .send(Message::Binary(b"yes | head -c 50000000; echo FLOOD-\"\"DONE\r".to_vec().into()))
        .await
        .unwrap();
    let mut peak = before;
    let mut received = 0usize;
    let flood = tokio::time::timeout(Duration::from_secs(240), async {
        let mut tail = String::new();
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Binary(bytes) = message {
                received += bytes.len();
                tail.push_str(&String::from_utf8_lossy(&bytes));
                if tail.len() > 64 {
                    tail.drain(..tail.len() - 64);
                }
                if tail.contains("FLOOD-DONE") {
                    return true;
                }
                if received % (4 << 20) < bytes.len() {
                    peak = peak.max(rss_kib());
                    // A slow browser.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(flood, Ok(true), "the flood did not come through");
    let growth_mib = peak.saturating_sub(before) as f64 / 1024.0;
    println!(
        "terminal flood: {:.1} MB through the socket; process RSS {:.1} MiB before, peak {:.1} MiB (+{growth_mib:.1} MiB)",
        received as f64 / 1e6,
        before as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    assert!(received >= 50_000_000, "only {received} bytes arrived");
    // The growth is printed, not judged: the test process's RSS counts every test running
    // beside this one, so a bound here would fail on a busy machine for nothing.

    // `exit` ends the shell and the socket; the audit log has the open and the close.
    socket.send(Message::Binary(b"exit\r".to_vec().into())).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(message) = socket.next().await {
            if matches!(message, Ok(Message::Close(_)) | Err(_)) {
                return true;
            }
        }
        true
    })
    .await;
    assert_eq!(closed, Ok(true), "the socket stayed open after exit");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let events = loop {
        let events = common::demo::audit_events(&server).await;
        if events.iter().any(|(action, _)| action == "terminal.closed") {
            break events;
        }
        assert!(tokio::time::Instant::now() < deadline, "no terminal.closed event: {events:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(events.iter().any(|(action, _)| action == "terminal.opened"), "{events:?}");
    let (_, closed) = events.iter().find(|(action, _)| action == "terminal.closed").unwrap();
    let closed: Value = serde_json::from_str(closed).unwrap();
    assert!(closed["bytes_out"].as_u64() > Some(50_000_000), "{closed}");
    assert_eq!(closed["reason"], "the shell ended", "{closed}");

    // A cross-origin upgrade is refused, whatever the ticket.
    let (_, issued) = ticket(&server, &admin, host).await;
    let cross =
        connect(&server, &admin, issued["ticket"].as_str().unwrap(), "http://evil.example").await;
    assert_eq!(cross.err(), Some(403));

    // An operator gets no ticket; neither does an API token, admin or not.
    server
        .auth
        .add_user("olga", burnin::access::Role::Operator, ADMIN_PASSWORD, "tests", false)
        .await
        .unwrap();
    let operator = sign_in(&server, "olga", ADMIN_PASSWORD).await;
    assert_eq!(ticket(&server, &operator, host).await.0, 403);
    let by_token = server
        .client
        .post(server.url(&format!("/api/v1/hosts/{host}/terminal")))
        .send()
        .await
        .unwrap();
    assert_eq!(by_token.status(), 403);
    // Nor another user's ticket: it is bound to the session it was issued to.
    let (_, issued) = ticket(&server, &admin, host).await;
    let other = sign_in(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        connect(&server, &other, issued["ticket"].as_str().unwrap(), &server.base).await.err(),
        Some(403)
    );

    // An admin whose password was entered 11 minutes ago is asked for it again.
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    sqlx::query("UPDATE sessions SET authenticated_at = authenticated_at - 660")
        .execute(&pool)
        .await
        .unwrap();
    let (status, answer) = ticket(&server, &admin, host).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["kind"], "step_up", "{answer}");

    // Turned off in Settings: no terminal for anyone.
    let fresh = sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let answer = server
        .client
        .put(server.url("/api/v1/settings"))
        .json(&json!({"terminal_enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let (status, answer) = ticket(&server, &fresh, host).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("terminal_enabled"));
}
