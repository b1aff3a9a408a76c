//! Inventory and the live channel end to end: the server runs the built-in simulated fleet
//! and reaches it only over the TrueNAS WebSocket API, like any NAS.

use crate::common;

use std::time::Duration;

use common::TestServer;
use futures_util::StreamExt;
use serde_json::{Value, json};

async fn demo() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    TestServer::start_with(dir, |config| {
        config.simulator = burnin_server::config::SimulatorMode::Always;
        config.poll_interval_secs = 1;
        config.temperature_interval_secs = 1;
    })
    .await
}

fn drive<'a>(drives: &'a Value, serial: &str) -> &'a Value {
    drives.as_array().unwrap().iter().find(|d| d["serial"] == serial).unwrap_or(&Value::Null)
}

async fn all_online(server: &TestServer) {
    server
        .wait_json("/api/v1/hosts", |hosts| {
            hosts
                .as_array()
                .is_some_and(|h| h.len() == 2 && h.iter().all(|h| h["status"] == "online"))
        })
        .await;
}

#[tokio::test]
async fn the_demo_fleet_appears_with_pools_boot_disks_and_exported_pools() {
    let server = demo().await;
    all_online(&server).await;
    // Drives are listed as soon as the inventory has them; temperatures follow with the next
    // temperature read.
    let drives = server
        .wait_json("/api/v1/drives", |d| {
            d.as_array().is_some_and(|d| d.len() == 26)
                && drive(d, "ZJV0A1B2")["temperature_c"].is_number()
        })
        .await;
    assert_eq!(drive(&drives, "WD-WX12D401AB")["pool"], json!({"kind": "pool", "name": "tank"}));
    assert_eq!(drive(&drives, "S6PNNS0T123456A")["pool"], json!({"kind": "boot"}));
    assert_eq!(
        drive(&drives, "ZW60ABCD")["pool"],
        json!({"kind": "exported_pool", "name": "oldbackup"})
    );
    assert_eq!(drive(&drives, "FAIL001")["pool"], json!({"kind": "free"}));
    assert_eq!(drive(&drives, "FAIL001")["host_name"], "truenas-lab");
    assert_eq!(drive(&drives, "S4EWNX0N123456")["kind"], "NVME");
    assert_eq!(drive(&drives, "S4EWNX0N123456")["devname"], "nvd0");
    assert!(drive(&drives, "ZJV0A1B2")["temperature_c"].is_number());
    let hosts: Value =
        server.client.get(server.url("/api/v1/hosts")).send().await.unwrap().json().await.unwrap();
    let lab = hosts.as_array().unwrap().iter().find(|h| h["name"] == "truenas-lab").unwrap();
    assert_eq!(lab["simulated"], true);
    assert!(lab["truenas_version"].as_str().unwrap().contains("25.10"));
    let text = hosts.to_string();
    assert!(!text.contains("1-") || !text.contains("api_key\""), "an API key leaked: {text}");
}

