//! One writer, exactly once: faults injected into the simulated NAS at the worst moments, each
//! test counting the writers the NAS saw for the disk (`HostState::writers_for`) and the starts
//! it was sent (`start_attempts`).

use crate::common;

use std::time::Duration;

use burnin_simulator::{BeforeStart, CommandKind, Faults, host::ProcessState};
use common::{
    TestServer,
    demo::{audit_events, demo, drives, id_of, job, run_to_end, start, surface},
};
use serde_json::{Value, json};

const LAB: &str = "truenas-lab";

fn writers(server: &TestServer, serial: &str) -> (usize, u32) {
    server
        .sim_host(LAB)
        .with(|s| (s.writers_for(serial), s.start_attempts.get(serial).copied().unwrap_or(0)))
}

fn surface_body(id: i64, serial: &str) -> Value {
    json!({"drive_ids": [id], "stages": ["surface"], "operator": "t", "confirm_serial": serial})
}

/// Waits (20 s at most) until `done` holds, checking every 20 ms.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_start_whose_reply_is_lost_leaves_exactly_one_writer_and_the_job_follows_it() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let serial = "ZJV0A1B4";
    server
        .sim_host(LAB)
        .set_faults(Faults { drop_reply: Some((CommandKind::Start, 1)), ..Faults::default() });
    let (status, body) = start(&server, surface_body(id_of(&drives, serial), serial)).await;
    assert_eq!(status, 201, "{body}");
    let id = body[0]["id"].as_i64().unwrap();
    let views = run_to_end(&server, &[id], 4000.0).await;
    assert_eq!(views[0]["state"], "passed", "{:#}", views[0]);
    assert_eq!(surface(&views[0])["bad_blocks"], 0);
    let fault_left = server.sim_host(LAB).with(|s| s.faults.drop_reply);
    assert_eq!(fault_left, Some((CommandKind::Start, 0)), "the start's reply was lost");
    assert_eq!(writers(&server, serial), (1, 1), "one writer, one start sent");
}

