//! The alert feeds against the simulated fleet, through the real inventory, engine and
//! store: a host offline (checked as at chosen times), a pool degraded or full, a drive too
//! hot, a SMART failure and a rising counter on an idle drive, a stuck burn-in, a cancel by
//! someone else, an API key refused and SSH that cannot be used. Outcomes are asserted (kind,
//! state, severity, subject), never wording.

use crate::common;

use std::time::Duration;

use burnin::access::Role;
use common::{
    TestServer,
    demo::{demo, drives, id_of, start},
};
use serde_json::{Value, json};
use sqlx::SqlitePool;

async fn database(server: &TestServer) -> SqlitePool {
    SqlitePool::connect(&server.database_url()).await.unwrap()
}

async fn put_settings(server: &TestServer, body: Value) {
    let answer =
        server.client.put(server.url("/api/v1/settings")).json(&body).send().await.unwrap();
    let status = answer.status();
    assert_eq!(status, 200, "{}", answer.text().await.unwrap());
}

/// Alerts of `kind` in any state, as the API lists them.
async fn alerts_of(server: &TestServer, kind: &str) -> Vec<Value> {
    let listed = server.get_json(&format!("/api/v1/alerts?kind={kind}&state=all")).await;
    listed.as_array().cloned().unwrap_or_default()
}

/// Waits until an alert of `kind` on `subject` is in `state`; answers it.
async fn wait_alert(server: &TestServer, kind: &str, subject: &str, state: &str) -> Value {
    let found = server
        .wait_json(&format!("/api/v1/alerts?kind={kind}&state=all"), |alerts| {
            alerts.as_array().is_some_and(|a| {
                a.iter().any(|alert| alert["subject"] == subject && alert["state"] == state)
            })
        })
        .await;
    found
        .as_array()
        .unwrap()
        .iter()
        .find(|alert| alert["subject"] == subject && alert["state"] == state)
        .cloned()
        .unwrap()
}

/// (state, severity) of every alert row of `kind` on `subject`, pending ones included (the
/// API lists only raised, acknowledged and resolved ones).
async fn rows(pool: &SqlitePool, kind: &str, subject: &str) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT state, severity FROM alerts WHERE kind = $1 AND subject = $2 ORDER BY id",
    )
    .bind(kind)
    .bind(subject)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Waits (up to 20 s) until `done` accepts the rows of `kind` on `subject`.
async fn wait_rows(
    pool: &SqlitePool,
    kind: &str,
    subject: &str,
    done: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found = rows(pool, kind, subject).await;
        if done(&found) {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{kind} on {subject:?}: {found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn host_id(pool: &SqlitePool, name: &str) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT id FROM hosts WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn a_host_offline_warns_after_30_minutes_escalates_after_60_and_resolves_after_three_clear_checks()
 {
    let server = demo(|_| {}).await;
    drives(&server).await;
    let pool = database(&server).await;
    let core = server.sim_host("core-vault");
    core.set_faults(burnin_simulator::Faults { offline: true, ..Default::default() });
    core.drop_api_connections();
    server
        .wait_json("/api/v1/hosts", |hosts| {
            hosts
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["name"] == "core-vault" && h["status"] == "offline")
        })
        .await;
    let vault = host_id(&pool, "core-vault").await;
    let (last_seen,): (i64,) = sqlx::query_as(
        "SELECT CAST(strftime('%s', last_seen_at) AS INTEGER) FROM hosts WHERE id = $1",
    )
    .bind(vault)
    .fetch_one(&pool)
    .await
    .unwrap();
    let check = |minutes: i64| {
        let services = server.services.clone();
        async move {
            burnin_server::alerts::check_hosts_at(&services, last_seen + minutes * 60)
                .await
                .unwrap()
        }
    };
    check(29).await;
    assert_eq!(rows(&pool, "host_offline", "").await, vec![], "29 minutes is no alert yet");
    check(31).await;
    let open = alerts_of(&server, "host_offline").await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0]["host_id"].as_i64(), &open[0]["subject"]), (Some(vault), &json!("")));
    assert_eq!((&open[0]["state"], &open[0]["severity"]), (&json!("raised"), &json!("warning")));
    check(61).await;
    let open = alerts_of(&server, "host_offline").await;
    assert_eq!((&open[0]["state"], &open[0]["severity"]), (&json!("raised"), &json!("critical")));

    core.set_faults(burnin_simulator::Faults::default());
    server
        .wait_json("/api/v1/hosts", |hosts| {
            hosts.as_array().unwrap().iter().all(|h| h["status"] == "online")
        })
        .await;
    check(62).await;
    check(63).await;
    assert_eq!(alerts_of(&server, "host_offline").await[0]["state"], "raised", "two clear checks");
    check(64).await;
    let resolved = alerts_of(&server, "host_offline").await;
    assert_eq!((resolved.len(), &resolved[0]["state"]), (1, &json!("resolved")), "{resolved:?}");
}