#[tokio::test]
async fn filters_work_the_same_in_the_api() {
    let server = demo().await;
    server.wait_json("/api/v1/drives", |d| d.as_array().is_some_and(|d| d.len() == 26)).await;
    let wd: Value = server
        .client
        .get(server.url("/api/v1/drives?search=wd80efax"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wd.as_array().unwrap().len(), 3);
    let hosts: Value =
        server.client.get(server.url("/api/v1/hosts")).send().await.unwrap().json().await.unwrap();
    let core_id =
        hosts.as_array().unwrap().iter().find(|h| h["name"] == "core-vault").unwrap()["id"]
            .as_i64()
            .unwrap();
    let core: Value = server
        .client
        .get(server.url(&format!("/api/v1/drives?host_id={core_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(core.as_array().unwrap().len(), 5);
    let bad = server.client.get(server.url("/api/v1/drives?state=melted")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("idle"), "{body}");
}

#[tokio::test]
async fn a_temperature_change_reaches_an_open_live_channel() {
    let server = demo().await;
    server.wait_json("/api/v1/drives", |d| d.as_array().is_some_and(|d| d.len() == 26)).await;
    // The hub is told of each drive right after the database: connect until its snapshot has
    // the drive.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (mut socket, id) = loop {
        let (mut socket, _) =
            tokio_tungstenite::connect_async(server.live_request()).await.unwrap();
        let first: Value =
            serde_json::from_str(socket.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        assert_eq!(first["t"], "snapshot");
        let found = first["drives"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["serial"] == "ZJV0A1B4")
            .map(|d| d["id"].clone());
        if let Some(id) = found {
            break (socket, id);
        }
        assert!(tokio::time::Instant::now() < deadline, "the drive never reached the hub");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    server.sim_host("truenas-lab").with(|state| {
        let drive = state.drives.iter_mut().find(|d| d.spec.serial == "ZJV0A1B4").unwrap();
        drive.spec.idle_temperature_c = 61.0;
        drive.temperature_c = 61.0;
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("a temperature update in time")
            .unwrap()
            .unwrap();
        let Ok(text) = frame.to_text() else { continue };
        let Ok(message) = serde_json::from_str::<Value>(text) else { continue };
        if message["t"] == "temp"
            && message["id"] == id
            && message["c"].as_f64().is_some_and(|c| c >= 60.0)
        {
            assert!(text.len() <= 64, "a temperature update is {} bytes", text.len());
            break;
        }
    }
    let stored: Value = server
        .client
        .get(server.url(&format!("/api/v1/drives/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stored["temperature_c"].as_f64().unwrap() >= 60.0, "written to the database first");
}

#[tokio::test]
async fn a_drive_renamed_from_sdc_to_sdz_keeps_its_identity_and_notes() {
    let server = demo().await;
    let drives =
        server.wait_json("/api/v1/drives", |d| d.as_array().is_some_and(|d| d.len() == 26)).await;
    let before = drive(&drives, "ZJV0A1B4").clone();
    assert_eq!(before["devname"], "sdc");
    let id = before["id"].as_i64().unwrap();
    let patched = server
        .client
        .patch(server.url(&format!("/api/v1/drives/{id}")))
        .json(&json!({"location": "Bay 3", "notes": "arrived 2026-11-20"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);

    let lab = server.sim_host("truenas-lab");
    lab.with(|state| assert!(state.remove_drive("ZJV0A1B4")));
    server.wait_json(&format!("/api/v1/drives/{id}"), |d| d["state"] == "absent").await;
    lab.with(|state| assert!(state.return_drive("ZJV0A1B4", "sdz")));
    let after = server
        .wait_json(&format!("/api/v1/drives/{id}"), |d| {
            d["devname"] == "sdz" && d["state"] == "idle"
        })
        .await;
    assert_eq!(after["location"], "Bay 3");
    assert_eq!(after["notes"], "arrived 2026-11-20");
    let all: Value =
        server.client.get(server.url("/api/v1/drives")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        all.as_array().unwrap().iter().filter(|d| d["serial"] == "ZJV0A1B4").count(),
        1,
        "no duplicate row"
    );
}

#[tokio::test]
async fn a_host_that_stops_answering_is_shown_offline_and_its_drives_kept() {
    let server = demo().await;
    all_online(&server).await;
    let core = server.sim_host("core-vault");
    core.set_faults(burnin_simulator::Faults { offline: true, ..Default::default() });
    core.drop_api_connections();
    let hosts = server
        .wait_json("/api/v1/hosts", |hosts| {
            hosts
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["name"] == "core-vault" && h["status"] == "offline")
        })
        .await;
    let vault = hosts.as_array().unwrap().iter().find(|h| h["name"] == "core-vault").unwrap();
    assert!(vault["last_seen_at"].is_string(), "the age of its data is known");
    assert!(vault["status_detail"].is_string());
    let drives: Value = server
        .client
        .get(server.url("/api/v1/drives?search=ST20000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(drives.as_array().unwrap().len(), 1, "the drives of an offline host stay listed");
    assert_ne!(drives[0]["state"], "absent", "nothing is guessed while the host is away");

    core.set_faults(burnin_simulator::Faults::default());
    server
        .wait_json("/api/v1/hosts", |hosts| {
            hosts
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["name"] == "core-vault" && h["status"] == "online")
        })
        .await;
}

#[tokio::test]
async fn patch_validates_its_input_and_audits_the_change() {
    let server = demo().await;
    let drives =
        server.wait_json("/api/v1/drives", |d| d.as_array().is_some_and(|d| d.len() == 26)).await;
    let id = drive(&drives, "FAIL001")["id"].as_i64().unwrap();
    let url = server.url(&format!("/api/v1/drives/{id}"));
    let cases = [
        (json!({"colour": "red"}), 400),
        (json!({}), 400),
        (json!({"notes": "x".repeat(501)}), 400),
    ];
    for (body, status) in cases {
        let response = server.client.patch(&url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].is_string());
    }
    let not_json = server
        .client
        .patch(&url)
        .body("location=x")
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    let missing = server
        .client
        .patch(server.url("/api/v1/drives/999999"))
        .json(&json!({"notes": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let ok = server
        .client
        .patch(&url)
        .header("x-burnin-operator", "alice")
        .json(&json!({"notes": "returned to vendor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let pool =
        sqlx::sqlite::SqlitePoolOptions::new().connect(&server.database_url()).await.unwrap();
    let (actor, action, detail): (String, String, String) =
        sqlx::query_as("SELECT actor, action, detail FROM audit_events WHERE action = 'drive.edit' ORDER BY id DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    // The token's user is the actor; a name in a header forges nothing.
    assert!(actor.starts_with("admin (token #"), "{actor}");
    assert_eq!(action, "drive.edit");
    assert!(detail.contains("returned to vendor"));
}

#[tokio::test]
async fn the_api_answers_unknown_routes_with_json_and_documents_every_route() {
    let server = TestServer::start().await;
    let missing = server.client.get(server.url("/api/v1/nothing-here")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("openapi.json"));
    let document: Value = server
        .client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in ["/api/v1/hosts", "/api/v1/drives", "/api/v1/drives/{id}"] {
        assert!(document["paths"][path].is_object(), "{path} undocumented");
    }
    assert!(document["paths"]["/api/v1/drives/{id}"]["patch"].is_object());
    let bad_id = server.client.get(server.url("/api/v1/drives/abc")).send().await.unwrap();
    assert_eq!(bad_id.status(), 400);
}

#[tokio::test]
async fn a_sas_drive_the_api_has_no_sensor_for_shows_smartctls_temperature() {
    let server = demo().await;
    all_online(&server).await;
    // SCALE 25.10 reads hwmon, which has no sensor for SAS: disk.temperatures gives null for
    // VAGX1234, and the idle SMART sweep over SSH fills the gap.
    let drives = server
        .wait_json("/api/v1/drives", |d| drive(d, "VAGX1234")["temperature_c"].is_number())
        .await;
    let shown = drive(&drives, "VAGX1234")["temperature_c"].as_f64().unwrap();
    let sensor = server.sim_host("truenas-lab").with(|state| {
        state.drives.iter().find(|d| d.spec.serial == "VAGX1234").unwrap().temperature() as f64
    });
    assert!((shown - sensor).abs() <= 1.0, "shown {shown} °C, smartctl says {sensor} °C");
    // The API's null reads do not erase it: a change staged for another drive shows once the
    // product has processed a disk.temperatures answer that also carried VAGX1234's null.
    let (applied, _seen) = tokio::sync::oneshot::channel();
    server.sim_host("truenas-lab").with(|state| {
        state.staged_temperatures.push(burnin_simulator::host::StagedTemperature {
            serial: "ZJV0A1B4".into(),
            celsius: 55.0,
            applied,
        });
    });
    let later =
        server.wait_json("/api/v1/drives", |d| drive(d, "ZJV0A1B4")["temperature_c"] == 55.0).await;
    assert!(
        drive(&later, "VAGX1234")["temperature_c"].is_number(),
        "a fresh smartctl reading was erased by the API's null: {}",
        drive(&later, "VAGX1234")
    );
}

/// A drive moved between bays and hosts keeps each place with its dates; a poll that finds it
/// where it was only extends the place.
#[tokio::test]
async fn moves_between_bays_and_hosts_are_recorded_not_overwritten() {
    use burnin_server::inventory::{Reported, apply_report};
    let dir = tempfile::tempdir().unwrap();
    let db = burnin_server::db::Db::open(&format!("sqlite://{}/b.db", dir.path().display()))
        .await
        .unwrap();
    let pool = db.pool();
    sqlx::query("INSERT INTO hosts (id, name) VALUES (1, 'nas'), (2, 'vault')")
        .execute(pool)
        .await
        .unwrap();
    let drive = |devname: &str, slot: Option<u32>| Reported {
        serial: "S1".into(),
        lunid: "5000c500a1b2c3d4".into(),
        identifier: "{serial_lunid}S1_5000c500a1b2c3d4".into(),
        devname: devname.into(),
        model: "ST4000VN008".into(),
        size_bytes: 4_000_000_000_000,
        kind: burnin::DriveKind::Hdd,
        rotation_rpm: Some(5900),
        bus: "SATA".into(),
        pool: burnin::PoolMembership::Free,
        slot,
        duplicate_serial: vec![],
    };
    let places = || async {
        let rows: Vec<(i64, String, Option<i64>, String, String)> = sqlx::query_as(
            "SELECT host_id, devname, slot, first_seen_at, last_seen_at FROM drive_places ORDER BY id",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        rows
    };

    apply_report(pool, 1, &[drive("sdc", Some(3))]).await.unwrap();
    let first = places().await;
    // Found where it was, and once without a bay (a poll whose details failed): still one place.
    apply_report(pool, 1, &[drive("sdc", Some(3))]).await.unwrap();
    apply_report(pool, 1, &[drive("sdc", None)]).await.unwrap();
    let same = places().await;
    assert_eq!(same.len(), 1, "{same:?}");
    assert_eq!(same[0].3, first[0].3, "the place keeps its first sighting");
    assert!(same[0].4 >= first[0].4, "and extends its last");

    // Pulled, then back in the same bay: where it was meanwhile is unknown, so a new place.
    apply_report(pool, 1, &[]).await.unwrap();
    apply_report(pool, 1, &[drive("sdc", Some(3))]).await.unwrap();
    // Listed twice by one report (two paths to one disk), twice over: one place, extended.
    apply_report(pool, 1, &[drive("sdc", Some(3)), drive("sdd", Some(3))]).await.unwrap();
    apply_report(pool, 1, &[drive("sdc", Some(3)), drive("sdd", Some(3))]).await.unwrap();
    apply_report(pool, 1, &[drive("sdf", Some(7))]).await.unwrap();
    apply_report(pool, 2, &[drive("ada0", None)]).await.unwrap();
    let moved: Vec<(i64, String, Option<i64>)> =
        places().await.into_iter().map(|(h, d, s, _, _)| (h, d, s)).collect();
    assert_eq!(
        moved,
        [
            (1, "sdc".into(), Some(3)),
            (1, "sdc".into(), Some(3)),
            (1, "sdd".into(), Some(3)),
            (1, "sdf".into(), Some(7)),
            (2, "ada0".into(), None)
        ],
        "a return, a new name, a new bay and a new host each open a place; the old host's bay \
         does not follow it"
    );
    let row: (i64, Option<i64>) =
        sqlx::query_as("SELECT host_id, slot FROM drives").fetch_one(pool).await.unwrap();
    assert_eq!(row, (2, None), "one row, on its new host, without the old host's bay");
}
