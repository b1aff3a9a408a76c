//! The demo fleet in a test server, and the calls the burn-in tests make of it.

use std::time::Duration;

use serde_json::Value;

use super::TestServer;

/// A server running the demo fleet, polled fast; `adjust` changes anything else.
pub async fn demo(adjust: impl FnOnce(&mut burnin_server::config::Config)) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    TestServer::start_with(dir, |config| {
        config.simulator = burnin_server::config::SimulatorMode::Always;
        config.poll_interval_secs = 1;
        config.temperature_interval_secs = 1;
        config.stage_poll_ms = 30;
        config.stagger_ms = 0;
        adjust(config);
    })
    .await
}

/// Every drive of the demo fleet, once both hosts are online.
pub async fn drives(server: &TestServer) -> Value {
    server
        .wait_json("/api/v1/hosts", |h| {
            h.as_array().is_some_and(|h| h.len() == 2 && h.iter().all(|h| h["status"] == "online"))
        })
        .await;
    server.wait_json("/api/v1/drives", |d| d.as_array().is_some_and(|d| d.len() == 26)).await
}

pub fn id_of(drives: &Value, serial: &str) -> i64 {
    drives
        .as_array()
        .and_then(|all| all.iter().find(|d| d["serial"] == serial))
        .and_then(|d| d["id"].as_i64())
        .unwrap_or_else(|| panic!("no drive {serial}"))
}

/// Sets a drive's location as a user does (`PATCH /api/v1/drives/{id}`).
pub async fn place(server: &TestServer, drive_id: i64, location: &str) {
    let (status, body) = server
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/drives/{drive_id}"),
            Some(serde_json::json!({"location": location})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// `POST /api/v1/burnin/start`: its status and body.
pub async fn start(server: &TestServer, body: Value) -> (u16, Value) {
    let response = server
        .client
        .post(server.url("/api/v1/burnin/start"))
        .json(&body)
        .send()
        .await
        .expect("the start answered");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

/// (action, detail) of every audit event, oldest first.
pub async fn audit_events(server: &TestServer) -> Vec<(String, String)> {
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.expect("database");
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT action, detail FROM audit_events ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("audit events");
    pool.close().await;
    rows
}

pub async fn job(server: &TestServer, id: i64) -> Value {
    server.get_json(&format!("/api/v1/burnin/{id}")).await
}

/// Pushes simulated time forward until every job is done (or fails the test after 90 s).
pub async fn run_to_end(server: &TestServer, jobs: &[i64], step_seconds: f64) -> Vec<Value> {
    let clock = server.sim_clock.clone().expect("a simulated fleet");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let mut views = Vec::new();
        for id in jobs {
            views.push(job(server, *id).await);
        }
        if views.iter().all(|v| !matches!(v["state"].as_str(), Some("queued" | "running"))) {
            return views;
        }
        assert!(tokio::time::Instant::now() < deadline, "jobs did not finish: {views:#?}");
        clock.advance(step_seconds);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// The job's surface stage.
pub fn surface(job: &Value) -> &Value {
    job["stages"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["kind"] == "surface"))
        .unwrap_or(&Value::Null)
}

/// Surface-tests the demo drive `serial` to its end; answers the finished job.
pub async fn surface_test_to_end(server: &TestServer, drives: &Value, serial: &str) -> Value {
    let id = id_of(drives, serial);
    let (status, body) = start(
        server,
        serde_json::json!({"drive_ids": [id], "stages": ["surface"], "confirm_serial": serial}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let job = body[0]["id"].as_i64().expect("a job id");
    run_to_end(server, &[job], 600.0).await.remove(0)
}