#[tokio::test]
async fn a_cancel_during_the_precheck_starts_no_writer() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let serial = "ZJV0A1B2";
    let lab = server.sim_host(LAB);
    lab.hold(CommandKind::Smartctl);
    let (status, body) = start(&server, surface_body(id_of(&drives, serial), serial)).await;
    assert_eq!(status, 201, "{body}");
    let id = body[0]["id"].as_i64().unwrap();
    until("the pre-check's smartctl waiting on the NAS", || lab.held() > 0).await;
    let view = job(&server, id).await;
    assert_eq!(view["stages"][0]["state"], "running", "{view:#}");
    let cancelled = server
        .client
        .post(server.url(&format!("/api/v1/burnin/{id}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let answer: Value = cancelled.json().await.unwrap();
    assert_eq!(answer["cancel_requested"], true, "{answer:#}");
    lab.release();
    let done =
        server.wait_json(&format!("/api/v1/burnin/{id}"), |j| j["state"] == "cancelled").await;
    assert_eq!(surface(&done)["state"], "cancelled", "{done:#}");
    assert_eq!(writers(&server, serial), (0, 0), "no start was ever sent");
    assert!(!audit_events(&server).await.iter().any(|(a, _)| a == "burnin.surface.start"));
}

#[tokio::test]
async fn a_cancel_during_the_check_before_writing_starts_no_writer() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let serial = "ZJV0A1B3";
    let (status, body) = start(&server, surface_body(id_of(&drives, serial), serial)).await;
    assert_eq!(status, 201, "{body}");
    let id = body[0]["id"].as_i64().unwrap();
    // The start's own check is done; hold the probes of the check right before writing.
    let lab = server.sim_host(LAB);
    lab.hold(CommandKind::Probe);
    until("the check before writing waiting on the NAS", || lab.held() > 0).await;
    let view = job(&server, id).await;
    assert_eq!(view["stages"][0]["state"], "passed", "the pre-check is done: {view:#}");
    assert_eq!(surface(&view)["state"], "running", "{view:#}");
    let cancelled = server
        .client
        .post(server.url(&format!("/api/v1/burnin/{id}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    lab.release();
    let done =
        server.wait_json(&format!("/api/v1/burnin/{id}"), |j| j["state"] == "cancelled").await;
    assert_eq!(surface(&done)["state"], "cancelled", "{done:#}");
    assert_eq!(writers(&server, serial), (0, 0), "no start was ever sent");
}

#[tokio::test]
async fn a_writer_that_ignores_term_is_killed_after_the_grace_and_reads_cancelled_only_then() {
    let server = demo(|config| config.stop_grace_secs = 1).await;
    let drives = drives(&server).await;
    let serial = "VGH1K2L3";
    let lab = server.sim_host(LAB);
    lab.set_faults(Faults { ignore_term: true, ..Faults::default() });
    let (status, body) = start(&server, surface_body(id_of(&drives, serial), serial)).await;
    assert_eq!(status, 201, "{body}");
    let id = body[0]["id"].as_i64().unwrap();
    let clock = server.sim_clock.clone().unwrap();
    server
        .wait_json(&format!("/api/v1/burnin/{id}"), |j| {
            clock.advance(300.0);
            surface(j)["percent"].as_f64().unwrap_or(0.0) > 0.5
        })
        .await;
    let cancelled = server
        .client
        .post(server.url(&format!("/api/v1/burnin/{id}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let alive = || {
        lab.with(|s| {
            s.processes.values().any(|p| p.serial == serial && p.state == ProcessState::Running)
        })
    };
    // TERM goes first. The KILL that follows it after the grace period is held, so that the
    // stopping state lasts until this test has seen it, however slow the machine.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while lab.with(|s| s.terms.values().sum::<u32>()) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no TERM was sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    lab.hold(CommandKind::Stop);
    // While the writer lives the job does not read as cancelled; it says it is stopping.
    let stopping = server
        .wait_json(&format!("/api/v1/burnin/{id}"), |j| {
            surface(j)["detail"].as_str().unwrap_or("").contains("TERM sent")
        })
        .await;
    assert!(alive(), "badblocks ignores TERM and still runs");
    assert_eq!(stopping["state"], "running", "{stopping:#}");
    assert_eq!(stopping["cancel_requested"], true, "{stopping:#}");
    lab.release();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let view = job(&server, id).await;
        let still_alive = alive();
        if view["state"] == "cancelled" {
            assert!(!still_alive, "the job read cancelled while badblocks still ran: {view:#}");
            break;
        }
        assert_eq!(view["state"], "running", "{view:#}");
        assert!(tokio::time::Instant::now() < deadline, "not cancelled: {view:#}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (terms, kills) =
        lab.with(|s| (s.terms.values().sum::<u32>(), s.kills.values().sum::<u32>()));
    assert!(terms >= 1, "TERM was sent first");
    assert!(kills >= 1, "then KILL, after the grace period");
    assert_eq!(writers(&server, serial).0, 1);
}

#[tokio::test]
async fn concurrent_starts_for_one_drive_make_one_job_and_a_repeated_key_the_same_answer() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let serial = "ZL2AB1C1";
    let id = id_of(&drives, serial);
    let posts = (0..4).map(|_| start(&server, surface_body(id, serial)));
    // Sent together: each request's checks run while the others' do.
    let answers = futures_util::future::join_all(posts).await;
    let created: Vec<&(u16, Value)> = answers.iter().filter(|(status, _)| *status == 201).collect();
    assert_eq!(created.len(), 1, "{answers:#?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 201) {
        assert!(matches!(status, 403 | 409), "{status}: {body}");
        assert!(body.to_string().contains("already queued or running"), "{body}");
    }
    let jobs: Value = server.get_json(&format!("/api/v1/burnin?drive_id={id}")).await;
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs:#}");

    // The same request with the same Idempotency-Key: the first answer, nothing new.
    let other = id_of(&drives, "ZL2AB1C2");
    let body = json!({"drive_ids": [other], "stages": ["short_test"], "operator": "t"});
    let keyed = |body: Value| {
        server
            .client
            .post(server.url("/api/v1/burnin/start"))
            .header("Idempotency-Key", "4f1c2a3e-retry-1")
            .json(&body)
            .send()
    };
    let first = keyed(body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = keyed(body.clone()).await.unwrap();
    assert_eq!(again.status(), 201, "a repeat is answered as the first was");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again[0]["id"], first[0]["id"]);
    assert_eq!(again, first);
    let jobs: Value = server.get_json(&format!("/api/v1/burnin?drive_id={other}")).await;
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs:#}");
    // The key reused for another request is refused, naming why.
    let reused = keyed(json!({"drive_ids": [other], "stages": ["long_test"], "operator": "t"}))
        .await
        .unwrap();
    assert_eq!(reused.status(), 422);
    assert!(reused.text().await.unwrap().contains("different request"));
}

#[tokio::test]
async fn a_disk_renamed_or_replaced_at_its_name_before_the_start_is_refused_by_the_start() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    for (serial, change) in [
        ("VGH1K2L5", BeforeStart::Rename { serial: "VGH1K2L5".into(), to: "sdz".into() }),
        ("ZDH1X2Y3", BeforeStart::SwapNames { a: "ZDH1X2Y3".into(), b: "ZW60ABCD".into() }),
    ] {
        let before =
            drives.as_array().unwrap().iter().find(|d| d["serial"] == serial).unwrap()["devname"]
                .as_str()
                .unwrap()
                .to_owned();
        server.sim_host(LAB).set_faults(Faults { before_start: Some(change), ..Faults::default() });
        let (status, body) = start(&server, surface_body(id_of(&drives, serial), serial)).await;
        assert_eq!(status, 201, "{body}");
        let id = body[0]["id"].as_i64().unwrap();
        let views = run_to_end(&server, &[id], 600.0).await;
        let view = &views[0];
        assert_eq!(view["state"], "interrupted", "{view:#}");
        let detail = surface(view)["detail"].as_str().unwrap_or("").to_owned();
        assert!(detail.contains("nothing was written"), "{detail}");
        assert!(detail.contains(&format!("not /dev/{before}")), "{detail}");
        assert_eq!(writers(&server, serial), (0, 1), "one start, refused by the NAS itself");
        assert!(
            audit_events(&server).await.iter().any(|(a, d)| a == "burnin.refused"
                && d.contains(serial)
                && d.contains("at the start")),
            "the refusal is audited"
        );
    }
}

#[tokio::test]
async fn a_disk_held_open_given_to_a_vm_or_shared_over_iscsi_is_refused_with_each_reason() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let lab = server.sim_host(LAB);
    let link = lab.with(|s| {
        s.holders.push(burnin_simulator::host::Holder {
            serial: "ZJV0A1B2".into(),
            pid: 812,
            command: "dd".into(),
        });
        let drive = s.drive_by_serial("ZJV0A1B3").unwrap().clone();
        let link = format!("/dev/disk/by-id/{}", s.by_id_names(&drive)[0]);
        s.vm_raw_disks.push(burnin_simulator::host::ConfiguredDisk {
            name: "plex".into(),
            path: link.clone(),
        });
        let devname = s.drive_by_serial("ZJV0A1B4").unwrap().devname.clone();
        s.iscsi_extents
            .push(burnin_simulator::host::ConfiguredDisk { name: "lun0".into(), path: devname });
        link
    });
    let ids: Vec<i64> =
        ["ZJV0A1B2", "ZJV0A1B3", "ZJV0A1B4"].iter().map(|s| id_of(&drives, s)).collect();
    let (status, body) = start(
        &server,
        json!({"drive_ids": ids, "stages": ["surface"], "operator": "t", "confirm_phrase": "ERASE 3 DRIVES"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let reasons: Vec<String> = body["error"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    let of = |serial: &str| {
        reasons.iter().filter(|r| r.starts_with(serial)).cloned().collect::<Vec<_>>()
    };
    assert_eq!(of("ZJV0A1B2").len(), 1, "{reasons:#?}");
    assert!(of("ZJV0A1B2")[0].contains("open in process 812 (dd)"), "{reasons:#?}");
    assert_eq!(of("ZJV0A1B3").len(), 1, "{reasons:#?}");
    assert!(of("ZJV0A1B3")[0].contains("virtual machine plex"), "{reasons:#?} ({link})");
    assert_eq!(of("ZJV0A1B4").len(), 1, "{reasons:#?}");
    assert!(of("ZJV0A1B4")[0].contains("iSCSI as the extent lun0"), "{reasons:#?}");
    let jobs: Value = server.get_json("/api/v1/burnin").await;
    assert_eq!(jobs, json!([]), "nothing was queued");
    assert_eq!(lab.with(|s| s.writers.len()), 0);
}

#[tokio::test]
async fn ssh_reaching_another_machine_refuses_every_disk() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    server.sim_host(LAB).set_faults(Faults { ssh_other_host: true, ..Faults::default() });
    let (status, body) = start(&server, surface_body(id_of(&drives, "ZJV0A1B2"), "ZJV0A1B2")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("the SSH login reaches backup-nas"), "{body}");
}

#[tokio::test]
async fn a_tolerated_bad_block_count_passes_the_drive_with_a_warning() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let put = server
        .client
        .put(server.url("/api/v1/settings/verdict"))
        .json(&json!({"max_bad_blocks": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    // Its only fault: 24 bad blocks, which SMART does not count as reallocated.
    server.sim_host(LAB).with(|s| {
        let drive = s.drives.iter_mut().find(|d| d.spec.serial == "FAIL001").unwrap();
        for behaviour in &mut drive.spec.behaviours {
            if let burnin_simulator::Behaviour::FailsSurface { remaps, .. } = behaviour {
                *remaps = false;
            }
        }
    });
    let (status, body) = start(&server, surface_body(id_of(&drives, "FAIL001"), "FAIL001")).await;
    assert_eq!(status, 201, "{body}");
    let id = body[0]["id"].as_i64().unwrap();
    let views = run_to_end(&server, &[id], 4000.0).await;
    let view = &views[0];
    assert_eq!(view["state"], "passed", "{view:#}");
    assert_eq!(view["verdict"]["outcome"], "warn", "{view:#}");
    assert_eq!(surface(view)["state"], "passed", "{view:#}");
    assert_eq!(surface(view)["bad_blocks"], 24);
    assert!(
        view["verdict"]["reasons"].to_string().contains("24 bad blocks, within the 100 tolerated"),
        "{view:#}"
    );
    assert!(surface(view)["detail"].as_str().unwrap().contains("within the 100 tolerated"));
}

#[tokio::test]
async fn an_nvme_drive_at_62_degrees_is_warm_not_too_hot_to_test() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    let serial = "S4EWNX0N123456";
    server.sim_host("core-vault").with(|s| s.set_temperature(serial, 62.0));
    let (status, body) = start(
        &server,
        json!({"drive_ids": [id_of(&drives, serial)], "stages": ["short_test"], "operator": "t"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body[0]["id"].as_i64().unwrap();
    let views = run_to_end(&server, &[id], 60.0).await;
    let view = &views[0];
    assert_eq!(view["stages"][0]["state"], "passed", "the pre-check let it run: {view:#}");
    assert!(view["stages"][0]["detail"].as_str().unwrap().contains("62 °C"), "{view:#}");
    assert_eq!(view["state"], "passed", "{view:#}");
    // An HDD at 62 °C is past its 60 °C limit: the same pre-check refuses it.
    let hdd = "ZJV0A1B4";
    server.sim_host(LAB).with(|s| s.set_temperature(hdd, 62.0));
    let (_, body) = start(
        &server,
        json!({"drive_ids": [id_of(&drives, hdd)], "stages": ["short_test"], "operator": "t"}),
    )
    .await;
    let id = body[0]["id"].as_i64().unwrap();
    let views = run_to_end(&server, &[id], 60.0).await;
    assert_eq!(views[0]["state"], "failed", "{:#}", views[0]);
    assert!(views[0]["reason"].as_str().unwrap().contains("at or above its limit of 60 °C"));
}

#[tokio::test]
async fn a_stuck_surface_test_is_stopped_and_audited() {
    let server = demo(|config| {
        config.stuck_after_secs = 1;
        config.stuck_abort_after_secs = 2;
        config.stop_grace_secs = 1;
    })
    .await;
    let drives = drives(&server).await;
    let serial = "ZJV0A1B2";
    let lab = server.sim_host(LAB);
    lab.with(|s| {
        let drive = s.drives.iter_mut().find(|d| d.spec.serial == serial).unwrap();
        drive.spec.behaviours.push(burnin_simulator::Behaviour::SurfaceStuck { at_percent: 3.0 });
    });
    let (status, body) = start(&server, surface_body(id_of(&drives, serial), serial)).await;
    assert_eq!(status, 201, "{body}");
    let id = body[0]["id"].as_i64().unwrap();
    let views = run_to_end(&server, &[id], 2000.0).await;
    let view = &views[0];
    assert_eq!(view["state"], "failed", "{view:#}");
    assert!(surface(view)["detail"].as_str().unwrap().contains("stuck"), "{view:#}");
    assert!(
        lab.with(|s| !s
            .processes
            .values()
            .any(|p| p.serial == serial && p.state == ProcessState::Running)),
        "badblocks was stopped"
    );
    assert!(
        audit_events(&server)
            .await
            .iter()
            .any(|(a, d)| a == "burnin.stuck_stopped" && d.contains(&format!("\"job_id\":{id}")))
    );
}

#[tokio::test]
async fn ssh_cut_at_ten_random_moments_never_makes_a_second_writer_nor_loses_a_job() {
    let server = demo(|config| config.start_confirm_grace_secs = 1).await;
    let drives = drives(&server).await;
    let serials = [
        "ZJV0A1B2",
        "ZJV0A1B3",
        "ZJV0A1B4",
        "VGH1K2L3",
        "VGH1K2L5",
        "ZL2AB1C1",
        "ZL2AB1C2",
        "ZDH1X2Y3",
        "71T0A0AAFVGG",
        "VAGX1234",
    ];
    let lab = server.sim_host(LAB);
    let clock = server.sim_clock.clone().unwrap();
    // A fixed seed, so a failure repeats; each round cuts the link a different number of
    // polls into its surface stage, from before the start was sent to well into the test.
    let mut seed: u64 = 0x5eed_2026;
    let mut next = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    let mut jobs = Vec::new();
    for serial in serials {
        let (status, body) = start(&server, surface_body(id_of(&drives, serial), serial)).await;
        assert_eq!(status, 201, "{serial}: {body}");
        let id = body[0]["id"].as_i64().unwrap();
        jobs.push(id);
        let delay = Duration::from_millis(next() % 1500);
        tokio::time::sleep(delay).await;
        clock.advance((next() % 900) as f64);
        lab.drop_ssh_connections();
        eprintln!("{serial}: SSH cut {} ms after the start", delay.as_millis());
    }
    let views = run_to_end(&server, &jobs, 4000.0).await;
    for (serial, view) in serials.iter().zip(&views) {
        assert_eq!(view["state"], "passed", "{serial}: {view:#}");
        let (writers, _) = writers(&server, serial);
        assert_eq!(writers, 1, "{serial}: one writer");
    }
    assert_eq!(lab.with(|s| s.most_concurrent_writers()), 1);
}
