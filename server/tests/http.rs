//! The HTTP surface of a real server: health, pages, the cross-site guard, headers.

use crate::common;

use burnin_app::pages::dashboard::ListDrives;
use common::{TestServer, seed_drives};
use leptos::server_fn::ServerFn as _;
use serde_json::Value;

#[tokio::test]
async fn health_and_readiness_answer_with_json() {
    let server = TestServer::start().await;
    let health: Value =
        server.client.get(server.url("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    let ready = server.client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["database"], "ok");
}

#[tokio::test]
async fn empty_database_renders_the_empty_state_with_a_next_step() {
    let server = TestServer::start().await;
    let response = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Burn-in dashboard"), "app shell missing");
    assert!(html.contains(concat!("v<!>", env!("CARGO_PKG_VERSION"))), "version missing");
    assert!(html.contains("No drives yet"), "empty state missing: {html}");
    assert!(html.contains("Connect a host"), "empty state does not say what to do next");
}

#[tokio::test]
async fn drives_in_the_database_are_rendered_on_the_server() {
    let server = TestServer::start().await;
    seed_drives(
        &server.database_url(),
        &[("ZL2SSR01", "sdc", "ST12000NM0008"), ("WDSSR02", "sdd", "WD80EFAX")],
    )
    .await;
    // The live view is loaded from the database at start.
    let server = TestServer::start_in(server.stop().await).await;
    let html = server.client.get(server.url("/")).send().await.unwrap().text().await.unwrap();
    for needle in ["ZL2SSR01", "WDSSR02", "ST12000NM0008", "nas-test", "8 TB"] {
        assert!(html.contains(needle), "{needle} missing from the page");
    }
}

#[tokio::test]
async fn pages_carry_a_nonce_policy_and_other_answers_a_strict_one() {
    let server = TestServer::start().await;
    let page = server.client.get(server.url("/")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let nonce = csp
        .split_whitespace()
        .find_map(|token| token.strip_prefix("'nonce-").and_then(|rest| rest.strip_suffix('\'')))
        .expect("script-src has a nonce");
    assert!(
        html.contains(&format!("<script type=\"module\" nonce=\"{nonce}\">")),
        "hydration script lacks the nonce"
    );
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");

    let health = server.client.get(server.url("/healthz")).send().await.unwrap();
    let headers = health.headers();
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
}

#[tokio::test]
async fn server_function_answers_same_origin_and_refuses_cross_site() {
    let server = TestServer::start().await;
    seed_drives(&server.database_url(), &[("ZL2FN001", "sda", "ST4000VN008")]).await;
    let path = ListDrives::PATH;

    let same = server
        .client
        .post(server.url(path))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);
    let rows: Value = same.json().await.unwrap();
    assert_eq!(rows[0]["serial"], "ZL2FN001");

    // A plain HTML form on another site would send exactly this.
    let forged = server
        .client
        .post(server.url(path))
        .header("origin", "http://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(forged.headers()["x-content-type-options"], "nosniff");
    let body: Value = forged.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "refused");
    assert!(body["error"]["message"].as_str().unwrap().contains("evil.example"));

    let fetch_metadata = server
        .client
        .post(server.url(path))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_metadata.status(), 403);
}

#[tokio::test]
async fn cross_site_websocket_upgrades_are_refused() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(server.url("/anything"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn unknown_pages_are_404_inside_the_app_shell() {
    let server = TestServer::start().await;
    let response = server.client.get(server.url("/no/such/page")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found") && html.contains("Burn-in dashboard"));
}

#[tokio::test]
async fn data_survives_a_restart_on_the_same_file() {
    let server = TestServer::start().await;
    seed_drives(&server.database_url(), &[("ZL2KEEP1", "sdb", "ST16000NM001G")]).await;
    let dir = server.stop().await;
    let server = TestServer::start_in(dir).await;
    let html = server.client.get(server.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("ZL2KEEP1"));
}