#[tokio::test]
async fn a_degraded_pool_raises_after_its_damping_and_a_pool_over_90_percent_is_critical() {
    let server = demo(|_| {}).await;
    drives(&server).await;
    let pool = database(&server).await;
    put_settings(&server, json!({"alerts": {"pool_damping_secs": 3}})).await;
    // The demo's tank is 62 % full and healthy: nothing to say, once a whole inventory sweep
    // (disks, then pools) has read it since the settings changed. Each sweep stamps the drives
    // it saw at its start, so the stamp's second change means one whole sweep ran after the first.
    let stamp = || async {
        let (at,): (Option<String>,) = sqlx::query_as(
            "SELECT MAX(d.last_seen_at) FROM drives d JOIN hosts h ON h.id = d.host_id
              WHERE h.name = 'truenas-lab'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        at
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut stamps = vec![stamp().await];
    while stamps.len() < 3 {
        let now = stamp().await;
        if Some(&now) != stamps.last() {
            stamps.push(now);
        }
        assert!(tokio::time::Instant::now() < deadline, "no inventory sweeps: {stamps:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows(&pool, "pool_degraded", "tank").await, vec![]);
    assert_eq!(rows(&pool, "pool_usage", "tank").await, vec![]);

    let lab = server.sim_host("truenas-lab");
    lab.set_faults(burnin_simulator::Faults {
        faulted_disks: vec!["WD-WX12D401AB".into()],
        ..Default::default()
    });
    let pending = wait_rows(&pool, "pool_degraded", "tank", |r| !r.is_empty()).await;
    assert_eq!(pending[0].0, "pending", "raised before its damping time: {pending:?}");
    let raised = wait_alert(&server, "pool_degraded", "tank", "raised").await;
    assert_eq!(raised["severity"], "warning");
    let waited = raised["raised_at"].as_i64().unwrap() - raised["first_seen"].as_i64().unwrap();
    assert!(waited >= 3, "raised after {waited} s of a 3 s damping");

    lab.set_faults(burnin_simulator::Faults {
        faulted_disks: vec!["WD-WX12D401AB".into()],
        pool_used_percent: vec![("tank".into(), 93.0)],
        ..Default::default()
    });
    let full = wait_alert(&server, "pool_usage", "tank", "raised").await;
    assert_eq!(full["severity"], "critical");

    // Mended and emptied: each resolves after its clear checks.
    lab.set_faults(burnin_simulator::Faults::default());
    wait_alert(&server, "pool_degraded", "tank", "resolved").await;
    wait_alert(&server, "pool_usage", "tank", "resolved").await;
}

#[tokio::test]
async fn a_drive_held_over_its_critical_temperature_raises_and_one_below_does_not() {
    let server = demo(|_| {}).await;
    drives(&server).await;
    let pool = database(&server).await;
    put_settings(&server, json!({"alerts": {"temperature_sustain_secs": 3}})).await;
    let thresholds = server.get_json("/api/v1/settings/verdict").await;
    let crit = thresholds["temperatures"]["hdd"]["crit_c"].as_f64().unwrap();
    let lab = server.sim_host("truenas-lab");
    lab.with(|state| {
        assert!(state.set_temperature("ZJV0A1B2", crit + 4.0));
        assert!(state.set_temperature("ZJV0A1B3", crit - 3.0));
    });
    let pending = wait_rows(&pool, "temperature_high", "ZJV0A1B2", |r| !r.is_empty()).await;
    assert_eq!(pending[0], ("pending".to_owned(), "warning".to_owned()));
    let hot = wait_alert(&server, "temperature_high", "ZJV0A1B2", "raised").await;
    assert_eq!(hot["severity"], "warning");
    let held = hot["raised_at"].as_i64().unwrap() - hot["first_seen"].as_i64().unwrap();
    assert!(held >= 3, "raised after {held} s of a 3 s sustain time");
    assert_eq!(rows(&pool, "temperature_high", "ZJV0A1B3").await, vec![], "below the limit");

    // Cooled: resolved after the clear checks.
    lab.with(|state| state.set_temperature("ZJV0A1B2", crit - 10.0));
    wait_alert(&server, "temperature_high", "ZJV0A1B2", "resolved").await;
}

/// Waits until the SMART sweep has stored a reading of `serial`.
async fn wait_swept(pool: &SqlitePool, serial: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (at,): (Option<String>,) =
            sqlx::query_as("SELECT smart_at FROM drives WHERE serial = $1")
                .bind(serial)
                .fetch_one(pool)
                .await
                .unwrap();
        if at.is_some() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{serial} was never swept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_counter_rising_on_an_idle_drive_raises_one_unchanged_does_not_and_smart_failed_raises() {
    let server = demo(|config| config.smart_interval_secs = 5).await;
    drives(&server).await;
    let pool = database(&server).await;
    for serial in ["ZJV0A1B4", "VGH1K2L3", "ZL2AB1C1"] {
        wait_swept(&pool, serial).await;
    }
    let lab = server.sim_host("truenas-lab");
    lab.with(|state| {
        for (serial, reallocated) in [("ZJV0A1B4", 3.0), ("VGH1K2L3", 900.0)] {
            let drive = state.drives.iter_mut().find(|d| d.spec.serial == serial).unwrap();
            drive.counters.reallocated = reallocated;
        }
    });
    let rising = wait_alert(&server, "counter_rising", "ZJV0A1B4", "raised").await;
    assert_eq!(rising["severity"], "critical", "reallocations fail a burn-in: {rising}");
    let failed = wait_alert(&server, "smart_failed", "VGH1K2L3", "raised").await;
    assert_eq!(failed["severity"], "critical");
    // ZL2AB1C1 was read by the same sweeps, its counters unchanged.
    assert_eq!(rows(&pool, "counter_rising", "ZL2AB1C1").await, vec![]);
    assert_eq!(rows(&pool, "smart_failed", "ZJV0A1B4").await, vec![], "3 reallocations pass");
}

#[tokio::test]
async fn a_stuck_self_test_raises_and_its_end_resolves_it_while_a_cancel_by_its_starter_is_quiet() {
    let server = demo(|config| config.stuck_after_secs = 1).await;
    let drives = drives(&server).await;
    let serial = "ZDH1X2Y4";
    let (status, body) = start(
        &server,
        json!({"drive_ids": [id_of(&drives, serial)], "stages": ["long_test"], "operator": "t"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let job = body[0]["id"].as_i64().unwrap();
    let clock = server.sim_clock.clone().unwrap();
    let ticking = tokio::spawn(async move {
        loop {
            clock.advance(600.0);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let stuck = wait_alert(&server, "burnin_stuck", serial, "raised").await;
    ticking.abort();
    assert_eq!(stuck["severity"], "warning");

    let answer = server
        .client
        .post(server.url(&format!("/api/v1/burnin/{job}/cancel")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    server.wait_json(&format!("/api/v1/burnin/{job}"), |j| j["state"] == "cancelled").await;
    wait_alert(&server, "burnin_stuck", serial, "resolved").await;
    assert_eq!(alerts_of(&server, "burnin_cancelled").await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_burn_in_cancelled_by_someone_other_than_its_starter_raises_a_warning() {
    let server = demo(|_| {}).await;
    let drives = drives(&server).await;
    // Its self-test stalls at 10 %: still running when the cancel comes, however slow the machine.
    let serial = "ZDH1X2Y4";
    let (status, body) = start(
        &server,
        json!({"drive_ids": [id_of(&drives, serial)], "stages": ["long_test"], "operator": "t"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let job = body[0]["id"].as_i64().unwrap();
    let operator = server.client_as(Role::Operator).await;
    let answer =
        operator.post(server.url(&format!("/api/v1/burnin/{job}/cancel"))).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let cancelled = wait_alert(&server, "burnin_cancelled", serial, "raised").await;
    assert_eq!(cancelled["severity"], "warning");
    server.wait_json(&format!("/api/v1/burnin/{job}"), |j| j["state"] == "cancelled").await;
    assert_eq!(alerts_of(&server, "burnin_cancelled").await.len(), 1);
}

#[tokio::test]
async fn an_api_key_the_host_refuses_raises_after_its_damping_and_resolves_once_it_works() {
    let server = demo(|_| {}).await;
    drives(&server).await;
    let pool = database(&server).await;
    put_settings(&server, json!({"alerts": {"connection_damping_secs": 2}})).await;
    let core = server.sim_host("core-vault");
    core.with(|state| state.api_key_revoked = true);
    core.drop_api_connections();
    let pending = wait_rows(&pool, "api_auth_failing", "", |r| !r.is_empty()).await;
    assert_eq!(pending[0].0, "pending", "{pending:?}");
    let refused = wait_alert(&server, "api_auth_failing", "", "raised").await;
    assert_eq!(refused["host_id"].as_i64(), Some(host_id(&pool, "core-vault").await));
    let waited = refused["raised_at"].as_i64().unwrap() - refused["first_seen"].as_i64().unwrap();
    assert!(waited >= 2, "raised after {waited} s of a 2 s damping");

    core.with(|state| state.api_key_revoked = false);
    wait_alert(&server, "api_auth_failing", "", "resolved").await;
}

#[tokio::test]
async fn ssh_that_cannot_connect_raises_after_its_damping() {
    let server = demo(|config| config.smart_interval_secs = 5).await;
    drives(&server).await;
    let pool = database(&server).await;
    put_settings(&server, json!({"alerts": {"connection_damping_secs": 1}})).await;
    let core = server.sim_host("core-vault");
    core.set_faults(burnin_simulator::Faults { ssh_refuse: true, ..Default::default() });
    core.drop_ssh_connections();
    let refused = wait_alert(&server, "ssh_unreachable", "", "raised").await;
    assert_eq!(refused["host_id"].as_i64(), Some(host_id(&pool, "core-vault").await));
    assert_eq!(refused["severity"], "warning");
    let lab = host_id(&pool, "truenas-lab").await;
    let others = alerts_of(&server, "ssh_unreachable").await;
    assert!(others.iter().all(|a| a["host_id"].as_i64() != Some(lab)), "{others:?}");
}

/// The idle SMART sweep gives a host whose SSH refuses two tries, not one per drive: behind a
/// dead link each try may wait out a connection timeout. The simulator notes when each refused
/// connection came in; a sweep's tries come together, the next sweep's seconds later.
#[tokio::test]
async fn a_host_whose_ssh_refuses_is_tried_twice_a_sweep_not_once_per_drive() {
    let server = demo(|config| config.smart_interval_secs = 5).await;
    drives(&server).await;
    let core = server.sim_host("core-vault");
    let idle_drives = core.with(|state| state.drives.len());
    assert!(idle_drives > 2, "the CORE host has more drives than tries");
    core.set_faults(burnin_simulator::Faults { ssh_refuse: true, ..Default::default() });
    core.drop_ssh_connections();
    // Three sweeps' tries: bursts of refused connections seconds apart.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let bursts = loop {
        let at = core.refused_ssh_connections();
        let mut bursts: Vec<usize> = Vec::new();
        for (i, when) in at.iter().enumerate() {
            let apart = i == 0 || when.duration_since(at[i - 1]) > Duration::from_millis(1000);
            if apart {
                bursts.push(1);
            } else if let Some(last) = bursts.last_mut() {
                *last += 1;
            }
        }
        // The last burst may still be under way: only those before it are whole.
        if bursts.len() > 3 {
            bursts.pop();
            break bursts;
        }
        assert!(tokio::time::Instant::now() < deadline, "three sweeps within 90 s: {bursts:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(bursts.iter().all(|tries| *tries <= 2), "tries per sweep: {bursts:?}");
}
