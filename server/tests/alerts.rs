//! Alerts through the real router: a failed burn-in raises one critical alert on its drive,
//! audited; a viewer cannot handle it; an operator acknowledges and resolves it with notes;
//! a host condition raises through the store the periodic check uses, and resolves by itself
//! only after enough clear checks.

use crate::common;

use burnin::{
    access::Role,
    alert::{AlertKind, AlertRules, Seen, Severity},
};
use serde_json::{Value, json};

#[tokio::test]
async fn a_failed_burn_in_raises_one_alert_that_an_operator_acknowledges_and_resolves() {
    let server = common::demo::demo(|_| {}).await;
    let drives = common::demo::drives(&server).await;
    assert_eq!(server.get_json("/api/v1/alerts").await, json!([]), "alerts before anything ran");
    let serial = "FAIL001";
    let ended = common::demo::surface_test_to_end(&server, &drives, serial).await;
    assert_eq!(ended["state"], "failed", "{ended}");

    let alerts =
        server.wait_json("/api/v1/alerts", |a| a.as_array().is_some_and(|a| !a.is_empty())).await;
    let alerts = alerts.as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["kind"], "burnin_failed");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["state"], "raised");
    assert_eq!(alert["subject"], serial);
    assert!(alert["message"].as_str().unwrap().contains("bad blocks"), "{alert}");
    let alert_id = alert["id"].as_i64().unwrap();
    let events = common::demo::audit_events(&server).await;
    assert!(events.iter().any(|(action, _)| action == "alert.raised"), "{events:?}");

    // A viewer reads it but cannot handle it.
    let viewer = server.client_as(Role::Viewer).await;
    let answer = viewer
        .post(server.url(&format!("/api/v1/alerts/{alert_id}/acknowledge")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);

    let operator = server.client_as(Role::Operator).await;
    let handle = |verb: &'static str, note: &'static str| {
        let operator = operator.clone();
        let url = server.url(&format!("/api/v1/alerts/{alert_id}/{verb}"));
        async move {
            let answer = operator.post(url).json(&json!({"note": note})).send().await.unwrap();
            (answer.status().as_u16(), answer.json::<Value>().await.unwrap())
        }
    };
    let (status, acked) = handle("acknowledge", "pulled for RMA").await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["state"], "acknowledged");
    assert!(acked["acknowledged_by"].as_str().unwrap().contains("operator"), "{acked}");
    assert_eq!(acked["note"], "pulled for RMA");
    let (status, again) = handle("acknowledge", "twice").await;
    assert_eq!(status, 409, "{again}");
    let (status, resolved) = handle("resolve", "returned to vendor").await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["state"], "resolved");
    assert_eq!(
        server.get_json("/api/v1/alerts").await,
        json!([]),
        "a resolved alert is still open"
    );
    let all = server.get_json("/api/v1/alerts?state=resolved").await;
    assert_eq!(all.as_array().map(Vec::len), Some(1));
    let (status, _) =
        server.call(reqwest::Method::GET, "/api/v1/alerts?state=sideways", None).await;
    assert_eq!(status, 400);
    let events = common::demo::audit_events(&server).await;
    for action in ["alert.acknowledged", "alert.resolved"] {
        assert!(events.iter().any(|(a, _)| a == action), "no {action}: {events:?}");
    }
}

#[tokio::test]
async fn a_host_condition_raises_escalates_and_resolves_only_after_clear_checks() {
    let server = common::demo::demo(|_| {}).await;
    common::demo::drives(&server).await;
    let hosts = server.get_json("/api/v1/hosts").await;
    let host = hosts[0]["id"].as_i64().unwrap();
    // Disabled, so the periodic check (which reads only enabled hosts) stays out of the way.
    let path = format!("/api/v1/hosts/{host}/disable");
    assert_eq!(server.call(reqwest::Method::POST, &path, None).await.0, 200);
    let pool = sqlx::SqlitePool::connect(&server.database_url()).await.unwrap();
    let rules = AlertRules::default();
    let key = (host, AlertKind::HostOffline, "");
    let offline = |minutes: u64| Seen::Firing {
        severity: rules.host_offline(minutes * 60).unwrap(),
        message: format!("offline for {minutes} minutes"),
    };
    let observe = |seen: Seen, at: i64| {
        let pool = pool.clone();
        let rules = rules.clone();
        async move { burnin_server::alerts::observe(&pool, &rules, key, seen, at).await.unwrap() }
    };
    let told = observe(offline(30), 1_000).await;
    assert!(matches!(told, Some((_, burnin::alert::Notice::Raised))), "{told:?}");
    let told = observe(offline(45), 1_060).await;
    assert_eq!(told, None, "a repeat notified again");
    let told = observe(offline(61), 1_120).await;
    assert!(matches!(told, Some((_, burnin::alert::Notice::Escalated))), "{told:?}");
    let open = server.get_json(&format!("/api/v1/alerts?host_id={host}&kind=host_offline")).await;
    assert_eq!(open.as_array().map(Vec::len), Some(1), "{open}");
    assert_eq!(open[0]["severity"], Severity::Critical.as_str());
    assert_eq!(open[0]["count"], 3);
    // Back: two clear checks are not enough, the third resolves it.
    assert_eq!(observe(Seen::Clear, 1_180).await, None);
    assert_eq!(observe(Seen::Clear, 1_240).await, None);
    assert_eq!(
        server.get_json("/api/v1/alerts?kind=host_offline").await.as_array().map(Vec::len),
        Some(1)
    );
    let told = observe(Seen::Clear, 1_300).await;
    assert!(matches!(told, Some((_, burnin::alert::Notice::Resolved))), "{told:?}");
    assert_eq!(server.get_json("/api/v1/alerts?kind=host_offline").await, json!([]));
    let (transitions,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM alert_transitions").fetch_one(&pool).await.unwrap();
    assert_eq!(transitions, 3, "raised, escalated, resolved");
}
