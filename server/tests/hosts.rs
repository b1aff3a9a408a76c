//! Hosts and their records: a host with active jobs can be neither removed nor pointed
//! elsewhere; a removed host is archived with its history, which is deleted only on purpose;
//! the demo fleet makes way for the first real host.

use crate::common;

use common::{
    TestServer,
    demo::{audit_events, demo, drives, id_of, run_to_end, start},
};
use serde_json::{Value, json};

fn host_id(hosts: &Value, name: &str) -> i64 {
    hosts.as_array().unwrap().iter().find(|h| h["name"] == name).unwrap()["id"].as_i64().unwrap()
}

async fn cancel_and_wait(server: &TestServer, job: i64) {
    let response = server
        .client
        .post(server.url(&format!("/api/v1/burnin/{job}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.wait_json(&format!("/api/v1/burnin/{job}"), |j| j["state"] == "cancelled").await;
}

#[tokio::test]
async fn a_host_with_active_jobs_stays_and_keeps_its_endpoints_then_is_archived_with_its_record() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let hosts = server.get_json("/api/v1/hosts").await;
    let core = host_id(&hosts, "core-vault");
    let serial = "ZVT0AB12";
    let (status, body) = start(
        &server,
        json!({"drive_ids": [id_of(&drives, serial)], "stages": ["long_test"], "operator": "t"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let job = body[0]["id"].as_i64().unwrap();

    // Removing it now is refused, naming the job.
    let refused =
        server.client.delete(server.url(&format!("/api/v1/hosts/{core}"))).send().await.unwrap();
    assert_eq!(refused.status(), 409);
    let text = refused.text().await.unwrap();
    assert!(text.contains(&format!("job {job}")), "{text}");
    // So is pointing it at another SSH port; a change that keeps its endpoints is not.
    let current: Value = server.get_json(&format!("/api/v1/hosts/{core}")).await;
    let input = |ssh_port: u64, name: &str| {
        json!({"name": name, "api_url": current["api_url"], "api_user": current["api_user"],
               "ssh_host": current["ssh_host"], "ssh_port": ssh_port, "ssh_user": current["ssh_user"]})
    };
    let port = current["ssh_port"].as_u64().unwrap();
    let moved = server
        .client
        .put(server.url(&format!("/api/v1/hosts/{core}")))
        .json(&input(port + 1, "core-vault"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 409);
    assert!(moved.text().await.unwrap().contains("cannot change while"));
    let renamed = server
        .client
        .put(server.url(&format!("/api/v1/hosts/{core}")))
        .json(&input(port, "core-vault-2"))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200, "{}", renamed.text().await.unwrap());

    // Once the job has stopped the host can go; it is archived, not deleted.
    cancel_and_wait(&server, job).await;
    let archived =
        server.client.delete(server.url(&format!("/api/v1/hosts/{core}"))).send().await.unwrap();
    assert_eq!(archived.status(), 200);
    let archived: Value = archived.json().await.unwrap();
    assert!(archived["archived_at"].is_string(), "{archived:#}");
    assert_eq!(archived["has_ssh_key"], false, "its secrets are dropped");
    assert_eq!(archived["api_key_hint"], Value::Null);
    let hosts = server.get_json("/api/v1/hosts").await;
    assert!(hosts.as_array().unwrap().iter().all(|h| h["id"] != core), "{hosts:#}");
    let listed = server.get_json("/api/v1/hosts?archived=true").await;
    assert_eq!(listed[0]["id"], core, "{listed:#}");
    let in_service = server.get_json("/api/v1/drives").await;
    assert!(in_service.as_array().unwrap().iter().all(|d| d["host_id"] != core));
    // The record: the host, its drives and every job with its verdict.
    let record = server.get_json(&format!("/api/v1/hosts/{core}/record")).await;
    assert_eq!(record["host"]["id"], core);
    assert!(record["drives"].as_array().unwrap().iter().any(|d| d["serial"] == serial));
    assert_eq!(record["jobs"][0]["id"], job);
    assert_eq!(record["jobs"][0]["state"], "cancelled");
    assert_eq!(server.get_json(&format!("/api/v1/burnin/{job}")).await["id"], job);

    // Its history goes only on purpose, with its name typed.
    let name = archived["name"].as_str().unwrap().to_owned();
    let wrong = server
        .client
        .delete(server.url(&format!("/api/v1/hosts/{core}/history")))
        .json(&json!({"confirm": "core-vault"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let deleted = server
        .client
        .delete(server.url(&format!("/api/v1/hosts/{core}/history")))
        .json(&json!({"confirm": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone =
        server.client.get(server.url(&format!("/api/v1/burnin/{job}"))).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    let audited = audit_events(&server).await;
    for action in ["host.archive", "host.delete_history"] {
        assert!(audited.iter().any(|(a, _)| a == action), "{action}: {audited:?}");
    }
}

#[tokio::test]
async fn a_finished_job_outlives_the_threshold_change_and_its_host() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let (_, body) = start(
        &server,
        json!({"drive_ids": [id_of(&drives, "ZJV0A1B3")], "stages": ["short_test"], "operator": "t"}),
    )
    .await;
    let job = body[0]["id"].as_i64().unwrap();
    let views = run_to_end(&server, &[job], 600.0).await;
    assert_eq!(views[0]["verdict_final"], true);
    let before = views[0]["verdict"].clone();
    // Temperatures that would now fail it, and a bad block tolerance: the verdict stays.
    let put = server
        .client
        .put(server.url("/api/v1/settings/verdict"))
        .json(&json!({"max_bad_blocks": 5, "temperatures": {
            "hdd": {"warn_c": 20, "crit_c": 21, "fail_c": 22},
            "ssd": {"warn_c": 50, "crit_c": 60, "fail_c": 70},
            "nvme": {"warn_c": 55, "crit_c": 65, "fail_c": 80}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
    let after = server.get_json(&format!("/api/v1/burnin/{job}")).await;
    assert_eq!(after["verdict"], before, "{after:#}");
    // A limit out of order is refused with the field named.
    let bad = server
        .client
        .put(server.url("/api/v1/settings/verdict"))
        .json(&json!({"temperatures": {"hdd": {"warn_c": 50, "crit_c": 45, "fail_c": 60}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("temperatures.hdd"));
}

#[tokio::test]
async fn the_demo_fleet_makes_way_for_the_first_real_host() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir, |config| {
        config.simulator = burnin_server::config::SimulatorMode::Auto;
        config.poll_interval_secs = 1;
        config.temperature_interval_secs = 1;
        config.stage_poll_ms = 30;
    })
    .await;
    server.wait_json("/api/v1/drives", |d| d.as_array().is_some_and(|d| d.len() == 26)).await;
    let created = server
        .client
        .post(server.url("/api/v1/hosts"))
        .json(&json!({"name": "nas1", "api_url": "wss://192.0.2.10", "api_user": "root",
                      "api_key": "1-RealHostKey", "ssh_host": "", "ssh_user": "root"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let hosts =
        server.wait_json("/api/v1/hosts", |h| h.as_array().is_some_and(|h| h.len() == 1)).await;
    assert_eq!(hosts[0]["name"], "nas1");
    assert_eq!(hosts[0]["simulated"], false);
    let drives = server.get_json("/api/v1/drives").await;
    assert_eq!(drives, json!([]), "the demo's drives went with it");
}
