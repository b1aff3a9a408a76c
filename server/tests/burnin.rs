//! The burn-in engine end to end against the simulated fleet: stages over SSH, detached
//! surface tests, refusals, cancel, stuck self-tests, block sizes, re-attach and link drops.

use crate::common;

use common::{
    TestServer,
    demo::{audit_events, demo, drives, id_of, run_to_end, start},
};
use serde_json::{Value, json};

#[tokio::test]
async fn a_batch_burns_in_and_fail001_fails_with_its_bad_blocks() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let ids = [id_of(&drives, "ZJV0A1B2"), id_of(&drives, "FAIL001"), id_of(&drives, "VGH1K2L3")];
    let (status, body) = start(
        &server,
        json!({"drive_ids": ids, "stages": ["short_test", "surface"], "operator": "tester", "confirm_phrase": "ERASE 3 DRIVES"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let jobs: Vec<i64> =
        body.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect();
    let views = run_to_end(&server, &jobs, 4000.0).await;
    assert_eq!(views[0]["state"], "passed", "{:#}", views[0]);
    assert_eq!(views[2]["state"], "passed", "{:#}", views[2]);
    let failed = &views[1];
    assert_eq!(failed["state"], "failed", "{failed:#}");
    assert!(failed["reason"].as_str().unwrap().contains("24 bad blocks"), "{failed:#}");
    let surface =
        failed["stages"].as_array().unwrap().iter().find(|s| s["kind"] == "surface").unwrap();
    assert_eq!(surface["bad_blocks"], 24);
    let stages: Vec<&str> = views[0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["precheck", "short_test", "surface", "final_check"]);
    // The drive row carries the result.
    let row: Value = server
        .client
        .get(server.url(&format!("/api/v1/drives/{}", ids[1])))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(row["state"], "failed");
    assert_eq!(row["progress"]["bad_blocks"], 24);
    // Evidence: the SMART report is kept.
    let smart = server
        .client
        .get(server.url(&format!("/api/v1/drives/{}/smart", ids[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(smart.status(), 200);
}

#[tokio::test]
async fn disks_holding_data_are_refused_with_every_reason() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let pooled = id_of(&drives, "WD-WX12D401AB");
    let boot = id_of(&drives, "S6PNNS0T123456A");
    let exported = id_of(&drives, "ZW60ABCD");
    let (status, body) = start(
        &server,
        json!({"drive_ids": [pooled, boot, exported], "stages": ["surface"], "operator": "t", "confirm_phrase": "ERASE 3 DRIVES"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let reasons: Vec<&str> =
        body["error"]["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    let of = |serial: &str| -> Vec<&str> {
        reasons.iter().copied().filter(|r| r.starts_with(serial)).collect()
    };
    // Each disk is refused on the API's word and on the NAS's own, every reason named.
    let pooled_reasons = of("WD-WX12D401AB");
    assert!(pooled_reasons.iter().any(|r| r.contains("imported pool tank")), "{reasons:?}");
    assert!(pooled_reasons.iter().any(|r| r.contains("has partitions")), "{reasons:?}");
    assert!(pooled_reasons.iter().any(|r| r.contains("zfs_member")), "{reasons:?}");
    let boot_reasons = of("S6PNNS0T123456A");
    assert!(boot_reasons.iter().any(|r| r.contains("boot disk")), "{reasons:?}");
    assert!(boot_reasons.iter().any(|r| r.contains("has partitions")), "{reasons:?}");
    let exported_reasons = of("ZW60ABCD");
    assert!(exported_reasons.iter().any(|r| r.contains("exported pool oldbackup")), "{reasons:?}");
    assert!(exported_reasons.iter().any(|r| r.contains("zfs_member")), "{reasons:?}");
    assert_eq!(
        pooled_reasons.len() + boot_reasons.len() + exported_reasons.len(),
        reasons.len(),
        "every reason names its drive"
    );
    let audited: Vec<(String, String)> = audit_events(&server).await;
    let refused = audited.iter().find(|(action, _)| action == "burnin.refused").unwrap();
    assert!(refused.1.contains("exported pool oldbackup"), "{refused:?}");
    let jobs: Value =
        server.client.get(server.url("/api/v1/burnin")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jobs, json!([]), "nothing was queued");
    // A SMART-only burn-in of a pool member is fine: it writes nothing.
    let (status, _) =
        start(&server, json!({"drive_ids": [pooled], "stages": ["short_test"], "operator": "t"}))
            .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_destructive_start_needs_the_serial_typed() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let id = id_of(&drives, "ZJV0A1B3");
    let (status, body) =
        start(&server, json!({"drive_ids": [id], "stages": ["surface"], "operator": "t"})).await;
    assert_eq!(status, 403);
    assert!(body["error"]["message"].as_str().unwrap().contains("ZJV0A1B3"));
    let (status, _) = start(&server, json!({"drive_ids": [id], "stages": ["surface"], "operator": "t", "confirm_serial": "ZJV0A1B3"})).await;
    assert_eq!(status, 201);
    let (status, body) =
        start(&server, json!({"drive_ids": [id], "stages": ["short_test"], "operator": "t"})).await;
    assert_eq!(status, 403, "a second job on a busy drive: {body}");
    // The operator on record is the token's user, whatever name the request gives.
    let other = id_of(&drives, "ZL2AB1C1");
    let (status, body) = start(
        &server,
        json!({"drive_ids": [other], "stages": ["short_test"], "operator": "someone else"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body[0]["operator"].as_str().unwrap().starts_with("admin (token #"), "{body}");
}

#[tokio::test]
async fn cancel_stops_a_running_surface_test_on_the_nas() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let id = id_of(&drives, "ZJV0A1B4");
    let (_, body) = start(&server, json!({"drive_ids": [id], "stages": ["surface"], "operator": "t", "confirm_serial": "ZJV0A1B4"})).await;
    let job = body[0]["id"].as_i64().unwrap();
    let clock = server.sim_clock.clone().unwrap();
    server
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            clock.advance(600.0);
            j["stages"].as_array().is_some_and(|s| {
                s.iter().any(|s| {
                    s["kind"] == "surface"
                        && s["state"] == "running"
                        && s["percent"].as_f64().unwrap_or(0.0) > 1.0
                })
            })
        })
        .await;
    let cancelled = server
        .client
        .post(server.url(&format!("/api/v1/burnin/{job}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let view =
        server.wait_json(&format!("/api/v1/burnin/{job}"), |j| j["state"] == "cancelled").await;
    assert_eq!(view["stages"][1]["state"], "cancelled");
    let lab = server.sim_host("truenas-lab");
    let running = lab.with(|s| {
        s.processes
            .values()
            .filter(|p| p.state == burnin_simulator::host::ProcessState::Running)
            .count()
    });
    assert_eq!(running, 0, "badblocks was stopped on the NAS");
    let again = server
        .client
        .post(server.url(&format!("/api/v1/burnin/{job}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
}

#[tokio::test]
async fn a_20_tb_drive_gets_8k_blocks_and_a_stuck_self_test_is_flagged() {
    let server = demo(|config| config.stuck_after_secs = 1).await;
    let drives = drives(&server).await;
    let big = id_of(&drives, "ZVT0AB12");
    let (status, body) = start(&server, json!({"drive_ids": [big], "stages": ["surface"], "operator": "t", "confirm_serial": "ZVT0AB12"})).await;
    assert_eq!(status, 201, "{body}");
    let job = body[0]["id"].as_i64().unwrap();
    let clock = server.sim_clock.clone().unwrap();
    server
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            clock.advance(300.0);
            j["stages"][1]["state"] == "running"
                && j["stages"][1]["percent"].as_f64().unwrap_or(0.0) > 0.0
        })
        .await;
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().connect(&server.database_url()).await.unwrap();
    let (block_size,): (i64,) =
        sqlx::query_as("SELECT block_size FROM job_stages WHERE job_id = $1 AND kind = 'surface'")
            .bind(job)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(block_size, 8192, "4096-byte blocks would pass 2^32 on 20 TB");

    let stuck = id_of(&drives, "ZDH1X2Y4");
    let (_, body) =
        start(&server, json!({"drive_ids": [stuck], "stages": ["long_test"], "operator": "t"}))
            .await;
    let job = body[0]["id"].as_i64().unwrap();
    let view = server
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            clock.advance(600.0);
            j["stages"][1]["stuck"] == true
        })
        .await;
    assert!(
        view["stages"][1]["detail"].as_str().unwrap().contains("no progress at 10 %"),
        "{view:#}"
    );
}

#[tokio::test]
async fn api_errors_for_burnin_routes_are_json() {
    let server = TestServer::start().await;
    let bad = server
        .client
        .post(server.url("/api/v1/burnin/start"))
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let missing = server.client.get(server.url("/api/v1/burnin/424242")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let state =
        server.client.get(server.url("/api/v1/burnin?state=exploded")).send().await.unwrap();
    assert_eq!(state.status(), 400);
    let none: Value = server
        .client
        .post(server.url("/api/v1/burnin/cancel"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["cancelled"], 0);
}

#[tokio::test]
async fn a_disk_whose_pool_is_exported_while_queued_is_refused_at_the_second_check() {
    let server = demo(|config| config.jobs_per_host = 1).await;
    let drives = drives(&server).await;
    // ZDH1X2Y4's self-test stalls at 10 %: the slot stays taken until the cancel below,
    // however slow the machine.
    let busy = id_of(&drives, "ZDH1X2Y4");
    let target = id_of(&drives, "ZL2AB1C1");
    // The host's only slot is taken by a long self-test, so the surface job waits in the queue.
    let (status, body) =
        start(&server, json!({"drive_ids": [busy], "stages": ["long_test"], "operator": "t"}))
            .await;
    assert_eq!(status, 201, "{body}");
    let blocker = body[0]["id"].as_i64().unwrap();
    server.wait_json(&format!("/api/v1/burnin/{blocker}"), |j| j["state"] == "running").await;
    let (status, body) = start(
        &server,
        json!({"drive_ids": [target], "stages": ["surface"], "operator": "t", "confirm_serial": "ZL2AB1C1"}),
    )
    .await;
    assert_eq!(status, 201, "the disk is free at the first check: {body}");
    let job = body[0]["id"].as_i64().unwrap();
    assert_eq!(body[0]["state"], "queued");
    // Meanwhile someone makes a pool on it and exports it.
    server.sim_host("truenas-lab").with(|state| {
        state.pools.push(burnin_simulator::host::Pool {
            name: "scratch".into(),
            guid: 777,
            layout: burnin_simulator::scenario::PoolLayout::Stripe,
            members: vec!["ZL2AB1C1".into()],
            imported: false,
            used_percent: 0.0,
        });
    });
    let cancelled = server
        .client
        .post(server.url(&format!("/api/v1/burnin/{blocker}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let view = server
        .wait_json(&format!("/api/v1/burnin/{job}"), |j| {
            j["state"] != "queued" && j["state"] != "running"
        })
        .await;
    assert_eq!(view["state"], "interrupted", "{view}");
    let reason = view["reason"].as_str().unwrap_or_default().to_owned()
        + view["stages"].to_string().as_str();
    assert!(reason.contains("exported pool scratch"), "{view}");
    assert!(reason.contains("nothing was written"), "{view}");
    let lab = server.sim_host("truenas-lab");
    // The simulator's only processes are surface tests.
    assert!(lab.with(|s| s.processes.is_empty()), "badblocks must never have been sent");
    let audited = audit_events(&server).await;
    assert!(
        audited.iter().any(|(action, detail)| action == "burnin.refused"
            && detail.contains("before writing")
            && detail.contains("scratch")),
        "{audited:?}"
    );
    assert!(!audited.iter().any(|(action, _)| action == "burnin.surface.start"));
}

#[tokio::test]
async fn a_nas_that_cannot_be_probed_refuses_the_surface_test() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let id = id_of(&drives, "ZL2AB1C1");
    server
        .sim_host("truenas-lab")
        .set_faults(burnin_simulator::Faults { ssh_refuse: true, ..Default::default() });
    server.sim_host("truenas-lab").drop_ssh_connections();
    let (status, body) = start(
        &server,
        json!({"drive_ids": [id], "stages": ["surface"], "operator": "t", "confirm_serial": "ZL2AB1C1"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let reasons = body["error"]["reasons"].to_string();
    assert!(reasons.contains("could not be checked"), "{reasons}");
    assert!(reasons.contains("mount table"), "the refusal names the fact: {reasons}");
    let jobs: Value =
        server.client.get(server.url("/api/v1/burnin")).send().await.unwrap().json().await.unwrap();
    assert_eq!(jobs, json!([]), "nothing was queued");
}

fn reasons_of(view: &Value) -> String {
    view["verdict"]["reasons"].to_string()
}

#[tokio::test]
async fn verdicts_of_demo_drives_are_right_and_explained() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let serials = ["ZJV0A1B2", "ZJV0A1B3", "VGH1K2L4", "Z1Z2X3C4", "FAIL001"];
    let ids: Vec<i64> = serials.iter().map(|s| id_of(&drives, s)).collect();
    let (status, body) = start(
        &server,
        json!({"drive_ids": ids, "stages": ["short_test", "surface"], "operator": "tester", "confirm_phrase": "ERASE 5 DRIVES"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let jobs: Vec<i64> =
        body.as_array().unwrap().iter().map(|j| j["id"].as_i64().unwrap()).collect();
    let views = run_to_end(&server, &jobs, 4000.0).await;
    let [healthy, cable, pending, sas, fail001] = views.as_slice() else { unreachable!() };

    assert_eq!(healthy["verdict"]["outcome"], "pass", "{healthy:#}");
    assert_eq!(healthy["state"], "passed");
    // The deltas table shows the counters it compared, from the two snapshots.
    assert!(healthy["verdict"]["deltas"].to_string().contains("Current pending sectors (197)"));
    assert!(!healthy["temperatures"].as_array().unwrap().is_empty(), "temperature series kept");

    assert_eq!(cable["verdict"]["outcome"], "warn", "{cable:#}");
    assert_eq!(cable["state"], "passed", "a cable is not the drive's fault");
    assert!(reasons_of(cable).contains("check the cable"), "{cable:#}");

    assert_eq!(pending["verdict"]["outcome"], "fail", "{pending:#}");
    assert_eq!(pending["state"], "failed");
    assert!(
        reasons_of(pending).contains("Current pending sectors (197) rose from 0 to 8"),
        "{pending:#}"
    );

    assert_eq!(sas["verdict"]["outcome"], "fail", "{sas:#}");
    assert_eq!(sas["state"], "failed");
    assert!(reasons_of(sas).contains("Grown defect list rose"), "{sas:#}");

    assert_eq!(fail001["verdict"]["outcome"], "fail");
    assert!(reasons_of(fail001).contains("24 bad blocks"), "{fail001:#}");
    // After a failed stage the final check still ran: the after snapshot is evidence.
    let after = server
        .client
        .get(server.url(&format!("/api/v1/burnin/{}/smart/after", jobs[4])))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    let after: Value = after.json().await.unwrap();
    assert_eq!(after["serial_number"], "FAIL001");

    // The plain-text report a technician pastes into an RMA.
    let report = server
        .client
        .get(server.url(&format!("/api/v1/burnin/{}/report", jobs[3])))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(report.contains("Verdict: FAIL"), "{report}");
    assert!(report.contains("Z1Z2X3C4"), "{report}");
    assert!(report.contains("Grown defect list"), "{report}");

    // Thresholds are settings, but a finished job keeps the verdict it was judged with: a
    // report already handed to a vendor never changes.
    assert_eq!(fail001["verdict_final"], true, "{fail001:#}");
    let tolerant = server
        .client
        .put(server.url("/api/v1/settings/verdict"))
        .json(
            &json!({"max_bad_blocks": 100, "hdd_fail_c": 60, "ssd_fail_c": 70, "nvme_fail_c": 80}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(tolerant.status(), 200);
    let again: Value = server
        .client
        .get(server.url(&format!("/api/v1/burnin/{}", jobs[4])))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["state"], "failed", "{again:#}");
    assert_eq!(again["verdict"], fail001["verdict"], "the verdict was not rewritten");
    assert!(!reasons_of(&again).contains("within the 100 tolerated"), "{again:#}");
    // The legacy flat field was read into the temperature table.
    let stored: Value = server.get_json("/api/v1/settings/verdict").await;
    assert_eq!(stored["max_bad_blocks"], 100);
    assert_eq!(stored["temperatures"]["hdd"]["fail_c"], 60.0);
    let bad = server
        .client
        .put(server.url("/api/v1/settings/verdict"))
        .json(&json!({"max_bad_blocks": 0, "hdd_fail_c": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_self_test_the_host_aborts_is_retried_then_interrupted_not_failed() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let aborted = id_of(&drives, "71T0A0ABFVGG");
    let hot = id_of(&drives, "WD-CA0HOT01");
    let (status, body) =
        start(&server, json!({"drive_ids": [aborted], "stages": ["short_test"], "operator": "t"}))
            .await;
    assert_eq!(status, 201, "{body}");
    let first = body[0]["id"].as_i64().unwrap();
    let (status, body) = start(
        &server,
        json!({"drive_ids": [hot], "stages": ["surface"], "operator": "t", "confirm_serial": "WD-CA0HOT01"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let second = body[0]["id"].as_i64().unwrap();
    let views = run_to_end(&server, &[first, second], 3000.0).await;

    let job = &views[0];
    assert_eq!(job["state"], "interrupted", "{job:#}");
    assert_eq!(job["verdict"]["outcome"], "incomplete", "not the drive's fault: {job:#}");
    assert!(job["reason"].as_str().unwrap().contains("stopped by the host twice"), "{job:#}");
    let lab = server.sim_host("truenas-lab");
    let tests_logged =
        lab.with(|s| s.drive_by_serial("71T0A0ABFVGG").map_or(0, |d| d.self_test_log.len()));
    assert!(tests_logged >= 2, "the test was started again once: {tests_logged} logged");

    let hot_job = &views[1];
    assert_eq!(hot_job["verdict"]["outcome"], "warn", "{hot_job:#}");
    assert!(reasons_of(hot_job).contains("check the cooling"), "{hot_job:#}");
    let peak = hot_job["verdict"]["max_temperature_c"].as_f64().unwrap();
    assert!((50.0..60.0).contains(&peak), "the peak under load is kept: {peak}");
}
